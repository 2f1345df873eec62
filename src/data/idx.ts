import { gunzipSync } from 'node:zlib';
import { DatasetError, type Dataset } from './types';
import { formatCount, readDataFile, shortName } from './util';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const DTYPE_NAMES: Readonly<Record<number, string>> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: '16-bit integer',
  0x0c: '32-bit integer',
  0x0d: '32-bit float',
  0x0e: '64-bit float',
};

/** Decoded IDX images file: count images of height x width, one byte per pixel. */
export interface IdxImages {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly pixels: Uint8Array;
}

/** Gunzips when the bytes start with the gzip magic 1f 8b, whatever the file is called. */
function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (err) {
      // In words both engines say alike (zlib's own messages differ between Node and Python).
      const why = err instanceof Error && /unexpected end/i.test(err.message) ? 'it ends early' : 'its data is corrupt';
      throw new DatasetError(`${file}: looks gzip-compressed but does not decompress (${why}); is the download complete?`, file);
    }
  }
  return bytes;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Checks magic and dims (`want` 3 for images, 1 for labels), wording each fault for the person who picked the file. */
function readHeader(bytes: Uint8Array, file: string, want: 1 | 3): number[] {
  const what = want === 3 ? 'images' : 'labels';
  const expected = want === 3 ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  if (bytes.length < 4) {
    throw new DatasetError(`${file}: only ${bytes.length} bytes long; not an IDX ${what} file`, file);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const dtype = bytes[2] as number;
  const ndims = bytes[3] as number;
  if (magic !== expected) {
    const found = `found magic number ${hex(magic)}, expected ${hex(expected)}`;
    if (bytes[0] !== 0 || bytes[1] !== 0) {
      throw new DatasetError(`${file}: not an IDX ${what} file (${found})`, file);
    }
    if (dtype !== 0x08) {
      const name = DTYPE_NAMES[dtype] ?? 'unknown';
      throw new DatasetError(
        `${file}: holds ${name} values (type 0x${dtype.toString(16).padStart(2, '0')}, ${found}); only unsigned byte (0x08) IDX files are supported`,
        file,
      );
    }
    if (want === 3 && ndims === 1) {
      throw new DatasetError(`${file}: this looks like a labels file, not an images file (${found})`, file);
    }
    if (want === 1 && ndims === 3) {
      throw new DatasetError(`${file}: this looks like an images file, not a labels file (${found})`, file);
    }
    if (want === 3 && ndims === 4) {
      throw new DatasetError(`${file}: 4-dimensional (N,H,W,C) IDX images are not supported, only N,H,W grayscale (${found})`, file);
    }
    throw new DatasetError(`${file}: ${ndims}-dimensional data where an IDX ${what} file has ${want} (${found})`, file);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DatasetError(`${file}: truncated header (expected ${headerBytes} bytes, found ${bytes.length})`, file);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return dims;
}

/** Parses an IDX images file (magic 0x00000803: N, H, W unsigned bytes), gzipped or not. */
export function parseIdxImages(raw: Uint8Array, file: string): IdxImages {
  const bytes = maybeGunzip(raw, file);
  const [count, height, width] = readHeader(bytes, file, 3) as [number, number, number];
  if (count === 0) throw new DatasetError(`${file}: contains no images`, file);
  if (height === 0 || width === 0) throw new DatasetError(`${file}: images are ${height}x${width}`, file);
  const expected = count * height * width;
  const found = bytes.length - 16;
  if (found < expected) {
    throw new DatasetError(
      `${file}: truncated: expected ${expected} bytes of pixel data (${formatCount(count)} images of ${height}x${width}), found ${found}`,
      file,
    );
  }
  if (found > expected) {
    throw new DatasetError(
      `${file}: ${found - expected} unexpected bytes after the ${formatCount(count)} images of ${height}x${width} its header announces`,
      file,
    );
  }
  // A plain Uint8Array copy: Buffer#slice would be a view keeping the whole file buffer alive.
  return { count, height, width, pixels: new Uint8Array(bytes.subarray(16)) };
}

/** Parses an IDX labels file (magic 0x00000801: N unsigned bytes), gzipped or not. */
export function parseIdxLabels(raw: Uint8Array, file: string): Uint8Array {
  const bytes = maybeGunzip(raw, file);
  const [count] = readHeader(bytes, file, 1) as [number];
  const found = bytes.length - 8;
  if (found < count) {
    throw new DatasetError(`${file}: truncated: expected ${count} bytes of label data, found ${found}`, file);
  }
  if (found > count) {
    throw new DatasetError(`${file}: ${found - count} unexpected bytes after the ${formatCount(count)} labels its header announces`, file);
  }
  const labels = new Uint8Array(bytes.subarray(8));
  for (let i = 0; i < count; i++) {
    if (labels[i] === 255) {
      throw new DatasetError(`${file}: label 255 at index ${i} is out of range (labels must be 0..254)`, file);
    }
  }
  return labels;
}

/** Loads official MNIST-style IDX files (MNIST, Fashion-MNIST, EMNIST, KMNIST); labels optional. */
export async function loadIdx(imagesFile: string, labelsFile: string | null): Promise<Dataset<Uint8Array>> {
  const images = parseIdxImages(await readDataFile(imagesFile), imagesFile);
  let labels: Uint8Array | null = null;
  let numClasses = 0;
  if (labelsFile !== null) {
    labels = parseIdxLabels(await readDataFile(labelsFile), labelsFile);
    if (labels.length !== images.count) {
      throw new DatasetError(
        `${imagesFile} has ${formatCount(images.count)} images but ${labelsFile} has ${formatCount(labels.length)} labels; pick matching files (train with train, test with test)`,
        labelsFile,
      );
    }
    let max = 0;
    for (let i = 0; i < labels.length; i++) if ((labels[i] as number) > max) max = labels[i] as number;
    numClasses = max + 1;
  }
  const labelPart = labelsFile === null ? 'no labels' : `labels ${shortName(labelsFile)}, ${numClasses} classes`;
  return {
    source: `IDX ${shortName(imagesFile)} (${formatCount(images.count)} images ${images.height}x${images.width}, ${labelPart})`,
    count: images.count,
    height: images.height,
    width: images.width,
    channels: 1,
    kind: 'image',
    values: images.pixels,
    labels,
    numClasses,
    skipped: 0,
  };
}
