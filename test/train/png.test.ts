import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';

import { decodePng, imageGrid, reconstructionGrid, type GridCell } from '../../src/train/png';

const H = 4;
const W = 5;

/** Cell (r, c) is a horizontal ramp starting at a distinct base so cells can be told apart. */
function gradientCell(r: number, c: number): GridCell {
  const data = new Float32Array(H * W);
  const base = (r * 3 + c) / 10;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = base + (x / (W - 1)) * 0.3 + y * 0.01;
  return { data, height: H, width: W, channels: 1 };
}

function constCell(value: number, h = 2, w = 2, channels: 1 | 3 = 1): GridCell {
  return { data: new Float32Array(h * w * channels).fill(value), height: h, width: w, channels };
}

function rgbaAt(img: { width: number; data: Uint8Array }, x: number, y: number): number[] {
  const o = (y * img.width + x) * 4;
  return Array.from(img.data.subarray(o, o + 4));
}

const byte = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 255);

test('2x3 gradient grid: size, cell pixels, upscaling and gaps', () => {
  const cells = [0, 1].map((r) => [0, 1, 2].map((c) => gradientCell(r, c)));
  const scale = 3;
  const gap = 2;
  const buf = imageGrid({ cells, scale, gap });
  // Raw pngjs decode as an independent check of the file itself.
  const raw = PNG.sync.read(buf);
  assert.equal(raw.width, 3 * W * scale + 4 * gap);
  assert.equal(raw.height, 2 * H * scale + 3 * gap);
  assert.equal(buf[25], 2, 'IHDR colour type 2: RGB, no alpha channel');

  const img = decodePng(buf);
  assert.equal(img.width, raw.width);
  assert.equal(img.height, raw.height);
  assert.equal(img.data.length, img.width * img.height * 4);

  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 3; c++) {
      const left = gap + c * (W * scale + gap);
      const top = gap + r * (H * scale + gap);
      const cell = gradientCell(r, c).data;
      const tl = byte(cell[0] ?? NaN);
      assert.deepEqual(rgbaAt(img, left, top), [tl, tl, tl, 255], `top-left of cell ${r},${c}`);
      // Nearest-neighbour: the whole scale x scale block repeats the source pixel.
      assert.deepEqual(rgbaAt(img, left + scale - 1, top + scale - 1), [tl, tl, tl, 255]);
      const next = byte(cell[1] ?? NaN);
      assert.deepEqual(rgbaAt(img, left + scale, top), [next, next, next, 255], `second pixel of cell ${r},${c}`);
      const last = byte(cell[H * W - 1] ?? NaN);
      assert.deepEqual(rgbaAt(img, left + W * scale - 1, top + H * scale - 1), [last, last, last, 255]);
    }
  }
  const bg = byte(0.25);
  assert.deepEqual(rgbaAt(img, 0, 0), [bg, bg, bg, 255], 'outer margin');
  assert.deepEqual(rgbaAt(img, gap + W * scale, gap + 1), [bg, bg, bg, 255], 'gap between columns');
  assert.deepEqual(rgbaAt(img, gap + 1, gap + H * scale), [bg, bg, bg, 255], 'gap between rows');
  assert.deepEqual(rgbaAt(img, img.width - 1, img.height - 1), [bg, bg, bg, 255], 'bottom-right margin');
});

test('defaults: scale 2, gap 2, mid-dark grey background', () => {
  const img = decodePng(imageGrid({ cells: [[constCell(0), constCell(0)]] }));
  assert.equal(img.width, 2 * 2 * 2 + 3 * 2);
  assert.equal(img.height, 2 * 2 + 2 * 2);
  assert.deepEqual(rgbaAt(img, 2, 2), [0, 0, 0, 255]);
  assert.deepEqual(rgbaAt(img, 6, 2), [64, 64, 64, 255], 'gap shows against black digits');
});

test('out-of-range values clamp, NaN is red, background is configurable', () => {
  const data = new Float32Array([1.7, -0.3, Number.NaN, 0.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  const cell: GridCell = { data, height: 2, width: 3, channels: 1 };
  const img = decodePng(imageGrid({ cells: [[cell]], scale: 1, gap: 1, background: 1 }));
  assert.equal(img.width, 3 + 2);
  assert.deepEqual(rgbaAt(img, 1, 1), [255, 255, 255, 255], '1.7 clamps to white');
  assert.deepEqual(rgbaAt(img, 2, 1), [0, 0, 0, 255], '-0.3 clamps to black');
  assert.deepEqual(rgbaAt(img, 3, 1), [255, 0, 0, 255], 'NaN is red');
  assert.deepEqual(rgbaAt(img, 1, 2), [128, 128, 128, 255]);
  assert.deepEqual(rgbaAt(img, 2, 2), [255, 255, 255, 255], '+Infinity clamps');
  assert.deepEqual(rgbaAt(img, 3, 2), [0, 0, 0, 255], '-Infinity clamps');
  assert.deepEqual(rgbaAt(img, 0, 0), [255, 255, 255, 255], 'background 1 is white');
});

test('RGB cells keep their colours; any NaN channel makes the pixel red', () => {
  const data = new Float32Array([0, 0.5, 1, 0.2, Number.NaN, 0.2]);
  const img = decodePng(imageGrid({ cells: [[{ data, height: 1, width: 2, channels: 3 }]], scale: 1, gap: 0 }));
  assert.equal(img.width, 2);
  assert.equal(img.height, 1);
  assert.deepEqual(rgbaAt(img, 0, 0), [0, 128, 255, 255]);
  assert.deepEqual(rgbaAt(img, 1, 0), [255, 0, 0, 255]);
});

test('ragged rows and mixed sizes pad with background', () => {
  const img = decodePng(imageGrid({ cells: [[constCell(1, 3, 3)], [constCell(0, 1, 1), constCell(0, 2, 2)]], scale: 1, gap: 1 }));
  // Columns are 3 and 2 wide, rows 3 and 2 tall.
  assert.equal(img.width, 3 + 2 + 3);
  assert.equal(img.height, 3 + 2 + 3);
  assert.deepEqual(rgbaAt(img, 5, 1), [64, 64, 64, 255], 'missing cell in row 0 is background');
  assert.deepEqual(rgbaAt(img, 2, 5), [64, 64, 64, 255], 'small cell sits top-left; rest of slot is background');
  assert.deepEqual(rgbaAt(img, 1, 5), [0, 0, 0, 255]);
});

test('reconstructionGrid puts originals in the top row', () => {
  const originals = [constCell(1), constCell(0.8), constCell(0.6)];
  const recons = [constCell(0), constCell(0.2), constCell(Number.NaN)];
  const img = decodePng(reconstructionGrid(originals, recons, { scale: 1, gap: 1 }));
  assert.equal(img.width, 3 * 2 + 4);
  assert.equal(img.height, 2 * 2 + 3);
  const xs = [1, 4, 7];
  xs.forEach((x, i) => {
    const o = byte(originals[i]?.data[0] ?? NaN);
    assert.deepEqual(rgbaAt(img, x, 1), [o, o, o, 255], `original ${i} on top`);
  });
  assert.deepEqual(rgbaAt(img, 1, 4), [0, 0, 0, 255], 'reconstruction 0 underneath');
  assert.deepEqual(rgbaAt(img, 4, 4), [51, 51, 51, 255], 'reconstruction 1 underneath');
  assert.deepEqual(rgbaAt(img, 7, 4), [255, 0, 0, 255], 'diverged reconstruction is red');
});

test('reconstructionGrid rejects unpaired inputs', () => {
  assert.throws(() => reconstructionGrid([constCell(1), constCell(1)], [constCell(0)]), /2 originals but 1 reconstructions/);
});

test('bad input gives a clear error', () => {
  assert.throws(() => imageGrid({ cells: [] }), /no cells/);
  assert.throws(() => imageGrid({ cells: [[{ data: new Float32Array(3), height: 2, width: 2, channels: 1 }]] }), /row 0, column 0.*4 values.*3 values/);
  assert.throws(() => imageGrid({ cells: [[constCell(0)]], scale: 1.5 }), /scale/);
  assert.throws(() => imageGrid({ cells: [[constCell(0)]], gap: -1 }), /gap/);
  assert.throws(() => imageGrid({ cells: [[constCell(0)]], background: Number.NaN }), /background/);
});
