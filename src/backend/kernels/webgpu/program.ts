/**
 * What Latent Studio's webgpu kernels (webgpu/losses.ts, webgpu/gradients.ts, webgpu/batches.ts)
 * share: a one-thread-per-output-value program in the shape tfjs-backend-webgpu 4.22 compiles
 * (webgpu_program.ts; inputs are the storage arrays named in `inputs`, `uniforms.size` the output's
 * size), run through the backend's own runWebGPUProgram, and kernel registration.
 */
import * as tf from '../../tf';

const WORKGROUP = 64;

export interface WebGpuKernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

interface ProgramBackend {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: { type: string; data: number[] }[]): tf.TensorInfo;
}

export interface ElementwiseProgram {
  /** Pipeline cache key: the same key must always mean the same shader code. */
  key: string;
  outputShape: readonly number[];
  /** Storage arrays, bound in this order to `inputs` of runProgram. */
  variableNames: readonly string[];
  /** Uniform fields after tfjs' own, e.g. `lo : f32, hi : f32,`, with one value each in runProgram's `uniforms`. */
  uniformFields?: string;
  /** WGSL for output value `index` (an i32), ending in setOutputAtIndex(index, ...). */
  body: string;
}

/**
 * Runs `p` on the webgpu backend of a kernel call. Uniform values go one entry per field: tfjs
 * aligns a multi-value entry as a vector (three floats → a 16-byte vec3), not as separate fields.
 */
export function runProgram(backend: unknown, p: ElementwiseProgram, inputs: tf.TensorInfo[], uniformValues: { type: 'float32' | 'int32'; value: number }[] = []): tf.TensorInfo {
  const size = p.outputShape.reduce((a, b) => a * b, 1);
  const program = {
    outputShape: [...p.outputShape],
    shaderKey: p.key,
    dispatchLayout: { x: p.outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames: [...p.variableNames],
    ...(p.uniformFields ? { uniforms: p.uniformFields } : {}),
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${p.body}
        }
      }`,
  };
  const uniforms = uniformValues.map((u) => ({ type: u.type, data: [u.value] }));
  return (backend as ProgramBackend).runWebGPUProgram(program, inputs, 'float32', uniforms);
}

/** Registers `kernelFunc` for webgpu unless it is there: a backend removed and loaded again (backend.ts) loses its kernels. */
export function ensureWebgpuKernel(kernelName: string, kernelFunc: (args: WebGpuKernelArgs) => tf.TensorInfo): void {
  if (!tf.getKernel(kernelName, 'webgpu')) tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

/** Moves a tensor's values to the GPU now (a no-op elsewhere): tfjs-webgpu runs small ops on CPU-resident values on the CPU and uploads each result. */
export function uploadNow<T extends tf.Tensor>(t: T): T {
  (tf.backend() as unknown as { uploadToGPU?: (dataId: object) => void }).uploadToGPU?.(t.dataId);
  return t;
}
