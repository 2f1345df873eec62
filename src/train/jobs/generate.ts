/**
 * The generate job: a variational autoencoder's decoder turns random codes into new images. The
 * run's graph snapshot is compiled, the checkpoint loaded, and the `decoder` sub-model (from the
 * variational Bottleneck to the reconstruction) decodes
 *
 * - `count` codes drawn from the prior N(0, I) (seeded), as a grid: `generated.png`;
 * - for a 2-D code, the decoded manifold as in the Keras VAE example: codes on a `manifoldSize`²
 *   grid of N(0, 1) quantiles (5 % to 95 %), z1 growing left to right and z2 bottom to top:
 *   `manifold.png`.
 *
 * Both pictures are written into the run folder and returned.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '../../backend/tf';
import type { z } from 'zod';
import { variationalBottleneck } from '../../core/analyze';
import type { GenerateRequestSchema, Generated } from '../../core/protocol';
import { shapeSize } from '../../core/shape';
import { mulberry32 } from '../../data/random';
import { TrainingError } from '../errors';
import { type GridCell, imageGrid } from '../png';
import { writeFileAtomic } from '../../run/runFolder';
import { type OpenedRun, compileRun, openRunGraph } from './openRun';
import { RUN_FILES } from '../../core/runFormat';

export type ResolvedGenerateRequest = z.output<typeof GenerateRequestSchema>;

/** Standard normal draws from a seeded uniform generator (Box–Muller). */
export function gaussianSamples(count: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = 1 - rng(); // (0, 1]: log stays finite
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/**
 * The standard normal quantile function (Acklam's rational approximation, relative error < 1.15e-9).
 * No Halley refinement: it needs an erfc better than the 1.2e-7 that a short one gives, and would make it worse.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  return x;
}

/** The manifold grid's codes, row by row: z1 = q[column] left to right, z2 = q[n - 1 - row] bottom to top. */
export function manifoldCodes(n: number): Float32Array {
  const q = Array.from({ length: n }, (_, i) => normalQuantile(0.05 + (0.9 * i) / (n - 1)));
  const codes = new Float32Array(n * n * 2);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      codes[(row * n + col) * 2] = q[col]!;
      codes[(row * n + col) * 2 + 1] = q[n - 1 - row]!;
    }
  }
  return codes;
}

/** Height, width and channels of one decoded image: the run's dataset images, else the decoder's output shape. */
function imageShape([h, w, c]: readonly [number, number, number], output: readonly number[]): [number, number, 1 | 3] {
  const size = shapeSize(output);
  if (h * w * c === size && (c === 1 || c === 3)) return [h, w, c];
  if (output.length === 3 && (output[2] === 1 || output[2] === 3)) return [output[0]!, output[1]!, output[2]];
  const side = Math.round(Math.sqrt(size));
  if (side * side === size) return [side, side, 1];
  throw new TrainingError(`The decoder makes ${output.join('x')} outputs, which cannot be drawn as images`);
}

async function decode(decoder: tf.LayersModel, codes: Float32Array, latent: number): Promise<Float32Array> {
  const out = tf.tidy(() => decoder.predict(tf.tensor2d(codes, [codes.length / latent, latent])) as tf.Tensor);
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}

function cellsOf(values: Float32Array, count: number, [height, width, channels]: [number, number, 1 | 3]): GridCell[] {
  const per = height * width * channels;
  return Array.from({ length: count }, (_, i) => ({ data: values.subarray(i * per, (i + 1) * per), height, width, channels }));
}

function rowsOf<T>(items: readonly T[], perRow: number): T[][] {
  const rows: T[][] = [];
  for (let i = 0; i < items.length; i += perRow) rows.push(items.slice(i, i + perRow));
  return rows;
}

export async function runGenerate(request: ResolvedGenerateRequest): Promise<Generated> {
  const opened = openRunGraph(request.runDir, 'generate from');
  try {
    return await generateFrom(opened, request);
  } finally {
    opened.lock?.release();
  }
}

async function generateFrom(opened: OpenedRun, request: ResolvedGenerateRequest): Promise<Generated> {
  const { saved, analysis } = opened;
  const bottleneck = variationalBottleneck(analysis);
  if (!bottleneck) {
    throw new TrainingError(
      `${saved.name} is not a variational autoencoder: Generate decodes random codes drawn from N(0, 1), which only a variational Bottleneck (variational: true) trains its code to follow`,
    );
  }
  const plan = analysis.models.find((m) => m.from === bottleneck.id);
  if (!plan) throw new TrainingError(`${saved.name}: nothing decodes the code of Bottleneck "${bottleneck.id}": add a Decoder between it and the reconstruction Output`);
  const latent = shapeSize(bottleneck.outputShape!);
  const seed = request.seed ?? analysis.document!.training.seed;

  // A few hundred decodes: the plain JS backend is enough and always there.
  const { compiled } = await compileRun(opened, 'cpu');
  try {
    const decoder = compiled.models.get(plan.name)!;
    const shape = imageShape(saved.config.dataset.shape, decoder.outputs[0]!.shape.slice(1) as number[]);

    const samples = await decode(decoder, gaussianSamples(request.count * latent, seed), latent);
    const png = imageGrid({ cells: rowsOf(cellsOf(samples, request.count, shape), Math.ceil(Math.sqrt(request.count))) });
    const file = path.join(saved.runDir, RUN_FILES.generated);
    writeFileAtomic(file, png);
    const generated: Generated = { runDir: saved.runDir, latentSize: latent, count: request.count, seed, file, pngBase64: png.toString('base64') };

    const manifoldFile = path.join(saved.runDir, RUN_FILES.manifold);
    if (latent === 2) {
      const n = request.manifoldSize;
      const decoded = await decode(decoder, manifoldCodes(n), 2);
      // One picture, as in the Keras example: no gaps between the digits.
      const manifold = imageGrid({ cells: rowsOf(cellsOf(decoded, n * n, shape), n), gap: 0 });
      writeFileAtomic(manifoldFile, manifold);
      return { ...generated, manifoldFile, manifoldPngBase64: manifold.toString('base64') };
    }
    fs.rmSync(manifoldFile, { force: true }); // from an earlier graph in this folder, if any
    return generated;
  } finally {
    compiled.dispose();
  }
}
