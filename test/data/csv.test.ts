import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inferImageShape, loadCsv } from '../../src/data/csv';
import { loadDataset } from '../../src/data/index';
import { mulberry32 } from '../../src/data/random';
import { DatasetError } from '../../src/data/types';

let dir = '';
function write(name: string, text: string | Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

/** Asserts the load fails with exactly `message` (the file path is prefixed here). */
async function rejectsExactly(file: string, message: string): Promise<void> {
  await assert.rejects(loadCsv(file), (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${String(err)}`);
    assert.equal(err.message, `${file}: ${message}`);
    assert.equal(err.file, file);
    return true;
  });
}

async function rejectsMatching(file: string, re: RegExp): Promise<void> {
  await assert.rejects(loadCsv(file), (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${file}: `), `message does not name the file: ${err.message}`);
    assert.match(err.message, re);
    return true;
  });
}

// Three 2x2 images with labels 0, 7, 2.
const ROWS = [
  [0, 0, 50, 100, 255],
  [7, 1, 2, 3, 4],
  [2, 255, 254, 0, 9],
];
const PIXELS = ROWS.flatMap((r) => r.slice(1));
const LABELS = ROWS.map((r) => r[0] as number);
const csv = (rows: readonly (readonly (number | string)[])[], eol = '\n'): string =>
  rows.map((r) => r.join(',')).join(eol) + eol;

describe('CSV loader', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-csv-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a Kaggle file with a header', async () => {
    const f = write('with-header.csv', csv([['label', 'pixel0', 'pixel1', 'pixel2', 'pixel3'], ...ROWS]));
    const ds = await loadCsv(f);
    assert.equal(ds.count, 3);
    assert.deepEqual([ds.height, ds.width, ds.channels], [2, 2, 1]);
    assert.deepEqual(Array.from(ds.values), PIXELS);
    assert.deepEqual(Array.from(ds.labels ?? []), LABELS);
    assert.equal(ds.numClasses, 8);
    assert.equal(ds.skipped, 0);
    assert.equal(ds.source, 'CSV with-header.csv (3 images 2x2, 8 classes)');
  });

  it('reads a file without a header (label in column 1), through loadDataset', async () => {
    const f = write('no-header.csv', csv(ROWS));
    const ds = await loadDataset({ kind: 'csv', file: f });
    assert.ok(ds.values instanceof Uint8Array);
    assert.deepEqual(Array.from(ds.values), PIXELS);
    assert.deepEqual(Array.from(ds.labels ?? []), LABELS);
  });

  it('finds a label column that is not first', async () => {
    const rows = ROWS.map((r) => [r[1], r[2], r[0], r[3], r[4]] as number[]);
    const f = write('label-middle.csv', csv([['p0', 'p1', 'LABEL', 'p2', 'p3'], ...rows]));
    const ds = await loadCsv(f);
    assert.deepEqual(Array.from(ds.values), PIXELS);
    assert.deepEqual(Array.from(ds.labels ?? []), LABELS);
  });

  it('scales files whose values all lie in [0,1]', async () => {
    const f = write('unit.csv', csv([['label', 'pixel0', 'pixel1', 'pixel2', 'pixel3'], [1, 0, 0.5, 1, 0.2], [0, '1.0', '0.00392156862745098', '.25', '2e-1']]));
    const ds = await loadCsv(f);
    assert.deepEqual(Array.from(ds.values), [0, 128, 255, 51, 255, 1, 64, 51]);
    assert.match(ds.source, /values 0\.\.1 scaled to 0\.\.255/);
  });

  it('keeps 0..255 floats and exponents as they are', async () => {
    const f = write('floats.csv', csv([[3, '12.4', '12.5', '2.55e2', '1E1'], [0, 0, '0.4', '1', ' 7 ']]));
    const ds = await loadCsv(f);
    assert.deepEqual(Array.from(ds.values), [12, 13, 255, 10, 0, 0, 1, 7]);
  });

  it('handles \\r\\n, a byte-order mark, blank lines and a missing final newline', async () => {
    const crlf = write('crlf.csv', `\uFEFF${csv([['label', 'pixel0', 'pixel1', 'pixel2', 'pixel3'], ...ROWS], '\r\n')}\r\n\r\n`);
    const ds = await loadCsv(crlf);
    assert.deepEqual(Array.from(ds.values), PIXELS);
    assert.deepEqual(Array.from(ds.labels ?? []), LABELS);
    const noEol = write('no-eol.csv', csv(ROWS).trimEnd());
    assert.deepEqual(Array.from((await loadCsv(noEol)).values), PIXELS);
    const blankFirst = write('blank-first.csv', `\n  \n${csv(ROWS)}`);
    assert.deepEqual(Array.from((await loadCsv(blankFirst)).labels ?? []), LABELS);
  });

  it('treats a pandas 0,1,2,… header as a header', async () => {
    const f = write('pandas.csv', csv([[0, 1, 2, 3, 4], ...ROWS]));
    const ds = await loadCsv(f);
    assert.equal(ds.count, 3);
    assert.deepEqual(Array.from(ds.values), PIXELS);
  });

  it('reads unlabeled files and square RGB images', async () => {
    const unlabeled = write('unlabeled.csv', csv(ROWS.map((r) => r.slice(1))));
    const u = await loadCsv(unlabeled);
    assert.equal(u.labels, null);
    assert.equal(u.numClasses, 0);
    assert.deepEqual(Array.from(u.values), PIXELS);
    const rgbRow = [4, ...Array.from({ length: 12 }, (_, i) => i * 20)];
    const rgb = await loadCsv(write('rgb.csv', csv([rgbRow, rgbRow])));
    assert.deepEqual([rgb.height, rgb.width, rgb.channels], [2, 2, 3]);
    assert.deepEqual(Array.from(rgb.values.subarray(0, 12)), rgbRow.slice(1));
  });

  it('streams files larger than one read chunk, including values split across chunks', async () => {
    const rng = mulberry32(5);
    const rows: number[][] = [];
    const unitRows: string[][] = [];
    for (let r = 0; r < 700; r++) {
      const px = Array.from({ length: 784 }, () => Math.floor(rng() * 256));
      rows.push([r % 10, ...px]);
      unitRows.push([String(r % 10), ...px.map((v) => (v / 255).toFixed(6))]);
    }
    const f = write('big.csv', csv([['label', ...Array.from({ length: 784 }, (_, i) => `pixel${i}`)], ...rows]));
    assert.ok(fs.statSync(f).size > 1.5 * 1024 * 1024);
    const ds = await loadCsv(f);
    assert.equal(ds.count, 700);
    assert.deepEqual([ds.height, ds.width], [28, 28]);
    assert.deepEqual(ds.values, Uint8Array.from(rows.flatMap((r) => r.slice(1))));
    assert.deepEqual(ds.labels, Uint8Array.from(rows.map((r) => r[0] as number)));
    const unit = await loadCsv(write('big-unit.csv', csv(unitRows)));
    assert.deepEqual(unit.values, ds.values);
  });

  it('names the row and column of a non-numeric or empty cell', async () => {
    await rejectsExactly(
      write('bad-cell.csv', csv([['label', 'pixel0', 'pixel1', 'pixel2', 'pixel3'], ROWS[0] as number[], [7, 'abc', 2, 3, 4]])),
      'non-numeric value "abc" at row 3, column 2',
    );
    await rejectsExactly(write('bad-cell-nh.csv', csv([ROWS[0] as number[], [7, 1, 2, 3, '4x']])), 'non-numeric value "4x" at row 2, column 5');
    await rejectsExactly(write('bad-crlf.csv', csv([ROWS[0] as number[], [7, 1, '1 2', 3, 4]], '\r\n')), 'non-numeric value "1 2" at row 2, column 3');
    await rejectsExactly(write('empty-cell.csv', csv([ROWS[0] as number[], [7, 1, '', 3, 4]])), 'empty value at row 2, column 3');
  });

  it('names ragged rows with their column count', async () => {
    await rejectsExactly(
      write('short-row.csv', csv([['label', 'pixel0', 'pixel1', 'pixel2', 'pixel3'], ROWS[0] as number[], [7, 1, 2, 3]])),
      'row 3 has 4 columns, expected 5 (like row 1)',
    );
    await rejectsExactly(write('long-row.csv', csv([ROWS[0] as number[], ROWS[1] as number[], [7, 1, 2, 3, 4, 5, 6]])), 'row 3 has 7 columns, expected 5 (like row 1)');
  });

  it('reads header-less columns that form no square image as a table of unnamed features', async () => {
    const ds = await loadCsv(write('five.csv', csv([[1, 1, 2, 3, 4, 5], [0, 6, 7, 8, 9, 10]])));
    assert.equal(ds.kind, 'table');
    assert.equal(ds.channels, 6);
    assert.equal(ds.labels, null);
    assert.deepEqual(ds.featureNames, ['column 1', 'column 2', 'column 3', 'column 4', 'column 5', 'column 6']);
    assert.deepEqual(Array.from(ds.values), [1, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10]);
    const labelled = await loadCsv(write('five-labelled.csv', csv([[1, 1, 2, 3, 4, 5]])), { labelColumn: '1' });
    assert.deepEqual(Array.from(labelled.labels ?? []), [1]);
    assert.equal(labelled.channels, 5);
  });


  it('rejects out-of-range pixels and bad labels', async () => {
    await rejectsExactly(
      write('range.csv', csv([ROWS[0] as number[], [7, 1, 300, 3, 4]])),
      'pixel value "300" at row 2, column 3 is out of range (pixels are 0..255, or all within 0..1)',
    );
    await rejectsMatching(write('negative.csv', csv([[1, 0, -1, 0, 0]])), /pixel value "-1" at row 1, column 3/);
    await rejectsExactly(write('label.csv', csv([[3.5, 0, 0, 0, 0]])), 'label "3.5" at row 1, column 1 is not a whole number in 0..254');
    // The edges themselves: 255 is the last pixel value and 254 the last label; one past each is refused.
    const edge = await loadCsv(write('edges.csv', csv([[254, 255, 0, 1, 255]])));
    assert.deepEqual([Array.from(edge.values), Array.from(edge.labels ?? [])], [[255, 0, 1, 255], [254]]);
    await rejectsExactly(write('pixel-256.csv', csv([[1, 0, 256, 0, 0]])), 'pixel value "256" at row 1, column 3 is out of range (pixels are 0..255, or all within 0..1)');
    await rejectsExactly(write('label-255.csv', csv([[255, 0, 0, 0, 0]])), 'label "255" at row 1, column 1 is not a whole number in 0..254');
  });

  it('rejects empty, header-only and missing files', async () => {
    await rejectsExactly(write('empty.csv', '\n\n'), 'the file is empty');
    await rejectsExactly(write('header-only.csv', 'label,a,b,c,d\n'), 'has a header but no data rows');
    await rejectsExactly(path.join(dir, 'missing.csv'), 'file not found');
  });
});

describe('inferImageShape', () => {
  it('accepts HxW and HxWx3 squares only', () => {
    assert.deepEqual(inferImageShape(784), { height: 28, width: 28, channels: 1 });
    assert.deepEqual(inferImageShape(3072), { height: 32, width: 32, channels: 3 });
    assert.equal(inferImageShape(783), null);
    assert.equal(inferImageShape(0), null);
  });
});
