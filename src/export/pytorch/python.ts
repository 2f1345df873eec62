/** Small helpers for writing Python source: literals, identifiers and indented blocks. */

const KEYWORDS: ReadonlySet<string> = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case self super print'.split(' '),
);

/** A Python string literal (JSON's escapes are valid Python escapes). */
export function pyStr(s: string): string {
  return JSON.stringify(s);
}

/** A Python number literal that reads back as the same float64 (JSON form: 1e-07, 0.001, 3). */
export function pyNum(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`Not a finite number: ${n}`);
  return String(n);
}

/** A Python tuple literal of numbers: (28, 28, 1), (784,). */
export function pyTuple(values: readonly number[]): string {
  return values.length === 1 ? `(${pyNum(values[0]!)},)` : `(${values.map(pyNum).join(', ')})`;
}

/** A Python value literal of JSON-like data (dicts, lists, strings, numbers, booleans, null). */
export function pyValue(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNum(v);
  if (typeof v === 'string') return pyStr(v);
  if (Array.isArray(v)) return `[${v.map(pyValue).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${pyStr(k)}: ${pyValue(x)}`)
      .join(', ')}}`;
  }
  throw new Error(`No Python literal for ${typeof v}`);
}

/** Unique Python identifiers for names from the graph ("encoder.0" → encoder_0). */
export class Identifiers {
  private readonly used = new Set<string>();

  constructor(reserved: readonly string[] = []) {
    for (const r of reserved) this.used.add(r);
  }

  /** A fresh identifier for `name`, in `style` (snake for attributes, Pascal for classes). */
  take(name: string, style: 'snake' | 'pascal' = 'snake'): string {
    let base = name.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
    if (style === 'pascal') base = base.split('_').filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('') || 'Model';
    if (/^[0-9]/.test(base)) base = `l_${base}`;
    if (KEYWORDS.has(base)) base = `${base}_`;
    let id = base;
    for (let i = 2; this.used.has(id); i++) id = `${base}_${i}`;
    this.used.add(id);
    return id;
  }
}

/** Lines indented by `level` steps of four spaces (empty lines stay empty). */
export function indent(lines: readonly string[], level = 1): string[] {
  const pad = '    '.repeat(level);
  return lines.map((l) => (l === '' ? '' : pad + l));
}

/** `text` wrapped to lines of at most `width` columns. */
export function wrap(text: string, width = 96): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

/** A docstring line-wrapped to about 96 columns (at `level` indentation). */
export function docstring(text: string, level = 1): string[] {
  const lines = wrap(text.replace(/"""/g, "'''"), 96 - level * 4 - 6);
  if (lines.length <= 1) return [`"""${lines[0] ?? ''}"""`];
  return [`"""${lines[0]}`, ...lines.slice(1), '"""'];
}

/** pyValue laid out over lines: dicts and lists of dicts one entry a line, short lists inline. */
export function pyPretty(v: unknown, level = 0): string {
  const pad = '    '.repeat(level + 1);
  const close = '    '.repeat(level);
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return pyValue(v);
    return `[\n${v.map((x) => `${pad}${pyPretty(x, level + 1)},`).join('\n')}\n${close}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    const inline = pyValue(v);
    if (inline.length + level * 4 <= 100) return inline;
    return `{\n${entries.map(([k, x]) => `${pad}${pyStr(k)}: ${pyPretty(x, level + 1)},`).join('\n')}\n${close}}`;
  }
  return pyValue(v);
}
