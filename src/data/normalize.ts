/**
 * Normalisation: how stored values become the model's input. Statistics are per channel (images)
 * or per feature (tables, whose features are the channels of a 1x1 sample), computed on the
 * training split only, written to the run folder (normalization.json) and applied by every batch:
 * training, validation, evaluate, the inspect jobs, export and resume.
 */
import type { NormalizeMethod } from '../core/format';
import type { Normalization } from '../core/runFormat';
import { DiskBytes } from './disk';
import { DatasetError, type Dataset, isBytes, sampleSize } from './types';

export type { Normalization };

/** `unit` for images and byte data (divide by 255, or keep float images as they are), `standard` for float tables. */
export function defaultNormalize(ds: Pick<Dataset, 'kind' | 'values'>): NormalizeMethod {
  return ds.kind === 'table' && !isBytes(ds.values) ? 'standard' : 'unit';
}

/** The statistics of `method` over the samples `trainIdx` (the training split), one per channel. */
export function computeNormalization(ds: Dataset, trainIdx: ArrayLike<number>, method: NormalizeMethod): Normalization {
  const c = ds.channels;
  const bytes = isBytes(ds.values);
  if (method === 'unit') return { method, shift: new Array<number>(c).fill(0), div: new Array<number>(c).fill(bytes ? 255 : 1) };
  if (trainIdx.length === 0) throw new DatasetError(`normalize "${method}" needs training samples to compute its statistics, and the training split is empty`);
  const size = sampleSize(ds);
  const stored = ds.values;
  // Streamed samples are read one at a time (in order: each chunk once).
  const scratch = stored instanceof DiskBytes ? new Uint8Array(size) : null;
  const sorted = stored instanceof DiskBytes ? Uint32Array.from(trainIdx).sort() : trainIdx;
  const min = new Array<number>(c).fill(Infinity);
  const max = new Array<number>(c).fill(-Infinity);
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  for (let k = 0; k < sorted.length; k++) {
    let values: ArrayLike<number>;
    let base: number;
    if (scratch !== null) {
      (stored as DiskBytes).read(sorted[k] as number, scratch, 0);
      values = scratch;
      base = 0;
    } else {
      values = stored as Uint8Array | Float32Array;
      base = (sorted[k] as number) * size;
    }
    for (let j = 0; j < size; j++) {
      const v = values[base + j] as number;
      const ch = j % c;
      if (v < min[ch]!) min[ch] = v;
      if (v > max[ch]!) max[ch] = v;
      sum[ch] = sum[ch]! + v;
      sumSq[ch] = sumSq[ch]! + v * v;
    }
  }
  const n = trainIdx.length * (size / c);
  if (method === 'minmax') {
    // A constant feature keeps a divisor of 1 (as scikit-learn's MinMaxScaler does): it becomes 0.
    return { method, shift: min, div: min.map((lo, i) => (max[i]! - lo > 0 ? max[i]! - lo : 1)) };
  }
  const mean = Array.from(sum, (s) => s / n);
  // Population standard deviation (ddof 0, as scikit-learn's StandardScaler); 1 for a constant feature.
  const std = mean.map((m, i) => Math.sqrt(Math.max(0, sumSq[i]! / n - m * m)));
  return { method, shift: mean, div: std.map((s) => (s > 1e-12 ? s : 1)) };
}

/** Pixel byte → float in [0, 1], as `unit` converts bytes (the webgpu batch kernel uses this table too). */
export const BYTE_TO_UNIT: Readonly<Float32Array> = new Float32Array(256).map((_, i) => i / 255);

/** The `unit` normalisation of a dataset (what runs written before normalization.json used). */
export function unitNormalization(ds: Pick<Dataset, 'channels' | 'values'>): Normalization {
  return { method: 'unit', shift: new Array<number>(ds.channels).fill(0), div: new Array<number>(ds.channels).fill(isBytes(ds.values) ? 255 : 1) };
}

/** Checks a stored normalisation against the dataset it is applied to. */
export function checkNormalization(norm: Normalization, ds: Pick<Dataset, 'channels' | 'source'>): void {
  if (norm.shift.length !== ds.channels || norm.div.length !== ds.channels) {
    throw new DatasetError(`the run's normalization has statistics for ${norm.shift.length} channels, but ${ds.source} has ${ds.channels}: use the dataset the run was trained on`);
  }
}

/**
 * For byte data, one 256-entry table per channel (channel c at c*256): (byte - shift) / div. With
 * `unit` every table is BYTE_TO_UNIT exactly, so batches are bit-identical to the host's i/255.
 */
export function byteTables(norm: Normalization): Float32Array {
  const c = norm.shift.length;
  const lut = new Float32Array(c * 256);
  for (let ch = 0; ch < c; ch++) {
    const shift = norm.shift[ch]!;
    const div = norm.div[ch]!;
    for (let i = 0; i < 256; i++) lut[ch * 256 + i] = (i - shift) / div;
  }
  return lut;
}

/** The single table every channel shares (byte data whose channels all have the same statistics), else null. */
export function sharedByteTable(norm: Normalization): Float32Array | null {
  const same = norm.shift.every((s) => s === norm.shift[0]) && norm.div.every((d) => d === norm.div[0]);
  return same ? byteTables({ ...norm, shift: [norm.shift[0]!], div: [norm.div[0]!] }) : null;
}

export function checkRange(indices: ArrayLike<number>, start: number, end: number): number {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > indices.length) {
    throw new RangeError(`batch range [${start}, ${end}) is outside the ${indices.length} indices`);
  }
  return end - start;
}

/** Per-dataset caches of the byte tables (they are built once per normalisation). */
const tableCache = new WeakMap<Normalization, Float32Array>();

/**
 * Samples indices[start..end) as n x (H*W*C) model inputs; a given `out` is filled (prefix) and
 * returned. `norm` defaults to `unit` (bytes / 255, floats as they are).
 */
export function batchToFloat(
  ds: Pick<Dataset, 'values' | 'count' | 'height' | 'width' | 'channels'>,
  indices: ArrayLike<number>,
  start: number,
  end: number,
  out?: Float32Array,
  norm?: Normalization,
): Float32Array {
  const n = checkRange(indices, start, end);
  const size = sampleSize(ds);
  const need = n * size;
  if (out !== undefined && out.length < need) {
    throw new RangeError(`output buffer holds ${out.length} floats, the batch needs ${need}`);
  }
  const dst = out ?? new Float32Array(need);
  const c = ds.channels;
  const values = ds.values;
  const checkIndex = (idx: number): void => {
    if (!(idx >= 0 && idx < ds.count)) throw new RangeError(`sample index ${idx} is outside the dataset (0..${ds.count - 1})`);
  };
  if (!(values instanceof Float32Array)) {
    const disk = values instanceof DiskBytes ? values : null;
    let lut: Float32Array | Readonly<Float32Array> = BYTE_TO_UNIT;
    if (norm !== undefined && !(norm.method === 'unit' && norm.div.every((d) => d === 255))) {
      lut = tableCache.get(norm) ?? byteTables(norm);
      tableCache.set(norm, lut as Float32Array);
    }
    const perChannel = lut.length > 256;
    for (let k = 0; k < n; k++) {
      const idx = indices[start + k] as number;
      checkIndex(idx);
      let src: Uint8Array;
      let s: number;
      if (disk) {
        ({ bytes: src, offset: s } = disk.locate(idx));
      } else {
        src = values as Uint8Array;
        s = idx * size;
      }
      let o = k * size;
      const stop = o + size;
      if (!perChannel) {
        while (o < stop) dst[o++] = lut[src[s++] as number] as number;
      } else {
        while (o < stop) for (let ch = 0; ch < c; ch++) dst[o++] = lut[ch * 256 + (src[s++] as number)] as number;
      }
    }
    return dst;
  }
  const shift = norm?.shift ?? new Array<number>(c).fill(0);
  const div = norm?.div ?? new Array<number>(c).fill(1);
  const identity = shift.every((v) => v === 0) && div.every((v) => v === 1);
  for (let k = 0; k < n; k++) {
    const idx = indices[start + k] as number;
    checkIndex(idx);
    const s = idx * size;
    const o = k * size;
    if (identity) {
      dst.set(values.subarray(s, s + size), o);
      continue;
    }
    for (let j = 0; j < size; j += c) for (let ch = 0; ch < c; ch++) dst[o + j + ch] = ((values[s + j + ch] as number) - shift[ch]!) / div[ch]!;
  }
  return dst;
}

/**
 * Model-space values (inputs or reconstructions) back to picture values in [0, 1] (clamped when
 * drawn): stored = v * div + shift, and bytes / 255.
 */
export function toDisplay(values: Float32Array, norm: Normalization, bytes: boolean): Float32Array {
  const c = norm.shift.length;
  if (norm.shift.every((s) => s === 0) && norm.div.every((d) => d === (bytes ? 255 : 1))) return values;
  const out = new Float32Array(values.length);
  const scale = bytes ? 1 / 255 : 1;
  for (let i = 0; i < values.length; i++) {
    const ch = i % c;
    out[i] = ((values[i] as number) * norm.div[ch]! + norm.shift[ch]!) * scale;
  }
  return out;
}
