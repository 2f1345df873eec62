/**
 * A TensorFlow.js layers model (the functional models src/compile builds, as `export` writes them)
 * as an ONNX model: opset 17, the trained weights as initializers, NHWC inputs and outputs as our
 * models take them (convolutions and pooling run in ONNX's NCHW between two Transposes, which
 * runtimes fold away), inference semantics (noise and dropout are identities, the variational
 * code's Sampling gives z_mean), named inputs and outputs, and metadata. The protobuf is written
 * with onnx-proto (protobufjs); the layer-to-operator mapping is ours, with Keras' padding rules.
 */
import { onnx } from 'onnx-proto';
import { UserError } from '../core/errors';
import type { KerasLayer, NamedWeight, TfjsModelJson } from './tfjsModel';

export const ONNX_OPSET = 17;
/** IR version 8 is the one of opsets 17 and 18. */
const IR_VERSION = 8;

export interface OnnxExportOptions {
  /** The sub-model's name (autoencoder, encoder, decoder, classifier): the graph's name and the outputs'. */
  readonly modelName: string;
  readonly producerVersion: string;
  /** Written as metadata_props, e.g. graph name, normalization, class names, threshold. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Where the model came from, for error sentences. */
  readonly file: string;
}

export interface OnnxModel {
  readonly bytes: Uint8Array;
  readonly inputName: string;
  readonly outputName: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape: readonly (number | null)[];
  /** The ONNX operators used, for reports and tests. */
  readonly operators: readonly string[];
}

/** What each sub-model's output is called in the ONNX file. */
const OUTPUT_NAMES: Record<string, string> = { autoencoder: 'reconstruction', decoder: 'reconstruction', encoder: 'code', classifier: 'probabilities' };

type Shape = (number | null)[];

const num = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what} is not a number`);
  return v;
};
const pair = (v: unknown, what: string): [number, number] => {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [num(v[0], what), num(v[1], what)];
  throw new Error(`${what} is not a pair of numbers`);
};

/** Keras' "same" padding of one spatial axis: out = ceil(in / s); the odd pixel goes after. */
function samePads(size: number, kernel: number, stride: number, dilation = 1): [number, number, number] {
  const out = Math.ceil(size / stride);
  const effective = (kernel - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before, out];
}

class Builder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private counter = 0;

  fresh(base: string): string {
    return `${base}__${this.counter++}`;
  }

  node(op: string, inputs: string[], output: string, attrs: onnx.IAttributeProto[] = [], name?: string): string {
    this.nodes.push({ opType: op, input: inputs, output: [output], name: name ?? this.fresh(op), attribute: attrs });
    return output;
  }

  floats(name: string, dims: readonly number[], values: Float32Array): string {
    const raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    this.initializers.push({ name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw.slice() });
    return name;
  }

  int64s(name: string, values: readonly number[]): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }
}

const ints = (name: string, values: readonly number[]): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] });
const int = (name: string, value: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
const float = (name: string, value: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value });
const str = (name: string, value: string): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) });

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

/** Transposes `x` (NHWC) to NCHW, runs `body` on it, and transposes the result back. */
function inNchw(b: Builder, x: string, name: string, body: (nchw: string) => string): string {
  const nchw = b.node('Transpose', [x], b.fresh(`${name}/nchw`), [ints('perm', TO_NCHW)]);
  return b.node('Transpose', [body(nchw)], b.fresh(`${name}/nhwc`), [ints('perm', TO_NHWC)]);
}

function activation(b: Builder, x: string, act: unknown, name: string): string {
  const a = act === undefined || act === null ? 'linear' : String(act);
  const out = b.fresh(`${name}/${a}`);
  switch (a) {
    case 'linear':
      return x;
    case 'relu':
      return b.node('Relu', [x], out);
    case 'sigmoid':
      return b.node('Sigmoid', [x], out);
    case 'tanh':
      return b.node('Tanh', [x], out);
    case 'softmax':
      return b.node('Softmax', [x], out, [int('axis', -1)]);
    case 'elu':
      return b.node('Elu', [x], out, [float('alpha', 1)]);
    case 'selu':
      // tfjs' constants (ONNX's defaults are the same numbers rounded differently in float32).
      return b.node('Selu', [x], out, [float('alpha', 1.6732632423543772), float('gamma', 1.0507009873554805)]);
    default:
      throw new Error(`activation "${a}" has no ONNX counterpart here`);
  }
}

/** A weight of `layer` by its short name (kernel, bias, gamma…), checked against `shape` when given. */
function weight(weights: ReadonlyMap<string, NamedWeight>, layer: string, short: string, shape?: readonly number[]): NamedWeight {
  const w = weights.get(`${layer}/${short}`);
  if (!w) throw new Error(`its weight "${layer}/${short}" is not in the weights manifest`);
  if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))) {
    throw new Error(`its weight "${layer}/${short}" has shape ${JSON.stringify(w.shape)}, the layer needs ${JSON.stringify(shape)}`);
  }
  return w;
}

/** `values` of shape `dims` transposed by `perm`. */
function transpose(values: Float32Array, dims: readonly number[], perm: readonly number[]): { values: Float32Array; dims: number[] } {
  const outDims = perm.map((p) => dims[p]!);
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(values.length);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < perm.length; k++) src += idx[k]! * strides[perm[k]!]!;
    out[o] = values[src]!;
    for (let k = perm.length - 1; k >= 0; k--) {
      if (++idx[k]! < outDims[k]!) break;
      idx[k] = 0;
    }
  }
  return { values: out, dims: outDims };
}

interface Lowered {
  readonly tensor: string;
  readonly shape: Shape;
}

/** One Keras layer as ONNX nodes: its output tensor and (static, batch null) shape. */
function lower(b: Builder, layer: KerasLayer, inputs: readonly Lowered[], weights: ReadonlyMap<string, NamedWeight>): Lowered {
  const c = layer.config;
  const name = c.name;
  const [x] = inputs;
  if (!x) throw new Error('it has no input');
  const s = x.shape;
  const spatial = (): [number, number, number] => {
    if (s.length !== 4 || s.slice(1).some((d) => d === null)) throw new Error(`it needs a known [batch, height, width, channels] input, not ${JSON.stringify(s)}`);
    if (c.data_format !== undefined && c.data_format !== 'channels_last') throw new Error(`data_format "${String(c.data_format)}" (only channels_last)`);
    return [s[1]!, s[2]!, s[3]!];
  };
  switch (layer.class_name) {
    case 'Dense': {
      const units = num(c.units, 'units');
      const inDim = s.at(-1);
      if (typeof inDim !== 'number') throw new Error(`its input's last axis is unknown (${JSON.stringify(s)})`);
      const kernel = weight(weights, name, 'kernel', [inDim, units]);
      let y = b.node('MatMul', [x.tensor, b.floats(`${name}/kernel`, kernel.shape, kernel.values)], b.fresh(`${name}/matmul`));
      if (c.use_bias !== false) y = b.node('Add', [y, b.floats(`${name}/bias`, [units], weight(weights, name, 'bias', [units]).values)], b.fresh(`${name}/add`));
      return { tensor: activation(b, y, c.activation, name), shape: [...s.slice(0, -1), units] };
    }
    case 'Conv2D': {
      const [h, w, ch] = spatial();
      const filters = num(c.filters, 'filters');
      const [kh, kw] = pair(c.kernel_size, 'kernel_size');
      const [sh, sw] = pair(c.strides ?? 1, 'strides');
      const [dh, dw] = pair(c.dilation_rate ?? 1, 'dilation_rate');
      const kernel = weight(weights, name, 'kernel', [kh, kw, ch, filters]);
      const t = transpose(kernel.values, kernel.shape, [3, 2, 0, 1]);
      let pads = [0, 0, 0, 0];
      let oh: number;
      let ow: number;
      if (c.padding === 'same') {
        const [t0, b0, o0] = samePads(h, kh, sh, dh);
        const [l0, r0, o1] = samePads(w, kw, sw, dw);
        pads = [t0, l0, b0, r0];
        [oh, ow] = [o0, o1];
      } else if (c.padding === 'valid' || c.padding === undefined) {
        oh = Math.floor((h - ((kh - 1) * dh + 1)) / sh) + 1;
        ow = Math.floor((w - ((kw - 1) * dw + 1)) / sw) + 1;
      } else throw new Error(`padding "${String(c.padding)}"`);
      const convInputs = (nchw: string): string[] => [nchw, b.floats(`${name}/kernel`, t.dims, t.values), ...(c.use_bias !== false ? [b.floats(`${name}/bias`, [filters], weight(weights, name, 'bias', [filters]).values)] : [])];
      const y = inNchw(b, x.tensor, name, (nchw) =>
        b.node('Conv', convInputs(nchw), b.fresh(`${name}/conv`), [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('dilations', [dh, dw]), ints('pads', pads)]),
      );
      return { tensor: activation(b, y, c.activation, name), shape: [null, oh, ow, filters] };
    }
    case 'Conv2DTranspose': {
      const [h, w, ch] = spatial();
      const filters = num(c.filters, 'filters');
      const [kh, kw] = pair(c.kernel_size, 'kernel_size');
      const [sh, sw] = pair(c.strides ?? 1, 'strides');
      if (pair(c.dilation_rate ?? 1, 'dilation_rate').some((d) => d !== 1)) throw new Error('a dilated Conv2DTranspose');
      // tfjs' kernel is [h, w, out, in]; ONNX's ConvTranspose takes [in, out, h, w].
      const kernel = weight(weights, name, 'kernel', [kh, kw, filters, ch]);
      const t = transpose(kernel.values, kernel.shape, [3, 2, 0, 1]);
      const axis = (size: number, k: number, st: number): { out: number; before: number; after: number; extra: number } => {
        if (c.padding === 'same') {
          // The gradient of a "same" convolution from size·s to size: its padding, and any missing pixels at the end.
          const total = Math.max(k - st, 0);
          const before = Math.floor(total / 2);
          return { out: size * st, before, after: total - before, extra: Math.max(st - k, 0) };
        }
        return { out: (size - 1) * st + k, before: 0, after: 0, extra: 0 };
      };
      const ah = axis(h, kh, sh);
      const aw = axis(w, kw, sw);
      const y = inNchw(b, x.tensor, name, (nchw) =>
        b.node(
          'ConvTranspose',
          [nchw, b.floats(`${name}/kernel`, t.dims, t.values), ...(c.use_bias !== false ? [b.floats(`${name}/bias`, [filters], weight(weights, name, 'bias', [filters]).values)] : [])],
          b.fresh(`${name}/convT`),
          [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('pads', [ah.before, aw.before, ah.after, aw.after]), ints('output_padding', [ah.extra, aw.extra])],
        ),
      );
      return { tensor: activation(b, y, c.activation, name), shape: [null, ah.out, aw.out, filters] };
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const [h, w, ch] = spatial();
      const [kh, kw] = pair(c.pool_size ?? 2, 'pool_size');
      const [sh, sw] = pair(c.strides ?? c.pool_size ?? 2, 'strides');
      let pads = [0, 0, 0, 0];
      let oh: number;
      let ow: number;
      if (c.padding === 'same') {
        const [t0, b0, o0] = samePads(h, kh, sh);
        const [l0, r0, o1] = samePads(w, kw, sw);
        pads = [t0, l0, b0, r0];
        [oh, ow] = [o0, o1];
      } else {
        oh = Math.floor((h - kh) / sh) + 1;
        ow = Math.floor((w - kw) / sw) + 1;
      }
      const max = layer.class_name === 'MaxPooling2D';
      const y = inNchw(b, x.tensor, name, (nchw) =>
        b.node(max ? 'MaxPool' : 'AveragePool', [nchw], b.fresh(`${name}/pool`), [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('pads', pads), ...(max ? [] : [int('count_include_pad', 0)])]),
      );
      return { tensor: y, shape: [null, oh, ow, ch] };
    }
    case 'UpSampling2D': {
      const [h, w, ch] = spatial();
      const [fh, fw] = pair(c.size ?? 2, 'size');
      if (c.interpolation !== undefined && c.interpolation !== 'nearest') throw new Error(`interpolation "${String(c.interpolation)}" (only nearest)`);
      const scales = b.floats(b.fresh(`${name}/scales`), [4], new Float32Array([1, 1, fh, fw]));
      const y = inNchw(b, x.tensor, name, (nchw) =>
        b.node('Resize', [nchw, '', scales], b.fresh(`${name}/resize`), [str('mode', 'nearest'), str('coordinate_transformation_mode', 'asymmetric'), str('nearest_mode', 'floor')]),
      );
      return { tensor: y, shape: [null, h * fh, w * fw, ch] };
    }
    case 'Flatten': {
      const rest = s.slice(1);
      if (rest.some((d) => d === null)) throw new Error(`it needs a known input shape, not ${JSON.stringify(s)}`);
      return { tensor: b.node('Flatten', [x.tensor], b.fresh(`${name}/flatten`), [int('axis', 1)]), shape: [null, (rest as number[]).reduce((p, q) => p * q, 1)] };
    }
    case 'Reshape': {
      const target = c.target_shape;
      if (!Array.isArray(target) || target.some((d) => typeof d !== 'number')) throw new Error('target_shape is not a list of numbers');
      const dims = target as number[];
      const shape = b.int64s(b.fresh(`${name}/shape`), [-1, ...dims]);
      return { tensor: b.node('Reshape', [x.tensor, shape], b.fresh(`${name}/reshape`)), shape: [null, ...dims] };
    }
    case 'BatchNormalization': {
      const axis = c.axis;
      const last = s.length - 1;
      const axes = Array.isArray(axis) ? axis : [axis ?? -1];
      if (axes.length !== 1 || (axes[0] !== -1 && axes[0] !== last)) throw new Error(`axis ${JSON.stringify(axis)} (only the last axis)`);
      const n = s[last];
      if (typeof n !== 'number') throw new Error('its channel axis is unknown');
      const eps = typeof c.epsilon === 'number' ? c.epsilon : 1e-3;
      const mean = weight(weights, name, 'moving_mean', [n]).values;
      const variance = weight(weights, name, 'moving_variance', [n]).values;
      const gamma = c.scale === false ? undefined : weight(weights, name, 'gamma', [n]).values;
      const beta = c.center === false ? undefined : weight(weights, name, 'beta', [n]).values;
      // Inference: y = (x - mean) / sqrt(var + eps) * gamma + beta, folded into one scale and one shift.
      const scale = new Float32Array(n);
      const shift = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const a = (gamma?.[i] ?? 1) / Math.sqrt(variance[i]! + eps);
        scale[i] = a;
        shift[i] = (beta?.[i] ?? 0) - mean[i]! * a;
      }
      const y = b.node('Mul', [x.tensor, b.floats(`${name}/scale`, [n], scale)], b.fresh(`${name}/mul`));
      return { tensor: b.node('Add', [y, b.floats(`${name}/shift`, [n], shift)], b.fresh(`${name}/add`)), shape: s };
    }
    case 'Activation':
      return { tensor: activation(b, x.tensor, c.activation, name), shape: s };
    case 'ReLU':
      return { tensor: b.node('Relu', [x.tensor], b.fresh(`${name}/relu`)), shape: s };
    case 'LeakyReLU':
      return { tensor: b.node('LeakyRelu', [x.tensor], b.fresh(`${name}/leaky`), [float('alpha', typeof c.alpha === 'number' ? c.alpha : 0.3)]), shape: s };
    case 'Softmax':
      return { tensor: b.node('Softmax', [x.tensor], b.fresh(`${name}/softmax`), [int('axis', -1)]), shape: s };
    // Training-only layers are identities at inference, as in Keras.
    case 'Dropout':
    case 'SpatialDropout2D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
    case 'MaskingNoise':
      return x;
    case 'Sampling':
      // The variational code at inference: z = z_mean (its first input).
      return x;
    default:
      throw new Error('this layer type has no ONNX export');
  }
}

function valueInfo(name: string, shape: readonly (number | null)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => (d === null ? { dimParam: 'batch' } : { dimValue: d })) } } },
  };
}

/** The layers model `model` with `weights` as an ONNX file. */
export function tfjsToOnnx(model: TfjsModelJson, weights: ReadonlyMap<string, NamedWeight>, opts: OnnxExportOptions): OnnxModel {
  const cfg = model.modelTopology.config;
  const layers = cfg.layers;
  const b = new Builder();
  const tensors = new Map<string, Lowered>();
  const inputLayers = layers.filter((l) => l.class_name === 'InputLayer');
  if (inputLayers.length !== 1) throw new UserError(`${opts.file}: ${inputLayers.length} input layers; the ONNX export takes models with one input`, opts.file);
  const sequential = model.modelTopology.class_name === 'Sequential';
  let previous: string | undefined;
  for (const [position, layer] of layers.entries()) {
    const name = layer.config.name;
    const where = `layer ${position + 1} "${name}" (${layer.class_name})`;
    try {
      if (layer.class_name === 'InputLayer') {
        const shape = layer.config.batch_input_shape ?? layer.config.batch_shape;
        if (!Array.isArray(shape) || shape.slice(1).some((d) => typeof d !== 'number')) throw new Error('its batch_input_shape is not [null, sizes…]');
        tensors.set(name, { tensor: name, shape: [null, ...(shape.slice(1) as number[])] });
        previous = name;
        continue;
      }
      const inbound = layer.inbound_nodes ?? [];
      if (inbound.length > 1) throw new Error('a layer called more than once (shared layers) is not exported');
      const from = sequential || inbound.length === 0 ? (previous ? [previous] : []) : inbound[0]!.map((ref) => ref[0]);
      const inputs = from.map((f) => {
        const t = tensors.get(f);
        if (!t) throw new Error(`its input "${f}" is not an earlier layer`);
        return t;
      });
      tensors.set(name, lower(b, layer, inputs, weights));
      previous = name;
    } catch (e) {
      throw new UserError(`${opts.file}: ${where}: ${e instanceof Error ? e.message : String(e)}`, opts.file);
    }
  }
  const outputLayer = cfg.output_layers?.[0]?.[0] ?? previous;
  if ((cfg.output_layers?.length ?? 1) !== 1) throw new UserError(`${opts.file}: ${cfg.output_layers?.length} outputs; the ONNX export takes models with one output`, opts.file);
  const last = outputLayer === undefined ? undefined : tensors.get(outputLayer);
  if (!last) throw new UserError(`${opts.file}: the output layer "${String(outputLayer)}" is not a layer of the model`, opts.file);
  const inputName = inputLayers[0]!.config.name;
  const outputName = OUTPUT_NAMES[opts.modelName] ?? 'output';
  b.node('Identity', [last.tensor], outputName, [], 'output');
  // Only what the output depends on: a variational code's z_log_var branch is not (Sampling gives z_mean).
  const needed = new Set<string>([outputName]);
  const kept: onnx.INodeProto[] = [];
  for (const node of [...b.nodes].reverse()) {
    if (!(node.output ?? []).some((o) => needed.has(o))) continue;
    kept.unshift(node);
    for (const i of node.input ?? []) needed.add(i);
  }
  const graph: onnx.IGraphProto = {
    name: opts.modelName,
    node: kept,
    initializer: b.initializers.filter((t) => needed.has(t.name ?? '')),
    input: [valueInfo(inputName, tensors.get(inputName)!.shape)],
    output: [valueInfo(outputName, last.shape)],
  };
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'Latent Studio',
    producerVersion: opts.producerVersion,
    graph,
    metadataProps: Object.entries({ layout: 'NHWC (channels last), as the model was trained', ...opts.metadata }).map(([key, value]) => ({ key, value })),
  });
  return {
    bytes: onnx.ModelProto.encode(proto).finish(),
    inputName,
    outputName,
    inputShape: tensors.get(inputName)!.shape,
    outputShape: last.shape,
    operators: [...new Set(kept.map((n) => n.opType ?? ''))].sort(),
  };
}
