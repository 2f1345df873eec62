/**
 * What the inspect jobs share: the fields every result carries, the reconstruction model, per-sample
 * reconstruction errors computed on the device, and turning arrays of values into picture cells.
 */
import * as tf from '../../../backend/tf';
import type { ResolvedStage } from '../../../core/stages';
import type { Dataset } from '../../../data/types';
import { TrainingError } from '../../errors';
import { type GridCell, imageGrid } from '../../png';
import type { Normalization } from '../../../data/index';
import { EVAL_BATCH, type Feeder, toCells } from '../../scoring';
import type { TrainedModel, TrainedRun } from '../openRun';

/** The fields every inspect result carries. */
export function commonFields(run: TrainedModel, stage: ResolvedStage = run.stage): { runDir: string; stage: string; outputId: string; backend: string; at: string } {
  return { runDir: run.saved.runDir, stage: stage.name, outputId: stage.outputId, backend: run.backend.name, at: new Date().toISOString() };
}

/** The fields of a result computed on a split of the dataset. */
export function dataFields(run: TrainedRun, split: 'test' | 'validation', stage: ResolvedStage = run.stage): ReturnType<typeof commonFields> & { split: 'test' | 'validation'; dataset: string } {
  return { ...commonFields(run, stage), split, dataset: run.ds.source };
}

/** The model that reconstructs the input: the last fit stage whose Output's target is "input", if any. */
export function reconstructionStage(run: TrainedModel): ResolvedStage | undefined {
  return run.stages.filter((s) => s.kind === 'fit' && s.target === 'input').at(-1);
}

export function requireReconstruction(run: TrainedModel, what: string): ResolvedStage {
  const stage = reconstructionStage(run);
  if (!stage) {
    throw new TrainingError(
      `${run.doc.name} (${run.saved.name}) has no stage that reconstructs its input (a fit stage whose Output has target "input"): ${what} needs an autoencoder's reconstructions`,
    );
  }
  return stage;
}

/**
 * Mean squared error between each sample of `idx` and the model's output for it, computed on the
 * device batch by batch and read back once.
 */
export async function reconstructionErrors(model: tf.LayersModel, feeder: Feeder, idx: Uint32Array): Promise<Float32Array> {
  if (idx.length === 0) return new Float32Array(0);
  const parts: tf.Tensor[] = [];
  try {
    for (let start = 0; start < idx.length; start += EVAL_BATCH) {
      const end = Math.min(idx.length, start + EVAL_BATCH);
      parts.push(
        tf.tidy(() => {
          const xs = feeder.inputs(idx, start, end);
          const pred = model.apply(xs, { training: false }) as tf.Tensor;
          return tf.mean(tf.reshape(tf.squaredDifference(xs, pred), [end - start, -1]), 1);
        }),
      );
    }
    const all = parts.length === 1 ? parts[0]! : tf.concat(parts);
    try {
      return Float32Array.from(await all.data());
    } finally {
      if (all !== parts[0]) all.dispose();
    }
  } finally {
    tf.dispose(parts);
  }
}

/** The model's outputs for `idx`, read back in one piece (a few hundred samples at most). */
export async function predictAll(model: tf.LayersModel, feeder: Feeder, idx: Uint32Array): Promise<Float32Array> {
  const out = tf.tidy(() => model.apply(feeder.inputs(idx, 0, idx.length), { training: false }) as tf.Tensor);
  try {
    return Float32Array.from(await out.data());
  } finally {
    out.dispose();
  }
}

/** One image of the dataset's shape from `values` (at `index` when several lie back to back). */
export function cellOf(ds: Pick<Dataset, 'kind' | 'height' | 'width' | 'channels' | 'values'>, values: Float32Array, norm: Normalization, index = 0): GridCell {
  const per = ds.height * ds.width * ds.channels;
  return toCells(values.subarray(index * per, (index + 1) * per), 1, ds, norm)[0]!;
}

/** A single image as a small PNG (×2, no border). */
export function singleImagePng(cell: GridCell): Buffer {
  return imageGrid({ cells: [[cell]], gap: 0 });
}

/** Values scaled to their own min..max (all 0.5 when they are all equal); NaN stays NaN (drawn red). */
export function scaleToRange(values: ArrayLike<number>): Float32Array {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const out = new Float32Array(values.length);
  const range = max - min;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[i] = Number.isNaN(v) ? Number.NaN : range > 0 ? (v - min) / range : 0.5;
  }
  return out;
}

/** Nearest-neighbour upscale of a cell by an integer factor. */
export function upscale(cell: GridCell, factor: number): GridCell {
  if (factor === 1) return cell;
  const { height, width, channels, data } = cell;
  const out = new Float32Array(height * factor * width * factor * channels);
  const outWidth = width * factor;
  for (let y = 0; y < height * factor; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < outWidth; x++) {
      const sx = Math.floor(x / factor);
      for (let c = 0; c < channels; c++) out[(y * outWidth + x) * channels + c] = data[(sy * width + sx) * channels + c]!;
    }
  }
  return { data: out, height: height * factor, width: outWidth, channels };
}

/** Cells in rows of `perRow`. */
export function rowsOf<T>(items: readonly T[], perRow: number): T[][] {
  const rows: T[][] = [];
  for (let i = 0; i < items.length; i += perRow) rows.push(items.slice(i, i + perRow));
  return rows;
}

/** [0,1] floats → 0..255 bytes (clamped, rounded; NaN → 0), appended at `offset`. */
export function toBytes(values: ArrayLike<number>, out: Uint8Array, offset: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[offset + i] = Number.isNaN(v) ? 0 : Math.round(Math.min(1, Math.max(0, v)) * 255);
  }
}

/** The q-quantile (0..1) of `values` with linear interpolation between order statistics (numpy's default). */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError('quantile of no values');
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
