/** The VAE manifold's grid of codes (src/train/jobs/generate.ts): N(0, 1) quantiles from 5 % to 95 %, z1 left to right, z2 bottom to top. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifoldCodes, normalQuantile } from '../../src/train/jobs/generate';

// scipy.stats.norm.ppf at these probabilities.
const PPF: readonly [number, number][] = [
  [0.05, -1.6448536269514729],
  [0.5, 0],
  [0.95, 1.6448536269514722],
  [0.975, 1.959963984540054],
  [0.01, -2.3263478740408408],
  [0.2, -0.8416212335729142],
  [1e-6, -4.753424308822899],
];

test('normalQuantile is the standard normal quantile function (relative error under 1.15e-9), in both tails and the middle', () => {
  for (const [p, x] of PPF) assert.ok(Math.abs(normalQuantile(p) - x) <= 1.15e-9 * Math.abs(x), `ppf(${p}) = ${normalQuantile(p)}, want ${x}`);
  for (const p of [0, 1, -0.1, Number.NaN]) assert.throws(() => normalQuantile(p), /needs 0 < p < 1/);
});

test('manifoldCodes: the corners are the 5 % and 95 % quantiles; z1 grows left to right, z2 bottom to top', () => {
  const n = 5;
  const codes = manifoldCodes(n);
  assert.equal(codes.length, n * n * 2);
  const at = (row: number, col: number): [number, number] => [codes[(row * n + col) * 2]!, codes[(row * n + col) * 2 + 1]!];
  const q05 = Math.fround(-1.6448536269514729);
  const q95 = Math.fround(1.6448536269514722);
  assert.deepEqual(at(0, 0), [q05, q95], 'top left: smallest z1, largest z2');
  assert.deepEqual(at(0, n - 1), [q95, q95], 'top right');
  assert.deepEqual(at(n - 1, 0), [q05, q05], 'bottom left');
  assert.deepEqual(at(n - 1, n - 1), [q95, q05], 'bottom right');
  assert.deepEqual(at(2, 2), [0, 0], 'the middle is the origin');
  for (let row = 0; row < n; row++) {
    for (let col = 1; col < n; col++) {
      assert.ok(at(row, col)[0] > at(row, col - 1)[0], 'z1 grows to the right');
      assert.equal(at(row, col)[1], at(row, 0)[1], 'z2 is constant along a row');
    }
  }
  for (let row = 1; row < n; row++) assert.ok(at(row, 0)[1] < at(row - 1, 0)[1], 'z2 falls going down');
  // The quantiles are evenly spaced in probability, not in value: the second column is ppf(0.275).
  assert.ok(Math.abs(at(0, 1)[0] - normalQuantile(0.275)) < 1e-6);
});
