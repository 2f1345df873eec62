/**
 * Primitive layers: what every block expands into. Output shapes and parameter counts follow
 * Keras exactly (the tfjs-layers port shares its rules), so summaries match `model.summary()`.
 */
import type { Activation } from './format';
import { type Shape, formatShape, shapeSize } from './shape';

export type Padding = 'same' | 'valid';
export type Pair = readonly [number, number];

export type LayerSpec =
  | { kind: 'dense'; units: number; activation: Activation; useBias: boolean }
  | { kind: 'conv2d'; filters: number; kernelSize: Pair; strides: Pair; padding: Padding; activation: Activation }
  | { kind: 'conv2dTranspose'; filters: number; kernelSize: Pair; strides: Pair; padding: Padding; activation: Activation }
  | { kind: 'maxPooling2d'; poolSize: Pair; strides: Pair; padding: Padding }
  | { kind: 'upSampling2d'; size: Pair }
  | { kind: 'flatten' }
  | { kind: 'reshape'; targetShape: Shape }
  | { kind: 'dropout'; rate: number }
  | { kind: 'batchNormalization'; momentum: number; epsilon: number }
  | { kind: 'gaussianNoise'; stddev: number }
  /** Masking noise (denoising autoencoders): zeroes each value with probability `rate` while training, no rescaling. */
  | { kind: 'maskingNoise'; rate: number }
  /**
   * A VAE's reparameterised sampling: takes [z_mean, z_log_var], gives z = z_mean + exp(z_log_var / 2) * eps
   * with eps ~ N(0, 1) while training and z_mean otherwise, and adds `klWeight` times the KL divergence
   * from N(0, 1) to the loss (see compile/customLayers.ts).
   */
  | { kind: 'sampling'; klWeight: number }
  | { kind: 'activation'; activation: Activation };

export type LayerKind = LayerSpec['kind'];

/** Keras' class names, used in summaries so they read like `model.summary()`. */
export const KERAS_CLASS: Record<LayerKind, string> = {
  dense: 'Dense',
  conv2d: 'Conv2D',
  conv2dTranspose: 'Conv2DTranspose',
  maxPooling2d: 'MaxPooling2D',
  upSampling2d: 'UpSampling2D',
  flatten: 'Flatten',
  reshape: 'Reshape',
  dropout: 'Dropout',
  batchNormalization: 'BatchNormalization',
  gaussianNoise: 'GaussianNoise',
  maskingNoise: 'MaskingNoise',
  sampling: 'Sampling',
  activation: 'Activation',
};

export interface LayerShapeResult {
  readonly ok: true;
  readonly shape: Shape;
  readonly trainableParams: number;
  readonly nonTrainableParams: number;
}
export interface LayerShapeError {
  readonly ok: false;
  readonly message: string;
}

function fail(message: string): LayerShapeError {
  return { ok: false, message };
}
function ok(shape: Shape, trainableParams = 0, nonTrainableParams = 0): LayerShapeResult {
  return { ok: true, shape, trainableParams, nonTrainableParams };
}

function convOut(size: number, kernel: number, stride: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - kernel) / stride) + 1;
}

function deconvOut(size: number, kernel: number, stride: number, padding: Padding): number {
  return padding === 'same' ? size * stride : size * stride + Math.max(kernel - stride, 0);
}

function needsImage(what: string, input: Shape): LayerShapeError | null {
  if (input.length === 3) return null;
  return fail(
    `${what} needs an image input (height x width x channels) but receives the ${formatShape(input)} ` +
      `${input.length === 1 ? 'vector: add a Reshape before it (e.g. to 28x28x1)' : 'tensor'}.`,
  );
}

/** Output shape and parameter counts of one primitive layer, or why it cannot take `input`. */
export function layerOutput(spec: LayerSpec, input: Shape): LayerShapeResult | LayerShapeError {
  switch (spec.kind) {
    case 'dense': {
      // Keras applies Dense to the last axis, whatever the rank.
      const last = input[input.length - 1] ?? 0;
      const params = last * spec.units + (spec.useBias ? spec.units : 0);
      return ok([...input.slice(0, -1), spec.units], params);
    }
    case 'conv2d':
    case 'conv2dTranspose': {
      const what = spec.kind === 'conv2d' ? 'Conv2D' : 'Conv2DTranspose';
      const bad = needsImage(what, input);
      if (bad) return bad;
      const [h, w, c] = input as [number, number, number];
      const [kh, kw] = spec.kernelSize;
      const [sh, sw] = spec.strides;
      const out =
        spec.kind === 'conv2d'
          ? [convOut(h, kh, sh, spec.padding), convOut(w, kw, sw, spec.padding)]
          : [deconvOut(h, kh, sh, spec.padding), deconvOut(w, kw, sw, spec.padding)];
      if (out[0]! < 1 || out[1]! < 1) {
        return fail(
          `${what} with a ${kh}x${kw} kernel and "valid" padding cannot shrink a ${h}x${w} input: ` +
            `use padding "same" or a smaller kernel.`,
        );
      }
      return ok([out[0]!, out[1]!, spec.filters], kh * kw * c * spec.filters + spec.filters);
    }
    case 'maxPooling2d': {
      const bad = needsImage('MaxPooling2D', input);
      if (bad) return bad;
      const [h, w, c] = input as [number, number, number];
      const [ph, pw] = spec.poolSize;
      const oh = convOut(h, ph, spec.strides[0], spec.padding);
      const ow = convOut(w, pw, spec.strides[1], spec.padding);
      if (oh < 1 || ow < 1) {
        return fail(`MaxPooling2D of ${ph}x${pw} cannot pool a ${h}x${w} input with "valid" padding: use "same".`);
      }
      return ok([oh, ow, c]);
    }
    case 'upSampling2d': {
      const bad = needsImage('UpSampling2D', input);
      if (bad) return bad;
      const [h, w, c] = input as [number, number, number];
      return ok([h * spec.size[0], w * spec.size[1], c]);
    }
    case 'flatten':
      return ok([shapeSize(input)]);
    case 'reshape': {
      const from = shapeSize(input);
      const to = shapeSize(spec.targetShape);
      if (from !== to) {
        return fail(
          `Reshape to ${formatShape(spec.targetShape)} needs ${to} values but receives ` +
            `${input.length > 1 ? `${formatShape(input)} = ${from}` : from}: pick a target shape whose sizes multiply to ${from}.`,
        );
      }
      return ok(spec.targetShape);
    }
    case 'batchNormalization': {
      const c = input[input.length - 1] ?? 0;
      // gamma and beta train; the moving mean and variance do not (Keras counts them apart).
      return ok(input, 2 * c, 2 * c);
    }
    case 'dropout':
    case 'gaussianNoise':
    case 'maskingNoise':
    case 'activation':
      return ok(input);
    case 'sampling':
      // Takes [z_mean, z_log_var] of one shape (core/analyze checks they agree) and gives z of that shape.
      return ok(input);
  }
}

/** The "kernel 3x3, stride 2, same" style description shown in summaries. */
export function describeLayer(spec: LayerSpec): string {
  switch (spec.kind) {
    case 'dense':
      return `${spec.units} units, ${spec.activation}`;
    case 'conv2d':
    case 'conv2dTranspose':
      return `${spec.filters} filters ${spec.kernelSize.join('x')}, stride ${spec.strides.join('x')}, ${spec.padding}, ${spec.activation}`;
    case 'maxPooling2d':
      return `pool ${spec.poolSize.join('x')}, ${spec.padding}`;
    case 'upSampling2d':
      return `x${spec.size.join('x')}`;
    case 'flatten':
      return '';
    case 'reshape':
      return `to ${formatShape(spec.targetShape)}`;
    case 'dropout':
      return `rate ${spec.rate}`;
    case 'batchNormalization':
      return `momentum ${spec.momentum}`;
    case 'gaussianNoise':
      return `stddev ${spec.stddev}`;
    case 'maskingNoise':
      return `rate ${spec.rate}`;
    case 'sampling':
      return `KL weight ${spec.klWeight}`;
    case 'activation':
      return spec.activation;
  }
}
