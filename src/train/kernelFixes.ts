/**
 * Our replacements for upstream tfjs kernels that are wrong or missing. Each entry says which
 * upstream defect it works around; test/train/gradients.test.ts checks every block the graphs can
 * use against float64 numerical gradients on every backend that loads, with these fixes in place.
 *
 * `applyKernelFixes(backend)` registers them, and is idempotent. A backend's own kernels are
 * registered when its package is imported (the wasm one only when src/train/backend.ts loads it),
 * and a later registration of the same kernel replaces the earlier one, so fixes for a backend are
 * registered only once its own kernels are there: backend.ts calls `applyKernelFixes(name)` right
 * after loading each backend. `applyKernelFixes()` with no argument fixes every backend loaded so far.
 */
import * as tf from '@tensorflow/tfjs';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: object; attrs?: tf.NamedAttrMap };

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
// wasm (@tensorflow/tfjs-backend-wasm 4.22). Tensors live in the wasm heap; these kernels read and
// write them through heap views. A view dies when the heap grows (any allocation may grow it), so
// every view is taken after the allocations it is used with and never kept across one.

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

const f32 = (backend: WasmBackendLike, info: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(info);

function channelsLastOnly(kernel: string, dataFormat: unknown): void {
  if (dataFormat === 'NCHW' || dataFormat === 'channelsFirst') {
    throw new Error(`${kernel} on wasm (Latent Studio's replacement kernel) supports NHWC data only`);
  }
}

/**
 * Upstream defect: tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel at all, so the
 * gradient of every Conv2D and Conv2DTranspose weight fails on wasm ("Kernel 'Conv2DBackpropFilter'
 * not registered for backend 'wasm'").
 *
 * dW[i, j, c, co] = sum over (n, p, q) of x[n, p*sh + i - top, q*sw + j - left, c] * dy[n, p, q, co]
 * is itself a convolution, with the roles swapped: of x seen as C images of N channels
 * ([C, H, W, N]), by dy seen as a filter of OH x OW taps ([OH, OW, N, CO]), dilated by the forward
 * strides, giving [C, KH, KW, CO]. It runs in the wasm backend's own Conv2D kernel (XNNPACK's
 * indirect GEMM: no im2col copy), with the backend's Transpose (and Slice) kernels around it; no
 * JS loop touches the data.
 */
function conv2DBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  channelsLastOnly('Conv2DBackpropFilter', attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize: N, inHeight, inWidth, inChannels: C, outHeight, outWidth, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Rows / columns of x below / right of every window count as negative padding: crop them.
  const bottom = (outHeight - 1) * sh + KH - inHeight - top;
  const right = (outWidth - 1) * sw + KW - inWidth - left;
  const kb = backend as unknown as tf.KernelBackend;
  const run = (name: string, inputs: tf.NamedTensorInfoMap, kernelAttrs: object): tf.TensorInfo =>
    wasmKernel(name)({ inputs, backend: kb, attrs: kernelAttrs as tf.NamedAttrMap }) as tf.TensorInfo;
  const temps: tf.TensorInfo[] = [];
  try {
    let xUsed = x;
    if (bottom < 0 || right < 0) {
      xUsed = run('Slice', { x }, { begin: [0, 0, 0, 0], size: [N, inHeight + Math.min(0, bottom), inWidth + Math.min(0, right), C] });
      temps.push(xUsed);
    }
    const images = run('Transpose', { x: xUsed }, { perm: [3, 1, 2, 0] }); // [C, H, W, N]
    temps.push(images);
    const taps = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, CO]
    temps.push(taps);
    const grad = run(
      'Conv2D',
      { x: images, filter: taps },
      {
        strides: [1, 1],
        pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]],
        dilations: [sh, sw],
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
      },
    ); // [C, KH, KW, CO]
    temps.push(grad);
    return run('Transpose', { x: grad }, { perm: [1, 2, 0, 3] }); // [KH, KW, C, CO]
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/**
 * Upstream defect: tfjs-backend-wasm 4.22 MaxPoolGrad.cc seeds each window's running max with
 * std::numeric_limits<float>::min() (1.2e-38, the smallest *positive* float) instead of the lowest
 * float, so in a window with no positive value (every all-zero window after a ReLU) nothing beats
 * the seed and the window's gradient goes to its first position instead of its maximum.
 *
 * This version routes each dy value to the first maximum of its window (the cpu backend's tie
 * rule), starting from the window's first valid pixel. Pure JS over the heap: one pass over every
 * window, channels innermost.
 */
function maxPoolGradWasm(args: KernelArgs): tf.TensorInfo {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { dilationHeight, dilationWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dx = backend.makeOutput([...input.shape], 'float32');
  const xv = f32(backend, input);
  const dyv = f32(backend, dy);
  const dxv = f32(backend, dx);
  dxv.fill(0);
  const best = new Float32Array(C);
  const where = new Int32Array(C);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - left;
        where.fill(-1);
        for (let fh = 0; fh < effectiveFilterHeight; fh += dilationHeight) {
          const ih = h0 + fh;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < effectiveFilterWidth; fw += dilationWidth) {
            const iw = w0 + fw;
            if (iw < 0 || iw >= inWidth) continue;
            const base = ((b * inHeight + ih) * inWidth + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = xv[base + c]!;
              if (where[c]! < 0 || v > best[c]!) {
                best[c] = v;
                where[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * C;
        for (let c = 0; c < C; c++) if (where[c]! >= 0) dxv[where[c]!]! += dyv[dyBase + c]!;
      }
    }
  }
  return dx;
}

/**
 * Upstream: tfjs-backend-wasm 4.22 Conv2DBackpropInput is correct (test/train/gradients.test.ts)
 * but a direct scalar loop in C++; it was the slowest kernel of a conv autoencoder's training step
 * on wasm (the input gradient of every Conv2D after the first, and the forward of Conv2DTranspose).
 *
 * The input gradient of a convolution is itself a stride-1 convolution: of dy, spread out by the
 * strides with zeros in between, with the filter rotated by 180 degrees and its in/out channels
 * swapped, padded by (filter size - 1 - the forward padding). That convolution runs in the wasm
 * backend's own Conv2D kernel (XNNPACK); only the filter flip and the spreading are JS loops.
 * Shapes it cannot express (NCHW, a padding larger than the filter) use the upstream kernel.
 */
function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (attrs.dataFormat === 'NCHW') return upstreamKernel('Conv2DBackpropInput', 'wasm', args);
  const info = tf.backend_util.computeConv2DInfo(
    [...attrs.inputShape],
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const spreadHeight = (outHeight - 1) * sh + 1;
  const spreadWidth = (outWidth - 1) * sw + 1;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = inHeight - spreadHeight - top + kh - 1;
  const right = inWidth - spreadWidth - left + kw - 1;
  if (Math.min(top, left, bottom, right) < 0) return upstreamKernel('Conv2DBackpropInput', 'wasm', args);

  const flipped = backend.makeOutput([kh, kw, outChannels, inChannels], 'float32');
  const spread = sh === 1 && sw === 1 ? null : backend.makeOutput([batchSize, spreadHeight, spreadWidth, outChannels], 'float32');
  const fv = f32(backend, filter);
  const flv = f32(backend, flipped);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let ci = 0; ci < inChannels; ci++) {
        const from = ((i * kw + j) * inChannels + ci) * outChannels;
        const to = ((kh - 1 - i) * kw + (kw - 1 - j)) * outChannels * inChannels + ci;
        for (let co = 0; co < outChannels; co++) flv[to + co * inChannels] = fv[from + co]!;
      }
  if (spread !== null) {
    const dyv = f32(backend, dy);
    const sv = f32(backend, spread);
    sv.fill(0);
    for (let b = 0; b < batchSize; b++)
      for (let r = 0; r < outHeight; r++)
        for (let c = 0; c < outWidth; c++) {
          const from = ((b * outHeight + r) * outWidth + c) * outChannels;
          sv.set(dyv.subarray(from, from + outChannels), ((b * spreadHeight + r * sh) * spreadWidth + c * sw) * outChannels);
        }
  }
  const dx = wasmKernel('Conv2D')({
    inputs: { x: spread ?? dy, filter: flipped },
    backend: backend as unknown as tf.KernelBackend,
    attrs: { strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap,
  }) as tf.TensorInfo;
  backend.disposeData(flipped.dataId);
  if (spread !== null) backend.disposeData(spread.dataId);
  return dx;
}

/**
 * Upstream: tfjs-backend-wasm 4.22 BatchMatMul / _FusedMatMul run XNNPACK's fully-connected GEMM
 * only when neither operand is transposed (and both batch sizes are 1); with transposeA or
 * transposeB they fall back to a scalar triple loop (~1-2 GFLOP/s). Every matmul in a dense
 * layer's backward pass is transposed (dX = dY·Wᵀ, dW = Xᵀ·dY), so they were ~75% of a dense
 * autoencoder's training step. This version transposes the transposed operand(s) with the backend's
 * Transpose kernel (a copy, O(size)) and runs the untransposed GEMM on XNNPACK.
 */
function matMulWasm(kernelName: 'BatchMatMul' | '_FusedMatMul'): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    const batchOf = (t: tf.TensorInfo): number => t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if ((attrs.transposeA !== true && attrs.transposeB !== true) || batchOf(a) !== 1 || batchOf(b) !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return upstreamKernel(kernelName, 'wasm', args);
    }
    const backend = args.backend as WasmBackendLike;
    const swapLast = (t: tf.TensorInfo): tf.TensorInfo => {
      const r = t.shape.length;
      const perm = [...Array(r).keys()];
      perm[r - 2] = r - 1;
      perm[r - 1] = r - 2;
      return wasmKernel('Transpose')({ inputs: { x: t }, backend: backend as unknown as tf.KernelBackend, attrs: { perm } }) as tf.TensorInfo;
    };
    const temps: tf.TensorInfo[] = [];
    try {
      const at = attrs.transposeA === true ? swapLast(a) : a;
      if (at !== a) temps.push(at);
      const bt = attrs.transposeB === true ? swapLast(b) : b;
      if (bt !== b) temps.push(bt);
      return upstreamKernel(kernelName, 'wasm', { ...args, inputs: { ...args.inputs, a: at, b: bt }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

/** The kernels ours replaced, for the shapes ours leave to them. */
const upstreamKernels = new Map<string, tf.KernelConfig>();
const upstreamSetUp = new Set<string>();

function upstreamKernel(kernelName: string, backendName: string, args: KernelArgs): tf.TensorInfo {
  const key = `${backendName}:${kernelName}`;
  const kernel = upstreamKernels.get(key);
  if (kernel === undefined) throw new Error(`No upstream ${kernelName} kernel for ${backendName} to fall back to`);
  // Kernels registered after the backend started never had their setup run (wasm: bind the C function).
  if (!upstreamSetUp.has(key)) {
    kernel.setupFunc?.(args.backend as tf.KernelBackend);
    upstreamSetUp.add(key);
  }
  return kernel.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

/** A kernel function the wasm backend registered itself (for use inside our kernels). */
function wasmKernel(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new Error(`The wasm backend has no ${name} kernel, which Latent Studio's wasm kernel fixes use`);
  return kernel.kernelFunc;
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

export const KERNEL_FIXES: readonly Fix[] = [
  fix('cpu', 'ResizeNearestNeighborGrad', resizeNearestNeighborGradCpu, 'indexes dy with the input batch stride: wrong gradient for every image after the first'),
  fix('wasm', 'Conv2DBackpropFilter', conv2DBackpropFilterWasm, 'missing: Conv2D / Conv2DTranspose weights have no gradient'),
  fix('wasm', 'MaxPoolGrad', maxPoolGradWasm, 'running max starts at the smallest positive float: wrong gradient for windows with no positive value'),
  fix('wasm', 'Conv2DBackpropInput', conv2DBackpropInputWasm, 'correct but a scalar C++ loop: the slowest kernel of a conv training step'),
  fix('wasm', 'BatchMatMul', matMulWasm('BatchMatMul'), 'correct but a scalar loop whenever an operand is transposed (every backward matmul)'),
  fix('wasm', '_FusedMatMul', matMulWasm('_FusedMatMul'), 'correct but a scalar loop whenever an operand is transposed'),
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
