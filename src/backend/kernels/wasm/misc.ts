/** Latent Studio's wasm kernels for matmul, identity, reductions, elementwise ops and activation gradients (registered by src/backend/kernelFixes.ts). */
import * as tf from '../../tf';
import { heapOffset, runBatch, simdKernels } from './simd';
import { type KernelArgs, type WasmBackendLike, disposeAll, f32, runWasm, upstreamFusedKeepingNaN, upstreamKernel } from './util';

/**
 * Upstream: tfjs-backend-wasm 4.22 BatchMatMul / _FusedMatMul run XNNPACK's fully-connected GEMM
 * only when neither operand is transposed (and both batch sizes are 1); with transposeA or
 * transposeB they fall back to a scalar triple loop (~1-2 GFLOP/s). Every matmul of a dense
 * layer's backward pass is transposed (dX = dY·Wᵀ, dW = Xᵀ·dY): they were ~75% of a dense
 * autoencoder's training step. This version transposes the transposed operand(s) with the
 * backend's Transpose kernel (one O(size) copy) and runs the untransposed GEMM on XNNPACK.
 */
export function matMulWasm(kernelName: 'BatchMatMul' | '_FusedMatMul'): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    const batchOf = (t: tf.TensorInfo): number => t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const transposed = attrs.transposeA === true || attrs.transposeB === true;
    const upstream = (a: KernelArgs): tf.TensorInfo => (kernelName === '_FusedMatMul' ? upstreamFusedKeepingNaN(kernelName, a) : upstreamKernel(kernelName, 'wasm', a));
    if (!transposed || batchOf(a) !== 1 || batchOf(b) !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return upstream(args);
    }
    const backend = args.backend as WasmBackendLike;
    const swapLast = (t: tf.TensorInfo): tf.TensorInfo => {
      const r = t.shape.length;
      const perm = [...Array(r).keys()];
      perm[r - 2] = r - 1;
      perm[r - 1] = r - 2;
      return runWasm('Transpose', backend, { x: t }, { perm });
    };
    const temps: tf.TensorInfo[] = [];
    try {
      const at = attrs.transposeA === true ? swapLast(a) : a;
      if (at !== a) temps.push(at);
      const bt = attrs.transposeB === true ? swapLast(b) : b;
      if (bt !== b) temps.push(bt);
      return upstream({
        ...args,
        inputs: { ...args.inputs, a: at, b: bt },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      disposeAll(backend, temps);
    }
  };
}

/**
 * Upstream: tfjs-backend-wasm 4.22 Identity copies the tensor. The engine clones (Identity) every
 * tensor a gradient saves for the backward pass, so each training step copied every activation
 * once more. Tensors are immutable, so this version shares the data (a reference count, as the
 * cpu and webgl backends do).
 */
export function identityWasm(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string') return upstreamKernel('Identity', 'wasm', args);
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * Upstream: tfjs-backend-wasm 4.22 Sum over leading axes (a bias gradient: a [N, H, W, C] tensor
 * summed to [C]) first transposes the whole tensor so the reduced axes come last, then reduces.
 * This version sums float32 leading-axis reductions straight from the heap with float64
 * accumulators (our SIMD module, else JS); anything else goes to the upstream kernel.
 */
export function sumWasm(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32') return upstreamKernel('Sum', 'wasm', args);
  const backend = args.backend as WasmBackendLike;
  const rest = x.shape.slice(axes.length);
  const outShape = attrs.keepDims ? [...axes.map(() => 1), ...rest] : rest;
  const C = rest.reduce((p, d) => p * d, 1);
  const out = backend.makeOutput(outShape, 'float32');
  const simd = simdKernels(backend);
  if (simd !== null) {
    simd.call('sum_rows', heapOffset(backend, x), heapOffset(backend, out), tf.util.sizeFromShape(x.shape) / C, C);
    return out;
  }
  const xv = f32(backend, x);
  const R = xv.length / C;
  const ov = f32(backend, out);
  if (C === 1) {
    let s = 0;
    for (let i = 0; i < R; i++) s += xv[i]!;
    ov[0] = s;
    return out;
  }
  const acc = new Float64Array(C);
  for (let r = 0, base = 0; r < R; r++, base += C) {
    for (let c = 0; c < C; c++) acc[c]! += xv[base + c]!;
  }
  ov.set(acc);
  return out;
}

/**
 * Upstream: tfjs-backend-wasm 4.22 Cast copies even to the same dtype (the ReLU gradient casts a
 * float32 step function to float32). Tensors are immutable: a same-dtype cast shares the data.
 */
export function castWasm(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (dtype !== x.dtype || x.dtype === 'string') return upstreamKernel('Cast', 'wasm', args);
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * Upstream: tfjs-backend-wasm 4.22 Add broadcasts a [C] bias over an [..., C] tensor (every
 * Conv2D / Dense bias when the layer's activation is not fused) through its general broadcasting
 * loop. That shape runs in our SIMD module (kernels/wasm/simd/kernels.c: add_bias); anything else upstream.
 */
export function addWasm(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const simd = simdKernels(args.backend);
  const [big, bias] = a.shape.length >= b.shape.length ? [a, b] : [b, a];
  const C = big.shape[big.shape.length - 1] ?? 0;
  const fits = simd !== null && a.dtype === 'float32' && b.dtype === 'float32' && big.shape.length >= 2 && bias.shape.length === 1 && bias.shape[0] === C && C > 0;
  if (!fits) return upstreamKernel('Add', 'wasm', args);
  const backend = args.backend as WasmBackendLike;
  const y = backend.makeOutput([...big.shape], 'float32');
  const rows = tf.util.sizeFromShape(big.shape) / C;
  // Rows split across the pool like images (at least 4096 rows each).
  runBatch(simd, 'add_bias', [heapOffset(backend, big), heapOffset(backend, bias), heapOffset(backend, y), rows, C], 3, { 0: C * 4, 2: C * 4 }, 4096);
  return y;
}

/** Tensors at most this large take the JS paths below (an optimizer's per-weight arithmetic). */
const SMALL = 16384;

/**
 * Upstream: tfjs-backend-wasm 4.22 runs elementwise ops on XNNPACK, which splits even a few hundred
 * elements across its thread pool: with threads on, waking the pool cost far more than the
 * arithmetic (a 1152-element Square: 0.37 ms on 2 threads, 0.013 ms on 1). The optimizer's update
 * is dozens of such ops per weight tensor. Small float32 tensors are computed here in JS instead:
 * JS computes in float64 and rounds once to float32, which gives the same bits as float32
 * arithmetic for + - * / and sqrt. Larger tensors, and anything else, go to the upstream kernel.
 */
export function smallUnaryWasm(kernelName: 'Square' | 'Sqrt' | 'Neg'): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const size = tf.util.sizeFromShape(x.shape);
    if (x.dtype !== 'float32' || size > SMALL) return upstreamKernel(kernelName, 'wasm', args);
    const backend = args.backend as WasmBackendLike;
    const y = backend.makeOutput([...x.shape], 'float32');
    const xv = f32(backend, x);
    const yv = f32(backend, y);
    // One loop per op (a shared loop calling an op function would not be inlined).
    switch (kernelName) {
      case 'Square':
        for (let i = 0; i < size; i++) yv[i] = xv[i]! * xv[i]!;
        break;
      case 'Sqrt':
        for (let i = 0; i < size; i++) yv[i] = Math.sqrt(xv[i]!);
        break;
      case 'Neg':
        for (let i = 0; i < size; i++) yv[i] = -xv[i]!;
        break;
    }
    return y;
  };
}

type BinaryName = 'Add' | 'Sub' | 'Multiply' | 'RealDiv';

/** y = a op b elementwise, where a or b may be one value (step 0). */
function binaryLoop(name: BinaryName, av: Float32Array, as: number, bv: Float32Array, bs: number, yv: Float32Array): void {
  const n = yv.length;
  switch (name) {
    case 'Add':
      for (let i = 0, j = 0, k = 0; i < n; i++, j += as, k += bs) yv[i] = av[j]! + bv[k]!;
      break;
    case 'Sub':
      for (let i = 0, j = 0, k = 0; i < n; i++, j += as, k += bs) yv[i] = av[j]! - bv[k]!;
      break;
    case 'Multiply':
      for (let i = 0, j = 0, k = 0; i < n; i++, j += as, k += bs) yv[i] = av[j]! * bv[k]!;
      break;
    case 'RealDiv':
      for (let i = 0, j = 0, k = 0; i < n; i++, j += as, k += bs) yv[i] = av[j]! / bv[k]!;
      break;
  }
}

/** The same for binary ops of two same-shape tensors, or a tensor and a one-element tensor. */
export function smallBinaryWasm(kernelName: BinaryName, bigger?: (args: KernelArgs) => tf.TensorInfo): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const sa = tf.util.sizeFromShape(a.shape);
    const sb = tf.util.sizeFromShape(b.shape);
    const same = tf.util.arraysEqual(a.shape, b.shape);
    const scalarB = sb === 1 && b.shape.length <= a.shape.length;
    const scalarA = sa === 1 && a.shape.length <= b.shape.length;
    const fits = a.dtype === 'float32' && b.dtype === 'float32' && Math.max(sa, sb) <= SMALL && (same || scalarA || scalarB);
    if (!fits) return bigger !== undefined ? bigger(args) : upstreamKernel(kernelName, 'wasm', args);
    const backend = args.backend as WasmBackendLike;
    const y = backend.makeOutput(same || scalarB ? [...a.shape] : [...b.shape], 'float32');
    binaryLoop(kernelName, f32(backend, a), same || !scalarA ? 1 : 0, f32(backend, b), same || !scalarB ? 1 : 0, f32(backend, y));
    return y;
  };
}

type CompareName = 'Greater' | 'GreaterEqual' | 'Less' | 'LessEqual';
const COMPARE_OPS: Record<CompareName, number> = { Greater: 0, GreaterEqual: 1, Less: 2, LessEqual: 3 };

/**
 * Upstream: tfjs-backend-wasm 4.22 comparisons (and LogicalAnd, Select) run a scalar C++ loop that
 * computes broadcast indices per element (~15 ns each): a ClipByValue gradient (every
 * binaryCrossentropy loss: GreaterEqual, LessEqual, LogicalAnd, Select over the whole batch) cost
 * milliseconds. Same-shape or one-value operands run in our SIMD module (compare, logical_and,
 * select_where); anything else upstream.
 */
export function compareWasm(kernelName: CompareName): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const simd = simdKernels(args.backend);
    const same = tf.util.arraysEqual(a.shape, b.shape);
    const scalarB = tf.util.sizeFromShape(b.shape) === 1 && b.shape.length <= a.shape.length;
    if (simd === null || a.dtype !== 'float32' || b.dtype !== 'float32' || !(same || scalarB)) return upstreamKernel(kernelName, 'wasm', args);
    const backend = args.backend as WasmBackendLike;
    const y = backend.makeOutput([...a.shape], 'bool');
    simd.call('compare', heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, y), tf.util.sizeFromShape(a.shape), same ? 1 : 0, COMPARE_OPS[kernelName]);
    return y;
  };
}

/** LogicalAnd of two same-shape bool tensors (see compareWasm). */
export function logicalAndWasm(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const simd = simdKernels(args.backend);
  if (simd === null || a.dtype !== 'bool' || b.dtype !== 'bool' || !tf.util.arraysEqual(a.shape, b.shape)) return upstreamKernel('LogicalAnd', 'wasm', args);
  const backend = args.backend as WasmBackendLike;
  const y = backend.makeOutput([...a.shape], 'bool');
  simd.call('logical_and', heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, y), tf.util.sizeFromShape(a.shape));
  return y;
}

/** Select (where) with a bool condition and float32 branches, all the same shape (see compareWasm). */
export function selectWasm(args: KernelArgs): tf.TensorInfo {
  const { condition, t, e } = args.inputs as { condition: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
  const simd = simdKernels(args.backend);
  const fits = simd !== null && condition.dtype === 'bool' && t.dtype === 'float32' && e.dtype === 'float32' && tf.util.arraysEqual(condition.shape, t.shape) && tf.util.arraysEqual(t.shape, e.shape);
  if (!fits) return upstreamKernel('Select', 'wasm', args);
  const backend = args.backend as WasmBackendLike;
  const y = backend.makeOutput([...t.shape], 'float32');
  simd.call('select_where', heapOffset(backend, condition), heapOffset(backend, t), heapOffset(backend, e), heapOffset(backend, y), tf.util.sizeFromShape(t.shape));
  return y;
}

/**
 * `LatentReluGrad` / `LatentSigmoidGrad`: not tfjs kernels but one-pass activation gradients, used by
 * src/backend/kernels/activationGrads.ts where tfjs-core runs Step + Multiply (ReLU: two passes over
 * the layer's activations per step) or Sub, Multiply, Multiply (sigmoid). Same arithmetic (sigmoid
 * bit-identical; ReLU gives +0 where dy · 0 gave ±0); the batch split across the kernel threads.
 */
export function activationGradWasm(kernel: 'relu_grad' | 'sigmoid_grad'): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput([...x.shape], 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    const simd = simdKernels(backend);
    if (simd !== null) {
      runBatch(simd, kernel, [heapOffset(backend, dy), heapOffset(backend, x), heapOffset(backend, out), n], 3, { 0: 4, 1: 4, 2: 4 }, 1 << 16);
      return out;
    }
    const [d, v, o] = [f32(backend, dy), f32(backend, x), f32(backend, out)];
    if (kernel === 'relu_grad') for (let i = 0; i < n; i++) o[i] = v[i]! > 0 ? d[i]! : Number.isNaN(v[i]) ? v[i]! : 0;
    else for (let i = 0; i < n; i++) o[i] = Math.fround(d[i]! * Math.fround(v[i]! * Math.fround(1 - v[i]!)));
    return out;
  };
}
