/**
 * Greedy layer-wise pretraining, as seed 001's stacked autoencoder does it: each dense layer of an
 * Encoder block trains as its own small autoencoder on the codes of the layer before (the first
 * reconstructs pixels with a sigmoid layer and binary cross-entropy, deeper ones codes with a
 * linear layer and mean squared error), then the blocks between the Encoder and a labels Output
 * (the softmax layer) train on the last codes. The Encoder's layers are the graph's own, so the
 * next stage (fine-tuning) starts from the pretrained weights. The temporary decoders are dropped.
 */
import * as tf from '../backend/tf';
import type { GraphAnalysis } from '../core/analyze';
import type { LossName } from '../core/format';
import type { FromWorker } from '../core/protocol';
import type { EpochRecord } from '../core/runFormat';
import { type ResolvedStage, chainBetween, layerwiseStepLabel, layerwiseStepLoss } from '../core/stages';
import type { CompiledGraph } from '../compile/compile';
import { shuffleInPlace } from '../data/random';
import { constant } from '../backend/constants';
import { LOGITS_OF, fusedDense } from '../compile/fusedLayers';
import { TrainingError, checkValidationLoss } from './errors';
import { makeOptimizer, minimizeStep } from './optimizers';
import { type Feeder, type Prediction, logitsLayer, lossFn, metricSum } from './scoring';

type Layer = tf.layers.Layer;

/** One pretraining step: a dense layer (with any parameter-free layers after it), or the head. */
interface Step {
  readonly label: string;
  readonly layers: readonly Layer[];
  readonly kind: 'layer' | 'head';
}

export interface LayerwisePlan {
  readonly steps: readonly Step[];
  /** Nodes from the Input up to the Encoder (exclusive), applied to the data before step 1. */
  readonly before: readonly string[];
  /** The labels Output whose blocks after the Encoder form the softmax step, if any. */
  readonly headOutputId: string | undefined;
}

export function planLayerwise(analysis: GraphAnalysis, compiled: CompiledGraph, stage: ResolvedStage): LayerwisePlan {
  const encoderId = stage.encoder;
  const encoder = encoderId ? analysis.nodes.get(encoderId) : undefined;
  if (!encoderId || !encoder) throw new TrainingError(`Stage "${stage.name}" pretrains layer by layer but names no Encoder block.`);
  const layers = compiled.layersByNode.get(encoderId) ?? [];
  const steps: Step[] = [];
  for (const layer of layers) {
    if (layer.getClassName() === 'Dense') {
      steps.push({ label: `layer ${steps.length + 1}`, layers: [layer], kind: 'layer' });
    } else if (steps.length > 0 && layer.countParams() === 0) {
      (steps.at(-1)!.layers as Layer[]).push(layer); // e.g. a LeakyReLU after its Dense
    } else {
      throw new TrainingError(`Stage "${stage.name}": layer-wise pretraining works on dense layers; Encoder "${encoderId}" has a ${layer.getClassName()} layer.`);
    }
  }
  if (steps.length === 0) throw new TrainingError(`Stage "${stage.name}": Encoder "${encoderId}" has no dense layer to pretrain.`);
  const before = chainBetween(analysis, analysis.inputId!, encoderId) ?? [];
  // The softmax step: the first labels Output fed by the Encoder through a chain.
  let headOutputId: string | undefined;
  for (const out of analysis.outputs) {
    if (out.target !== 'labels') continue;
    const chain = chainBetween(analysis, encoderId, out.id);
    if (!chain || chain.length === 0) continue;
    const headLayers = chain.flatMap((id) => compiled.layersByNode.get(id) ?? []);
    steps.push({ label: 'softmax', layers: headLayers, kind: 'head' });
    headOutputId = out.id;
    break;
  }
  return { steps, before, headOutputId };
}

/** Epochs a layer-wise stage runs in all: one round of `stage.epochs` per step. */
export function layerwiseEpochs(plan: LayerwisePlan, stage: ResolvedStage): number {
  return plan.steps.length * stage.epochs;
}

export interface LayerwiseContext {
  readonly analysis: GraphAnalysis;
  readonly compiled: CompiledGraph;
  readonly stage: ResolvedStage;
  readonly stageIndex: number;
  readonly plan: LayerwisePlan;
  readonly feeder: Feeder;
  readonly trainIdx: Uint32Array;
  readonly validationIdx: Uint32Array;
  readonly rng: () => number;
  readonly seed: number;
  readonly backend: string;
  readonly batchProgressMs: number;
  readonly send: (m: FromWorker) => void;
  readonly cancelled: () => boolean;
  /** Called with every epoch record (the caller appends it to metrics.jsonl and sends it). */
  readonly onEpoch: (record: EpochRecord) => void;
}

const CODE_BATCH = 1024;

/** Run a batch-wise function over the rows of `idx` and concatenate the results (one tensor, kept). */
function mapRows(count: number, f: (start: number, end: number) => tf.Tensor): tf.Tensor {
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < count; start += CODE_BATCH) parts.push(f(start, Math.min(count, start + CODE_BATCH)));
  const all = parts.length === 1 ? parts[0]! : tf.concat(parts);
  if (parts.length > 1) tf.dispose(parts);
  return all;
}

/** Free a layer's weights (Layer.dispose() refuses layers only ever applied eagerly). */
function disposeLayer(layer: Layer): void {
  for (const w of layer.weights) w.dispose();
}

const applyAll = (layers: readonly Layer[], x: tf.Tensor, training: boolean, logitsOf?: Layer): tf.Tensor =>
  layers.reduce((t, l) => l.apply(t, logitsOf ? { training, [LOGITS_OF]: logitsOf } : { training }) as tf.Tensor, x);

/** The codes (and labels) one step trains on: the previous layer's outputs, the pixels for the first. */
interface StepData {
  readonly trainCodes: tf.Tensor;
  readonly valCodes: tf.Tensor | undefined;
  readonly trainLabels: tf.Tensor | undefined;
  readonly valLabels: tf.Tensor | undefined;
}

/** One pretraining step as it trains: its layers (with a decoder for an autoencoder step), its loss and how it predicts. */
interface StepModel {
  readonly label: string;
  readonly isHead: boolean;
  readonly loss: LossName;
  readonly layers: readonly Layer[];
  readonly decoder: Layer | undefined;
  readonly variables: tf.Variable[];
  predict(x: tf.Tensor, training: boolean): Prediction;
}

function stepModel(ctx: LayerwiseContext, step: Step, stepIndex: number, codes: tf.Tensor): StepModel {
  const inDim = codes.shape[1]!;
  const { stage } = ctx;
  const first = stepIndex === 0;
  const isHead = step.kind === 'head';
  // The seed's recipe: pixels → sigmoid + binary cross-entropy; codes → linear + MSE; head → softmax + cross-entropy.
  const loss: LossName = layerwiseStepLoss(step.kind, first);
  const decoder = isHead
    ? undefined
    : fusedDense({ units: inDim, activation: first ? 'sigmoid' : 'linear', name: `${stage.name}_decoder_${stepIndex + 1}`, kernelInitializer: tf.initializers.glorotUniform({ seed: ctx.seed + stepIndex }) });
  const layers = decoder ? [...step.layers, decoder] : [...step.layers];
  for (const l of step.layers) l.trainable = true;
  // The softmax step's loss is computed from the logits of its last Dense (scoring.ts logitsLayer).
  const logitsOf = logitsLayer(loss, layers.at(-1));
  const predict = (x: tf.Tensor, training: boolean): Prediction => {
    if (!logitsOf) return { output: applyAll(layers, x, training) };
    const logits = applyAll(layers, x, training, logitsOf);
    return { output: tf.softmax(logits, -1), logits };
  };
  // Build the decoder's weights before collecting the variables.
  tf.tidy(() => void predict(codes.slice([0, 0], [1, inDim]), false));
  const variables = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
  const label = layerwiseStepLabel(stage.name, { kind: step.kind, index: stepIndex, inDim, units: (step.layers[0] as unknown as { units: number }).units });
  return { label, isHead, loss, layers, decoder, variables, predict };
}

/** One epoch of a step's batches; its mean loss and accuracy, or null when a cancel stopped it. */
async function pretrainEpoch(ctx: LayerwiseContext, m: StepModel, data: StepData, optimizer: tf.Optimizer, order: Uint32Array, epoch: number): Promise<{ loss: number; accuracy: number; seconds: number } | null> {
  const { stage } = ctx;
  shuffleInPlace(order, ctx.rng);
  const orderTensor = tf.tensor1d(Int32Array.from(order), 'int32');
  const t0 = performance.now();
  let lossSum: tf.Tensor = tf.scalar(0);
  let accSum: tf.Tensor = tf.scalar(0);
  const batches = Math.ceil(order.length / stage.batchSize);
  let lastReport = t0;
  try {
    for (let b = 0; b < batches; b++) {
      const start = b * stage.batchSize;
      const n = Math.min(order.length, start + stage.batchSize) - start;
      const next = tf.tidy(() => {
        const pick = orderTensor.slice(start, n);
        const xs = tf.gather(data.trainCodes, pick);
        const ys = m.isHead ? tf.gather(data.trainLabels!, pick) : xs;
        let acc: tf.Tensor = constant(0);
        const l = minimizeStep(optimizer, () => {
          const { output: pred, logits } = m.predict(xs, true);
          if (m.isHead) acc = tf.keep(metricSum('accuracy', ys, pred));
          return lossFn(m.loss, ys, pred, logits);
        }, m.variables);
        const out = { loss: tf.add(lossSum, tf.mul(l, constant(n))), acc: tf.add(accSum, acc), last: l };
        if (m.isHead) tf.dispose(acc);
        return out;
      });
      tf.dispose([lossSum, accSum]);
      lossSum = next.loss;
      accSum = next.acc;
      const now = performance.now();
      if (now - lastReport >= ctx.batchProgressMs || b === batches - 1) {
        lastReport = now;
        const value = (await next.last.data())[0]!;
        next.last.dispose();
        if (!Number.isFinite(value)) throw new TrainingError(`The loss became ${value} in stage "${m.label}", epoch ${epoch}: lower the learning rate (now ${stage.learningRate}) or check the data.`);
        ctx.send({ type: 'batch', stageIndex: ctx.stageIndex, epoch, batch: b + 1, batches, loss: value });
      } else next.last.dispose();
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (ctx.cancelled()) return null;
    }
    const seconds = (performance.now() - t0) / 1000;
    const [loss, accuracy] = Array.from(await tf.stack([lossSum, accSum]).data()).map((v) => v / order.length) as [number, number];
    return { loss, accuracy, seconds };
  } finally {
    tf.dispose([lossSum, accSum, orderTensor]);
  }
}

/** The step's own autoencoder (or the head) on the validation codes: loss, and accuracy for the head. */
async function validateStep(m: StepModel, data: StepData): Promise<{ valLoss: number | null; valAccuracy: number | undefined }> {
  if (!data.valCodes) return { valLoss: null, valAccuracy: undefined };
  const sums = tf.tidy(() => {
    const { output: pred, logits } = m.predict(data.valCodes!, false);
    const ys = m.isHead ? data.valLabels! : data.valCodes!;
    return tf.stack([lossFn(m.loss, ys, pred, logits), m.isHead ? tf.div(metricSum('accuracy', ys, pred), constant(ys.shape[0]!)) : constant(0)]);
  });
  const v = await sums.data();
  sums.dispose();
  return { valLoss: v[0]!, valAccuracy: m.isHead ? v[1]! : undefined };
}

/** Train one step for the stage's epochs (numbered from `epochAt` + 1); how many completed, and whether a cancel stopped it. */
async function pretrainStep(ctx: LayerwiseContext, step: Step, stepIndex: number, data: StepData, epochAt: number): Promise<{ epochs: number; stopped: boolean }> {
  const { stage } = ctx;
  const m = stepModel(ctx, step, stepIndex, data.trainCodes);
  const optimizer = makeOptimizer(stage.optimizer, stage.learningRate);
  const order = Uint32Array.from({ length: ctx.trainIdx.length }, (_, i) => i);
  try {
    for (let e = 1; e <= stage.epochs; e++) {
      const epoch = epochAt + e;
      const logs = await pretrainEpoch(ctx, m, data, optimizer, order, epoch);
      if (!logs) return { epochs: e - 1, stopped: true };
      const { valLoss, valAccuracy } = await validateStep(m, data);
      checkValidationLoss(valLoss, { stage: m.label, epoch, learningRate: stage.learningRate });
      ctx.onEpoch({
        stage: m.label,
        stageIndex: ctx.stageIndex,
        epoch,
        loss: logs.loss,
        valLoss,
        metrics: m.isHead ? { accuracy: logs.accuracy, ...(valAccuracy !== undefined ? { valAccuracy } : {}) } : {},
        seconds: logs.seconds,
        samplesPerSec: logs.seconds > 0 ? order.length / logs.seconds : 0,
        backend: ctx.backend,
        liveTensors: tf.memory().numTensors,
        endedAt: Date.now(),
      });
    }
    return { epochs: stage.epochs, stopped: false };
  } finally {
    optimizer.dispose();
    if (m.decoder) disposeLayer(m.decoder);
  }
}

/** The codes the next step learns: this step's layers applied to its own codes. */
function nextCodes(step: Step, data: StepData): StepData {
  const inDim = data.trainCodes.shape[1]!;
  const through = (codes: tf.Tensor): tf.Tensor => mapRows(codes.shape[0]!, (s, e) => tf.tidy(() => applyAll(step.layers, codes.slice([s, 0], [e - s, inDim]), false)));
  return { ...data, trainCodes: through(data.trainCodes), valCodes: data.valCodes ? through(data.valCodes) : undefined };
}

function stepData(ctx: LayerwiseContext): StepData {
  const { plan, feeder, compiled } = ctx;
  const beforeLayers = plan.before.flatMap((id) => compiled.layersByNode.get(id) ?? []);
  const rows = (idx: Uint32Array): tf.Tensor => mapRows(idx.length, (s, e) => tf.tidy(() => applyAll(beforeLayers, feeder.inputs(idx, s, e), false).reshape([e - s, -1])));
  const classes = plan.headOutputId ? (compiled.modelForOutput(plan.headOutputId).outputs[0]!.shape[1] as number) : 0;
  const labelsOf = (idx: Uint32Array): tf.Tensor | undefined => (classes && idx.length ? mapRows(idx.length, (s, e) => feeder.labels(idx, s, e, classes)) : undefined);
  return { trainCodes: rows(ctx.trainIdx), valCodes: ctx.validationIdx.length ? rows(ctx.validationIdx) : undefined, trainLabels: labelsOf(ctx.trainIdx), valLabels: labelsOf(ctx.validationIdx) };
}

const disposeData = (d: StepData): void => tf.dispose([d.trainCodes, d.valCodes, d.trainLabels, d.valLabels].filter((t): t is tf.Tensor => t !== undefined));

/** Train the stage; returns how many epochs ran and whether a cancel stopped it. */
export async function runLayerwise(ctx: LayerwiseContext): Promise<{ epochs: number; stopped: boolean }> {
  let data = stepData(ctx);
  let epochAt = 0;
  try {
    for (const [stepIndex, step] of ctx.plan.steps.entries()) {
      const done = await pretrainStep(ctx, step, stepIndex, data, epochAt);
      epochAt += done.epochs;
      if (done.stopped) return { epochs: epochAt, stopped: true };
      if (step.kind === 'head') continue;
      const next = nextCodes(step, data);
      tf.dispose([data.trainCodes, ...(data.valCodes ? [data.valCodes] : [])]);
      data = next;
    }
  } finally {
    disposeData(data);
  }
  return { epochs: epochAt, stopped: false };
}
