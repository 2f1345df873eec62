/**
 * A training run, start to end: prepare (prepare.ts), open its record (runRecorder.ts), train each
 * stage — the fit loop (fit.ts) with callbacks that validate, record and checkpoint every epoch, or
 * greedy layer-wise pretraining (layerwise.ts) — then save the trained model. Runs inside the
 * worker process (or directly in tests); talks to the outside only through `send`.
 *
 * After every completed epoch the run's checkpoint is replaced (checkpoint.ts), so a stopped,
 * failed or killed run can be resumed (`resumeFrom`), evaluated and exported. A Stop keeps the last
 * completed epoch: weights half-way through an epoch are put back to the checkpoint's.
 */
import * as path from 'node:path';
import * as tf from '../backend/tf';
import type { ResolvedTrainRequest } from '../core/protocol';
import type { EpochRecord } from '../core/runFormat';
import { RUN_FILES } from '../core/runFormat';
import type { ResolvedStage } from '../core/stages';
import { Mulberry32 } from '../data/random';
import { WriteError } from '../run/runFolder';
import { checkpointOrder, restoreOptimizer } from './checkpoint';
import { TrainingError, checkValidationLoss } from './errors';
import { type EpochLogs, fit } from './fit';
import { runLayerwiseStage, scorePretrainedAfter } from './layerwiseStage';
import { saveModel } from './modelFiles';
import { makeOptimizer } from './optimizers';
import { type Send, prepareRun } from './prepare';
import { RunRecorder, epochsDone } from './runRecorder';
import { type CancelToken, type StageContext, WeightSnapshot } from './stageContext';
import { Feeder, classifierPreview, hasExtraLosses, previewCaption, reconstructionPreview, scoreSplit } from './scoring';

export type { CancelToken } from './stageContext';

export interface TrainingResult {
  readonly runDir: string;
  readonly backend: string;
  readonly stopped: boolean;
  readonly epochsCompleted: number;
  readonly bestValLoss: number | null;
}

const camel = (prefix: string, name: string): string => `${prefix}${name.charAt(0).toUpperCase()}${name.slice(1)}`;

/** The epoch record of a fit stage: the training logs (none at epoch 0) and the validation split's scores. */
async function epochRecord(ctx: StageContext, stage: ResolvedStage, stageIndex: number, model: tf.LayersModel, epoch: number, logs: EpochLogs | null) {
  const classes = stage.target === 'labels' ? (model.outputs[0]!.shape[1] as number) : 0;
  const val = await scoreSplit(model, ctx.feeder, ctx.run.validationIdx, { loss: stage.loss, metrics: stage.metrics, target: stage.target, classes, confusion: stage.target === 'labels' });
  checkValidationLoss(val.loss, { stage: stage.name, epoch, learningRate: stage.learningRate });
  const metrics: Record<string, number> = { ...logs?.metrics };
  for (const [k, v] of Object.entries(val.metrics)) metrics[camel('val', k)] = v;
  const seconds = logs?.seconds ?? 0;
  const record: EpochRecord = {
    stage: stage.name,
    stageIndex,
    epoch,
    loss: logs?.loss ?? null,
    valLoss: val.loss,
    metrics,
    seconds,
    samplesPerSec: seconds > 0 ? logs!.samples / seconds : 0,
    backend: ctx.run.backend.name,
    liveTensors: tf.memory().numTensors,
    endedAt: Date.now(),
  };
  return { record, confusion: val.confusion, classes };
}

/** The pictures of an epoch: reconstructions of the preview images, or a classifier's confusion matrix and predictions. */
async function recordPictures(ctx: StageContext, stage: ResolvedStage, stageIndex: number, model: tf.LayersModel, epoch: number, confusion: number[][] | undefined, classes: number): Promise<void> {
  const { previewIdx } = ctx.run;
  if (stage.target === 'input' && previewIdx.length > 0) {
    ctx.recorder.preview(stageIndex, epoch, stage.outputId, await reconstructionPreview(model, ctx.feeder, previewIdx), previewCaption(model));
  }
  if (stage.target === 'labels' && confusion) {
    const { preview, png } = await classifierPreview(model, ctx.feeder, previewIdx, confusion, classes);
    ctx.recorder.classifier({ stage: stage.name, stageIndex, epoch, outputId: stage.outputId, samples: ctx.run.validationIdx.length }, preview, png);
  }
}

/** Train one fit stage from `alreadyDone` epochs; true when a Stop ended it. */
async function runFitStage(ctx: StageContext, stage: ResolvedStage, stageIndex: number, alreadyDone: number): Promise<boolean> {
  const { run, recorder } = ctx;
  const model = run.compiled.modelForOutput(stage.outputId);
  run.compiled.setFrozen(new Set(stage.freeze));
  const optimizer = makeOptimizer(stage.optimizer, stage.learningRate);
  try {
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    if (trainable.length === 0) throw new TrainingError(`Stage "${stage.name}" has nothing to train: every block it uses is frozen.`);
    const order = Uint32Array.from(run.trainIdx);
    if (alreadyDone > 0 && run.checkpoint) {
      // The interrupted stage: its optimizer state and shuffle order continue from the checkpoint.
      await restoreOptimizer(optimizer, stage.optimizer, trainable, run.checkpoint);
      const savedOrder = checkpointOrder(run.checkpoint, run.trainIdx);
      if (savedOrder) order.set(savedOrder);
      else ctx.send({ type: 'log', level: 'warn', message: `The training samples differ from the checkpoint's (${run.checkpoint.meta.trainSamples} then, ${run.trainIdx.length} now): shuffling starts afresh.` });
    } else {
      // Epoch 0: where the stage starts, so curves and tests can see how far it moved.
      recorder.epoch((await epochRecord(ctx, stage, stageIndex, model, 0, null)).record);
    }
    if (stage.epochs === 0) {
      // --epochs 0: the starting weights (an imported model, --init-from) scored and kept as the run's checkpoint, untrained.
      await recorder.checkpoint(run.compiled, optimizer, { stageIndex, stageName: stage.name, stageEpoch: 0, stageEpochs: 0, graphSha256: run.graphSha256, optimizerName: stage.optimizer, rngState: ctx.rng.state, order });
      return false;
    }
    ctx.snapshot.take(run.compiled);
    const { stopped } = await fit(
      {
        model,
        stage,
        optimizer,
        trainable,
        feeder: ctx.feeder,
        classes: stage.target === 'labels' ? (model.outputs[0]!.shape[1] as number) : 0,
        order,
        rng: ctx.rng.next,
        firstEpoch: alreadyDone + 1,
        batchProgressMs: run.request.batchProgressMs,
        cancelled: () => ctx.cancel.cancelled,
        metricNames: [...stage.metrics, ...(hasExtraLosses(model) ? ['kl'] : [])],
      },
      {
        onBatchEnd: (epoch, batch, batches, loss) => ctx.send({ type: 'batch', stageIndex, epoch, batch, batches, loss }),
        onEpochEnd: async (epoch, logs) => {
          const { record, confusion, classes } = await epochRecord(ctx, stage, stageIndex, model, epoch, logs);
          recorder.epoch(record);
          await recordPictures(ctx, stage, stageIndex, model, epoch, confusion, classes);
          ctx.snapshot.take(run.compiled);
          await recorder.checkpoint(run.compiled, optimizer, { stageIndex, stageName: stage.name, stageEpoch: epoch, stageEpochs: stage.epochs, graphSha256: run.graphSha256, optimizerName: stage.optimizer, rngState: ctx.rng.state, order });
        },
      },
    );
    // Mid-epoch weights are half-way through an epoch: go back to the last completed one (the checkpoint's).
    if (stopped) ctx.snapshot.restore(run.compiled);
    return stopped;
  } finally {
    optimizer.dispose();
  }
}

/** Every stage in order; returns whether a Stop ended the run, and the model the run trained last. */
async function trainStages(ctx: StageContext): Promise<{ stopped: boolean; lastModel: tf.LayersModel | undefined }> {
  const { run } = ctx;
  const done = epochsDone(run);
  let lastModel: tf.LayersModel | undefined;
  for (const [stageIndex, stage] of run.stages.entries()) {
    if (run.skipped[stageIndex]) {
      ctx.send({ type: 'log', level: 'info', message: `Stage "${stage.name}" skipped: ${run.skipped[stageIndex]}.` });
      continue;
    }
    if (stage.kind === 'layerwise') {
      // A layer-wise stage checkpoints only once it has finished: done, or run again whole.
      if (done[stageIndex]! >= stage.epochs) continue;
      const result = await runLayerwiseStage(ctx, stage, stageIndex);
      if (result.stopped) return { stopped: true, lastModel };
      lastModel = result.headModel ?? lastModel;
      continue;
    }
    lastModel = run.compiled.modelForOutput(stage.outputId);
    // Finished before the run was interrupted: its weights are in the checkpoint already (a stage of 0 epochs is finished once checkpointed).
    const at = run.saved?.checkpoint;
    if (done[stageIndex]! >= stage.epochs && (stage.epochs > 0 || (at !== undefined && stageIndex <= at.stageIndex))) continue;
    if (await runFitStage(ctx, stage, stageIndex, done[stageIndex]!)) return { stopped: true, lastModel };
  }
  return { stopped: false, lastModel };
}

/** What a run that could not write keeps, and how to go on. */
function writeAdvice(e: WriteError, checkpointed: number): string {
  if (e.code === 'ENOENT') return 'The run folder was deleted while it trained: train again.';
  const kept = checkpointed > 0 ? `The checkpoint after epoch ${checkpointed} is intact` : 'No epoch was checkpointed yet';
  const fix = e.code === 'ENOSPC' || e.code === 'EDQUOT' ? 'free some space' : 'make the folder writable';
  return checkpointed > 0 ? `${kept}: ${fix}, then Resume continues from there.` : `${kept}: ${fix}, then train again.`;
}

export async function train(request: ResolvedTrainRequest, send: Send, cancel: CancelToken, requestId = 0): Promise<TrainingResult> {
  const run = await prepareRun(request, send);
  const feeder = new Feeder(run.ds, run.inputShape, run.norm);
  const snapshot = new WeightSnapshot();
  try {
    const recorder = RunRecorder.open(run, send, requestId);
    try {
      const rng = new Mulberry32(run.doc.training.seed ^ 0x5eed);
      if (run.checkpoint) rng.state = run.checkpoint.meta.rngState;
      const ctx: StageContext = { run, recorder, feeder, rng, snapshot, send, cancel };
      const { stopped, lastModel } = await trainStages(ctx);
      if (!stopped) await scorePretrainedAfter(ctx);
      if (lastModel) {
        await saveModel(lastModel, path.join(recorder.runDir, RUN_FILES.model));
        if (stopped && recorder.epochsCompleted === 0) send({ type: 'log', level: 'info', message: 'Stopped before the first epoch ended; the model is saved untrained.' });
      }
      recorder.finish(stopped);
      return { runDir: recorder.runDir, backend: run.backend.name, stopped, epochsCompleted: recorder.epochsCompleted, bestValLoss: recorder.bestValLoss };
    } catch (caught) {
      // A raw fs failure that names its path (mkdir, open) is a write error too.
      const errno = caught as NodeJS.ErrnoException | null;
      const e = !(caught instanceof WriteError) && typeof errno?.path === 'string' && typeof errno.code === 'string' && errno.syscall !== 'open' ? new WriteError(errno.path, errno.code, caught) : caught;
      let message = e instanceof Error ? e.message : String(e);
      // A full disk, a read-only or deleted folder: what is kept, and what to do.
      if (e instanceof WriteError) message = `${message}. ${writeAdvice(e, recorder.checkpointedEpochs)}`;
      message = recorder.fail(message);
      if (e instanceof Error && message !== e.message) e.message = message;
      throw Object.assign(e instanceof Error ? e : new Error(message), { runDir: recorder.runDir });
    }
  } finally {
    feeder.dispose();
    snapshot.dispose();
    run.dispose();
    run.lock?.release();
  }
}
