import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { formatDataSpec, parseDataSpec } from '../../src/data/spec';
import { DatasetError, type DataSpec } from '../../src/data/types';

const base = path.resolve('/projects/demo');

describe('parseDataSpec', () => {
  it('accepts the built-in names, case-insensitively', () => {
    assert.deepEqual(parseDataSpec('mnist', base), { kind: 'mnist' });
    assert.deepEqual(parseDataSpec(' MNIST ', base), { kind: 'mnist' });
    assert.deepEqual(parseDataSpec('fashion-mnist', base), { kind: 'fashion-mnist' });
    assert.deepEqual(parseDataSpec('Fashion-MNIST', base), { kind: 'fashion-mnist' });
  });

  it('resolves idx paths against baseDir and keeps absolute ones', () => {
    assert.deepEqual(parseDataSpec('idx:data/imgs-idx3-ubyte.gz,data/labels-idx1-ubyte.gz', base), {
      kind: 'idx',
      images: path.join(base, 'data', 'imgs-idx3-ubyte.gz'),
      labels: path.join(base, 'data', 'labels-idx1-ubyte.gz'),
    });
    const abs = path.resolve('/srv/mnist/t10k-images-idx3-ubyte');
    assert.deepEqual(parseDataSpec(`idx:${abs}`, base), { kind: 'idx', images: abs, labels: null });
    assert.deepEqual(parseDataSpec('IDX: a , b ', base), {
      kind: 'idx',
      images: path.join(base, 'a'),
      labels: path.join(base, 'b'),
    });
  });

  it('resolves csv paths and expands ~', () => {
    assert.deepEqual(parseDataSpec('csv:train.csv', base), { kind: 'csv', file: path.join(base, 'train.csv') });
    assert.deepEqual(parseDataSpec('csv:~/kaggle/train.csv', base), {
      kind: 'csv',
      file: path.join(os.homedir(), 'kaggle', 'train.csv'),
    });
  });

  it('rejects bad specs with a DatasetError listing the accepted forms', () => {
    for (const bad of ['cifar10', '', 'idx:', 'idx:,labels', 'idx:images,', 'csv:', 'train.csv', 'zip:x.zip']) {
      assert.throws(
        () => parseDataSpec(bad, base),
        (err: unknown) => {
          assert.ok(err instanceof DatasetError, `${bad}: not a DatasetError`);
          for (const form of ['mnist', 'fashion-mnist', 'idx:<images>', 'csv:<file>']) {
            assert.ok(err.message.includes(form), `${bad}: message lacks ${form}: ${err.message}`);
          }
          return true;
        },
      );
    }
    assert.throws(() => parseDataSpec('train.csv', base), /write csv:train\.csv/);
  });
});

describe('formatDataSpec', () => {
  it('is the inverse of parseDataSpec', () => {
    const specs: DataSpec[] = [
      { kind: 'mnist' },
      { kind: 'fashion-mnist' },
      { kind: 'idx', images: path.resolve('/d/i'), labels: path.resolve('/d/l') },
      { kind: 'idx', images: path.resolve('/d/i'), labels: null },
      { kind: 'csv', file: path.resolve('/d/train.csv') },
    ];
    for (const spec of specs) assert.deepEqual(parseDataSpec(formatDataSpec(spec), base), spec);
    assert.equal(formatDataSpec({ kind: 'idx', images: '/a', labels: '/b' }), 'idx:/a,/b');
  });
});
