/**
 * PNG pictures of images a model sees and produces: sample grids and the classic
 * "originals over reconstructions" figure. pngjs is used because it is pure JS (no native
 * build inside the VS Code extension host or the training child process).
 */
import { PNG } from 'pngjs';

/** One image: values in [0,1] (clamped outside), row-major, channels last (HWC). */
export interface GridCell {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
}

/** Layout and colour options shared by every grid picture. */
export interface GridStyle {
  /** Integer nearest-neighbour upscale of every cell (default 2): 28px digits are tiny otherwise. */
  readonly scale?: number;
  /** Background pixels between cells and around the edge (default 2). */
  readonly gap?: number;
  /** Grey level in [0,1] of gaps and unfilled slots (default 0.25, so black digit borders show). */
  readonly background?: number;
}

export interface ImageGridOptions extends GridStyle {
  /** Rows of cells; rows may differ in length, cells may differ in size. */
  readonly cells: readonly (readonly GridCell[])[];
}

/** A decoded PNG, always 8-bit RGBA whatever the file's colour type. */
export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export const DEFAULT_SCALE = 2;
export const DEFAULT_GAP = 2;
export const DEFAULT_BACKGROUND = 0.25;
/** Colour of NaN pixels: a diverged model must look broken, not like a black image. */
export const NAN_RGB: readonly [number, number, number] = [255, 0, 0];

/**
 * Draws rows of cells into one RGB PNG. Column widths are the widest cell in each column and
 * row heights the tallest cell in each row; smaller cells sit top-left in their slot.
 */
export function imageGrid(options: ImageGridOptions): Buffer {
  const scale = options.scale ?? DEFAULT_SCALE;
  const gap = options.gap ?? DEFAULT_GAP;
  const background = options.background ?? DEFAULT_BACKGROUND;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new Error(`imageGrid: scale must be a positive integer, got ${scale}`);
  }
  if (!Number.isInteger(gap) || gap < 0) {
    throw new Error(`imageGrid: gap must be a non-negative integer, got ${gap}`);
  }
  if (!(background >= 0 && background <= 1)) {
    throw new Error(`imageGrid: background must be a grey level in [0,1], got ${background}`);
  }

  const rows = options.cells;
  const colWidths: number[] = [];
  const rowHeights: number[] = [];
  rows.forEach((row, r) => {
    let rowHeight = 0;
    row.forEach((cell, c) => {
      checkCell(cell, `row ${r}, column ${c}`);
      rowHeight = Math.max(rowHeight, cell.height);
      colWidths[c] = Math.max(colWidths[c] ?? 0, cell.width);
    });
    rowHeights.push(rowHeight);
  });
  if (colWidths.length === 0) throw new Error('imageGrid: no cells to draw');

  const width = sum(colWidths) * scale + gap * (colWidths.length + 1);
  const height = sum(rowHeights) * scale + gap * (rowHeights.length + 1);
  const png = new PNG({ width, height });
  const bg = toByte(background);
  png.data.fill(bg);
  // Alpha stays 255 everywhere; the alpha channel is dropped on write anyway.
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;

  let top = gap;
  rows.forEach((row, r) => {
    let left = gap;
    row.forEach((cell, c) => {
      drawCell(png, cell, left, top, scale);
      left += (colWidths[c] ?? 0) * scale + gap;
    });
    top += (rowHeights[r] ?? 0) * scale + gap;
  });
  // colorType 2 = RGB: a quarter smaller than RGBA and nothing here is transparent.
  return PNG.sync.write(png, { colorType: 2 });
}

/** Originals in the top row, their reconstructions underneath, column by column. */
export function reconstructionGrid(
  originals: readonly GridCell[],
  reconstructions: readonly GridCell[],
  style: GridStyle = {},
): Buffer {
  if (originals.length !== reconstructions.length) {
    throw new Error(
      `reconstructionGrid: ${originals.length} originals but ${reconstructions.length} ` +
        'reconstructions; they must pair up',
    );
  }
  return imageGrid({ ...style, cells: [originals, reconstructions] });
}

/** One row of images side by side (a classifier's preview strip). */
export function imageStrip(cells: readonly GridCell[], style: GridStyle = {}): Buffer {
  if (cells.length === 0) throw new Error('imageStrip: no images to draw');
  return imageGrid({ ...style, cells: [cells] });
}

/** Reads any PNG pngjs understands into 8-bit RGBA (used by tests and previews). */
export function decodePng(buf: Uint8Array): DecodedPng {
  const png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  const data = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
  return { width: png.width, height: png.height, data };
}

function checkCell(cell: GridCell, where: string): void {
  const { height, width, channels, data } = cell;
  if (!Number.isInteger(height) || height < 1 || !Number.isInteger(width) || width < 1) {
    throw new Error(`imageGrid: cell at ${where} has invalid size ${height}x${width}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new Error(`imageGrid: cell at ${where} has ${String(channels)} channels; only 1 or 3 are drawable`);
  }
  const expected = height * width * channels;
  if (data.length !== expected) {
    throw new Error(
      `imageGrid: cell at ${where} is ${height}x${width}x${channels} (${expected} values) ` +
        `but has ${data.length} values`,
    );
  }
}

function drawCell(png: PNG, cell: GridCell, left: number, top: number, scale: number): void {
  const { data, height, width, channels } = cell;
  const out = png.data;
  const rgb: [number, number, number] = [0, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      if (channels === 1) {
        const v = data[i] ?? Number.NaN;
        if (Number.isNaN(v)) setRgb(rgb, NAN_RGB);
        else rgb[0] = rgb[1] = rgb[2] = toByte(v);
      } else {
        const r = data[i] ?? Number.NaN;
        const g = data[i + 1] ?? Number.NaN;
        const b = data[i + 2] ?? Number.NaN;
        // One NaN channel already means the output is garbage: show the whole pixel red.
        if (Number.isNaN(r) || Number.isNaN(g) || Number.isNaN(b)) setRgb(rgb, NAN_RGB);
        else setRgb(rgb, [toByte(r), toByte(g), toByte(b)]);
      }
      for (let dy = 0; dy < scale; dy++) {
        let o = ((top + y * scale + dy) * png.width + left + x * scale) * 4;
        for (let dx = 0; dx < scale; dx++, o += 4) {
          out[o] = rgb[0];
          out[o + 1] = rgb[1];
          out[o + 2] = rgb[2];
        }
      }
    }
  }
}

function setRgb(target: [number, number, number], src: readonly [number, number, number]): void {
  target[0] = src[0];
  target[1] = src[1];
  target[2] = src[2];
}

/** [0,1] → 0..255, clamping out-of-range values (±Infinity included). */
function toByte(v: number): number {
  return Math.round(Math.min(1, Math.max(0, v)) * 255);
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
