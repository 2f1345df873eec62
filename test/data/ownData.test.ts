/**
 * The user's own data: image folders, NumPy files, tables, normalisation and bringing images to the
 * Input's shape. Fixtures are generated here (formats and failure cases); learning on real data is
 * tested in test/train/ownData.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { dump } from 'npyjs';
import {
  DiskBytes,
  adaptToInput,
  batchToFloat,
  computeNormalization,
  defaultNormalize,
  loadCsv,
  loadDataset,
  loadFolder,
  loadForInput,
  loadNpy,
  loadNpz,
  mulberry32,
  parseDataSpec,
  resolveClasses,
  shuffleForDisk,
  splitDataset,
  toDisplay,
} from '../../src/data/index';
import { loadSharp } from '../../src/data/sharp';
import { type Dataset, DatasetError } from '../../src/data/types';

let dir = '';
const at = (...parts: string[]): string => path.join(dir, ...parts);

function write(name: string, data: string | Uint8Array | ArrayBuffer): string {
  const file = at(name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  return file;
}

const npy = (values: Parameters<typeof dump>[0], shape: number[], dtype?: Parameters<typeof dump>[2]): Uint8Array => new Uint8Array(dump(values, shape, dtype));

/** An npy header by hand, for dtypes npyjs does not write (objects, big-endian). */
function rawNpy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = `${header}${' '.repeat(pad)}\n`;
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), data]);
}

async function png(file: string, width: number, height: number, channels: 1 | 3 | 4, fill: (x: number, y: number, c: number) => number): Promise<string> {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = fill(x, y, c);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const raw = loadSharp()(data, { raw: { width, height, channels } });
  const img = channels === 1 ? raw.toColourspace('b-w') : raw;
  await (file.endsWith('.jpg') ? img.jpeg({ quality: 95 }) : img.png()).toFile(file);
  return file;
}

/** A dataset's values held in memory (asserted). */
function mem(ds: Dataset): Uint8Array | Float32Array {
  assert.ok(!(ds.values instanceof DiskBytes), `${ds.source} is in memory`);
  return ds.values as Uint8Array | Float32Array;
}

/** Asserts a DatasetError whose message matches, and that names `file` when given. */
async function rejects(promise: Promise<unknown>, re: RegExp, file?: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${String(err)}`);
    assert.match(err.message, re);
    if (file !== undefined) assert.ok(err.message.includes(file), `the sentence does not name ${file}: ${err.message}`);
    return true;
  });
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-own-data-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('image folders', () => {
  it('reads class subfolders (sorted, recursive) in grey, RGB, RGBA and palette PNG and JPEG, and counts other files', async () => {
    await png(at('pets', 'dog', 'a.png'), 8, 6, 3, (x, _y, c) => (c === 0 ? 200 : x * 10));
    await png(at('pets', 'dog', 'deep', 'b.png'), 8, 6, 4, () => 90);
    await png(at('pets', 'cat', 'c.jpg'), 8, 6, 3, () => 128);
    await png(at('pets', 'cat', 'd.png'), 8, 6, 1, (x) => x * 30);
    await loadSharp()(Buffer.alloc(8 * 6 * 3, 60), { raw: { width: 8, height: 6, channels: 3 } }).png({ palette: true }).toFile(at('pets', 'cat', 'e.png'));
    write('pets/cat/readme.txt', 'not an image');
    write('pets/.DS_Store', 'hidden');
    const ds = await loadFolder(at('pets'), { cacheDir: null });
    assert.deepEqual(ds.classNames, ['cat', 'dog']);
    assert.equal(ds.count, 5);
    assert.deepEqual([ds.height, ds.width, ds.channels], [6, 8, 3]);
    assert.deepEqual(Array.from(ds.labels ?? []), [0, 0, 0, 1, 1]);
    assert.ok(ds.values instanceof Uint8Array);
    // d.png is grey: as RGB its three channels are equal; a.png keeps its red channel.
    const d = 1 * 6 * 8 * 3;
    assert.deepEqual(Array.from(mem(ds).subarray(d + 3, d + 6)), [30, 30, 30]);
    assert.equal(mem(ds)[3 * 6 * 8 * 3], 200);
    assert.deepEqual(ds.notes, ['skipped 1 file that is not an image (1 .txt)']);
  });

  it('decodes to the Input: grey from colour, a size by resize "fit" or "crop", and caches the decoded bytes', async () => {
    await png(at('sizes', 'a', 'wide.png'), 20, 10, 3, (x) => (x < 10 ? 0 : 255));
    await png(at('sizes', 'a', 'square.png'), 10, 10, 3, () => 255);
    await rejects(loadFolder(at('sizes'), { cacheDir: null }), /wide\.png is 20x10 but square\.png is 10x10: images of mixed sizes need training\.resize/);
    await rejects(loadFolder(at('sizes'), { cacheDir: null, target: { height: 10, width: 10, channels: 1 } }), /wide\.png is 20x10 but the Input takes 10x10 images: set training\.resize/, 'wide.png');
    const fit = await loadFolder(at('sizes'), { cacheDir: null, target: { height: 10, width: 10, channels: 1, resize: 'fit' } });
    assert.equal(fit.channels, 1);
    assert.equal(mem(fit).length, 2 * 100);
    // "fit" squeezes the whole image (the second, after square.png): its left half is black, its right half white.
    assert.ok((mem(fit)[100] as number) < 30 && (mem(fit)[109] as number) > 225);
    const crop = await loadFolder(at('sizes'), { cacheDir: null, target: { height: 10, width: 10, channels: 1, resize: 'crop' } });
    // "crop" keeps the centre 10x10: the middle columns, half black and half white.
    assert.ok((mem(crop)[100] as number) < 30 && (mem(crop)[109] as number) > 225);
    assert.deepEqual(crop.notes, ['resized 1 image to 10x10 (crop)']);

    const cacheDir = at('cache');
    const first = await loadFolder(at('sizes'), { cacheDir, target: { height: 10, width: 10, channels: 3, resize: 'fit' } });
    const files = fs.readdirSync(path.join(cacheDir, 'folders'));
    assert.equal(files.length, 1);
    let decoded = 0;
    const again = await loadFolder(at('sizes'), { cacheDir, target: { height: 10, width: 10, channels: 3, resize: 'fit' }, onProgress: () => decoded++ });
    assert.equal(decoded, 0, 'the second load reads the cache');
    assert.deepEqual(again.values, first.values);
    assert.deepEqual(again.notes, first.notes);
  });

  it('reads a folder without subfolders as unlabelled images', async () => {
    await png(at('flat', 'x.png'), 4, 4, 1, () => 7);
    await png(at('flat', 'y.png'), 4, 4, 1, () => 9);
    const ds = await loadDataset(parseDataSpec(`folder:${at('flat')}`, '/'), { cacheDir: null });
    assert.equal(ds.labels, null);
    assert.equal(ds.count, 2);
    assert.equal(ds.channels, 1);
  });

  it('refuses an empty folder, a class folder without images, a corrupt or truncated image, a file, with the name', async () => {
    fs.mkdirSync(at('empty'));
    write('empty/notes.txt', 'x');
    await rejects(loadFolder(at('empty'), { cacheDir: null }), /an empty folder: no images .* \(1 other files\)/, 'empty');
    await png(at('oneclass', 'good', 'a.png'), 4, 4, 1, () => 1);
    fs.mkdirSync(at('oneclass', 'bad'));
    await rejects(loadFolder(at('oneclass'), { cacheDir: null }), /the class folder "bad" holds no images; add images or remove the folder/, path.join('oneclass', 'bad'));
    const good = fs.readFileSync(await png(at('corrupt', 'a', 'good.png'), 16, 16, 3, (x, y) => (x * y) % 256));
    write('corrupt/a/truncated.png', good.subarray(0, good.length - 40));
    await rejects(loadFolder(at('corrupt'), { cacheDir: null, target: { height: 16, width: 16, channels: 3 } }), /truncated\.png: not a readable image, corrupt or truncated/, 'truncated.png');
    fs.rmSync(at('corrupt', 'a', 'truncated.png'));
    write('corrupt/a/garbage.jpg', 'this is not a jpeg');
    await rejects(loadFolder(at('corrupt'), { cacheDir: null, target: { height: 16, width: 16, channels: 3 } }), /garbage\.jpg: not a readable image/, 'garbage.jpg');
    await rejects(loadFolder(at('corrupt', 'a', 'good.png'), { cacheDir: null }), /is a file, not a folder/);
    await rejects(loadFolder(at('nowhere'), { cacheDir: null }), /file not found/, 'nowhere');
  });
});

describe('NumPy files', () => {
  it('reads npy:x,y with uint8 images, and float tables as they are', async () => {
    const x = write('digits-x.npy', npy(Uint8Array.from({ length: 3 * 4 * 4 }, (_, i) => i), [3, 4, 4]));
    const y = write('digits-y.npy', npy(Int32Array.from([2, 0, 1]), [3]));
    const ds = await loadDataset(parseDataSpec(`npy:${x},${y}`, '/'));
    assert.deepEqual([ds.kind, ds.height, ds.width, ds.channels, ds.count], ['image', 4, 4, 1, 3]);
    assert.ok(ds.values instanceof Uint8Array);
    assert.equal(mem(ds)[47], 47);
    assert.deepEqual(Array.from(ds.labels ?? []), [2, 0, 1]);
    assert.equal(ds.numClasses, 3);
    const table = await loadNpy(write('table.npy', npy(Float64Array.from([1.5, -2, 3, 4e3, 0.25, -6]), [3, 2])), null);
    assert.deepEqual([table.kind, table.channels, table.count], ['table', 2, 3]);
    assert.deepEqual(Array.from(mem(table)), [1.5, -2, 3, 4000, 0.25, -6]);
    assert.equal(defaultNormalize(table), 'standard');
    // Half floats (1.0, -2.0, 0.5, 65504) become float32.
    const halves = Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b]);
    const half = await loadNpy(write('half.npy', rawNpy('<f2', [2, 2], halves)), null);
    assert.deepEqual(Array.from(mem(half)), [1, -2, 0.5, 65504]);
    assert.equal(defaultNormalize(ds), 'unit');
  });

  it("reads the Keras layout (x_train, y_train, x_test, y_test): the file's test arrays are the test split", async () => {
    const xTrain = npy(Uint8Array.from({ length: 20 * 9 }, (_, i) => i % 256), [20, 3, 3]);
    const xTest = npy(Uint8Array.from({ length: 5 * 9 }, () => 255), [5, 3, 3]);
    const file = write('keras.npz', zipSync({ 'x_train.npy': xTrain, 'y_train.npy': npy(Uint8Array.from({ length: 20 }, (_, i) => i % 2), [20], { dtype: 'u1' }), 'x_test.npy': xTest, 'y_test.npy': npy(Uint8Array.from([1, 1, 0, 0, 1]), [5], { dtype: 'u1' }) }, { level: 6 }));
    const ds = await loadNpz(file);
    assert.equal(ds.count, 25);
    assert.equal(ds.testStart, 20);
    const split = splitDataset(ds, { validation: 0.2, test: 0.3 }, 42);
    assert.deepEqual(Array.from(split.test), [20, 21, 22, 23, 24]);
    assert.equal(split.validation.length, 4, 'validation is 20 % of the training arrays');
    assert.equal(split.train.length, 16);
    assert.ok([...split.train, ...split.validation].every((i) => i < 20));
    assert.ok(Array.from(mem(ds).subarray(20 * 9)).every((v) => v === 255), 'x_test follows x_train');
    assert.deepEqual(Array.from(ds.labels!.subarray(20)), [1, 1, 0, 0, 1]);
  });

  it('reads x[, y] from an npz (stored or deflated), string labels as sorted class names, one-hot labels', async () => {
    const x = npy(Float32Array.from({ length: 4 * 2 }, (_, i) => i / 8), [4, 2]);
    const words = npy(['cat', 'dog', 'ant', 'cat'], [4]);
    const ds = await loadNpz(write('words.npz', zipSync({ 'x.npy': x, 'y.npy': words }, { level: 0 })));
    assert.deepEqual(ds.classNames, ['ant', 'cat', 'dog']);
    assert.deepEqual(Array.from(ds.labels ?? []), [1, 2, 0, 1]);
    const oneHot = npy(Float32Array.from([0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0]), [4, 3]);
    const hot = await loadNpz(write('onehot.npz', zipSync({ 'x.npy': x, 'y.npy': oneHot })));
    assert.deepEqual(Array.from(hot.labels ?? []), [1, 0, 2, 1]);
    assert.equal(hot.numClasses, 3);
  });

  it('refuses missing arrays, object and string samples, other lengths, truncated files, NaN, with the file', async () => {
    const x = npy(Float32Array.from([1, 2, 3, 4]), [2, 2]);
    await rejects(loadNpz(write('other.npz', zipSync({ 'a.npy': x, 'b.npy': x }))), /other\.npz: missing its arrays: it holds a, b; expected x_train, y_train, x_test, y_test \(Keras layout\) or x and optionally y/);
    await rejects(loadNpy(write('objects.npy', rawNpy('|O', [2], new Uint8Array(16))), null), /objects\.npy: holds Python objects \(dtype \|O\)/);
    await rejects(loadNpy(write('strings.npy', npy(['a', 'b', 'c', 'd'], [2, 2])), null), /strings\.npy: holds strings \(dtype <U1\); samples must be numbers/);
    await rejects(loadNpy(write('big-endian.npy', rawNpy('>f4', [1, 2], new Uint8Array(8))), null), /big-endian/);
    await rejects(loadNpz(write('lengths.npz', zipSync({ 'x.npy': x, 'y.npy': npy(Int32Array.from([0, 1, 1]), [3]) }))), /x has 2 samples but lengths\.npz: y has 3 labels; the arrays must have the same length/);
    const whole = npy(Float32Array.from({ length: 100 }, (_, i) => i), [10, 10]);
    await rejects(loadNpy(write('truncated.npy', whole.subarray(0, whole.length - 12)), null), /truncated\.npy: truncated: its header announces shape \(10, 10\) \(400 bytes of data\), the file holds 388/);
    await rejects(loadNpy(write('nan.npy', npy(Float32Array.from([1, NaN, 3, 4]), [2, 2])), null), /nan\.npy: sample 0 holds NaN at value 2/);
    await rejects(loadNpy(write('labels-as-x.npy', npy(Int32Array.from([1, 2, 3]), [3])), null), /has shape \(3,\); samples need shape .* looks like labels/);
    await rejects(loadNpy(write('bad-label-x.npy', x), write('bad-label-y.npy', npy(Float32Array.from([0, -1]), [2]))), /bad-label-y\.npy: label -1 at index 1 is not a class index/);
    await rejects(loadNpz(write('not-a-zip.npz', 'hello')), /not-a-zip\.npz: not a NumPy \.npz file/);
    await rejects(loadNpy(write('not-npy.npy', 'hello there, world'), null), /not-npy\.npy: not a NumPy \.npy array/);
  });
});

describe('tables in CSV files', () => {
  it('reads named feature columns and a word label column (classes sorted by name, names kept)', async () => {
    const file = write('sensors.csv', 'temperature,"pressure, kPa",class,vibration\n20.5,101.3,normal,0.01\n21,99.8,fault,-0.2\n19.75,100,normal,1e-3\n');
    const ds = await loadCsv(file);
    assert.equal(ds.kind, 'table');
    assert.deepEqual(ds.featureNames, ['temperature', 'pressure, kPa', 'vibration']);
    assert.deepEqual(ds.classNames, ['fault', 'normal']);
    assert.deepEqual(Array.from(ds.labels ?? []), [1, 0, 1]);
    assert.deepEqual(Array.from(mem(ds)), Array.from(Float32Array.from([20.5, 101.3, 0.01, 21, 99.8, -0.2, 19.75, 100, 0.001])));
    assert.deepEqual(resolveClasses(ds, ['normal'], 'csv:sensors.csv'), [1]);
    assert.deepEqual(resolveClasses(ds, ['FAULT', 1], 'csv:sensors.csv'), [0, 1]);
  });

  it('takes the label column named by training.labelColumn, and numbers as class indices', async () => {
    const file = write('labelled.csv', 'a,b,diagnosis\n1,2,3\n4,5,0\n');
    const ds = await loadCsv(file, { labelColumn: 'diagnosis' });
    assert.deepEqual(Array.from(ds.labels ?? []), [3, 0]);
    assert.equal(ds.numClasses, 4);
    assert.deepEqual(ds.featureNames, ['a', 'b']);
    const unlabelled = await loadCsv(file);
    assert.equal(unlabelled.labels, null, 'without labelColumn "diagnosis" is a feature');
    assert.equal(unlabelled.channels, 3);
  });

  it('refuses an empty or non-numeric cell, a ragged row, an absent label column, an unknown class name, naming row and column', async () => {
    await rejects(loadCsv(write('empty-cell.csv', 'a,b,label\n1,2,x\n3,,y\n')), /empty-cell\.csv: empty value at row 3, column 2 \("b"\)/);
    await rejects(loadCsv(write('word.csv', 'a,b,label\n1,2,x\n3,high,y\n')), /word\.csv: non-numeric value "high" at row 3, column 2 \("b"\); feature columns must hold numbers/);
    await rejects(loadCsv(write('ragged.csv', 'a,b,label\n1,2,x\n3,4\n')), /ragged\.csv: row 3 has 2 columns, expected 3 \(like the header\)/);
    await rejects(loadCsv(write('no-label.csv', 'a,b,c\n1,2,3\n'), { labelColumn: 'outcome' }), /no-label\.csv: has no label column "outcome" \(training\.labelColumn\); its columns are "a", "b", "c"/);
    const ds = await loadCsv(write('classes.csv', 'a,label\n1,cat\n2,dog\n'));
    assert.throws(() => resolveClasses(ds, ['bird'], 'csv:classes.csv'), (e: unknown) => e instanceof DatasetError && /training\.classes names class "bird", which csv:classes\.csv lacks: its classes are "cat", "dog"/.test(e.message));
    assert.throws(() => resolveClasses(ds, [2], 'csv:classes.csv'), /names class 2, but csv:classes\.csv has 2 classes/);
  });
});

describe('normalisation', () => {
  const table = (values: number[], channels: number): Dataset => ({ source: 't', kind: 'table', count: values.length / channels, height: 1, width: 1, channels, values: Float32Array.from(values), labels: null, numClasses: 0, skipped: 0 });

  it('computes minmax and standard statistics per feature on the training samples only, and converts batches', () => {
    const ds = table([0, 10, 2, 20, 4, 30, 1000, -1000], 2);
    const train = Uint32Array.from([0, 1, 2]);
    const std = computeNormalization(ds, train, 'standard');
    assert.deepEqual(std.shift, [2, 20]);
    assert.ok(Math.abs(std.div[0]! - Math.sqrt(8 / 3)) < 1e-12);
    const batch = batchToFloat(ds, train, 0, 3, undefined, std);
    const mean = (j: number): number => (batch[j]! + batch[2 + j]! + batch[4 + j]!) / 3;
    assert.ok(Math.abs(mean(0)) < 1e-6 && Math.abs(mean(1)) < 1e-6, 'z-scores of the training split average 0');
    const mm = computeNormalization(ds, train, 'minmax');
    assert.deepEqual(Array.from(batchToFloat(ds, Uint32Array.from([0, 2, 3]), 0, 3, undefined, mm)), [0, 0, 1, 1, 250, -50.5]);
    const constant = computeNormalization(table([5, 5, 5], 1), Uint32Array.from([0, 1, 2]), 'standard');
    assert.deepEqual(constant.div, [1], 'a constant feature keeps a divisor of 1');
  });

  it('converts byte images per channel through tables, unit exactly as i/255, and back for pictures', () => {
    const ds: Dataset = { source: 'img', kind: 'image', count: 2, height: 1, width: 2, channels: 3, values: Uint8Array.from([0, 100, 200, 255, 50, 25, 10, 20, 30, 40, 50, 60]), labels: null, numClasses: 0, skipped: 0 };
    const idx = Uint32Array.from([0, 1]);
    const unit = computeNormalization(ds, idx, 'unit');
    assert.deepEqual(Array.from(batchToFloat(ds, idx, 0, 2, undefined, unit)), Array.from(mem(ds), (v) => Math.fround(v / 255)));
    const std = computeNormalization(ds, idx, 'standard');
    assert.equal(std.shift.length, 3);
    const z = batchToFloat(ds, idx, 0, 2, undefined, std);
    const shown = toDisplay(z, std, true);
    shown.forEach((v, i) => assert.ok(Math.abs(v - mem(ds)[i]! / 255) < 1e-5, `value ${i} goes back to its picture value`));
  });
});

describe('bringing images to the Input', () => {
  it('converts grey to RGB and back, resizes with resize, and otherwise names both sizes', async () => {
    const grey: Dataset = { source: 'IDX x (2 images 2x2)', kind: 'image', count: 2, height: 2, width: 2, channels: 1, values: Uint8Array.from([0, 50, 100, 150, 200, 250, 10, 20]), labels: null, numClasses: 0, skipped: 0 };
    const rgb = await adaptToInput(grey, [2, 2, 3], undefined);
    assert.equal(rgb.channels, 3);
    assert.deepEqual(Array.from(mem(rgb).subarray(0, 6)), [0, 0, 0, 50, 50, 50]);
    const back = await adaptToInput(rgb, [2, 2, 1], undefined);
    assert.deepEqual(mem(back), grey.values);
    assert.deepEqual(rgb.notes, ['converted grey to RGB for the Input']);
    await rejects(adaptToInput(grey, [4, 4, 1], undefined), /holds 2x2 images but the Input takes 4x4: set training\.resize/);
    const big = await adaptToInput(grey, [4, 4, 1], 'fit');
    assert.equal(mem(big).length, 2 * 16);
    assert.equal(big.height, 4);
    assert.ok((await adaptToInput(grey, [4], undefined)) === grey, 'a flat Input takes the images as they are');
  });

  it('loads an image folder for an Input through loadForInput (folder decoded to its shape)', async () => {
    await png(at('for-input', 'a', 'x.png'), 6, 6, 3, (_x, _y, c) => c * 100);
    const ds = await loadForInput(parseDataSpec(`folder:${at('for-input')}`, '/'), [3, 3, 1], { resize: 'fit' }, { cacheDir: null });
    assert.deepEqual([ds.height, ds.width, ds.channels], [3, 3, 1]);
  });
});

describe('larger than memory: streamed from disk', () => {
  it('streams an image folder from its decode cache, chunk by chunk, with the same bytes and labels', async () => {
    for (let i = 0; i < 40; i++) await png(at('stream', i % 2 ? 'odd' : 'even', `${String(i).padStart(2, '0')}.png`), 64, 64, 3, (x, y, c) => (x * 3 + y * 5 + c * 70 + i * 11) % 256);
    const inMemory = await loadFolder(at('stream'), { cacheDir: at('stream-cache') });
    // 40 images of 12 KiB (480 KiB): a budget of 200 KiB streams them.
    const streamed = await loadFolder(at('stream'), { cacheDir: at('stream-cache-2'), budgetBytes: 200 * 1024 });
    assert.ok(streamed.values instanceof DiskBytes, 'streamed');
    assert.ok(inMemory.values instanceof Uint8Array, 'in memory');
    assert.deepEqual(streamed.labels, inMemory.labels);
    const all = Uint32Array.from({ length: 40 }, (_, i) => 39 - i);
    assert.deepEqual(batchToFloat(streamed, all, 0, 40), batchToFloat(inMemory, all, 0, 40));
    // A second load reads the cache file: nothing is decoded again.
    let decoded = 0;
    const again = await loadFolder(at('stream'), { cacheDir: at('stream-cache-2'), budgetBytes: 200 * 1024, onProgress: () => decoded++ });
    assert.equal(decoded, 0);
    assert.deepEqual(batchToFloat(again, all, 0, 40), batchToFloat(inMemory, all, 0, 40));
  });

  it('shuffles an epoch chunk-locally: a permutation whose windows each read their chunks once', () => {
    const sample = 300_000; // 3 samples per 1 MiB chunk
    const file = write('disk.bin', new Uint8Array(sample * 30).map((_, i) => Math.floor(i / sample)));
    const disk = new DiskBytes([{ file, offset: 0, count: 30 }], sample, 30, 4 * (3 * sample));
    assert.equal(disk.chunks, 10);
    assert.equal(disk.windowChunks, 2);
    const order = Uint32Array.from({ length: 30 }, (_, i) => i);
    shuffleForDisk(order, disk, mulberry32(3));
    assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i), 'every sample once');
    assert.notDeepEqual(Array.from(order), Array.from({ length: 30 }, (_, i) => i), 'shuffled');
    const dst = new Uint8Array(sample);
    for (const i of order) {
      disk.read(i, dst, 0);
      assert.equal(dst[0], i, `sample ${i} reads its own bytes`);
    }
    assert.equal(disk.reads, disk.chunks, 'each chunk read once in the epoch');
    disk.close();
  });

  it('streams uint8 arrays of an npz (stored and compressed) and an npy, equal to reading them whole', async () => {
    const x = Uint8Array.from({ length: 30 * 8 * 8 }, (_, i) => (i * 7) % 256);
    const entries = { 'x_train.npy': npy(x.subarray(0, 20 * 64), [20, 8, 8], { dtype: 'u1' }), 'y_train.npy': npy(new Uint8Array(20), [20], { dtype: 'u1' }), 'x_test.npy': npy(x.subarray(20 * 64), [10, 8, 8], { dtype: 'u1' }), 'y_test.npy': npy(new Uint8Array(10), [10], { dtype: 'u1' }) };
    const all = Uint32Array.from({ length: 30 }, (_, i) => i);
    for (const level of [0, 6] as const) {
      const file = write(`big-${level}.npz`, zipSync(entries, { level }));
      const whole = await loadNpz(file);
      const streamed = await loadNpz(file, { budgetBytes: 100 });
      assert.ok(streamed.values instanceof DiskBytes, `level ${level}: streamed`);
      assert.equal(streamed.testStart, 20);
      assert.deepEqual(batchToFloat(streamed, all, 0, 30), batchToFloat(whole, all, 0, 30), `level ${level}`);
    }
    const single = write('big.npy', npy(x, [30, 8, 8], { dtype: 'u1' }));
    const fromNpy = await loadNpy(single, null, { budgetBytes: 100 });
    assert.ok(fromNpy.values instanceof DiskBytes);
    assert.deepEqual(batchToFloat(fromNpy, all, 0, 30), batchToFloat(await loadNpy(single, null), all, 0, 30));
    const truncated = write('big-truncated.npy', npy(x, [30, 8, 8], { dtype: 'u1' }).subarray(0, 1000));
    await rejects(loadNpy(truncated, null, { budgetBytes: 100 }), /big-truncated\.npy: truncated/);
  });
});
