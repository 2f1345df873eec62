/**
 * A table's reconstructions as a picture: one panel per row (sample), its features as pairs of bars
 * (the input in blue, the reconstruction in orange), the worst-reconstructed features first, so
 * where the model fails shows at the left. Values are in model space: z-scores clipped to ±3 around
 * a zero line (`standard`), or 0…1 from the bottom (`minmax`, `unit`).
 */
import type { Normalization } from '../data/index';
import { type GridCell, imageGrid } from './png';

const BAR = 3;
const GAP = 2;
const HEIGHT = 40;
const ORIGINAL: readonly [number, number, number] = [0.23, 0.51, 0.96];
const RECONSTRUCTED: readonly [number, number, number] = [0.98, 0.55, 0.2];
const PAPER = 0.97;
const AXIS = 0.75;

/** One sample's panel: features ordered by squared error, largest first. */
function rowPanel(original: Float32Array, reconstructed: Float32Array, centred: boolean): GridCell {
  const f = original.length;
  const order = Array.from({ length: f }, (_, j) => j).sort((a, b) => (reconstructed[b]! - original[b]!) ** 2 - (reconstructed[a]! - original[a]!) ** 2 || a - b);
  const width = f * (2 * BAR + GAP) + GAP;
  const data = new Float32Array(HEIGHT * width * 3).fill(PAPER);
  const set = (x: number, y: number, rgb: readonly number[]): void => {
    for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = rgb[c]!;
  };
  const zero = centred ? Math.floor(HEIGHT / 2) : HEIGHT - 1;
  // y of a value: ±3 fills the half height (centred), 0…1 the whole height.
  const yOf = (v: number): number => {
    const t = centred ? Math.max(-3, Math.min(3, v)) / 3 : Math.max(0, Math.min(1, v));
    return Math.round(zero - t * (centred ? HEIGHT / 2 - 1 : HEIGHT - 1));
  };
  for (let x = 0; x < width; x++) set(x, zero, [AXIS, AXIS, AXIS]);
  order.forEach((j, k) => {
    const left = GAP + k * (2 * BAR + GAP);
    for (const [v, dx, rgb] of [[original[j]!, 0, ORIGINAL], [reconstructed[j]!, BAR, RECONSTRUCTED]] as const) {
      if (!Number.isFinite(v)) continue;
      const y = yOf(v);
      for (let yy = Math.min(y, zero); yy <= Math.max(y, zero); yy++) for (let x = 0; x < BAR; x++) set(left + dx + x, yy, rgb);
    }
  });
  return { data, height: HEIGHT, width, channels: 3 };
}

/** The panels of `count` rows of `features` values each, one under the other, as a PNG. */
export function tableBars(originals: Float32Array, reconstructions: Float32Array, count: number, features: number, norm: Normalization): Buffer {
  const centred = norm.method === 'standard';
  const rows = Array.from({ length: count }, (_, i) => [rowPanel(originals.subarray(i * features, (i + 1) * features), reconstructions.subarray(i * features, (i + 1) * features), centred)]);
  return imageGrid({ cells: rows, scale: 2, gap: 3, background: 0.85 });
}
