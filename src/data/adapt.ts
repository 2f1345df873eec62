/**
 * Bringing a loaded image dataset to the Input's shape: grey ↔ RGB (and RGBA → RGB) when the Input
 * asks for the other, and resizing to its height and width when `training.resize` says so (sharp,
 * from the raw bytes). Without `resize`, another size stops with both sizes named.
 */
import type { ResizeMode } from '../core/format';
import { loadSharp } from './sharp';
import { DiskBytes } from './disk';
import { DatasetError, type Dataset, sampleSize } from './types';
import { formatCount } from './util';

/** The Input's shape as an image target, or undefined for a flat Input. */
export function imageTargetOf(inputShape: readonly number[], resize: ResizeMode | undefined): { height: number; width: number; channels: number; resize?: ResizeMode } | undefined {
  if (inputShape.length !== 3) return undefined;
  return { height: inputShape[0]!, width: inputShape[1]!, channels: inputShape[2]!, ...(resize ? { resize } : {}) };
}

/** Channel conversion of one pixel run: replicate grey, ITU-R 601 luma for RGB → grey (as Pillow's "L"), drop alpha. */
function convertChannels<T extends Uint8Array | Float32Array>(values: T, count: number, pixelsPer: number, from: number, to: number): T {
  const out = (values instanceof Uint8Array ? new Uint8Array(count * pixelsPer * to) : new Float32Array(count * pixelsPer * to)) as T;
  const bytes = values instanceof Uint8Array;
  const n = count * pixelsPer;
  for (let p = 0; p < n; p++) {
    const s = p * from;
    const o = p * to;
    if (from === 1) {
      for (let c = 0; c < to; c++) out[o + c] = values[s]!;
    } else if (to === 1) {
      const y = 0.299 * values[s]! + 0.587 * values[s + 1]! + 0.114 * values[s + 2]!;
      out[o] = bytes ? Math.round(y) : y;
    } else {
      for (let c = 0; c < Math.min(from, to); c++) out[o + c] = values[s + c]!;
      if (to === 4 && from === 3) out[o + 3] = bytes ? 255 : 1;
    }
  }
  return out;
}

async function resizeBytes(ds: Dataset, height: number, width: number, mode: ResizeMode): Promise<Uint8Array> {
  const sharp = loadSharp();
  const per = sampleSize(ds);
  const outPer = height * width * ds.channels;
  const out = new Uint8Array(ds.count * outPer);
  const values = ds.values as Uint8Array;
  const channels = ds.channels as 1 | 2 | 3 | 4;
  const fit = mode === 'fit' ? 'fill' : 'cover';
  for (let i = 0; i < ds.count; i += 64) {
    // A few at a time in flight: sharp resizes on libuv's thread pool.
    const batch = [];
    for (let k = i; k < Math.min(ds.count, i + 64); k++) {
      const input = values.subarray(k * per, (k + 1) * per);
      batch.push(
        sharp(input, { raw: { width: ds.width, height: ds.height, channels } })
          .resize(width, height, { fit, position: 'centre' })
          .raw()
          .toBuffer()
          .then((data: Buffer) => out.set(data.subarray(0, outPer), k * outPer)),
      );
    }
    await Promise.all(batch);
  }
  return out;
}

/**
 * `ds` in the Input's shape: itself when it already fits; converted (channels) and resized (with
 * `resize`) when it is an image dataset of another colour or size; a sentence otherwise.
 */
export async function adaptToInput(ds: Dataset, inputShape: readonly number[], resize: ResizeMode | undefined): Promise<Dataset> {
  const target = imageTargetOf(inputShape, resize);
  if (ds.kind !== 'image' || target === undefined) return ds;
  if (![1, 3, 4].includes(ds.channels) || ![1, 3, 4].includes(target.channels)) return ds;
  if (ds.values instanceof DiskBytes && (ds.height !== target.height || ds.width !== target.width || ds.channels !== target.channels)) {
    throw new DatasetError(`${ds.source} is streamed from disk (larger than the memory budget) and holds ${ds.height}x${ds.width}x${ds.channels} images, but the Input takes ${target.height}x${target.width}x${target.channels}: change the Input's shape, or save the array in that shape`);
  }
  let out: Dataset<Uint8Array | Float32Array> = ds as Dataset<Uint8Array | Float32Array>;
  const notes = [...(ds.notes ?? [])];
  if (ds.height !== target.height || ds.width !== target.width) {
    if (!resize) {
      throw new DatasetError(`${ds.source} holds ${ds.height}x${ds.width} images but the Input takes ${target.height}x${target.width}: set training.resize ("fit" or "crop") or change the Input's shape`);
    }
    if (!(ds.values instanceof Uint8Array)) {
      throw new DatasetError(`${ds.source} holds ${ds.height}x${ds.width} float images and the Input takes ${target.height}x${target.width}: resizing takes byte (uint8) images; resize the array before saving it, or change the Input's shape`);
    }
    const values = await resizeBytes(ds, target.height, target.width, resize);
    notes.push(`resized ${formatCount(ds.count)} images from ${ds.width}x${ds.height} to ${target.width}x${target.height} (${resize})`);
    out = { ...out, height: target.height, width: target.width, values };
  }
  if (out.channels !== target.channels) {
    const values = convertChannels(out.values, out.count, out.height * out.width, out.channels, target.channels);
    const name = (c: number): string => (c === 1 ? 'grey' : c === 3 ? 'RGB' : 'RGBA');
    notes.push(`converted ${name(out.channels)} to ${name(target.channels)} for the Input`);
    out = { ...out, channels: target.channels, values };
  }
  return out === (ds as Dataset) ? ds : { ...out, notes };
}
