/**
 * The reconstruction losses (binary cross-entropy, mean squared error) as one kernel forward and
 * one backward, where a backend has them: webgpu (webgpu/losses.ts) and wasm (wasm/losses.ts).
 * Elsewhere, or with LATENT_FUSED_LOSS=0 (webgpu alone: LATENT_WEBGPU_FUSED_LOSS=0), the caller
 * (src/train/scoring.ts lossFn) writes them with tfjs ops.
 *
 * Same definitions as lossFn (Keras'): BCE clips p to [1e-7, 1 - 1e-7] and averages
 * -(z log q + (1 - z) log(1 - q)) (Keras' logit form up to rounding); its gradient is the closed form
 * (q - z) / (q (1 - q)) where the clip passes and 0 where it clips. MSE: (p - z)², gradient 2 (p - z).
 * Both averaged over every element (= Keras' mean over the last axis, then over the batch).
 *
 * The gradient with respect to the target (needed only when the target depends on a variable) is
 * left to tfjs ops: tfjs evaluates it only when a variable is upstream of the target.
 */
import * as tf from '../tf';
import { EPSILON, type FusedLossName, LOSS, LOSS_GRAD } from './lossSpec';
import { ourKernelsAvailable, sameShapeFloat32 } from './ourKernels';
import { registerWebgpuLossKernels } from './webgpu/losses';

export type { FusedLossName };

let gradientRegistered = false;

function registerGradient(): void {
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

/**
 * The mean loss as one kernel (and its gradient as one) where the backend has them; null elsewhere,
 * or for inputs they do not cover (shapes that differ, non-float32), where the caller uses tfjs ops.
 */
export function fusedLoss(loss: FusedLossName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar | null {
  if (process.env.LATENT_FUSED_LOSS === '0' || !sameShapeFloat32(yPred, yTrue)) return null;
  const webgpu = { off: process.env.LATENT_WEBGPU_FUSED_LOSS === '0', register: registerWebgpuLossKernels };
  if (!ourKernelsAvailable([LOSS, LOSS_GRAD], webgpu)) return null;
  registerGradient();
  return tf.engine().runKernel(LOSS, { yTrue, yPred }, { loss }) as tf.Scalar;
}
