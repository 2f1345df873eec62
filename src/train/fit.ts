/**
 * The fit loop of one stage, as tfjs-layers' `fit()` runs its epochs: shuffle, one optimizer step
 * per batch, and callbacks that report (`onBatchEnd`, `onEpochEnd`). It knows nothing of run
 * folders or messages; the trainer's callbacks validate, record and checkpoint.
 *
 * Per batch it uploads one batch, runs one optimizer step and keeps the loss on the device; losses
 * are read back once per epoch, plus at most once per `batchProgressMs` for progress, where a NaN
 * loss or a GPU error stops the run with a sentence naming the stage, epoch and batch.
 */
import * as tf from '../backend/tf';
import type { ResolvedStage } from '../core/stages';
import { constant } from '../backend/constants';
import { takeGpuError } from '../backend/select';
import { TrainingError } from './errors';
import { minimizeStep } from './optimizers';
import { type Feeder, collectExtraLosses, lossFn, metricSum, predictForLoss } from './scoring';

/** What an epoch's training measured: mean loss and metrics over its samples, and its time. */
export interface EpochLogs {
  readonly loss: number;
  readonly metrics: Record<string, number>;
  readonly seconds: number;
  readonly samples: number;
}

export interface FitCallbacks {
  /** A batch whose loss was read back (the last of each epoch, and at most one per `batchProgressMs`). */
  onBatchEnd(epoch: number, batch: number, batches: number, loss: number): void;
  /** An epoch completed; training goes on once this resolves. */
  onEpochEnd(epoch: number, logs: EpochLogs): Promise<void>;
}

export interface FitOptions {
  readonly model: tf.LayersModel;
  readonly stage: ResolvedStage;
  readonly optimizer: tf.Optimizer;
  readonly trainable: readonly tf.Variable[];
  readonly feeder: Feeder;
  /** Number of classes of a labels stage (0 for a reconstruction). */
  readonly classes: number;
  /** The training order, shuffled in place at the start of every epoch. */
  readonly order: Uint32Array;
  readonly rng: () => number;
  /** The first epoch to run (1, or the next one of a resumed stage). */
  readonly firstEpoch: number;
  readonly batchProgressMs: number;
  readonly cancelled: () => boolean;
  /** Metric names reported for training: the stage's, and `kl` for a variational Bottleneck. */
  readonly metricNames: readonly string[];
}

/** Run the stage's epochs from `firstEpoch`; `stopped` when a cancel ended it mid-epoch (that epoch is not reported). */
export async function fit(opts: FitOptions, callbacks: FitCallbacks): Promise<{ stopped: boolean }> {
  for (let epoch = opts.firstEpoch; epoch <= opts.stage.epochs; epoch++) {
    opts.feeder.shuffle(opts.order, opts.rng);
    opts.feeder.startEpoch(opts.order);
    let logs: EpochLogs | null;
    try {
      logs = await trainEpoch(opts, epoch, callbacks);
    } finally {
      opts.feeder.endEpoch();
    }
    if (!logs) return { stopped: true };
    await callbacks.onEpochEnd(epoch, logs);
  }
  return { stopped: false };
}

/** One optimizer step on samples [start, end) of the order; the loss stays on the device, sums are carried. */
function step(opts: FitOptions, start: number, end: number, sums: { loss: tf.Scalar; metrics: tf.Scalar[] }): { loss: tf.Scalar; sums: { loss: tf.Scalar; metrics: tf.Scalar[] } } {
  const { stage, feeder, order } = opts;
  return tf.tidy(() => {
    const n = end - start;
    const xs = feeder.inputs(order, start, end);
    const ys = stage.target === 'input' ? xs : feeder.labels(order, start, end, opts.classes);
    let metricValues: tf.Scalar[] = [];
    const loss = minimizeStep(
      opts.optimizer,
      () => {
        const { value: prediction, extraLoss } = collectExtraLosses(() => predictForLoss(opts.model, xs, true, stage.loss));
        const pred = prediction.output;
        metricValues = stage.metrics.map((m) => tf.keep(metricSum(m, ys, pred)));
        // A variational Bottleneck adds its KL term to the loss; it is reported too, as the metric "kl".
        if (extraLoss) metricValues.push(tf.keep(tf.mul(extraLoss, constant(n)) as tf.Scalar));
        const base = lossFn(stage.loss, ys, pred, prediction.logits);
        return extraLoss ? (tf.add(base, extraLoss) as tf.Scalar) : base;
      },
      opts.trainable,
    );
    const next = { loss: tf.add(sums.loss, tf.mul(loss, constant(n))) as tf.Scalar, metrics: sums.metrics.map((s, i) => tf.add(s, metricValues[i]!) as tf.Scalar) };
    tf.dispose(metricValues);
    return { loss, sums: next };
  });
}

/** The loss read back for progress: a GPU error or a loss that is not finite stops the run here. */
function checkLoss(value: number, where: { stage: string; epoch: number; from: number; to: number; batches: number; learningRate: number }): void {
  const gpuError = takeGpuError();
  if (gpuError !== null) {
    throw new TrainingError(
      `The GPU reported an error in stage "${where.stage}", epoch ${where.epoch}, by batch ${where.to} of ${where.batches}: ${gpuError}. ` +
        `Its results cannot be trusted, so training stopped: train on another backend (Latent Studio: Select Backend, e.g. wasm).`,
    );
  }
  if (!Number.isFinite(value)) {
    // Losses stay on the device between read-backs, so the first bad batch is known to a range.
    const batch = where.from === where.to ? `batch ${where.to}` : `between batches ${where.from} and ${where.to}`;
    throw new TrainingError(`The loss became ${value} in stage "${where.stage}", epoch ${where.epoch}, ${batch} of ${where.batches}: lower the learning rate (now ${where.learningRate}) or check the data.`);
  }
}

/** The batches of one epoch; null when a cancel stopped it. */
async function trainEpoch(opts: FitOptions, epoch: number, callbacks: FitCallbacks): Promise<EpochLogs | null> {
  const { stage, order } = opts;
  const batches = Math.ceil(order.length / stage.batchSize);
  const t0 = performance.now();
  let sums = { loss: tf.scalar(0), metrics: opts.metricNames.map(() => tf.scalar(0)) };
  let lastReport = t0;
  let lastChecked = 0;
  let seen = 0;
  try {
    for (let b = 0; b < batches; b++) {
      const start = b * stage.batchSize;
      const end = Math.min(order.length, start + stage.batchSize);
      const out = step(opts, start, end, sums);
      tf.dispose([sums.loss, ...sums.metrics]);
      sums = out.sums;
      seen += end - start;
      const now = performance.now();
      if (now - lastReport >= opts.batchProgressMs || b === batches - 1) {
        lastReport = now;
        const value = (await out.loss.data())[0]!;
        out.loss.dispose();
        checkLoss(value, { stage: stage.name, epoch, from: lastChecked + 1, to: b + 1, batches, learningRate: stage.learningRate });
        lastChecked = b + 1;
        callbacks.onBatchEnd(epoch, b + 1, batches, value);
      } else out.loss.dispose();
      // Let IPC messages (cancel) in between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (opts.cancelled()) return null;
    }
    const seconds = (performance.now() - t0) / 1000;
    const stacked = tf.stack([sums.loss, ...sums.metrics]);
    const values = await stacked.data();
    stacked.dispose();
    const loss = values[0]! / seen;
    if (!Number.isFinite(loss)) throw new TrainingError(`The loss became ${loss} in stage "${stage.name}", epoch ${epoch}: lower the learning rate (now ${stage.learningRate}) or check the data.`);
    const metrics: Record<string, number> = {};
    opts.metricNames.forEach((m, i) => (metrics[m] = values[i + 1]! / seen));
    return { loss, metrics, seconds, samples: seen };
  } finally {
    tf.dispose([sums.loss, ...sums.metrics]);
  }
}
