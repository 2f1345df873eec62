/**
 * Graph → tf.LayersModel with the functional API. Every block's layers are created once and
 * shared, so the named sub-models (autoencoder, encoder, decoder, classifier) see the same
 * weights: training one trains the others, and a later stage starts where the last one ended.
 */
import * as tf from '../backend/tf';
import { type AnalyzedNode, type GraphAnalysis, type ModelPlan, modelChain } from '../core/analyze';
import type { Activation } from '../core/format';
import type { LayerSpec } from '../core/layers';
import { shapeSize } from '../core/shape';
import { MaskingNoise, Sampling } from './customLayers';
import { fusedConv2d, fusedDense } from './fusedLayers';

type SymbolicTensor = tf.SymbolicTensor;
type Layer = tf.layers.Layer;
type TfActivation = 'relu' | 'sigmoid' | 'tanh' | 'softmax' | 'linear' | 'elu' | 'selu';

export interface CompiledGraph {
  /** Every model the graph names (see core/analyze planModels), keyed by name. */
  readonly models: ReadonlyMap<string, tf.LayersModel>;
  /** The model trained against an Output block. */
  modelForOutput(outputId: string): tf.LayersModel;
  /** The tfjs layers each block created, in order (leaky ReLU adds a parameter-free layer). */
  readonly layersByNode: ReadonlyMap<string, readonly Layer[]>;
  /** Freeze (false) or unfreeze layers: `trainable: false` nodes and `frozen` ids stay frozen. */
  setFrozen(frozen: ReadonlySet<string>): void;
  dispose(): void;
}

export class CompileError extends Error {
  constructor(message: string, readonly nodeId?: string) {
    super(message);
    this.name = 'CompileError';
  }
}

function activationOf(a: Activation): TfActivation {
  return a === 'leakyRelu' ? 'linear' : a;
}

/** Seeded Keras-default initializers, so the same graph and seed start from the same weights. */
type Initializer = ReturnType<typeof tf.initializers.zeros>;

function initializers(seed: number): { kernelInitializer: Initializer; biasInitializer: Initializer } {
  return { kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.zeros() };
}

interface MakeContext {
  /** Values per sample of the graph's Input: the scale of a reconstruction loss (see customLayers.ts). */
  readonly valuesPerSample: number;
}

function makeLayers(spec: LayerSpec, name: string, trainable: boolean, seed: number, ctx: MakeContext): Layer[] {
  const base = { name, trainable };
  const leaky = (a: Activation): Layer[] => (a === 'leakyRelu' ? [tf.layers.leakyReLU({ alpha: 0.2, name: `${name}.leaky` })] : []);
  switch (spec.kind) {
    case 'dense':
      return [
        fusedDense({ ...base, ...initializers(seed), units: spec.units, activation: activationOf(spec.activation), useBias: spec.useBias }),
        ...leaky(spec.activation),
      ];
    case 'conv2d':
    case 'conv2dTranspose': {
      const cfg = {
        ...base,
        ...initializers(seed),
        filters: spec.filters,
        kernelSize: [...spec.kernelSize],
        strides: [...spec.strides],
        padding: spec.padding,
        activation: activationOf(spec.activation),
      };
      return [spec.kind === 'conv2d' ? fusedConv2d(cfg) : tf.layers.conv2dTranspose(cfg), ...leaky(spec.activation)];
    }
    case 'maxPooling2d':
      return [tf.layers.maxPooling2d({ ...base, poolSize: [...spec.poolSize], strides: [...spec.strides], padding: spec.padding })];
    case 'upSampling2d':
      return [tf.layers.upSampling2d({ ...base, size: [...spec.size] })];
    case 'flatten':
      return [tf.layers.flatten(base)];
    case 'reshape':
      return [tf.layers.reshape({ ...base, targetShape: [...spec.targetShape] })];
    case 'dropout':
      return [tf.layers.dropout({ ...base, rate: spec.rate, seed })];
    case 'batchNormalization':
      return [tf.layers.batchNormalization({ ...base, momentum: spec.momentum, epsilon: spec.epsilon })];
    case 'gaussianNoise':
      return [tf.layers.gaussianNoise({ ...base, stddev: spec.stddev })];
    case 'maskingNoise':
      return [new MaskingNoise({ ...base, rate: spec.rate })];
    case 'sampling':
      return [new Sampling({ ...base, klWeight: spec.klWeight, valuesPerSample: ctx.valuesPerSample })];
    case 'activation':
      return spec.activation === 'leakyRelu'
        ? [tf.layers.leakyReLU({ ...base, alpha: 0.2 })]
        : [tf.layers.activation({ ...base, activation: activationOf(spec.activation) })];
  }
}

/** Compile a graph that analyzed without errors. */
export function compileGraph(analysis: GraphAnalysis, opts: { seed?: number } = {}): CompiledGraph {
  if (!analysis.ok || !analysis.inputId) throw new CompileError('The graph has errors; fix them before compiling.');
  const seed = opts.seed ?? analysis.document?.training.seed ?? 0;
  const inputNode = analysis.nodes.get(analysis.inputId)!;
  const ctx: MakeContext = { valuesPerSample: shapeSize(inputNode.outputShape!) };
  const layersByNode = new Map<string, Layer[]>();
  /** Per node, the tfjs layers of each analyzed layer (a leaky ReLU dense makes two). */
  const groupsByNode = new Map<string, Layer[][]>();
  let layerIndex = 0;
  for (const id of analysis.order) {
    const node = analysis.nodes.get(id)!;
    const groups = node.layers.map((l) => makeLayers(l.spec, l.name, node.trainable, seed * 1000 + layerIndex++, ctx));
    groupsByNode.set(id, groups);
    layersByNode.set(id, groups.flat());
  }

  /** A node's layers applied to `x`: a chain, except where a layer names its inputs (a variational Bottleneck). */
  const apply = (node: AnalyzedNode, x: SymbolicTensor): SymbolicTensor => {
    const outs: SymbolicTensor[] = [];
    (groupsByNode.get(node.id) ?? []).forEach((group, i) => {
      const ins = (node.layers[i]!.from ?? [i - 1]).map((j) => (j < 0 ? x : outs[j]!));
      const first = group[0]!.apply(ins.length === 1 ? ins[0]! : ins) as SymbolicTensor;
      outs.push(group.slice(1).reduce((t, layer) => layer.apply(t) as SymbolicTensor, first));
    });
    return outs.at(-1) ?? x;
  };

  const input = tf.input({ shape: [...inputNode.outputShape!], name: inputNode.id });
  const outputs = new Map<string, SymbolicTensor>([[inputNode.id, input]]);
  for (const id of analysis.order) {
    if (id === inputNode.id) continue;
    const node = analysis.nodes.get(id)!;
    const from = outputs.get(node.inputs[0]!);
    if (!from) continue; // unreachable from the Input: analysis already warned
    outputs.set(id, apply(node, from));
  }

  const chain = (plan: ModelPlan): AnalyzedNode[] => {
    const nodes = modelChain(analysis, plan);
    if (!nodes) throw new CompileError(`"${plan.to}" does not depend on "${plan.from}" alone`, plan.to);
    return nodes;
  };

  const models = new Map<string, tf.LayersModel>();
  const byOutput = new Map<string, tf.LayersModel>();
  for (const plan of analysis.models) {
    let model: tf.LayersModel;
    if (plan.from === inputNode.id) {
      model = tf.model({ inputs: input, outputs: outputs.get(plan.to)!, name: plan.name });
    } else {
      // A decoder takes the code as its own input and re-applies the shared layers.
      const codeShape = analysis.nodes.get(plan.from)!.outputShape!;
      const codeInput = tf.input({ shape: [...codeShape], name: `${plan.name}_input` });
      const out = chain(plan).reduce((t, node) => apply(node, t), codeInput);
      model = tf.model({ inputs: codeInput, outputs: out, name: plan.name });
    }
    models.set(plan.name, model);
    if (plan.outputId) byOutput.set(plan.outputId, model);
  }

  return {
    models,
    layersByNode,
    modelForOutput(outputId) {
      const m = byOutput.get(outputId);
      if (!m) throw new CompileError(`No model ends at Output "${outputId}"`, outputId);
      return m;
    },
    setFrozen(frozen) {
      for (const [id, layers] of layersByNode) {
        const trainable = analysis.nodes.get(id)!.trainable && !frozen.has(id);
        for (const layer of layers) layer.trainable = trainable;
      }
    },
    dispose() {
      // A layer counts one reference per model it is in (a decoder's layers: the autoencoder's and the
      // decoder's), and frees its weights when the last is dropped.
      for (const layers of layersByNode.values()) {
        for (const layer of layers) {
          if (!layer.built) continue;
          for (let guard = 0; guard < 64 && layer.dispose().refCountAfterDispose > 0; guard++);
        }
      }
    },
  };
}
