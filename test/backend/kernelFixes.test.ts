import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/backend/tf';
import { KNOWN_DEFECTS, selectBackend } from '../../src/backend/select';
import { KERNEL_FIXES, applyKernelFixes, isKernelFixed } from '../../src/backend/kernelFixes';
import { fusedConv2d } from '../../src/compile/fusedLayers';
import { type FilterGradPlan, forceFilterGradPlan, setDirectConv } from '../../src/backend/kernels/wasm/conv';
import { simdKernels } from '../../src/backend/kernels/wasm/simd';
import { lossFn } from '../../src/train/scoring';

// The threaded build (and so our kernels' own worker threads) whatever the machine's load: see
// src/backend/kernels/wasm/threads.ts. The batch test at the end checks the kernels split across them.
process.env.LATENT_WASM_THREADS ??= '2';

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

// First: this process has not loaded the wasm backend yet.
test('applyKernelFixes registers wasm kernels only once wasm is loaded, and is idempotent', async () => {
  tf.env().set('PROD', true);
  assert.deepEqual(applyKernelFixes(), ['cpu:ResizeNearestNeighborGrad']);
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined, 'nothing registered for a backend not loaded yet');
  // selectBackend loads wasm, then registers our kernels for it (after the package's own).
  await selectBackend({ prefer: 'wasm' });
  assert.ok(isKernelFixed('Conv2DBackpropFilter', 'wasm'));
  assert.ok(isKernelFixed('MaxPoolGrad', 'wasm'));
  assert.ok(isKernelFixed('Conv2DBackpropInput', 'wasm'));
  const before = KERNEL_FIXES.map((f) => tf.getKernel(f.kernelName, f.backendName)?.kernelFunc);
  const all = KERNEL_FIXES.map((f) => `${f.backendName}:${f.kernelName}`);
  assert.deepEqual(all.slice(0, 4), ['cpu:ResizeNearestNeighborGrad', 'wasm:Conv2DBackpropFilter', 'wasm:MaxPoolGrad', 'wasm:Conv2DBackpropInput']);
  for (const f of KERNEL_FIXES) assert.ok(isKernelFixed(f.kernelName, f.backendName), `${f.backendName}:${f.kernelName}`);
  assert.deepEqual(applyKernelFixes(), all);
  assert.deepEqual(applyKernelFixes('wasm'), all.slice(1));
  assert.deepEqual(applyKernelFixes('webgpu'), []);
  assert.deepEqual(KERNEL_FIXES.map((f) => tf.getKernel(f.kernelName, f.backendName)?.kernelFunc), before);
});

test('every KNOWN_DEFECTS entry is a kernel we replace', () => {
  const tfName = (b: string): string => (b === 'tfjs-node' || b === 'tfjs-node-gpu' ? 'tensorflow' : b);
  for (const d of KNOWN_DEFECTS) {
    assert.ok(
      KERNEL_FIXES.some((f) => f.kernelName === d.kernel && f.backendName === tfName(d.backend)),
      `${d.backend} ${d.kernel} has no replacement in src/backend/kernelFixes.ts`,
    );
  }
});

test('cpu UpSampling2D gradient is right for every image of a batch after the fix', async () => {
  await tf.setBackend('cpu');
  applyKernelFixes();
  const x = tf.randomNormal([3, 5, 4, 2], 0, 1, 'float32', 1);
  const w = tf.randomNormal([3, 10, 8, 2], 0, 1, 'float32', 2);
  const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [10, 8]), w)))(x);
  // Nearest 2x upsampling copies each pixel into a 2x2 block, so its gradient is the block sum.
  const expected = tf.reshape(tf.sum(tf.reshape(w, [3, 5, 2, 4, 2, 2]), [2, 4]), [3, 5, 4, 2]);
  assert.ok(maxAbs(grad, expected) < 1e-5);
});

test('the fixed kernel agrees with a numerical gradient for a non-integer resize', async () => {
  await tf.setBackend('cpu');
  applyKernelFixes();
  const x = tf.randomNormal([2, 3, 5, 1], 0, 1, 'float32', 3);
  const w = tf.randomNormal([2, 7, 4, 1], 0, 1, 'float32', 4);
  const f = (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [7, 4]), w));
  const analytic = tf.grad(f)(x).dataSync();
  const xs = x.dataSync();
  const eps = 1e-2;
  for (let i = 0; i < xs.length; i++) {
    const plus = Float32Array.from(xs);
    const minus = Float32Array.from(xs);
    plus[i]! += eps;
    minus[i]! -= eps;
    const numeric = (f(tf.tensor(plus, x.shape)).dataSync()[0]! - f(tf.tensor(minus, x.shape)).dataSync()[0]!) / (2 * eps);
    assert.ok(Math.abs(numeric - analytic[i]!) < 1e-2, `element ${i}: numeric ${numeric} vs analytic ${analytic[i]}`);
  }
});

/** Runs `f` on cpu and on wasm with the same inputs; returns both results as plain arrays. */
async function onBoth(inputs: { shape: number[]; values: Float32Array }[], f: (...t: tf.Tensor[]) => tf.Tensor): Promise<{ cpu: Float32Array; wasm: Float32Array; wasmDataIdsLeft: number }> {
  await selectBackend({ prefer: 'cpu' });
  const cpu = tf.tidy(() => f(...inputs.map((i) => tf.tensor(i.values, i.shape))).dataSync() as Float32Array);
  await selectBackend({ prefer: 'wasm' });
  const ts = inputs.map((i) => tf.tensor(i.values, i.shape));
  const backend = tf.engine().backend;
  const idsBefore = backend.numDataIds();
  const out = f(...ts);
  const wasm = out.dataSync() as Float32Array;
  out.dispose();
  const wasmDataIdsLeft = backend.numDataIds() - idsBefore;
  tf.dispose(ts);
  return { cpu, wasm, wasmDataIdsLeft };
}

const random = (shape: number[], seed: number, relu = false): { shape: number[]; values: Float32Array } => {
  const t = tf.tidy(() => {
    const r = tf.randomNormal(shape, 0, 1, 'float32', seed);
    return relu ? tf.relu(r) : r;
  });
  const values = t.dataSync() as Float32Array;
  t.dispose();
  return { shape, values };
};

function assertClose(label: string, got: Float32Array, want: Float32Array, relTol: number): void {
  assert.equal(got.length, want.length, label);
  let maxErr = 0;
  let scale = 1;
  for (let i = 0; i < want.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  assert.ok(maxErr <= relTol * scale, `${label}: max abs error ${maxErr} vs cpu, allowed ${relTol * scale}`);
}

test('wasm Conv2DBackpropFilter (ours) matches cpu for strides, paddings and cropped inputs, and frees its memory', async () => {
  const configs: { x: [number, number, number, number]; filter: [number, number, number, number]; strides: [number, number]; pad: 'same' | 'valid' }[] = [
    { x: [2, 5, 5, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
    { x: [2, 6, 7, 3], filter: [3, 3, 3, 4], strides: [2, 2], pad: 'same' },
    { x: [3, 7, 7, 2], filter: [3, 2, 2, 3], strides: [2, 1], pad: 'valid' },
    // The last row and column of x fall in no window (ours crops them).
    { x: [2, 8, 9, 2], filter: [3, 3, 2, 3], strides: [2, 2], pad: 'valid' },
    { x: [1, 4, 4, 1], filter: [4, 4, 1, 2], strides: [1, 1], pad: 'same' },
    { x: [100, 28, 28, 8], filter: [3, 3, 8, 4], strides: [1, 1], pad: 'same' },
    { x: [64, 28, 28, 1], filter: [3, 3, 1, 16], strides: [1, 1], pad: 'same' },
    { x: [16, 28, 28, 16], filter: [3, 3, 16, 1], strides: [1, 1], pad: 'same' },
    { x: [3, 9, 8, 12], filter: [3, 2, 12, 5], strides: [2, 1], pad: 'same' },
    { x: [3, 9, 11, 7], filter: [2, 3, 7, 12], strides: [1, 3], pad: 'valid' },
    { x: [2, 6, 6, 20], filter: [3, 3, 20, 2], strides: [1, 1], pad: 'same' },
    { x: [4, 16, 16, 8], filter: [3, 3, 8, 3], strides: [1, 1], pad: 'valid' },
    // Padding 2 with a 2x2 filter: wider than 'dy-images' can pad (it hands this to 'x-images').
    { x: [2, 6, 6, 3], filter: [2, 2, 3, 2], strides: [1, 1], pad: 2 as unknown as 'same' },
  ];
  // Each plan of ours ('dy-images' falls back to 'x-images' where it cannot run, 'simd' to the cost
  // rule where neither channel count is a multiple of 4), then the cost rule's pick.
  for (const plan of ['simd', 'x-images', 'dy-images', null] as (FilterGradPlan | null)[]) {
    forceFilterGradPlan(plan);
    try {
      for (const [i, c] of configs.entries()) {
        const x = random(c.x, 10 + i);
        const probe = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape as number[]);
        const dy = random(probe, 20 + i);
        // The kernel itself (tfjs exports no op for it; the Conv2D gradient calls it the same way).
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
        const r = await onBoth([x, dy], (xt, dyt) => tf.engine().runKernel('Conv2DBackpropFilter', { x: xt!, dy: dyt! }, attrs) as tf.Tensor);
        assertClose(`plan ${plan} config ${i} ${JSON.stringify(c)}`, r.wasm, r.cpu, 1e-5);
        assert.equal(r.wasmDataIdsLeft, 0, `plan ${plan} config ${i}: wasm tensors left behind`);
      }
    } finally {
      forceFilterGradPlan(null);
    }
  }
});

test('wasm MaxPoolGrad (ours) matches cpu, ties (ReLU zeros) and same padding included', async () => {
  const configs: { x: [number, number, number, number]; size: [number, number]; strides: [number, number]; pad: 'same' | 'valid' }[] = [
    { x: [4, 8, 8, 5], size: [2, 2], strides: [2, 2], pad: 'valid' },
    { x: [3, 7, 9, 2], size: [3, 3], strides: [2, 2], pad: 'same' },
    { x: [2, 5, 5, 3], size: [2, 2], strides: [1, 1], pad: 'same' },
    { x: [2, 9, 6, 4], size: [3, 2], strides: [3, 2], pad: 'valid' },
    // Windows tiling the input (ours writes every dx element once), partial windows at the edge...
    { x: [3, 7, 7, 8], size: [2, 2], strides: [2, 2], pad: 'same' },
    // ...and a last row and column in no window (those take the general path).
    { x: [3, 7, 7, 8], size: [2, 2], strides: [2, 2], pad: 'valid' },
  ];
  for (const [i, c] of configs.entries()) {
    for (const relu of [false, true]) {
      const x = random(c.x, 30 + i, relu);
      const probe = tf.tidy(() => tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.size, c.strides, c.pad).shape as number[]);
      const w = random(probe, 40 + i);
      const r = await onBoth([x, w], (xt, wt) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, c.size, c.strides, c.pad), wt!)))(xt!));
      // Overlapping windows sum into one dx element in another order; a different tie choice
      // would be an O(1) error.
      assertClose(`config ${i} relu=${relu}`, r.wasm, r.cpu, 1e-6);
      assert.equal(r.wasmDataIdsLeft, 0);
    }
  }
});

test('wasm Conv2DBackpropInput (ours) matches cpu for strides, paddings and Conv2DTranspose shapes, and frees its memory', async () => {
  const configs: { dx: [number, number, number, number]; filter: [number, number, number, number]; strides: [number, number]; pad: 'same' | 'valid' | number }[] = [
    { dx: [2, 5, 5, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
    { dx: [2, 6, 7, 3], filter: [3, 3, 3, 4], strides: [2, 2], pad: 'same' },
    { dx: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: [2, 2], pad: 'valid' },
    { dx: [3, 8, 7, 2], filter: [3, 2, 2, 3], strides: [2, 1], pad: 'valid' },
    { dx: [2, 6, 6, 2], filter: [2, 2, 2, 3], strides: [2, 2], pad: 'same' },
    { dx: [2, 9, 9, 1], filter: [4, 4, 1, 2], strides: [3, 3], pad: 'same' },
    { dx: [1, 28, 28, 16], filter: [3, 3, 16, 1], strides: [1, 1], pad: 'same' },
    // Strided with a multiple of 4 input channels: our SIMD kernel (no zeros spread into dy).
    { dx: [2, 9, 8, 8], filter: [3, 3, 8, 4], strides: [2, 2], pad: 'same' },
    { dx: [3, 7, 10, 4], filter: [3, 2, 4, 5], strides: [2, 3], pad: 'valid' },
    { dx: [2, 8, 8, 12], filter: [2, 2, 12, 3], strides: [2, 2], pad: 'same' },
    { dx: [16, 14, 14, 8], filter: [3, 3, 8, 16], strides: [2, 2], pad: 'same' },
    // Padding wider than the filter: ours hands this one to the upstream kernel.
    { dx: [2, 5, 5, 2], filter: [3, 3, 2, 2], strides: [1, 1], pad: 3 },
  ];
  // Its convolution runs on our Conv2D: on the direct SIMD kernel or on XNNPACK.
  for (const mode of ['always', 'never'] as const) {
    setDirectConv(mode);
    try {
      for (const [i, c] of configs.entries()) {
        const probe = tf.tidy(() => tf.conv2d(tf.zeros(c.dx) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape as number[]);
        const dy = random(probe, 50 + i);
        const filter = random(c.filter, 60 + i);
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.dx };
        const r = await onBoth([dy, filter], (dyt, ft) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt!, filter: ft! }, attrs) as tf.Tensor);
        assertClose(`direct ${mode} config ${i} ${JSON.stringify(c)}`, r.wasm, r.cpu, 1e-5);
        assert.equal(r.wasmDataIdsLeft, 0, `config ${i}: wasm tensors left behind`);
      }
    } finally {
      setDirectConv('auto');
    }
  }
});

test('wasm BatchMatMul and _FusedMatMul (ours) match cpu for every transpose combination', async () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const a = random(ta ? [37, 19] : [19, 37], 70);
    const b = random(tb ? [23, 37] : [37, 23], 71);
    const bias = random([23], 72);
    const plain = await onBoth([a, b], (at, bt) => tf.matMul(at!, bt!, ta, tb));
    assertClose(`matMul transposeA=${ta} transposeB=${tb}`, plain.wasm, plain.cpu, 1e-5);
    assert.equal(plain.wasmDataIdsLeft, 0);
    const fused = await onBoth([a, b, bias], (at, bt, ct) => tf.fused.matMul({ a: at as tf.Tensor2D, b: bt as tf.Tensor2D, transposeA: ta, transposeB: tb, bias: ct, activation: 'relu' }));
    assertClose(`fused matMul transposeA=${ta} transposeB=${tb}`, fused.wasm, fused.cpu, 1e-5);
    assert.equal(fused.wasmDataIdsLeft, 0);
  }
  // A batch of matrices stays with the upstream kernel, and is right there too.
  const a3 = random([3, 5, 4], 73);
  const b3 = random([3, 6, 4], 74);
  const batched = await onBoth([a3, b3], (at, bt) => tf.matMul(at!, bt!, false, true));
  assertClose('batched matMul', batched.wasm, batched.cpu, 1e-5);
});

test('wasm Identity (ours) shares data instead of copying, and the data outlives either tensor', async () => {
  await selectBackend({ prefer: 'wasm' });
  const x = tf.tensor([1, 2, 3, 4], [2, 2]);
  const ids = tf.engine().backend.numDataIds();
  const y = tf.clone(x);
  assert.equal(tf.engine().backend.numDataIds(), ids, 'no new buffer');
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  y.dispose();
});

test('wasm ResizeNearestNeighborGrad (ours) matches cpu for integer factors and hands other resizes upstream', async () => {
  const configs: { x: [number, number, number, number]; size: [number, number]; alignCorners?: boolean; halfPixelCenters?: boolean }[] = [
    { x: [3, 5, 4, 2], size: [10, 8] },
    { x: [2, 7, 7, 8], size: [14, 14] },
    { x: [2, 4, 4, 3], size: [12, 8] },
    { x: [2, 3, 5, 1], size: [7, 4] },
    { x: [2, 4, 4, 2], size: [8, 8], alignCorners: true },
    { x: [2, 4, 4, 2], size: [8, 8], halfPixelCenters: true },
  ];
  for (const [i, c] of configs.entries()) {
    const x = random(c.x, 80 + i);
    const w = random([c.x[0], ...c.size, c.x[3]], 90 + i);
    const f = (xt: tf.Tensor, wt: tf.Tensor): tf.Tensor =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, c.size, c.alignCorners ?? false, c.halfPixelCenters ?? false), wt)))(xt);
    const r = await onBoth([x, w], (xt, wt) => f(xt!, wt!));
    assertClose(`config ${i} ${JSON.stringify(c)}`, r.wasm, r.cpu, 1e-5);
    assert.equal(r.wasmDataIdsLeft, 0);
  }
});

test('wasm Sum (ours) matches cpu for leading-axis sums, keepDims included, and hands other axes upstream', async () => {
  const x = random([6, 5, 4, 3], 100);
  for (const [axis, keepDims] of [[[0, 1, 2], false], [[0, 1, 2], true], [0, false], [[1, 0], false], [[0, 1, 2, 3], false], [[1, 2], false], [-1, false], [[0, 1], true]] as [number | number[], boolean][]) {
    const r = await onBoth([x], (xt) => tf.sum(xt!, axis, keepDims));
    assertClose(`axis ${JSON.stringify(axis)} keepDims ${keepDims}`, r.wasm, r.cpu, 1e-5);
    assert.equal(r.wasmDataIdsLeft, 0);
  }
  const shapes = await onBoth([x], (xt) => tf.tensor1d(tf.sum(xt!, [0, 1], true).shape));
  assert.deepEqual(Array.from(shapes.wasm), [1, 1, 4, 3]);
});

test('wasm Conv2D and FusedConv2D (ours) match cpu: one input channel, one output channel, and our direct kernel', async () => {
  const configs: { x: [number, number, number, number]; filter: [number, number, number, number]; strides: [number, number]; pad: 'same' | 'valid' }[] = [
    { x: [3, 28, 28, 1], filter: [3, 3, 1, 16], strides: [1, 1], pad: 'same' },
    { x: [2, 9, 7, 1], filter: [3, 2, 1, 12], strides: [2, 1], pad: 'valid' },
    { x: [2, 9, 7, 1], filter: [2, 3, 1, 4], strides: [1, 2], pad: 'same' },
    { x: [3, 28, 28, 16], filter: [3, 3, 16, 1], strides: [1, 1], pad: 'same' },
    { x: [2, 8, 9, 12], filter: [3, 3, 12, 1], strides: [2, 2], pad: 'same' },
    { x: [2, 8, 9, 4], filter: [2, 4, 4, 1], strides: [1, 1], pad: 'valid' },
    // Our direct kernel (output channels a multiple of 4), or upstream when it is off.
    { x: [3, 14, 14, 16], filter: [3, 3, 16, 8], strides: [1, 1], pad: 'same' },
    { x: [2, 16, 16, 8], filter: [3, 3, 8, 12], strides: [1, 1], pad: 'valid' },
    { x: [2, 9, 11, 3], filter: [3, 2, 3, 4], strides: [2, 3], pad: 'same' },
    { x: [2, 5, 4, 5], filter: [5, 5, 5, 8], strides: [1, 1], pad: 'same' },
    { x: [2, 3, 3, 2], filter: [3, 3, 2, 4], strides: [1, 1], pad: 'valid' },
    // None of those shapes: the upstream kernel.
    { x: [2, 6, 6, 3], filter: [3, 3, 3, 5], strides: [1, 1], pad: 'same' },
  ];
  for (const mode of ['always', 'never'] as const) {
    setDirectConv(mode);
    try {
      for (const [i, c] of configs.entries()) {
        const x = random(c.x, 110 + i);
        const w = random(c.filter, 120 + i);
        const b = random([c.filter[3]], 130 + i);
        const plain = await onBoth([x, w], (xt, wt) => tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.strides, c.pad));
        assertClose(`conv2d config ${i} direct ${mode}`, plain.wasm, plain.cpu, 1e-5);
        assert.equal(plain.wasmDataIdsLeft, 0);
        for (const activation of ['linear', 'relu', 'sigmoid'] as const) {
          const fused = await onBoth([x, w, b], (xt, wt, bt) =>
            tf.fused.conv2d({ x: xt as tf.Tensor4D, filter: wt as tf.Tensor4D, strides: c.strides, pad: c.pad, bias: bt, activation }),
          );
          assertClose(`fused conv2d config ${i} ${activation} direct ${mode}`, fused.wasm, fused.cpu, 1e-5);
          assert.equal(fused.wasmDataIdsLeft, 0);
        }
      }
    } finally {
      setDirectConv('auto');
    }
  }
});

test('wasm ResizeNearestNeighbor, Add with a bias and same-dtype Cast (ours) match cpu', async () => {
  for (const [i, c] of [
    { x: [3, 5, 4, 2], size: [10, 8] },
    { x: [2, 7, 7, 8], size: [14, 14] },
    { x: [2, 4, 4, 3], size: [12, 8] },
    { x: [2, 3, 5, 1], size: [7, 4] },
  ].entries()) {
    const x = random(c.x, 140 + i);
    const r = await onBoth([x], (xt) => tf.image.resizeNearestNeighbor(xt as tf.Tensor4D, c.size as [number, number]));
    assertClose(`resize config ${i}`, r.wasm, r.cpu, 0);
    assert.equal(r.wasmDataIdsLeft, 0);
  }
  for (const [shape, bias] of [[[4, 5, 6, 16], [16]], [[7, 12], [12]], [[3, 3, 5], [5]], [[2, 40], [40]], [[4, 6], [6]]] as [number[], number[]][]) {
    const x = random(shape, 150);
    const b = random(bias, 151);
    const r = await onBoth([x, b], (xt, bt) => tf.add(xt!, bt!));
    assertClose(`add ${shape} + ${bias}`, r.wasm, r.cpu, 0);
    const s = await onBoth([b, x], (bt, xt) => tf.add(bt!, xt!));
    assertClose(`add ${bias} + ${shape}`, s.wasm, s.cpu, 0);
  }
  await selectBackend({ prefer: 'wasm' });
  const x = tf.tensor([1.5, -2, 3], [3]);
  const ids = tf.engine().backend.numDataIds();
  const same = tf.cast(x, 'float32');
  assert.equal(tf.engine().backend.numDataIds(), ids, 'a same-dtype cast shares the data');
  const ints = tf.cast(x, 'int32');
  assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3]);
  x.dispose();
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2, 3]);
  tf.dispose([same, ints]);
});

test('a batch big enough to split across our kernels\' worker threads: every gradient of a small conv net matches cpu', async () => {
  await selectBackend({ prefer: 'wasm' });
  assert.equal(simdKernels(tf.engine().backend)?.threads, 2, 'two threads for our kernels (LATENT_WASM_THREADS=2)');
  const x = random([16, 12, 12, 1], 160);
  const w1 = random([3, 3, 1, 8], 161);
  const b1 = random([8], 162);
  const w2 = random([3, 3, 8, 12], 163);
  const w3 = random([3, 3, 12, 1], 164);
  const b3 = random([1], 165);
  const r = random([16, 12, 12, 1], 166);
  const net = (xt: tf.Tensor, a: tf.Tensor, ab: tf.Tensor, bw: tf.Tensor, cw: tf.Tensor, cb: tf.Tensor, rt: tf.Tensor): tf.Scalar => {
    const h1 = tf.relu(tf.add(tf.conv2d(xt as tf.Tensor4D, a as tf.Tensor4D, 1, 'same'), ab));
    const p1 = tf.maxPool(h1 as tf.Tensor4D, 2, 2, 'same');
    const h2 = tf.relu(tf.conv2d(p1, bw as tf.Tensor4D, 1, 'same'));
    const u = tf.image.resizeNearestNeighbor(h2, [12, 12]);
    const y = tf.add(tf.conv2d(u, cw as tf.Tensor4D, 1, 'same'), cb);
    return tf.sum(tf.mul(y, rt));
  };
  const grads = (...t: tf.Tensor[]): tf.Tensor =>
    tf.tidy(() =>
      tf.concat(tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor, f: tf.Tensor) => net(a, b, c, d, e, f, t[6]!))(t.slice(0, 6)).map((g) => tf.reshape(g, [-1]))),
    );
  const out = await onBoth([x, w1, b1, w2, w3, b3, r], grads);
  assertClose('gradients of x and every weight', out.wasm, out.cpu, 1e-4);
  assert.equal(out.wasmDataIdsLeft, 0);
});

test('wasm elementwise ops on small tensors (ours, in JS) give the same bits as cpu, scalars and broadcasting included', async () => {
  const a = random([3, 3, 16, 8], 170);
  const b = random([3, 3, 16, 8], 171);
  const s = random([], 172);
  const one = random([1, 1], 173);
  const cases: [string, (x: tf.Tensor, y: tf.Tensor) => tf.Tensor, { shape: number[]; values: Float32Array }, { shape: number[]; values: Float32Array }][] = [
    ['add', tf.add, a, b], ['sub', tf.sub, a, b], ['mul', tf.mul, a, b], ['div', tf.div, a, b],
    ['add scalar', tf.add, a, s], ['scalar sub', tf.sub, s, a], ['mul [1,1]', tf.mul, one, random([5, 2], 174)], ['div by scalar', tf.div, a, s],
    ['add [1,1] + [5]: broadcast upstream', tf.add, one, random([5], 175)],
  ];
  for (const [label, f, x, y] of cases) {
    const r = await onBoth([x, y], (xt, yt) => f(xt!, yt!));
    assertClose(label, r.wasm, r.cpu, 0);
    assert.equal(r.wasmDataIdsLeft, 0);
  }
  for (const [label, f] of [['square', tf.square], ['sqrt', (t: tf.Tensor) => tf.sqrt(tf.abs(t))], ['neg', tf.neg]] as [string, (t: tf.Tensor) => tf.Tensor][]) {
    const r = await onBoth([a], (xt) => f(xt!));
    assertClose(label, r.wasm, r.cpu, 0);
  }
});

test('wasm comparisons, LogicalAnd and Select (ours) give the same values as cpu; so do the binaryCrossentropy gradients', async () => {
  const a = random([64, 50], 180);
  const b = random([64, 50], 181);
  const s = { shape: [], values: Float32Array.of(0.25) };
  for (const [label, f] of [
    ['greater', tf.greater], ['greaterEqual', tf.greaterEqual], ['less', tf.less], ['lessEqual', tf.lessEqual],
  ] as [string, (x: tf.Tensor, y: tf.Tensor) => tf.Tensor][]) {
    for (const [other, name] of [[b, 'same shape'], [s, 'scalar']] as const) {
      const r = await onBoth([a, other], (xt, yt) => tf.cast(f(xt!, yt!), 'float32'));
      assertClose(`${label} ${name}`, r.wasm, r.cpu, 0);
    }
  }
  const clip = await onBoth([a, b], (xt, dyt) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(t, -0.5, 0.7), dyt!)))(xt!));
  assertClose('clipByValue gradient (GreaterEqual, LessEqual, LogicalAnd, Select)', clip.wasm, clip.cpu, 0);
  assert.equal(clip.wasmDataIdsLeft, 0);
  const bce = await onBoth([a, b], (xt, yt) => tf.grad((t: tf.Tensor) => tf.mean(tf.metrics.binaryCrossentropy(tf.sigmoid(yt!), tf.sigmoid(t))))(xt!));
  assertClose('binaryCrossentropy gradient', bce.wasm, bce.cpu, 1e-6);
});

test('wasm ReLU and sigmoid gradients in one pass (ours) give cpu\'s tfjs-core gradients, NaN included, split across threads', async () => {
  // 360 000 values: more than two parts of the 65 536 the kernels split by.
  const x = random([4, 300, 300, 1], 190);
  x.values[7] = Number.NaN;
  x.values[8] = 0;
  const dy = random([4, 300, 300, 1], 191);
  // A Conv2D layer's fused ReLU (3x3, centre tap 1): its gradient is taken from the saved output.
  const centre = tf.tensor4d([0, 0, 0, 0, 1, 0, 0, 0, 0], [3, 3, 1, 1]);
  const viaConv = (t: tf.Tensor): tf.Tensor => {
    const conv = fusedConv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'relu' });
    conv.apply(t);
    conv.setWeights([centre, tf.zeros([1])]);
    const y = conv.apply(t) as tf.Tensor;
    conv.dispose();
    return y;
  };
  for (const [label, f] of [
    ['relu (the ReLU op)', (t: tf.Tensor) => tf.relu(t)],
    ['relu (a Conv2D layer\'s fused ReLU)', viaConv],
    ['sigmoid', (t: tf.Tensor) => tf.sigmoid(t)],
  ] as [string, (t: tf.Tensor) => tf.Tensor][]) {
    const r = await onBoth([x, dy], (xt, dyt) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dyt!)))(xt!));
    const nans = (a: Float32Array): number[] => [...a.keys()].filter((i) => Number.isNaN(a[i]!));
    assert.ok(nans(r.cpu).includes(7), `${label}: NaN propagates on cpu`);
    assert.deepEqual(nans(r.wasm), nans(r.cpu), `${label}: NaN propagates on wasm as on cpu`);
    for (const i of nans(r.cpu)) r.wasm[i] = r.cpu[i] = 0;
    // Sigmoid's own forward differs between the backends by an ulp; its gradient kernel does not (below).
    assertClose(label, r.wasm, r.cpu, label === 'sigmoid' ? 1e-6 : 0);
    // On wasm itself: ours against tfjs-core's formula (Step + Multiply, Sub + Multiply + Multiply).
    process.env.LATENT_FUSED_GRADIENTS = '0';
    const formula = await onBoth([x, dy], (xt, dyt) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dyt!)))(xt!));
    delete process.env.LATENT_FUSED_GRADIENTS;
    for (const i of nans(formula.wasm)) formula.wasm[i] = 0;
    assertClose(`${label}, ours vs the formula on wasm`, r.wasm, formula.wasm, 0);
    assert.ok(r.wasm.some((v) => v !== 0) && r.wasm.some((v, i) => v === 0 && dy.values[i] !== 0), `${label}: some gradients pass, some are cut`);
  }
  assert.ok(isKernelFixed('LatentReluGrad', 'wasm') && isKernelFixed('LatentSigmoidGrad', 'wasm'));
  centre.dispose();
});

test('wasm fused matmul and convolution with a ReLU keep NaN (upstream\'s XNNPACK clamp turns it into 0)', async () => {
  await selectBackend({ prefer: 'wasm' });
  const a = tf.tensor3d(Float32Array.from({ length: 8 * 4 }, (_, i) => (i === 0 ? Number.NaN : 1)), [1, 8, 4]);
  const mm = tf.engine().runKernel('_FusedMatMul', { a, b: tf.ones([1, 4, 16]), bias: tf.zeros([16]) }, { transposeA: false, transposeB: false, activation: 'relu' }) as tf.Tensor;
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 5 * 5 }, (_, i) => (i === 12 ? Number.NaN : i % 3)), [2, 5, 5, 1]);
  const conv = tf.engine().runKernel('FusedConv2D', { x, filter: tf.ones([3, 3, 1, 1]), bias: tf.zeros([1]) }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' }) as tf.Tensor;
  assert.ok(Number.isNaN((await mm.data())[0]!), 'matmul row with a NaN input is NaN');
  assert.ok(Number.isNaN((await conv.data())[12]!), 'convolution output at the NaN pixel is NaN');
  assert.equal((await mm.data())[16 * 1], 4, 'other rows computed (1·4 ones)');
  tf.dispose([a, mm, x, conv]);
});

test('wasm losses in one pass (ours): binary cross-entropy and MSE values and gradients equal the tfjs-ops losses', async () => {
  await selectBackend({ prefer: 'wasm' });
  // 3 x 70 001 values: split across threads, and a tail that is not a multiple of 4.
  const shape = [3, 70001];
  const n = 3 * 70001;
  const z = tf.tensor2d(Float32Array.from({ length: n }, (_, i) => ((i * 31) % 17) / 16), shape as [number, number]);
  // Predictions inside (0, 1), near and at both clip edges (BCE's gradient is 0 past them), and tiny ones.
  const edge = [0, 1, 1e-7, 1 - 1e-7, 1e-9, 0.9999999, 3e-8];
  const p = tf.variable(tf.tensor2d(Float32Array.from({ length: n }, (_, i) => (i % 101 < edge.length ? edge[i % 101]! : ((i * 13) % 997) / 997 + 0.0004)), shape as [number, number]));
  for (const loss of ['binaryCrossentropy', 'meanSquaredError'] as const) {
    const run = async (fused: boolean): Promise<{ value: number; grad: Float32Array; kernels: string[] }> => {
      process.env.LATENT_FUSED_LOSS = fused ? '1' : '0';
      let out: { value: number; grad: Float32Array } | undefined;
      const info = await tf.profile(async () => {
        const { value, grads } = tf.variableGrads(() => lossFn(loss, z, p), [p]);
        out = { value: (await value.data())[0]!, grad: (await grads[p.name]!.data()) as Float32Array };
        tf.dispose([value, grads[p.name]!]);
      });
      delete process.env.LATENT_FUSED_LOSS;
      return { ...out!, kernels: info.kernelNames };
    };
    const fused = await run(true);
    const ops = await run(false);
    assert.ok(fused.kernels.includes('LatentFusedLoss') && fused.kernels.includes('LatentFusedLossGrad'), fused.kernels.join(' '));
    assert.ok(!ops.kernels.includes('LatentFusedLoss'));
    assert.ok(Math.abs(fused.value - ops.value) <= 2e-6 * Math.max(1, Math.abs(ops.value)), `${loss}: loss ${fused.value} vs ${ops.value}`);
    assertClose(`${loss} gradient`, fused.grad, ops.grad, 1e-5);
    assert.ok(ops.grad.some((g) => g !== 0) && (loss === 'meanSquaredError' || fused.grad[0] === 0), `${loss}: gradient 0 where the clip cuts`);
  }
  // NaN in a prediction gives a NaN loss (the NaN-loss check must see it) and a NaN gradient there.
  const bad = tf.variable(tf.tensor2d([0.5, Number.NaN, 0.25, 0.75, 0.1], [1, 5]));
  const zz = tf.tensor2d([1, 0, 1, 0, 1], [1, 5]);
  for (const loss of ['binaryCrossentropy', 'meanSquaredError'] as const) {
    const { value, grads } = tf.variableGrads(() => lossFn(loss, zz, bad), [bad]);
    assert.ok(Number.isNaN((await value.data())[0]!), `${loss}: NaN loss`);
    const g = await grads[bad.name]!.data();
    assert.ok(Number.isNaN(g[1]!) && Number.isFinite(g[0]!), `${loss}: NaN gradient at the NaN only`);
  }
  tf.dispose([z, p, bad, zz]);
});
