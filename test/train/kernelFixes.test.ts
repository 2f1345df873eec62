import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { KNOWN_DEFECTS, selectBackend } from '../../src/train/backend';
import { KERNEL_FIXES, applyKernelFixes, isKernelFixed } from '../../src/train/kernelFixes';

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
  const all = ['cpu:ResizeNearestNeighborGrad', 'wasm:Conv2DBackpropFilter', 'wasm:MaxPoolGrad', 'wasm:Conv2DBackpropInput'];
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
      `${d.backend} ${d.kernel} has no replacement in src/train/kernelFixes.ts`,
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
  ];
  for (const [i, c] of configs.entries()) {
    const x = random(c.x, 10 + i);
    const probe = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape as number[]);
    const dy = random(probe, 20 + i);
    // The kernel itself (tfjs exports no op for it; the Conv2D gradient calls it the same way).
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
    const r = await onBoth([x, dy], (xt, dyt) => tf.engine().runKernel('Conv2DBackpropFilter', { x: xt!, dy: dyt! }, attrs) as tf.Tensor);
    assertClose(`config ${i} ${JSON.stringify(c)}`, r.wasm, r.cpu, 1e-5);
    assert.equal(r.wasmDataIdsLeft, 0, `config ${i}: wasm tensors left behind`);
  }
});

test('wasm MaxPoolGrad (ours) matches cpu, ties (ReLU zeros) and same padding included', async () => {
  const configs: { x: [number, number, number, number]; size: [number, number]; strides: [number, number]; pad: 'same' | 'valid' }[] = [
    { x: [4, 8, 8, 5], size: [2, 2], strides: [2, 2], pad: 'valid' },
    { x: [3, 7, 9, 2], size: [3, 3], strides: [2, 2], pad: 'same' },
    { x: [2, 5, 5, 3], size: [2, 2], strides: [1, 1], pad: 'same' },
    { x: [2, 9, 6, 4], size: [3, 2], strides: [3, 2], pad: 'valid' },
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
    // Padding wider than the filter: ours hands this one to the upstream kernel.
    { dx: [2, 5, 5, 2], filter: [3, 3, 2, 2], strides: [1, 1], pad: 3 },
  ];
  for (const [i, c] of configs.entries()) {
    const probe = tf.tidy(() => tf.conv2d(tf.zeros(c.dx) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape as number[]);
    const dy = random(probe, 50 + i);
    const filter = random(c.filter, 60 + i);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.dx };
    const r = await onBoth([dy, filter], (dyt, ft) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt!, filter: ft! }, attrs) as tf.Tensor);
    assertClose(`config ${i} ${JSON.stringify(c)}`, r.wasm, r.cpu, 1e-5);
    assert.equal(r.wasmDataIdsLeft, 0, `config ${i}: wasm tensors left behind`);
  }
});
