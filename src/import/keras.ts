/**
 * A Keras model's architecture (the JSON config that a TensorFlow.js layers model.json, a Keras
 * `.keras` file and a Keras `.h5` file all carry) as a Latent Studio graph: each layer a block,
 * wired as in the model, with an Output block after the model's output. A layer the catalog does
 * not have (or a setting a block cannot express) is named with its class and position: the import
 * stops there, or with `partial` keeps the layers before it and reports the rest as problems.
 * Pure: no Node, no TensorFlow.js.
 */
import { ACTIVATIONS, type Activation, NODE_ID_PATTERN } from '../core/format';
import { groupAutoencoder } from './group';

export interface KerasLayerConfig {
  readonly class_name: string;
  readonly config: Readonly<Record<string, unknown>> & { readonly name: string };
  readonly inbound_nodes?: readonly (readonly (readonly unknown[])[])[];
}

export interface KerasModelConfig {
  readonly class_name: string;
  readonly config: { readonly name?: string; readonly layers: readonly KerasLayerConfig[] };
}

interface Block {
  id: string;
  type: string;
  params?: Record<string, unknown>;
}

export interface ImportedGraph {
  /** The graph document, ready to write (canonical form is the caller's). */
  readonly document: Record<string, unknown>;
  /** Keras layer name → the graph's layer that takes its weights (the block id, or `<group>.<i>` inside an Encoder, Bottleneck or Decoder). */
  readonly blockOf: ReadonlyMap<string, string>;
  /** The layers were grouped into Encoder / Bottleneck / Decoder blocks. */
  readonly grouped: boolean;
  /** Layers left out with `partial`, each a sentence. */
  readonly skipped: readonly string[];
  /** Layers in the model. */
  readonly layerCount: number;
}

export class ImportError extends Error {}

const KERAS_ACTIVATIONS: Record<string, Activation> = { relu: 'relu', sigmoid: 'sigmoid', tanh: 'tanh', softmax: 'softmax', linear: 'linear', elu: 'elu', selu: 'selu' };

function activationOf(v: unknown): Activation {
  const name = typeof v === 'string' ? v : typeof v === 'object' && v !== null && 'class_name' in v ? String((v as { class_name: unknown }).class_name).toLowerCase() : 'linear';
  const a = KERAS_ACTIVATIONS[name] ?? (ACTIVATIONS as readonly string[]).find((x) => x === name);
  if (!a) throw new ImportError(`activation "${name}" is not one of ${Object.keys(KERAS_ACTIVATIONS).join(', ')}`);
  return a as Activation;
}

const pairOf = (v: unknown, what: string): number | [number, number] => {
  const p: [number, number] | undefined = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number') ? [v[0] as number, v[1] as number] : undefined;
  if (!p) throw new ImportError(`${what} ${JSON.stringify(v)} is not one number or two`);
  return p[0] === p[1] ? p[0] : p;
};

const one = (v: unknown): boolean => v === undefined || v === 1 || (Array.isArray(v) && v.every((x) => x === 1));

function channelsLast(c: Readonly<Record<string, unknown>>): void {
  if (c.data_format !== undefined && c.data_format !== null && c.data_format !== 'channels_last') throw new ImportError(`data_format "${String(c.data_format)}" (blocks are channels_last)`);
}

function padding(v: unknown): 'same' | 'valid' {
  if (v === undefined || v === 'valid') return 'valid';
  if (v === 'same') return 'same';
  throw new ImportError(`padding "${String(v)}" (same or valid)`);
}

/** One layer as a block's type and params, or an ImportError saying what does not fit. */
function blockFor(layer: KerasLayerConfig): { type: string; params?: Record<string, unknown> } {
  const c = layer.config;
  switch (layer.class_name) {
    case 'Dense':
      return { type: 'Dense', params: { units: c.units, activation: activationOf(c.activation), ...(c.use_bias === false ? { useBias: false } : {}) } };
    case 'Conv2D':
    case 'Conv2DTranspose': {
      channelsLast(c);
      if (c.use_bias === false) throw new ImportError('a convolution without a bias (use_bias: false): the Conv2D blocks always have one');
      if (!one(c.dilation_rate)) throw new ImportError(`dilation_rate ${JSON.stringify(c.dilation_rate)} (the blocks are not dilated)`);
      if (c.groups !== undefined && c.groups !== 1) throw new ImportError(`groups ${JSON.stringify(c.groups)}`);
      return {
        type: layer.class_name,
        params: { filters: c.filters, kernelSize: pairOf(c.kernel_size, 'kernel_size'), strides: pairOf(c.strides ?? 1, 'strides'), padding: padding(c.padding), activation: activationOf(c.activation) },
      };
    }
    case 'MaxPooling2D':
      channelsLast(c);
      return { type: 'MaxPooling2D', params: { poolSize: pairOf(c.pool_size ?? 2, 'pool_size'), strides: pairOf(c.strides ?? c.pool_size ?? 2, 'strides'), padding: padding(c.padding) } };
    case 'UpSampling2D':
      channelsLast(c);
      if (c.interpolation !== undefined && c.interpolation !== 'nearest') throw new ImportError(`interpolation "${String(c.interpolation)}" (the block upsamples by nearest neighbour)`);
      return { type: 'UpSampling2D', params: { size: pairOf(c.size ?? 2, 'size') } };
    case 'Flatten':
      return { type: 'Flatten' };
    case 'Reshape':
      return { type: 'Reshape', params: { targetShape: c.target_shape } };
    case 'Dropout':
      return { type: 'Dropout', params: { rate: c.rate } };
    case 'GaussianNoise':
      return { type: 'GaussianNoise', params: { stddev: c.stddev } };
    case 'BatchNormalization': {
      const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
      if (axis.length !== 1 || (axis[0] !== -1 && typeof axis[0] !== 'number')) throw new ImportError(`axis ${JSON.stringify(c.axis)} (the last axis only)`);
      if (c.center === false || c.scale === false) throw new ImportError('BatchNormalization without center or scale (the block has both)');
      return { type: 'BatchNormalization', params: { momentum: c.momentum ?? 0.99, epsilon: c.epsilon ?? 0.001 } };
    }
    case 'Activation':
      return { type: 'Activation', params: { activation: activationOf(c.activation) } };
    case 'ReLU':
      if (c.max_value != null || (typeof c.negative_slope === 'number' && c.negative_slope !== 0) || (typeof c.threshold === 'number' && c.threshold !== 0)) throw new ImportError('a ReLU with max_value, negative_slope or threshold');
      return { type: 'Activation', params: { activation: 'relu' } };
    case 'LeakyReLU': {
      const alpha = typeof c.alpha === 'number' ? c.alpha : typeof c.negative_slope === 'number' ? c.negative_slope : 0.3;
      if (Math.abs(alpha - 0.2) > 1e-6) throw new ImportError(`alpha ${alpha}: the leakyRelu activation has alpha 0.2`);
      return { type: 'Activation', params: { activation: 'leakyRelu' } };
    }
    case 'Softmax':
      if (c.axis !== undefined && c.axis !== -1) throw new ImportError(`axis ${JSON.stringify(c.axis)} (the last axis only)`);
      return { type: 'Activation', params: { activation: 'softmax' } };
    default:
      throw new ImportError('the catalog has no such block');
  }
}

/** A Keras name as a block id: letters, digits, "_" and "-", starting with a letter, unique. */
function idFor(name: string, used: Set<string>): string {
  let id = name.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[^A-Za-z]+/, '');
  if (!id) id = 'layer';
  id = id.slice(0, 56);
  let candidate = id;
  for (let k = 2; used.has(candidate) || !NODE_ID_PATTERN.test(candidate); k++) candidate = `${id}_${k}`;
  used.add(candidate);
  return candidate;
}

/** The layers' inputs: Sequential chains them; functional models name them in inbound_nodes. */
function inputsOf(layer: KerasLayerConfig, previous: string | undefined, sequential: boolean): string[] {
  if (sequential || layer.inbound_nodes === undefined) return previous === undefined ? [] : [previous];
  if (layer.inbound_nodes.length > 1) throw new ImportError('a layer called more than once (shared layers)');
  const node = layer.inbound_nodes[0] ?? [];
  return node.map((ref) => {
    // tfjs and Keras 2: ["name", 0, 0, {}]; Keras 3: {args: [{config: {keras_history: ["name", 0, 0]}}]} is read by the caller.
    if (typeof ref[0] !== 'string') throw new ImportError('an inbound node this reader does not know');
    return ref[0];
  });
}

export interface KerasToGraphOptions {
  /** The graph's name (default: the model's). */
  readonly name?: string;
  /** Keep the supported layers before the first unsupported one; report the rest. */
  readonly partial?: boolean;
  /** Where the model came from, for the graph's description and for sentences. */
  readonly source: string;
  /** Group a recognisable autoencoder into Encoder / Bottleneck / Decoder blocks (default true). */
  readonly group?: boolean;
}

export function kerasToGraph(model: KerasModelConfig, opts: KerasToGraphOptions): ImportedGraph {
  const layers = model.config.layers;
  if (layers.length === 0) throw new ImportError(`${opts.source}: the model has no layers`);
  const sequential = model.class_name === 'Sequential';
  const used = new Set<string>();
  const blocks: Block[] = [];
  const edges: { from: string; to: string }[] = [];
  const blockOf = new Map<string, string>();
  const skipped: string[] = [];
  let previous: string | undefined;
  let inputShape: readonly unknown[] | undefined;
  let lastActivation: string | undefined;

  const addInput = (shape: readonly unknown[], name: string): void => {
    const dims = shape.slice(1);
    if (dims.length < 1 || dims.length > 3 || dims.some((d) => typeof d !== 'number' || d < 1)) throw new ImportError(`${opts.source}: input shape ${JSON.stringify(shape)}: the Input block takes [features] or [height, width, channels]`);
    const id = idFor(name, used);
    blocks.push({ id, type: 'Input', params: { shape: dims } });
    blockOf.set(name, id);
    inputShape = dims;
    previous = name;
  };

  for (const [i, layer] of layers.entries()) {
    const name = layer.config.name;
    const where = `layer ${i + 1} "${name}" (${layer.class_name})`;
    if (layer.class_name === 'InputLayer') {
      const shape = (layer.config.batch_input_shape ?? layer.config.batch_shape) as unknown[] | undefined;
      if (!Array.isArray(shape)) throw new ImportError(`${opts.source}: ${where}: it has no batch_input_shape`);
      if (inputShape) throw new ImportError(`${opts.source}: ${where}: a second input; graphs have one Input`);
      addInput(shape, name);
      continue;
    }
    if (!inputShape) {
      const shape = (layer.config.batch_input_shape ?? layer.config.batch_shape) as unknown[] | undefined;
      if (!Array.isArray(shape)) throw new ImportError(`${opts.source}: ${where}: the model's input shape is not given (no InputLayer and no batch_input_shape)`);
      addInput(shape, 'input');
    }
    try {
      const from = inputsOf(layer, previous, sequential);
      if (from.length !== 1) throw new ImportError(`it takes ${from.length} inputs; blocks take one (merging layers such as Add or Concatenate are not in the catalog)`);
      const source = blockOf.get(from[0]!);
      if (!source) throw new ImportError(`its input "${from[0]}" was not imported`);
      const block = blockFor(layer);
      const id = idFor(name, used);
      blocks.push({ id, ...block });
      edges.push({ from: source, to: id });
      blockOf.set(name, id);
      previous = name;
      const act = block.params?.activation;
      lastActivation = typeof act === 'string' ? act : block.type === 'Dropout' || block.type === 'GaussianNoise' ? lastActivation : undefined;
    } catch (e) {
      if (!(e instanceof ImportError)) throw e;
      const sentence = `${opts.source}: ${where}: ${e.message}`;
      if (!opts.partial) throw new ImportError(`${sentence}. Import with --partial to keep the layers before it.`);
      skipped.push(sentence);
      // Everything after an unsupported layer depends on it in a chain; stop here.
      for (const rest of layers.slice(i + 1)) skipped.push(`${opts.source}: layer ${layers.indexOf(rest) + 1} "${rest.config.name}" (${rest.class_name}): after a layer that was left out`);
      break;
    }
  }
  const outputOf = previous === undefined ? undefined : blockOf.get(previous);
  if (!outputOf || blocks.length < 2) throw new ImportError(`${opts.source}: no layer after the input could be imported`);
  // A softmax at the end is a classifier; anything else is trained to give back its input.
  const classifier = lastActivation === 'softmax';
  const outputId = idFor(classifier ? 'labels' : 'reconstruction', used);
  blocks.push({ id: outputId, type: 'Output', params: { target: classifier ? 'labels' : 'input' } });
  edges.push({ from: outputOf, to: outputId });
  // MNIST when the input has its shape; any other data is the user's to pick (Select Dataset…).
  const mnistLike = JSON.stringify(inputShape) === '[784]' || JSON.stringify(inputShape) === '[28,28,1]';
  const document: Record<string, unknown> = {
    formatVersion: 1,
    name: opts.name ?? model.config.name ?? 'Imported model',
    description: `Imported from ${opts.source}${skipped.length ? ` (partly: ${skipped.length} layer(s) left out)` : ''}.`,
    // What --partial left out stays in the graph, a warning each in the editor (core/analyze.ts).
    ...(skipped.length ? { leftOut: skipped } : {}),
    nodes: blocks,
    edges,
    // Top to bottom in the model's order, as the samples are laid out (Auto layout rearranges it).
    layout: Object.fromEntries(blocks.map((b, i) => [b.id, { x: 0, y: i * 150 }])),
    training: {
      ...(mnistLike ? { dataset: 'mnist' } : {}),
      loss: classifier ? 'categoricalCrossentropy' : lastActivation === 'sigmoid' ? 'binaryCrossentropy' : 'meanSquaredError',
      optimizer: 'adam',
      ...(classifier ? { metrics: ['accuracy'] } : {}),
    },
  };
  // A chain that is an autoencoder the blocks express exactly: Encoder, Bottleneck and Decoder, as the samples draw it.
  const chain = edges.length === blocks.length - 1 && edges.every((e, j) => e.from === blocks[j]!.id && e.to === blocks[j + 1]!.id);
  const grouped = opts.group !== false && skipped.length === 0 && chain ? groupAutoencoder(document, blocks, (name) => idFor(name, used)) : undefined;
  if (grouped) {
    document.nodes = grouped.blocks;
    document.edges = grouped.edges;
    document.layout = Object.fromEntries(grouped.blocks.map((b, i) => [b.id, { x: 0, y: i * 150 }]));
    for (const [name, id] of blockOf) blockOf.set(name, grouped.layerOf.get(id) ?? id);
  }
  return { document, blockOf, skipped, layerCount: layers.length, grouped: grouped !== undefined };
}
