/**
 * ReLU's and sigmoid's gradients in one pass where a backend has our kernel for it: webgpu
 * (webgpuGradients.ts, one dispatch instead of two or three) and wasm (wasmMisc.ts
 * activationGradWasm, one SIMD pass instead of two or three over the activations). Elsewhere null,
 * and the caller uses tfjs-core's formula.
 */
import * as tf from '@tensorflow/tfjs';
import { type ActivationGradName, registerWebgpuActivationGrad } from './webgpuGradients';

export type { ActivationGradName };

/**
 * dy · relu'(x) (`LatentReluGrad`; x may be the ReLU's input or output) or dy · y(1 − y)
 * (`LatentSigmoidGrad`, x = the sigmoid's output) as one kernel; null where no backend kernel
 * covers it. LATENT_FUSED_GRADIENTS=0 (or, for webgpu, LATENT_WEBGPU_FUSED_GRADIENTS=0) turns it off.
 */
export function fusedActivationGrad(name: ActivationGradName, dy: tf.Tensor, x: tf.Tensor): tf.Tensor | null {
  if (process.env.LATENT_FUSED_GRADIENTS === '0') return null;
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || dy.size === 0) return null;
  if (dy.shape.length !== x.shape.length || dy.shape.some((d, i) => d !== x.shape[i])) return null;
  const backend = tf.getBackend();
  if (backend === 'webgpu') {
    if (process.env.LATENT_WEBGPU_FUSED_GRADIENTS === '0') return null;
    registerWebgpuActivationGrad(name);
  } else if (tf.getKernel(name, backend) === undefined) {
    return null;
  }
  return tf.engine().runKernel(name, { dy, x }) as tf.Tensor;
}
