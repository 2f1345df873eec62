/**
 * Our replacements for upstream tfjs kernels that are wrong, missing or slow. Each entry says which
 * upstream problem it answers; test/backend/gradients.test.ts checks every block the graphs can use
 * against float64 numerical gradients on every backend that loads, with these fixes in place, and
 * test/backend/kernelFixes.test.ts checks each of ours against the cpu backend, shape by shape.
 *
 * The wasm ones live in src/backend/kernels/wasm/: conv.ts, pool.ts, misc.ts, most of them on
 * our own WebAssembly SIMD module (kernels/wasm/simd/kernels.c, run on the backend's heap, split across
 * threads where the backend has them: kernels/wasm/simd.ts). Anything a replacement does not cover
 * (a dtype, a data format, a shape) goes to the upstream kernel it replaced.
 *
 * `applyKernelFixes(backend)` registers them, and is idempotent. A backend's own kernels are
 * registered when its package is imported (the wasm one only when src/backend/select.ts loads it),
 * and a later registration of the same kernel replaces the earlier one, so fixes for a backend are
 * registered only once its own kernels are there: backend.ts calls `applyKernelFixes(name)` right
 * after loading each backend. `applyKernelFixes()` with no argument fixes every backend loaded so far.
 */
import * as tf from './tf';
import { conv2DBackpropFilterWasm, conv2DBackpropInputWasm, conv2DWasm } from './kernels/wasm/conv';
import { lossGradWasm, lossWasm } from './kernels/wasm/losses';
import { activationGradWasm, addWasm, castWasm, compareWasm, identityWasm, logicalAndWasm, matMulWasm, selectWasm, smallBinaryWasm, smallUnaryWasm, sumWasm } from './kernels/wasm/misc';
import { maxPoolGradWasm, resizeNearestNeighborGradWasm, resizeNearestNeighborWasm } from './kernels/wasm/pool';
import { type KernelArgs, upstreamKernels } from './kernels/wasm/util';

// ------------------------------------------------------------------------------------------------
// cpu (@tensorflow/tfjs-backend-cpu 4.22)

interface CpuBackendData {
  data: { get(dataId: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/**
 * Upstream defect: tfjs-backend-cpu 4.22 ResizeNearestNeighborGrad (the gradient of UpSampling2D)
 * offsets `dy` by the *input* image's batch stride, so every image after the first in a batch
 * reads another image's gradient (or past the end: NaN). This version scatters each dy pixel onto
 * the source pixel the forward pass copied it from, with the same rounding rule as the forward kernel.
 */
function resizeNearestNeighborGradCpu(args: KernelArgs): tf.TensorInfo {
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

// ------------------------------------------------------------------------------------------------

interface Fix extends tf.KernelConfig {
  /** The upstream defect, one line (for reports and tests). */
  readonly defect: string;
}

const fix = (backendName: string, kernelName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo, defect: string): Fix => ({
  kernelName,
  backendName,
  kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  defect,
});

// The wasm kernels are in src/backend/kernels/wasm/*.ts, each with the upstream problem it answers.
export const KERNEL_FIXES: readonly Fix[] = [
  fix('cpu', 'ResizeNearestNeighborGrad', resizeNearestNeighborGradCpu, 'indexes dy with the input batch stride: wrong gradient for every image after the first'),
  fix('wasm', 'Conv2DBackpropFilter', conv2DBackpropFilterWasm, 'missing: Conv2D / Conv2DTranspose weights have no gradient'),
  fix('wasm', 'MaxPoolGrad', maxPoolGradWasm, 'running max starts at the smallest positive float: wrong gradient for windows with no positive value'),
  fix('wasm', 'Conv2DBackpropInput', conv2DBackpropInputWasm, 'correct but a scalar C++ loop: once the slowest kernel of a conv training step'),
  fix('wasm', 'BatchMatMul', matMulWasm('BatchMatMul'), 'correct but a scalar loop whenever an operand is transposed: every matmul of a dense backward pass'),
  fix('wasm', '_FusedMatMul', matMulWasm('_FusedMatMul'), 'a scalar loop whenever an operand is transposed; its ReLU (XNNPACK\'s clamp) turns NaN into 0'),
  fix('wasm', 'Identity', identityWasm, 'correct but copies: every tensor saved for a backward pass was copied once more'),
  fix('wasm', 'ResizeNearestNeighborGrad', resizeNearestNeighborGradWasm, 'correct but a scalar C++ loop: slow for every UpSampling2D gradient'),
  fix('wasm', 'Sum', sumWasm, 'correct but transposes the whole tensor first for leading-axis sums (bias gradients)'),
  fix('wasm', 'Conv2D', conv2DWasm('Conv2D'), 'correct but repacks the filter on every call, and mostly idle with one input or one output channel'),
  fix('wasm', 'FusedConv2D', conv2DWasm('FusedConv2D'), 'repacks the filter on every call, mostly idle with one input or one output channel; its ReLU (XNNPACK\'s clamp) can turn NaN into 0'),
  fix('wasm', 'ResizeNearestNeighbor', resizeNearestNeighborWasm, 'correct but a scalar C++ loop: slow for every UpSampling2D'),
  fix('wasm', 'Cast', castWasm, 'correct but copies even to the same dtype (every ReLU gradient)'),
  fix('wasm', 'Add', smallBinaryWasm('Add', addWasm), 'correct but a general broadcasting loop for a bias; small tensors woke the whole thread pool'),
  fix('wasm', 'Sub', smallBinaryWasm('Sub'), 'correct but small tensors woke the whole thread pool'),
  fix('wasm', 'Multiply', smallBinaryWasm('Multiply'), 'correct but small tensors woke the whole thread pool'),
  fix('wasm', 'RealDiv', smallBinaryWasm('RealDiv'), 'correct but small tensors woke the whole thread pool'),
  fix('wasm', 'Square', smallUnaryWasm('Square'), 'correct but small tensors woke the whole thread pool'),
  fix('wasm', 'Sqrt', smallUnaryWasm('Sqrt'), 'correct but small tensors woke the whole thread pool'),
  fix('wasm', 'Neg', smallUnaryWasm('Neg'), 'correct but small tensors woke the whole thread pool'),
  fix('wasm', 'Greater', compareWasm('Greater'), 'correct but computes broadcast indices per element'),
  fix('wasm', 'GreaterEqual', compareWasm('GreaterEqual'), 'correct but computes broadcast indices per element (every ClipByValue gradient)'),
  fix('wasm', 'Less', compareWasm('Less'), 'correct but computes broadcast indices per element'),
  fix('wasm', 'LessEqual', compareWasm('LessEqual'), 'correct but computes broadcast indices per element (every ClipByValue gradient)'),
  fix('wasm', 'LogicalAnd', logicalAndWasm, 'correct but computes broadcast indices per element (every ClipByValue gradient)'),
  fix('wasm', 'Select', selectWasm, 'correct but a slow scalar loop (every ClipByValue gradient)'),
  fix('wasm', 'LatentReluGrad', activationGradWasm('relu_grad'), 'not a tfjs kernel: ReLU\'s gradient in one pass where tfjs-core runs Step + Multiply'),
  fix('wasm', 'LatentFusedLoss', lossWasm, 'not a tfjs kernel: binary cross-entropy / MSE in one pass where tfjs ops take ~12 kernels (BCE)'),
  fix('wasm', 'LatentFusedLossGrad', lossGradWasm, 'not a tfjs kernel: their gradient in one pass where tfjs ops take ~15 kernels (BCE)'),
  fix('wasm', 'LatentSigmoidGrad', activationGradWasm('sigmoid_grad'), 'not a tfjs kernel: sigmoid\'s gradient in one pass where tfjs-core runs Sub + 2 Multiply'),
];

/** A backend whose own kernels are registered (for wasm: its package has been imported). */
function backendPresent(backendName: string): boolean {
  return tf.findBackendFactory(backendName) !== null && tf.getKernelsForBackend(backendName).some((k) => !isOurs(k));
}

function isOurs(k: tf.KernelConfig): boolean {
  return KERNEL_FIXES.some((f) => f.kernelFunc === k.kernelFunc);
}

/**
 * Register our kernels for `backendName` (a tfjs backend name: 'cpu', 'wasm', ...), or for every
 * backend present now when omitted. Safe to call any number of times; a backend not loaded yet is
 * left alone (call again after loading it). Returns the kernels that are ours for those backends.
 */
export function applyKernelFixes(backendName?: string): string[] {
  const applied: string[] = [];
  for (const f of KERNEL_FIXES) {
    if (backendName !== undefined && f.backendName !== backendName) continue;
    if (!backendPresent(f.backendName)) continue;
    const current = tf.getKernel(f.kernelName, f.backendName);
    if (current?.kernelFunc !== f.kernelFunc) {
      if (current !== undefined) {
        upstreamKernels.set(`${f.backendName}:${f.kernelName}`, current);
        tf.unregisterKernel(f.kernelName, f.backendName);
      }
      tf.registerKernel(f);
    }
    applied.push(`${f.backendName}:${f.kernelName}`);
  }
  return applied;
}

/** Whether the kernel registered now for this tfjs backend is our replacement. */
export function isKernelFixed(kernelName: string, backendName: string): boolean {
  const current = tf.getKernel(kernelName, backendName);
  return current !== undefined && KERNEL_FIXES.some((f) => f.kernelName === kernelName && f.backendName === backendName && f.kernelFunc === current.kernelFunc);
}
