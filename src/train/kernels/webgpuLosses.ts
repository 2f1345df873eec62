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
 * the last axis, then over the batch). test/train/webgpuKernels.test.ts compares loss and gradients
 * with lossFn's on the webgpu backend.
 *
 * The gradient with respect to the target (needed only when the target depends on a variable) is
 * left to tfjs ops: tfjs evaluates it only when a variable is upstream of the target.
 */
import * as tf from '@tensorflow/tfjs';
import { type ElementwiseProgram, type WebGpuKernelArgs, ensureWebgpuKernel, runProgram } from './webgpuProgram';

export type FusedLossName = 'binaryCrossentropy' | 'meanSquaredError';

const LOSS = 'LatentFusedLoss';
const LOSS_GRAD = 'LatentFusedLossGrad';
const EPSILON = 1e-7;

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

let gradientRegistered = false;

function register(): void {
  ensureWebgpuKernel(LOSS, lossKernel);
  ensureWebgpuKernel(LOSS_GRAD, gradKernel);
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: LOSS,
    inputsToSave: ['yTrue', 'yPred'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap | undefined) => {
      const [yTrue, yPred] = saved as [tf.Tensor, tf.Tensor];
      const loss = (attrs as { loss: FusedLossName }).loss;
      const d = dy as tf.Tensor;
      return {
        yPred: () => tf.engine().runKernel(LOSS_GRAD, { yTrue, yPred, dy: d }, { loss }) as tf.Tensor,
        yTrue: () => {
          // d loss / d z: MSE -2 (p - z) / N; BCE -logits / N. Rarely needed (a target computed from variables).
          const invN = d.div(yPred.size);
          if (loss === 'meanSquaredError') return tf.mul(tf.mul(tf.sub(yPred, yTrue), -2), invN);
          const q = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
          return tf.mul(tf.neg(tf.log(tf.div(q, tf.sub(1, q)))), invN);
        },
      };
    },
  });
}

/** Set LATENT_WEBGPU_FUSED_LOSS=0 to compute losses with tfjs ops on webgpu too (for comparisons). */
const enabled = (): boolean => process.env.LATENT_WEBGPU_FUSED_LOSS !== '0';

/**
 * The mean loss as one kernel (and its gradient as one) on webgpu; null elsewhere, or for inputs it
 * does not cover (shapes that differ, non-float32), where the caller uses tfjs ops.
 */
export function fusedLoss(loss: FusedLossName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar | null {
  if (!enabled() || tf.getBackend() !== 'webgpu') return null;
  if (yTrue.dtype !== 'float32' || yPred.dtype !== 'float32' || yPred.size === 0) return null;
  if (yTrue.shape.length !== yPred.shape.length || yTrue.shape.some((d, i) => d !== yPred.shape[i])) return null;
  register();
  return tf.engine().runKernel(LOSS, { yTrue, yPred }, { loss }) as tf.Scalar;
}
