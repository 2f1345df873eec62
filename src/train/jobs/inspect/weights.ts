/**
 * Weights as pictures: one tile per unit of a Dense layer or per filter of a Conv2D layer, each tile
 * scaled to its own min..max (grey: black = its most negative weight, white = its most positive).
 *
 * - Dense on the image (its inputs are the Input's values, e.g. 784 = 28×28): a unit's incoming
 *   weights drawn as an image of the input's height × width (colour for 3-channel images): the
 *   pattern the unit responds to.
 * - Dense on anything else (codes, hidden units): the incoming weights laid out as the most square
 *   rectangle h × w = inputs with h ≤ w (128 → 8×16, 64 → 8×8; a prime count is a single row).
 * - Conv2D: one kh × kw tile per filter, upscaled (×8 for a 3×3 kernel) so it can be seen: in
 *   colour when the filter reads the RGB image itself (3 input channels, the Input's), otherwise
 *   averaged over its input channels.
 *
 * Writes weights.png: the tiles 16 to a row, at most `maxUnits` of them.
 */
import * as path from 'node:path';
import type * as tf from '../../../backend/tf';
import type { z } from 'zod';
import { type WeightsRequestSchema, type WeightsResult } from '../../../core/inspect';
import { shapeSize } from '../../../core/shape';
import { TrainingError } from '../../errors';
import { type GridCell, imageGrid } from '../../png';
import { writeFileAtomic } from '../../../run/runFolder';
import { commonFields, rowsOf, scaleToRange } from './common';
import { type Send, type TrainedModel, openTrainedModel } from '../openRun';
import { RUN_FILES } from '../../../core/runFormat';

export type ResolvedWeightsRequest = z.output<typeof WeightsRequestSchema>;

/** Tiles per row of weights.png. */
export const WEIGHT_COLUMNS = 16;

export interface DrawableLayer {
  /** The layer's name: the node id, or "<node>.<i>" inside a composite block. */
  readonly name: string;
  readonly nodeId: string;
  readonly kind: 'dense' | 'conv';
  readonly layer: tf.layers.Layer;
}

/** Every Dense and Conv2D layer that has weights (is reachable from the Input), in the graph's order. */
export function drawableLayers(run: Pick<TrainedModel, 'analysis' | 'compiled'>): DrawableLayer[] {
  const out: DrawableLayer[] = [];
  for (const nodeId of run.analysis.order) {
    for (const layer of run.compiled.layersByNode.get(nodeId) ?? []) {
      const cls = layer.getClassName();
      if ((cls === 'Dense' || cls === 'Conv2D') && layer.built && layer.getWeights().length > 0) {
        out.push({ name: layer.name, nodeId, kind: cls === 'Dense' ? 'dense' : 'conv', layer });
      }
    }
  }
  return out;
}

/** The most square h × w = n with h ≤ w (1 × n for a prime). */
export function nearSquare(n: number): [number, number] {
  for (let h = Math.floor(Math.sqrt(n)); h >= 1; h--) if (n % h === 0) return [h, n / h];
  return [1, n];
}

/** Nearest-neighbour factor that makes a tile of this size visible: ×8 for 3×3, ×2 for 28×28. */
export function tileScale(height: number, width: number): number {
  return Math.max(2, Math.min(8, Math.floor(48 / Math.max(height, width))));
}

/** The image the graph's Input takes, when it is one: [height, width, channels]. */
function inputImage(run: TrainedModel): [number, number, number] | undefined {
  const shape = run.analysis.nodes.get(run.analysis.inputId!)!.outputShape!;
  const size = shapeSize(shape);
  const recorded = run.saved.config.dataset['shape'];
  if (Array.isArray(recorded) && recorded.length === 3 && recorded.every((d) => Number.isInteger(d) && d > 0)) {
    const [h, w, c] = recorded as [number, number, number];
    if (h * w * c === size && (c === 1 || c === 3)) return [h, w, c];
  }
  if (shape.length === 3 && (shape[2] === 1 || shape[2] === 3)) return [shape[0]!, shape[1]!, shape[2]!];
  if (shape.length === 2) return [shape[0]!, shape[1]!, 1];
  const side = Math.round(Math.sqrt(size));
  return side * side === size ? [side, side, 1] : undefined;
}

export async function runWeights(request: ResolvedWeightsRequest, send: Send = () => undefined): Promise<WeightsResult> {
  const run = await openTrainedModel({ runDir: request.runDir, backend: request.backend, send });
  try {
    const layers = drawableLayers(run);
    const names = layers.map((l) => l.name);
    if (layers.length === 0) throw new TrainingError(`${run.doc.name} (${run.saved.name}) has no Dense or Conv2D layer whose weights could be drawn`);
    let chosen = layers[0]!;
    if (request.layer !== undefined) {
      const found = layers.find((l) => l.name === request.layer) ?? layers.find((l) => l.nodeId === request.layer);
      if (!found) {
        throw new TrainingError(`${run.doc.name} has no Dense or Conv2D layer "${request.layer}": the layers whose weights can be drawn are ${names.join(', ')}`);
      }
      chosen = found;
    }
    const kernel = chosen.layer.getWeights()[0]!;
    const values = Float32Array.from(await kernel.data());
    const shape = kernel.shape;
    let tile: [number, number];
    let channels: 1 | 3 = 1;
    let units: number;
    let tileValues: (unit: number) => Float32Array;
    if (chosen.kind === 'dense') {
      const [inputs, count] = shape as [number, number];
      units = count;
      const image = inputImage(run);
      if (image && image[0] * image[1] * image[2] === inputs) {
        tile = [image[0], image[1]];
        channels = image[2] === 3 ? 3 : 1;
      } else tile = nearSquare(inputs);
      // kernel[i, u] row-major: unit u's weights are a column.
      tileValues = (u) => Float32Array.from({ length: inputs }, (_, i) => values[i * count + u]!);
    } else {
      const [kh, kw, inChannels, filters] = shape as [number, number, number, number];
      units = filters;
      tile = [kh, kw];
      const rgb = inChannels === 3 && inputImage(run)?.[2] === 3;
      if (rgb) channels = 3;
      // kernel[y, x, c, f] row-major: filter f's weight of pixel p and channel c at (p * inChannels + c) * filters + f.
      tileValues = rgb ? (f) => Float32Array.from({ length: kh * kw * 3 }, (_, i) => values[i * filters + f]!) : (f) => {
        const t = new Float32Array(kh * kw);
        for (let p = 0; p < kh * kw; p++) {
          let s = 0;
          for (let c = 0; c < inChannels; c++) s += values[(p * inChannels + c) * filters + f]!;
          t[p] = s / inChannels;
        }
        return t;
      };
    }
    const shown = Math.min(units, request.maxUnits);
    const cells: GridCell[] = Array.from({ length: shown }, (_, u) => ({ data: scaleToRange(tileValues(u)), height: tile[0], width: tile[1], channels }));
    const png = imageGrid({ cells: rowsOf(cells, WEIGHT_COLUMNS), scale: tileScale(tile[0], tile[1]), gap: 2 });
    const file = path.join(run.saved.runDir, RUN_FILES.weights);
    writeFileAtomic(file, png);
    return { kind: 'weights', ...commonFields(run), layer: chosen.name, layers: names, layerKind: chosen.kind, units, shown, tile, pngBase64: png.toString('base64'), file };
  } finally {
    run.dispose();
  }
}
