/**
 * The reconstruction losses as single kernels on the webgpu backend (@tensorflow/tfjs-backend-webgpu
 * 4.22): binary cross-entropy and mean squared error, forward and gradient.
 *
 * Why: written with tfjs ops (src/train/scoring.ts lossFn) binary cross-entropy is 14 dispatches
 * forward and ~20 backward, several of them uploading a fresh scalar (Log1p's, ClipByValue's and
 * Sigmoid's gradients each make one); on webgpu every dispatch costs ~0.1 ms of host time and every
 * upload ~0.9 ms whatever the GPU. Here: forward = one elementwise pass + tfjs' own Mean kernel,
 * backward = one elementwise pass, the constants in the uniforms tfjs writes for every dispatch.
 *
 * Same definitions as lossFn (Keras'): BCE clips p to [1e-7, 1 - 1e-7], takes logits = log(p/(1-p))
 * and the stable form max(l, 0) - l·z + log(1 + exp(-|l|)); its gradient is the closed form
 * (p - z) / (p (1 - p)) where the clip passes, 0 where it clips (the derivative of the same
 * expression). MSE: (p - z)², gradient 2 (p - z). Both averaged over every element (= Keras' mean over
 * the last axis, then over the batch). test/backend/webgpuKernels.test.ts compares loss and gradients
 * with lossFn's on the webgpu backend. The kernels' names, gradient and dispatch: losses.ts.
 */
import * as tf from '../../tf';
import { EPSILON, type FusedLossName, LOSS, LOSS_GRAD } from '../lossSpec';
import { type ElementwiseProgram, type WebGpuKernelArgs, ensureWebgpuKernel, runProgram } from './program';

function program(kind: 'loss' | 'grad', loss: FusedLossName, shape: readonly number[]): ElementwiseProgram {
  const value =
    loss === 'meanSquaredError'
      ? kind === 'loss'
        ? `let d = p - z; let v = d * d;`
        : `let v = 2.0 * (p - z) * C[0] * uniforms.invN;`
      : kind === 'loss'
        ? `let q = clamp(p, uniforms.lo, uniforms.hi);
           let l = log(q / (1.0 - q));
           let v = max(l, 0.0) - l * z + log(1.0 + exp(-abs(l)));`
        : `let q = clamp(p, uniforms.lo, uniforms.hi);
           let passes = p >= uniforms.lo && p <= uniforms.hi;
           let v = select(0.0, (q - z) / (q * (1.0 - q)) * C[0] * uniforms.invN, passes);`;
  return {
    key: `latent_fused_${loss}_${kind}`,
    outputShape: shape,
    variableNames: kind === 'loss' ? ['A', 'B'] : ['A', 'B', 'C'],
    uniformFields: 'lo : f32, hi : f32, invN : f32,',
    body: `let z = A[index];
          let p = B[index];
          ${value}
          setOutputAtIndex(index, v);`,
  };
}

function uniforms(size: number): { type: 'float32'; value: number }[] {
  return [EPSILON, 1 - EPSILON, 1 / size].map((value) => ({ type: 'float32', value }));
}

function lossKernel(args: WebGpuKernelArgs): tf.TensorInfo {
  const { yTrue, yPred } = args.inputs as { yTrue: tf.TensorInfo; yPred: tf.TensorInfo };
  const loss = (args.attrs as { loss: FusedLossName }).loss;
  const size = yPred.shape.reduce((a, b) => a * b, 1);
  const perValue = runProgram(args.backend, program('loss', loss, yPred.shape), [yTrue, yPred], uniforms(size));
  const mean = tf.getKernel('Mean', 'webgpu');
  if (!mean) throw new Error('webgpu backend has no Mean kernel');
  const out = mean.kernelFunc({ inputs: { x: perValue }, backend: args.backend as tf.KernelBackend, attrs: { axis: perValue.shape.map((_, i) => i), keepDims: false } }) as tf.TensorInfo;
  (args.backend as tf.KernelBackend).disposeData(perValue.dataId);
  return out;
}

function gradKernel(args: WebGpuKernelArgs): tf.TensorInfo {
  const { yTrue, yPred, dy } = args.inputs as { yTrue: tf.TensorInfo; yPred: tf.TensorInfo; dy: tf.TensorInfo };
  const loss = (args.attrs as { loss: FusedLossName }).loss;
  const size = yPred.shape.reduce((a, b) => a * b, 1);
  return runProgram(args.backend, program('grad', loss, yPred.shape), [yTrue, yPred, dy], uniforms(size));
}

/** Registers the webgpu kernels of `LatentFusedLoss` / `LatentFusedLossGrad` (used through losses.ts). */
export function registerWebgpuLossKernels(): void {
  ensureWebgpuKernel(LOSS, lossKernel);
  ensureWebgpuKernel(LOSS_GRAD, gradKernel);
}
