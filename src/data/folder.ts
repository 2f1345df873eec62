/**
 * `folder:<dir>`: an image folder. Each first-level subfolder is a class (names sorted, as Keras'
 * image_dataset_from_directory and torchvision's ImageFolder sort them); a folder without
 * subfolders holds unlabelled images. Images are found recursively; other files are counted.
 *
 * Decoded with sharp (libvips): PNG, JPEG, WebP, GIF and TIFF in every colour type, resizing and
 * colour conversion in the same native pass, prebuilt for every platform as npm packages, and
 * native speed on the thousands of files a folder holds (bench/ownData.ts). The decoded
 * bytes are cached on disk (keyed by the files' names, sizes and times and the target shape), so a
 * second run does not decode again.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ResizeMode } from '../core/format';
import { CACHE_PIXELS_OFFSET, CacheWriter, defaultCacheDir, readCache, readCacheHeader, writeCache } from './cache';
import { DiskBytes, memoryBudgetBytes } from './disk';
import { loadSharp } from './sharp';
import { DatasetError, type Dataset } from './types';
import { fileError, formatCount } from './util';

/** File endings sharp decodes that image folders hold. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff']);

/** Decodes in flight at once: sharp works on libuv's pool (4 threads), small images need more than 4 to keep it busy. */
const IN_FLIGHT = 16;

/** The shape the images are brought to (the Input's), and how. */
export interface ImageTarget {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly resize?: ResizeMode;
}

export interface FolderLoadOptions {
  readonly target?: ImageTarget;
  /** Cache folder for the decoded bytes; null disables the cache. */
  readonly cacheDir?: string | null;
  /** Called as images decode (done, total), for progress. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Bytes the decoded images may take in memory; above it they are streamed from the cache file (default: memoryBudgetBytes()). */
  readonly budgetBytes?: number;
}

interface ImageFile {
  readonly file: string;
  readonly label: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** What a folder holds: its image files in order, the class names, and what was passed over. */
export interface FolderScan {
  readonly dir: string;
  readonly classNames: string[] | null;
  readonly files: readonly ImageFile[];
  /** Files that are not images, by ending (".txt" → 3). */
  readonly otherFiles: ReadonlyMap<string, number>;
  /** Images directly in a folder that has class subfolders (they belong to no class). */
  readonly looseImages: number;
}

const hidden = (name: string): boolean => name.startsWith('.') || name === '__MACOSX' || name === 'Thumbs.db';

/** Every file below `dir` (recursively, sorted by path), hidden ones left out. */
async function walk(dir: string, out: { file: string; size: number; mtimeMs: number }[]): Promise<void> {
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw fileError(dir, err);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (hidden(e.name)) continue;
    const full = path.join(dir, e.name);
    const stat = await fsp.stat(full).catch(() => null);
    if (stat === null) continue;
    if (stat.isDirectory()) await walk(full, out);
    else if (stat.isFile()) out.push({ file: full, size: stat.size, mtimeMs: stat.mtimeMs });
  }
}

const isImage = (file: string): boolean => IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());

function countOthers(files: readonly { file: string }[], into: Map<string, number>): void {
  for (const f of files) {
    if (isImage(f.file)) continue;
    const ext = path.extname(f.file).toLowerCase() || path.basename(f.file);
    into.set(ext, (into.get(ext) ?? 0) + 1);
  }
}

/** Lists a folder's classes and images, or says why it cannot be used. */
export async function scanFolder(dir: string): Promise<FolderScan> {
  const stat = await fsp.stat(dir).catch((err: unknown) => {
    throw fileError(dir, err);
  });
  if (!stat.isDirectory()) throw new DatasetError(`${dir}: is a file, not a folder; folder: takes a folder of images (use csv:, npz: or npy: for files)`, dir);
  const top = (await fsp.readdir(dir, { withFileTypes: true })).filter((e) => !hidden(e.name));
  const classDirs = top.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const otherFiles = new Map<string, number>();
  if (classDirs.length === 0) {
    const all: { file: string; size: number; mtimeMs: number }[] = [];
    await walk(dir, all);
    countOthers(all, otherFiles);
    const files = all.filter((f) => isImage(f.file)).map((f) => ({ ...f, label: -1 }));
    if (files.length === 0) throw new DatasetError(`${dir}: an empty folder: no images (PNG, JPEG, WebP, GIF or TIFF) in it${all.length ? ` (${formatCount(all.length)} other files)` : ''}`, dir);
    return { dir, classNames: null, files, otherFiles, looseImages: 0 };
  }
  if (classDirs.length > 255) throw new DatasetError(`${dir}: ${classDirs.length} class folders; at most 255 classes are supported`, dir);
  const files: ImageFile[] = [];
  for (const [label, name] of classDirs.entries()) {
    const all: { file: string; size: number; mtimeMs: number }[] = [];
    await walk(path.join(dir, name), all);
    countOthers(all, otherFiles);
    const images = all.filter((f) => isImage(f.file));
    if (images.length === 0) {
      throw new DatasetError(`${path.join(dir, name)}: the class folder "${name}" holds no images${all.length ? ` (${formatCount(all.length)} other files)` : ''}; add images or remove the folder`, path.join(dir, name));
    }
    for (const f of images) files.push({ ...f, label });
  }
  const loose = top.filter((e) => e.isFile() && isImage(e.name)).length;
  countOthers(top.filter((e) => e.isFile()).map((e) => ({ file: e.name })), otherFiles);
  return { dir, classNames: classDirs, files, otherFiles, looseImages: loose };
}

/** Size and channels of the images when no Input says: the first image's size, RGB if any image has colour. */
async function inferTarget(scan: FolderScan, resize: ResizeMode | undefined): Promise<ImageTarget> {
  const sharp = loadSharp();
  // Headers are read several at once; sizes are compared afterwards in file order, so the sentence
  // about mixed sizes names the same two files whichever header arrived first.
  const sizes: { width: number; height: number }[] = new Array(scan.files.length);
  let colour = false;
  await forEachLimited(scan.files, async (f, i) => {
    const meta = await sharp(f.file).metadata().catch((err: unknown) => {
      throw imageError(f.file, err);
    });
    if (meta.width === undefined || meta.height === undefined) throw new DatasetError(`${f.file}: not a readable image (no size in its header)`, f.file);
    sizes[i] = { width: meta.width, height: meta.height };
    if (meta.channels >= 3 && meta.space !== 'b-w') colour = true;
  });
  const first = sizes[0]!;
  if (resize === undefined) {
    const odd = sizes.findIndex((s) => s.width !== first.width || s.height !== first.height);
    if (odd >= 0) {
      const f = scan.files[odd]!.file;
      throw new DatasetError(`${f} is ${sizes[odd]!.width}x${sizes[odd]!.height} but ${path.basename(scan.files[0]!.file)} is ${first.width}x${first.height}: images of mixed sizes need training.resize ("fit" or "crop")`, f);
    }
  }
  return { height: first.height, width: first.width, channels: colour ? 3 : 1, ...(resize ? { resize } : {}) };
}

function imageError(file: string, err: unknown): DatasetError {
  const why = err instanceof Error ? err.message.split('\n')[0]!.trim() : String(err);
  return new DatasetError(`${file}: not a readable image, corrupt or truncated (${why})`, file);
}

/** Runs `work` over `items` with IN_FLIGHT at once, in order of starting; the first failure stops it. */
async function forEachLimited<T>(items: readonly T[], work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await work(items[i]!, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, items.length) }, lane));
  if (failed !== undefined) throw failed;
}

/** Decodes every image to target's size and channels, handing each to `sink` (a byte store, or a cache file); how many were resized. */
async function decodeAll(scan: FolderScan, target: ImageTarget, sink: (index: number, data: Uint8Array) => void | Promise<void>, onProgress?: (done: number, total: number) => void): Promise<number> {
  const sharp = loadSharp();
  if (![1, 3, 4].includes(target.channels)) {
    throw new DatasetError(`${scan.dir}: images give 1 (grey), 3 (RGB) or 4 (RGBA) channels, but the Input asks for ${target.channels}: change the Input's last dimension`, scan.dir);
  }
  const per = target.height * target.width * target.channels;
  let resized = 0;
  let done = 0;
  await forEachLimited(scan.files, async (f, i) => {
    let image = sharp(f.file, { failOn: 'error' });
    if (target.resize) {
      const meta = await image.metadata().catch((err: unknown) => {
        throw imageError(f.file, err);
      });
      if (meta.width !== target.width || meta.height !== target.height) {
        resized++;
        image = image.resize(target.width, target.height, { fit: target.resize === 'fit' ? 'fill' : 'cover', position: 'centre' });
      }
    }
    image = target.channels === 1 ? image.removeAlpha().toColourspace('b-w') : target.channels === 3 ? image.removeAlpha().toColourspace('srgb') : image.ensureAlpha().toColourspace('srgb');
    const { data, info } = await image.raw().toBuffer({ resolveWithObject: true }).catch((err: unknown) => {
      throw imageError(f.file, err);
    });
    if (info.width !== target.width || info.height !== target.height) {
      throw new DatasetError(`${f.file} is ${info.width}x${info.height} but the Input takes ${target.width}x${target.height} images: set training.resize ("fit" or "crop") or change the Input's shape`, f.file);
    }
    if (info.channels !== target.channels || data.length !== per) {
      throw new DatasetError(`${f.file}: decoded to ${info.channels} channels where ${target.channels} were asked for`, f.file);
    }
    await sink(i, data);
    onProgress?.(++done, scan.files.length);
  });
  return resized;
}

/** What the cache is keyed by: every file's name, size and time, and the shape it is decoded to. */
function cacheKey(scan: FolderScan, target: ImageTarget): string {
  const h = createHash('sha256');
  h.update(`folder-v1|${path.resolve(scan.dir)}|${target.height}x${target.width}x${target.channels}|${target.resize ?? ''}\n`);
  for (const f of scan.files) h.update(`${path.relative(scan.dir, f.file)}|${f.size}|${f.mtimeMs}|${f.label}\n`);
  return h.digest('hex');
}

function notesOf(scan: FolderScan, resized: number, target: ImageTarget): string[] {
  const notes: string[] = [];
  const others = [...scan.otherFiles].reduce((a, [, n]) => a + n, 0);
  if (others > 0) notes.push(`skipped ${formatCount(others)} ${others === 1 ? 'file that is not an image' : 'files that are not images'} (${[...scan.otherFiles].map(([ext, n]) => `${n} ${ext}`).join(', ')})`);
  if (scan.looseImages > 0) notes.push(`skipped ${formatCount(scan.looseImages)} image${scan.looseImages === 1 ? '' : 's'} directly in ${path.basename(scan.dir)}, outside the class folders`);
  if (resized > 0) notes.push(`resized ${formatCount(resized)} image${resized === 1 ? '' : 's'} to ${target.width}x${target.height} (${target.resize})`);
  return notes;
}

/** Loads an image folder as a byte dataset of `target`'s shape (or the images' own, when no target is given). */
export async function loadFolder(dir: string, opts: FolderLoadOptions = {}): Promise<Dataset> {
  const scan = await scanFolder(dir);
  const target = opts.target ?? (await inferTarget(scan, undefined));
  const key = cacheKey(scan, target);
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  const cacheFile = cacheDir === null ? null : path.join(cacheDir, 'folders', `${key.slice(0, 32)}.bin`);
  const fp = Number.parseInt(key.slice(0, 8), 16);
  const numClasses = scan.classNames?.length ?? 0;
  const per = target.height * target.width * target.channels;
  const labels = scan.classNames ? Uint8Array.from(scan.files, (f) => f.label) : null;
  const meta = { count: scan.files.length, height: target.height, width: target.width, channels: target.channels, numClasses: Math.max(1, numClasses) };
  const budget = opts.budgetBytes ?? memoryBudgetBytes();
  let values: Uint8Array | DiskBytes;
  let resized: number;
  if (scan.files.length * per > budget) {
    // Larger than the memory budget: decoded once into the cache file, then streamed from it.
    const file = cacheFile ?? path.join(os.tmpdir(), 'latent-studio-folders', `${key.slice(0, 32)}.bin`);
    let header = await readCacheHeader(file, fp);
    if (!header || header.count !== meta.count || header.height !== meta.height || header.width !== meta.width || header.channels !== meta.channels) {
      const writer = await CacheWriter.create(file, fp, { ...meta, skipped: 0, hasLabels: labels !== null });
      try {
        resized = await decodeAll(scan, target, (i, data) => writer.write(i, data), opts.onProgress);
        await writer.finish(labels, resized);
      } catch (e) {
        await writer.abandon();
        throw e;
      }
      header = { ...meta, skipped: resized, labels };
    }
    resized = header.skipped;
    values = new DiskBytes([{ file, offset: CACHE_PIXELS_OFFSET, count: meta.count }], per, meta.count, budget);
  } else {
    const cached = cacheFile === null ? null : await readCache(cacheFile, fp);
    if (cached && cached.count === meta.count && cached.height === meta.height && cached.width === meta.width && cached.channels === meta.channels) {
      values = cached.pixels;
      resized = cached.skipped;
    } else {
      const pixels = new Uint8Array(meta.count * per);
      resized = await decodeAll(scan, target, (i, data) => pixels.set(data, i * per), opts.onProgress);
      // `skipped` of the cache header carries the resized count, for the load report.
      if (cacheFile !== null) await writeCache(cacheFile, fp, { ...meta, skipped: resized, pixels, labels });
      values = pixels;
    }
  }
  const others = [...scan.otherFiles.values()].reduce((a, b) => a + b, 0) + scan.looseImages;
  const classPart = scan.classNames ? `${scan.classNames.length} classes` : 'no labels';
  return {
    source: `folder ${path.basename(dir)} (${formatCount(scan.files.length)} images ${target.height}x${target.width}x${target.channels}, ${classPart})`,
    kind: 'image',
    count: scan.files.length,
    height: target.height,
    width: target.width,
    channels: target.channels,
    values,
    labels,
    numClasses,
    ...(scan.classNames ? { classNames: scan.classNames } : {}),
    skipped: others,
    notes: notesOf(scan, resized, target),
  };
}
