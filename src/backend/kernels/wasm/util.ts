/**
 * What Latent Studio's wasm kernels (src/backend/kernels/wasm/*.ts) share: the slice of the wasm
 * backend they use, heap views, calls into the backend's own kernels, and the upstream kernels ours
 * replaced (for the shapes ours hand back to them).
 *
 * Tensors live in the wasm heap. A heap view dies when the heap grows (any allocation may grow it),
 * so every view is taken after the allocations it is used with and never kept across one.
 */
import * as tf from '../../tf';

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: object; attrs?: tf.NamedAttrMap };

/** The parts of tfjs-backend-wasm 4.22's BackendWasm our kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
  /** The tensor's byte offset in the wasm heap (BackendWasm.getMemoryOffset). */
  getMemoryOffset?(dataId: object): number;
}

/** A float32 view of a tensor's data in the wasm heap (see the note on heap views above). */
export const f32 = (backend: WasmBackendLike, info: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(info);

export function channelsLastOnly(kernel: string, dataFormat: unknown): void {
  if (dataFormat === 'NCHW' || dataFormat === 'channelsFirst') {
    throw new Error(`${kernel} on wasm (Latent Studio's replacement kernel) supports NHWC data only`);
  }
}

/** The kernels ours replaced, for the shapes ours leave to them (filled by applyKernelFixes). */
export const upstreamKernels = new Map<string, tf.KernelConfig>();
const upstreamSetUp = new Set<string>();

export function upstreamKernel(kernelName: string, backendName: string, args: KernelArgs): tf.TensorInfo {
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

/**
 * Upstream's `_FusedMatMul` / `FusedConv2D` with a ReLU, keeping NaN. Upstream applies the ReLU as
 * XNNPACK's output clamp, which turns NaN into 0 (every fused matmul, and some convolutions, e.g.
 * one input and one output channel): a layer whose weights went NaN would then look healthy and the NaN-loss check
 * never fire. Here upstream runs linear and the backend's Relu kernel (which keeps NaN) follows.
 */
export function upstreamFusedKeepingNaN(kernelName: '_FusedMatMul' | 'FusedConv2D', args: KernelArgs): tf.TensorInfo {
  if ((args.attrs as { activation?: string } | undefined)?.activation !== 'relu') return upstreamKernel(kernelName, 'wasm', args);
  const linear = upstreamKernel(kernelName, 'wasm', { ...args, attrs: { ...args.attrs, activation: 'linear' } });
  try {
    return runWasm('Relu', args.backend, { x: linear });
  } finally {
    disposeAll(args.backend as WasmBackendLike, [linear]);
  }
}

/**
 * Runs the kernel registered now for wasm under `name` (the backend's own, or ours where we replaced
 * it), on tensors already in the wasm heap. The caller disposes the result.
 */
export function runWasm(name: string, backend: object, inputs: tf.NamedTensorInfoMap, attrs: object = {}): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new Error(`The wasm backend has no ${name} kernel, which Latent Studio's wasm kernels use`);
  return kernel.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
}

/** Disposes the wasm tensors a kernel made for its own use. */
export function disposeAll(backend: WasmBackendLike, temps: readonly tf.TensorInfo[]): void {
  for (const t of temps) backend.disposeData(t.dataId);
}
