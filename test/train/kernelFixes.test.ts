import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { applyKernelFixes } from '../../src/train/kernelFixes';

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

test('cpu UpSampling2D gradient is right for every image of a batch after the fix', async () => {
  tf.env().set('PROD', true);
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
