/**
 * Tables in CSV files: named numeric feature columns and an optional label column (numbers, or
 * words: classes sorted by name). Parsed by csv-parse (quoting, BOMs, CRLF) row by row into one
 * float32 store; every bad cell stops the load naming its row (the file's line) and column.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { DatasetError, type Dataset } from './types';
import { fileError, formatCount, shortName } from './util';

/** Column names that hold labels, in order of preference, when `training.labelColumn` names none. */
export const LABEL_COLUMNS: readonly string[] = ['label', 'class', 'target'];

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export interface TableLayout {
  /** The file has a header row (its first non-empty row): the columns' names. Else they are "column 1", "column 2", …. */
  readonly header: boolean;
  /** The label column (`training.labelColumn`, or "column 3" without a header); default: label / class / target. */
  readonly labelColumn?: string;
}

/** The label column of a header: `labelColumn` when given (it must exist), else label / class / target. */
export function findLabelColumn(columns: readonly string[], labelColumn: string | undefined, file: string): number {
  const lower = columns.map((c) => c.toLowerCase());
  if (labelColumn !== undefined) {
    const at = columns.indexOf(labelColumn);
    const found = at >= 0 ? at : lower.indexOf(labelColumn.toLowerCase());
    if (found < 0) {
      const shown = columns.slice(0, 12).map((c) => JSON.stringify(c)).join(', ');
      throw new DatasetError(`${file}: has no label column "${labelColumn}" (training.labelColumn); its columns are ${shown}${columns.length > 12 ? ', …' : ''}`, file);
    }
    return found;
  }
  for (const name of LABEL_COLUMNS) {
    const at = lower.indexOf(name);
    if (at >= 0) return at;
  }
  return -1;
}

/** Growing float32 rows without holding the table twice at the end (chunks of 64k values). */
class RowStore {
  private chunks: Float32Array[] = [];
  private current = new Float32Array(65536);
  private used = 0;
  length = 0;

  push(v: number): void {
    if (this.used === this.current.length) {
      this.chunks.push(this.current);
      this.current = new Float32Array(Math.min(this.current.length * 2, 1 << 24));
      this.used = 0;
    }
    this.current[this.used++] = v;
    this.length++;
  }

  finish(): Float32Array {
    const out = new Float32Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    out.set(this.current.subarray(0, this.used), at);
    return out;
  }
}

/** Class indices for the label cells: whole numbers 0..254 as they are, otherwise words sorted by name. */
function labelsOf(cells: readonly string[]): { labels: Uint8Array; numClasses: number; classNames?: string[] } {
  const numeric = cells.every((c) => NUMERIC.test(c) && Number.isInteger(Number(c)) && Number(c) >= 0 && Number(c) <= 254);
  if (numeric) {
    const labels = Uint8Array.from(cells, (c) => Number(c));
    return { labels, numClasses: labels.reduce((m, l) => Math.max(m, l), -1) + 1 };
  }
  const classNames = [...new Set(cells)].sort();
  if (classNames.length > 255) throw new DatasetError(`${classNames.length} distinct labels; at most 255 classes are supported`);
  const index = new Map(classNames.map((c, i) => [c, i]));
  return { labels: Uint8Array.from(cells, (c) => index.get(c)!), numClasses: classNames.length, classNames };
}

const quote = (text: string): string => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

/** Loads a table: one sample per data row, the label column apart. */
export async function loadTable(file: string, layout: TableLayout): Promise<Dataset<Float32Array>> {
  let columns: string[] = [];
  let labelCol = -1;
  let features: string[] = [];
  const store = new RowStore();
  const labelCells: string[] = [];
  const stream = createReadStream(file);
  const parser = stream.pipe(parse({ bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true }));
  let rows = 0;
  let first = true;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (first) {
        // The columns, by the header's names (csv-parse unquotes them) or by number.
        columns = layout.header ? record : record.map((_, i) => `column ${i + 1}`);
        labelCol = layout.header || layout.labelColumn !== undefined ? findLabelColumn(columns, layout.labelColumn, file) : -1;
        features = columns.filter((_, i) => i !== labelCol);
        if (features.length === 0) throw new DatasetError(`${file}: no feature columns besides the label column "${columns[labelCol]}"`, file);
      }
      if (first && layout.header) {
        first = false;
        continue;
      }
      first = false;
      const line = info.lines;
      if (record.length !== columns.length) {
        throw new DatasetError(`${file}: row ${line} has ${record.length} columns, expected ${columns.length} (${layout.header ? 'like the header' : 'like the first row'})`, file);
      }
      for (let c = 0; c < record.length; c++) {
        const cell = record[c]!;
        if (c === labelCol) {
          if (cell === '') throw new DatasetError(`${file}: empty label at row ${line}, column ${c + 1} ("${columns[c]}")`, file);
          labelCells.push(cell);
          continue;
        }
        if (cell === '') throw new DatasetError(`${file}: empty value at row ${line}, column ${c + 1} ("${columns[c]}"); fill it in or drop the row`, file);
        if (!NUMERIC.test(cell)) throw new DatasetError(`${file}: non-numeric value ${quote(cell)} at row ${line}, column ${c + 1} ("${columns[c]}"); feature columns must hold numbers`, file);
        store.push(Number(cell));
      }
      rows++;
    }
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code && !code.startsWith('CSV_')) throw fileError(file, err);
    throw new DatasetError(`${file}: not a readable CSV file (${err instanceof Error ? err.message : String(err)})`, file);
  } finally {
    stream.destroy();
  }
  if (rows === 0) throw new DatasetError(`${file}: has a header but no data rows`, file);
  const values = store.finish();
  const out = labelCol >= 0 ? labelsOf(labelCells) : null;
  const labelPart = out ? `${out.numClasses} classes in "${columns[labelCol]}"` : 'no labels';
  return {
    source: `table ${shortName(file)} (${formatCount(rows)} rows, ${features.length} features, ${labelPart})`,
    kind: 'table',
    count: rows,
    height: 1,
    width: 1,
    channels: features.length,
    values,
    labels: out?.labels ?? null,
    numClasses: out?.numClasses ?? 0,
    ...(out?.classNames ? { classNames: out.classNames } : {}),
    featureNames: features,
    skipped: 0,
  };
}
