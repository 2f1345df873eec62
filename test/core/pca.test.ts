/** The latent scatter's PCA (src/core/pca.ts) against cases whose answer is known in closed form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pca2 } from '../../src/core/pca';

const close = (a: number, b: number, tol = 1e-9): boolean => Math.abs(a - b) <= tol;

/** An orthonormal basis of R^d: a rotation of the standard one in the first three axes (Householder). */
function basis(d: number): Float64Array[] {
  const h = new Float64Array(d);
  h[0] = 1;
  h[1] = 2;
  h[2] = -2;
  if (d > 3) h[3] = 0.5;
  const hh = h.reduce((s, v) => s + v * v, 0);
  return Array.from({ length: d }, (_, k) => {
    const e = new Float64Array(d);
    e[k] = 1;
    const dot = h[k]!;
    return e.map((v, i) => v - (2 * dot * h[i]!) / hh);
  });
}

/** Points ±3·u1, ±2·u2, ±1·u3 (+ an offset): scatter 18 u1u1ᵀ + 8 u2u2ᵀ + 2 u3u3ᵀ, total 28. */
function sixPoints(d: number): { data: Float64Array; u: Float64Array[] } {
  const u = basis(d);
  const offset = Float64Array.from({ length: d }, (_, j) => 10 + j);
  const rows: Float64Array[] = [];
  for (const [k, a] of [[0, 3], [0, -3], [1, 2], [1, -2], [2, 1], [2, -1]] as const) rows.push(offset.map((o, j) => o + a * u[k]![j]!));
  const data = new Float64Array(rows.length * d);
  rows.forEach((r, i) => data.set(r, i * d));
  return { data, u };
}

for (const [d, steps] of [[3, undefined], [4, undefined], [12, undefined], [3, 0], [4, 0], [12, 0]] as const) {
  const how = steps === undefined ? 'products with X alone' : d > 6 ? 'the Gram matrix' : 'the scatter matrix';
  test(`pca2 finds the known directions, projections and variance shares (${d} wide, ${how})`, () => {
    const { data, u } = sixPoints(d);
    const r = pca2(data, 6, d, { matrixFreeSteps: steps });
    assert.ok(close(r.explained[0], 18 / 28) && close(r.explained[1], 8 / 28), `explained ${r.explained}`);
    assert.ok(close(r.variances[0], 3) && close(r.variances[1], 8 / 6));
    // Directions are ±u1, ±u2 (unit length), with the largest entry positive.
    for (const [c, want] of [[r.components[0], u[0]!], [r.components[1], u[1]!]] as const) {
      const dot = c.reduce((s, v, i) => s + v * want[i]!, 0);
      assert.ok(close(Math.abs(dot), 1), `|cos| = ${Math.abs(dot)}`);
      let at = 0;
      c.forEach((v, i) => (Math.abs(v) > Math.abs(c[at]!) ? (at = i) : 0));
      assert.ok(c[at]! > 0);
    }
    const s1 = Math.sign(r.components[0].reduce((s, v, i) => s + v * u[0]![i]!, 0));
    const s2 = Math.sign(r.components[1].reduce((s, v, i) => s + v * u[1]![i]!, 0));
    [3, -3, 0, 0, 0, 0].forEach((v, i) => assert.ok(close(r.x[i]!, s1 * v), `x[${i}] = ${r.x[i]}`));
    [0, 0, 2, -2, 0, 0].forEach((v, i) => assert.ok(close(r.y[i]!, s2 * v), `y[${i}] = ${r.y[i]}`));
  });
}

test('pca2 on 2-D points along a line: all variance on the first axis; y is zero', () => {
  const data = Float64Array.from([0, 0, 1, 2, 2, 4, 3, 6]);
  const r = pca2(data, 4, 2);
  assert.ok(close(r.explained[0], 1) && close(r.explained[1], 0));
  assert.ok(close(r.components[0][0]!, 1 / Math.sqrt(5)) && close(r.components[0][1]!, 2 / Math.sqrt(5)));
  assert.deepEqual(Array.from(r.x, (v) => Math.round(v * 1e9) / 1e9), [-1.5, -0.5, 0.5, 1.5].map((t) => Math.round(t * Math.sqrt(5) * 1e9) / 1e9));
  assert.ok(r.y.every((v) => close(v, 0)));
});

test('pca2 degenerate inputs: identical points, one point, width 1; bad sizes are refused', () => {
  const same = pca2(Float64Array.from([1, 2, 1, 2, 1, 2]), 3, 2);
  assert.deepEqual(pca2(Float64Array.from([1, 2, 1, 2, 1, 2]), 3, 2, { matrixFreeSteps: 0 }).explained, [0, 0]);
  assert.deepEqual(same.explained, [0, 0]);
  assert.ok(same.x.every((v) => v === 0) && same.y.every((v) => v === 0));
  assert.deepEqual(pca2([5, 6, 7], 1, 3).explained, [0, 0]);
  const wide1 = pca2([1, 2, 3, 4], 4, 1);
  assert.deepEqual([wide1.explained[0], wide1.explained[1]], [1, 0]);
  assert.deepEqual(Array.from(wide1.x), [-1.5, -0.5, 0.5, 1.5]);
  assert.throws(() => pca2([1, 2, 3], 2, 2), /need 4 numbers, got 3/);
  assert.throws(() => pca2([], 0, 2), RangeError);
});

test('pca2 on random wide codes: explained sorted, in [0, 1], summing to at most 1; projections are centred and uncorrelated', () => {
  let seed = 1;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const n = 300;
  const d = 40;
  const data = Float64Array.from({ length: n * d }, (_, k) => rand() * (1 + (k % d) / 4));
  const r = pca2(data, n, d);
  const formed = pca2(data, n, d, { matrixFreeSteps: 0 });
  assert.ok(close(formed.explained[0], r.explained[0]) && close(formed.explained[1], r.explained[1]), 'both ways agree');
  assert.ok(r.explained[0] >= r.explained[1] && r.explained[1] > 0 && r.explained[0] + r.explained[1] <= 1);
  const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean(r.x)) < 1e-9 && Math.abs(mean(r.y)) < 1e-9);
  const cov = r.x.reduce((s, v, i) => s + v * r.y[i]!, 0) / n;
  assert.ok(Math.abs(cov) < 1e-6 * r.variances[0], `cov(x, y) = ${cov}`);
  assert.ok(close(r.x.reduce((s, v) => s + v * v, 0) / n, r.variances[0], 1e-9 * r.variances[0]));
});

test('pca2 with fewer points than the block it iterates (2 points of width 50): one axis, all the variance', () => {
  const data = Float64Array.from({ length: 100 }, (_, k) => (k < 50 ? k % 7 : (k * 3) % 11));
  for (const steps of [undefined, 0]) {
    const r = pca2(data, 2, 50, { matrixFreeSteps: steps });
    assert.ok(close(r.explained[0], 1) && r.explained[1] === 0, `explained ${r.explained}`);
    assert.ok(close(r.x[0]!, -r.x[1]!) && r.y.every((v) => v === 0));
  }
});
