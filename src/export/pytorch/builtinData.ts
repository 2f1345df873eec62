/**
 * The built-in datasets for the generated train.py: `mnist.npz` / `fashion-mnist.npz` beside it,
 * holding the embedded images exactly as src/data/embedded.ts loads them (same order: grouped by
 * class, the same bytes), so train.py draws the same split as Latent Studio. Arrays:
 *
 *   x        uint8 (N, 28, 28)   the images
 *   y        uint8 (N,)          their classes
 *   skipped  uint32 (1,)         images the npm package holds that could not be used (the load report)
 *
 * Each array is a NumPy .npy (format 1.0) in a deflated zip, as np.savez_compressed writes them.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import type { BUILTIN_DATASETS } from '../../core/format';
import { type EmbeddedLoadOptions, loadFashionMnist, loadMnist } from '../../data/embedded';

export type BuiltinDataset = (typeof BUILTIN_DATASETS)[number];

/** The NumPy dtypes written here, by their descr. */
type NpyData = { readonly descr: '|u1'; readonly data: Uint8Array } | { readonly descr: '<u4'; readonly data: Uint32Array };

/** A .npy file (format 1.0): magic, version, the header dict padded with spaces to a multiple of 64 bytes, the data. */
export function npyBytes(array: NpyData, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) throw new RangeError(`shape (${shape.join(', ')}) holds ${count} values, the data ${array.data.length}`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  const dict = `{'descr': '${array.descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // 10 bytes of magic and length, the dict, spaces, and a closing newline: the data starts 64-byte aligned.
  const headerLength = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10;
  const out = new Uint8Array(10 + headerLength + array.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, headerLength & 0xff, headerLength >> 8]);
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  // Little-endian on every platform Node runs on, as '<u4' says.
  out.set(new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength), 10 + headerLength);
  return out;
}

/** A fixed time for the zip entries, so the same dataset always gives the same file. */
const ENTRY_TIME = new Date(2000, 0, 1);

/** The NPZ bytes of a built-in dataset (see the module comment). */
export async function builtinNpz(name: BuiltinDataset, opts: EmbeddedLoadOptions = {}): Promise<Uint8Array> {
  const ds = name === 'mnist' ? await loadMnist(opts) : await loadFashionMnist(opts);
  return zipSync(
    {
      'x.npy': npyBytes({ descr: '|u1', data: ds.values }, [ds.count, ds.height, ds.width]),
      'y.npy': npyBytes({ descr: '|u1', data: ds.labels! }, [ds.count]),
      'skipped.npy': npyBytes({ descr: '<u4', data: Uint32Array.of(ds.skipped) }, [1]),
    },
    { level: 6, mtime: ENTRY_TIME },
  );
}

/** Writes `<name>.npz` to `file` (through a temporary file and a rename: an interrupted write leaves no half file). */
export async function writeBuiltinNpz(name: BuiltinDataset, file: string, opts: EmbeddedLoadOptions = {}): Promise<void> {
  const bytes = await builtinNpz(name, opts);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await fsp.writeFile(tmp, bytes);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}
