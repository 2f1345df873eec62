import { createReadStream, promises as fsp } from 'node:fs';
import * as readline from 'node:readline';
import { findLabelColumn, loadTable } from './table';
import { DatasetError, type Dataset, type InMemoryValues } from './types';
import { fileError, formatCount, shortName } from './util';

// Hand-rolled byte loop, not a CSV library: numeric-only cells, and 55 M of them must not become strings.

/** Image geometry inferred from the number of pixel columns. */
interface CsvLayout {
  /** 1-based line of the header, or 0 when the file has none. */
  readonly headerLine: number;
  /** 1-based line of the first non-blank line (the header, or the first data row). */
  readonly firstLine: number;
  readonly cols: number;
  /** 0-based label column, or -1 when the file has no labels. */
  readonly labelCol: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Bytes to skip at the start (a UTF-8 byte-order mark). */
  readonly startByte: number;
}

/** What the scanner stopped on; the message is built later from the file's text. */
type ScanFault =
  | { readonly kind: 'cell'; readonly line: number; readonly col: number }
  | { readonly kind: 'range'; readonly line: number; readonly col: number }
  | { readonly kind: 'label'; readonly line: number; readonly col: number }
  | { readonly kind: 'ragged'; readonly line: number };

const HEAD_LIMIT = 16 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parse phases of one cell; Plain (nothing yet, or unsigned digits only) is the fast path. */
const enum P {
  Plain = 0,
  Signed = 1,
  Frac = 2,
  ExpStart = 3,
  ExpSign = 4,
  Exp = 5,
  Trail = 6,
  Bad = 7,
}

/** Streaming byte scanner: pass 1 (no outputs) validates and finds the value range, pass 2 fills bytes. */
class CsvScanner {
  line = 1;
  rows = 0;
  maxPixel = 0;
  maxLabel = 0;
  fault: ScanFault | null = null;
  private col = 0;
  private phase: P = P.Plain;
  private digits = 0;
  private ip = 0;
  private neg = false;
  private fp = 0;
  private fd = 1;
  private ex = 0;
  private expNeg = false;
  private readonly colMap: Int32Array;
  private readonly sampleSize: number;
  private readonly capacity: number;

  constructor(
    layout: CsvLayout,
    private readonly skipThroughLine: number,
    private readonly pixels: Uint8Array | null,
    private readonly labels: Uint8Array | null,
    private readonly scale255: boolean,
  ) {
    this.colMap = new Int32Array(layout.cols);
    let p = 0;
    for (let c = 0; c < layout.cols; c++) this.colMap[c] = c === layout.labelCol ? -1 : p++;
    this.sampleSize = p;
    this.capacity = pixels === null ? Infinity : pixels.length / p;
  }

  /** Scans one chunk; stops early (setting `fault`) at the first problem. */
  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    while (this.line <= this.skipThroughLine) {
      const nl = chunk.indexOf(10, i);
      if (nl < 0) return;
      this.line++;
      i = nl + 1;
    }
    const cols = this.colMap.length;
    const colMap = this.colMap;
    const pixels = this.pixels;
    const labels = this.labels;
    const sampleSize = this.sampleSize;
    const scale255 = this.scale255;
    const capacity = this.capacity;
    let { col, phase, digits, ip, neg, fp, fd, ex, expNeg, line, rows, maxPixel, maxLabel } = this;
    let base = rows * sampleSize;
    for (; i < n; i++) {
      const b = chunk[i] as number;
      const d = b - 48;
      if (d >= 0 && d <= 9) {
        if (phase <= P.Signed) {
          ip = ip * 10 + d;
          digits++;
        } else if (phase === P.Frac) {
          // Digits past 1e17 cannot change a value that is rounded to a byte.
          if (fd < 1e17) {
            fp = fp * 10 + d;
            fd *= 10;
          }
          digits++;
        } else if (phase === P.ExpStart || phase === P.ExpSign || phase === P.Exp) {
          ex = ex * 10 + d;
          phase = P.Exp;
        } else phase = P.Bad;
        continue;
      }
      if (b !== 44 && b !== 10) {
        if (b === 32 || b === 9 || b === 13) {
          if (phase === P.Plain) {
            if (digits > 0) phase = P.Trail;
          } else if (phase === P.Signed || phase === P.Frac || phase === P.Exp) {
            phase = digits > 0 ? P.Trail : P.Bad;
          } else if (phase !== P.Trail) phase = P.Bad;
        } else if (b === 46) {
          phase = phase <= P.Signed ? P.Frac : P.Bad;
        } else if (b === 101 || b === 69) {
          phase = phase <= P.Frac && digits > 0 ? P.ExpStart : P.Bad;
        } else if (b === 45 || b === 43) {
          if (phase === P.Plain && digits === 0) {
            neg = b === 45;
            phase = P.Signed;
          } else if (phase === P.ExpStart) {
            expNeg = b === 45;
            phase = P.ExpSign;
          } else phase = P.Bad;
        } else phase = P.Bad;
        continue;
      }
      // End of a cell (',' or '\n'); unsigned integers take the first branch.
      let v: number;
      if (phase === P.Plain && digits !== 0) {
        v = ip;
      } else {
        if (b === 10 && col === 0 && phase === P.Plain) {
          line++;
          continue;
        }
        if (phase === P.Bad || digits === 0 || phase === P.ExpStart || phase === P.ExpSign) {
          this.fault = { kind: 'cell', line, col };
          break;
        }
        v = fd > 1 ? ip + fp / fd : ip;
        if (ex !== 0) v *= 10 ** (expNeg ? -ex : ex);
        if (neg) v = -v;
        phase = P.Plain;
        neg = false;
        fp = 0;
        fd = 1;
        ex = 0;
        expNeg = false;
      }
      ip = 0;
      digits = 0;
      const m = colMap[col] as number;
      if (m >= 0) {
        if (!(v >= 0 && v <= 255)) {
          this.fault = { kind: 'range', line, col };
          break;
        }
        if (v > maxPixel) maxPixel = v;
        if (pixels !== null) pixels[base + m] = Math.round(scale255 ? v * 255 : v);
      } else {
        if (!(v >= 0 && v <= 254 && v === Math.floor(v))) {
          this.fault = { kind: 'label', line, col };
          break;
        }
        if (v > maxLabel) maxLabel = v;
        if (labels !== null) labels[rows] = v;
      }
      if (b === 44) {
        if (++col >= cols) {
          this.fault = { kind: 'ragged', line };
          break;
        }
      } else {
        if (col !== cols - 1) {
          this.fault = { kind: 'ragged', line };
          break;
        }
        col = 0;
        line++;
        base += sampleSize;
        if (++rows > capacity) {
          this.fault = { kind: 'ragged', line: line - 1 };
          break;
        }
      }
    }
    Object.assign(this, { col, phase, digits, ip, neg, fp, fd, ex, expNeg, line, rows, maxPixel, maxLabel });
  }

  /** Ends the last line when the file does not end with a newline. */
  finish(): void {
    if (this.fault === null && this.line > this.skipThroughLine) this.feed(NEWLINE);
  }
}

const NEWLINE = Uint8Array.of(10);

/** Runs the scanner over the file, streaming it in 1 MB chunks. */
async function scanFile(file: string, startByte: number, scanner: CsvScanner): Promise<void> {
  const stream = createReadStream(file, { start: startByte, highWaterMark: CHUNK });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      scanner.feed(chunk);
      if (scanner.fault !== null) return;
    }
  } catch (err) {
    throw fileError(file, err);
  } finally {
    stream.destroy();
  }
  scanner.finish();
}

/** What a file that is not text is, by its first bytes (a picture or an archive given as csv:), or undefined for text. */
function binaryKind(head: Buffer): string | undefined {
  const starts = (...sig: number[]): boolean => sig.every((b, i) => head[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'a zip archive (an .npz? use npz:; an Excel .xlsx? save it as CSV)';
  if (starts(0x1f, 0x8b)) return 'gzip-compressed (decompress it first)';
  if (starts(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)) return 'a NumPy .npy array (use npy:)';
  return head.subarray(0, 8192).includes(0) ? 'binary data' : undefined;
}

/** Reads the start of the file up to the end of its first non-blank line (or the whole file). */
async function readHead(file: string): Promise<{ text: string; startByte: number }> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (err) {
    throw fileError(file, err);
  }
  try {
    const parts: Buffer[] = [];
    let total = 0;
    let seenContent = false;
    let done = false;
    while (!done) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buf, 0, buf.length, total);
      if (bytesRead === 0) break;
      for (let i = 0; i < bytesRead && !done; i++) {
        const b = buf[i] as number;
        const inBom = total + i < 3 && (b === 0xef || b === 0xbb || b === 0xbf);
        if (b === 10) done = seenContent;
        else if (b !== 32 && b !== 9 && b !== 13 && !inBom) seenContent = true;
      }
      parts.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (!done && total > HEAD_LIMIT) {
        throw new DatasetError(`${file}: the first line is longer than 16 MB; is this a CSV file?`, file);
      }
    }
    const bytes = Buffer.concat(parts);
    const binary = binaryKind(bytes);
    if (binary) throw new DatasetError(`${file}: is ${binary}, not a CSV table (a CSV file is text: a header line, then one row a line)`, file);
    const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    return { text: bytes.subarray(bom).toString('utf8'), startByte: bom };
  } catch (err) {
    // A folder opens for reading on Linux and fails at the first read (EISDIR).
    throw err instanceof DatasetError ? err : fileError(file, err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function cleanCell(cell: string): string {
  const t = cell.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
}

/** Square (HxW) or square-RGB (HxWx3) geometry for a pixel count, or null. */
export function inferImageShape(pixelCount: number): { height: number; width: number; channels: number } | null {
  if (pixelCount <= 0 || !Number.isInteger(pixelCount)) return null;
  const side = Math.round(Math.sqrt(pixelCount));
  if (side * side === pixelCount) return { height: side, width: side, channels: 1 };
  if (pixelCount % 3 === 0) {
    const rgb = Math.round(Math.sqrt(pixelCount / 3));
    if (rgb * rgb * 3 === pixelCount) return { height: rgb, width: rgb, channels: 3 };
  }
  return null;
}

/** A header row: has a "label" cell, is mostly non-numeric, or counts 0,1,2,… (pandas). */
function looksLikeHeader(cells: readonly string[]): boolean {
  if (cells.some((c) => c.toLowerCase() === 'label')) return true;
  const nonNumeric = cells.filter((c) => !NUMERIC.test(c)).length;
  if (nonNumeric * 2 > cells.length) return true;
  const first = Number(cells[0]);
  return cells.length > 1 && (first === 0 || first === 1) && cells.every((c, i) => Number(c) === first + i);
}

/** The first non-blank line's cells, its 1-based line number, and the byte the data starts at. */
interface CsvHead {
  readonly cells: string[];
  readonly firstLine: number;
  readonly startByte: number;
}

async function readFirstRow(file: string): Promise<CsvHead> {
  const head = await readHead(file);
  const lines = head.text.split('\n');
  const index = lines.findIndex((l) => l.trim() !== '');
  if (index < 0) throw new DatasetError(`${file}: the file is empty`, file);
  return { cells: (lines[index] as string).split(',').map(cleanCell), firstLine: index + 1, startByte: head.startByte };
}

function detectLayout(file: string, head: CsvHead, namedLabel: number): CsvLayout {
  const { cells, firstLine } = head;
  const header = looksLikeHeader(cells);
  const cols = cells.length;
  const named = header ? namedLabel : -1;
  let labelCol = named >= 0 ? named : 0;
  let shape = inferImageShape(cols - 1);
  if (named < 0) {
    // Unnamed: exactly an image's columns (784) means no labels; label+RGB vs gray ties (4, 49, 676) go gray.
    const unlabeled = inferImageShape(cols);
    if (unlabeled !== null && (shape === null || (shape.channels === 3 && unlabeled.channels === 1))) {
      shape = unlabeled;
      labelCol = -1;
    }
  }
  if (shape === null) {
    const pixelCols = cols - 1;
    throw new DatasetError(
      `${file}: ${pixelCols} pixel columns (${cols} columns minus the label) do not form a square image: ` +
        `expected HxW (e.g. 784 = 28x28) or HxWx3 for colour (e.g. 3072 = 32x32x3)`,
      file,
    );
  }
  return { headerLine: header ? firstLine : 0, firstLine, cols, labelCol, ...shape, startByte: head.startByte };
}

/** Header names of pixel columns: "pixel0", "px12", "1x1", "0". */
const PIXEL_NAME = /^(?:pixel|px|p)?[_ -]?\d+(?:x\d+)?$/i;

export interface CsvOptions {
  /** The label column (`training.labelColumn`); a header-less file takes "column 3" or "3". */
  readonly labelColumn?: string;
}

/**
 * A CSV file: a table (a header of named feature columns, an optional label column) or pixels
 * (Kaggle-style: a label column and one column per pixel of a square image).
 */
export async function loadCsv(file: string, opts: CsvOptions = {}): Promise<Dataset<InMemoryValues>> {
  const head = await readFirstRow(file);
  const { cells } = head;
  if (looksLikeHeader(cells)) {
    const labelCol = findLabelColumn(cells, opts.labelColumn, file);
    const features = cells.filter((_, i) => i !== labelCol);
    // Pixel columns by name; without a named label column the first one may be it (Kaggle, pandas 0,1,2,…).
    const square = inferImageShape(features.length) !== null || (labelCol < 0 && inferImageShape(features.length - 1) !== null);
    const pixels = features.every((n) => PIXEL_NAME.test(n)) && square;
    if (!pixels) return loadTable(file, { header: true, labelColumn: opts.labelColumn });
    return loadPixelCsv(file, detectLayout(file, head, labelCol));
  }
  if (opts.labelColumn !== undefined) {
    const name = /^\d+$/.test(opts.labelColumn.trim()) ? `column ${opts.labelColumn.trim()}` : opts.labelColumn;
    return loadTable(file, { header: false, labelColumn: name });
  }
  if (inferImageShape(cells.length) === null && inferImageShape(cells.length - 1) === null) return loadTable(file, { header: false });
  return loadPixelCsv(file, detectLayout(file, head, -1));
}

/** The text of a 1-based line, read again only to word an error message. */
async function readLineAt(file: string, lineNo: number): Promise<string> {
  const stream = createReadStream(file);
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  try {
    let n = 0;
    for await (const text of rl) {
      if (++n === lineNo) return n === 1 ? text.replace(/^\uFEFF/, '') : text;
    }
    return '';
  } finally {
    rl.close();
    stream.destroy();
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

async function faultError(file: string, fault: ScanFault, layout: CsvLayout): Promise<DatasetError> {
  const text = await readLineAt(file, fault.line);
  const cells = text.split(',');
  if (fault.kind === 'ragged') {
    return new DatasetError(
      `${file}: row ${fault.line} has ${cells.length} columns, expected ${layout.cols} (like row ${layout.firstLine})`,
      file,
    );
  }
  const where = `at row ${fault.line}, column ${fault.col + 1}`;
  const cell = (cells[fault.col] ?? '').trim();
  if (fault.kind === 'cell') {
    return new DatasetError(
      cell === '' ? `${file}: empty value ${where}` : `${file}: non-numeric value ${quote(cell)} ${where}`,
      file,
    );
  }
  if (fault.kind === 'label') {
    return new DatasetError(`${file}: label ${quote(cell)} ${where} is not a whole number in 0..254`, file);
  }
  return new DatasetError(
    `${file}: pixel value ${quote(cell)} ${where} is out of range (pixels are 0..255, or all within 0..1)`,
    file,
  );
}

/** Kaggle-style CSV: optional header, label column ("label", else the first), pixels 0..255 or all in [0,1]. */
async function loadPixelCsv(file: string, layout: CsvLayout): Promise<Dataset<Uint8Array>> {
  const skip = layout.headerLine;
  const pass1 = new CsvScanner(layout, skip, null, null, false);
  await scanFile(file, layout.startByte, pass1);
  if (pass1.fault !== null) throw await faultError(file, pass1.fault, layout);
  const count = pass1.rows;
  if (count === 0) throw new DatasetError(`${file}: has a header but no data rows`, file);
  const scale255 = pass1.maxPixel <= 1;
  const sampleSize = layout.height * layout.width * layout.channels;
  const pixels = new Uint8Array(count * sampleSize);
  const labels = layout.labelCol >= 0 ? new Uint8Array(count) : null;
  const pass2 = new CsvScanner(layout, skip, pixels, labels, scale255);
  await scanFile(file, layout.startByte, pass2);
  if (pass2.fault !== null || pass2.rows !== count) {
    throw new DatasetError(`${file}: the file changed while it was being read; try again`, file);
  }
  const numClasses = labels === null ? 0 : pass1.maxLabel + 1;
  const dims = `${layout.height}x${layout.width}${layout.channels === 3 ? 'x3' : ''}`;
  const labelPart = labels === null ? 'no labels' : `${numClasses} classes`;
  const scalePart = scale255 ? ', values 0..1 scaled to 0..255' : '';
  return {
    source: `CSV ${shortName(file)} (${formatCount(count)} images ${dims}, ${labelPart}${scalePart})`,
    kind: 'image',
    count,
    height: layout.height,
    width: layout.width,
    channels: layout.channels,
    values: pixels,
    labels,
    numClasses,
    skipped: 0,
  };
}
