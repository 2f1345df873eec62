/**
 * A training batch assembled on the webgpu device from the dataset's own bytes.
 *
 * Why: building each batch on the CPU costs one upload per step (~0.9 ms through Dawn on an H100,
 * whatever the size). Keeping the dataset on the device as float32 would need 4 bytes per pixel, and
 * a tensor is one storage binding, limited to 128 MiB on many adapters (WebGPU's default): Fashion-
 * MNIST alone is 219 MB as float32. So the pixels stay bytes (4 per 32-bit word, 55 MB for
 * Fashion-MNIST) and one dispatch picks a batch's samples through the epoch's order and converts
 * them with the same 256-entry table as the CPU path (src/data/index.ts batchToFloat), so batches are
 * bit-identical to the uploaded ones (test/backend/webgpuKernels.test.ts).
 */
import * as tf from '../../tf';
import { type WebGpuKernelArgs, ensureWebgpuKernel, runProgram } from './program';

const KERNEL = 'LatentGatherBytes';

interface Attrs {
  start: number;
  count: number;
  sampleShape: number[];
}

function gatherBytesKernel(args: WebGpuKernelArgs): tf.TensorInfo {
  const { bytes, order, table } = args.inputs as { bytes: tf.TensorInfo; order: tf.TensorInfo; table: tf.TensorInfo };
  const { start, count, sampleShape } = args.attrs as unknown as Attrs;
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const program = {
    key: 'latent_gather_bytes',
    outputShape: [count, ...sampleShape],
    variableNames: ['Bytes', 'Order', 'Table'],
    uniformFields: 'start : i32, per : i32,',
    body: `let k = index / uniforms.per;
          let j = index - k * uniforms.per;
          let at = Order[uniforms.start + k] * uniforms.per + j;
          let word = Bytes[at / 4];
          let byte = (word >> u32((at % 4) * 8)) & 255;
          setOutputAtIndex(index, Table[byte]);`,
  };
  return runProgram(args.backend, program, [bytes, order, table], [
    { type: 'int32', value: start },
    { type: 'int32', value: per },
  ]);
}

/** The dataset's bytes as int32 words (4 pixels each, little-endian), for gatherBytes. */
export function packBytes(pixels: Uint8Array): tf.Tensor1D {
  const words = new Int32Array(Math.ceil(pixels.length / 4));
  new Uint8Array(words.buffer).set(pixels);
  return tf.tensor1d(words, 'int32');
}

/**
 * Samples order[start .. start + count) of a packed dataset as a float32 batch of shape
 * [count, ...sampleShape], each byte mapped through `table` (float32[256]). webgpu only.
 */
export function gatherBytes(bytes: tf.Tensor1D, order: tf.Tensor1D, table: tf.Tensor1D, start: number, count: number, sampleShape: readonly number[]): tf.Tensor {
  ensureWebgpuKernel(KERNEL, gatherBytesKernel);
  return tf.engine().runKernel(KERNEL, { bytes, order, table }, { start, count, sampleShape: [...sampleShape] } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
