/**
 * What training and evaluation share: losses, metrics, feeding a split to the device, scoring a
 * split with one read-back (loss, metric sums and the confusion matrix together), and the preview
 * pictures (reconstructions, a classifier's strip of predictions).
 */
import * as tf from '@tensorflow/tfjs';
import type { LossName, MetricName } from '../core/format';
import type { ClassifierPreview } from '../core/protocol';
import type { Shape } from '../core/shape';
import { batchToFloat, oneHot } from '../data/index';
import type { ImageDataset } from '../data/types';
import { constant } from './constants';
import { TrainingError } from './errors';
import { type GridCell, imageStrip, reconstructionGrid } from './png';

export const PREVIEW_COUNT = 10;
export const EVAL_BATCH = 512;

/** Keras' epsilon (tf.keras.backend.epsilon()), which its cross-entropies clip to. */
const EPSILON = 1e-7;

/**
 * The stage losses, as Keras and tfjs-layers compute them, but with their constants taken from the
 * device (constants.ts) rather than uploaded on every call; test/train/optimizers.test.ts checks
 * they equal tf.metrics' values.
 */
export function lossFn(name: LossName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  const one = constant(1);
  switch (name) {
    case 'binaryCrossentropy': {
      // tfjs-layers: logits = log(p / (1 - p)) of p clipped to [eps, 1 - eps], then the stable
      // sigmoid cross-entropy max(x, 0) - x z + log(1 + exp(-|x|)), averaged over the last axis.
      const p = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
      const logits = tf.log(tf.div(p, tf.sub(one, p)));
      const perValue = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, yTrue)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
      return tf.mean(tf.mean(perValue, -1));
    }
    case 'meanSquaredError':
      return tf.mean(tf.squaredDifference(yTrue, yPred));
    case 'categoricalCrossentropy': {
      const last = yPred.shape.length - 1;
      const p = tf.clipByValue(tf.div(yPred, tf.sum(yPred, last, true)), EPSILON, 1 - EPSILON);
      return tf.mean(tf.neg(tf.sum(tf.mul(tf.cast(yTrue, 'float32'), tf.log(p)), last)));
    }
  }
}

/** Per-batch sum of a metric (so epoch means weigh a short last batch correctly). */
export function metricSum(name: MetricName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  const n = constant(yTrue.shape[0]!);
  switch (name) {
    case 'accuracy':
      return tf.sum(tf.cast(tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1)), 'float32'));
    case 'meanSquaredError':
      return tf.mul(tf.mean(tf.squaredDifference(yTrue, yPred)), n);
    case 'meanAbsoluteError':
      return tf.mul(tf.mean(tf.abs(tf.sub(yTrue, yPred))), n);
  }
}

/** Feeds a split of the dataset as tensors of the Input's shape. */
export class Feeder {
  constructor(
    readonly ds: ImageDataset,
    private readonly sampleShape: Shape,
  ) {}
  inputs(indices: Uint32Array, start: number, end: number): tf.Tensor {
    return tf.tensor(batchToFloat(this.ds, indices, start, end), [end - start, ...this.sampleShape]);
  }
  labels(indices: Uint32Array, start: number, end: number, classes: number): tf.Tensor {
    if (!this.ds.labels) throw new TrainingError(`${this.ds.source} has no labels, but this stage trains a classifier.`);
    return tf.tensor2d(oneHot(this.ds.labels, indices, start, end, classes), [end - start, classes]);
  }
}

/** What a split is scored on: the stage's loss and metrics against its target. */
export interface ScoreSpec {
  readonly loss: LossName;
  readonly metrics: readonly MetricName[];
  readonly target: 'input' | 'labels';
  /** Classes of a labels model (its output width); 0 for autoencoders. */
  readonly classes: number;
  /** Also count the confusion matrix (labels models). */
  readonly confusion: boolean;
}

export interface Score {
  readonly loss: number | null;
  readonly metrics: Record<string, number>;
  /** rows = true class, columns = predicted class; present when asked for. */
  readonly confusion?: number[][];
}

/** Mean loss and metrics (and confusion counts) of `model` over `idx`, with one read-back in all. */
export async function scoreSplit(model: tf.LayersModel, feeder: Feeder, idx: Uint32Array, spec: ScoreSpec): Promise<Score> {
  const k = spec.classes;
  const withConfusion = spec.confusion && spec.target === 'labels' && k > 0;
  if (idx.length === 0) return { loss: null, metrics: {}, confusion: withConfusion ? Array.from({ length: k }, () => new Array<number>(k).fill(0)) : undefined };
  const sums = tf.tidy(() => {
    let lossSum: tf.Tensor = tf.scalar(0);
    const mSums: tf.Tensor[] = spec.metrics.map(() => tf.scalar(0));
    let counts: tf.Tensor = tf.zeros([withConfusion ? k * k : 0], 'int32');
    for (let start = 0; start < idx.length; start += EVAL_BATCH) {
      const end = Math.min(idx.length, start + EVAL_BATCH);
      const xs = feeder.inputs(idx, start, end);
      const ys = spec.target === 'input' ? xs : feeder.labels(idx, start, end, k);
      const pred = model.apply(xs, { training: false }) as tf.Tensor;
      lossSum = tf.add(lossSum, tf.mul(lossFn(spec.loss, ys, pred), end - start));
      spec.metrics.forEach((m, i) => (mSums[i] = tf.add(mSums[i]!, metricSum(m, ys, pred))));
      if (withConfusion) {
        // Cell index true*k + predicted, counted with a one-hot sum (bincount is missing on some backends).
        const cell = tf.add(tf.mul(tf.argMax(ys, -1), tf.scalar(k, 'int32')), tf.argMax(pred, -1));
        counts = tf.add(counts, tf.sum(tf.oneHot(tf.cast(cell, 'int32'), k * k), 0));
      }
    }
    return tf.concat([tf.stack([lossSum, ...mSums]), tf.cast(counts, 'float32')]);
  });
  const values = await sums.data();
  sums.dispose();
  const metrics: Record<string, number> = {};
  spec.metrics.forEach((m, i) => (metrics[m] = values[i + 1]! / idx.length));
  const base = spec.metrics.length + 1;
  const confusion = withConfusion ? Array.from({ length: k }, (_, r) => Array.from({ length: k }, (_, c) => Math.round(values[base + r * k + c]!))) : undefined;
  return { loss: values[0]! / idx.length, metrics, confusion };
}

export function toCells(data: Float32Array, count: number, ds: ImageDataset): GridCell[] {
  const per = ds.height * ds.width * ds.channels;
  const channels = ds.channels === 3 ? 3 : 1;
  return Array.from({ length: count }, (_, i) => ({ data: data.subarray(i * per, (i + 1) * per), height: ds.height, width: ds.width, channels }));
}

/** Originals over reconstructions of `previewIdx`, as a PNG. */
export async function reconstructionPreview(model: tf.LayersModel, feeder: Feeder, previewIdx: Uint32Array): Promise<Buffer> {
  const originals = batchToFloat(feeder.ds, previewIdx, 0, previewIdx.length);
  const out = tf.tidy(() => model.apply(feeder.inputs(previewIdx, 0, previewIdx.length), { training: false }) as tf.Tensor);
  const recon = (await out.data()) as Float32Array;
  out.dispose();
  return reconstructionGrid(toCells(originals, previewIdx.length, feeder.ds), toCells(recon, previewIdx.length, feeder.ds));
}

/** Display names of a labels model's classes: the dataset's names, else "0", "1", … */
export function classNamesFor(ds: ImageDataset, classes: number): string[] {
  return Array.from({ length: classes }, (_, i) => ds.classNames?.[i] ?? String(i));
}

/**
 * The classifier preview: `previewIdx`'s images as one strip, each with its true label, the
 * predicted class and that class's probability (one read-back), plus the given confusion matrix.
 */
export async function classifierPreview(model: tf.LayersModel, feeder: Feeder, previewIdx: Uint32Array, confusion: number[][], classes: number): Promise<{ preview: ClassifierPreview; png: Buffer }> {
  const ds = feeder.ds;
  if (!ds.labels) throw new TrainingError(`${ds.source} has no labels, but this stage trains a classifier.`);
  const labels = Array.from(previewIdx, (i) => ds.labels![i]!);
  let predicted: number[] = [];
  let confidence: number[] = [];
  if (previewIdx.length > 0) {
    const packed = tf.tidy(() => {
      const probs = model.apply(feeder.inputs(previewIdx, 0, previewIdx.length), { training: false }) as tf.Tensor;
      return tf.stack([tf.cast(tf.argMax(probs, -1), 'float32'), tf.max(probs, -1)]);
    });
    const values = await packed.data();
    packed.dispose();
    const n = previewIdx.length;
    predicted = Array.from(values.subarray(0, n), (v) => Math.round(v));
    confidence = Array.from(values.subarray(n, 2 * n));
  }
  const pixels = batchToFloat(ds, previewIdx, 0, previewIdx.length);
  const png = previewIdx.length > 0 ? imageStrip(toCells(pixels, previewIdx.length, ds)) : Buffer.alloc(0);
  return {
    preview: { classNames: classNamesFor(ds, classes), confusion, stripPngBase64: png.toString('base64'), labels, predicted, confidence },
    png,
  };
}
