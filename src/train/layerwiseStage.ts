/**
 * A layer-wise stage inside a run (seed 001's stacked autoencoder): greedy pretraining of each dense
 * layer (layerwise.ts), then the pretrained stack's scores as a classifier (pretraining.json, before
 * any fine-tuning), and a checkpoint once the stage has finished. After every later stage has
 * trained, the same classifier is scored again (`after`), as the seed reports both.
 */
import type * as tf from '../backend/tf';
import type { ResolvedStage } from '../core/stages';
import { planLayerwise, runLayerwise } from './layerwise';
import { type ScoreSpec, scoreSplit } from './scoring';
import type { StageContext } from './stageContext';

const fmtPct = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(2)}%`);

/** How the stack is scored as a classifier: categorical cross-entropy and accuracy on its labels. */
const headSpec = (head: tf.LayersModel): ScoreSpec => ({ loss: 'categoricalCrossentropy', metrics: ['accuracy'], target: 'labels', classes: head.outputs[0]!.shape[1] as number, confusion: false });

/** Pretrain the stage's layers; `headModel` is the pretrained classifier when the graph has one. */
export async function runLayerwiseStage(ctx: StageContext, stage: ResolvedStage, stageIndex: number): Promise<{ stopped: boolean; headModel?: tf.LayersModel }> {
  const { run, recorder } = ctx;
  const plan = planLayerwise(run.analysis, run.compiled, stage);
  run.compiled.setFrozen(new Set());
  const result = await runLayerwise({
    analysis: run.analysis,
    compiled: run.compiled,
    stage,
    stageIndex,
    plan,
    feeder: ctx.feeder,
    trainIdx: run.trainIdx,
    validationIdx: run.validationIdx,
    rng: ctx.rng.next,
    seed: run.doc.training.seed,
    backend: run.backend.name,
    batchProgressMs: run.request.batchProgressMs,
    send: ctx.send,
    cancelled: () => ctx.cancel.cancelled,
    onEpoch: (record) => recorder.epoch(record, { best: false }),
  });
  if (result.stopped) return { stopped: true };
  let headModel: tf.LayersModel | undefined;
  if (plan.headOutputId) {
    // The pretrained stack as a classifier, before any fine-tuning.
    headModel = run.compiled.modelForOutput(plan.headOutputId);
    const spec = headSpec(headModel);
    const [val, test] = [await scoreSplit(headModel, ctx.feeder, run.validationIdx, spec), await scoreSplit(headModel, ctx.feeder, run.split.test, spec)];
    recorder.pretraining({ stage: stage.name, outputId: plan.headOutputId, before: { valLoss: val.loss, valAccuracy: val.metrics.accuracy ?? null, testLoss: test.loss, testAccuracy: test.metrics.accuracy ?? null } });
    ctx.send({ type: 'log', level: 'info', message: `Stage "${stage.name}" done: the pretrained stack scores ${fmtPct(test.metrics.accuracy)} on the test split before fine-tuning.` });
  }
  await recorder.checkpoint(run.compiled, undefined, {
    stageIndex,
    stageName: stage.name,
    stageEpoch: stage.epochs,
    stageEpochs: stage.epochs,
    graphSha256: run.graphSha256,
    optimizerName: stage.optimizer,
    rngState: ctx.rng.state,
    order: Uint32Array.from(run.trainIdx),
  });
  ctx.snapshot.take(run.compiled);
  return { stopped: false, headModel };
}

/** The pretrained classifier scored again on the same test split once every later stage has trained (fine-tuning). */
export async function scorePretrainedAfter(ctx: StageContext): Promise<void> {
  const before = ctx.recorder.pretrained;
  if (!before) return;
  const head = ctx.run.compiled.modelForOutput(before.outputId);
  const test = await scoreSplit(head, ctx.feeder, ctx.run.split.test, headSpec(head));
  ctx.recorder.pretraining({ ...before, after: { testLoss: test.loss, testAccuracy: test.metrics.accuracy ?? null } });
  ctx.send({ type: 'log', level: 'info', message: `Test accuracy ${fmtPct(before.before.testAccuracy)} after pretraining, ${fmtPct(test.metrics.accuracy)} after fine-tuning.` });
}
