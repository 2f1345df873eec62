import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Decoded dataset contents as stored in a cache file. */
export interface CachedImages {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  readonly skipped: number;
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array | null;
}

/** "LSDC": Latent Studio dataset cache. */
const MAGIC = 0x4344534c;
const FORMAT_VERSION = 1;
/** magic, version, fingerprint, count, height, width, channels, numClasses, skipped, hasLabels: u32 LE each. */
const HEADER_BYTES = 40;

/** LATENT_STUDIO_CACHE, else $XDG_CACHE_HOME/latent-studio, else ~/.cache/latent-studio. */
export function defaultCacheDir(): string {
  const explicit = process.env.LATENT_STUDIO_CACHE;
  if (explicit) return explicit;
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg) return path.join(xdg, 'latent-studio');
  return path.join(os.homedir(), '.cache', 'latent-studio');
}

/** FNV-1a over a string: a cheap fingerprint of what the cache was built from. */
export function fingerprint(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A cache file written by writeCache, or null (missing, other source, truncated, inconsistent) so the caller rebuilds it. */
export async function readCache(file: string, expectedFingerprint: number): Promise<CachedImages | null> {
  return (await readCacheFile(file, expectedFingerprint, true)) as CachedImages | null;
}

/** A cache file's header and labels, checked against its size, without reading the pixels (they are streamed, disk.ts). */
export async function readCacheHeader(file: string, expectedFingerprint: number): Promise<Omit<CachedImages, 'pixels'> | null> {
  return readCacheFile(file, expectedFingerprint, false);
}

/** The one reader of the format: header checked against the file's size, labels checked, pixels read when asked for. */
async function readCacheFile(file: string, expectedFingerprint: number, withPixels: boolean): Promise<(Omit<CachedImages, 'pixels'> & { pixels?: Uint8Array }) | null> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch {
    return null;
  }
  try {
    const { size } = await handle.stat();
    if (size < HEADER_BYTES) return null;
    const header = Buffer.alloc(HEADER_BYTES);
    if ((await handle.read(header, 0, HEADER_BYTES, 0)).bytesRead !== HEADER_BYTES) return null;
    const u = (i: number): number => header.readUInt32LE(i * 4);
    const [magic, version, fp, count, height, width, channels, numClasses, skipped, hasLabels] = [
      u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7), u(8), u(9),
    ] as const;
    if (magic !== MAGIC || version !== FORMAT_VERSION || fp !== expectedFingerprint) return null;
    if (count === 0 || height === 0 || width === 0 || channels === 0 || hasLabels > 1) return null;
    if (numClasses === 0 || numClasses > 256) return null;
    const pixelBytes = count * height * width * channels;
    const labelBytes = hasLabels ? count : 0;
    if (size !== HEADER_BYTES + pixelBytes + labelBytes) return null;
    let labels: Uint8Array | null = null;
    if (hasLabels) {
      labels = new Uint8Array(count);
      if (!(await readFully(handle, labels, HEADER_BYTES + pixelBytes))) return null;
      for (let i = 0; i < count; i++) if ((labels[i] as number) >= numClasses) return null;
    }
    const meta = { count, height, width, channels, numClasses, skipped, labels };
    if (!withPixels) return meta;
    // Separate allocations (not views into one buffer) so callers may transfer them to workers.
    const pixels = new Uint8Array(pixelBytes);
    if (!(await readFully(handle, pixels, HEADER_BYTES))) return null;
    return { ...meta, pixels };
  } catch {
    return null;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function readFully(handle: fsp.FileHandle, into: Uint8Array, position: number): Promise<boolean> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}

async function writeFully(handle: fsp.FileHandle, from: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < from.length) {
    const { bytesWritten } = await handle.write(from, done, from.length - done, position + done);
    if (bytesWritten === 0) throw new Error("write made no progress");
    done += bytesWritten;
  }
}

/** Temp file + rename so a crash never leaves a half file under the real name; false when not writable. */
export async function writeCache(file: string, fp: number, data: CachedImages): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const header = Buffer.alloc(HEADER_BYTES);
    const fields = [
      MAGIC, FORMAT_VERSION, fp, data.count, data.height, data.width, data.channels,
      data.numClasses, data.skipped, data.labels ? 1 : 0,
    ];
    fields.forEach((v, i) => header.writeUInt32LE(v, i * 4));
    const handle = await fsp.open(tmp, 'w');
    try {
      let position = 0;
      for (const part of data.labels ? [header, data.pixels, data.labels] : [header, data.pixels]) {
        await writeFully(handle, part, position);
        position += part.length;
      }
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
    return true;
  } catch {
    await fsp.unlink(tmp).catch(() => undefined);
    return false;
  }
}

/** Where a cache file's pixels start (the header is fixed-size). */
export const CACHE_PIXELS_OFFSET = HEADER_BYTES;

/**
 * Writes a cache file image by image (a dataset too large to hold in memory): `write(i, bytes)`
 * puts image i in place, `finish` adds the labels and renames the temp file to `file`.
 */
export class CacheWriter {
  private constructor(
    private readonly file: string,
    private readonly tmp: string,
    private readonly handle: fsp.FileHandle,
    private readonly imageBytes: number,
    private readonly count: number,
  ) {}

  static async create(file: string, fp: number, meta: Omit<CachedImages, 'pixels' | 'labels'> & { hasLabels: boolean }): Promise<CacheWriter> {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const handle = await fsp.open(tmp, 'w');
    const header = Buffer.alloc(HEADER_BYTES);
    [MAGIC, FORMAT_VERSION, fp, meta.count, meta.height, meta.width, meta.channels, meta.numClasses, meta.skipped, meta.hasLabels ? 1 : 0].forEach((v, i) => header.writeUInt32LE(v, i * 4));
    await writeFully(handle, header, 0);
    return new CacheWriter(file, tmp, handle, meta.height * meta.width * meta.channels, meta.count);
  }

  write(index: number, bytes: Uint8Array): Promise<void> {
    return writeFully(this.handle, bytes, HEADER_BYTES + index * this.imageBytes);
  }

  /** Writes the labels (and the `skipped` count, which may be known only now), closes and renames; the file's final name. */
  async finish(labels: Uint8Array | null, skipped: number): Promise<string> {
    const field = Buffer.alloc(4);
    field.writeUInt32LE(skipped, 0);
    await writeFully(this.handle, field, 8 * 4);
    if (labels) await writeFully(this.handle, labels, HEADER_BYTES + this.count * this.imageBytes);
    await this.handle.close();
    await fsp.rename(this.tmp, this.file);
    return this.file;
  }

  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await fsp.unlink(this.tmp).catch(() => undefined);
  }
}
