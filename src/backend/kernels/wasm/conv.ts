/**
 * Latent Studio's wasm kernels for convolutions and their gradients (registered by
 * src/backend/kernelFixes.ts): our SIMD module (kernels/wasm/simd/kernels.c, split across threads by
 * image where the backend has threads) for the shapes it covers, the backend's own XNNPACK Conv2D
 * (threaded where the backend has threads) for the rest.
 */
import * as tf from '../../tf';
import { heapOffset, runBatch, simdKernels } from './simd';
import { type KernelArgs, type WasmBackendLike, channelsLastOnly, disposeAll, f32, runWasm, upstreamFusedKeepingNaN, upstreamKernel } from './util';

/** How Conv2DBackpropFilter computes (see conv2DBackpropFilterWasm). */
export type FilterGradPlan = 'simd' | 'x-images' | 'dy-images';

/**
 * Whether convolutions with CO % 4 == 0 run on our direct SIMD kernel ('auto', 'always': yes; it
 * beat XNNPACK by 0-40% on the seed conv autoencoder's 8- and 16-channel layers, once XNNPACK's
 * per-call filter packing is counted) or on XNNPACK ('never': benchmarks and tests).
 */
let directConv: 'auto' | 'always' | 'never' = 'auto';
export function setDirectConv(mode: 'auto' | 'always' | 'never'): void {
  directConv = mode;
}

/** Forces one plan for every shape it can run (benchmarks and tests); null: the cost rule picks. */
let forcedPlan: FilterGradPlan | null = null;
export function forceFilterGradPlan(plan: FilterGradPlan | null): void {
  forcedPlan = plan;
}

/**
 * Upstream defect: tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel at all, so the
 * gradient of every Conv2D and Conv2DTranspose weight fails on wasm ("Kernel 'Conv2DBackpropFilter'
 * not registered for backend 'wasm'").
 *
 * dW[i, j, c, co] = sum over (n, p, q) of x[n, p*sh + i - top, q*sw + j - left, c] * dy[n, p, q, co].
 *
 * - 'simd' (when C or CO is a multiple of 4): our own WebAssembly SIMD loop (kernels/wasm/simd/kernels.c)
 *   straight over x and dy in the heap, each filter tap's sums in registers: no copies at all.
 * - Otherwise a convolution with the batch as its reduction channel on the backend's own Conv2D
 *   (XNNPACK), laid out one of two ways:
 *   - 'x-images': of x seen as C images of N channels ([C, H, W, N]), by dy seen as a filter of
 *     OH x OW taps ([OH, OW, N, CO]), dilated by the forward strides, giving [C, KH, KW, CO];
 *   - 'dy-images' (stride 1 only): of dy seen as CO images of N channels ([CO, OH, OW, N]), padded
 *     by the filter size, by x seen as a filter ([H, W, N, C]), giving the filter gradient flipped
 *     in both spatial axes ([CO, KH, KW, C]).
 *   XNNPACK packs the filter anew on every call (here: all of x or dy) and computes in tiles of 8
 *   output channels, so a convolution with one output channel wastes 7/8 of its work: the cost
 *   rule picks the layout whose output channels (CO for 'x-images', C for 'dy-images') are the
 *   more numerous. The data moves with the backend's Transpose (and Slice) kernels.
 */
export function conv2DBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
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
  const { batchSize: N, inHeight, inWidth, inChannels: C, outHeight, outWidth, outChannels: CO, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Rows / columns of x below / right of every window count as negative padding.
  const bottom = (outHeight - 1) * sh + KH - inHeight - top;
  const right = (outWidth - 1) * sw + KW - inWidth - left;
  const simd = simdKernels(backend);
  const simdFits = simd !== null && (CO % 4 === 0 || C % 4 === 0) && x.dtype === 'float32' && dy.dtype === 'float32';
  if (simdFits && (forcedPlan === null || forcedPlan === 'simd')) {
    // Each thread sums its own images into its own [KH, KW, C, CO] buffer; the buffers are added up after.
    const parts = simd.batchParts(N, 8);
    const outs = parts.map(() => backend.makeOutput([KH, KW, C, CO], 'float32'));
    try {
      for (const o of outs) f32(backend, o).fill(0);
      const [xAt, dyAt] = [heapOffset(backend, x), heapOffset(backend, dy)];
      simd.runParts(
        CO % 4 === 0 ? 'conv2d_filter_grad_co' : 'conv2d_filter_grad_c',
        parts.map(([first, count], i) => [
          xAt + first * inHeight * inWidth * C * 4,
          dyAt + first * outHeight * outWidth * CO * 4,
          heapOffset(backend, outs[i]!),
          count, inHeight, inWidth, C, outHeight, outWidth, CO, KH, KW, sh, sw, top, left,
        ]),
      );
      const total = f32(backend, outs[0]!);
      for (const o of outs.slice(1)) {
        const v = f32(backend, o);
        for (let i = 0; i < total.length; i++) total[i]! += v[i]!;
      }
      return outs.shift()!;
    } finally {
      for (const o of outs) backend.disposeData(o.dataId);
    }
  }
  const temps: tf.TensorInfo[] = [];
  try {
    // 'dy-images' pads dy by (KH - 1 - top, KH - 1 - bottom) (and the same across): all >= 0 when
    // the forward padding is at most the filter size less one, as 'same' and 'valid' always are.
    const dyImagesFits = sh === 1 && sw === 1 && Math.max(top, left, bottom, right) <= Math.min(KH, KW) - 1;
    const plan: FilterGradPlan =
      forcedPlan === 'x-images' || forcedPlan === 'dy-images' ? (forcedPlan === 'dy-images' && !dyImagesFits ? 'x-images' : forcedPlan) : dyImagesFits && C > CO ? 'dy-images' : 'x-images';
    if (plan === 'dy-images') {
      const images = runWasm('Transpose', backend, { x: dy }, { perm: [3, 1, 2, 0] }); // [CO, OH, OW, N]
      temps.push(images);
      let xUsed = x;
      if (bottom < 0 || right < 0) {
        xUsed = runWasm('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [N, inHeight + Math.min(0, bottom), inWidth + Math.min(0, right), C] });
        temps.push(xUsed);
      }
      const taps = runWasm('Transpose', backend, { x: xUsed }, { perm: [1, 2, 0, 3] }); // [H', W', N, C]
      temps.push(taps);
      const grad = runWasm('Conv2D', backend, { x: images, filter: taps }, {
        strides: [1, 1],
        pad: [[0, 0], [KH - 1 - top, KH - 1 - Math.max(0, bottom)], [KW - 1 - left, KW - 1 - Math.max(0, right)], [0, 0]],
        dilations: [1, 1],
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
      }); // [CO, KH, KW, C], flipped in KH and KW
      temps.push(grad);
      const dw = backend.makeOutput([KH, KW, C, CO], 'float32');
      const gv = f32(backend, grad);
      const dwv = f32(backend, dw);
      for (let co = 0; co < CO; co++)
        for (let i = 0; i < KH; i++)
          for (let j = 0; j < KW; j++) {
            const from = ((co * KH + (KH - 1 - i)) * KW + (KW - 1 - j)) * C;
            const to = (i * KW + j) * C * CO + co;
            for (let c = 0; c < C; c++) dwv[to + c * CO] = gv[from + c]!;
          }
      return dw;
    }
    let xUsed = x;
    if (bottom < 0 || right < 0) {
      xUsed = runWasm('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [N, inHeight + Math.min(0, bottom), inWidth + Math.min(0, right), C] });
      temps.push(xUsed);
    }
    const images = runWasm('Transpose', backend, { x: xUsed }, { perm: [3, 1, 2, 0] }); // [C, H, W, N]
    temps.push(images);
    const taps = runWasm('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, CO]
    temps.push(taps);
    const grad = runWasm('Conv2D', backend, { x: images, filter: taps }, {
      strides: [1, 1],
      pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]],
      dilations: [sh, sw],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    }); // [C, KH, KW, CO]
    temps.push(grad);
    return runWasm('Transpose', backend, { x: grad }, { perm: [1, 2, 0, 3] }); // [KH, KW, C, CO]
  } finally {
    disposeAll(backend, temps);
  }
}

/**
 * Upstream: tfjs-backend-wasm 4.22 Conv2DBackpropInput is correct (test/backend/gradients.test.ts)
 * but a direct scalar loop in C++; it was the slowest kernel of a conv autoencoder's training step
 * on wasm (the input gradient of every Conv2D after the first, and the forward of Conv2DTranspose).
 *
 * The input gradient of a convolution is itself a stride-1 convolution: of dy, spread out by the
 * strides with zeros in between, with the filter rotated by 180 degrees and its in/out channels
 * swapped, padded by (filter size - 1 - the forward padding). That convolution runs on the Conv2D
 * registered for wasm (conv2DWasm below: our SIMD kernels, or XNNPACK); only the filter flip and the
 * spreading are JS loops. With strides > 1 that spreading would make 1 - 1/(sh*sw) of the work
 * multiplying zeros: strided gradients with a multiple of 4 input channels run in our SIMD module
 * instead (conv2d_input_grad), which visits only the taps that meet a dy pixel. Shapes it cannot
 * express (NCHW, a padding larger than the filter) use the upstream kernel.
 */
export function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
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
  const simd = simdKernels(backend);
  if (simd !== null && (sh > 1 || sw > 1) && inChannels % 4 === 0 && dy.dtype === 'float32' && filter.dtype === 'float32') {
    // Strided: our SIMD kernel reads dy directly (no zeros spread between its pixels).
    const wt = backend.makeOutput([kh, kw, outChannels, inChannels], 'float32');
    try {
      const fv = f32(backend, filter);
      const tv = f32(backend, wt);
      for (let t = 0; t < kh * kw; t++)
        for (let ci = 0; ci < inChannels; ci++)
          for (let co = 0; co < outChannels; co++) tv[(t * outChannels + co) * inChannels + ci] = fv[(t * inChannels + ci) * outChannels + co]!;
      const dx = backend.makeOutput([batchSize, inHeight, inWidth, inChannels], 'float32');
      const args = [heapOffset(backend, dy), heapOffset(backend, wt), heapOffset(backend, dx), batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, kh, kw, sh, sw, info.padInfo.top, info.padInfo.left];
      runBatch(simd, 'conv2d_input_grad', args, 3, { 0: outHeight * outWidth * outChannels * 4, 2: inHeight * inWidth * inChannels * 4 });
      return dx;
    } finally {
      backend.disposeData(wt.dataId);
    }
  }
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
  const dx = runWasm('Conv2D', backend, { x: spread ?? dy, filter: flipped }, {
    strides: [1, 1],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dilations: [1, 1],
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
  });
  backend.disposeData(flipped.dataId);
  if (spread !== null) backend.disposeData(spread.dataId);
  return dx;
}

/**
 * Upstream: tfjs-backend-wasm 4.22 Conv2D / FusedConv2D run XNNPACK's convolution, which computes
 * in tiles of several input and output channels: a convolution with one input channel (the first
 * layer on grayscale images, and the input gradient of a one-channel output layer) or one output
 * channel (a grayscale reconstruction layer) leaves most of each tile empty. Those two shapes run
 * in our SIMD module instead (kernels/wasm/simd/kernels.c: conv2d_in1, conv2d_out1), with the bias and
 * a linear or ReLU activation; every other convolution goes to the upstream kernel.
 */
export function conv2DWasm(kernelName: 'Conv2D' | 'FusedConv2D'): (args: KernelArgs) => tf.TensorInfo {
  const upstream = (args: KernelArgs): tf.TensorInfo => (kernelName === 'FusedConv2D' ? upstreamFusedKeepingNaN(kernelName, args) : upstreamKernel(kernelName, 'wasm', args));
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
    const backend = args.backend as WasmBackendLike;
    const activation = attrs.activation ?? 'linear';
    const simd = simdKernels(backend);
    const plain =
      simd !== null &&
      attrs.dataFormat !== 'NCHW' &&
      (activation === 'linear' || activation === 'relu') &&
      preluActivationWeights == null &&
      x.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      (bias == null || bias.dtype === 'float32') &&
      [attrs.dilations ?? 1].flat().every((d) => d === 1);
    if (!plain) return upstream(args);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW } = info;
    const biasFits = bias == null || tf.util.sizeFromShape(bias.shape) === CO;
    const relu = activation === 'relu' ? 1 : 0;
    if (biasFits && C === 1 && CO % 4 === 0) {
      const y = backend.makeOutput(info.outShape, 'float32');
      const args = [heapOffset(backend, x), heapOffset(backend, filter), bias == null ? 0 : heapOffset(backend, bias), heapOffset(backend, y),
        N, H, W, OH, OW, CO, KH, KW, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, relu];
      runBatch(simd, 'conv2d_in1', args, 4, { 0: H * W * 4, 3: OH * OW * CO * 4 });
      return y;
    }
    if (biasFits && CO === 1 && C % 4 === 0) {
      const y = backend.makeOutput(info.outShape, 'float32');
      const b0 = bias == null ? 0 : f32(backend, bias)[0]!;
      const args = [heapOffset(backend, x), heapOffset(backend, filter), b0, heapOffset(backend, y),
        N, H, W, C, OH, OW, KH, KW, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, relu];
      runBatch(simd, 'conv2d_out1', args, 4, { 0: H * W * C * 4, 3: OH * OW * 4 });
      return y;
    }
    if (biasFits && directConv !== 'never' && CO % 4 === 0) {
      const y = backend.makeOutput(info.outShape, 'float32');
      const args = [heapOffset(backend, x), heapOffset(backend, filter), bias == null ? 0 : heapOffset(backend, bias), heapOffset(backend, y),
        N, H, W, C, OH, OW, CO, KH, KW, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, relu];
      runBatch(simd, 'conv2d_direct', args, 4, { 0: H * W * C * 4, 3: OH * OW * CO * 4 });
      return y;
    }
    return upstream(args);
  };
}
