import type { ResizeMode } from '../core/format';
import { adaptToInput, imageTargetOf } from './adapt';
import { loadCsv } from './csv';
import { loadFashionMnist, loadMnist } from './embedded';
import { type ImageTarget, loadFolder } from './folder';
import { loadIdx } from './idx';
import { loadNpy, loadNpz } from './numpy';
import { checkRange } from './normalize';
import type { DataSpec, Dataset } from './types';

export * from './types';
export { parseDataSpec, formatDataSpec, DATA_SPEC_FORMS } from './spec';
export { splitIndices, splitDataset, type SplitFractions } from './split';
export { checkClasses, filterByClasses, resolveClasses, restrictSplit, type ClassRef } from './classes';
export { BYTE_TO_UNIT, batchToFloat, byteTables, checkNormalization, computeNormalization, defaultNormalize, sharedByteTable, toDisplay, unitNormalization, type Normalization } from './normalize';
export { adaptToInput, imageTargetOf } from './adapt';
export { loadFolder, scanFolder, IMAGE_EXTENSIONS, type ImageTarget } from './folder';
export { loadNpy, loadNpz } from './numpy';
export { loadTable, LABEL_COLUMNS } from './table';
export { DiskBytes, memoryBudgetBytes, shuffleForDisk } from './disk';
export { Mulberry32, mulberry32, shuffleInPlace, type Rng } from './random';
export { loadMnist, loadFashionMnist, embeddedCacheFile, MNIST_CLASS_NAMES, FASHION_MNIST_CLASS_NAMES } from './embedded';
export { defaultCacheDir } from './cache';
export { loadIdx, parseIdxImages, parseIdxLabels } from './idx';
export { loadCsv, inferImageShape } from './csv';
export { runtimeRequire, resolvePackageDir } from '../platform/runtimeRequire';

export interface LoadOptions {
  /** Cache folder for decoded datasets (npm datasets, image folders); null disables the cache. */
  readonly cacheDir?: string | null;
  /** The shape an image folder is decoded to (the Input's), with how to resize. */
  readonly target?: ImageTarget;
  /** A CSV file's label column (`training.labelColumn`). */
  readonly labelColumn?: string;
  /** Decoding progress of an image folder. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Bytes a byte dataset may take in memory; larger ones are streamed from disk (default: memoryBudgetBytes()). */
  readonly budgetBytes?: number;
}

/** Loads whatever a DataSpec names; every user-fixable problem is a DatasetError. */
export function loadDataset(spec: DataSpec, opts: LoadOptions = {}): Promise<Dataset> {
  switch (spec.kind) {
    case 'mnist':
      return loadMnist(opts);
    case 'fashion-mnist':
      return loadFashionMnist(opts);
    case 'idx':
      return loadIdx(spec.images, spec.labels);
    case 'csv':
      return loadCsv(spec.file, { labelColumn: opts.labelColumn });
    case 'folder':
      return loadFolder(spec.dir, { target: opts.target, cacheDir: opts.cacheDir, onProgress: opts.onProgress, budgetBytes: opts.budgetBytes });
    case 'npz':
      return loadNpz(spec.file, { budgetBytes: opts.budgetBytes });
    case 'npy':
      return loadNpy(spec.x, spec.y, { budgetBytes: opts.budgetBytes });
  }
}

/** The training section's fields that say how data is read. */
export interface DataSettings {
  readonly resize?: ResizeMode;
  readonly labelColumn?: string;
}

/** Loads a dataset for an Input of `inputShape`: folders decode to its size, other images are converted or resized to it. */
export async function loadForInput(spec: DataSpec, inputShape: readonly number[], settings: DataSettings, opts: Omit<LoadOptions, 'target' | 'labelColumn'> = {}): Promise<Dataset> {
  const target = imageTargetOf(inputShape, settings.resize);
  const ds = await loadDataset(spec, { ...opts, target, labelColumn: settings.labelColumn });
  return adaptToInput(ds, inputShape, settings.resize);
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
