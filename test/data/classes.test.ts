/** training.classes: the schema's rules, and restricting a split to some classes (src/data/classes.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeGraph } from '../../src/core/analyze';
import { checkClasses, DatasetError, filterByClasses, restrictSplit, splitIndices } from '../../src/data/index';
import { chainGraph } from '../helpers/samples';

const labels = Uint8Array.from({ length: 100 }, (_, i) => i % 10);
const ds = { labels, numClasses: 10 };

test('training.classes: class indices ≥ 0, at least one, none twice; errors name the field', () => {
  const graph = (classes: unknown): Record<string, unknown> =>
    chainGraph([{ id: 'd', type: 'Dense', params: { units: 784, activation: 'sigmoid' } }], { training: { classes } });
  const ok = analyzeGraph(graph([0, 1, 7]));
  assert.equal(ok.ok, true, JSON.stringify(ok.problems));
  assert.deepEqual(ok.document!.training.classes, [0, 1, 7]);
  assert.equal(analyzeGraph(chainGraph([{ id: 'd', type: 'Dense', params: { units: 784 } }])).document!.training.classes, undefined);
  const message = (classes: unknown): string => {
    const a = analyzeGraph(graph(classes));
    assert.equal(a.ok, false);
    const p = a.problems.find((x) => x.path[0] === 'training' && x.path[1] === 'classes');
    assert.ok(p, JSON.stringify(a.problems));
    return p.message;
  };
  assert.match(message([1, 2, 1]), /"classes": names class 1 twice: list each class once/);
  assert.match(message([]), /"classes": needs at least 1 item/);
  assert.match(message([-1]), /must be at least 0/);
  assert.match(message([1.5]), /"classes\.0"/);
});

test('filterByClasses keeps the order and only the chosen labels', () => {
  const idx = Uint32Array.from([5, 3, 10, 11, 13, 0, 99]);
  assert.deepEqual(Array.from(filterByClasses(idx, labels, [0, 3])), [3, 10, 13, 0]);
  assert.deepEqual(Array.from(filterByClasses(idx, labels, [8])), []);
});

test('restrictSplit filters each part after the split is drawn: every image stays in its part', () => {
  const split = splitIndices(100, { validation: 0.1, test: 0.2 }, 42);
  assert.equal(restrictSplit(split, ds, undefined, 'mnist'), split, 'no classes: the split itself');
  const r = restrictSplit(split, ds, [1, 2], 'mnist');
  for (const part of ['train', 'validation', 'test'] as const) {
    assert.deepEqual(Array.from(r[part]), Array.from(split[part]).filter((i) => i % 10 === 1 || i % 10 === 2), part);
  }
  assert.equal(r.train.length + r.validation.length + r.test.length, 20);
});

test('classes a dataset cannot provide are refused with a sentence', () => {
  assert.throws(() => checkClasses(ds, [3, 12], 'mnist'), (e: unknown) => e instanceof DatasetError && e.message === 'training.classes names class 12, but mnist has 10 classes (0-9).');
  assert.throws(
    () => restrictSplit(splitIndices(10, { validation: 0.1, test: 0.1 }, 1), { labels: null, numClasses: 0 }, [0], 'csv:pixels.csv'),
    /training\.classes picks classes 0, but csv:pixels\.csv has no labels: remove training\.classes or use a dataset with labels\./,
  );
  checkClasses(ds, [0, 9], 'mnist');
});
