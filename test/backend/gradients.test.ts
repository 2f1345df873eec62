/**
 * Gradient checks: one training step of every block type Latent Studio compiles, on every tfjs
 * backend that loads here, against float64 central-difference gradients of a plain-JS forward pass
 * (test/helpers/float64Reference.ts), which depends on no backend at all. webgpu runs on lavapipe
 * (a CPU Vulkan driver, scripts/setup-software-gpu.sh) where no GPU is present (test/helpers/softwareGpu.ts).
 *
 * Per case and backend: the forward output (training mode), the loss gradient with respect to the
 * input and every trainable weight, and every variable after one SGD step must match the reference
 * to TOLERANCE, relative to max(1, the largest reference value of that tensor). The loss is
 * sum(r * y) + 0.25 * sum(y^2) (+ the VAE's KL term), so dL/dy varies with y. Stochastic blocks
 * (Dropout, GaussianNoise, MaskingNoise, Sampling) read their mask / noise from the backend's own
 * training output, check its statistics and inference behaviour, and are then differentiated with
 * that mask / noise fixed.
 *
 * Backends are selected through src/backend/select.ts, so each runs with the kernels training uses
 * (src/backend/kernelFixes.ts included). A backend that does not load is skipped with its reason;
 * LATENT_GRADIENT_BACKENDS=cpu,wasm limits the list.
 */
import { skipWithoutWebgpu } from '../helpers/softwareGpu';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '../../src/backend/tf';
import { MaskingNoise, Sampling, collectExtraLosses } from '../../src/compile/customLayers';
import { fusedConv2d, fusedDense } from '../../src/compile/fusedLayers';
import { mulberry32 } from '../../src/data/random';
import { BACKEND_NAMES, type BackendName } from '../../src/core/backends';
import { selectBackend } from '../../src/backend/select';
import * as ref from '../helpers/float64Reference';
import type { T64 } from '../helpers/float64Reference';

/** Largest allowed max-abs error, relative to max(1, max |reference|) of the tensor compared. */
const TOLERANCE = 1e-3;
const LEARNING_RATE = 0.1;

// wasm runs its threaded build here whatever the machine's load (src/backend/kernels/wasm/threads.ts),
// so these checks cover the build that trains on any machine with a spare core.
process.env.LATENT_WASM_THREADS ??= '2';

// tfjs-node-gpu before tfjs-node: both provide the 'tensorflow' backend and only one can load.
const CANDIDATES: readonly BackendName[] = (process.env.LATENT_GRADIENT_BACKENDS?.split(',').map((s) => s.trim()) ?? [
  'cpu',
  'wasm',
  'webgpu',
  'tfjs-node-gpu',
  'tfjs-node',
]).filter((b): b is BackendName => (BACKEND_NAMES as readonly string[]).includes(b));

// ------------------------------------------------------------------------------------------------
// Cases

interface Built {
  /** Forward on the current backend; `extra` is an additional scalar loss term (the VAE's KL). */
  apply(x: tf.Tensor, training: boolean): { y: tf.Tensor; extra?: tf.Scalar };
  /** The trainable variables, in the order of Case.weights. */
  variables: tf.Variable[];
  /** Non-trainable state, read after the training step (BatchNormalization's moving statistics). */
  state?(): Promise<Float32Array[]>;
  dispose(): void;
}

interface Observed {
  backend: string;
  x: T64;
  /** Forward output in training mode (the step's own output). */
  training: Float32Array;
  /** Forward output in inference mode, before the step. */
  inference: Float32Array;
  /** Built.state() after the step. */
  state: Float32Array[];
}

interface Case {
  block: string;
  x: T64;
  weights: { name: string; value: T64 }[];
  build(weights: tf.Tensor[]): Built;
  /** Float64 forward; stochastic blocks read their mask / noise from the observed training output. */
  reference(observed: Observed): (x: T64, w: readonly T64[]) => { y: Float64Array; extra?: number };
  /** Draws unseeded random numbers, so backends cannot be compared with each other (only with the reference). */
  unseeded?: true;
  /** Further checks (statistics, inference mode, moving averages); returns failure lines. */
  check?(observed: Observed, w: readonly T64[]): string[];
}

const seedOf = (s: string): number => [...s].reduce((h, ch) => Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0, 2166136261);

function uniform(shape: readonly number[], seed: number, lo = -1, hi = 1): T64 {
  const rng = mulberry32(seed);
  return ref.t64(shape, ref.float32Values(Array.from({ length: ref.size(shape) }, () => lo + (hi - lo) * rng())));
}

/** Distinct values (gaps of 0.05, so no max-pool window's argmax moves under a 1e-4 nudge), shuffled. */
function distinct(shape: readonly number[], seed: number, offset: number): T64 {
  const n = ref.size(shape);
  const rng = mulberry32(seed);
  const values = Array.from({ length: n }, (_, i) => i * 0.05 + offset);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return ref.t64(shape, ref.float32Values(values));
}

/** x with every value moved at least `gap` away from zero (so a dropped value is unambiguous). */
function awayFromZero(x: T64, gap: number): T64 {
  return ref.t64(x.shape, ref.float32Values(Array.from(x.data, (v) => (v < 0 ? v - gap : v + gap))));
}

function layerBuilt(layer: tf.layers.Layer, xShape: readonly number[], weights: tf.Tensor[]): Built {
  tf.tidy(() => void layer.apply(tf.zeros([...xShape])));
  assert.equal(layer.trainableWeights.length, weights.length, `${layer.getClassName()} has ${layer.trainableWeights.length} trainable weights`);
  layer.trainableWeights.forEach((v, i) => v.write(weights[i]!));
  return {
    apply: (x, training) => ({ y: layer.apply(x, { training }) as tf.Tensor }),
    variables: layer.trainableWeights.map((v) => v.read() as tf.Variable),
    state: () => Promise.all(layer.nonTrainableWeights.map(async (v) => (await v.read().data()) as Float32Array)),
    dispose: () => void layer.dispose(),
  };
}

const yOf = (t: T64): { y: Float64Array } => ({ y: t.data });

/** Dense as compiled (src/compile/fusedLayers.ts: bias and ReLU fused into the matmul while training too). */
function denseCase(activation: 'sigmoid' | 'relu' | 'linear', useBias = true): Case {
  const label = `Dense (${activation}${useBias ? '' : ', no bias'})`;
  const x = uniform([3, 5], seedOf(label));
  const kernel = { name: 'kernel', value: uniform([5, 4], seedOf(label) + 1) };
  const bias = { name: 'bias', value: uniform([4], seedOf(label) + 2, -0.5, 0.5) };
  return {
    block: label,
    x,
    weights: useBias ? [kernel, bias] : [kernel],
    build: (w) => layerBuilt(fusedDense({ units: 4, activation, useBias }), x.shape, w),
    reference: () => (x, [k, b]) => yOf(ref.dense(x, k!, b ?? null, activation)),
  };
}

/** Conv2D as compiled (src/compile/fusedLayers.ts: bias and ReLU fused into the convolution while training too). */
function convCase(label: string, xShape: number[], kernel: [number, number], filters: number, strides: ref.Pair, padding: ref.Padding, activation: 'linear' | 'relu' | 'sigmoid' = 'linear'): Case {
  const x = uniform(xShape, seedOf(label));
  return {
    block: `Conv2D ${label}${activation === 'linear' ? '' : ` (${activation})`}`,
    x,
    weights: [
      { name: 'kernel', value: uniform([...kernel, xShape[3]!, filters], seedOf(label) + 1) },
      { name: 'bias', value: uniform([filters], seedOf(label) + 2, -0.5, 0.5) },
    ],
    build: (w) => layerBuilt(fusedConv2d({ filters, kernelSize: kernel, strides: [...strides], padding, activation }), x.shape, w),
    reference: () => (x, [k, b]) => yOf(ref.conv2d(x, k!, b!, strides, padding, activation)),
  };
}

function convTransposeCase(label: string, xShape: number[], kernel: [number, number], filters: number, strides: ref.Pair, padding: ref.Padding): Case {
  const x = uniform(xShape, seedOf(label));
  return {
    block: `Conv2DTranspose ${label}`,
    x,
    weights: [
      // tfjs-layers' Conv2DTranspose kernel is [kh, kw, filters (out), in channels].
      { name: 'kernel', value: uniform([...kernel, filters, xShape[3]!], seedOf(label) + 1) },
      { name: 'bias', value: uniform([filters], seedOf(label) + 2, -0.5, 0.5) },
    ],
    build: (w) => layerBuilt(tf.layers.conv2dTranspose({ filters, kernelSize: kernel, strides: [...strides], padding }), x.shape, w),
    reference: () => (x, [k, b]) => yOf(ref.conv2dTranspose(x, k!, b!, strides, padding)),
  };
}

function maxPoolCase(label: string, x: T64, pool: ref.Pair, strides: ref.Pair, padding: ref.Padding): Case {
  return {
    block: `MaxPooling2D ${label}`,
    x,
    weights: [],
    build: (w) => layerBuilt(tf.layers.maxPooling2d({ poolSize: [...pool], strides: [...strides], padding }), x.shape, w),
    reference: () => (x) => yOf(ref.maxPool(x, pool, strides, padding)),
  };
}

/** Image 0 entirely negative (every window has no positive value); image 1 mixed, some windows max exactly 0. */
function poolInput(shape: [number, number, number, number], seed: number): T64 {
  const perImage = shape[1] * shape[2] * shape[3];
  const negative = distinct([perImage], seed, -0.05 * perImage - 0.05);
  const mixed = distinct([perImage], seed + 1, -0.05 * Math.floor(perImage * 0.7));
  return ref.t64(shape, [...negative.data, ...mixed.data, ...Array.from({ length: (shape[0] - 2) * perImage }, (_, i) => mixed.data[i % perImage]! + 0.01)]);
}

function upSamplingCase(x: T64, factor: ref.Pair): Case {
  return {
    block: `UpSampling2D ${factor[0]}x${factor[1]} batch ${x.shape[0]}`,
    x,
    weights: [],
    build: (w) => layerBuilt(tf.layers.upSampling2d({ size: [...factor] }), x.shape, w),
    reference: () => (x) => yOf(ref.upSampling(x, factor)),
  };
}

function batchNormCase(label: string, xShape: number[]): Case {
  const x = uniform(xShape, seedOf(label), -2, 3);
  const channels = xShape[xShape.length - 1]!;
  const momentum = 0.9;
  const epsilon = 1e-3;
  return {
    block: `BatchNormalization (training) ${label}`,
    x,
    weights: [
      { name: 'gamma', value: uniform([channels], seedOf(label) + 1, 0.5, 1.5) },
      { name: 'beta', value: uniform([channels], seedOf(label) + 2) },
    ],
    build: (w) => layerBuilt(tf.layers.batchNormalization({ momentum, epsilon }), x.shape, w),
    reference: () => (x, [g, b]) => yOf(ref.batchNormTraining(x, g!, b!, epsilon)),
    check: (o) => {
      // Moving averages start at mean 0, variance 1 and move (1 - momentum) of the way to the batch's.
      const { mean, variance } = ref.batchMoments(o.x);
      const failures: string[] = [];
      const [movingMean, movingVariance] = o.state;
      failures.push(...mismatch(o.backend, 'moving_mean', movingMean!, mean.map((m) => (1 - momentum) * m)));
      failures.push(...mismatch(o.backend, 'moving_variance', movingVariance!, variance.map((v) => 1 - (1 - momentum) * (1 - v))));
      return failures;
    },
  };
}

function dropoutCase(): Case {
  const rate = 0.4;
  const x = awayFromZero(uniform([8, 50], 31), 0.1);
  const kept = (o: Observed): boolean[] => Array.from(o.training, (v) => v !== 0);
  return {
    block: `Dropout rate ${rate}`,
    x,
    weights: [],
    build: (w) => layerBuilt(tf.layers.dropout({ rate, seed: 7 }), x.shape, w),
    reference: (o) => {
      const mask = kept(o);
      return (x) => ({ y: x.data.map((v, i) => (mask[i] ? v / (1 - rate) : 0)) });
    },
    check: (o) => {
      const failures: string[] = [];
      // Every value is either dropped or scaled by 1 / (1 - rate).
      const scaled = o.training.findIndex((v, i) => v !== 0 && Math.abs(v - o.x.data[i]! / (1 - rate)) > 1e-5 * Math.abs(v));
      if (scaled >= 0) failures.push(`${o.backend} / Dropout / output [${scaled}] = ${o.training[scaled]}: neither 0 nor x / (1 - rate) = ${o.x.data[scaled]! / (1 - rate)}`);
      // 400 Bernoulli(0.6) draws: 0.6 +- 0.1 is 4 standard deviations.
      const fraction = kept(o).filter(Boolean).length / o.training.length;
      if (Math.abs(fraction - (1 - rate)) > 0.1) failures.push(`${o.backend} / Dropout / kept fraction ${fraction}, expected ${1 - rate} +- 0.1`);
      failures.push(...mismatch(o.backend, 'inference output (must equal the input)', o.inference, o.x.data, 0));
      return failures;
    },
  };
}

function gaussianNoiseCase(): Case {
  const stddev = 0.5;
  const x = uniform([10, 40], 41);
  return {
    block: `GaussianNoise stddev ${stddev}`,
    x,
    unseeded: true,
    weights: [],
    build: (w) => layerBuilt(tf.layers.gaussianNoise({ stddev }), x.shape, w),
    reference: (o) => {
      const noise = Float64Array.from(o.training, (v, i) => v - o.x.data[i]!);
      return (x) => ({ y: x.data.map((v, i) => v + noise[i]!) });
    },
    check: (o) => {
      const failures: string[] = [];
      const noise = Array.from(o.training, (v, i) => v - o.x.data[i]!);
      const mean = noise.reduce((a, b) => a + b, 0) / noise.length;
      const std = Math.sqrt(noise.reduce((a, b) => a + (b - mean) ** 2, 0) / noise.length);
      // 400 normal draws: the mean's standard error is 0.025, the std's about 0.018.
      if (Math.abs(mean) > 0.1) failures.push(`${o.backend} / GaussianNoise / noise mean ${mean}, expected 0 +- 0.1`);
      if (Math.abs(std - stddev) > 0.1) failures.push(`${o.backend} / GaussianNoise / noise std ${std}, expected ${stddev} +- 0.1`);
      failures.push(...mismatch(o.backend, 'inference output (must equal the input)', o.inference, o.x.data, 0));
      return failures;
    },
  };
}

/** VAE sampling: z = z_mean + exp(0.5 * z_log_var) * eps with eps given, plus the KL term. */
function vaeCase(): Case {
  const x = uniform([4, 5], 51);
  const eps = uniform([4, 3], 52, -2, 2);
  const kl = (mu: Float64Array, lv: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < mu.length; i++) s += 1 + lv[i]! - mu[i]! ** 2 - Math.exp(lv[i]!);
    return (-0.5 * s) / x.shape[0]!;
  };
  return {
    block: 'VAE sampling + KL (Dense z_mean, Dense z_log_var)',
    x,
    weights: [
      { name: 'z_mean kernel', value: uniform([5, 3], 53) },
      { name: 'z_mean bias', value: uniform([3], 54, -0.5, 0.5) },
      { name: 'z_log_var kernel', value: uniform([5, 3], 55, -0.5, 0.5) },
      { name: 'z_log_var bias', value: uniform([3], 56, -0.5, 0.5) },
    ],
    build: (w) => {
      const mean = layerBuilt(tf.layers.dense({ units: 3 }), x.shape, w.slice(0, 2));
      const logVar = layerBuilt(tf.layers.dense({ units: 3 }), x.shape, w.slice(2));
      const epsT = tf.tensor(Float32Array.from(eps.data), [...eps.shape]);
      return {
        apply: (input, training) => {
          const mu = mean.apply(input, training).y;
          const lv = logVar.apply(input, training).y;
          const z = tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, lv)), epsT));
          const klTerm = tf.mul(-0.5, tf.mean(tf.sum(tf.sub(tf.sub(tf.add(1, lv), tf.square(mu)), tf.exp(lv)), -1))) as tf.Scalar;
          return { y: z, extra: klTerm };
        },
        variables: [...mean.variables, ...logVar.variables],
        dispose: () => {
          mean.dispose();
          logVar.dispose();
          epsT.dispose();
        },
      };
    },
    reference: () => (x, [mk, mb, lk, lb]) => {
      const mu = ref.dense(x, mk!, mb!).data;
      const lv = ref.dense(x, lk!, lb!).data;
      return { y: mu.map((m, i) => m + Math.exp(0.5 * lv[i]!) * eps.data[i]!), extra: kl(mu, lv) };
    },
  };
}

function maskingNoiseCase(): Case {
  const rate = 0.3;
  const x = awayFromZero(uniform([8, 50], 33), 0.1);
  const kept = (o: Observed): boolean[] => Array.from(o.training, (v) => v !== 0);
  return {
    block: `MaskingNoise rate ${rate} (Noise block, mode masking)`,
    x,
    unseeded: true,
    weights: [],
    build: (w) => layerBuilt(new MaskingNoise({ rate }), x.shape, w),
    reference: (o) => {
      const mask = kept(o);
      return (x) => ({ y: x.data.map((v, i) => (mask[i] ? v : 0)) });
    },
    check: (o) => {
      const failures: string[] = [];
      // Every value is either zeroed or kept as it is (no 1 / (1 - rate) rescaling, unlike Dropout).
      const changed = o.training.findIndex((v, i) => v !== 0 && v !== Math.fround(o.x.data[i]!));
      if (changed >= 0) failures.push(`${o.backend} / MaskingNoise / output [${changed}] = ${o.training[changed]}: neither 0 nor the input ${o.x.data[changed]}`);
      const fraction = kept(o).filter(Boolean).length / o.training.length;
      if (Math.abs(fraction - (1 - rate)) > 0.1) failures.push(`${o.backend} / MaskingNoise / kept fraction ${fraction}, expected ${1 - rate} +- 0.1`);
      failures.push(...mismatch(o.backend, 'inference output (must equal the input)', o.inference, o.x.data, 0));
      return failures;
    },
  };
}

/**
 * The variational Bottleneck as compiled: Dense z_mean and z_log_var and our Sampling layer, its KL
 * term collected as training does (klWeight * KL / values per sample). eps is read back from the
 * training output and then held fixed; at inference z must be z_mean.
 */
function samplingLayerCase(): Case {
  const x = uniform([4, 5], 57);
  const klWeight = 2;
  const valuesPerSample = 5;
  const weights = [
    { name: 'z_mean kernel', value: uniform([5, 3], 58) },
    { name: 'z_mean bias', value: uniform([3], 59, -0.5, 0.5) },
    { name: 'z_log_var kernel', value: uniform([5, 3], 60, -0.5, 0.5) },
    { name: 'z_log_var bias', value: uniform([3], 61, -0.5, 0.5) },
  ];
  const code = (x: T64, [mk, mb, lk, lb]: readonly T64[]): { mu: Float64Array; lv: Float64Array } => ({ mu: ref.dense(x, mk!, mb!).data, lv: ref.dense(x, lk!, lb!).data });
  return {
    block: 'Sampling layer + KL (variational Bottleneck: Dense z_mean, Dense z_log_var, Sampling)',
    x,
    unseeded: true,
    weights,
    build: (w) => {
      const mean = layerBuilt(tf.layers.dense({ units: 3 }), x.shape, w.slice(0, 2));
      const logVar = layerBuilt(tf.layers.dense({ units: 3 }), x.shape, w.slice(2));
      const sampling = new Sampling({ klWeight, valuesPerSample });
      return {
        apply: (input, training) => {
          const mu = mean.apply(input, training).y;
          const lv = logVar.apply(input, training).y;
          const { value, extraLoss } = collectExtraLosses(() => sampling.apply([mu, lv], { training }) as tf.Tensor);
          return { y: value, extra: extraLoss };
        },
        variables: [...mean.variables, ...logVar.variables],
        dispose: () => {
          mean.dispose();
          logVar.dispose();
          sampling.dispose();
        },
      };
    },
    reference: (o) => {
      const at = code(o.x, weights.map((w) => w.value));
      const eps = Float64Array.from(o.training, (z, i) => (z - at.mu[i]!) / Math.exp(0.5 * at.lv[i]!));
      return (x, w) => {
        const { mu, lv } = code(x, w);
        let s = 0;
        for (let i = 0; i < mu.length; i++) s += 1 + lv[i]! - mu[i]! ** 2 - Math.exp(lv[i]!);
        return { y: mu.map((m, i) => m + Math.exp(0.5 * lv[i]!) * eps[i]!), extra: (klWeight * (-0.5 * s)) / x.shape[0]! / valuesPerSample };
      };
    },
    check: (o) => mismatch(o.backend, 'inference output (must equal z_mean)', o.inference, code(o.x, weights.map((w) => w.value)).mu),
  };
}

const CASES: readonly Case[] = [
  denseCase('sigmoid'),
  denseCase('relu'),
  denseCase('linear', false),
  convCase('3x3 stride 1 same', [2, 5, 5, 2], [3, 3], 3, [1, 1], 'same'),
  convCase('3x3 stride 2 same, odd size', [2, 7, 7, 2], [3, 3], 3, [2, 2], 'same'),
  convCase('3x3 stride 2 same, even size', [2, 6, 6, 2], [3, 3], 3, [2, 2], 'same'),
  convCase('3x3 stride 2 valid', [2, 7, 7, 2], [3, 3], 3, [2, 2], 'valid'),
  convCase('3x3 stride 2 valid, last row and column unused', [2, 8, 8, 2], [3, 3], 3, [2, 2], 'valid'),
  convCase('2x3 strides 1x2 valid', [3, 5, 6, 2], [2, 3], 2, [1, 2], 'valid'),
  convCase('3x3 stride 1 same, 1 input channel', [2, 6, 6, 1], [3, 3], 4, [1, 1], 'same'),
  convCase('3x3 stride 1 same, 1 input channel', [2, 6, 6, 1], [3, 3], 4, [1, 1], 'same', 'relu'),
  convCase('3x3 stride 2 valid', [2, 7, 7, 3], [3, 3], 4, [2, 2], 'valid', 'relu'),
  convCase('3x3 stride 1 same, 1 output channel', [2, 5, 5, 3], [3, 3], 1, [1, 1], 'same', 'sigmoid'),
  convTransposeCase('3x3 stride 2 same', [2, 3, 3, 2], [3, 3], 3, [2, 2], 'same'),
  convTransposeCase('3x3 stride 2 valid', [2, 3, 3, 2], [3, 3], 3, [2, 2], 'valid'),
  convTransposeCase('2x2 stride 2 same', [2, 3, 4, 2], [2, 2], 2, [2, 2], 'same'),
  convTransposeCase('3x3 stride 1 same', [2, 4, 4, 3], [3, 3], 2, [1, 1], 'same'),
  maxPoolCase('2x2 valid, all-negative windows', poolInput([2, 4, 6, 3], 61), [2, 2], [2, 2], 'valid'),
  maxPoolCase('3x3 stride 2 same, all-negative windows', poolInput([2, 5, 5, 2], 62), [3, 3], [2, 2], 'same'),
  maxPoolCase('2x2 same, odd size, batch 3', poolInput([3, 5, 5, 2], 63), [2, 2], [2, 2], 'same'),
  upSamplingCase(uniform([3, 2, 3, 2], 71), [2, 2]),
  upSamplingCase(uniform([2, 2, 2, 1], 72), [2, 3]),
  batchNormCase('NHWC', [4, 3, 3, 2]),
  batchNormCase('2D', [6, 4]),
  dropoutCase(),
  gaussianNoiseCase(),
  maskingNoiseCase(),
  vaeCase(),
  samplingLayerCase(),
];

// ------------------------------------------------------------------------------------------------
// Running

function mismatch(backend: string, what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = TOLERANCE): string[] {
  const { maxErr, at, scale } = ref.compare(actual, expected);
  if (maxErr <= tolerance * scale) return [];
  if (at < 0) return [`${backend} / ${what}: ${actual.length} values, expected ${expected.length}`];
  return [
    `${backend} / ${what}: max abs error ${maxErr.toExponential(2)} at [${at}] (got ${actual[at]}, want ${expected[at]}), ` +
      `allowed ${(tolerance * scale).toExponential(2)}`,
  ];
}

interface Outcome {
  failures: string[];
  /** Every variable (input first) after one SGD step. */
  updated: Float32Array[];
  names: string[];
}

async function runCase(c: Case, backend: BackendName): Promise<Outcome> {
  await selectBackend({ prefer: backend });
  const tfBackend = tf.getBackend();
  const weightTensors = c.weights.map((w) => tf.tensor(Float32Array.from(w.value.data), [...w.value.shape]));
  const built = c.build(weightTensors);
  tf.dispose(weightTensors);
  const xVar = tf.variable(tf.tensor(Float32Array.from(c.x.data), [...c.x.shape]));
  const variables = [xVar, ...built.variables];
  const names = ['input', ...c.weights.map((w) => w.name)];
  try {
    // Async reads only: webgpu has no synchronous read-back in Node.
    const inferenceT = tf.tidy(() => built.apply(xVar, false).y);
    const inference = (await inferenceT.data()) as Float32Array;
    inferenceT.dispose();
    const outSize = inference.length;
    const r = uniform([outSize], seedOf(c.block) + 99).data;
    const rT = tf.tensor(Float32Array.from(r));
    let trainingOut: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      const { y, extra } = built.apply(xVar, true);
      trainingOut = tf.keep(y);
      const flat = tf.reshape(y, [-1]);
      const loss = tf.add(tf.sum(tf.mul(rT, flat)), tf.mul(0.25, tf.sum(tf.square(flat))));
      return (extra ? tf.add(loss, extra) : loss) as tf.Scalar;
    }, variables);
    const observed: Observed = {
      backend: `${backend} (tf backend '${tfBackend}')`,
      x: c.x,
      training: (await trainingOut!.data()) as Float32Array,
      inference,
      state: (await built.state?.()) ?? [],
    };
    const gradients = await Promise.all(variables.map(async (v) => (await grads[v.name]!.data()) as Float32Array));
    const optimizer = tf.train.sgd(LEARNING_RATE);
    optimizer.applyGradients(grads);
    const updated = await Promise.all(variables.map(async (v) => (await v.data()) as Float32Array));
    optimizer.dispose();
    tf.dispose([rT, trainingOut!, ...Object.values(grads)]);

    // The reference, on copies of the exact float32 values the backend saw.
    const params = [c.x, ...c.weights.map((w) => w.value)].map((p) => ref.t64(p.shape, p.data));
    const forward = c.reference(observed);
    const loss = (ps: readonly T64[]): number => {
      const out = forward(ps[0]!, ps.slice(1));
      return ref.testLoss(out.y, r) + (out.extra ?? 0);
    };
    const expectedOut = forward(params[0]!, params.slice(1)).y;
    const numeric = ref.numericGradients(loss, params);
    const where = `${c.block}`;
    const failures = [
      ...mismatch(observed.backend, `${where} / forward output (training)`, observed.training, expectedOut),
      ...names.flatMap((n, i) => mismatch(observed.backend, `${where} / d loss / d ${n}`, gradients[i]!, numeric[i]!)),
      ...names.flatMap((n, i) =>
        mismatch(observed.backend, `${where} / ${n} after one SGD step`, updated[i]!, params[i]!.data.map((v, j) => v - LEARNING_RATE * numeric[i]![j]!)),
      ),
      ...(c.check?.(observed, params.slice(1)) ?? []),
    ];
    return { failures, updated, names };
  } finally {
    xVar.dispose();
    built.dispose();
  }
}

// ------------------------------------------------------------------------------------------------

const unavailable = new Map<BackendName, string | null>();

before(async () => {
  tf.env().set('PROD', true);
  for (const b of CANDIDATES) {
    try {
      await selectBackend({ prefer: b });
      unavailable.set(b, null);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      unavailable.set(b, message.replace(/^Backend \S+ is not usable: /, '').replace(/\. Usable here:.*$/s, ''));
    }
  }
});

test('the backends this suite covers here', (t) => {
  const lines = CANDIDATES.map((b) => `${b}: ${unavailable.get(b) === null ? 'checked' : `skipped (${unavailable.get(b)})`}`);
  for (const line of lines) t.diagnostic(line);
  // cpu always loads; the rest depend on the machine (wasm binaries, GPU, native TensorFlow).
  if (CANDIDATES.includes('cpu')) assert.equal(unavailable.get('cpu'), null, lines.join('\n'));
});

for (const c of CASES) {
  describe(c.block, () => {
    const updatedBy = new Map<BackendName, Outcome>();
    for (const backend of CANDIDATES) {
      test(`on ${backend}`, async (t) => {
        const reason = unavailable.get(backend);
        if (reason !== null) {
          if (backend === 'webgpu') return skipWithoutWebgpu(t, reason ?? 'not probed');
          t.skip(`${backend} is not available here: ${reason ?? 'not probed'}`);
          return;
        }
        const outcome = await runCase(c, backend);
        updatedBy.set(backend, outcome);
        if (outcome.failures.length > 0) assert.fail(`${c.block} on ${backend}:\n${outcome.failures.join('\n')}`);
      });
    }
    test('SGD-updated variables agree across backends', (t) => {
      const ran = [...updatedBy];
      if (c.unseeded) {
        t.skip('its noise is unseeded, so each backend draws its own; each was checked against the reference with its own noise');
        return;
      }
      if (ran.length < 2) {
        t.skip(`only ${ran.map(([b]) => b).join('') || 'no backend'} ran`);
        return;
      }
      const [firstName, first] = ran[0]!;
      const failures = ran.slice(1).flatMap(([b, o]) => o.updated.flatMap((u, i) => mismatch(`${b} vs ${firstName}`, `${c.block} / ${o.names[i]} after one SGD step`, u, first.updated[i]!)));
      if (failures.length > 0) assert.fail(`${c.block}, SGD-updated variables across backends:\n${failures.join('\n')}`);
    });
  });
}
