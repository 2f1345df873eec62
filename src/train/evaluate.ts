/**
 * The evaluate job: score a run's checkpointed model on a split of its dataset. The run's own graph
 * snapshot is compiled, the checkpoint loaded into it, and the model of the last fit stage scored on
 * the same split the run trained with (same seed), or on another dataset given in `--data` form.
 * Writes `evaluation.json` into the run folder.
 */
import * as path from 'node:path';
import type { z } from 'zod';
import type { EvaluateRequestSchema, Evaluation, FromWorker } from '../core/protocol';
import { resolveStages } from '../core/stages';
import { compileGraph } from '../compile/compile';
import { loadDataset } from '../data/index';
import { parseDataSpec } from '../data/spec';
import { splitIndices } from '../data/split';
import { selectBackend } from './backend';
import { applyLayerWeights, loadCheckpoint } from './checkpoint';
import { TrainingError } from './errors';
import { applyKernelFixes } from './kernelFixes';
import { kernelNeeds } from './kernels';
import { RUN_FILES, sha256, writeFileAtomic } from './runFolder';
import { openSavedRun } from './savedRun';
import { Feeder, PREVIEW_COUNT, classifierPreview, previewCaption, reconstructionPreview, scoreSplit } from './scoring';
import { analyzeForTraining, assertDatasetFits } from './trainer';

export type ResolvedEvaluateRequest = z.output<typeof EvaluateRequestSchema>;
type Send = (message: FromWorker) => void;

export async function runEvaluation(request: ResolvedEvaluateRequest, send: Send = () => undefined): Promise<Evaluation> {
  const saved = openSavedRun(request.runDir, 'evaluate');
  const overrides = saved.config.overrides ?? {};
  let analysis = analyzeForTraining(saved.graphText, saved.graphPath);
  const doc = analysis.document!;
  const stages = resolveStages(analysis, { epochs: overrides.epochs, batchSize: overrides.batchSize });
  const stage = stages.filter((s) => s.kind === 'fit').at(-1);
  if (!stage) throw new TrainingError(`${saved.name}: the graph has no fit stage, so there is no model to evaluate`);

  const dataText = request.data ?? overrides.data ?? saved.config.dataset.spec;
  send({ type: 'log', level: 'info', message: `Loading ${dataText}…` });
  const ds = await loadDataset(parseDataSpec(dataText, path.dirname(saved.graphPath)), { cacheDir: request.cacheDir });
  analysis = analyzeForTraining(saved.graphText, saved.graphPath, ds.labels ? ds.numClasses : undefined);
  const inputShape = analysis.nodes.get(analysis.inputId!)!.outputShape!;
  assertDatasetFits(ds, inputShape, [stage]);

  const split = splitIndices(ds.count, doc.training.split, doc.training.seed);
  const all = request.split === 'test' ? split.test : split.validation;
  const idx = request.limit ? all.slice(0, request.limit) : all;
  if (idx.length === 0) throw new TrainingError(`The ${request.split} split of ${ds.source} is empty (the graph's split gives it no samples): nothing to evaluate`);

  applyKernelFixes();
  const backend = await selectBackend({ prefer: request.backend, needs: kernelNeeds(analysis), log: (m) => send({ type: 'log', level: 'debug', message: m }) });
  const compiled = compileGraph(analysis, { seed: doc.training.seed });
  const checkpoint = loadCheckpoint(saved.runDir, { graphSha256: sha256(saved.graphText) });
  try {
    applyLayerWeights(compiled, checkpoint);
    const model = compiled.modelForOutput(stage.outputId);
    const classes = stage.target === 'labels' ? (model.outputs[0]!.shape[1] as number) : 0;
    const metrics = stage.target === 'labels' && !stage.metrics.includes('accuracy') ? [...stage.metrics, 'accuracy' as const] : stage.metrics;
    const feeder = new Feeder(ds, inputShape);
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
    writeFileAtomic(path.join(saved.runDir, RUN_FILES.evaluation), `${JSON.stringify(evaluation, null, 2)}\n`);
    return evaluation;
  } finally {
    checkpoint.dispose();
    compiled.dispose();
  }
}
