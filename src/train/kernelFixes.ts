/**
 * Our replacements for upstream tfjs kernels that are wrong. Each entry says which defect it works
 * around; `applyKernelFixes()` registers them (idempotent) before any training starts.
 */
import * as tf from '@tensorflow/tfjs';

interface CpuBackendData {
  data: { get(dataId: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/**
 * tfjs-backend-cpu 4.22 ResizeNearestNeighborGrad (the gradient of UpSampling2D) offsets `dy` by the
 * *input* image's batch stride, so every image after the first in a batch reads another image's
 * gradient (or past the end: NaN). This version scatters each dy pixel onto the source pixel the
 * forward pass copied it from, with the same rounding rule as the forward kernel.
 */
function resizeNearestNeighborGrad(args: { inputs: tf.NamedTensorInfoMap; backend: object; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { images, dy } = args.inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
  const backend = args.backend as CpuBackendData;
  const alignCorners = args.attrs?.alignCorners === true;
  const [batch, xHeight, xWidth, depth] = images.shape as [number, number, number, number];
  const [, yHeight, yWidth] = dy.shape as [number, number, number, number];
  const dyValues = backend.data.get(dy.dataId).values;
  const output = new Float32Array(batch * xHeight * xWidth * depth);
  const heightScale = (alignCorners && yHeight > 1 ? xHeight - 1 : xHeight) / (alignCorners && yHeight > 1 ? yHeight - 1 : yHeight);
  const widthScale = (alignCorners && yWidth > 1 ? xWidth - 1 : xWidth) / (alignCorners && yWidth > 1 ? yWidth - 1 : yWidth);
  const source = (i: number, scale: number, size: number): number =>
    Math.min(size - 1, alignCorners ? Math.round(i * scale) : Math.floor(i * scale));
  const srcCol = Int32Array.from({ length: yWidth }, (_, c) => source(c, widthScale, xWidth));
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < yHeight; r++) {
      const xRow = (b * xHeight + source(r, heightScale, xHeight)) * xWidth;
      const dyRow = (b * yHeight + r) * yWidth;
      for (let c = 0; c < yWidth; c++) {
        const out = (xRow + srcCol[c]!) * depth;
        const from = (dyRow + c) * depth;
        for (let d = 0; d < depth; d++) output[out + d]! += dyValues[from + d]!;
      }
    }
  }
  return backend.makeTensorInfo([...images.shape], 'float32', output);
}

const FIXES: readonly tf.KernelConfig[] = [
  { kernelName: 'ResizeNearestNeighborGrad', backendName: 'cpu', kernelFunc: resizeNearestNeighborGrad as unknown as tf.KernelFunc },
];

let applied = false;

/** Replace the defective kernels; safe to call more than once. */
export function applyKernelFixes(): void {
  if (applied) return;
  applied = true;
  for (const fix of FIXES) {
    if (tf.getKernel(fix.kernelName, fix.backendName)) tf.unregisterKernel(fix.kernelName, fix.backendName);
    tf.registerKernel(fix);
  }
}
