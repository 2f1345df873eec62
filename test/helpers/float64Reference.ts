/**
 * Plain float64 JavaScript forward passes of the blocks Latent Studio trains (NHWC, Keras/tfjs
 * semantics), and central-difference gradients of them: the oracle test/backend/gradients.test.ts
 * checks every tfjs backend against. Written for clarity, not speed: the tensors are tiny.
 */

export interface T64 {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export type Padding = 'same' | 'valid';
export type Pair = readonly [number, number];

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const t64 = (shape: readonly number[], data?: ArrayLike<number>): T64 => ({ shape, data: data ? Float64Array.from(data) : new Float64Array(size(shape)) });

/** Values exactly representable in float32, so the backends see the same numbers. */
export function float32Values(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

/** Output length and leading pad of one spatial dimension of a convolution / pooling window. */
export function convGeometry(inSize: number, k: number, stride: number, padding: Padding): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.ceil((inSize - k + 1) / stride), before: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max(0, (out - 1) * stride + k - inSize);
  return { out, before: Math.floor(total / 2) };
}

export type Activation64 = 'linear' | 'sigmoid' | 'tanh' | 'relu';

export function dense(x: T64, kernel: T64, bias: T64 | null, activation: Activation64 = 'linear'): T64 {
  const [n, inDim] = x.shape as [number, number];
  const units = kernel.shape[1]!;
  const y = t64([n, units]);
  for (let i = 0; i < n; i++) {
    for (let u = 0; u < units; u++) {
      let s = bias ? bias.data[u]! : 0;
      for (let k = 0; k < inDim; k++) s += x.data[i * inDim + k]! * kernel.data[k * units + u]!;
      y.data[i * units + u] = activate(s, activation);
    }
  }
  return y;
}

function activate(v: number, a: Activation64): number {
  return a === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : a === 'tanh' ? Math.tanh(v) : a === 'relu' ? Math.max(0, v) : v;
}

/** Conv2D: kernel [kh, kw, inC, outC]. */
export function conv2d(x: T64, kernel: T64, bias: T64 | null, strides: Pair, padding: Padding, activation: Activation64 = 'linear'): T64 {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [kh, kw, , co] = kernel.shape as [number, number, number, number];
  const gh = convGeometry(h, kh, strides[0], padding);
  const gw = convGeometry(w, kw, strides[1], padding);
  const y = t64([n, gh.out, gw.out, co]);
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < gh.out; oh++)
      for (let ow = 0; ow < gw.out; ow++)
        for (let o = 0; o < co; o++) {
          let s = bias ? bias.data[o]! : 0;
          for (let i = 0; i < kh; i++) {
            const ih = oh * strides[0] + i - gh.before;
            if (ih < 0 || ih >= h) continue;
            for (let j = 0; j < kw; j++) {
              const iw = ow * strides[1] + j - gw.before;
              if (iw < 0 || iw >= w) continue;
              for (let ci = 0; ci < c; ci++) s += x.data[((b * h + ih) * w + iw) * c + ci]! * kernel.data[((i * kw + j) * c + ci) * co + o]!;
            }
          }
          y.data[((b * gh.out + oh) * gw.out + ow) * co + o] = activate(s, activation);
        }
  return y;
}

/** Output length of Conv2DTranspose along one dimension (tfjs-layers / Keras deconvLength). */
export function deconvLength(inSize: number, k: number, stride: number, padding: Padding): number {
  return padding === 'same' ? inSize * stride : inSize * stride + Math.max(k - stride, 0);
}

/**
 * Conv2DTranspose: kernel [kh, kw, outC, inC]; the adjoint of the Conv2D that maps the output
 * shape back to the input shape, so each input pixel scatters kernel-weighted copies of itself.
 */
export function conv2dTranspose(x: T64, kernel: T64, bias: T64 | null, strides: Pair, padding: Padding): T64 {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const [kh, kw, co] = kernel.shape as [number, number, number, number];
  const oh = deconvLength(h, kh, strides[0], padding);
  const ow = deconvLength(w, kw, strides[1], padding);
  const top = convGeometry(oh, kh, strides[0], padding).before;
  const left = convGeometry(ow, kw, strides[1], padding).before;
  const y = t64([n, oh, ow, co]);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < oh; r++) for (let c = 0; c < ow; c++) for (let o = 0; o < co; o++) y.data[((b * oh + r) * ow + c) * co + o] = bias ? bias.data[o]! : 0;
  for (let b = 0; b < n; b++)
    for (let ih = 0; ih < h; ih++)
      for (let iw = 0; iw < w; iw++)
        for (let i = 0; i < kh; i++) {
          const r = ih * strides[0] + i - top;
          if (r < 0 || r >= oh) continue;
          for (let j = 0; j < kw; j++) {
            const c = iw * strides[1] + j - left;
            if (c < 0 || c >= ow) continue;
            for (let o = 0; o < co; o++) {
              let s = 0;
              for (let k = 0; k < ci; k++) s += x.data[((b * h + ih) * w + iw) * ci + k]! * kernel.data[((i * kw + j) * co + o) * ci + k]!;
              y.data[((b * oh + r) * ow + c) * co + o]! += s;
            }
          }
        }
  return y;
}

export function maxPool(x: T64, pool: Pair, strides: Pair, padding: Padding): T64 {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const gh = convGeometry(h, pool[0], strides[0], padding);
  const gw = convGeometry(w, pool[1], strides[1], padding);
  const y = t64([n, gh.out, gw.out, c]);
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < gh.out; oh++)
      for (let ow = 0; ow < gw.out; ow++)
        for (let ch = 0; ch < c; ch++) {
          let m = -Infinity;
          for (let i = 0; i < pool[0]; i++) {
            const ih = oh * strides[0] + i - gh.before;
            if (ih < 0 || ih >= h) continue;
            for (let j = 0; j < pool[1]; j++) {
              const iw = ow * strides[1] + j - gw.before;
              if (iw >= 0 && iw < w) m = Math.max(m, x.data[((b * h + ih) * w + iw) * c + ch]!);
            }
          }
          y.data[((b * gh.out + oh) * gw.out + ow) * c + ch] = m;
        }
  return y;
}

/** UpSampling2D (nearest): every pixel becomes a size[0] x size[1] block. */
export function upSampling(x: T64, factor: Pair): T64 {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const oh = h * factor[0];
  const ow = w * factor[1];
  const y = t64([n, oh, ow, c]);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < oh; r++)
      for (let col = 0; col < ow; col++)
        for (let ch = 0; ch < c; ch++) y.data[((b * oh + r) * ow + col) * c + ch] = x.data[((b * h + Math.floor(r / factor[0])) * w + Math.floor(col / factor[1])) * c + ch]!;
  return y;
}

/** Per-channel (last axis) batch mean and biased variance over every other axis. */
export function batchMoments(x: T64): { mean: Float64Array; variance: Float64Array } {
  const c = x.shape[x.shape.length - 1]!;
  const count = x.data.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let i = 0; i < x.data.length; i++) mean[i % c]! += x.data[i]! / count;
  for (let i = 0; i < x.data.length; i++) variance[i % c]! += (x.data[i]! - mean[i % c]!) ** 2 / count;
  return { mean, variance };
}

/** BatchNormalization in training mode: normalised with the batch's own statistics. */
export function batchNormTraining(x: T64, gamma: T64, beta: T64, epsilon: number): T64 {
  const c = x.shape[x.shape.length - 1]!;
  const { mean, variance } = batchMoments(x);
  const y = t64(x.shape);
  for (let i = 0; i < x.data.length; i++) {
    const ch = i % c;
    y.data[i] = (gamma.data[ch]! * (x.data[i]! - mean[ch]!)) / Math.sqrt(variance[ch]! + epsilon) + beta.data[ch]!;
  }
  return y;
}

/** The test loss: sum(r * y) + 0.25 * sum(y^2) (+ extra), so dL/dy = r + y / 2 depends on y. */
export function testLoss(y: Float64Array, r: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i]! * y[i]! + 0.25 * y[i]! * y[i]!;
  return s;
}

/** Central differences of `f` with respect to every element of every tensor in `params`. */
export function numericGradients(f: (params: readonly T64[]) => number, params: readonly T64[], eps = 1e-4): Float64Array[] {
  return params.map((p) => {
    const g = new Float64Array(p.data.length);
    for (let i = 0; i < p.data.length; i++) {
      const keep = p.data[i]!;
      p.data[i] = keep + eps;
      const up = f(params);
      p.data[i] = keep - eps;
      const down = f(params);
      p.data[i] = keep;
      g[i] = (up - down) / (2 * eps);
    }
    return g;
  });
}

/** Largest |a - b|, where, and the scale it is judged against (max |b|, at least 1). */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>): { maxErr: number; at: number; scale: number } {
  if (actual.length !== expected.length) return { maxErr: Infinity, at: -1, scale: 1 };
  let maxErr = 0;
  let at = -1;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    if (!Number.isFinite(err)) return { maxErr: Infinity, at: i, scale: Math.max(scale, Math.abs(expected[i]!) || 1) };
    if (err > maxErr) {
      maxErr = err;
      at = i;
    }
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return { maxErr, at, scale };
}
