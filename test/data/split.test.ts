import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32, shuffleInPlace } from '../../src/data/random';
import { splitIndices } from '../../src/data/split';
import { DatasetError } from '../../src/data/types';

describe('mulberry32 / shuffleInPlace', () => {
  it('is deterministic per seed and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  });

  it('shuffles plain and typed arrays into permutations', () => {
    const arr = Array.from({ length: 100 }, (_, i) => i);
    const same = shuffleInPlace(arr, mulberry32(1));
    assert.equal(same, arr);
    assert.notDeepEqual(arr, [...arr].sort((x, y) => x - y));
    assert.deepEqual([...arr].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
    const typed = shuffleInPlace(Uint32Array.from({ length: 100 }, (_, i) => i), mulberry32(1));
    assert.deepEqual(Array.from(typed), arr);
  });
});

describe('splitIndices', () => {
  it('takes fractions of the whole: 10 000 at 0.1 / 0.2 → 1000 / 2000 / 7000', () => {
    const s = splitIndices(10_000, { validation: 0.1, test: 0.2 }, 7);
    assert.equal(s.validation.length, 1000);
    assert.equal(s.test.length, 2000);
    assert.equal(s.train.length, 7000);
    const all = [...s.train, ...s.validation, ...s.test].sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('is deterministic per seed and differs across seeds', () => {
    const a = splitIndices(500, { validation: 0.2, test: 0.1 }, 123);
    const b = splitIndices(500, { validation: 0.2, test: 0.1 }, 123);
    const c = splitIndices(500, { validation: 0.2, test: 0.1 }, 124);
    assert.deepEqual(a, b);
    assert.notDeepEqual(Array.from(a.validation), Array.from(c.validation));
  });

  it('handles zero fractions and tiny or empty datasets', () => {
    const s = splitIndices(10, { validation: 0, test: 0 }, 1);
    assert.equal(s.train.length, 10);
    assert.equal(s.validation.length + s.test.length, 0);
    const e = splitIndices(0, { validation: 0.1, test: 0.1 }, 1);
    assert.equal(e.train.length + e.validation.length + e.test.length, 0);
    const t = splitIndices(3, { validation: 0.5, test: 0.49 }, 1);
    assert.equal(t.train.length + t.validation.length + t.test.length, 3);
  });

  it('rejects bad fractions with clear errors', () => {
    const bad: Array<[number, number, RegExp]> = [
      [-0.1, 0.1, /validation fraction must be a number in \[0, 1\).*-0\.1/],
      [0.1, 1, /test fraction must be a number in \[0, 1\).*got 1/],
      [Number.NaN, 0.1, /validation fraction/],
      [0.6, 0.4, /sum must be below 1/],
    ];
    for (const [validation, test, re] of bad) {
      assert.throws(
        () => splitIndices(100, { validation, test }, 1),
        (err: unknown) => err instanceof DatasetError && re.test(err.message),
      );
    }
    assert.throws(() => splitIndices(-1, { validation: 0.1, test: 0.1 }, 1), RangeError);
    assert.throws(() => splitIndices(2.5, { validation: 0.1, test: 0.1 }, 1), RangeError);
  });
});
