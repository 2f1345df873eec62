/**
 * The training loop. Runs inside the worker process (or directly in tests); talks to the outside
 * only through `send` with protocol messages, and never touches VS Code.
 *
 * Per batch it uploads one batch, runs one optimizer step and keeps the loss on the device;
 * losses are read back once per epoch (plus at most one read per `batchProgressMs` for progress).
 * After every completed epoch the run's checkpoint is replaced (checkpoint.ts), so a stopped,
 * failed or killed run can be resumed (`resumeFrom`), evaluated and exported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type GraphAnalysis, analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { formatProblem } from '../core/problems';
import type { FromWorker, ResolvedTrainRequest } from '../core/protocol';
import type { EpochRecord, Pretraining, RunConfigInput } from '../core/runFormat';
import { type Shape, formatShape, shapeSize } from '../core/shape';
import { type ResolvedStage, resolveStages } from '../core/stages';
import { type CompiledGraph, compileGraph } from '../compile/compile';
import { loadDataset, restrictSplit } from '../data/index';
import { Mulberry32, shuffleInPlace } from '../data/random';
import { parseDataSpec } from '../data/spec';
import { splitIndices } from '../data/split';
import type { ImageDataset } from '../data/types';
import { selectBackend, takeGpuError } from '../backend/select';
import { type LoadedCheckpoint, applyLayerWeights, applyMatchingLayerWeights, checkpointOrder, loadCheckpoint, readCheckpointMeta, restoreOptimizer, saveCheckpoint } from './checkpoint';
import { TrainingError } from './errors';
import { applyKernelFixes } from '../backend/kernelFixes';
import { kernelNeeds } from '../backend/kernelNeeds';
import { saveModel } from './modelFiles';
import { makeOptimizer, minimizeStep } from './optimizers';
import { layerwiseEpochs, planLayerwise, runLayerwise } from './layerwise';
import { openRunToResume } from '../run/savedRun';
import { constant } from '../backend/constants';
import { Feeder, PREVIEW_COUNT, type Score, classifierPreview, collectExtraLosses, hasExtraLosses, lossFn, metricSum, predictForLoss, previewCaption, reconstructionPreview, scoreSplit } from './scoring';
import { type RunStatusInput, appendMetrics, createRunDir, sha256, trimMetrics, writeFileAtomic, writeRunJson, writeStatus } from '../run/runFolder';
import { RUN_FILES } from '../core/runFormat';

export { TrainingError } from './errors';
export { makeOptimizer } from './optimizers';

export interface CancelToken {
  readonly cancelled: boolean;
}

export interface TrainingResult {
  readonly runDir: string;
  readonly backend: string;
  readonly stopped: boolean;
  readonly epochsCompleted: number;
  readonly bestValLoss: number | null;
}

type Send = (message: FromWorker) => void;

const fmtPct = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(2)}%`);

const camel = (prefix: string, name: string): string => `${prefix}${name.charAt(0).toUpperCase()}${name.slice(1)}`;

export function assertDatasetFits(ds: ImageDataset, inputShape: Shape, stages: readonly ResolvedStage[]): void {
  const per = ds.height * ds.width * ds.channels;
  if (per !== shapeSize(inputShape)) {
    throw new TrainingError(
      `${ds.source} holds ${ds.height}x${ds.width}x${ds.channels} images (${per} values each) but the Input expects ` +
        `${formatShape(inputShape)} (${shapeSize(inputShape)} values): change the Input's shape.`,
    );
  }
  if (inputShape.length === 3 && (inputShape[0] !== ds.height || inputShape[1] !== ds.width)) {
    throw new TrainingError(`${ds.source} holds ${ds.height}x${ds.width} images but the Input expects ${formatShape(inputShape)}.`);
  }
  if (stages.some((s) => s.target === 'labels') && !ds.labels) {
    throw new TrainingError(`${ds.source} has no labels, but a stage trains a classifier: use a dataset with labels.`);
  }
}

/** Weights of every layer, cloned (tfjs variables swap data on assign, so clones keep old values cheaply). */
function snapshotWeights(compiled: CompiledGraph): tf.Tensor[][] {
  return [...compiled.layersByNode.values()].flatMap((layers) => layers.map((l) => l.getWeights().map((w) => tf.clone(w))));
}

function restoreWeights(compiled: CompiledGraph, snapshot: tf.Tensor[][]): void {
  const layers = [...compiled.layersByNode.values()].flat();
  layers.forEach((layer, i) => {
    const weights = snapshot[i];
    if (weights && weights.length > 0) layer.setWeights(weights);
  });
}

function disposeSnapshot(snapshot: tf.Tensor[][] | undefined): void {
  for (const ws of snapshot ?? []) tf.dispose(ws);
}

/** Analyze the graph text; a graph with errors is refused with every problem listed. */
export function analyzeForTraining(graphText: string, graphPath: string, numClasses?: number): GraphAnalysis {
  const parsed = parseJsonText(graphText);
  if (!parsed.ok) {
    throw new TrainingError(`${graphPath}:${parsed.error.line}:${parsed.error.column}: ${parsed.error.message}`);
  }
  const analysis = analyzeGraph(parsed.value, { numClasses });
  if (!analysis.ok) {
    const errors = analysis.problems.filter((p) => p.severity === 'error').map((p) => `  ${formatProblem(p)}`);
    throw new TrainingError(`${graphPath} has ${errors.length} problem(s); fix them before training:\n${errors.join('\n')}`);
  }
  return analysis;
}

/** Why a stage left out by `stages` (`--stage`) does not train. */
export const NOT_SELECTED = 'not selected with --stage';

/**
 * Per stage, why it is skipped (undefined: it trains). `selected` names the stages to train; every
 * name must be one of the graph's stages.
 */
export function skippedStages(stages: readonly ResolvedStage[], selected: readonly string[] | undefined, graphPath: string): (string | undefined)[] {
  if (!selected) return stages.map(() => undefined);
  const names = stages.map((s) => s.name);
  const unknown = selected.filter((n) => !names.includes(n));
  if (unknown.length > 0) {
    const onlyDefault = names.length === 1 && names[0] === 'train';
    throw new TrainingError(
      `${path.basename(graphPath)} has no stage ${unknown.map((n) => `"${n}"`).join(', ')}: its stages are ${names.map((n) => `"${n}"`).join(', ')}${onlyDefault ? ' (without training.stages a graph trains one stage, "train")' : ''}`,
    );
  }
  return stages.map((s) => (selected.includes(s.name) ? undefined : NOT_SELECTED));
}

/**
 * Load another run's checkpoint into the layers that match by name and shape (`initFrom`); refuses
 * a folder without a checkpoint, and a checkpoint of which no layer matches.
 */
function initFromRun(compiled: CompiledGraph, initFrom: string, send: Send): string {
  const dir = path.resolve(initFrom);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new TrainingError(`--init-from ${initFrom}: no such run folder`);
  if (!readCheckpointMeta(dir)) throw new TrainingError(`--init-from ${initFrom}: the run has no checkpoint (it ended before its first epoch did), so there are no weights to start from`);
  const ckpt = loadCheckpoint(dir);
  try {
    const matched = applyMatchingLayerWeights(compiled, ckpt);
    const total = matched.loaded.length + matched.mismatched.length + matched.missing.length;
    if (matched.loaded.length === 0) {
      const shapes = matched.mismatched.slice(0, 3).map((m) => `"${m.layer}" is ${m.graph} here but ${m.checkpoint} there`);
      throw new TrainingError(
        `--init-from ${initFrom}: none of its checkpoint's layers match this graph's ${total} layers with weights by name and shape${shapes.length ? ` (${shapes.join('; ')})` : ''}: nothing to start from`,
      );
    }
    const kept = [
      ...(matched.missing.length ? [`${matched.missing.length} not in that run (${matched.missing.join(', ')})`] : []),
      ...(matched.mismatched.length ? [`${matched.mismatched.length} of another shape (${matched.mismatched.map((m) => m.layer).join(', ')})`] : []),
    ];
    send({
      type: 'log',
      level: 'info',
      message: `Started from ${path.basename(dir)}: loaded ${matched.loaded.length} of ${total} layers (${matched.loaded.join(', ')})${kept.length ? `; kept the initial weights of ${kept.join(' and ')}` : ''}.`,
    });
    return dir;
  } finally {
    ckpt.dispose();
  }
}

/** Epochs of each stage a resumed run has already done (`resumedAfterEpoch`). */
function epochsDone(stages: readonly ResolvedStage[], at: { stageIndex: number; stageEpoch: number } | undefined): number[] {
  return stages.map((s, i) => (!at ? 0 : i < at.stageIndex ? s.epochs : i === at.stageIndex ? Math.min(at.stageEpoch, s.epochs) : 0));
}

export async function train(request: ResolvedTrainRequest, send: Send, cancel: CancelToken, messageId = 0): Promise<TrainingResult> {
  // A resumed run trains the folder's own graph snapshot with the settings it was started with
  // (a value in the request overrides one), and refuses before touching anything if it cannot.
  if (request.resumeFrom !== undefined && request.initFrom !== undefined) {
    throw new TrainingError(`--init-from starts a new run from another run's weights, but a resumed run (${path.basename(request.resumeFrom)}) continues from its own checkpoint: leave out one of the two`);
  }
  const saved = request.resumeFrom !== undefined ? openRunToResume(request.resumeFrom) : undefined;
  const graphText = saved?.graphText ?? request.graphText;
  const graphPath = saved?.graphPath ?? request.graphPath;
  const previous = saved?.config.overrides ?? {};
  const settings = {
    epochs: request.epochs ?? previous.epochs,
    batchSize: request.batchSize ?? previous.batchSize,
    data: request.data ?? previous.data,
    limitSamples: request.limitSamples ?? previous.limitSamples,
    limitValidation: request.limitValidation ?? previous.limitValidation,
    stages: request.stages ?? previous.stages,
  };
  const resumeAt = saved ? { stageIndex: saved.checkpoint.stageIndex, stageEpoch: saved.checkpoint.stageEpoch } : undefined;

  let analysis = analyzeForTraining(graphText, graphPath);
  const doc = analysis.document!;
  const stages = resolveStages(analysis, { epochs: settings.epochs, batchSize: settings.batchSize });
  const skipped = skippedStages(stages, settings.stages, graphPath);
  if (saved) {
    const at = stages[saved.checkpoint.stageIndex];
    // A layer-wise stage checkpoints only when it has finished (its sub-steps are not resumable).
    const finishedLayerwise = at?.kind === 'layerwise' && saved.checkpoint.stageEpoch >= at.epochs;
    if (!at || at.name !== saved.checkpoint.stageName || (at.kind !== 'fit' && !finishedLayerwise)) {
      throw new TrainingError(`${saved.name}: the checkpoint is at stage ${saved.checkpoint.stageIndex + 1} "${saved.checkpoint.stageName}", which the graph does not have`);
    }
  }

  const dataText = settings.data ?? saved?.config.dataset.spec ?? doc.training.dataset;
  const spec = parseDataSpec(dataText, path.dirname(graphPath));
  send({ type: 'log', level: 'info', message: `Loading ${dataText}…` });
  const ds = await loadDataset(spec, { cacheDir: request.cacheDir });
  // Re-check with the dataset's class count, so a 10-way head on a 26-class set is caught here.
  analysis = analyzeForTraining(graphText, graphPath, ds.labels ? ds.numClasses : undefined);
  const inputShape = analysis.nodes.get(analysis.inputId!)!.outputShape!;
  assertDatasetFits(ds, inputShape, stages);

  // training.classes: the split is drawn over every image, then each part keeps the chosen classes.
  const split = restrictSplit(splitIndices(ds.count, doc.training.split, doc.training.seed), ds, doc.training.classes, dataText);
  if (doc.training.classes) {
    send({ type: 'log', level: 'info', message: `Training on classes ${doc.training.classes.join(', ')} only (training.classes): ${split.train.length} train / ${split.validation.length} validation / ${split.test.length} test samples.` });
  }
  const trainIdx = settings.limitSamples ? split.train.slice(0, settings.limitSamples) : split.train;
  if (trainIdx.length === 0) {
    throw new TrainingError(doc.training.classes ? `The training split has no samples of classes ${doc.training.classes.join(', ')}: check training.classes against the dataset's labels.` : 'The training split is empty: lower the validation and test fractions.');
  }
  const validationIdx = settings.limitValidation ? split.validation.slice(0, settings.limitValidation) : split.validation;
  const previewIdx = (split.test.length ? split.test : split.validation).slice(0, PREVIEW_COUNT);

  applyKernelFixes();
  const backend = await selectBackend({ prefer: request.backend, needs: kernelNeeds(analysis), log: (m) => send({ type: 'log', level: 'debug', message: m }) });

  const graphSha256 = sha256(graphText);
  const compiled: CompiledGraph = compileGraph(analysis, { seed: doc.training.seed });
  let checkpoint: LoadedCheckpoint | undefined;
  let snapshot: tf.Tensor[][] | undefined;
  let feederToDispose: Feeder | undefined;
  try {
    if (saved) {
      checkpoint = loadCheckpoint(saved.runDir, { graphSha256 });
      applyLayerWeights(compiled, checkpoint);
    }
    const initFrom = request.initFrom !== undefined ? initFromRun(compiled, request.initFrom, send) : undefined;

    let runDir: string;
    let startedAt: string;
    if (saved) {
      runDir = saved.runDir;
      startedAt = saved.status.startedAt;
      // Records past the checkpoint (a worker killed between the two writes) would be repeated.
      const dropped = trimMetrics(runDir, (r) => r.stageIndex < resumeAt!.stageIndex || (r.stageIndex === resumeAt!.stageIndex && r.epoch <= resumeAt!.stageEpoch));
      if (dropped > 0) send({ type: 'log', level: 'info', message: `Dropped ${dropped} line(s) of ${RUN_FILES.metrics} past the checkpoint.` });
      send({ type: 'log', level: 'info', message: `Resuming ${saved.name} after epoch ${saved.checkpoint.epochsCompleted} (stage "${saved.checkpoint.stageName}", epoch ${saved.checkpoint.stageEpoch}).` });
    } else {
      runDir = createRunDir(request.runsDir, graphPath);
      startedAt = new Date().toISOString();
      writeFileAtomic(path.join(runDir, RUN_FILES.graph), graphText);
    }
    let epochsCompleted = saved?.checkpoint.epochsCompleted ?? 0;
    let bestValLoss: number | null = saved?.checkpoint.bestValLoss ?? null;
    const status: RunStatusInput = {
      status: 'running',
      graphName: doc.name,
      startedAt,
      backend: backend.name,
      epochsCompleted,
      bestValLoss,
      pid: process.pid,
    };
    writeStatus(runDir, status);
    const done = epochsDone(stages, resumeAt);
    const layerwisePlans = new Map(stages.flatMap((s, i) => (s.kind === 'layerwise' ? [[i, planLayerwise(analysis, compiled, s)] as const] : [])));
    const stagePlans = stages.map((s, i) => ({
      name: s.name,
      kind: s.kind,
      // A layer-wise stage runs `epochs` for each layer it pretrains, and again for the softmax step; a skipped stage none.
      epochs: skipped[i] ? 0 : layerwisePlans.has(i) ? layerwiseEpochs(layerwisePlans.get(i)!, s) : s.epochs,
      batchesPerEpoch: Math.ceil(trainIdx.length / s.batchSize),
      ...(skipped[i] ? { skipped: skipped[i] } : {}),
      outputId: s.outputId,
      resumedAfterEpoch: saved ? done[i] : undefined,
    }));
    const now = new Date().toISOString();
    const config: RunConfigInput = {
      graphFile: graphPath,
      graphSha256,
      graphName: doc.name,
      seed: doc.training.seed,
      dataset: { spec: dataText, source: ds.source, count: ds.count, skipped: ds.skipped, shape: [ds.height, ds.width, ds.channels] as [number, number, number] },
      split: { ...doc.training.split, train: trainIdx.length, validation: validationIdx.length, test: split.test.length },
      // Skipped stages plan no epochs (the run store sums these for "3/5 ep").
      stages: stages.map((s, i) => ({ ...s, metrics: [...s.metrics], freeze: [...s.freeze], ...(skipped[i] ? { epochs: 0, skipped: skipped[i] } : {}) })),
      backend,
      overrides: {
        epochs: settings.epochs,
        batchSize: settings.batchSize,
        data: settings.data,
        backend: request.backend,
        limitSamples: settings.limitSamples,
        limitValidation: settings.limitValidation,
        stages: settings.stages,
      },
      initFrom: initFrom ?? saved?.config.initFrom,
      versions: { tfjs: tf.version.tfjs, node: process.version },
      startedAt,
      ...(saved ? { resumes: [...(saved.config.resumes ?? []), { startedAt: now, afterEpoch: saved.checkpoint.epochsCompleted, backend: backend.name }] } : {}),
    };
    writeRunJson(runDir, 'config', config);
    send({
      type: 'started',
      inReplyTo: messageId,
      runDir,
      backend,
      dataset: { source: ds.source, train: trainIdx.length, validation: validationIdx.length, test: split.test.length, skipped: ds.skipped },
      stages: stagePlans,
    });

    const feeder = new Feeder(ds, inputShape);
    feederToDispose = feeder;
    const rng = new Mulberry32(doc.training.seed ^ 0x5eed);
    if (checkpoint) rng.state = checkpoint.meta.rngState;
    let stopped = false;
    let lastModel: tf.LayersModel | undefined;
    let pretraining: Pretraining | undefined;

    try {
      for (const [stageIndex, stage] of stages.entries()) {
        const alreadyDone = done[stageIndex]!;
        if (skipped[stageIndex]) {
          send({ type: 'log', level: 'info', message: `Stage "${stage.name}" skipped: ${skipped[stageIndex]}.` });
          continue;
        }
        if (stage.kind === 'layerwise') {
          if (alreadyDone >= stage.epochs) continue;
          const plan = layerwisePlans.get(stageIndex)!;
          compiled.setFrozen(new Set());
          const result = await runLayerwise({
            analysis,
            compiled,
            stage,
            stageIndex,
            plan,
            feeder,
            trainIdx,
            validationIdx,
            rng: rng.next,
            seed: doc.training.seed,
            backend: backend.name,
            batchProgressMs: request.batchProgressMs,
            send,
            cancelled: () => cancel.cancelled,
            onEpoch: (rec) => {
              epochsCompleted++;
              appendMetrics(runDir, rec);
              send({ type: 'epoch', record: rec });
              writeStatus(runDir, { ...status, epochsCompleted, bestValLoss });
            },
          });
          if (result.stopped) {
            stopped = true;
            break;
          }
          if (plan.headOutputId) {
            // The pretrained stack as a classifier, before any fine-tuning (the seed reports both).
            const head = compiled.modelForOutput(plan.headOutputId);
            lastModel = head;
            const spec = { loss: 'categoricalCrossentropy' as const, metrics: ['accuracy' as const], target: 'labels' as const, classes: head.outputs[0]!.shape[1] as number, confusion: false };
            const [val, test] = [await scoreSplit(head, feeder, validationIdx, spec), await scoreSplit(head, feeder, split.test, spec)];
            pretraining = { stage: stage.name, before: { valLoss: val.loss, valAccuracy: val.metrics.accuracy ?? null, testLoss: test.loss, testAccuracy: test.metrics.accuracy ?? null }, outputId: plan.headOutputId };
            writeRunJson(runDir, 'pretraining', pretraining);
            send({ type: 'log', level: 'info', message: `Stage "${stage.name}" done: the pretrained stack scores ${fmtPct(test.metrics.accuracy)} on the test split before fine-tuning.` });
          }
          await saveCheckpoint(runDir, compiled, undefined, {
            stageIndex,
            stageName: stage.name,
            stageEpoch: stage.epochs,
            stageEpochs: stage.epochs,
            epochsCompleted,
            bestValLoss,
            graphSha256,
            backend: backend.name,
            optimizerName: stage.optimizer,
            rngState: rng.state,
            order: Uint32Array.from(trainIdx),
          });
          disposeSnapshot(snapshot);
          snapshot = snapshotWeights(compiled);
          continue;
        }
        const model = compiled.modelForOutput(stage.outputId);
        lastModel = model;
        // Finished before the run was interrupted: its weights are in the checkpoint already.
        if (alreadyDone >= stage.epochs) continue;
        compiled.setFrozen(new Set(stage.freeze));
        const classes = stage.target === 'labels' ? (model.outputs[0]!.shape[1] as number) : 0;
        const optimizer = makeOptimizer(stage.optimizer, stage.learningRate);
        const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
        if (trainable.length === 0) throw new TrainingError(`Stage "${stage.name}" has nothing to train: every block it uses is frozen.`);
        const targets = (idx: Uint32Array, start: number, end: number, xs: tf.Tensor): tf.Tensor =>
          stage.target === 'input' ? xs : feeder.labels(idx, start, end, classes);
        const scoreSpec = { loss: stage.loss, metrics: stage.metrics, target: stage.target, classes, confusion: stage.target === 'labels' };
        // A variational Bottleneck adds its KL term to the loss; it is reported too, as the metric "kl".
        const trainMetricNames: string[] = [...stage.metrics, ...(hasExtraLosses(model) ? ['kl'] : [])];

        const writePreview = async (epoch: number): Promise<void> => {
          if (stage.target !== 'input' || previewIdx.length === 0) return;
          const png = await reconstructionPreview(model, feeder, previewIdx);
          writeFileAtomic(path.join(runDir, RUN_FILES.reconstructions), png);
          send({ type: 'preview', stageIndex, epoch, kind: 'reconstructions', pngBase64: png.toString('base64'), outputId: stage.outputId, caption: previewCaption(model) });
        };

        const writeClassifier = async (epoch: number, confusion: number[][] | undefined): Promise<void> => {
          if (stage.target !== 'labels' || !confusion) return;
          const { preview, png } = await classifierPreview(model, feeder, previewIdx, confusion, classes);
          if (png.byteLength > 0) writeFileAtomic(path.join(runDir, RUN_FILES.predictions), png);
          const { stripPngBase64: _png, ...rest } = preview;
          const file = { stage: stage.name, stageIndex, epoch, outputId: stage.outputId, split: 'validation' as const, samples: validationIdx.length, ...rest };
          writeRunJson(runDir, 'confusion', file);
          send({ type: 'classifier', stageIndex, epoch, outputId: stage.outputId, preview });
        };

        const record = async (epoch: number, loss: number | null, trainMetrics: Record<string, number>, seconds: number, samples: number): Promise<{ rec: EpochRecord; val: Score }> => {
          const val = await scoreSplit(model, feeder, validationIdx, scoreSpec);
          const metrics: Record<string, number> = { ...trainMetrics };
          for (const [k, v] of Object.entries(val.metrics)) metrics[camel('val', k)] = v;
          const rec: EpochRecord = {
            stage: stage.name,
            stageIndex,
            epoch,
            loss,
            valLoss: val.loss,
            metrics,
            seconds,
            samplesPerSec: seconds > 0 ? samples / seconds : 0,
            backend: backend.name,
            liveTensors: tf.memory().numTensors,
            endedAt: Date.now(),
          };
          return { rec, val };
        };

        const order = Uint32Array.from(trainIdx);
        if (alreadyDone > 0 && checkpoint) {
          // The interrupted stage: its optimizer state and shuffle order continue from the checkpoint.
          await restoreOptimizer(optimizer, stage.optimizer, trainable, checkpoint);
          const savedOrder = checkpointOrder(checkpoint, trainIdx);
          if (savedOrder) order.set(savedOrder);
          else send({ type: 'log', level: 'warn', message: `The training samples differ from the checkpoint's (${checkpoint.meta.trainSamples} then, ${trainIdx.length} now): shuffling starts afresh.` });
        } else {
          // Epoch 0: where the stage starts, so curves and tests can see how far it moved.
          const { rec: initial } = await record(0, null, {}, 0, 0);
          appendMetrics(runDir, initial);
          send({ type: 'epoch', record: initial });
        }

        disposeSnapshot(snapshot);
        snapshot = snapshotWeights(compiled);
        const batches = Math.ceil(trainIdx.length / stage.batchSize);
        for (let epoch = alreadyDone + 1; epoch <= stage.epochs && !stopped; epoch++) {
          shuffleInPlace(order, rng.next);
          feeder.startEpoch(order);
          const t0 = performance.now();
          let lossSum = tf.scalar(0);
          let mSums: tf.Scalar[] = trainMetricNames.map(() => tf.scalar(0));
          let lastReport = t0;
          let lastCheckedBatch = 0;
          let seen = 0;
          for (let b = 0; b < batches; b++) {
            const start = b * stage.batchSize;
            const end = Math.min(order.length, start + stage.batchSize);
            const n = end - start;
            const batchLoss = tf.tidy(() => {
              const xs = feeder.inputs(order, start, end);
              const ys = targets(order, start, end, xs);
              let metricValues: tf.Scalar[] = [];
              const loss = minimizeStep(optimizer, () => {
                const { value: prediction, extraLoss } = collectExtraLosses(() => predictForLoss(model, xs, true, stage.loss));
                const pred = prediction.output;
                metricValues = stage.metrics.map((m) => tf.keep(metricSum(m, ys, pred)));
                if (extraLoss) metricValues.push(tf.keep(tf.mul(extraLoss, constant(n)) as tf.Scalar));
                const stageLoss = lossFn(stage.loss, ys, pred, prediction.logits);
                return extraLoss ? (tf.add(stageLoss, extraLoss) as tf.Scalar) : stageLoss;
              }, trainable);
              const nextLoss = tf.add(lossSum, tf.mul(loss, constant(n))) as tf.Scalar;
              const nextMetrics = mSums.map((s, i) => tf.add(s, metricValues[i]!) as tf.Scalar);
              tf.dispose(metricValues);
              return { loss, nextLoss, nextMetrics };
            });
            lossSum.dispose();
            tf.dispose(mSums);
            lossSum = batchLoss.nextLoss;
            mSums = batchLoss.nextMetrics;
            seen += n;
            const now = performance.now();
            if (now - lastReport >= request.batchProgressMs || b === batches - 1) {
              lastReport = now;
              const value = (await batchLoss.loss.data())[0]!;
              const gpuError = takeGpuError();
              if (gpuError !== null) {
                batchLoss.loss.dispose();
                throw new TrainingError(
                  `The GPU reported an error in stage "${stage.name}", epoch ${epoch}, by batch ${b + 1} of ${batches}: ${gpuError}. ` +
                    `Its results cannot be trusted, so training stopped: train on another backend (Latent Studio: Select Backend, e.g. wasm).`,
                );
              }
              if (!Number.isFinite(value)) {
                batchLoss.loss.dispose();
                // Losses stay on the device between read-backs, so the first bad batch is known to a range.
                const where = lastCheckedBatch + 1 === b + 1 ? `batch ${b + 1}` : `between batches ${lastCheckedBatch + 1} and ${b + 1}`;
                throw new TrainingError(
                  `The loss became ${value} in stage "${stage.name}", epoch ${epoch}, ${where} of ${batches}: ` +
                    `lower the learning rate (now ${stage.learningRate}) or check the data.`,
                );
              }
              lastCheckedBatch = b + 1;
              send({ type: 'batch', stageIndex, epoch, batch: b + 1, batches, loss: value });
            }
            batchLoss.loss.dispose();
            // Let IPC messages (cancel) in between batches.
            await new Promise<void>((resolve) => setImmediate(resolve));
            if (cancel.cancelled) {
              stopped = true;
              break;
            }
          }
          feeder.endEpoch();
          if (stopped) {
            lossSum.dispose();
            tf.dispose(mSums);
            break;
          }
          const seconds = (performance.now() - t0) / 1000;
          const sums = tf.stack([lossSum, ...mSums]);
          const values = await sums.data();
          tf.dispose([sums, lossSum, ...mSums]);
          const trainLoss = values[0]! / seen;
          if (!Number.isFinite(trainLoss)) {
            throw new TrainingError(`The loss became ${trainLoss} in stage "${stage.name}", epoch ${epoch}: lower the learning rate (now ${stage.learningRate}) or check the data.`);
          }
          const trainMetrics: Record<string, number> = {};
          trainMetricNames.forEach((m, i) => (trainMetrics[m] = values[i + 1]! / seen));
          const { rec, val } = await record(epoch, trainLoss, trainMetrics, seconds, seen);
          epochsCompleted++;
          if (rec.valLoss !== null && (bestValLoss === null || rec.valLoss < bestValLoss)) bestValLoss = rec.valLoss;
          appendMetrics(runDir, rec);
          send({ type: 'epoch', record: rec });
          await writePreview(epoch);
          await writeClassifier(epoch, val.confusion);
          disposeSnapshot(snapshot);
          snapshot = snapshotWeights(compiled);
          await saveCheckpoint(runDir, compiled, optimizer, {
            stageIndex,
            stageName: stage.name,
            stageEpoch: epoch,
            stageEpochs: stage.epochs,
            epochsCompleted,
            bestValLoss,
            graphSha256,
            backend: backend.name,
            optimizerName: stage.optimizer,
            rngState: rng.state,
            order,
          });
          writeStatus(runDir, { ...status, epochsCompleted, bestValLoss });
        }
        optimizer.dispose();
        if (stopped) {
          // Mid-epoch weights are half-way through an epoch: go back to the last completed one (the checkpoint's).
          restoreWeights(compiled, snapshot);
          break;
        }
      }

      if (pretraining && !stopped) {
        // ... and after: the same model on the same test split once every later stage has trained.
        const head = compiled.modelForOutput(pretraining.outputId);
        const spec = { loss: 'categoricalCrossentropy' as const, metrics: ['accuracy' as const], target: 'labels' as const, classes: head.outputs[0]!.shape[1] as number, confusion: false };
        const test = await scoreSplit(head, feeder, split.test, spec);
        pretraining = { ...pretraining, after: { testLoss: test.loss, testAccuracy: test.metrics.accuracy ?? null } };
        writeRunJson(runDir, 'pretraining', pretraining);
        send({ type: 'log', level: 'info', message: `Test accuracy ${fmtPct(pretraining.before.testAccuracy)} after pretraining, ${fmtPct(test.metrics.accuracy)} after fine-tuning.` });
      }
      if (lastModel) {
        await saveModel(lastModel, path.join(runDir, RUN_FILES.model));
        if (epochsCompleted === 0) send({ type: 'log', level: 'info', message: 'Stopped before the first epoch ended; the model is saved untrained.' });
      }
      writeStatus(runDir, { ...status, status: stopped ? 'stopped' : 'completed', endedAt: new Date().toISOString(), epochsCompleted, bestValLoss });
      return { runDir, backend: backend.name, stopped, epochsCompleted, bestValLoss };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      writeStatus(runDir, { ...status, status: 'failed', endedAt: new Date().toISOString(), epochsCompleted, bestValLoss, error: message });
      throw Object.assign(e instanceof Error ? e : new Error(message), { runDir });
    }
  } finally {
    feederToDispose?.dispose();
    checkpoint?.dispose();
    disposeSnapshot(snapshot);
    compiled.dispose();
  }
}
