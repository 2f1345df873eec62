/**
 * Byte samples that stay on disk: a dataset larger than the memory budget is read from its file
 * (the decode cache of an image folder, a .npy file, the stored arrays of an .npz) in chunks of
 * about 1 MB, a bounded number of them cached at once. An epoch visits the training samples
 * chunk-locally (shuffleForDisk): the chunks in a shuffled order, a window of them at a time, the
 * samples shuffled within the window, so every chunk is read once per epoch.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { type Rng, shuffleInPlace } from './random';
import { DatasetError } from './types';

/** A run of consecutive samples in a file. */
export interface DiskPart {
  readonly file: string;
  /** Byte offset of the part's first sample. */
  readonly offset: number;
  readonly count: number;
}

/** Bytes of one chunk (a whole number of samples, at least one). */
const CHUNK_BYTES = 1 << 20;

/**
 * The memory budget for a dataset's values: LATENT_MEMORY_BUDGET_MB, else a quarter of this
 * machine's memory (at most 8 GiB). A larger byte dataset is streamed from disk.
 */
export function memoryBudgetBytes(): number {
  const env = Number(process.env.LATENT_MEMORY_BUDGET_MB);
  if (Number.isFinite(env) && env > 0) return env * 1024 * 1024;
  return Math.min(8 * 1024 ** 3, os.totalmem() / 4);
}

export class DiskBytes {
  readonly length: number;
  readonly samplesPerChunk: number;
  readonly chunks: number;
  private readonly fds = new Map<string, number>();
  private readonly cache = new Map<number, Uint8Array>();
  private readonly maxCached: number;
  /** Chunk reads so far (tests and benchmarks: each chunk is read once per epoch). */
  reads = 0;

  constructor(
    readonly parts: readonly DiskPart[],
    /** Bytes per sample. */
    readonly sampleBytes: number,
    readonly count: number,
    budgetBytes: number = memoryBudgetBytes(),
  ) {
    this.length = count * sampleBytes;
    this.samplesPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / sampleBytes));
    this.chunks = Math.ceil(count / this.samplesPerChunk);
    // Half the budget for cached chunks (the rest is the batches, the model and the runtime).
    this.maxCached = Math.max(2, Math.floor(budgetBytes / 2 / (this.samplesPerChunk * sampleBytes)));
  }

  /** Chunks an epoch keeps in memory at once (its window). */
  get windowChunks(): number {
    return this.maxCached;
  }

  chunkOf(sample: number): number {
    return Math.floor(sample / this.samplesPerChunk);
  }

  /** Copies sample `index` into `dst` at `at`. */
  read(index: number, dst: Uint8Array, at: number): void {
    const { bytes, offset } = this.locate(index);
    dst.set(bytes.subarray(offset, offset + this.sampleBytes), at);
  }

  /** Where sample `index` lies in its cached chunk (valid until the next read evicts it): no copy, for the batch converter. */
  locate(index: number): { bytes: Uint8Array; offset: number } {
    if (!(index >= 0 && index < this.count)) throw new RangeError(`sample index ${index} is outside the dataset (0..${this.count - 1})`);
    const c = this.chunkOf(index);
    return { bytes: this.chunk(c), offset: (index - c * this.samplesPerChunk) * this.sampleBytes };
  }

  /** One sample's bytes (a copy). */
  sample(index: number): Uint8Array {
    const out = new Uint8Array(this.sampleBytes);
    this.read(index, out, 0);
    return out;
  }

  private chunk(c: number): Uint8Array {
    const hit = this.cache.get(c);
    if (hit) {
      // Most recently used last: Map keeps insertion order.
      this.cache.delete(c);
      this.cache.set(c, hit);
      return hit;
    }
    const first = c * this.samplesPerChunk;
    const n = Math.min(this.samplesPerChunk, this.count - first);
    const out = new Uint8Array(n * this.sampleBytes);
    const sb = this.sampleBytes;
    let base = 0;
    for (const part of this.parts) {
      const lo = Math.max(first, base);
      const hi = Math.min(first + n, base + part.count);
      if (hi > lo) this.readFully(part.file, out, (lo - first) * sb, (hi - lo) * sb, part.offset + (lo - base) * sb);
      base += part.count;
      if (base >= first + n) break;
    }
    this.reads++;
    this.cache.set(c, out);
    while (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value!);
    return out;
  }

  private readFully(file: string, into: Uint8Array, at: number, length: number, position: number): void {
    let fd = this.fds.get(file);
    try {
      if (fd === undefined) {
        fd = fs.openSync(file, 'r');
        this.fds.set(file, fd);
      }
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, into, at + done, length - done, position + done);
        if (n === 0) throw new Error(`the file ends ${length - done} bytes early`);
        done += n;
      }
    } catch (err) {
      throw new DatasetError(`${file}: cannot read the samples streamed from it (${err instanceof Error ? err.message : String(err)}); was it changed or removed while training?`, file);
    }
  }

  /** Closes the files. */
  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
    this.cache.clear();
  }
}

/**
 * Shuffles `order` (sample indices) chunk-locally: the chunks it touches in a random order, taken
 * `window` chunks at a time, the samples of each window shuffled among themselves. Each window's
 * chunks fit in DiskBytes' cache, so every chunk is read once per epoch.
 */
export function shuffleForDisk(order: Uint32Array, disk: Pick<DiskBytes, 'chunkOf' | 'windowChunks'>, rng: Rng): Uint32Array {
  const byChunk = new Map<number, number[]>();
  for (const i of order) {
    const c = disk.chunkOf(i);
    const list = byChunk.get(c);
    if (list) list.push(i);
    else byChunk.set(c, [i]);
  }
  const chunks = shuffleInPlace([...byChunk.keys()].sort((a, b) => a - b), rng);
  let at = 0;
  for (let w = 0; w < chunks.length; w += disk.windowChunks) {
    const start = at;
    for (const c of chunks.slice(w, w + disk.windowChunks)) for (const i of byChunk.get(c)!) order[at++] = i;
    shuffleInPlace(order.subarray(start, at), rng);
  }
  return order;
}
