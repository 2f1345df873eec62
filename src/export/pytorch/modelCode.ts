/**
 * A graph as PyTorch code: `model.py` with one `nn.Module` per named sub-model (autoencoder,
 * encoder, decoder, classifier, …) sharing their layers as the tfjs models do, `build_models()`,
 * and the weight I/O that reads and writes Latent Studio's weights files (the tfjs encoding).
 *
 * Keras / TensorFlow.js semantics exactly, worked out here from the static shapes of the graph:
 * "same" padding as TensorFlow pads it (the odd pixel after, explicit `F.pad` when PyTorch's
 * symmetric padding cannot say it), MaxPooling2D "same" as ceil mode (or -inf padding),
 * Conv2DTranspose output sizes (output padding and a crop), NHWC at the models' boundaries and NCHW
 * inside (Flatten and Reshape go through NHWC, so the flattened order is Keras'), Glorot-uniform
 * kernels and zero biases, BatchNormalization with Keras' momentum and tfjs' biased variance,
 * Dropout / noise / sampling active in training only, and the KL term scaled as our loss scales it.
 */
import { type AnalyzedLayer, type AnalyzedNode, type GraphAnalysis, type ModelPlan, modelChain } from '../../core/analyze';
import type { Activation } from '../../core/format';
import type { LayerSpec, Padding } from '../../core/layers';
import { type Shape, formatShape, shapeSize } from '../../core/shape';
import { Identifiers, docstring, indent, pyNum, pyStr, pyTuple, pyValue, wrap } from './python';
import { COMMON, PRELUDE, type PreludeHelper, WEIGHT_IO } from './runtime';

export interface ModelCodeMeta {
  /** The graph file the code was written from (as the user knows it: a name or a relative path). */
  readonly graphFile: string;
  /** Latent Studio's version. */
  readonly version: string;
}

/** One layer of the graph as a PyTorch attribute of the shared `Layers` module (or an inline op). */
export interface LayerCode {
  readonly layer: AnalyzedLayer;
  readonly node: AnalyzedNode;
  /** The attribute name, when the layer is a module (parameter-free reshapes and activations are inline). */
  readonly attr?: string;
  /** `nn.Linear(784, 128)` and the like. */
  readonly make?: string;
  readonly helper?: PreludeHelper;
}

/** Keras' padding of one spatial axis: (before, after), TensorFlow's rule (the odd pixel goes after). */
export function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function paddingOf(padding: Padding, size: number, kernel: number, stride: number): [number, number] {
  return padding === 'same' ? samePadding(size, kernel, stride) : [0, 0];
}

/** Applies `a` to expression `e`; `channelAxis` is where softmax normalises (Keras: the last axis). */
function activate(a: Activation, e: string, channelAxis: number): string {
  switch (a) {
    case 'relu':
      return `F.relu(${e})`;
    case 'sigmoid':
      return `torch.sigmoid(${e})`;
    case 'tanh':
      return `torch.tanh(${e})`;
    case 'softmax':
      return `F.softmax(${e}, dim=${channelAxis})`;
    case 'linear':
      return e;
    case 'elu':
      return `F.elu(${e})`;
    case 'selu':
      return `F.selu(${e})`;
    case 'leakyRelu':
      // Our leaky ReLU is tf.layers.leakyReLU({alpha: 0.2}) (compile.ts).
      return `F.leaky_relu(${e}, 0.2)`;
  }
}

export const isImage = (s: Shape): boolean => s.length === 3;
/** The axis Keras' last axis is at inside the PyTorch code (channels are axis 1 in NCHW). */
const lastAxis = (s: Shape): number => (isImage(s) ? 1 : -1);
export const toNhwc = (e: string, s: Shape): string => (isImage(s) ? `${e}.permute(0, 2, 3, 1)` : e);

/** The (first) input shape of a node's layer: the layer it reads (a variational code's branches name theirs), else the one before. */
function inputShapeOf(node: AnalyzedNode, layer: number): Shape {
  const from = node.layers[layer]!.from?.[0] ?? layer - 1;
  return from < 0 ? node.inputShape! : node.layers[from]!.outputShape;
}

/** The module a layer becomes, or none for an inline op. */
function moduleFor(spec: LayerSpec, input: Shape, output: Shape, valuesPerSample: number): { make: string; helper?: PreludeHelper } | undefined {
  switch (spec.kind) {
    case 'dense':
      return { make: `nn.Linear(${input.at(-1)}, ${spec.units}${spec.useBias ? '' : ', bias=False'})` };
    case 'conv2d': {
      const [ph] = paddingOf(spec.padding, input[0]!, spec.kernelSize[0], spec.strides[0]);
      const [pw] = paddingOf(spec.padding, input[1]!, spec.kernelSize[1], spec.strides[1]);
      const symmetric = symmetricPadding(spec, input);
      const pad = symmetric && (ph > 0 || pw > 0) ? `, padding=${pyTuple([ph, pw])}` : '';
      return { make: `nn.Conv2d(${input[2]}, ${spec.filters}, ${pyTuple(spec.kernelSize)}, stride=${pyTuple(spec.strides)}${pad})` };
    }
    case 'conv2dTranspose': {
      const op = transposeGeometry(spec, input, output).map((g) => g.outputPadding);
      const extra = op.some((p) => p > 0) ? `, output_padding=${pyTuple(op)}` : '';
      return { make: `nn.ConvTranspose2d(${input[2]}, ${spec.filters}, ${pyTuple(spec.kernelSize)}, stride=${pyTuple(spec.strides)}${extra})` };
    }
    case 'maxPooling2d': {
      const pool = poolGeometry(spec, input);
      return { make: `nn.MaxPool2d(${pyTuple(spec.poolSize)}, stride=${pyTuple(spec.strides)}${pool.ceil ? ', ceil_mode=True' : ''})` };
    }
    case 'upSampling2d':
      return { make: `nn.Upsample(scale_factor=${pyTuple(spec.size)}, mode="nearest")` };
    case 'dropout':
      return { make: `nn.Dropout(${pyNum(spec.rate)})` };
    case 'batchNormalization':
      return { make: `KerasBatchNorm(${input.at(-1)}, momentum=${pyNum(spec.momentum)}, epsilon=${pyNum(spec.epsilon)}, axis=${lastAxis(input)})`, helper: 'KerasBatchNorm' };
    case 'gaussianNoise':
      return { make: `GaussianNoise(${pyNum(spec.stddev)})`, helper: 'GaussianNoise' };
    case 'maskingNoise':
      return { make: `MaskingNoise(${pyNum(spec.rate)})`, helper: 'MaskingNoise' };
    case 'sampling':
      return { make: `Sampling(kl_weight=${pyNum(spec.klWeight)}, values_per_sample=${valuesPerSample})`, helper: 'Sampling' };
    case 'flatten':
    case 'reshape':
    case 'activation':
      return undefined;
  }
}

/** Whether PyTorch's symmetric `padding=` says a conv's "same" padding (it does unless an axis pads an odd total). */
function symmetricPadding(spec: { padding: Padding; kernelSize: readonly [number, number]; strides: readonly [number, number] }, input: Shape): boolean {
  return [0, 1].every((a) => {
    const [b, e] = paddingOf(spec.padding, input[a]!, spec.kernelSize[a]!, spec.strides[a]!);
    return b === e;
  });
}

/**
 * A transposed convolution per axis: PyTorch's full output is (in - 1) * stride + kernel (+ output
 * padding); Keras' is in * stride ("same") or that full size ("valid", or in * stride when the
 * kernel is smaller than the stride); "same" then starts `before` into the full output, where
 * TensorFlow's padding of the matching forward convolution puts it.
 */
function transposeGeometry(spec: { padding: Padding; kernelSize: readonly [number, number]; strides: readonly [number, number] }, input: Shape, output: Shape): { outputPadding: number; cropStart: number; size: number }[] {
  return [0, 1].map((a) => {
    const k = spec.kernelSize[a]!;
    const s = spec.strides[a]!;
    const size = output[a]!;
    const full = (input[a]! - 1) * s + k;
    const outputPadding = Math.max(0, size - full);
    const cropStart = spec.padding === 'same' ? Math.floor(Math.max(k - s, 0) / 2) : 0;
    return { outputPadding, cropStart, size };
  });
}

/** MaxPooling2D "same": ceil mode says it when nothing pads before; otherwise -inf padding first. */
function poolGeometry(spec: { padding: Padding; poolSize: readonly [number, number]; strides: readonly [number, number] }, input: Shape): { ceil: boolean; pads?: [number, number, number, number] } {
  if (spec.padding === 'valid') return { ceil: false };
  const [ht, hb] = samePadding(input[0]!, spec.poolSize[0], spec.strides[0]);
  const [wl, wr] = samePadding(input[1]!, spec.poolSize[1], spec.strides[1]);
  if (ht + hb + wl + wr === 0) return { ceil: false };
  const ceilOut = (size: number, k: number, s: number): number => {
    let out = Math.ceil((size - k) / s) + 1;
    if ((out - 1) * s >= size) out--; // PyTorch drops a last window that would start past the input
    return out;
  };
  const ceilMatches = ht === 0 && wl === 0 && [0, 1].every((a) => ceilOut(input[a]!, spec.poolSize[a]!, spec.strides[a]!) === Math.ceil(input[a]! / spec.strides[a]!));
  return ceilMatches ? { ceil: true } : { ceil: false, pads: [wl, wr, ht, hb] };
}

/** The forward lines of one layer: reads `ins` (variables), assigns `out`; modules are attributes of `holder`. */
function forwardLines(code: LayerCode, input: Shape, ins: readonly string[], out: string, holder = 'self'): string[] {
  const { layer } = code;
  const spec = layer.spec;
  const x = ins[0]!;
  const self = `${holder}.${code.attr}`;
  const o = layer.outputShape;
  switch (spec.kind) {
    case 'dense':
      // Keras applies Dense to the last axis: an image's channels, axis 1 here.
      return isImage(input)
        ? [`${out} = ${activate(spec.activation, `${self}(${x}.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)`, 1)}`]
        : [`${out} = ${activate(spec.activation, `${self}(${x})`, -1)}`];
    case 'conv2d': {
      const lines: string[] = [];
      let from = x;
      if (!symmetricPadding(spec, input)) {
        const [t, b] = paddingOf(spec.padding, input[0]!, spec.kernelSize[0], spec.strides[0]);
        const [l, r] = paddingOf(spec.padding, input[1]!, spec.kernelSize[1], spec.strides[1]);
        lines.push(`${out} = F.pad(${x}, ${pyTuple([l, r, t, b])})  # "same": TensorFlow pads the odd pixel after`);
        from = out;
      }
      lines.push(`${out} = ${activate(spec.activation, `${self}(${from})`, 1)}`);
      return lines;
    }
    case 'conv2dTranspose': {
      const g = transposeGeometry(spec, input, o);
      const full = [0, 1].map((a) => (input[a]! - 1) * spec.strides[a]! + spec.kernelSize[a]! + g[a]!.outputPadding);
      const crop = g.some((ga, a) => ga.cropStart > 0 || full[a] !== ga.size);
      if (!crop) return [`${out} = ${activate(spec.activation, `${self}(${x})`, 1)}`];
      const [gh, gw] = g as [(typeof g)[0], (typeof g)[0]];
      return [
        `${out} = ${self}(${x})[:, :, ${gh.cropStart}:${gh.cropStart + gh.size}, ${gw.cropStart}:${gw.cropStart + gw.size}]  # Keras' "same" output: ${gh.size}x${gw.size}`,
        ...(spec.activation === 'linear' ? [] : [`${out} = ${activate(spec.activation, out, 1)}`]),
      ];
    }
    case 'maxPooling2d': {
      const pool = poolGeometry(spec, input);
      if (!pool.pads) return [`${out} = ${self}(${x})`];
      return [`${out} = ${self}(F.pad(${x}, ${pyTuple(pool.pads)}, value=float("-inf")))  # "same" pooling pads with -inf`];
    }
    case 'upSampling2d':
    case 'dropout':
    case 'batchNormalization':
    case 'gaussianNoise':
    case 'maskingNoise':
      return [`${out} = ${self}(${x})`];
    case 'sampling':
      return [`${out} = ${self}(${ins.join(', ')})`];
    case 'flatten':
      // Keras flattens height, width, channels in that order.
      return [`${out} = ${toNhwc(x, input)}.flatten(1)`];
    case 'reshape':
      return [`${out} = ${toNhwc(x, input)}.reshape(-1, ${o.join(', ')})${isImage(o) ? '.permute(0, 3, 1, 2)' : ''}`];
    case 'activation':
      return [`${out} = ${activate(spec.activation, x, lastAxis(input))}`];
  }
}

/**
 * The forward lines of a chain of nodes from `x` to `x` (modules are attributes of `holder`);
 * `head`, a softmax Dense, returns its logits when the function's `logits` argument is true.
 */
export function chainLines(nodes: readonly AnalyzedNode[], codes: ReadonlyMap<AnalyzedLayer, LayerCode>, holder: string, head: AnalyzedLayer | undefined, comments = true): string[] {
  const vars = new Identifiers(['x', 'self', 'layers', 'logits', 'torch', 'nn', 'F']);
  const body: string[] = [];
  for (const node of nodes) {
    if (node.layers.length === 0) continue;
    if (comments) body.push(`# ${node.id} (${node.type})`);
    const branched = node.layers.some((l) => l.from !== undefined);
    const outs: string[] = [];
    node.layers.forEach((layer, i) => {
      const ins = (layer.from ?? [i - 1]).map((j) => (j < 0 ? 'x' : outs[j]!));
      const last = i === node.layers.length - 1;
      const out = branched && !last ? vars.take(layer.name.split('.').at(-1)!) : 'x';
      const code = codes.get(layer)!;
      if (layer === head) {
        body.push(`x = ${holder}.${code.attr}(${ins[0]})`);
        body.push('if logits:');
        body.push("    return x  # the softmax's logits");
        body.push('x = F.softmax(x, dim=-1)');
      } else body.push(...forwardLines(code, inputShapeOf(node, i), ins, out, holder));
      outs.push(out);
    });
  }
  return body;
}

/** The forward lines of some layers of one node, applied one after another to `x`, as a flat vector's (layer-wise pretraining's codes). */
export function layerLines(layers: readonly AnalyzedLayer[], codes: ReadonlyMap<AnalyzedLayer, LayerCode>, holder: string): string[] {
  return layers.flatMap((layer) => forwardLines(codes.get(layer)!, [0], ['x'], 'x', holder));
}

function chainOf(analysis: GraphAnalysis, plan: ModelPlan): AnalyzedNode[] {
  const nodes = modelChain(analysis, plan);
  if (!nodes) throw new Error(`"${plan.to}" does not depend on "${plan.from}" alone`);
  return nodes;
}

/** The layer a model's output comes from, when it is a Dense with softmax: its logits are offered too (cross-entropy from logits, as tf.keras and our training compute it). */
export function softmaxHead(nodes: readonly AnalyzedNode[]): AnalyzedLayer | undefined {
  const last = nodes.flatMap((n) => n.layers).at(-1);
  return last && last.spec.kind === 'dense' && last.spec.activation === 'softmax' && last.outputShape.length === 1 ? last : undefined;
}

interface ModelClass {
  readonly plan: ModelPlan;
  readonly className: string;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  readonly lines: string[];
}

function modelClass(analysis: GraphAnalysis, plan: ModelPlan, className: string, codes: ReadonlyMap<AnalyzedLayer, LayerCode>): ModelClass {
  const nodes = chainOf(analysis, plan);
  const inputShape = analysis.nodes.get(plan.from)!.outputShape!;
  const outputShape = analysis.nodes.get(plan.to)!.outputShape!;
  const used = nodes.flatMap((n) => n.layers.map((l) => codes.get(l)!)).filter((c) => c.attr !== undefined);
  const head = softmaxHead(nodes);
  const body: string[] = [];
  body.push(`_check_input(x, ${pyTuple(inputShape)}, ${pyStr(plan.name)})`);
  if (isImage(inputShape)) body.push('x = x.permute(0, 3, 1, 2)  # NHWC (as in files and tfjs) -> NCHW');
  body.push(...chainLines(nodes, codes, 'self', head));
  body.push(isImage(outputShape) ? 'return x.permute(0, 2, 3, 1)  # NCHW -> NHWC' : 'return x');
  const description = `${plan.name}: ${formatShape(inputShape)} -> ${formatShape(outputShape)} (${nodes.map((n) => n.id).join(' -> ')}).`;
  const lines = [
    `class ${className}(nn.Module):`,
    ...indent(docstring(`${description} Takes and gives tensors laid out as the TensorFlow.js model's (images NHWC).${head ? ' forward(x, logits=True) gives the logits of the softmax output.' : ''}`)),
    '',
    '    def __init__(self, layers):',
    '        super().__init__()',
    ...(used.length ? used.map((c) => `        self.${c.attr} = layers.${c.attr}`) : ['        pass']),
    '',
    `    def forward(self, x${head ? ', logits=False' : ''}):`,
    ...indent(body, 2),
  ];
  return { plan, className, inputShape, outputShape, lines };
}

function describeSpec(layer: AnalyzedLayer): string {
  return `${layer.name}: ${layer.className} -> ${formatShape(layer.outputShape)}`;
}

/** Every layer's code, in graph order; a module's attribute name is taken in this order (train.py relies on the same names). */
export function layerCodes(analysis: GraphAnalysis, valuesPerSample: number): Map<AnalyzedLayer, LayerCode> {
  const attrs = new Identifiers(['training', 'layers', 'forward']);
  const codes = new Map<AnalyzedLayer, LayerCode>();
  for (const id of analysis.order) {
    const node = analysis.nodes.get(id)!;
    node.layers.forEach((layer, i) => {
      const m = moduleFor(layer.spec, inputShapeOf(node, i), layer.outputShape, valuesPerSample);
      codes.set(layer, m ? { layer, node, attr: attrs.take(layer.name), make: m.make, ...(m.helper ? { helper: m.helper } : {}) } : { layer, node });
    });
  }
  return codes;
}

/** What train.py needs to know of the models: each layer module's attribute by node, and which models end in a softmax Dense or sample a variational code. */
export interface ModelFacts {
  /** Attribute names of the modules of each node's layers. */
  readonly attrsByNode: ReadonlyMap<string, readonly string[]>;
  readonly models: ReadonlyMap<string, { readonly headLogits: boolean; readonly hasKl: boolean }>;
}

export function modelFacts(analysis: GraphAnalysis): ModelFacts {
  const inputShape = analysis.nodes.get(analysis.inputId!)!.outputShape!;
  const codes = layerCodes(analysis, shapeSize(inputShape));
  const attrsByNode = new Map<string, string[]>();
  for (const c of codes.values()) if (c.attr) attrsByNode.set(c.node.id, [...(attrsByNode.get(c.node.id) ?? []), c.attr]);
  const models = new Map(
    analysis.models.map((plan) => {
      const nodes = chainOf(analysis, plan);
      const layers = nodes.flatMap((n) => n.layers);
      return [plan.name, { headLogits: softmaxHead(nodes) !== undefined, hasKl: layers.some((l) => l.spec.kind === 'sampling' && l.spec.klWeight > 0) }] as const;
    }),
  );
  return { attrsByNode, models };
}

/** `model.py` for a graph that analyzed without errors. */
export function pytorchModelCode(analysis: GraphAnalysis, meta: ModelCodeMeta): string {
  if (!analysis.ok || !analysis.inputId || !analysis.document) throw new Error('The graph has errors; fix them before exporting it.');
  const doc = analysis.document;
  const inputShape = analysis.nodes.get(analysis.inputId)!.outputShape!;
  const valuesPerSample = shapeSize(inputShape);
  const codes = layerCodes(analysis, valuesPerSample);
  const helpers = new Set<PreludeHelper>([...codes.values()].flatMap((c) => (c.helper ? [c.helper] : [])));
  const modules = [...codes.values()].filter((c) => c.attr !== undefined);
  const classNames = new Identifiers(['Layers', 'KerasBatchNorm', 'GaussianNoise', 'MaskingNoise', 'Sampling', 'Module']);
  const classes = analysis.models.map((plan) => modelClass(analysis, plan, classNames.take(plan.name, 'pascal'), codes));

  const header = [
    `"""${doc.name}: PyTorch models written by Latent Studio ${meta.version} from ${meta.graphFile}.`,
    '',
    ...wrap(
      'One nn.Module per model the graph names, sharing their layers as the TensorFlow.js models do (training the autoencoder trains the encoder). ' +
        "Keras semantics: 'same' padding as TensorFlow pads, NHWC at the models' boundaries and NCHW inside, Glorot-uniform kernels and zero biases. " +
        "Weights load from and save to Latent Studio's weights files (a run's checkpoint, an export's weights.json): load_tfjs_weights, save_tfjs_weights.",
    ),
    '"""',
  ];
  const out: string[] = [
    ...header,
    'import json',
    'import os',
    '',
    'import numpy as np',
    'import torch',
    'from torch import nn',
    'import torch.nn.functional as F',
    '',
    `GRAPH_NAME = ${pyStr(doc.name)}`,
    `INPUT_SHAPE = ${pyTuple(inputShape)}`,
    '# Each model: its input and output shapes (Keras order, without the batch axis).',
    `MODELS = ${pyValue(Object.fromEntries(classes.map((c) => [c.plan.name, { input: [...c.inputShape], output: [...c.outputShape] }])))}`,
    '# The graph\'s layer names (Keras / tfjs) of the attributes below, as weights files key them.',
    'LAYER_NAMES = {',
    ...modules.map((c) => `    ${pyStr(c.attr!)}: ${pyStr(c.layer.name)},`),
    '}',
    '',
    '',
    ...COMMON,
    '',
    '',
    ...[...helpers].sort().flatMap((h) => [...PRELUDE[h], '', '']),
    'class Layers(nn.Module):',
    '    """Every layer of the graph, made once: the models below share them."""',
    '',
    '    def __init__(self):',
    '        super().__init__()',
    ...(modules.length ? modules.map((c) => `        self.${c.attr} = ${c.make}  # ${describeSpec(c.layer)}`) : ['        pass']),
    '',
    '',
    ...classes.flatMap((c) => [...c.lines, '', '']),
    'def build_models(seed=None):',
    ...indent(docstring('The models by name, sharing one set of layers, initialised as Keras initialises them (Glorot-uniform kernels, zero biases); `seed` seeds torch for that.')),
    '    if seed is not None:',
    '        torch.manual_seed(seed)',
    '    layers = Layers()',
    '    keras_init(layers)',
    '    return {',
    ...classes.map((c) => `        ${pyStr(c.plan.name)}: ${c.className}(layers),`),
    '    }',
    '',
    '',
    ...WEIGHT_IO,
  ];
  return `${out.join('\n').replace(/\n{3,}$/, '\n')}\n`;
}
