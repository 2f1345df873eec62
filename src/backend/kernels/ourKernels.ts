/** When our own (non-tfjs) kernels can run: shared by activationGrads.ts and losses.ts. */
import * as tf from '../tf';

/** Float32 tensors of one same, non-empty shape: what our elementwise kernels take. */
export function sameShapeFloat32(a: tf.Tensor, b: tf.Tensor): boolean {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.size === 0) return false;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

/**
 * Whether the current backend runs the kernels `names`: on webgpu they are registered on first use
 * (unless `webgpu.off`); elsewhere they exist where src/backend/kernelFixes.ts registered them (wasm).
 */
export function ourKernelsAvailable(names: readonly string[], webgpu: { readonly off: boolean; register(): void }): boolean {
  const backend = tf.getBackend();
  if (backend === 'webgpu') {
    if (webgpu.off) return false;
    webgpu.register();
    return true;
  }
  return names.every((n) => tf.getKernel(n, backend) !== undefined);
}
