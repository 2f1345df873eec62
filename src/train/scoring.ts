/**
 * What training and evaluation share: losses, metrics, feeding a split to the device, scoring a
 * split with one read-back (loss, metric sums and the confusion matrix together), and the preview
 * pictures (reconstructions, a classifier's strip of predictions).
 */
import * as tf from '../backend/tf';
import type { LossName, MetricName } from '../core/format';
import { DENOISING_CAPTION } from '../core/protocol';
import { type ClassifierPreview } from '../core/runFormat';
import type { Shape } from '../core/shape';
import { collectExtraLosses, hasExtraLosses } from '../compile/customLayers';
import { LOGITS_OF, softmaxDense } from '../compile/fusedLayers';
import { DiskBytes, type Normalization, batchToFloat, oneHot, sharedByteTable, shuffleForDisk, toDisplay, unitNormalization } from '../data/index';
import { type Rng, shuffleInPlace } from '../data/random';
import { type Dataset, isBytes } from '../data/types';
import { constant } from '../backend/constants';
import { gatherBytes, packBytes } from '../backend/kernels/webgpu/batches';
import { uploadNow } from '../backend/kernels/webgpu/program';
import { fusedLoss } from '../backend/kernels/fusedLoss';
import { TrainingError } from './errors';
import { type GridCell, imageGrid, imageStrip, reconstructionGrid } from './png';
import { tableBars } from './tablePictures';

/** The training loop adds the loss terms of a model's layers (a variational Bottleneck's KL) through these. */
export { collectExtraLosses, hasExtraLosses };

export const PREVIEW_COUNT = 10;
export const EVAL_BATCH = 512;

/** Keras' epsilon (tf.keras.backend.epsilon()), which its cross-entropies clip to. */
const EPSILON = 1e-7;

/**
 * What a stage's loss is computed from: the model's output and, where that output is a softmax the
 * loss takes from its logits (see predictForLoss), the logits.
 */
export interface Prediction {
  readonly output: tf.Tensor;
  readonly logits?: tf.Tensor;
}

/**
 * The layer whose logits `loss` is computed from, when the model (or chain of layers) ends in it:
 * a Dense with softmax under categorical cross-entropy, as tf.keras does (it keeps a softmax's
 * logits, `_keras_logits`, and uses softmax_cross_entropy_with_logits). Other pairs (sigmoid with
 * binary cross-entropy included) keep the probability formulas of tfjs-layers.
 */
export function logitsLayer(loss: LossName, last: tf.layers.Layer | undefined): tf.layers.Layer | undefined {
  return loss === 'categoricalCrossentropy' ? softmaxDense(last) : undefined;
}

/**
 * `model.apply(xs, { training })`, and the logits of its output layer where `loss` is computed from
 * them (logitsLayer): then the output is softmax(logits), the same op and values as the layer's own.
 */
export function predictForLoss(model: tf.LayersModel, xs: tf.Tensor, training: boolean, loss: LossName): Prediction {
  const out = model.outputs.length === 1 ? model.outputs[0]! : undefined;
  const layer = out && out.shape.length === 2 ? logitsLayer(loss, out.sourceLayer) : undefined;
  if (!layer) return { output: model.apply(xs, { training }) as tf.Tensor };
  const logits = model.apply(xs, { training, [LOGITS_OF]: layer }) as tf.Tensor;
  return { output: tf.softmax(logits, -1), logits };
}

/**
 * The stage losses, as Keras and tfjs-layers compute them, but with their constants taken from the
 * device (constants.ts) rather than uploaded on every call; test/train/optimizers.test.ts checks
 * they equal tf.metrics' values.
 *
 * Categorical cross-entropy with `logits` (those of a softmax output, predictForLoss): tf.keras'
 * from-logits form -Σ y log_softmax(z), stable (log-sum-exp) and unclipped, whose gradient
 * softmax(z) - y does not vanish. From probabilities alone it clips them to [1e-7, 1 - 1e-7], where
 * its gradient is zero: a confidently wrong sample (p_true < 1e-7) never learns.
 */
export function lossFn(name: LossName, yTrue: tf.Tensor, yPred: tf.Tensor, logits?: tf.Tensor): tf.Scalar {
  if (name !== 'categoricalCrossentropy') {
    // webgpu and wasm: the same loss as one kernel forward and one backward (src/backend/kernels/fusedLoss.ts).
    const fused = fusedLoss(name, yTrue, yPred);
    if (fused) return fused;
  }
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
      if (logits) return tf.mean(tf.neg(tf.sum(tf.mul(tf.cast(yTrue, 'float32'), tf.logSoftmax(logits, -1)), last)));
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
/** Largest dataset Feeder keeps on a webgpu device (bytes, also at most the device's storage binding limit); larger ones upload per batch. */
const DEVICE_DATASET_LIMIT_BYTES = 1024 * 1024 * 1024;

/**
 * Batches of a dataset as tensors. On CPU backends each batch is copied into a new tensor (free).
 * On webgpu, between startEpoch(order) and endEpoch(), batches of that order are assembled on the
 * device (kernels/webgpuBatches.ts) from the dataset's bytes kept there (uploaded once) and the
 * epoch's order (one upload per epoch), instead of one upload per step — uploads cost ~0.9 ms each
 * through Dawn whatever their size. LATENT_DEVICE_BATCHES=0 turns this off.
 */
export class Feeder {
  private device: { backend: string; bytes: tf.Tensor1D; table: tf.Tensor1D; labels: tf.Tensor1D | null; maxLabel: number } | null = null;
  private epoch: { indices: Uint32Array; order: tf.Tensor1D } | null = null;

  /** How stored values become inputs (the run's normalization.json); `unit` when none is given. */
  readonly norm: Normalization;

  constructor(
    readonly ds: Dataset,
    private readonly sampleShape: Shape,
    norm?: Normalization,
  ) {
    this.norm = norm ?? unitNormalization(ds);
  }

  /** Samples are streamed from disk (larger than the memory budget): orders should visit them chunk by chunk. */
  get streamed(): boolean {
    return this.ds.values instanceof DiskBytes;
  }

  /** Shuffles an epoch's training order in place: Fisher–Yates, or chunk-locally for samples streamed from disk (each chunk read once an epoch). */
  shuffle(order: Uint32Array, rng: Rng): void {
    if (this.ds.values instanceof DiskBytes) shuffleForDisk(order, this.ds.values, rng);
    else shuffleInPlace(order, rng);
  }

  /** `idx` in the order that reads it fastest: as it is in memory, sorted (chunk by chunk) when streamed. Sums over it do not depend on the order. */
  scoringOrder(idx: Uint32Array): Uint32Array {
    return this.streamed ? Uint32Array.from(idx).sort() : idx;
  }

  /** Assemble the batches of `indices` (this epoch's order, not changed until endEpoch) on the device, where that pays. */
  startEpoch(indices: Uint32Array): void {
    this.endEpoch();
    if (tf.getBackend() !== 'webgpu' || process.env.LATENT_DEVICE_BATCHES === '0' || !this.onDevice()) return;
    // On the GPU now, or the labels' slice of it would run on the CPU and upload every result.
    this.epoch = { indices, order: uploadNow(tf.keep(tf.tensor1d(Int32Array.from(indices), 'int32'))) };
  }

  endEpoch(): void {
    this.epoch?.order.dispose();
    this.epoch = null;
  }

  dispose(): void {
    this.endEpoch();
    if (this.device) tf.dispose([this.device.bytes, this.device.table, ...(this.device.labels ? [this.device.labels] : [])]);
    this.device = null;
  }

  /** Whether batches of `indices` are assembled on the device (tests). */
  gathersOnDevice(indices: Uint32Array): boolean {
    return this.device !== null && this.epoch !== null && this.epoch.indices === indices;
  }

  private onDevice(): boolean {
    if (this.device && this.device.backend === tf.getBackend()) return true;
    if (this.device) this.dispose();
    const { ds } = this;
    // One tensor = one storage binding: it must fit the device's binding limit (128 MiB by default,
    // e.g. lavapipe; larger on most GPUs) or the kernel reads nothing (silently: NaN losses).
    const device = (tf.backend() as unknown as { device?: { limits?: { maxStorageBufferBindingSize?: number } } }).device;
    const bindingLimit = device?.limits?.maxStorageBufferBindingSize ?? 128 * 1024 * 1024;
    // Bytes through one table only (every channel with the same statistics); floats and per-channel tables upload per batch.
    const lut = ds.values instanceof Uint8Array ? sharedByteTable(this.norm) : null;
    if (!(ds.values instanceof Uint8Array) || lut === null) return false;
    if (ds.values.length > Math.min(DEVICE_DATASET_LIMIT_BYTES, bindingLimit)) return false;
    const keep = <T extends tf.Tensor>(t: T): T => uploadNow(tf.keep(t));
    const bytes = keep(packBytes(ds.values));
    const table = keep(tf.tensor1d(lut, 'float32'));
    const labels = ds.labels ? keep(tf.tensor1d(Int32Array.from(ds.labels), 'int32')) : null;
    const maxLabel = ds.labels ? ds.labels.reduce((m: number, l: number) => Math.max(m, l), 0) : -1;
    this.device = { backend: tf.getBackend(), bytes, table, labels, maxLabel };
    return true;
  }

  inputs(indices: Uint32Array, start: number, end: number): tf.Tensor {
    if (this.device && this.gathersOnDevice(indices)) {
      checkBatchRange(indices, start, end);
      return gatherBytes(this.device.bytes, this.epoch!.order, this.device.table, start, end - start, this.sampleShape);
    }
    return tf.tensor(batchToFloat(this.ds, indices, start, end, undefined, this.norm), [end - start, ...this.sampleShape]);
  }

  labels(indices: Uint32Array, start: number, end: number, classes: number): tf.Tensor {
    if (!this.ds.labels) throw new TrainingError(`${this.ds.source} has no labels, but this stage trains a classifier.`);
    if (this.device?.labels && this.gathersOnDevice(indices) && this.device.maxLabel < classes) {
      checkBatchRange(indices, start, end);
      const { labels } = this.device;
      const order = this.epoch!.order;
      return tf.tidy(() => tf.oneHot(tf.gather(labels, tf.slice(order, start, end - start)), classes, 1, 0, 'float32'));
    }
    return tf.tensor2d(oneHot(this.ds.labels, indices, start, end, classes), [end - start, classes]);
  }
}

function checkBatchRange(indices: Uint32Array, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > indices.length) {
    throw new RangeError(`batch [${start}, ${end}) is outside the ${indices.length} indices`);
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
  /** The stage loss, plus the loss terms the model's layers add (a variational Bottleneck's KL). */
  readonly loss: number | null;
  /** The spec's metrics, and `kl` (the KL term included in `loss`) for a model with a variational Bottleneck. */
  readonly metrics: Record<string, number>;
  /** rows = true class, columns = predicted class; present when asked for. */
  readonly confusion?: number[][];
}

/** Mean loss and metrics (and confusion counts) of `model` over `idx`, with one read-back in all. */
export async function scoreSplit(model: tf.LayersModel, feeder: Feeder, split: Uint32Array, spec: ScoreSpec): Promise<Score> {
  const idx = feeder.scoringOrder(split);
  const k = spec.classes;
  const withConfusion = spec.confusion && spec.target === 'labels' && k > 0;
  if (idx.length === 0) return { loss: null, metrics: {}, confusion: withConfusion ? Array.from({ length: k }, () => new Array<number>(k).fill(0)) : undefined };
  const withKl = hasExtraLosses(model);
  const sums = tf.tidy(() => {
    let lossSum: tf.Tensor = tf.scalar(0);
    const mSums: tf.Tensor[] = spec.metrics.map(() => tf.scalar(0));
    let klSum: tf.Tensor = tf.scalar(0);
    let counts: tf.Tensor = tf.zeros([withConfusion ? k * k : 0], 'int32');
    for (let start = 0; start < idx.length; start += EVAL_BATCH) {
      const end = Math.min(idx.length, start + EVAL_BATCH);
      const xs = feeder.inputs(idx, start, end);
      const ys = spec.target === 'input' ? xs : feeder.labels(idx, start, end, k);
      const { value: prediction, extraLoss } = collectExtraLosses(() => predictForLoss(model, xs, false, spec.loss));
      const pred = prediction.output;
      const loss = lossFn(spec.loss, ys, pred, prediction.logits);
      const batchLoss = extraLoss ? tf.add(loss, extraLoss) : loss;
      lossSum = tf.add(lossSum, tf.mul(batchLoss, end - start));
      if (extraLoss) klSum = tf.add(klSum, tf.mul(extraLoss, end - start));
      spec.metrics.forEach((m, i) => (mSums[i] = tf.add(mSums[i]!, metricSum(m, ys, pred))));
      if (withConfusion) {
        // Cell index true*k + predicted, counted with a one-hot sum (bincount is missing on some backends).
        const cell = tf.add(tf.mul(tf.argMax(ys, -1), tf.scalar(k, 'int32')), tf.argMax(pred, -1));
        counts = tf.add(counts, tf.sum(tf.oneHot(tf.cast(cell, 'int32'), k * k), 0));
      }
    }
    return tf.concat([tf.stack([lossSum, ...mSums, ...(withKl ? [klSum] : [])]), tf.cast(counts, 'float32')]);
  });
  const values = await sums.data();
  sums.dispose();
  const metrics: Record<string, number> = {};
  spec.metrics.forEach((m, i) => (metrics[m] = values[i + 1]! / idx.length));
  if (withKl) metrics.kl = values[spec.metrics.length + 1]! / idx.length;
  const base = spec.metrics.length + 1 + (withKl ? 1 : 0);
  const confusion = withConfusion ? Array.from({ length: k }, (_, r) => Array.from({ length: k }, (_, c) => Math.round(values[base + r * k + c]!))) : undefined;
  return { loss: values[0]! / idx.length, metrics, confusion };
}

/**
 * Model-space samples (inputs or outputs) as picture cells. Images: back to stored values and
 * [0, 1] (colour for 3 or 4 channels, alpha dropped). Tables: one strip per sample, a square per
 * feature, z-scores -3..3 (or minmax/unit values 0..1) from black to white.
 */
export function toCells(data: Float32Array, count: number, ds: Pick<Dataset, 'kind' | 'height' | 'width' | 'channels' | 'values'>, norm: Normalization): GridCell[] {
  const per = ds.height * ds.width * ds.channels;
  if (ds.kind === 'table') {
    const shown = norm.method === 'standard' ? data.map((v) => (v + 3) / 6) : data;
    return Array.from({ length: count }, (_, i) => upscaleStrip(shown.subarray(i * per, (i + 1) * per)));
  }
  const display = toDisplay(data, norm, isBytes(ds.values));
  return Array.from({ length: count }, (_, i) => cellOfImage(display.subarray(i * per, (i + 1) * per), ds));
}

/** One image in [0, 1] as a cell: grey for 1 channel, RGB for 3 and 4 (alpha dropped), the first channel otherwise. */
export function cellOfImage(data: Float32Array, ds: Pick<Dataset, 'height' | 'width' | 'channels'>): GridCell {
  const { height, width, channels } = ds;
  if (channels === 1 || channels === 3) return { data, height, width, channels };
  const rgb = channels === 4;
  const out = new Float32Array(height * width * (rgb ? 3 : 1));
  for (let p = 0; p < height * width; p++) {
    if (rgb) for (let c = 0; c < 3; c++) out[p * 3 + c] = data[p * 4 + c]!;
    else out[p] = data[p * channels]!;
  }
  return { data: out, height, width, channels: rgb ? 3 : 1 };
}

/** A table row as a strip of 6x6-pixel squares, one per feature. */
function upscaleStrip(values: Float32Array): GridCell {
  const side = 6;
  const width = values.length * side;
  const data = new Float32Array(side * width);
  for (let y = 0; y < side; y++) for (let x = 0; x < width; x++) data[y * width + x] = values[Math.floor(x / side)]!;
  return { data, height: side, width, channels: 1 };
}

/** Layer classes that corrupt a denoising autoencoder's input while training (Noise and GaussianNoise blocks). */
const NOISE_CLASSES: ReadonlySet<string> = new Set(['GaussianNoise', 'MaskingNoise']);

/**
 * The noise layers a model applies to its input first (a denoising autoencoder: Noise or
 * GaussianNoise blocks right after the Input), in order; empty for any other model.
 */
export function inputNoiseLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const noise: tf.layers.Layer[] = [];
  // layers[0] is the InputLayer; in a chain the next ones are applied to the input in turn.
  for (const layer of model.layers.slice(1)) {
    if (!NOISE_CLASSES.has(layer.getClassName())) break;
    noise.push(layer);
  }
  return noise;
}

/** What the rows of `reconstructionPreview(model, …)` show when they are not originals over reconstructions. */
export function previewCaption(model: tf.LayersModel): string | undefined {
  return inputNoiseLayers(model).length > 0 ? DENOISING_CAPTION : undefined;
}

/**
 * Originals over reconstructions of `previewIdx`, as a PNG. For a denoising autoencoder three rows:
 * the inputs corrupted by the model's own noise layers (in training mode), what the model makes of
 * those noisy inputs, and the clean originals it is trained to give back.
 */
export async function reconstructionPreview(model: tf.LayersModel, feeder: Feeder, previewIdx: Uint32Array): Promise<Buffer> {
  const n = previewIdx.length;
  const originals = batchToFloat(feeder.ds, previewIdx, 0, n, undefined, feeder.norm);
  const noise = inputNoiseLayers(model);
  const out = tf.tidy(() => {
    const clean = feeder.inputs(previewIdx, 0, n);
    if (noise.length === 0) return [model.apply(clean, { training: false }) as tf.Tensor];
    const noisy = noise.reduce((t, layer) => layer.apply(t, { training: true }) as tf.Tensor, clean);
    // In inference mode the model's noise layers pass the (already noisy) input through.
    return [noisy, model.apply(noisy, { training: false }) as tf.Tensor];
  });
  if (feeder.ds.kind === 'table' && noise.length === 0) {
    const reconstructed = Float32Array.from(await out[0]!.data());
    tf.dispose(out);
    return tableBars(originals, reconstructed, n, feeder.ds.channels, feeder.norm);
  }
  const rows = await Promise.all(out.map(async (t) => toCells((await t.data()) as Float32Array, n, feeder.ds, feeder.norm)));
  tf.dispose(out);
  const originalCells = toCells(originals, n, feeder.ds, feeder.norm);
  if (rows.length === 1) return reconstructionGrid(originalCells, rows[0]!);
  return imageGrid({ cells: [rows[0]!, rows[1]!, originalCells] });
}

/** Display names of a labels model's classes: the dataset's names, else "0", "1", … */
export function classNamesFor(ds: Pick<Dataset, 'classNames'>, classes: number): string[] {
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
  const pixels = batchToFloat(ds, previewIdx, 0, previewIdx.length, undefined, feeder.norm);
  const png = previewIdx.length > 0 ? imageStrip(toCells(pixels, previewIdx.length, ds, feeder.norm)) : Buffer.alloc(0);
  return {
    preview: { classNames: classNamesFor(ds, classes), confusion, stripPngBase64: png.toString('base64'), labels, predicted, confidence },
    png,
  };
}
