/**
 * `LatentFusedLoss` / `LatentFusedLossGrad` on wasm (see losses.ts): binary cross-entropy and MSE in
 * one SIMD pass each (kernels.c loss_values, loss_grad), split across the kernel threads.
 *
 * Why: written with tfjs ops, binary cross-entropy is ~12 kernels forward and ~15 backward over the
 * whole batch (Log, Exp, Log1p, clip masks, ...): about a fifth of the seed dense autoencoder's
 * training step on wasm. Forward here: the per-value losses in one pass, then the backend's Mean
 * (over the last axis, then the rest, as lossFn averages); backward: one pass.
 */
import * as tf from '../../tf';
import { EPSILON, type FusedLossName } from '../lossSpec';
import { heapOffset, runBatch, simdKernels } from './simd';
import { type KernelArgs, type WasmBackendLike, disposeAll, f32, runWasm } from './util';

const KIND: Record<FusedLossName, number> = { binaryCrossentropy: 0, meanSquaredError: 1 };
const PER_VALUE = { 0: 4, 1: 4, 2: 4 };
const MIN_PER_THREAD = 1 << 15;

export function lossWasm(args: KernelArgs): tf.TensorInfo {
  const { yTrue, yPred } = args.inputs as { yTrue: tf.TensorInfo; yPred: tf.TensorInfo };
  const kind = KIND[(args.attrs as { loss: FusedLossName }).loss];
  const backend = args.backend as WasmBackendLike;
  const n = tf.util.sizeFromShape(yPred.shape);
  const values = backend.makeOutput([...yPred.shape], 'float32');
  const simd = simdKernels(backend);
  if (simd !== null) {
    runBatch(simd, 'loss_values', [heapOffset(backend, yTrue), heapOffset(backend, yPred), heapOffset(backend, values), n, kind, EPSILON, 1 - EPSILON], 3, PER_VALUE, MIN_PER_THREAD);
  } else {
    const [z, p, out] = [f32(backend, yTrue), f32(backend, yPred), f32(backend, values)];
    for (let i = 0; i < n; i++) {
      const q = Math.min(Math.max(p[i]!, EPSILON), 1 - EPSILON);
      out[i] = kind === 0 ? -(z[i]! * Math.log(q) + (1 - z[i]!) * Math.log(1 - q)) : (p[i]! - z[i]!) ** 2;
    }
  }
  const temps = [values];
  try {
    const rank = yPred.shape.length;
    let x = values;
    if (kind === 0 && rank > 1) {
      x = runWasm('Mean', backend, { x: values }, { axis: [rank - 1], keepDims: false });
      temps.push(x);
    }
    return runWasm('Mean', backend, { x }, { axis: x.shape.map((_, i) => i), keepDims: false });
  } finally {
    disposeAll(backend, temps);
  }
}

export function lossGradWasm(args: KernelArgs): tf.TensorInfo {
  const { yTrue, yPred, dy } = args.inputs as { yTrue: tf.TensorInfo; yPred: tf.TensorInfo; dy: tf.TensorInfo };
  const kind = KIND[(args.attrs as { loss: FusedLossName }).loss];
  const backend = args.backend as WasmBackendLike;
  const n = tf.util.sizeFromShape(yPred.shape);
  const scale = f32(backend, dy)[0]! / n;
  const out = backend.makeOutput([...yPred.shape], 'float32');
  const simd = simdKernels(backend);
  if (simd !== null) {
    runBatch(simd, 'loss_grad', [heapOffset(backend, yTrue), heapOffset(backend, yPred), heapOffset(backend, out), n, kind, EPSILON, 1 - EPSILON, scale], 3, PER_VALUE, MIN_PER_THREAD);
    return out;
  }
  const [z, p, g] = [f32(backend, yTrue), f32(backend, yPred), f32(backend, out)];
  for (let i = 0; i < n; i++) {
    const q = Math.min(Math.max(p[i]!, EPSILON), 1 - EPSILON);
    g[i] = kind === 1 ? 2 * (p[i]! - z[i]!) * scale : p[i]! < EPSILON || p[i]! > 1 - EPSILON ? 0 : ((q - z[i]!) / (q * (1 - q))) * scale;
  }
  return out;
}
