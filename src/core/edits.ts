/**
 * Semantic edits from the visual editor, applied to the document JSON. The extension serializes the
 * result canonically and writes it back as one WorkspaceEdit, so undo and redo belong to VS Code.
 * Edits work on documents with validation errors too (it is an editor), never mutate their input,
 * and refuse with a sentence when they name blocks that are not there.
 */
import type { z } from 'zod';
import type { GraphEditSchema } from './editorProtocol';
import { analyzeGraph } from './analyze';
import { type StageParams, StageParamsSchema, getBlock, suggestBlockType } from './catalog';
import { NODE_ID_PATTERN } from './format';
import { mirrorStages } from './mirror';
import { formatPath } from './problems';
import { type Shape, formatShape } from './shape';

type Json = Record<string, unknown>;
type PathKey = string | number;
type Position = { x: number; y: number };

/** Semantic edits; the zod schema in editorProtocol.ts is their single definition (also validates webview messages). */
export type GraphEdit = z.infer<typeof GraphEditSchema>;

export type EditResult =
  | { ok: true; document: Record<string, unknown>; created?: string[]; message?: string }
  | { ok: false; error: string };

/** Horizontal distance between neighbouring blocks in the samples' layouts. */
const COLUMN = 240;
/** Vertical step used to find a free spot below an occupied one. */
const ROW = 160;

// ---------------------------------------------------------------------------------------------
// Reading a document that may not validate.

class Refusal extends Error {}

function refuse(message: string): never {
  throw new Refusal(message);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Array.isArray narrows to any[]; this keeps the elements unknown.
function isList(v: unknown): v is unknown[] {
  return Array.isArray(v);
}

/** An own property only: ids such as "constructor" must not find Object.prototype's members. */
function own(obj: Json, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Assignment with a name from the document or the editor; "__proto__" would replace the prototype. */
function put(obj: Json, key: string, value: unknown): void {
  if (key === '__proto__') refuse('"__proto__" cannot be used as a name.');
  obj[key] = value;
}

interface NodeRef {
  readonly node: Json;
  readonly id: string;
  readonly type: string | undefined;
}

interface EdgeRef {
  readonly from: string;
  readonly to: string;
}

function readNodes(doc: Json): NodeRef[] {
  if (!isList(doc.nodes)) return [];
  return doc.nodes.flatMap((node): NodeRef[] =>
    isObject(node) && typeof node.id === 'string' ? [{ node, id: node.id, type: typeof node.type === 'string' ? node.type : undefined }] : [],
  );
}

function readEdges(doc: Json): EdgeRef[] {
  if (!isList(doc.edges)) return [];
  return doc.edges.flatMap((e): EdgeRef[] => (isObject(e) && typeof e.from === 'string' && typeof e.to === 'string' ? [{ from: e.from, to: e.to }] : []));
}

/** The document's list under `key`, created when missing; a non-list there is the author's to fix. */
function listOf(doc: Json, key: 'nodes' | 'edges'): unknown[] {
  const v = doc[key];
  if (v === undefined) {
    const created: unknown[] = [];
    doc[key] = created;
    return created;
  }
  if (!isList(v)) refuse(`"${key}" in this file is not a list: fix it in the text editor first.`);
  return v;
}

function objectOf(doc: Json, key: 'layout' | 'training'): Json {
  const v = doc[key];
  if (v === undefined) {
    const created: Json = {};
    doc[key] = created;
    return created;
  }
  if (!isObject(v)) refuse(`"${key}" in this file is not an object: fix it in the text editor first.`);
  return v;
}

function describe(ref: { id: string; type: string | undefined }): string {
  return `${ref.type ?? 'Block'} "${ref.id}"`;
}

function noBlock(id: string): string {
  return `There is no block "${id}" in this graph.`;
}

function requireNode(doc: Json, id: string): NodeRef {
  listOf(doc, 'nodes');
  return readNodes(doc).find((r) => r.id === id) ?? refuse(noBlock(id));
}

/** Every id the document uses or refers to, so a new block never inherits a stale reference. */
function idsInUse(doc: Json): Set<string> {
  const ids = new Set(readNodes(doc).map((r) => r.id));
  if (isObject(doc.layout)) for (const k of Object.keys(doc.layout)) ids.add(k);
  const t = doc.training;
  if (isObject(t)) {
    if (typeof t.output === 'string') ids.add(t.output);
    for (const stage of isList(t.stages) ? t.stages : []) {
      if (!isObject(stage)) continue;
      for (const k of ['output', 'encoder'] as const) if (typeof stage[k] === 'string') ids.add(stage[k]);
      for (const f of isList(stage.freeze) ? stage.freeze : []) if (typeof f === 'string') ids.add(f);
    }
  }
  return ids;
}

const MAX_ID = 64;

function uniqueId(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  // "layer3" + 2 would read as "layer32": separate a number from a base that ends in a digit.
  const sep = /\d$/.test(base) ? '_' : '';
  for (let n = 2; ; n++) {
    const suffix = `${sep}${n}`;
    const candidate = `${base.slice(0, MAX_ID - suffix.length)}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** A valid id base from a type name: "Conv2D" -> "conv2D"; anything unusable becomes "node". */
function idBase(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_-]/g, '').slice(0, MAX_ID);
  const base = /^[A-Za-z]/.test(cleaned) ? cleaned : `node${cleaned}`.slice(0, MAX_ID);
  return base.charAt(0).toLowerCase() + base.slice(1);
}

/** "dense", "dense2", ...: the block type with a lowercase first letter, unique in the document. */
export function newNodeId(document: Record<string, unknown>, type: string): string {
  return uniqueId(idBase(type), idsInUse(document));
}

function checkNewId(doc: Json, id: string): string {
  if (!NODE_ID_PATTERN.test(id)) {
    refuse(`"${id}" cannot be a block id: ids start with a letter and use only letters, digits, "_" and "-" (at most 64).`);
  }
  const clash = readNodes(doc).find((r) => r.id === id);
  if (clash) refuse(`There is already a block called "${id}" (${describe(clash)}): pick another id.`);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Values entering the document: plain JSON only, copied so the document never aliases the edit.

const MAX_DEPTH = 64;

function jsonValue(value: unknown, where: string, depth = 0): unknown {
  if (depth > MAX_DEPTH) refuse(`${where} is nested too deeply.`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) refuse(`${where} must be a finite number.`);
    return value;
  }
  if (isList(value)) {
    return value.map((item, i) => {
      if (item === undefined) refuse(`${where} has an empty item at position ${i}.`);
      return jsonValue(item, where, depth + 1);
    });
  }
  if (isObject(value)) {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) refuse(`${where} must be plain JSON data.`);
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      // JSON has no undefined: a field set to undefined is a field left out.
      if (v !== undefined) put(out, k, jsonValue(v, where, depth + 1));
    }
    return out;
  }
  return refuse(`${where} must be plain JSON data, not a ${typeof value}.`);
}

function jsonObject(value: unknown, where: string): Json {
  const v = jsonValue(value, where);
  if (!isObject(v)) refuse(`${where} must be an object of named fields.`);
  return v;
}

function position(p: unknown, where: string): Position {
  if (!isObject(p) || typeof p.x !== 'number' || typeof p.y !== 'number' || !Number.isFinite(p.x) || !Number.isFinite(p.y)) {
    refuse(`${where} needs finite "x" and "y" numbers.`);
  }
  // Whole pixels, as the canonical text writes them.
  return { x: Math.round(p.x), y: Math.round(p.y) };
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (isList(v)) return 'a list';
  if (typeof v === 'string') return `the text ${JSON.stringify(v)}`;
  return `${typeof v === 'object' ? 'an object' : `the ${typeof v} ${String(v)}`}`;
}

/** Set (or with `value` undefined, delete) the value at `path` under `root`, creating missing containers. */
function setIn(root: Json, path: readonly PathKey[], value: unknown, where: string): void {
  if (path.length === 0) refuse(`Say which field of ${where} to change.`);
  const json = value === undefined ? undefined : jsonValue(value, `The new value for "${formatPath(path)}" in ${where}`);
  let container: Json | unknown[] = root;
  for (const [i, key] of path.entries()) {
    const here = i === 0 ? 'the top level' : `"${formatPath(path.slice(0, i))}"`;
    const last = i === path.length - 1;
    let child: unknown;
    if (isList(container)) {
      if (typeof key !== 'number' || !Number.isInteger(key) || key < 0) {
        refuse(`In ${where}, ${here} is a list: address its items by position (0, 1, ...), not "${String(key)}".`);
      }
      if (last) {
        if (json !== undefined && key > container.length) refuse(`In ${where}, ${here} has ${container.length} item(s): item ${key} would leave a gap.`);
        if (json === undefined) {
          // Deleting from a list closes the gap rather than leaving a null.
          if (key < container.length) container.splice(key, 1);
        } else container[key] = json;
        return;
      }
      child = container[key];
      if (child === undefined) {
        if (json === undefined) return; // nothing there to delete
        if (key > container.length) refuse(`In ${where}, ${here} has ${container.length} item(s): item ${key} would leave a gap.`);
        child = typeof path[i + 1] === 'number' ? [] : {};
        container[key] = child;
      }
    } else {
      if (typeof key !== 'string') refuse(`In ${where}, ${here} has named fields, not numbered items: ${key} is not a field name.`);
      if (last) {
        if (json === undefined) delete container[key];
        else put(container, key, json);
        return;
      }
      child = own(container, key);
      if (child === undefined) {
        if (json === undefined) return;
        child = typeof path[i + 1] === 'number' ? [] : {};
        put(container, key, child);
      }
    }
    if (!isObject(child) && !isList(child)) {
      refuse(`In ${where}, "${formatPath(path.slice(0, i + 1))}" is ${describeValue(child)}, so it has no "${String(path[i + 1])}".`);
    }
    container = child;
  }
}

// ---------------------------------------------------------------------------------------------
// Connections.

function arity(type: string | undefined): 0 | 1 {
  // Unknown types take one input, as the analysis assumes.
  return (type !== undefined ? getBlock(type)?.inputs : undefined) ?? 1;
}

/** Whether an edge from `from` to `to` may be drawn; shape mismatches are left to the analysis. */
export function canConnect(document: Record<string, unknown>, from: string, to: string): { ok: true } | { ok: false; reason: string } {
  const nodes = readNodes(document);
  const source = nodes.find((r) => r.id === from);
  const target = nodes.find((r) => r.id === to);
  if (!source) return { ok: false, reason: noBlock(from) };
  if (!target) return { ok: false, reason: noBlock(to) };
  if (from === to) return { ok: false, reason: `${describe(source)} cannot take its own output as its input.` };
  if (arity(target.type) === 0) return { ok: false, reason: `Input blocks take no input: "${to}" is where data enters the model.` };
  if (source.type === 'Output') return { ok: false, reason: `Output is the end of the model: nothing can follow "${from}".` };
  const edges = readEdges(document);
  if (edges.some((e) => e.from === from && e.to === to)) return { ok: false, reason: `"${from}" is already connected to "${to}".` };
  const existing = edges.find((e) => e.to === to);
  if (existing) {
    return { ok: false, reason: `${describe(target)} already takes its input from "${existing.from}": remove that edge first.` };
  }
  const loop = pathBetween(edges, to, from);
  if (loop) {
    return {
      ok: false,
      reason: `Connecting "${from}" to "${to}" would make a cycle (${[...loop, to].join(' → ')}): data must flow one way, from Input to Output.`,
    };
  }
  return { ok: true };
}

/** A path of ids from `start` to `goal` along the edges (breadth first, so the shortest), or undefined. */
function pathBetween(edges: readonly EdgeRef[], start: string, goal: string): string[] | undefined {
  const parent = new Map<string, string | null>([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (id === goal) {
      const path: string[] = [];
      for (let cur: string | null | undefined = id; cur != null; cur = parent.get(cur)) path.unshift(cur);
      return path;
    }
    for (const e of edges) {
      if (e.from === id && !parent.has(e.to)) {
        parent.set(e.to, id);
        queue.push(e.to);
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Training references (training.output, a stage's output / encoder / freeze).

interface TrainingRefSite {
  readonly holder: Json;
  readonly what: string;
}

function trainingSites(doc: Json): TrainingRefSite[] {
  const t = doc.training;
  if (!isObject(t)) return [];
  const sites: TrainingRefSite[] = [{ holder: t, what: 'training' }];
  for (const [i, stage] of (isList(t.stages) ? t.stages : []).entries()) {
    if (isObject(stage)) sites.push({ holder: stage, what: typeof stage.name === 'string' ? `stage "${stage.name}"` : `stage ${i + 1}` });
  }
  return sites;
}

/** Drop references to removed blocks; returns what was dropped, in words. */
function dropTrainingRefs(doc: Json, ids: ReadonlySet<string>): string[] {
  const notes: string[] = [];
  for (const { holder, what } of trainingSites(doc)) {
    // The top level has no "encoder" or "freeze"; only stages do.
    for (const k of ['output', 'encoder'] as const) {
      const v = holder[k];
      if (typeof v === 'string' && ids.has(v)) {
        delete holder[k];
        notes.push(`${what}'s ${k} "${v}"`);
      }
    }
    if (isList(holder.freeze)) {
      const dropped = holder.freeze.filter((f): f is string => typeof f === 'string' && ids.has(f));
      if (dropped.length > 0) {
        const kept = holder.freeze.filter((f) => !(typeof f === 'string' && ids.has(f)));
        if (kept.length > 0) holder.freeze = kept;
        else delete holder.freeze;
        notes.push(`${what}'s freeze entr${dropped.length === 1 ? 'y' : 'ies'} ${dropped.map((d) => `"${d}"`).join(', ')}`);
      }
    }
  }
  return notes;
}

function renameTrainingRefs(doc: Json, oldId: string, newId: string): void {
  for (const { holder } of trainingSites(doc)) {
    for (const k of ['output', 'encoder'] as const) if (holder[k] === oldId) holder[k] = newId;
    if (isList(holder.freeze)) holder.freeze = holder.freeze.map((f) => (f === oldId ? newId : f));
  }
}

// ---------------------------------------------------------------------------------------------
// Applying edits.

interface Outcome {
  readonly created?: string[];
  readonly message?: string;
}

/** Apply one edit to a copy of `document`. Never mutates its input; refusals come back as sentences. */
export function applyEdit(document: Record<string, unknown>, edit: GraphEdit): EditResult {
  let doc: Json;
  try {
    // A copy through JSON: a graph document is JSON data (and core uses no host API such as structuredClone).
    doc = JSON.parse(JSON.stringify(document)) as Json;
  } catch {
    return { ok: false, error: 'The document holds values that are not JSON data.' };
  }
  try {
    const outcome = apply(doc, edit);
    return {
      ok: true,
      document: doc,
      ...(outcome.created ? { created: outcome.created } : {}),
      ...(outcome.message ? { message: outcome.message } : {}),
    };
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, error: e.message };
    throw e;
  }
}

function apply(doc: Json, edit: GraphEdit): Outcome {
  switch (edit.kind) {
    case 'addNode':
      return addNode(doc, edit);
    case 'removeNodes':
      return removeNodes(doc, edit.ids);
    case 'connect': {
      const check = canConnect(doc, edit.from, edit.to);
      if (!check.ok) refuse(check.reason);
      listOf(doc, 'edges').push({ from: edit.from, to: edit.to });
      return {};
    }
    case 'disconnect': {
      // Dangling edges (to blocks no longer there) can be removed too: that is how they get fixed.
      const edges = listOf(doc, 'edges');
      const kept = edges.filter((e) => !(isObject(e) && e.from === edit.from && e.to === edit.to));
      if (kept.length === edges.length) refuse(`There is no edge from "${edit.from}" to "${edit.to}".`);
      doc.edges = kept;
      return {};
    }
    case 'setParams': {
      const ref = requireNode(doc, edit.id);
      ref.node.params = jsonObject(edit.params, `The parameters of ${describe(ref)}`);
      return {};
    }
    case 'setParam': {
      const ref = requireNode(doc, edit.id);
      const where = `${describe(ref)}'s parameters`;
      if (ref.node.params === undefined) {
        if (edit.value === undefined) return {};
        ref.node.params = {};
      }
      if (!isObject(ref.node.params)) refuse(`${describe(ref)} has "params" that are not an object: fix them in the text editor first.`);
      setIn(ref.node.params, edit.path, edit.value, where);
      return {};
    }
    case 'setNode':
      return setNode(doc, edit);
    case 'renameNode':
      return renameNode(doc, edit.id, edit.newId);
    case 'move': {
      const entries = Object.entries(edit.positions);
      if (entries.length === 0) refuse('Nothing to move: no positions were given.');
      const ids = new Set(readNodes(doc).map((r) => r.id));
      for (const [id] of entries) if (!ids.has(id)) refuse(noBlock(id));
      const layout = objectOf(doc, 'layout');
      for (const [id, p] of entries) put(layout, id, position(p, `The position of "${id}"`));
      return {};
    }
    case 'paste':
      return paste(doc, edit);
    case 'setTraining': {
      if (doc.training === undefined && edit.value === undefined) return {};
      setIn(objectOf(doc, 'training'), edit.path, edit.value, 'training');
      return {};
    }
    case 'mirrorDecoder':
      return mirrorDecoder(doc, edit);
    default: {
      // Only reachable with an edit that bypassed the types: say so rather than silently succeed.
      const unknownEdit: unknown = edit satisfies never;
      return refuse(`Unknown edit "${isObject(unknownEdit) ? String(unknownEdit.kind) : typeof unknownEdit}".`);
    }
  }
}

function addNode(doc: Json, edit: Extract<GraphEdit, { kind: 'addNode' }>): Outcome {
  const block = getBlock(edit.type);
  if (!block) {
    const hint = suggestBlockType(edit.type);
    refuse(`There is no block type "${edit.type}"${hint ? `: did you mean "${hint}"?` : '.'}`);
  }
  const nodes = listOf(doc, 'nodes');
  const id = edit.id === undefined ? newNodeId(doc, edit.type) : checkNewId(doc, edit.id);
  const where = `The parameters of the new ${edit.type}`;
  const params = jsonObject(edit.params ?? block.example, where);
  const pos = position(edit.position, `The position of the new ${edit.type}`);
  nodes.push({ id, type: edit.type, params });
  put(objectOf(doc, 'layout'), id, pos);
  if (edit.connectFrom === undefined) return { created: [id] };
  const check = canConnect(doc, edit.connectFrom, id);
  if (!check.ok) return { created: [id], message: `Added ${edit.type} "${id}" without connecting it: ${check.reason}` };
  listOf(doc, 'edges').push({ from: edit.connectFrom, to: id });
  return { created: [id] };
}

function removeNodes(doc: Json, list: readonly string[]): Outcome {
  const ids = new Set(list);
  if (ids.size === 0) refuse('Nothing to remove: no blocks were given.');
  const nodes = listOf(doc, 'nodes');
  const refs = readNodes(doc);
  for (const id of ids) if (!refs.some((r) => r.id === id)) refuse(noBlock(id));
  const gone = refs.filter((r) => ids.has(r.id));
  doc.nodes = nodes.filter((n) => !(isObject(n) && typeof n.id === 'string' && ids.has(n.id)));
  let edgesRemoved = 0;
  if (isList(doc.edges)) {
    const touches = (e: unknown): boolean => isObject(e) && ((typeof e.from === 'string' && ids.has(e.from)) || (typeof e.to === 'string' && ids.has(e.to)));
    const kept = doc.edges.filter((e) => !touches(e));
    edgesRemoved = doc.edges.length - kept.length;
    doc.edges = kept;
  }
  if (isObject(doc.layout)) for (const id of ids) delete doc.layout[id];
  const notes = dropTrainingRefs(doc, ids);
  const what = gone.length === 1 ? describe(gone[0]!) : `${gone.length} blocks`;
  const edgeText = edgesRemoved > 0 ? ` and ${edgesRemoved} edge${edgesRemoved === 1 ? '' : 's'}` : '';
  const trainingText = notes.length > 0 ? ` Training no longer refers to ${gone.length === 1 ? 'it' : 'them'}: removed ${notes.join('; ')}.` : '';
  return { message: `Removed ${what}${edgeText}.${trainingText}` };
}

function setNode(doc: Json, edit: Extract<GraphEdit, { kind: 'setNode' }>): Outcome {
  const ref = requireNode(doc, edit.id);
  if (edit.label === undefined && edit.trainable === undefined) refuse(`Nothing to change on ${describe(ref)}: give a label or trainable.`);
  if (edit.label === null) delete ref.node.label;
  else if (edit.label !== undefined) {
    if (typeof edit.label !== 'string') refuse('A label must be text.');
    ref.node.label = edit.label;
  }
  if (edit.trainable === null) delete ref.node.trainable;
  else if (edit.trainable !== undefined) {
    if (typeof edit.trainable !== 'boolean') refuse('"trainable" must be true or false.');
    ref.node.trainable = edit.trainable;
  }
  return {};
}

function renameNode(doc: Json, oldId: string, newId: string): Outcome {
  const ref = requireNode(doc, oldId);
  if (newId === oldId) return {};
  checkNewId(doc, newId);
  ref.node.id = newId;
  // With duplicate ids (an invalid file) the references still name the other block: leave them.
  if (readNodes(doc).some((r) => r.id === oldId)) return {};
  if (isList(doc.edges)) {
    for (const e of doc.edges) {
      if (!isObject(e)) continue;
      if (e.from === oldId) e.from = newId;
      if (e.to === oldId) e.to = newId;
    }
  }
  if (isObject(doc.layout)) {
    // Same key order; a stale entry already under the new id gives way. fromEntries defines keys, so no prototype risk.
    const layout: Json = doc.layout;
    doc.layout = Object.fromEntries(
      Object.entries(layout)
        .filter(([k]) => k !== newId)
        .map(([k, v]) => [k === oldId ? newId : k, v]),
    );
  }
  renameTrainingRefs(doc, oldId, newId);
  return {};
}

function paste(doc: Json, edit: Extract<GraphEdit, { kind: 'paste' }>): Outcome {
  if (edit.nodes.length === 0) refuse('Nothing to paste.');
  const offset = position(edit.offset, 'The paste offset');
  const nodes = listOf(doc, 'nodes');
  const layout = objectOf(doc, 'layout');
  const taken = idsInUse(doc);
  const renamed = new Map<string, string>();
  const created: string[] = [];
  for (const [i, n] of edit.nodes.entries()) {
    if (typeof n.type !== 'string' || n.type.length === 0) refuse(`Pasted block ${i + 1} has no type.`);
    // "dense3" pastes as "dense", "dense2", ...: the numbering restarts from the id's stem.
    const stem = typeof n.id === 'string' && NODE_ID_PATTERN.test(n.id) ? n.id.replace(/\d+$/, '') : idBase(n.type);
    const id = uniqueId(stem, taken);
    taken.add(id);
    if (!renamed.has(n.id)) renamed.set(n.id, id);
    created.push(id);
    const node: Json = { id, type: n.type };
    if (n.label !== undefined) {
      if (typeof n.label !== 'string') refuse(`Pasted block ${i + 1} has a label that is not text.`);
      node.label = n.label;
    }
    if (n.trainable !== undefined) {
      if (typeof n.trainable !== 'boolean') refuse(`Pasted block ${i + 1} has a "trainable" that is not true or false.`);
      node.trainable = n.trainable;
    }
    if (n.params !== undefined) node.params = jsonObject(n.params, `The parameters of pasted block ${i + 1}`);
    nodes.push(node);
    const at = Object.hasOwn(edit.positions, n.id) ? edit.positions[n.id] : undefined;
    const p = at ? position(at, `The position of pasted block "${n.id}"`) : { x: 0, y: 0 };
    put(layout, id, { x: p.x + offset.x, y: p.y + offset.y });
  }
  // Only edges between pasted blocks come along: the copies start unconnected to the rest.
  const edges = listOf(doc, 'edges');
  const seen = new Set<string>();
  let edgeCount = 0;
  for (const e of edit.edges) {
    const from = renamed.get(e.from);
    const to = renamed.get(e.to);
    if (from === undefined || to === undefined || from === to || seen.has(`${from}\u0000${to}`)) continue;
    seen.add(`${from}\u0000${to}`);
    edges.push({ from, to });
    edgeCount++;
  }
  const count = created.length;
  return {
    created,
    message: `Pasted ${count} block${count === 1 ? '' : 's'}${edgeCount > 0 ? ` and ${edgeCount} edge${edgeCount === 1 ? '' : 's'}` : ''}.`,
  };
}

// ---------------------------------------------------------------------------------------------
// Mirror decoder.

function encoderStages(ref: NodeRef): StageParams[] {
  const params = ref.node.params;
  const raw = isObject(params) ? params.stages : undefined;
  if (!isList(raw) || raw.length === 0) refuse(`${describe(ref)} has no stages to mirror: add some first.`);
  return raw.map((s, i) => {
    const parsed = StageParamsSchema.safeParse(s);
    if (!parsed.success) refuse(`${describe(ref)} stage ${i + 1} is not valid: fix it before mirroring.`);
    return parsed.data;
  });
}

/** The shape entering the Encoder; an Encoder not yet wired gets the graph's only Input's shape. */
function encoderInputShape(doc: Json, ref: NodeRef): Shape {
  const analysis = analyzeGraph(doc);
  const shape = analysis.nodes.get(ref.id)?.inputShape;
  if (shape) return shape;
  if (readEdges(doc).some((e) => e.to === ref.id)) {
    refuse(`The shape reaching ${describe(ref)} is unknown because of a problem before it: fix that first, then mirror.`);
  }
  const inputs = readNodes(doc).filter((r) => r.type === 'Input');
  const only = inputs.length === 1 ? inputs[0]!.node.params : undefined;
  const s = isObject(only) ? only.shape : undefined;
  if (isList(s) && s.length > 0 && s.every((d): d is number => typeof d === 'number' && Number.isInteger(d) && d >= 1)) return s;
  return refuse(`Connect ${describe(ref)} to an Input first: the decoder has to end in the input's shape.`);
}

/** A Bottleneck with a latent size after the Encoder is a dense code the decoder must start from. */
function followedByDenseCode(doc: Json, id: string): boolean {
  const nodes = readNodes(doc);
  return readEdges(doc).some((e) => {
    if (e.from !== id) return false;
    const next = nodes.find((r) => r.id === e.to);
    return next?.type === 'Bottleneck' && isObject(next.node.params) && typeof next.node.params.latentSize === 'number';
  });
}

/** `wanted`, or the first spot below it that no block's layout position crowds. */
function freeSpot(doc: Json, wanted: Position): Position {
  const taken = isObject(doc.layout)
    ? Object.values(doc.layout).flatMap((p): Position[] => (isObject(p) && typeof p.x === 'number' && typeof p.y === 'number' ? [{ x: p.x, y: p.y }] : []))
    : [];
  let spot = wanted;
  for (let i = 0; i < 50 && taken.some((p) => Math.abs(p.x - spot.x) < COLUMN * 0.8 && Math.abs(p.y - spot.y) < ROW * 0.6); i++) {
    spot = { x: spot.x, y: spot.y + ROW };
  }
  return spot;
}

function mirrorDecoder(doc: Json, edit: Extract<GraphEdit, { kind: 'mirrorDecoder' }>): Outcome {
  const ref = requireNode(doc, edit.encoderId);
  if (ref.type !== 'Encoder') refuse(`${describe(ref)} is not an Encoder: mirroring builds a Decoder from an Encoder's stages.`);
  const stages = encoderStages(ref);
  const input = encoderInputShape(doc, ref);
  const mirrored = mirrorStages(stages, input, {
    codeFollows: followedByDenseCode(doc, ref.id),
    transpose: edit.transpose,
    outputActivation: edit.outputActivation,
  });
  if ('error' in mirrored) refuse(mirrored.error);

  const nodes = listOf(doc, 'nodes');
  const layout = objectOf(doc, 'layout');
  const id = newNodeId(doc, 'Decoder');
  const encoderAt = own(layout, ref.id);
  const base = isObject(encoderAt) && typeof encoderAt.x === 'number' && typeof encoderAt.y === 'number' ? { x: encoderAt.x, y: encoderAt.y } : { x: 0, y: 0 };
  const at = edit.position ? position(edit.position, 'The position of the new Decoder') : position(freeSpot(doc, { x: base.x + COLUMN, y: base.y }), 'The position');
  nodes.push({ id, type: 'Decoder', params: { stages: jsonValue(mirrored.stages, 'The mirrored stages') } });
  put(layout, id, at);
  const created = [id];
  let message = `Added Decoder "${id}" mirroring ${describe(ref)}: connect the code to it and it to the Output.`;
  if (mirrored.reshapeTo) {
    // The Encoder flattened an image, so the reconstruction needs that image shape back.
    const reshapeId = newNodeId(doc, 'Reshape');
    nodes.push({ id: reshapeId, type: 'Reshape', params: { targetShape: [...mirrored.reshapeTo] } });
    put(layout, reshapeId, position(freeSpot(doc, { x: at.x + COLUMN, y: at.y }), 'The position'));
    listOf(doc, 'edges').push({ from: id, to: reshapeId });
    created.push(reshapeId);
    message =
      `Added Decoder "${id}" mirroring ${describe(ref)}, and Reshape "${reshapeId}" after it back to ${formatShape(mirrored.reshapeTo)}: ` +
      `connect the code to "${id}" and "${reshapeId}" to the Output.`;
  }
  return { created, message };
}
