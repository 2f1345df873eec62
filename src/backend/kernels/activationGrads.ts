/**
 * ReLU's and sigmoid's gradients in one pass where a backend has our kernel for it: webgpu
 * (webgpu/gradients.ts, one dispatch instead of two or three) and wasm (wasm/misc.ts
 * activationGradWasm, one SIMD pass instead of two or three over the activations). Elsewhere null,
 * and the caller uses tfjs-core's formula.
 */
import * as tf from '../tf';
import { ourKernelsAvailable, sameShapeFloat32 } from './ourKernels';
import { type ActivationGradName, registerWebgpuActivationGrad } from './webgpu/gradients';

export type { ActivationGradName };

/**
 * dy · relu'(x) (`LatentReluGrad`; x may be the ReLU's input or output) or dy · y(1 − y)
 * (`LatentSigmoidGrad`, x = the sigmoid's output) as one kernel; null where no backend kernel
 * covers it. LATENT_FUSED_GRADIENTS=0 (or, for webgpu, LATENT_WEBGPU_FUSED_GRADIENTS=0) turns it off.
 */
export function fusedActivationGrad(name: ActivationGradName, dy: tf.Tensor, x: tf.Tensor): tf.Tensor | null {
  if (process.env.LATENT_FUSED_GRADIENTS === '0' || !sameShapeFloat32(dy, x)) return null;
  const webgpu = { off: process.env.LATENT_WEBGPU_FUSED_GRADIENTS === '0', register: () => registerWebgpuActivationGrad(name) };
  if (!ourKernelsAvailable([name], webgpu)) return null;
  return tf.engine().runKernel(name, { dy, x }) as tf.Tensor;
}
