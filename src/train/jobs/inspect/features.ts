/**
 * Feature maps: for one chosen input, what each convolutional layer of the autoencoder (or of the
 * model the run trained last, when there is no autoencoder) makes of it. Every channel of a layer's
 * [height, width, channels] activation is one grey tile scaled to its own min..max, the channels of a
 * layer in rows of 8. `layers` lists every layer with a spatial output (pooling and upsampling too)
 * for a picker; by default the conv layers are shown. A conv layer with a leaky ReLU is shown after
 * its activation.
 *
 * Writes features.png: the input, then each layer's grid, one under the other.
 */
import * as path from 'node:path';
import * as tf from '../../../backend/tf';
import type { z } from 'zod';
import { type FeaturesRequestSchema, type FeaturesResult } from '../../../core/inspect';
import { batchToFloat } from '../../../data/index';
import { TrainingError } from '../../errors';
import { DEFAULT_BACKGROUND, type GridCell, imageGrid } from '../../png';
import { writeFileAtomic } from '../../../run/runFolder';
import { classNamesFor } from '../../scoring';
import { cellOf, dataFields, reconstructionStage, rowsOf, scaleToRange, singleImagePng, upscale } from './common';
import { type Send, indicesAt, openTrainedRun } from '../openRun';
import { RUN_FILES } from '../../../core/runFormat';

export type ResolvedFeaturesRequest = z.output<typeof FeaturesRequestSchema>;

/** Channels per row of a layer's grid. */
export const FEATURE_COLUMNS = 8;
const CONV_CLASSES: ReadonlySet<string> = new Set(['Conv2D', 'Conv2DTranspose']);

interface SpatialLayer {
  readonly name: string;
  /** The block the layer belongs to. */
  readonly nodeId: string;
  readonly conv: boolean;
  /** The layer whose output is drawn (a conv's leaky ReLU, else the layer itself). */
  readonly drawn: tf.layers.Layer;
}

/** Nearest-neighbour factor that makes a map about 56 pixels tall: ×2 for 28×28, ×8 for 7×7. */
export function mapScale(height: number, width: number): number {
  return Math.max(1, Math.min(8, Math.floor(56 / Math.max(height, width))));
}

export async function runFeatures(request: ResolvedFeaturesRequest, send: Send = () => undefined): Promise<FeaturesResult> {
  const run = await openTrainedRun({ runDir: request.runDir, data: request.data, backend: request.backend, cacheDir: request.cacheDir, send });
  try {
    const { ds, feeder } = run;
    const stage = reconstructionStage(run) ?? run.stage;
    const model = run.compiled.modelForOutput(stage.outputId);
    const part = request.split === 'test' ? run.split.test : run.split.validation;
    const idx = indicesAt(part, [request.position], request.split);

    // The model's layers with a [batch, h, w, c] output, named as the graph names them.
    const nodeOf = new Map<string, string>();
    for (const [nodeId, layers] of run.compiled.layersByNode) for (const l of layers) nodeOf.set(l.name, nodeId);
    const byName = new Map(model.layers.map((l) => [l.name, l]));
    const spatial: SpatialLayer[] = [];
    for (const layer of model.layers) {
      const nodeId = nodeOf.get(layer.name);
      if (nodeId === undefined || layer.name.endsWith('.leaky')) continue; // the InputLayer; a leaky ReLU goes with its layer
      const shape = layer.getOutputAt(0) as tf.SymbolicTensor;
      if (shape.shape.length !== 4) continue;
      const conv = CONV_CLASSES.has(layer.getClassName());
      spatial.push({ name: layer.name, nodeId, conv, drawn: (conv ? byName.get(`${layer.name}.leaky`) : undefined) ?? layer });
    }
    if (!spatial.some((l) => l.conv)) {
      throw new TrainingError(
        `${run.doc.name} (${run.saved.name}) has no convolutional layers; feature maps need a Conv2D (a conv stage in an Encoder or Decoder, or a Conv2D block) whose output has height, width and channels`,
      );
    }
    let chosen: SpatialLayer[];
    if (request.layers && request.layers.length > 0) {
      chosen = [];
      for (const name of request.layers) {
        const exact = spatial.filter((l) => l.name === name);
        const inBlock = spatial.filter((l) => l.nodeId === name);
        const found = exact.length > 0 ? exact : inBlock.some((l) => l.conv) ? inBlock.filter((l) => l.conv) : inBlock;
        if (found.length === 0) {
          throw new TrainingError(`${run.doc.name} has no layer "${name}" with a spatial output in the ${stage.name} model: the layers with feature maps are ${spatial.map((l) => l.name).join(', ')}`);
        }
        for (const l of found) if (!chosen.includes(l)) chosen.push(l);
      }
    } else chosen = spatial.filter((l) => l.conv);

    // One forward pass to every chosen layer: a model from the graph's input to their outputs.
    const probe = tf.model({ inputs: model.inputs, outputs: chosen.map((l) => l.drawn.getOutputAt(0) as tf.SymbolicTensor) });
    const outputs = tf.tidy(() => {
      const out = probe.predict(feeder.inputs(idx, 0, 1));
      return Array.isArray(out) ? out : [out];
    });
    const activations = await Promise.all(outputs.map(async (t) => ({ shape: t.shape.slice(1) as number[], values: Float32Array.from(await t.data()) })));
    tf.dispose(outputs);

    const input = batchToFloat(ds, idx, 0, 1, undefined, feeder.norm);
    const inputCell = cellOf(ds, input, feeder.norm);
    const allRows: GridCell[][] = [[upscale(inputCell, mapScale(ds.height, ds.width))]];
    const spacer: GridCell = { data: new Float32Array(6).fill(DEFAULT_BACKGROUND), height: 6, width: 1, channels: 1 };
    const maps = chosen.map((layer, k) => {
      const { shape, values } = activations[k]!;
      const [h, w, c] = shape as [number, number, number];
      const shown = Math.min(c, request.maxChannels);
      const scale = mapScale(h, w);
      const cells = Array.from({ length: shown }, (_, ch) => {
        const channel = new Float32Array(h * w);
        for (let p = 0; p < h * w; p++) channel[p] = values[p * c + ch]!;
        return upscale({ data: scaleToRange(channel), height: h, width: w, channels: 1 }, scale);
      });
      const rows = rowsOf(cells, FEATURE_COLUMNS);
      allRows.push([spacer], ...rows);
      return { layer: layer.name, shape: [h, w, c], shown, pngBase64: imageGrid({ cells: rows, scale: 1 }).toString('base64') };
    });
    const png = imageGrid({ cells: allRows, scale: 1 });
    const file = path.join(run.saved.runDir, RUN_FILES.features);
    writeFileAtomic(file, png);
    const index = idx[0]!;
    return {
      kind: 'features',
      ...dataFields(run, request.split, stage),
      position: request.position,
      index,
      ...(ds.labels ? { label: ds.labels[index]!, classNames: classNamesFor(ds, ds.numClasses) } : {}),
      inputPngBase64: singleImagePng(inputCell).toString('base64'),
      layers: spatial.map((l) => l.name),
      maps,
      file,
    };
  } finally {
    run.dispose();
  }
}
