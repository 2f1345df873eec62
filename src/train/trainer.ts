/**
 * The training loop. Runs inside the worker process (or directly in tests); talks to the outside
 * only through `send` with protocol messages, and never touches VS Code.
 *
 * Per batch it uploads one batch, runs one optimizer step and keeps the loss on the device;
 * losses are read back once per epoch (plus at most one read per `batchProgressMs` for progress).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type GraphAnalysis, analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import type { LossName, MetricName, OptimizerName } from '../core/format';
import { formatProblem } from '../core/problems';
import type { EpochRecord, FromWorker, ResolvedTrainRequest } from '../core/protocol';
import { type Shape, formatShape, shapeSize } from '../core/shape';
import { type ResolvedStage, resolveStages } from '../core/stages';
import { type CompiledGraph, compileGraph } from '../compile/compile';
import { batchToFloat, loadDataset, oneHot } from '../data/index';
import { mulberry32, shuffleInPlace } from '../data/random';
import { parseDataSpec } from '../data/spec';
import { splitIndices } from '../data/split';
import type { ImageDataset } from '../data/types';
import { selectBackend } from './backend';
import { applyKernelFixes } from './kernelFixes';
import { kernelNeeds } from './kernels';
import { saveModel } from './modelFiles';
import { type GridCell, reconstructionGrid } from './png';
import { RUN_FILES, type RunStatus, appendMetrics, createRunDir, sha256, writeFileAtomic, writeStatus } from './runFolder';

/** A failure the user caused and can fix: reported as its message alone, without a stack. */
export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingError';
  }
}

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

const PREVIEW_COUNT = 10;
const EVAL_BATCH = 512;

function lossFn(name: LossName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  switch (name) {
    case 'binaryCrossentropy':
      return tf.mean(tf.metrics.binaryCrossentropy(yTrue, yPred));
    case 'meanSquaredError':
      return tf.mean(tf.squaredDifference(yTrue, yPred));
    case 'categoricalCrossentropy':
      return tf.mean(tf.metrics.categoricalCrossentropy(yTrue, yPred));
  }
}

/** Per-batch sum of a metric (so epoch means weigh a short last batch correctly). */
function metricSum(name: MetricName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  const n = yTrue.shape[0]!;
  switch (name) {
    case 'accuracy':
      return tf.sum(tf.cast(tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1)), 'float32'));
    case 'meanSquaredError':
      return tf.mul(tf.mean(tf.squaredDifference(yTrue, yPred)), n);
    case 'meanAbsoluteError':
      return tf.mul(tf.mean(tf.abs(tf.sub(yTrue, yPred))), n);
  }
}

function makeOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  switch (name) {
    case 'adadelta':
      return tf.train.adadelta(learningRate, 0.95, 1e-7);
    case 'adam':
      return tf.train.adam(learningRate, 0.9, 0.999, 1e-7);
    case 'rmsprop':
      return tf.train.rmsprop(learningRate, 0.9, 0, 1e-7);
    case 'sgd':
      return tf.train.sgd(learningRate);
  }
}

const camel = (prefix: string, name: string): string => `${prefix}${name.charAt(0).toUpperCase()}${name.slice(1)}`;

/** Feeds a split of the dataset as tensors of the Input's shape. */
class Feeder {
  private readonly sampleShape: Shape;
  constructor(
    private readonly ds: ImageDataset,
    inputShape: Shape,
  ) {
    this.sampleShape = inputShape;
  }
  inputs(indices: Uint32Array, start: number, end: number): tf.Tensor {
    return tf.tensor(batchToFloat(this.ds, indices, start, end), [end - start, ...this.sampleShape]);
  }
  labels(indices: Uint32Array, start: number, end: number, classes: number): tf.Tensor {
    if (!this.ds.labels) throw new TrainingError(`${this.ds.source} has no labels, but this stage trains a classifier.`);
    return tf.tensor2d(oneHot(this.ds.labels, indices, start, end, classes), [end - start, classes]);
  }
}

function assertDatasetFits(ds: ImageDataset, inputShape: Shape, stages: readonly ResolvedStage[]): void {
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

function toCells(data: Float32Array, count: number, ds: ImageDataset): GridCell[] {
  const per = ds.height * ds.width * ds.channels;
  const channels = ds.channels === 3 ? 3 : 1;
  return Array.from({ length: count }, (_, i) => ({ data: data.subarray(i * per, (i + 1) * per), height: ds.height, width: ds.width, channels }));
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

export async function train(request: ResolvedTrainRequest, send: Send, cancel: CancelToken, messageId = 0): Promise<TrainingResult> {
  let analysis = analyzeForTraining(request.graphText, request.graphPath);
  const doc = analysis.document!;
  const stages = resolveStages(analysis, { epochs: request.epochs, batchSize: request.batchSize });

  const dataText = request.data ?? doc.training.dataset;
  const spec = parseDataSpec(dataText, path.dirname(request.graphPath));
  send({ type: 'log', level: 'info', message: `Loading ${dataText}…` });
  const ds = await loadDataset(spec, { cacheDir: request.cacheDir });
  // Re-check with the dataset's class count, so a 10-way head on a 26-class set is caught here.
  analysis = analyzeForTraining(request.graphText, request.graphPath, ds.labels ? ds.numClasses : undefined);
  const inputShape = analysis.nodes.get(analysis.inputId!)!.outputShape!;
  assertDatasetFits(ds, inputShape, stages);

  const split = splitIndices(ds.count, doc.training.split, doc.training.seed);
  const trainIdx = request.limitSamples ? split.train.slice(0, request.limitSamples) : split.train;
  if (trainIdx.length === 0) throw new TrainingError('The training split is empty: lower the validation and test fractions.');
  const validationIdx = request.limitValidation ? split.validation.slice(0, request.limitValidation) : split.validation;
  const previewIdx = (split.test.length ? split.test : split.validation).slice(0, PREVIEW_COUNT);

  applyKernelFixes();
  const backend = await selectBackend({ prefer: request.backend, needs: kernelNeeds(analysis), log: (m) => send({ type: 'log', level: 'debug', message: m }) });

  const runDir = createRunDir(request.runsDir, request.graphPath);
  const startedAt = new Date().toISOString();
  writeFileAtomic(path.join(runDir, RUN_FILES.graph), request.graphText);
  const status: RunStatus = {
    status: 'running',
    graphName: doc.name,
    startedAt,
    backend: backend.name,
    epochsCompleted: 0,
    bestValLoss: null,
    pid: process.pid,
  };
  writeStatus(runDir, status);
  const stagePlans = stages.map((s) => ({
    name: s.name,
    kind: s.kind,
    epochs: s.epochs,
    batchesPerEpoch: Math.ceil(trainIdx.length / s.batchSize),
    skipped: s.kind === 'layerwise' ? 'layer-wise pretraining is not available yet; this stage is skipped' : undefined,
  }));
  const config = {
    graphFile: request.graphPath,
    graphSha256: sha256(request.graphText),
    graphName: doc.name,
    seed: doc.training.seed,
    dataset: { spec: dataText, source: ds.source, count: ds.count, skipped: ds.skipped, shape: [ds.height, ds.width, ds.channels] },
    split: { ...doc.training.split, train: trainIdx.length, validation: validationIdx.length, test: split.test.length },
    stages,
    backend,
    overrides: { epochs: request.epochs, batchSize: request.batchSize, data: request.data, backend: request.backend, limitSamples: request.limitSamples, limitValidation: request.limitValidation },
    versions: { tfjs: tf.version.tfjs, node: process.version },
    startedAt,
  };
  writeFileAtomic(path.join(runDir, RUN_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
  send({
    type: 'started',
    inReplyTo: messageId,
    runDir,
    backend,
    dataset: { source: ds.source, train: trainIdx.length, validation: validationIdx.length, test: split.test.length, skipped: ds.skipped },
    stages: stagePlans,
  });

  let compiled: CompiledGraph | undefined;
  const feeder = new Feeder(ds, inputShape);
  const rng = mulberry32(doc.training.seed ^ 0x5eed);
  let snapshot: tf.Tensor[][] | undefined;
  let epochsCompleted = 0;
  let bestValLoss: number | null = null;
  let stopped = false;
  let lastModel: tf.LayersModel | undefined;

  try {
    compiled = compileGraph(analysis, { seed: doc.training.seed });
    for (const [stageIndex, stage] of stages.entries()) {
      if (stage.kind === 'layerwise') {
        send({ type: 'log', level: 'warn', message: `Stage "${stage.name}": ${stagePlans[stageIndex]!.skipped}.` });
        continue;
      }
      compiled.setFrozen(new Set(stage.freeze));
      const model = compiled.modelForOutput(stage.outputId);
      lastModel = model;
      const classes = stage.target === 'labels' ? (model.outputs[0]!.shape[1] as number) : 0;
      const optimizer = makeOptimizer(stage.optimizer, stage.learningRate);
      const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
      if (trainable.length === 0) throw new TrainingError(`Stage "${stage.name}" has nothing to train: every block it uses is frozen.`);
      const targets = (idx: Uint32Array, start: number, end: number, xs: tf.Tensor): tf.Tensor =>
        stage.target === 'input' ? xs : feeder.labels(idx, start, end, classes);

      const evaluate = async (idx: Uint32Array): Promise<{ loss: number | null; metrics: Record<string, number> }> => {
        if (idx.length === 0) return { loss: null, metrics: {} };
        const sums = tf.tidy(() => {
          let lossSum: tf.Tensor = tf.scalar(0);
          const mSums: tf.Tensor[] = stage.metrics.map(() => tf.scalar(0));
          for (let start = 0; start < idx.length; start += EVAL_BATCH) {
            const end = Math.min(idx.length, start + EVAL_BATCH);
            const xs = feeder.inputs(idx, start, end);
            const ys = targets(idx, start, end, xs);
            const pred = model.apply(xs, { training: false }) as tf.Tensor;
            lossSum = tf.add(lossSum, tf.mul(lossFn(stage.loss, ys, pred), end - start));
            stage.metrics.forEach((m, i) => (mSums[i] = tf.add(mSums[i]!, metricSum(m, ys, pred))));
          }
          return tf.stack([lossSum, ...mSums]);
        });
        const values = await sums.data();
        sums.dispose();
        const metrics: Record<string, number> = {};
        stage.metrics.forEach((m, i) => (metrics[m] = values[i + 1]! / idx.length));
        return { loss: values[0]! / idx.length, metrics };
      };

      const writePreview = async (epoch: number): Promise<void> => {
        if (stage.target !== 'input' || previewIdx.length === 0) return;
        const [xs, out] = tf.tidy(() => {
          const x = feeder.inputs(previewIdx, 0, previewIdx.length);
          return [x, model.apply(x, { training: false }) as tf.Tensor];
        });
        const [originals, recon] = (await Promise.all([xs.data(), out.data()])) as [Float32Array, Float32Array];
        tf.dispose([xs, out]);
        const png = reconstructionGrid(toCells(originals, previewIdx.length, ds), toCells(recon, previewIdx.length, ds));
        writeFileAtomic(path.join(runDir, RUN_FILES.reconstructions), png);
        send({ type: 'preview', stageIndex, epoch, kind: 'reconstructions', pngBase64: png.toString('base64') });
      };

      const record = async (epoch: number, loss: number | null, trainMetrics: Record<string, number>, seconds: number, samples: number): Promise<EpochRecord> => {
        const val = await evaluate(validationIdx);
        const metrics: Record<string, number> = { ...trainMetrics };
        for (const [k, v] of Object.entries(val.metrics)) metrics[camel('val', k)] = v;
        return {
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
        };
      };

      // Epoch 0: where the stage starts, so curves and tests can see how far it moved.
      const initial = await record(0, null, {}, 0, 0);
      appendMetrics(runDir, initial);
      send({ type: 'epoch', record: initial });

      disposeSnapshot(snapshot);
      snapshot = snapshotWeights(compiled);
      const batches = Math.ceil(trainIdx.length / stage.batchSize);
      const order = Uint32Array.from(trainIdx);
      for (let epoch = 1; epoch <= stage.epochs && !stopped; epoch++) {
        shuffleInPlace(order, rng);
        const t0 = performance.now();
        let lossSum = tf.scalar(0);
        let mSums: tf.Scalar[] = stage.metrics.map(() => tf.scalar(0));
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
            const loss = optimizer.minimize(() => {
              const pred = model.apply(xs, { training: true }) as tf.Tensor;
              metricValues = stage.metrics.map((m) => tf.keep(metricSum(m, ys, pred)));
              return lossFn(stage.loss, ys, pred);
            }, true, trainable)!;
            const nextLoss = tf.add(lossSum, tf.mul(loss, n)) as tf.Scalar;
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
        stage.metrics.forEach((m, i) => (trainMetrics[m] = values[i + 1]! / seen));
        const rec = await record(epoch, trainLoss, trainMetrics, seconds, seen);
        epochsCompleted++;
        if (rec.valLoss !== null && (bestValLoss === null || rec.valLoss < bestValLoss)) bestValLoss = rec.valLoss;
        appendMetrics(runDir, rec);
        send({ type: 'epoch', record: rec });
        await writePreview(epoch);
        disposeSnapshot(snapshot);
        snapshot = snapshotWeights(compiled);
        writeStatus(runDir, { ...status, epochsCompleted, bestValLoss });
      }
      optimizer.dispose();
      if (stopped) {
        // Mid-epoch weights are half-way through an epoch: go back to the last completed one.
        restoreWeights(compiled, snapshot);
        break;
      }
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
  } finally {
    disposeSnapshot(snapshot);
    compiled?.dispose();
  }
}
