import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadDataset } from '../../src/data/index';
import { loadIdx } from '../../src/data/idx';
import { DatasetError } from '../../src/data/types';

/** An IDX file: magic (00 00 type ndims), big-endian u32 dims, then the data bytes. */
function idx(dtype: number, dims: readonly number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = dtype;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

const N = 6;
const H = 3;
const W = 4;
const pixels = Uint8Array.from({ length: N * H * W }, (_, i) => (i * 37 + 11) % 256);
const labels = Uint8Array.from([0, 9, 3, 3, 7, 1]);

let dir = '';
const file = (name: string): string => path.join(dir, name);
function write(name: string, bytes: Uint8Array): string {
  fs.writeFileSync(file(name), bytes);
  return file(name);
}

/** Asserts a DatasetError naming `path` whose message matches every pattern. */
async function rejectsWith(p: Promise<unknown>, badFile: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${String(err)}`);
    assert.ok(err.message.includes(badFile), `message does not name ${badFile}: ${err.message}`);
    for (const re of patterns) assert.match(err.message, re);
    return true;
  });
}

describe('IDX loader', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-idx-'));
    write('images-idx3-ubyte', idx(0x08, [N, H, W], pixels));
    write('labels-idx1-ubyte', idx(0x08, [N], labels));
    // Gzip is detected by magic bytes: one compressed file without .gz, one .gz that is plain.
    write('images-gz-no-suffix', gzipSync(idx(0x08, [N, H, W], pixels)));
    write('labels-idx1-ubyte.gz', gzipSync(idx(0x08, [N], labels)));
    write('plain-named.gz', idx(0x08, [N, H, W], pixels));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips plain files exactly', async () => {
    const ds = await loadIdx(file('images-idx3-ubyte'), file('labels-idx1-ubyte'));
    assert.equal(ds.count, N);
    assert.equal(ds.height, H);
    assert.equal(ds.width, W);
    assert.equal(ds.channels, 1);
    assert.deepEqual(ds.values, pixels);
    assert.deepEqual(ds.labels, labels);
    assert.equal(ds.numClasses, 10);
    assert.equal(ds.skipped, 0);
    assert.match(ds.source, /images-idx3-ubyte \(6 images 3x4, labels labels-idx1-ubyte, 10 classes\)/);
  });

  it('detects gzip by content, not by name', async () => {
    const ds = await loadIdx(file('images-gz-no-suffix'), file('labels-idx1-ubyte.gz'));
    assert.deepEqual(ds.values, pixels);
    assert.deepEqual(ds.labels, labels);
    const plain = await loadIdx(file('plain-named.gz'), null);
    assert.deepEqual(plain.values, pixels);
  });

  it('loads images without labels, and through loadDataset', async () => {
    const ds = await loadDataset({ kind: 'idx', images: file('images-idx3-ubyte'), labels: null });
    assert.equal(ds.labels, null);
    assert.equal(ds.numClasses, 0);
    assert.deepEqual(ds.values, pixels);
  });

  it('says when the images and labels files are swapped', async () => {
    await rejectsWith(
      loadIdx(file('labels-idx1-ubyte'), null),
      file('labels-idx1-ubyte'),
      /this looks like a labels file, not an images file/,
      /found magic number 0x00000801, expected 0x00000803/,
    );
    await rejectsWith(
      loadIdx(file('images-idx3-ubyte'), file('images-idx3-ubyte')),
      file('images-idx3-ubyte'),
      /this looks like an images file, not a labels file/,
    );
  });

  it('rejects files that are not IDX, or not unsigned bytes', async () => {
    const png = write('picture.png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    await rejectsWith(loadIdx(png, null), png, /not an IDX images file/, /found magic number 0x89504e47/);
    const floats = write('floats-idx3', idx(0x0d, [1, 1, 1], new Uint8Array(4)));
    await rejectsWith(loadIdx(floats, null), floats, /32-bit float/, /only unsigned byte \(0x08\)/);
    const tiny = write('tiny', Uint8Array.from([0, 0]));
    await rejectsWith(loadIdx(tiny, null), tiny, /only 2 bytes long/);
    const badGz = write('broken.gz', Buffer.concat([gzipSync(idx(0x08, [N], labels)).subarray(0, 12)]));
    await rejectsWith(loadIdx(badGz, null), badGz, /does not decompress/);
  });

  it('reports truncated files with expected and found byte counts', async () => {
    const cut = write('cut-idx3', idx(0x08, [N, H, W], pixels).subarray(0, 16 + N * H * W - 5));
    await rejectsWith(loadIdx(cut, null), cut, /truncated: expected 72 bytes of pixel data .*found 67/);
    const cutLabels = write('cut-idx1', idx(0x08, [N], labels).subarray(0, 8 + 4));
    await rejectsWith(
      loadIdx(file('images-idx3-ubyte'), cutLabels),
      cutLabels,
      /truncated: expected 6 bytes of label data, found 4/,
    );
    const header = write('cut-header', idx(0x08, [N, H, W], pixels).subarray(0, 10));
    await rejectsWith(loadIdx(header, null), header, /truncated header \(expected 16 bytes, found 10\)/);
  });

  it('reports an image/label count mismatch with both counts', async () => {
    const five = write('five-idx1', idx(0x08, [5], labels.subarray(0, 5)));
    await rejectsWith(
      loadIdx(file('images-idx3-ubyte'), five),
      five,
      /has 6 images but .*five-idx1 has 5 labels/,
    );
  });

  it('rejects label 255 and missing files', async () => {
    const bad = write('bad-labels-idx1', idx(0x08, [N], Uint8Array.from([0, 1, 2, 255, 4, 5])));
    await rejectsWith(loadIdx(file('images-idx3-ubyte'), bad), bad, /label 255 at index 3/);
    const missing = file('nope-idx3-ubyte');
    await rejectsWith(loadIdx(missing, null), missing, /file not found/);
  });
});
