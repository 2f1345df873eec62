import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchToFloat, oneHot } from '../../src/data/index';

// Three 2x2 grayscale samples.
const ds = {
  count: 3,
  height: 2,
  width: 2,
  channels: 1,
  values: Uint8Array.from([0, 1, 2, 3, 10, 20, 30, 40, 255, 128, 64, 0]),
};

describe('batchToFloat', () => {
  it('gathers indices[start, end) into [0,1] floats', () => {
    const got = batchToFloat(ds, [2, 0, 1], 0, 2);
    const want = [255, 128, 64, 0, 0, 1, 2, 3].map((v) => Math.fround(v / 255));
    assert.deepEqual(Array.from(got), want);
    assert.equal(got[0], 1);
    const mid = batchToFloat(ds, Uint32Array.from([2, 0, 1]), 1, 3);
    assert.deepEqual(Array.from(mid), [0, 1, 2, 3, 10, 20, 30, 40].map((v) => Math.fround(v / 255)));
    assert.equal(batchToFloat(ds, [0], 1, 1).length, 0);
  });

  it('fills and returns the given buffer without allocating', () => {
    const out = new Float32Array(12).fill(-1);
    const got = batchToFloat(ds, [1, 2], 0, 2, out);
    assert.equal(got, out);
    assert.deepEqual(Array.from(out.subarray(0, 8)), [10, 20, 30, 40, 255, 128, 64, 0].map((v) => Math.fround(v / 255)));
    assert.deepEqual(Array.from(out.subarray(8)), [-1, -1, -1, -1]);
    assert.throws(() => batchToFloat(ds, [0, 1], 0, 2, new Float32Array(7)), RangeError);
  });

  it('rejects bad ranges and indices', () => {
    assert.throws(() => batchToFloat(ds, [0, 1], 0, 3), RangeError);
    assert.throws(() => batchToFloat(ds, [0, 1], 2, 1), RangeError);
    assert.throws(() => batchToFloat(ds, [3], 0, 1), /outside the dataset/);
  });
});

describe('oneHot', () => {
  const labels = Uint8Array.from([3, 1, 0]);

  it('encodes labels of indices[start, end)', () => {
    assert.deepEqual(Array.from(oneHot(labels, [1, 2, 0], 0, 3, 4)), [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual(Array.from(oneHot(labels, [1, 2, 0], 2, 3, 4)), [0, 0, 0, 1]);
  });

  it('clears and reuses the given buffer', () => {
    const out = new Float32Array(8).fill(7);
    const got = oneHot(labels, [0, 1], 0, 2, 4, out);
    assert.equal(got, out);
    assert.deepEqual(Array.from(out), [0, 0, 0, 1, 0, 1, 0, 0]);
    oneHot(labels, [2], 0, 1, 4, out);
    assert.deepEqual(Array.from(out.subarray(0, 4)), [1, 0, 0, 0]);
  });

  it('rejects labels that do not fit numClasses, and bad indices', () => {
    assert.throws(() => oneHot(labels, [0], 0, 1, 3), /label 3 .* numClasses 3/);
    assert.throws(() => oneHot(labels, [5], 0, 1, 4), RangeError);
    assert.throws(() => oneHot(labels, [0], 0, 1, 4, new Float32Array(3)), RangeError);
  });
});
