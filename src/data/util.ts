import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DatasetError } from './types';

/** 70000 → "70 000": counts as they read in the dataset source line. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/** The file name people recognise in messages, e.g. "train-images-idx3-ubyte.gz". */
export function shortName(file: string): string {
  return path.basename(file);
}

/** Reads a whole file, turning "not found" and friends into a DatasetError naming it. */
export async function readDataFile(file: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    throw fileError(file, err);
  }
}

/** A DatasetError for an fs failure on `file`, worded for a person. */
export function fileError(file: string, err: unknown): DatasetError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return new DatasetError(`${file}: file not found`, file);
  if (code === 'EISDIR') return new DatasetError(`${file}: is a folder, not a file`, file);
  if (code === 'EACCES' || code === 'EPERM') return new DatasetError(`${file}: permission denied`, file);
  return new DatasetError(`${file}: cannot read (${err instanceof Error ? err.message : String(err)})`, file);
}
