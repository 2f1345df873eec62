import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, test } from 'node:test';
import { checkIdxHeader, formatDataSpec, parseDataSpec, siblingLabels, specPath } from '../../src/data/spec';
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

test('specPath: relative to the graph inside the workspace, absolute outside; always "/" separated; reads back', () => {
  const root = path.join(os.tmpdir(), 'ws');
  const graph = path.join(root, 'models', 'a.latent.json');
  assert.equal(specPath(path.join(root, 'data', 'train.csv'), graph, root), '../data/train.csv');
  assert.equal(specPath(path.join(root, 'models', 'x.csv'), graph, root), 'x.csv');
  const outside = path.join(os.tmpdir(), 'elsewhere', 'x.csv');
  assert.equal(specPath(outside, graph, root), outside.split(path.sep).join('/'));
  assert.equal(specPath(path.join(root, 'x.csv'), graph, undefined), path.join(root, 'x.csv').split(path.sep).join('/'));
  const spec = parseDataSpec(`csv:${specPath(path.join(root, 'data', 'train.csv'), graph, root)}`, path.dirname(graph));
  assert.deepEqual(spec, { kind: 'csv', file: path.join(root, 'data', 'train.csv') });
});

test('siblingLabels finds the labels file beside an IDX images file, and only when it exists', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-idx-'));
  const images = path.join(dir, 'train-images-idx3-ubyte.gz');
  fs.writeFileSync(images, '');
  assert.equal(siblingLabels(images), undefined);
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), '');
  assert.equal(siblingLabels(images), path.join(dir, 'train-labels-idx1-ubyte.gz'));
  assert.equal(siblingLabels(path.join(dir, 'pictures.bin')), undefined);
});

test('checkIdxHeader accepts IDX images and labels and names the file and its bytes otherwise', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-idx-'));
  const images = path.join(dir, 'i-idx3-ubyte');
  fs.writeFileSync(images, Buffer.from([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7]));
  const labels = path.join(dir, 'l-idx1-ubyte');
  fs.writeFileSync(labels, Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 3]));
  assert.equal(checkIdxHeader(images, 3), undefined);
  assert.equal(checkIdxHeader(labels, 1), undefined);
  assert.match(checkIdxHeader(labels, 3) ?? '', /l-idx1-ubyte is not an IDX file of images.*00 00 08 01/);
  const csv = path.join(dir, 'x.csv');
  fs.writeFileSync(csv, 'label,p0\n1,0\n');
  assert.match(checkIdxHeader(csv, 3) ?? '', /x\.csv is not an IDX file/);
  assert.match(checkIdxHeader(path.join(dir, 'missing'), 3) ?? '', /Cannot read .*missing/);
});
