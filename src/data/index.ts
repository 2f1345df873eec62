import { loadCsv } from './csv';
import { loadFashionMnist, loadMnist } from './embedded';
import { loadIdx } from './idx';
import type { DataSpec, ImageDataset } from './types';

export * from './types';
export { parseDataSpec, formatDataSpec, DATA_SPEC_FORMS } from './spec';
export { splitIndices, type SplitFractions } from './split';
export { checkClasses, filterByClasses, restrictSplit } from './classes';
export { Mulberry32, mulberry32, shuffleInPlace, type Rng } from './random';
export { loadMnist, loadFashionMnist, embeddedCacheFile, MNIST_CLASS_NAMES, FASHION_MNIST_CLASS_NAMES } from './embedded';
export { defaultCacheDir } from './cache';
export { loadIdx, parseIdxImages, parseIdxLabels } from './idx';
export { loadCsv, inferImageShape } from './csv';
export { runtimeRequire, resolvePackageDir } from '../platform/runtimeRequire';

export interface LoadOptions {
  /** Cache folder for the decoded npm datasets; null disables the cache. */
  readonly cacheDir?: string | null;
}

/** Loads whatever a DataSpec names; every user-fixable problem is a DatasetError. */
export function loadDataset(spec: DataSpec, opts: LoadOptions = {}): Promise<ImageDataset> {
  switch (spec.kind) {
    case 'mnist':
      return loadMnist(opts);
    case 'fashion-mnist':
      return loadFashionMnist(opts);
    case 'idx':
      return loadIdx(spec.images, spec.labels);
    case 'csv':
      return loadCsv(spec.file);
  }
}

/** byte → float in [0,1]: one table lookup per pixel on the training hot path. */
/** Pixel byte → float in [0, 1], as every batch converts it (the webgpu batch kernel uses this table too). */
export const BYTE_TO_UNIT: Readonly<Float32Array> = new Float32Array(256).map((_, i) => i / 255);

function checkRange(indices: ArrayLike<number>, start: number, end: number): number {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > indices.length) {
    throw new RangeError(`batch range [${start}, ${end}) is outside the ${indices.length} indices`);
  }
  return end - start;
}

/** Samples indices[start..end) as n x (H*W*C) floats in [0,1]; a given `out` is filled (prefix) and returned. */
export function batchToFloat(
  ds: Pick<ImageDataset, 'pixels' | 'count' | 'height' | 'width' | 'channels'>,
  indices: ArrayLike<number>,
  start: number,
  end: number,
  out?: Float32Array,
): Float32Array {
  const n = checkRange(indices, start, end);
  const size = ds.height * ds.width * ds.channels;
  const need = n * size;
  if (out !== undefined && out.length < need) {
    throw new RangeError(`output buffer holds ${out.length} floats, the batch needs ${need}`);
  }
  const dst = out ?? new Float32Array(need);
  const pixels = ds.pixels;
  const lut = BYTE_TO_UNIT;
  for (let k = 0; k < n; k++) {
    const idx = indices[start + k] as number;
    if (!(idx >= 0 && idx < ds.count)) throw new RangeError(`sample index ${idx} is outside the dataset (0..${ds.count - 1})`);
    let s = idx * size;
    let o = k * size;
    const stop = o + size;
    while (o < stop) dst[o++] = lut[pixels[s++] as number] as number;
  }
  return dst;
}

/** One-hot rows (n x numClasses) for labels[indices[start..end)]; a given `out` is cleared (prefix) and reused. */
export function oneHot(
  labels: Uint8Array,
  indices: ArrayLike<number>,
  start: number,
  end: number,
  numClasses: number,
  out?: Float32Array,
): Float32Array {
  const n = checkRange(indices, start, end);
  const need = n * numClasses;
  if (out !== undefined && out.length < need) {
    throw new RangeError(`output buffer holds ${out.length} floats, the batch needs ${need}`);
  }
  const dst = out ?? new Float32Array(need);
  if (out !== undefined) dst.fill(0, 0, need);
  for (let k = 0; k < n; k++) {
    const idx = indices[start + k] as number;
    const label = labels[idx];
    if (label === undefined || !Number.isInteger(idx)) throw new RangeError(`sample index ${idx} is outside the ${labels.length} labels`);
    if (label >= numClasses) throw new RangeError(`label ${label} of sample ${idx} is not below numClasses ${numClasses}`);
    dst[k * numClasses + label] = 1;
  }
  return dst;
}
