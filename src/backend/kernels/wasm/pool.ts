/** Latent Studio's wasm kernels for pooling and upsampling gradients (registered by src/backend/kernelFixes.ts). */
import * as tf from '../../tf';
import { heapOffset, runBatch, simdKernels } from './simd';
import { type KernelArgs, type WasmBackendLike, f32, runWasm, upstreamKernel } from './util';

/**
 * Upstream defect: tfjs-backend-wasm 4.22 MaxPoolGrad.cc seeds each window's running max with
 * std::numeric_limits<float>::min() (1.2e-38, the smallest *positive* float) instead of the lowest
 * float, so in a window with no positive value (every all-zero window after a ReLU) nothing beats
 * the seed and the window's gradient goes to its first position instead of its maximum.
 *
 * This version routes each dy value to the first maximum of its window (the cpu backend's tie
 * rule), starting from the window's first valid pixel: in our SIMD module (kernels/wasm/simd/kernels.c)
 * when it loads, else in JS over the heap. Windows that tile the input (MaxPooling2D's default:
 * strides = pool size) take max_pool_grad_tiled, which writes each dx element once (no zeroing pass).
 */
export function maxPoolGradWasm(args: KernelArgs): tf.TensorInfo {
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
  const simd = simdKernels(backend);
  if (simd !== null && dilationHeight === 1 && dilationWidth === 1 && input.dtype === 'float32' && dy.dtype === 'float32') {
    const { filterHeight: FH, filterWidth: FW } = info;
    // Windows that tile the input (each pixel in exactly one): every dx element is written once.
    const tiled = C % 4 === 0 && strideHeight === FH && strideWidth === FW && top >= 0 && left >= 0 && outHeight * FH - top >= inHeight && outWidth * FW - left >= inWidth;
    if (tiled) {
      const args = [heapOffset(backend, input), heapOffset(backend, dy), heapOffset(backend, dx), batchSize, inHeight, inWidth, C, outHeight, outWidth, FH, FW, top, left];
      runBatch(simd, 'max_pool_grad_tiled', args, 3, { 0: inHeight * inWidth * C * 4, 1: outHeight * outWidth * C * 4, 2: inHeight * inWidth * C * 4 });
      return dx;
    }
    f32(backend, dx).fill(0);
    const args = [heapOffset(backend, input), heapOffset(backend, dy), heapOffset(backend, dx), batchSize, inHeight, inWidth, C, outHeight, outWidth,
      info.filterHeight, info.filterWidth, strideHeight, strideWidth, top, left];
    runBatch(simd, 'max_pool_grad', args, 3, { 0: inHeight * inWidth * C * 4, 1: outHeight * outWidth * C * 4, 2: inHeight * inWidth * C * 4 });
    return dx;
  }
  const xv = f32(backend, input);
  const dyv = f32(backend, dy);
  const dxv = f32(backend, dx);
  dxv.fill(0);
  const bases = new Int32Array(Math.ceil(effectiveFilterHeight / dilationHeight) * Math.ceil(effectiveFilterWidth / dilationWidth));
  let dyBase = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      for (let ow = 0; ow < outWidth; ow++, dyBase += C) {
        const w0 = ow * strideWidth - left;
        let k = 0;
        for (let fh = 0; fh < effectiveFilterHeight; fh += dilationHeight) {
          const ih = h0 + fh;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < effectiveFilterWidth; fw += dilationWidth) {
            const iw = w0 + fw;
            if (iw < 0 || iw >= inWidth) continue;
            bases[k++] = ((b * inHeight + ih) * inWidth + iw) * C;
          }
        }
        if (k === 0) continue;
        const first = bases[0]!;
        for (let c = 0; c < C; c++) {
          let at = first + c;
          let best = xv[at]!;
          for (let j = 1; j < k; j++) {
            const i = bases[j]! + c;
            const v = xv[i]!;
            if (v > best) {
              best = v;
              at = i;
            }
          }
          dxv[at]! += dyv[dyBase + c]!;
        }
      }
    }
  }
  return dx;
}

/** The integer factors of a nearest-neighbour resize UpSampling2D does, or null for any other resize. */
function upsamplingFactors(small: readonly number[], large: readonly number[], attrs: { alignCorners?: boolean; halfPixelCenters?: boolean }): [number, number] | null {
  const fh = large[1]! / small[1]!;
  const fw = large[2]! / small[2]!;
  if (attrs.alignCorners === true || attrs.halfPixelCenters === true || !Number.isInteger(fh) || !Number.isInteger(fw)) return null;
  return [fh, fw];
}

/**
 * Upstream: tfjs-backend-wasm 4.22 ResizeNearestNeighbor computes a source pixel per output value
 * in a scalar loop. For UpSampling2D's resize (an integer factor per axis, no corner alignment, no
 * half-pixel centers) every input pixel is one fh x fw block of the output: our SIMD module copies
 * the blocks (kernels/wasm/simd/kernels.c: upsample_nearest). Any other resize goes upstream.
 */
export function resizeNearestNeighborWasm(args: KernelArgs): tf.TensorInfo {
  const { images } = args.inputs as { images: tf.TensorInfo };
  const attrs = args.attrs as { alignCorners?: boolean; halfPixelCenters?: boolean; size: [number, number] };
  const [N, H, W, C] = images.shape as [number, number, number, number];
  const factors = upsamplingFactors(images.shape, [N, attrs.size[0], attrs.size[1], C], attrs);
  const simd = simdKernels(args.backend);
  if (factors === null || simd === null || images.dtype !== 'float32') return upstreamKernel('ResizeNearestNeighbor', 'wasm', args);
  const backend = args.backend as WasmBackendLike;
  const y = backend.makeOutput([N, attrs.size[0], attrs.size[1], C], 'float32');
  const [fh, fw] = factors;
  runBatch(simd, 'upsample_nearest', [heapOffset(backend, images), heapOffset(backend, y), N, H, W, C, fh, fw], 2, { 0: H * W * C * 4, 1: H * W * C * fh * fw * 4 });
  return y;
}

/**
 * Upstream: tfjs-backend-wasm 4.22 ResizeNearestNeighborGrad is correct but a scalar C++ loop over
 * every dy pixel and every source candidate; it was one of the slowest kernels of a conv
 * autoencoder's training step (the gradient of every UpSampling2D).
 *
 * For UpSampling2D's resize every input pixel was copied into one fh x fw block of the output, so
 * its gradient is that block's sum: our SIMD module sums the blocks (upsample_nearest_grad); without
 * it, fh * fw times an fh x fw average pool of dy (XNNPACK). Any other resize goes upstream.
 */
export function resizeNearestNeighborGradWasm(args: KernelArgs): tf.TensorInfo {
  const { images, dy } = args.inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as { alignCorners?: boolean; halfPixelCenters?: boolean };
  const factors = upsamplingFactors(images.shape, dy.shape, attrs);
  if (factors === null || dy.dtype !== 'float32') return upstreamKernel('ResizeNearestNeighborGrad', 'wasm', args);
  const [fh, fw] = factors;
  const backend = args.backend as WasmBackendLike;
  const simd = simdKernels(backend);
  if (simd !== null) {
    const [N, H, W, C] = images.shape as [number, number, number, number];
    const dx = backend.makeOutput([N, H, W, C], 'float32');
    runBatch(simd, 'upsample_nearest_grad', [heapOffset(backend, dy), heapOffset(backend, dx), N, H, W, C, fh, fw], 2, { 0: H * W * C * fh * fw * 4, 1: H * W * C * 4 });
    return dx;
  }
  const dx = runWasm('AvgPool', backend, { x: dy }, { filterSize: [fh, fw], strides: [fh, fw], pad: 'valid', dimRoundingMode: undefined });
  const scale = fh * fw;
  if (scale !== 1) {
    const v = f32(backend, dx);
    for (let i = 0; i < v.length; i++) v[i]! *= scale;
  }
  return dx;
}
