/**
 * NumPy files: `npy:<x.npy>[,<y.npy>]` and `npz:<file>` (x_train, y_train, x_test, y_test as in
 * Keras' mnist.npz, or x[, y]). The NPY header is read by npyjs and the zip by yauzl; each array is
 * streamed straight into the dataset's own store (bytes stay bytes), so a file is never held twice.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { float16ToFloat32, parse as parseNpy } from 'npyjs';
import * as yauzl from 'yauzl';
import { inferImageShape } from './csv';
import { type DiskPart, DiskBytes, memoryBudgetBytes } from './disk';
import { DatasetError, type Dataset } from './types';
import { fileError, formatCount, shortName } from './util';

/** One array's header: what npyjs read from the dict, and how many bytes precede the data. */
interface NpyHeader {
  /** numpy's descr without the byte-order mark, e.g. "u1", "f4", "U5" (npyjs' dtype). */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly headerBytes: number;
}

/** An array inside a file: a .npy file, or an entry of an .npz zip. */
interface ArraySource {
  /** How messages name it: "x.npy", "data.npz: x_train". */
  readonly where: string;
  readonly file: string;
  open(): Promise<Readable>;
  /** Where the array's bytes (its npy header first) lie in `file` as they are, or null when compressed. */
  locate(): Promise<number | null>;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** The element size of the numeric dtypes we read, keyed by npyjs' dtype. */
const ELEMENT_BYTES: Readonly<Record<string, number>> = { u1: 1, i1: 1, b1: 1, u2: 2, i2: 2, f2: 2, u4: 4, i4: 4, f4: 4, u8: 8, i8: 8, f8: 8 };

/** Reads a stream from its start until `want` bytes (or the end); the stream is destroyed after. */
async function readPrefix(stream: Readable, want: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= want) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, want);
}

/** Reads and checks one array's header (npyjs parses the dict from the header bytes alone). */
async function readHeader(src: ArraySource): Promise<NpyHeader> {
  const pre = await readPrefix(await src.open(), 12);
  if (pre.length < 10 || !MAGIC.every((b, i) => pre[i] === b)) {
    throw new DatasetError(`${src.where}: not a NumPy .npy array (it does not start with \\x93NUMPY)`, src.file);
  }
  const major = pre[6]!;
  const headerBytes = major <= 1 ? 10 + pre.readUInt16LE(8) : 12 + pre.readUInt32LE(8);
  const head = await readPrefix(await src.open(), headerBytes);
  if (head.length < headerBytes) throw new DatasetError(`${src.where}: truncated in its header`, src.file);
  const headerText = head.subarray(major <= 1 ? 10 : 12).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(headerText)?.[1] ?? '?';
  let parsed: { dtype: string; shape: number[]; fortranOrder: boolean };
  try {
    // A copy of just the header: npyjs then makes an empty typed array over the (absent) data.
    parsed = parseNpy(Uint8Array.from(head.subarray(0, headerBytes)).buffer);
  } catch {
    throw new DatasetError(`${src.where}: ${dtypeSentence(descr)}`, src.file);
  }
  if (!(parsed.dtype in ELEMENT_BYTES) && !/^U\d+$/.test(parsed.dtype)) throw new DatasetError(`${src.where}: ${dtypeSentence(descr)}`, src.file);
  if (parsed.fortranOrder) {
    throw new DatasetError(`${src.where}: saved in Fortran order; save it with np.save(file, np.ascontiguousarray(a))`, src.file);
  }
  if (parsed.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DatasetError(`${src.where}: its header has an unreadable shape`, src.file);
  return { dtype: parsed.dtype, shape: parsed.shape, headerBytes };
}

function dtypeSentence(descr: string): string {
  if (/O/.test(descr)) return `holds Python objects (dtype ${descr}); save a numeric array (e.g. a.astype(np.float32))`;
  if (/^[<>|=]?[SUa]/.test(descr)) return `holds strings (dtype ${descr}); samples must be numbers`;
  if (descr.startsWith('>')) return `is big-endian (dtype ${descr}); save it little-endian (a.astype("<f4"))`;
  if (/c/.test(descr)) return `holds complex numbers (dtype ${descr}); samples must be real numbers`;
  return `has a dtype this reader does not take (${descr}); use uint8, an integer type or a float type`;
}

const shapeText = (shape: readonly number[]): string => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Streams the data bytes (after the header) into `sink`, checking there are exactly `bytes` of them. */
async function streamData(src: ArraySource, header: NpyHeader, bytes: number, sink: (chunk: Uint8Array, at: number) => void): Promise<void> {
  const stream = await src.open();
  let pos = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const from = Math.max(0, header.headerBytes - pos);
      const to = Math.min(chunk.length, header.headerBytes + bytes - pos);
      if (to > from) sink(chunk.subarray(from, to), pos + from - header.headerBytes);
      pos += chunk.length;
    }
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(`${src.where}: cannot be read (${err instanceof Error ? err.message : String(err)}); is the file complete?`, src.file);
  } finally {
    stream.destroy();
  }
  const have = Math.max(0, pos - header.headerBytes);
  if (have < bytes) {
    throw new DatasetError(`${src.where}: truncated: its header announces shape ${shapeText(header.shape)} (${formatCount(bytes)} bytes of data), the file holds ${formatCount(have)}`, src.file);
  }
}

/** Reads a whole numeric array as its own typed array (converted to float32 unless it is uint8). */
async function readNumbers(src: ArraySource, header: NpyHeader): Promise<Uint8Array | Float32Array> {
  const n = product(header.shape);
  const elem = ELEMENT_BYTES[header.dtype];
  if (elem === undefined) throw new DatasetError(`${src.where}: ${dtypeSentence(header.dtype)}`, src.file);
  const raw = new Uint8Array(n * elem);
  await streamData(src, header, raw.length, (chunk, at) => raw.set(chunk, at));
  if (header.dtype === 'u1') return raw;
  return toFloat32(raw.buffer, header.dtype, n);
}

function toFloat32(buffer: ArrayBuffer, dtype: string, n: number): Float32Array {
  switch (dtype) {
    case 'f4':
      return new Float32Array(buffer, 0, n);
    case 'f2': {
      const out = new Float32Array(n);
      const halves = new Uint16Array(buffer, 0, n);
      for (let i = 0; i < n; i++) out[i] = float16ToFloat32(halves[i]!);
      return out;
    }
    case 'b1':
    case 'i1':
      return Float32Array.from(dtype === 'b1' ? new Uint8Array(buffer, 0, n) : new Int8Array(buffer, 0, n));
    case 'u2':
      return Float32Array.from(new Uint16Array(buffer, 0, n));
    case 'i2':
      return Float32Array.from(new Int16Array(buffer, 0, n));
    case 'u4':
      return Float32Array.from(new Uint32Array(buffer, 0, n));
    case 'i4':
      return Float32Array.from(new Int32Array(buffer, 0, n));
    case 'f8':
      return Float32Array.from(new Float64Array(buffer, 0, n));
    case 'i8':
    case 'u8': {
      const big = dtype === 'i8' ? new BigInt64Array(buffer, 0, n) : new BigUint64Array(buffer, 0, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(big[i]!);
      return out;
    }
    default:
      throw new RangeError(`no float32 conversion for dtype ${dtype}`);
  }
}

/** The sample layout of an x array's shape, or a sentence. */
function sampleLayout(src: ArraySource, header: NpyHeader): Pick<Dataset, 'kind' | 'height' | 'width' | 'channels'> {
  if (header.dtype.startsWith('U')) throw new DatasetError(`${src.where}: ${dtypeSentence(`<${header.dtype}`)}`, src.file);
  const [, ...rest] = header.shape;
  if (rest.length === 2) return { kind: 'image', height: rest[0]!, width: rest[1]!, channels: 1 };
  if (rest.length === 3) return { kind: 'image', height: rest[0]!, width: rest[1]!, channels: rest[2]! };
  if (rest.length === 1) {
    // Flat byte rows that form a square picture (784 = 28x28) are images, as in a pixel CSV.
    const image = header.dtype === 'u1' ? inferImageShape(rest[0]!) : null;
    return image ? { kind: 'image', ...image } : { kind: 'table', height: 1, width: 1, channels: rest[0]! };
  }
  throw new DatasetError(
    `${src.where}: has shape ${shapeText(header.shape)}; samples need shape (N, H, W), (N, H, W, C) or (N, features)${header.shape.length === 1 ? ' (one number per sample looks like labels)' : ''}`,
    src.file,
  );
}

/** The first NaN or infinity in float samples, as "sample 12 value 5". */
function checkFinite(src: ArraySource, values: Float32Array, size: number, offset = 0): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new DatasetError(`${src.where}: sample ${Math.floor(i / size) + offset} holds ${values[i]} at value ${(i % size) + 1}; samples must be finite numbers`, src.file);
    }
  }
}

interface Labels {
  readonly labels: Uint8Array;
  readonly numClasses: number;
  readonly classNames?: string[];
}

/** Labels from a y array: class indices (N or N x 1), one-hot rows (N x K), or class names (strings). */
async function readLabels(src: ArraySource, header: NpyHeader): Promise<Labels> {
  const [n = 0, ...rest] = header.shape;
  if (header.shape.length === 0 || rest.length > 1) {
    throw new DatasetError(`${src.where}: labels have shape ${shapeText(header.shape)}; expected (N,) class indices or (N, classes) one-hot rows`, src.file);
  }
  if (header.dtype.startsWith('U')) return stringLabels(src, header, n);
  const values = await readNumbers(src, header);
  const width = rest[0] ?? 1;
  const labels = new Uint8Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    let v: number;
    if (width === 1) v = values[i]!;
    else {
      // One-hot (or probability) rows: the class is the largest entry.
      v = 0;
      for (let k = 1; k < width; k++) if (values[i * width + k]! > values[i * width + v]!) v = k;
    }
    if (!(Number.isInteger(v) && v >= 0 && v <= 254)) {
      throw new DatasetError(`${src.where}: label ${v} at index ${i} is not a class index (a whole number 0..254)`, src.file);
    }
    labels[i] = v;
    if (v > max) max = v;
  }
  return { labels, numClasses: width > 1 ? width : max + 1 };
}

async function stringLabels(src: ArraySource, header: NpyHeader, n: number): Promise<Labels> {
  const chars = Number(header.dtype.slice(1));
  const raw = new Uint8Array(n * chars * 4);
  await streamData(src, header, raw.length, (chunk, at) => raw.set(chunk, at));
  const codes = new Uint32Array(raw.buffer, 0, n * chars);
  const words = Array.from({ length: n }, (_, i) => String.fromCodePoint(...codes.subarray(i * chars, (i + 1) * chars).filter((c) => c !== 0)));
  const classNames = [...new Set(words)].sort();
  if (classNames.length > 255) throw new DatasetError(`${src.where}: ${classNames.length} distinct labels; at most 255 classes are supported`, src.file);
  const index = new Map(classNames.map((c, i) => [c, i]));
  return { labels: Uint8Array.from(words, (w) => index.get(w)!), numClasses: classNames.length, classNames };
}

/** x arrays (one, or x_train and x_test) read into one store, in order. */
async function readSamples(parts: readonly { src: ArraySource; header: NpyHeader }[], budget: number): Promise<{ values: Uint8Array | Float32Array | DiskBytes; layout: Pick<Dataset, 'kind' | 'height' | 'width' | 'channels'>; counts: number[] }> {
  const first = parts[0]!;
  const layout = sampleLayout(first.src, first.header);
  for (const p of parts.slice(1)) {
    const other = sampleLayout(p.src, p.header);
    if (other.height !== layout.height || other.width !== layout.width || other.channels !== layout.channels || p.header.dtype !== first.header.dtype) {
      throw new DatasetError(`${p.src.where} has samples of shape ${shapeText(p.header.shape.slice(1))} (${p.header.dtype}) but ${first.src.where} has ${shapeText(first.header.shape.slice(1))} (${first.header.dtype}); both must match`, p.src.file);
    }
  }
  const counts = parts.map((p) => p.header.shape[0]!);
  const size = layout.height * layout.width * layout.channels;
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) throw new DatasetError(`${first.src.where}: holds no samples (shape ${shapeText(first.header.shape)})`, first.src.file);
  if (first.header.dtype === 'u1' && total * size > budget) {
    // Larger than the memory budget: streamed from the file (stored arrays as they lie, compressed ones inflated to a temporary file once).
    const regions: DiskPart[] = [];
    for (const [k, p] of parts.entries()) {
      const at = await p.src.locate();
      const bytes = counts[k]! * size;
      if (at !== null) {
        const { size: fileSize } = await fsp.stat(p.src.file);
        if (at + p.header.headerBytes + bytes > fileSize) {
          throw new DatasetError(`${p.src.where}: truncated: its header announces shape ${shapeText(p.header.shape)} (${formatCount(bytes)} bytes of data), the file is shorter`, p.src.file);
        }
        regions.push({ file: p.src.file, offset: at + p.header.headerBytes, count: counts[k]! });
      } else {
        regions.push({ file: await inflateToTemp(p.src, p.header, bytes), offset: 0, count: counts[k]! });
      }
    }
    return { values: new DiskBytes(regions, size, total, budget), layout, counts };
  }
  if (first.header.dtype === 'u1' || first.header.dtype === 'f4') {
    // Streamed straight into the final store: no second copy of the file's data.
    const values = first.header.dtype === 'u1' ? new Uint8Array(total * size) : new Float32Array(total * size);
    const bytes = new Uint8Array(values.buffer);
    let at = 0;
    for (const [k, p] of parts.entries()) {
      const len = counts[k]! * size * values.BYTES_PER_ELEMENT;
      const base = at;
      await streamData(p.src, p.header, len, (chunk, pos) => bytes.set(chunk, base + pos));
      at += len;
    }
    if (values instanceof Float32Array) checkFinite(first.src, values, size);
    return { values, layout, counts };
  }
  const values = new Float32Array(total * size);
  let at = 0;
  for (const p of parts) {
    const part = (await readNumbers(p.src, p.header)) as Float32Array;
    checkFinite(p.src, part, size);
    values.set(part, at);
    at += part.length;
  }
  return { values, layout, counts };
}

function checkLengths(x: { src: ArraySource; header: NpyHeader }, y: { src: ArraySource; header: NpyHeader }): void {
  const nx = x.header.shape[0] ?? 0;
  const ny = y.header.shape[0] ?? 0;
  if (nx !== ny) {
    throw new DatasetError(`${x.src.where} has ${formatCount(nx)} samples but ${y.src.where} has ${formatCount(ny)} labels; the arrays must have the same length`, y.src.file);
  }
}

interface NumpyParts {
  readonly x: readonly { src: ArraySource; header: NpyHeader }[];
  readonly y: readonly { src: ArraySource; header: NpyHeader }[] | null;
  /** x_test / y_test are the test split. */
  readonly keras: boolean;
}

async function assemble(parts: NumpyParts, describe: string, file: string, budget: number): Promise<Dataset> {
  if (parts.y) parts.x.forEach((x, i) => checkLengths(x, parts.y![i]!));
  const { values, layout, counts } = await readSamples(parts.x, budget);
  let labels: Uint8Array | null = null;
  let numClasses = 0;
  let classNames: string[] | undefined;
  if (parts.y) {
    const read = [];
    for (const y of parts.y) read.push(await readLabels(y.src, y.header));
    if (read.some((r) => r.classNames) && read.length > 1) {
      // Names across x_train's and x_test's labels: one sorted list for both.
      const names = [...new Set(read.flatMap((r) => r.classNames ?? []))].sort();
      const index = new Map(names.map((c, i) => [c, i]));
      read.forEach((r, k) => {
        if (!r.classNames) throw new DatasetError(`${parts.y![k]!.src.where}: labels are numbers where ${parts.y![0]!.src.where} has names`, file);
        r.labels.forEach((l, i) => (r.labels[i] = index.get(r.classNames![l]!)!));
      });
      classNames = names;
    } else classNames = read[0]!.classNames;
    labels = new Uint8Array(read.reduce((a, r) => a + r.labels.length, 0));
    let at = 0;
    for (const r of read) {
      labels.set(r.labels, at);
      at += r.labels.length;
    }
    numClasses = classNames?.length ?? Math.max(...read.map((r) => r.numClasses));
  }
  const count = counts.reduce((a, b) => a + b, 0);
  const shape = layout.kind === 'table' ? `${layout.channels} features` : `${layout.height}x${layout.width}x${layout.channels}`;
  const kind = values instanceof Float32Array ? 'float' : values instanceof DiskBytes ? 'uint8, streamed from disk' : 'uint8';
  const split = parts.keras ? `, ${formatCount(counts[0]!)} train + ${formatCount(counts[1]!)} test` : '';
  return {
    source: `${describe} (${formatCount(count)} samples ${shape}, ${kind}${split}, ${labels ? `${numClasses} classes` : 'no labels'})`,
    ...layout,
    count,
    values,
    labels,
    numClasses,
    ...(classNames ? { classNames } : {}),
    ...(layout.kind === 'table' ? { featureNames: Array.from({ length: layout.channels }, (_, i) => `feature ${i + 1}`) } : {}),
    skipped: 0,
    ...(parts.keras ? { testStart: counts[0]! } : {}),
  };
}

/** Inflates a compressed array's data once into a temporary file (streamed arrays of a compressed .npz); its path. */
async function inflateToTemp(src: ArraySource, header: NpyHeader, bytes: number): Promise<string> {
  const dir = path.join(os.tmpdir(), 'latent-studio-npz');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${process.pid}-${Math.random().toString(36).slice(2)}.bin`);
  const handle = await fsp.open(file, 'w');
  try {
    const writes: Promise<unknown>[] = [];
    await streamData(src, header, bytes, (chunk, at) => void writes.push(handle.write(Uint8Array.from(chunk), 0, chunk.length, at)));
    await Promise.all(writes);
  } finally {
    await handle.close();
  }
  return file;
}

function fileSource(file: string): ArraySource {
  return {
    where: shortName(file),
    file,
    locate: () => Promise.resolve(0),
    open: () =>
      new Promise((resolve, reject) => {
        const stream = fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 });
        // A folder opens on Linux and fails only at the first read: say so before reading.
        stream.once('open', (fd: number) =>
          fs.fstat(fd, (err, stat) => {
            if (err || stat.isDirectory()) {
              stream.destroy();
              reject(fileError(file, err ?? Object.assign(new Error('EISDIR'), { code: 'EISDIR' })));
            } else resolve(stream);
          }),
        );
        stream.once('error', (err) => reject(fileError(file, err)));
      }),
  };
}

export interface NumpyLoadOptions {
  /** Bytes uint8 samples may take in memory; above it they are streamed from disk (default: memoryBudgetBytes()). */
  readonly budgetBytes?: number;
}

/** `npy:<x.npy>[,<y.npy>]`. */
export async function loadNpy(xFile: string, yFile: string | null, opts: NumpyLoadOptions = {}): Promise<Dataset> {
  const x = fileSource(xFile);
  const xPart = { src: x, header: await readHeader(x) };
  const yPart = yFile === null ? null : { src: fileSource(yFile), header: await readHeader(fileSource(yFile)) };
  return assemble({ x: [xPart], y: yPart ? [yPart] : null, keras: false }, `NumPy ${shortName(xFile)}`, xFile, opts.budgetBytes ?? memoryBudgetBytes());
}

/** Where a stored (uncompressed) zip entry's data begins: after its local header (30 bytes, the name and the extra field); null when compressed. */
async function storedOffset(file: string, entry: yauzl.Entry): Promise<number | null> {
  if (entry.compressionMethod !== 0) return null;
  const handle = await fsp.open(file, 'r');
  try {
    const local = Buffer.alloc(30);
    await handle.read(local, 0, 30, entry.relativeOffsetOfLocalHeader);
    if (local.readUInt32LE(0) !== 0x04034b50) throw new DatasetError(`${file}: a damaged zip (no local header for ${entry.fileName})`, file);
    return entry.relativeOffsetOfLocalHeader + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  } finally {
    await handle.close();
  }
}

/** `npz:<file>`: x_train, y_train, x_test, y_test (Keras layout; the test arrays are the test split) or x[, y]. */
export async function loadNpz(file: string, opts: NumpyLoadOptions = {}): Promise<Dataset> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code) throw fileError(file, err);
    const why = err instanceof Error && /central directory/i.test(err.message) ? 'not a zip archive, or a truncated one' : err instanceof Error ? err.message : String(err);
    throw new DatasetError(`${file}: not a NumPy .npz file (${why})`, file);
  }
  try {
    const entries = new Map<string, yauzl.Entry>();
    for await (const entry of zip.eachEntry()) entries.set(entry.fileName.replace(/\.npy$/, ''), entry);
    const source = (name: string): ArraySource => {
      const entry = entries.get(name)!;
      return { where: `${shortName(file)}: ${name}`, file, open: () => zip.openReadStreamPromise(entry), locate: () => storedOffset(file, entry) };
    };
    const part = async (name: string): Promise<{ src: ArraySource; header: NpyHeader }> => ({ src: source(name), header: await readHeader(source(name)) });
    const has = (name: string): boolean => entries.has(name);
    const names = [...entries.keys()];
    let parts: NumpyParts;
    if (has('x_train') && has('x_test')) {
      if (has('y_train') !== has('y_test')) throw new DatasetError(`${file}: has ${has('y_train') ? 'y_train but no y_test' : 'y_test but no y_train'}; give both or neither`, file);
      parts = { x: [await part('x_train'), await part('x_test')], y: has('y_train') ? [await part('y_train'), await part('y_test')] : null, keras: true };
    } else if (has('x') || names.length === 1) {
      const x = has('x') ? 'x' : names[0]!;
      parts = { x: [await part(x)], y: has('y') ? [await part('y')] : null, keras: false };
    } else {
      throw new DatasetError(
        `${file}: missing its arrays: it holds ${names.length ? names.join(', ') : 'no arrays'}; expected x_train, y_train, x_test, y_test (Keras layout) or x and optionally y`,
        file,
      );
    }
    return await assemble(parts, `NumPy ${shortName(file)}`, file, opts.budgetBytes ?? memoryBudgetBytes());
  } finally {
    zip.close();
  }
}
