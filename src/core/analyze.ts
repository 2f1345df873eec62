/**
 * Graph analysis: validation, shape inference and parameter counts in one pass. Every problem is
 * collected (never thrown) with the node it concerns and a sentence that says what to do.
 */
import type { z } from 'zod';
import { type BlockDefinition, type OutputTarget, getBlock, suggestBlockType } from './catalog';
import {
  BUILTIN_DATASETS,
  DATASET_PREFIXES,
  type GraphDocument,
  GraphDocumentSchema,
  EdgeSchema,
  type EdgeSpec,
  LayoutSchema,
  NodeSchema,
  type NodeSpec,
  type StageSpec,
  TrainingSchema,
  type TrainingSpec,
} from './format';
import { KERAS_CLASS, type LayerSpec, layerOutput } from './layers';
import { migrate } from './migrate';
import type { Problem } from './problems';
import { type Shape, describeShape, formatShape, sameShape } from './shape';

export interface AnalyzedLayer {
  /** The tfjs / Keras layer name: the node id, or `<id>.<i>` inside a composite block. */
  readonly name: string;
  readonly spec: LayerSpec;
  readonly className: string;
  readonly outputShape: Shape;
  readonly params: number;
  readonly trainableParams: number;
  readonly nonTrainableParams: number;
  /**
   * Indices (into the node's layers) of the layers feeding this one, -1 for the node's input; absent
   * for the next link of a chain (the previous layer, or the node's input for the first layer).
   */
  readonly from?: readonly number[];
}

export interface AnalyzedNode {
  readonly id: string;
  readonly type: string;
  /** Index in the document's `nodes` array (for problem paths and text positions). */
  readonly index: number;
  readonly block: BlockDefinition | undefined;
  /** Parameters with defaults filled in, when they validated. */
  readonly params: Record<string, unknown> | undefined;
  readonly trainable: boolean;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly inputShape?: Shape;
  readonly outputShape?: Shape;
  readonly layers: readonly AnalyzedLayer[];
  readonly paramCount: number;
  readonly trainableParams: number;
  readonly nonTrainableParams: number;
}

export interface OutputInfo {
  readonly id: string;
  readonly target: OutputTarget;
  /** The node feeding the Output block. */
  readonly source: string | undefined;
}

/** A model the graph defines, named for what it does. */
export interface ModelPlan {
  readonly name: 'autoencoder' | 'classifier' | 'encoder' | 'decoder' | string;
  /** Node whose output is the model's input (the Input block, or the Bottleneck for a decoder). */
  readonly from: string;
  /** Node whose output is the model's output. */
  readonly to: string;
  /** The Output block this model trains against, if any. */
  readonly outputId?: string;
}

export interface GraphAnalysis {
  readonly document: GraphDocument | undefined;
  readonly problems: readonly Problem[];
  readonly nodes: ReadonlyMap<string, AnalyzedNode>;
  /** Node ids in dependency order (inputs first); nodes in cycles are left out. */
  readonly order: readonly string[];
  readonly totals: { readonly params: number; readonly trainableParams: number; readonly nonTrainableParams: number };
  readonly inputId: string | undefined;
  readonly outputs: readonly OutputInfo[];
  readonly models: readonly ModelPlan[];
  /** Format version the file was written in, when it parsed that far. */
  readonly sourceFormatVersion?: number;
  readonly ok: boolean;
}

type Path = readonly (string | number)[];

class ProblemList {
  readonly items: Problem[] = [];
  error(message: string, path: Path, nodeId?: string): void {
    this.items.push({ severity: 'error', message, path, nodeId });
  }
  warning(message: string, path: Path, nodeId?: string): void {
    this.items.push({ severity: 'warning', message, path, nodeId });
  }
  zod(issues: readonly z.core.$ZodIssue[], base: Path, what: string, nodeId?: string): void {
    for (const issue of issues) {
      const path = [...base, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
      const field = issue.path.length ? `"${issue.path.join('.')}": ` : '';
      this.error(`${capitalize(what)}: ${field}${describeIssue(issue)}`, path, nodeId);
    }
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `is missing (expected ${issue.expected}).` : `must be ${article(issue.expected)}.`;
    case 'too_small':
      return issue.origin === 'array'
        ? `needs at least ${issue.minimum} item(s).`
        : `must be ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}.`;
    case 'too_big':
      return issue.origin === 'array'
        ? `allows at most ${issue.maximum} item(s).`
        : `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}.`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}.`;
    case 'unrecognized_keys':
      return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove or rename them.`;
    case 'invalid_union':
      return `${issue.message}.`;
    default:
      return `${issue.message}.`;
  }
}

/** Zod's type names in words: "int" is a whole number, a "record" an object. */
const TYPE_WORDS: Readonly<Record<string, string>> = { int: 'whole number', record: 'object', array: 'list' };

function article(type: string): string {
  const t = TYPE_WORDS[type] ?? type;
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

/** Issues carry the offending value, so messages can tell "missing" from "wrong type". */
const REPORT = { reportInput: true } as const;

/** A block while the graph is analyzed: what its spec says, before shapes and wiring are known. */
type Working = Pick<AnalyzedNode, 'id' | 'type' | 'index' | 'block' | 'params' | 'trainable'>;

interface ShapeEntry {
  input?: Shape;
  output?: Shape;
  layers: AnalyzedLayer[];
}

type Links = ReadonlyMap<string, string[]>;

/** Each node on its own, so one bad node does not hide the others' problems; ids must be unique. */
function parseNodes(nodes: readonly unknown[], problems: ProblemList): { specs: { spec: NodeSpec; index: number }[]; ids: Set<string> } {
  const specs: { spec: NodeSpec; index: number }[] = [];
  const ids = new Set<string>();
  nodes.forEach((n, index) => {
    const parsed = NodeSchema.safeParse(n, REPORT);
    const id = typeof n === 'object' && n !== null && typeof (n as { id?: unknown }).id === 'string' ? (n as { id: string }).id : undefined;
    if (!parsed.success) {
      problems.zod(parsed.error.issues, ['nodes', index], `node ${id ? `"${id}"` : `#${index + 1}`}`, id);
      return;
    }
    if (ids.has(parsed.data.id)) {
      problems.error(`Two blocks share the id "${parsed.data.id}": ids must be unique.`, ['nodes', index, 'id'], parsed.data.id);
      return;
    }
    ids.add(parsed.data.id);
    specs.push({ spec: parsed.data, index });
  });
  return { specs, ids };
}

/** Edges between known blocks, once each, never from a block to itself. */
function parseEdges(rawEdges: readonly unknown[], ids: ReadonlySet<string>, problems: ProblemList): EdgeSpec[] {
  const edges: EdgeSpec[] = [];
  const keys = new Set<string>();
  rawEdges.forEach((e, index) => {
    const parsed = EdgeSchema.safeParse(e, REPORT);
    if (!parsed.success) {
      problems.zod(parsed.error.issues, ['edges', index], `edge #${index + 1}`);
      return;
    }
    const { from, to } = parsed.data;
    let bad = false;
    for (const [end, id] of [['from', from], ['to', to]] as const) {
      if (!ids.has(id)) {
        problems.error(`Edge ${from} → ${to} points at "${id}", which is not a block in this graph: remove the edge or add the block.`, ['edges', index, end]);
        bad = true;
      }
    }
    if (from === to) {
      problems.error(`Edge ${from} → ${to} connects a block to itself.`, ['edges', index], from);
      bad = true;
    }
    const key = `${from}\u0000${to}`;
    if (keys.has(key)) {
      problems.warning(`Edge ${from} → ${to} appears twice; the copy is ignored.`, ['edges', index]);
      bad = true;
    }
    keys.add(key);
    if (!bad) edges.push(parsed.data);
  });
  return edges;
}

/** Each block's definition and validated parameters (with defaults filled in). */
function resolveBlocks(specs: readonly { spec: NodeSpec; index: number }[], problems: ProblemList): Map<string, Working> {
  const working = new Map<string, Working>();
  for (const { spec, index } of specs) {
    const block = getBlock(spec.type);
    let params: Record<string, unknown> | undefined;
    if (!block) {
      const hint = suggestBlockType(spec.type);
      problems.error(`Unknown block type "${spec.type}"${hint ? `: did you mean "${hint}"?` : '.'} Known types: see the palette or the JSON schema.`, ['nodes', index, 'type'], spec.id);
    } else {
      const parsed = block.params.safeParse(spec.params ?? {}, REPORT);
      if (parsed.success) params = parsed.data as Record<string, unknown>;
      else problems.zod(parsed.error.issues, ['nodes', index, 'params'], `${spec.type} "${spec.id}"`, spec.id);
    }
    working.set(spec.id, { id: spec.id, type: spec.type, index, block, params, trainable: spec.trainable !== false });
  }
  return working;
}

/** One Input, at least one Output, and every block with as many inputs as it takes. */
function checkWiring(working: ReadonlyMap<string, Working>, incoming: Links, outgoing: Links, problems: ProblemList): { inputs: Working[]; outputNodes: Working[] } {
  const inputs = [...working.values()].filter((w) => w.type === 'Input');
  const outputNodes = [...working.values()].filter((w) => w.type === 'Output');
  if (inputs.length === 0) problems.error('The graph has no Input block: add one and connect it to the first layer.', ['nodes']);
  for (const extra of inputs.slice(1)) problems.error(`Only one Input block is supported; "${extra.id}" is a second one: remove it.`, ['nodes', extra.index], extra.id);
  if (outputNodes.length === 0) {
    problems.error('The graph has no Output block: add one after the Decoder (target "input") or the ClassifierHead (target "labels").', ['nodes']);
  }
  for (const w of working.values()) {
    const ins = incoming.get(w.id)!;
    const arity = w.block?.inputs ?? 1;
    if (arity === 0 && ins.length > 0) {
      problems.error(`Input "${w.id}" cannot receive edges (from ${ins.join(', ')}): remove them.`, ['nodes', w.index], w.id);
    } else if (arity === 1 && ins.length === 0) {
      problems.error(`${w.type} "${w.id}" has no input: connect a block to it.`, ['nodes', w.index], w.id);
    } else if (arity === 1 && ins.length > 1) {
      problems.error(`${w.type} "${w.id}" takes one input but ${ins.length} blocks connect to it (${ins.join(', ')}): keep one edge.`, ['nodes', w.index], w.id);
    }
    if (w.type === 'Output' && (outgoing.get(w.id)?.length ?? 0) > 0) {
      problems.error(`Output "${w.id}" is the end of the model: remove the edges leaving it.`, ['nodes', w.index], w.id);
    }
  }
  return { inputs, outputNodes };
}

/** Dependency order (Kahn's algorithm); whatever is left sits on or behind a cycle, which is a problem. */
function dependencyOrder(working: ReadonlyMap<string, Working>, incoming: Links, outgoing: Links, problems: ProblemList): string[] {
  const indegree = new Map([...working.keys()].map((id) => [id, incoming.get(id)!.length]));
  const queue = [...working.keys()].filter((id) => indegree.get(id) === 0);
  const order: string[] = [];
  while (queue.length) {
    const id = queue.shift()!;
    order.push(id);
    for (const next of outgoing.get(id)!) {
      indegree.set(next, indegree.get(next)! - 1);
      if (indegree.get(next) === 0) queue.push(next);
    }
  }
  if (order.length < working.size) {
    const cycle = findCycle([...working.keys()].filter((id) => !order.includes(id)), outgoing);
    const first = working.get(cycle[0]!)!;
    problems.error(`Blocks ${cycle.join(' → ')} form a cycle; data must flow one way from Input to Output: remove one of these edges.`, ['nodes', first.index], first.id);
  }
  return order;
}

/** A block's layers with their shapes and parameter counts, from its input shape; the output shape, or undefined after a problem. */
function expandNode(w: Working, inputShape: Shape | undefined, entry: ShapeEntry, problems: ProblemList): Shape | undefined {
  const expansion = w.block!.expand(w.params as never, { input: inputShape });
  if (!expansion.ok) {
    problems.error(expansion.message, ['nodes', w.index, 'params', ...(expansion.path ?? [])], w.id);
    return undefined;
  }
  const blockInput: Shape | undefined = expansion.outputShape ?? inputShape;
  let shape: Shape | undefined = blockInput;
  const many = expansion.layers.length > 1;
  for (const [i, spec] of expansion.layers.entries()) {
    const link = expansion.links?.[i];
    const where = `${w.type} "${w.id}"${many ? ` (layer ${i + 1}, ${KERAS_CLASS[spec.kind]})` : ''}`;
    // Inputs of the layer: the previous one in a chain, or those its link names (-1: the block's input).
    const ins = (link?.from ?? [i - 1]).map((j) => (j < 0 ? blockInput : entry.layers[j]?.outputShape));
    const first = ins[0];
    if (!first || ins.some((s) => !s || !sameShape(s, first))) {
      problems.error(`${where}: its inputs ${ins.map((s) => (s ? formatShape(s) : '?')).join(' and ')} must have one shape.`, ['nodes', w.index, 'params'], w.id);
      return undefined;
    }
    const result = layerOutput(spec, first);
    if (!result.ok) {
      problems.error(`${where}: ${result.message}`, ['nodes', w.index, 'params'], w.id);
      return undefined;
    }
    entry.layers.push({
      name: link?.name !== undefined ? `${w.id}.${link.name}` : many ? `${w.id}.${i}` : w.id,
      spec,
      className: KERAS_CLASS[spec.kind],
      outputShape: result.shape,
      params: result.trainableParams + result.nonTrainableParams,
      trainableParams: w.trainable ? result.trainableParams : 0,
      nonTrainableParams: result.nonTrainableParams + (w.trainable ? 0 : result.trainableParams),
      ...(link?.from ? { from: link.from } : {}),
    });
    shape = result.shape;
  }
  return shape;
}

/** Shapes, in order; a node whose input shape is unknown is skipped to avoid cascades. */
function inferShapes(order: readonly string[], working: ReadonlyMap<string, Working>, incoming: Links, problems: ProblemList): Map<string, ShapeEntry> {
  const shapes = new Map<string, ShapeEntry>();
  for (const id of order) {
    const w = working.get(id)!;
    const ins = incoming.get(id)!;
    const inputShape = ins.length === 1 ? shapes.get(ins[0]!)?.output : undefined;
    const entry: ShapeEntry = { input: inputShape, layers: [] };
    shapes.set(id, entry);
    if (!w.block || !w.params || (w.block.inputs === 1 && !inputShape)) continue;
    entry.output = expandNode(w, inputShape, entry, problems);
  }
  return shapes;
}

/** What an Output compares with must have that shape: the input's for a reconstruction, one class axis for labels. */
function checkOutput(w: Working, target: OutputTarget, source: Working, shape: Shape, inputShape: Shape | undefined, numClasses: number | undefined, problems: ProblemList): void {
  const producer = `${source.type} "${source.id}"`;
  if (target === 'input' && inputShape && !sameShape(shape, inputShape)) {
    const fix =
      shape.length !== inputShape.length && shape.reduce((a, b) => a * b, 1) === inputShape.reduce((a, b) => a * b, 1)
        ? `add a Reshape to ${formatShape(inputShape)} before "${w.id}"`
        : `make the last layer produce ${formatShape(inputShape)}`;
    problems.error(`${producer} outputs ${formatShape(shape)} but the loss compares it with the ${describeShape(inputShape)} input: ${fix}.`, ['nodes', w.index], w.id);
  }
  if (target !== 'labels') return;
  if (shape.length !== 1) {
    problems.error(`Output "${w.id}" predicts labels, but ${producer} outputs ${formatShape(shape)}: end with a ClassifierHead (or Flatten + Dense with softmax).`, ['nodes', w.index], w.id);
  } else if (numClasses !== undefined && shape[0] !== numClasses) {
    problems.error(`Output "${w.id}" predicts ${shape[0]} classes but the dataset has ${numClasses}: set the ClassifierHead's classes to ${numClasses}.`, ['nodes', w.index], w.id);
  }
}

function analyzeOutputs(outputNodes: readonly Working[], working: ReadonlyMap<string, Working>, incoming: Links, shapes: ReadonlyMap<string, ShapeEntry>, inputShape: Shape | undefined, numClasses: number | undefined, problems: ProblemList): OutputInfo[] {
  return outputNodes.map((w) => {
    const target = ((w.params?.target as OutputTarget | undefined) ?? 'input') satisfies OutputTarget;
    const source = incoming.get(w.id)![0];
    const shape = shapes.get(w.id)?.input;
    if (shape && source) checkOutput(w, target, working.get(source)!, shape, inputShape, numClasses, problems);
    return { id: w.id, target, source };
  });
}

/** Blocks that feed no Output are never trained: a warning each. */
function warnUnreached(working: ReadonlyMap<string, Working>, outputNodes: readonly Working[], incoming: Links, problems: ProblemList): void {
  if (outputNodes.length === 0) return;
  const reached = new Set<string>();
  const stack = outputNodes.map((o) => o.id);
  while (stack.length) {
    const id = stack.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    stack.push(...(incoming.get(id) ?? []));
  }
  for (const w of working.values()) {
    if (!reached.has(w.id)) problems.warning(`${w.type} "${w.id}" does not lead to any Output, so it is never trained: connect it or delete it.`, ['nodes', w.index], w.id);
  }
}

/** The analyzed nodes and the graph's parameter totals. */
function analyzedNodes(working: ReadonlyMap<string, Working>, shapes: ReadonlyMap<string, ShapeEntry>, incoming: Links, outgoing: Links): { nodes: Map<string, AnalyzedNode>; totals: GraphAnalysis['totals'] } {
  const nodes = new Map<string, AnalyzedNode>();
  const totals = { params: 0, trainableParams: 0, nonTrainableParams: 0 };
  for (const w of working.values()) {
    const s = shapes.get(w.id);
    const layers = s?.layers ?? [];
    const tp = layers.reduce((a, l) => a + l.trainableParams, 0);
    const ntp = layers.reduce((a, l) => a + l.nonTrainableParams, 0);
    totals.params += tp + ntp;
    totals.trainableParams += tp;
    totals.nonTrainableParams += ntp;
    const { id, type, index, block, params, trainable } = w;
    nodes.set(id, {
      ...{ id, type, index, block, params, trainable },
      inputs: incoming.get(id) ?? [],
      outputs: outgoing.get(id) ?? [],
      inputShape: s?.input,
      outputShape: s?.output,
      layers,
      paramCount: tp + ntp,
      trainableParams: tp,
      nonTrainableParams: ntp,
    });
  }
  return { nodes, totals };
}

function links(working: ReadonlyMap<string, Working>, edges: readonly EdgeSpec[]): { incoming: Map<string, string[]>; outgoing: Map<string, string[]> } {
  const incoming = new Map<string, string[]>([...working.keys()].map((id) => [id, []]));
  const outgoing = new Map<string, string[]>([...working.keys()].map((id) => [id, []]));
  for (const e of edges) {
    incoming.get(e.to)?.push(e.from);
    outgoing.get(e.from)?.push(e.to);
  }
  return { incoming, outgoing };
}

/** The graph's name, and its edges as a list (they are parsed one by one once the nodes are known). */
function envelopeEdges(doc: Record<string, unknown>, problems: ProblemList): unknown[] {
  const rawEdges: unknown[] = doc.edges === undefined ? [] : Array.isArray(doc.edges) ? doc.edges : [];
  if (doc.edges !== undefined && !Array.isArray(doc.edges)) problems.error('"edges" must be a list of {"from", "to"} links.', ['edges']);
  return rawEdges;
}

/** The training section and the layout, each validated whole. */
function parseTraining(doc: Record<string, unknown>, problems: ProblemList): TrainingSpec | undefined {
  const parsed = TrainingSchema.safeParse(doc.training ?? {}, REPORT);
  if (!parsed.success) problems.zod(parsed.error.issues, ['training'], 'training');
  if (doc.layout !== undefined) {
    const layout = LayoutSchema.safeParse(doc.layout, REPORT);
    if (!layout.success) problems.zod(layout.error.issues, ['layout'], 'layout');
  }
  return parsed.success ? parsed.data : undefined;
}

/** Analyze parsed JSON (the content of a `*.latent.json` file). Never throws on bad input. */
export function analyzeGraph(raw: unknown, opts: { numClasses?: number } = {}): GraphAnalysis {
  const problems = new ProblemList();
  const empty = (sourceFormatVersion?: number): GraphAnalysis => ({
    document: undefined,
    problems: problems.items,
    nodes: new Map(),
    order: [],
    totals: { params: 0, trainableParams: 0, nonTrainableParams: 0 },
    inputId: undefined,
    outputs: [],
    models: [],
    sourceFormatVersion,
    ok: false,
  });
  const migrated = migrate(raw);
  if (!migrated.ok) {
    problems.items.push(migrated.problem);
    return empty();
  }
  const doc = migrated.document;
  // Envelope first, part by part, so one bad node does not hide the others' problems.
  if (typeof doc.name !== 'string' || doc.name.length === 0) problems.error('The graph needs a "name" (a short title such as "Dense autoencoder").', ['name']);
  if (!Array.isArray(doc.nodes)) {
    problems.error('"nodes" must be a list of blocks.', ['nodes']);
    return empty(migrated.from);
  }
  const rawEdges = envelopeEdges(doc, problems);
  const { specs, ids } = parseNodes(doc.nodes, problems);
  const edges = parseEdges(rawEdges, ids, problems);
  const training = parseTraining(doc, problems);
  const working = resolveBlocks(specs, problems);
  const { incoming, outgoing } = links(working, edges);
  const { inputs, outputNodes } = checkWiring(working, incoming, outgoing, problems);
  const order = dependencyOrder(working, incoming, outgoing, problems);
  const shapes = inferShapes(order, working, incoming, problems);
  const inputId = inputs[0]?.id;
  const inputShape = inputId ? shapes.get(inputId)?.output : undefined;
  const outputs = analyzeOutputs(outputNodes, working, incoming, shapes, inputShape, opts.numClasses, problems);
  warnUnreached(working, outputNodes, incoming, problems);
  // An import with --partial names what it left out: a warning each, until the user removes the line.
  if (Array.isArray(doc.leftOut)) {
    doc.leftOut.forEach((s, i) => {
      if (typeof s === 'string') problems.warning(`Left out of the imported model: ${s}. Add blocks that do its work, then delete this line from "leftOut".`, ['leftOut', i]);
    });
  }
  const models = planModels(working, incoming, outputs, inputId, order);
  if (training) checkTraining(training, working, outputs, problems);
  const { nodes, totals } = analyzedNodes(working, shapes, incoming, outgoing);

  const ok = !problems.items.some((p) => p.severity === 'error');
  let document: GraphDocument | undefined;
  if (ok) {
    const full = GraphDocumentSchema.safeParse(doc);
    if (full.success) document = full.data;
    else problems.zod(full.error.issues, [], 'the top level of the file');
  }
  return { document, problems: problems.items, nodes, order, totals, inputId, outputs, models, sourceFormatVersion: migrated.from, ok: ok && document !== undefined };
}

function findCycle(candidates: readonly string[], outgoing: ReadonlyMap<string, readonly string[]>): string[] {
  const inSet = new Set(candidates);
  for (const start of candidates) {
    const path: string[] = [];
    const onPath = new Set<string>();
    const visit = (id: string): string[] | undefined => {
      if (onPath.has(id)) return [...path.slice(path.indexOf(id)), id];
      if (!inSet.has(id)) return undefined;
      path.push(id);
      onPath.add(id);
      for (const next of outgoing.get(id) ?? []) {
        const found = visit(next);
        if (found) return found;
      }
      path.pop();
      onPath.delete(id);
      return undefined;
    };
    const found = visit(start);
    if (found) return found;
  }
  return [...candidates];
}

function planModels(
  working: ReadonlyMap<string, { id: string; type: string }>,
  incoming: ReadonlyMap<string, readonly string[]>,
  outputs: readonly OutputInfo[],
  inputId: string | undefined,
  order: readonly string[],
): ModelPlan[] {
  if (!inputId) return [];
  const models: ModelPlan[] = [];
  const ancestors = (id: string): string[] => {
    const chain: string[] = [];
    let cur: string | undefined = id;
    const guard = new Set<string>();
    while (cur && !guard.has(cur)) {
      guard.add(cur);
      chain.push(cur);
      cur = incoming.get(cur)?.[0];
    }
    return chain; // id first, Input last when connected
  };
  const used = new Set<string>();
  for (const out of outputs) {
    if (!out.source || !order.includes(out.id)) continue;
    const chain = ancestors(out.source);
    if (chain[chain.length - 1] !== inputId) continue;
    const base = out.target === 'input' ? 'autoencoder' : 'classifier';
    const name = used.has(base) ? out.id : base;
    used.add(name);
    models.push({ name, from: inputId, to: out.source, outputId: out.id });
    if (out.target === 'input' && !used.has('encoder')) {
      // The code is the Bottleneck on the reconstruction path, else the last Encoder on it.
      const code = chain.find((id) => working.get(id)?.type === 'Bottleneck') ?? chain.find((id) => working.get(id)?.type === 'Encoder');
      if (code) {
        used.add('encoder');
        models.push({ name: 'encoder', from: inputId, to: code });
        if (code !== out.source) models.push({ name: 'decoder', from: code, to: out.source });
      }
    }
  }
  return models;
}

function checkTraining(
  training: TrainingSpec,
  working: ReadonlyMap<string, { id: string; type: string; index: number; params: Record<string, unknown> | undefined }>,
  outputs: readonly OutputInfo[],
  problems: ProblemList,
): void {
  const datasetKind = training.dataset.split(':')[0]!.trim().toLowerCase();
  const builtin: readonly string[] = BUILTIN_DATASETS;
  const prefixes: readonly string[] = DATASET_PREFIXES;
  if (!builtin.includes(training.dataset.trim().toLowerCase()) && !(training.dataset.includes(':') && prefixes.includes(datasetKind))) {
    problems.error(
      `Unknown dataset "${training.dataset}": use ${builtin.map((b) => `"${b}"`).join(', ')} or a file form: "folder:<dir>", "npz:<file>", "npy:<x.npy>[,<y.npy>]", "csv:<file>", "idx:<images>,<labels>".`,
      ['training', 'dataset'],
    );
  }
  if (training.split.validation + training.split.test >= 0.95) {
    problems.error('The validation and test fractions leave almost nothing to train on: keep their sum below 0.95.', ['training', 'split']);
  }
  const checkOutputRef = (id: string | undefined, path: Path): OutputInfo | undefined => {
    if (id === undefined) return outputs[0];
    const out = outputs.find((o) => o.id === id);
    if (!out) {
      const w = working.get(id);
      problems.error(
        w ? `"${id}" is a ${w.type}, not an Output block: name an Output to train.` : `No Output block is called "${id}".`,
        path,
      );
    }
    return out;
  };
  const checkStage = (stage: Partial<StageSpec> & Pick<TrainingSpec, 'loss' | 'metrics'>, path: Path, what: string): void => {
    const out = checkOutputRef(stage.output, [...path, 'output']);
    if (!out) return;
    if (out.target === 'input' && stage.loss === 'categoricalCrossentropy') {
      problems.error(
        `${what} trains the reconstruction "${out.id}" with categoricalCrossentropy, which compares class probabilities: use binaryCrossentropy or meanSquaredError.`,
        [...path, 'loss'],
      );
    }
    if (out.target === 'input' && stage.metrics.includes('accuracy')) {
      problems.warning(`${what}: "accuracy" needs labels; "${out.id}" is a reconstruction, so it is left out.`, [...path, 'metrics']);
    }
    for (const [i, id] of (stage.freeze ?? []).entries()) {
      if (!working.has(id)) problems.error(`${what} freezes "${id}", which is not a block in this graph.`, [...path, 'freeze', i]);
    }
  };
  if (!training.stages || training.stages.length === 0) {
    checkStage(training, ['training'], 'Training');
    return;
  }
  for (const [i, stage] of training.stages.entries()) {
    const path = ['training', 'stages', i];
    const what = `Stage "${stage.name}"`;
    if (stage.kind === 'layerwise') {
      const enc = stage.encoder ? working.get(stage.encoder) : undefined;
      if (!enc || enc.type !== 'Encoder') {
        problems.error(`${what} pretrains layer by layer and needs "encoder": the id of an Encoder block.`, [...path, 'encoder']);
      } else {
        const stages = (enc.params?.stages as { kind: string }[] | undefined) ?? [];
        if (stages.some((s) => s.kind !== 'dense')) {
          problems.error(`${what}: layer-wise pretraining works on dense stages; Encoder "${enc.id}" has conv stages.`, [...path, 'encoder']);
        }
      }
      continue;
    }
    checkStage({ ...stage, loss: stage.loss ?? training.loss, metrics: stage.metrics ?? training.metrics }, path, what);
  }
}

/** Block types that corrupt their input while training only. */
/** The nodes a model runs: strictly after `plan.from` up to and including `plan.to` along first inputs; undefined when `to` does not depend on `from` alone. */
export function modelChain(analysis: GraphAnalysis, plan: Pick<ModelPlan, 'from' | 'to'>): AnalyzedNode[] | undefined {
  const nodes: AnalyzedNode[] = [];
  let cur: string | undefined = plan.to;
  while (cur !== undefined && cur !== plan.from) {
    const node: AnalyzedNode | undefined = analysis.nodes.get(cur);
    if (!node || nodes.includes(node)) return undefined;
    nodes.unshift(node);
    cur = node.inputs[0];
  }
  return cur === plan.from ? nodes : undefined;
}

export const NOISE_BLOCKS: ReadonlySet<string> = new Set(['Noise', 'GaussianNoise']);

/** Whether the graph corrupts its input while training (a Noise or GaussianNoise block right after the Input): a denoising autoencoder. */
export function isDenoising(analysis: GraphAnalysis): boolean {
  const input = analysis.inputId ? analysis.nodes.get(analysis.inputId) : undefined;
  return (input?.outputs ?? []).some((id) => NOISE_BLOCKS.has(analysis.nodes.get(id)?.type ?? ''));
}

/** The variational Bottleneck a model's code comes from (the first, in dependency order), if any. */
export function variationalBottleneck(analysis: GraphAnalysis): AnalyzedNode | undefined {
  return analysis.order.map((id) => analysis.nodes.get(id)!).find((n) => n.type === 'Bottleneck' && n.params?.variational === true);
}
