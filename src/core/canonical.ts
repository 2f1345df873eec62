/**
 * Canonical serialization of graph documents: fixed key order, one block / edge / layout entry
 * per line, so changing one parameter in the editor is a one-line diff in git.
 */
import { type ParseError, type ParseErrorCode, parseTree, printParseErrorCode } from 'jsonc-parser';

const TOP_KEYS = ['formatVersion', 'name', 'description', 'reproduces', 'leftOut', 'nodes', 'edges', 'training', 'layout'];
const NODE_KEYS = ['id', 'type', 'label', 'trainable', 'params'];
const EDGE_KEYS = ['from', 'to'];
const TRAINING_KEYS = [
  'dataset', 'classes', 'split', 'seed', 'output', 'loss', 'optimizer', 'learningRate', 'epochs', 'batchSize', 'metrics', 'stages',
];
const STAGE_KEYS = [
  'name', 'kind', 'output', 'encoder', 'freeze', 'loss', 'optimizer', 'learningRate', 'epochs', 'batchSize', 'metrics',
];
/** Parameter keys in reading order: what a block is first, then how it behaves. */
const PARAM_KEYS = [
  'kind', 'mode', 'target', 'shape', 'units', 'filters', 'latentSize', 'variational', 'classes', 'hidden', 'kernelSize',
  'strides', 'padding', 'activation', 'pool', 'poolPadding', 'upsample', 'poolSize', 'size', 'targetShape', 'rate',
  'stddev', 'klWeight', 'momentum', 'epsilon', 'useBias', 'batchNorm', 'dropout', 'validation', 'test', 'x', 'y', 'stages',
];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function orderedKeys(obj: Record<string, unknown>, preferred: readonly string[]): string[] {
  const known = preferred.filter((k) => k in obj && obj[k] !== undefined);
  const rest = Object.keys(obj)
    .filter((k) => !preferred.includes(k) && obj[k] !== undefined)
    .sort();
  return [...known, ...rest];
}

/** Compact one-line JSON with stable key order: `{"id": "a", "params": {"units": 3}}`. */
function inline(value: unknown, preferred: readonly string[] = PARAM_KEYS): string {
  if (Array.isArray(value)) return `[${value.map((v) => inline(v, preferred)).join(', ')}]`;
  if (isObject(value)) {
    const keys = orderedKeys(value, preferred);
    return `{${keys.map((k) => `${JSON.stringify(k)}: ${inline(value[k], PARAM_KEYS)}`).join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function list(items: readonly string[], indent: string): string {
  if (items.length === 0) return '[]';
  return `[\n${items.map((s) => `${indent}  ${s}`).join(',\n')}\n${indent}]`;
}

function block(entries: readonly [string, string][], indent: string): string {
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${indent}  ${JSON.stringify(k)}: ${v}`).join(',\n')}\n${indent}}`;
}

function nodeLine(node: unknown): string {
  if (!isObject(node)) return inline(node);
  const keys = orderedKeys(node, NODE_KEYS);
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${k === 'params' ? inline(node[k], PARAM_KEYS) : inline(node[k])}`).join(', ')}}`;
}

function trainingBlock(training: unknown, indent: string): string {
  if (!isObject(training)) return inline(training);
  const entries = orderedKeys(training, TRAINING_KEYS).map((k): [string, string] => {
    const v = training[k];
    if (k === 'stages' && Array.isArray(v)) return [k, list(v.map((s) => inline(s, STAGE_KEYS)), `${indent}  `)];
    return [k, inline(v)];
  });
  return block(entries, indent);
}

function layoutBlock(layout: unknown, nodeOrder: readonly string[], indent: string): string {
  if (!isObject(layout)) return inline(layout);
  const keys = orderedKeys(layout, nodeOrder);
  const entries = keys.map((k): [string, string] => {
    const pos = layout[k];
    // Whole pixels: sub-pixel drag positions would make every save a diff.
    const rounded = isObject(pos) ? Object.fromEntries(Object.entries(pos).map(([a, b]) => [a, typeof b === 'number' ? Math.round(b) : b])) : pos;
    return [k, inline(rounded)];
  });
  return block(entries, indent);
}

/** Serialize a graph document (valid or not) canonically, ending with a newline. */
export function serializeGraph(doc: Record<string, unknown>): string {
  const nodes = Array.isArray(doc.nodes) ? doc.nodes : [];
  const nodeOrder = nodes.map((n) => (isObject(n) && typeof n.id === 'string' ? n.id : '')).filter(Boolean);
  const entries = orderedKeys(doc, TOP_KEYS).map((k): [string, string] => {
    const v = doc[k];
    switch (k) {
      case 'nodes':
        return [k, Array.isArray(v) ? list(v.map(nodeLine), '  ') : inline(v)];
      case 'edges':
        return [k, Array.isArray(v) ? list(v.map((e) => inline(e, EDGE_KEYS)), '  ') : inline(v)];
      case 'leftOut':
        return [k, Array.isArray(v) ? list(v.map((e) => inline(e)), '  ') : inline(v)];
      case 'training':
        return [k, trainingBlock(v, '  ')];
      case 'layout':
        return [k, layoutBlock(v, nodeOrder, '  ')];
      default:
        return [k, inline(v)];
    }
  });
  return `${block(entries, '')}\n`;
}

export interface JsonParseError {
  readonly message: string;
  /** 1-based. */
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

/** JSON.parse, and on failure the first error's line and column (from jsonc-parser's scanner: V8's messages vary by version). */
export function parseJsonText(raw: string): { ok: true; value: unknown } | { ok: false; error: JsonParseError } {
  // A byte-order mark (editors on Windows write one) is not JSON, but it is no mistake either: read it as a space, keeping columns.
  const text = raw.charCodeAt(0) === 0xfeff ? ` ${raw.slice(1)}` : raw;
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const errors: ParseError[] = [];
    parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    const offset = first?.offset ?? 0;
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    const message = first ? describeParseError(first.error) : e instanceof Error ? e.message : String(e);
    return { ok: false, error: { message, line, column, offset } };
  }
}

function describeParseError(code: ParseErrorCode): string {
  const name = printParseErrorCode(code);
  // The ones people make by hand, in their words (ParseErrorCode is a const enum: compared by its name).
  if (name === 'InvalidCommentToken') return 'a comment: JSON has no comments, remove it';
  if (name === 'PropertyNameExpected') return 'property name expected (a comma before a closing brace?)';
  // "ValueExpected" -> "value expected"
  return name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}
