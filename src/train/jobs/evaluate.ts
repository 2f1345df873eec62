/**
 * The evaluate job: score a run's checkpointed model on a split of its dataset. The run's own graph
 * snapshot is compiled, the checkpoint loaded into it (inspect/openRun.ts), and the model of the fit
 * stage the run trained last scored on the same split the run trained with (same seed; restricted to
 * `training.classes` when the graph names them), or on another dataset given in `--data` form.
 * Writes `evaluation.json` into the run folder.
 */
import type { z } from 'zod';
import type { EvaluateRequestSchema, FromWorker } from '../../core/protocol';
import type { Evaluation } from '../../core/runFormat';
import { TrainingError } from '../errors';
import { openTrainedRun } from './openRun';
import { writeRunJson } from '../../run/runFolder';
import { PREVIEW_COUNT, classifierPreview, previewCaption, reconstructionPreview, scoreSplit } from '../scoring';

export type ResolvedEvaluateRequest = z.output<typeof EvaluateRequestSchema>;
type Send = (message: FromWorker) => void;

export async function runEvaluation(request: ResolvedEvaluateRequest, send: Send = () => undefined): Promise<Evaluation> {
  const run = await openTrainedRun({ runDir: request.runDir, data: request.data, backend: request.backend, cacheDir: request.cacheDir, send, purpose: 'evaluate' });
  const { saved, stage, ds, feeder, backend } = run;
  try {
    // With training.classes, the run is scored on the classes it trained on (as its validation was).
    const parts = run.trainedSplit();
    const all = request.split === 'test' ? parts.test : parts.validation;
    const idx = request.limit ? all.slice(0, request.limit) : all;
    if (idx.length === 0) throw new TrainingError(`The ${request.split} split of ${ds.source} is empty (the graph's split gives it no samples): nothing to evaluate`);
    const model = run.compiled.modelForOutput(stage.outputId);
    const classes = stage.target === 'labels' ? (model.outputs[0]!.shape[1] as number) : 0;
    const metrics = stage.target === 'labels' && !stage.metrics.includes('accuracy') ? [...stage.metrics, 'accuracy' as const] : stage.metrics;
    const score = await scoreSplit(model, feeder, idx, { loss: stage.loss, metrics, target: stage.target, classes, confusion: stage.target === 'labels' });
    if (score.loss === null || !Number.isFinite(score.loss)) {
      throw new TrainingError(`${saved.name}: the ${stage.loss} loss on the ${request.split} split is ${score.loss}: the checkpointed weights are not usable (did training diverge?)`);
    }
    const previewIdx = idx.slice(0, PREVIEW_COUNT);
    const evaluation: Evaluation = {
      runDir: saved.runDir,
      split: request.split,
      dataset: ds.source,
      samples: idx.length,
      stage: stage.name,
      outputId: stage.outputId,
      target: stage.target,
      lossName: stage.loss,
      loss: score.loss,
      metrics: score.metrics,
      backend: backend.name,
      evaluatedAt: new Date().toISOString(),
    };
    if (stage.target === 'labels') evaluation.classifier = (await classifierPreview(model, feeder, previewIdx, score.confusion!, classes)).preview;
    else {
      evaluation.reconstructionsPngBase64 = (await reconstructionPreview(model, feeder, previewIdx)).toString('base64');
      const caption = previewCaption(model);
      if (caption) evaluation.reconstructionsCaption = caption;
    }
    writeRunJson(saved.runDir, 'evaluation', evaluation);
    return evaluation;
  } finally {
    run.dispose();
  }
}
