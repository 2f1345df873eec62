/**
 * The latent space: the codes of the first `limit` samples of a split — the Bottleneck's output,
 * flattened (a variational Bottleneck's z_mean: its sampling layer passes z_mean through outside
 * training). A 2-number code is drawn as it is; a wider one as its first two principal components
 * (src/core/pca.ts), with the share of the variance each explains. Every point carries its input and
 * its reconstruction (the autoencoder's output) as uint8 pixels, for thumbnails.
 *
 * Writes latent.csv (position,index,label,x,y).
 */
import * as path from 'node:path';
import * as tf from '../../../backend/tf';
import type { z } from 'zod';
import type { AnalyzedNode } from '../../../core/analyze';
import { type LatentRequestSchema, type LatentResult } from '../../../core/inspect';
import { pca2 } from '../../../core/pca';
import { TrainingError } from '../../errors';
import { writeFileAtomic } from '../../../run/runFolder';
import { batchToFloat, isBytes, toDisplay } from '../../../data/index';
import { EVAL_BATCH, classNamesFor } from '../../scoring';
import { dataFields, reconstructionStage, toBytes } from './common';
import { type Send, type TrainedModel, openTrainedRun } from '../openRun';
import { RUN_FILES } from '../../../core/runFormat';

export type ResolvedLatentRequest = z.output<typeof LatentRequestSchema>;

/** The Bottleneck whose output is the code, and a model from the graph's input to it. */
export function codeModel(run: Pick<TrainedModel, 'analysis' | 'compiled' | 'doc' | 'saved'>): { bottleneck: AnalyzedNode; model: tf.LayersModel } {
  const { analysis, compiled } = run;
  const encoderPlan = analysis.models.find((m) => m.name === 'encoder');
  const nodes = analysis.order.map((id) => analysis.nodes.get(id)!);
  const bottleneck = (encoderPlan ? nodes.find((n) => n.id === encoderPlan.to && n.type === 'Bottleneck') : undefined) ?? nodes.find((n) => n.type === 'Bottleneck');
  if (!bottleneck) {
    throw new TrainingError(`${run.doc.name} (${run.saved.name}) has no Bottleneck block: the latent space is the code a Bottleneck outputs; add one between the Encoder and the Decoder`);
  }
  if (encoderPlan?.to === bottleneck.id) return { bottleneck, model: compiled.models.get(encoderPlan.name)! };
  // No encoder model ends at this Bottleneck (e.g. a classifier on a code): cut one out of the graph.
  const fromInput = analysis.models.find((m) => m.from === analysis.inputId);
  if (!fromInput) throw new TrainingError(`${run.doc.name}: no model starts at the Input, so there is no code to compute`);
  const input = compiled.models.get(fromInput.name)!.inputs[0]!;
  let node: AnalyzedNode | undefined = bottleneck;
  while (node && (compiled.layersByNode.get(node.id) ?? []).length === 0 && node.id !== analysis.inputId) node = analysis.nodes.get(node.inputs[0] ?? '');
  const last = node && node.id !== analysis.inputId ? compiled.layersByNode.get(node.id)!.at(-1)! : undefined;
  const output = last ? (last.getOutputAt(0) as tf.SymbolicTensor) : input;
  return { bottleneck, model: tf.model({ inputs: input, outputs: output }) };
}

/** The model's outputs for `idx`, flattened per sample, batch by batch (one read-back per batch) into `take(batchValues, start, end)`. */
async function forEachBatch(model: tf.LayersModel, inputs: (start: number, end: number) => tf.Tensor, count: number, take: (values: Float32Array, start: number, end: number) => void): Promise<void> {
  for (let start = 0; start < count; start += EVAL_BATCH) {
    const end = Math.min(count, start + EVAL_BATCH);
    const out = tf.tidy(() => model.apply(inputs(start, end), { training: false }) as tf.Tensor);
    try {
      take((await out.data()) as Float32Array, start, end);
    } finally {
      out.dispose();
    }
  }
}

export async function runLatent(request: ResolvedLatentRequest, send: Send = () => undefined): Promise<LatentResult> {
  const run = await openTrainedRun({ runDir: request.runDir, data: request.data, backend: request.backend, cacheDir: request.cacheDir, send });
  try {
    const { ds, feeder } = run;
    const { model: encoder } = codeModel(run);
    const part = request.split === 'test' ? run.split.test : run.split.validation;
    const idx = part.slice(0, request.limit);
    const n = idx.length;
    if (n === 0) throw new TrainingError(`The ${request.split} split of ${ds.source} is empty: no codes to draw`);
    const inputs = (start: number, end: number): tf.Tensor => feeder.inputs(idx, start, end);

    let codeSize = 0;
    let codes = new Float32Array(0);
    await forEachBatch(encoder, inputs, n, (values, start, end) => {
      if (codeSize === 0) {
        codeSize = values.length / (end - start);
        codes = new Float32Array(n * codeSize);
      }
      codes.set(values, start * codeSize);
    });

    let x: number[];
    let y: number[];
    let explained: [number, number] | undefined;
    if (codeSize === 2) {
      x = Array.from({ length: n }, (_, i) => codes[2 * i]!);
      y = Array.from({ length: n }, (_, i) => codes[2 * i + 1]!);
    } else {
      const p = pca2(codes, n, codeSize);
      x = Array.from(p.x);
      y = Array.from(p.y);
      explained = [p.explained[0], p.explained[1]];
    }

    const per = ds.height * ds.width * ds.channels;
    // Inputs as picture bytes: back from model space to stored values (a byte dataset's own bytes under `unit`).
    const bytes = isBytes(ds.values);
    const inputBytes = new Uint8Array(n * per);
    toBytes(toDisplay(batchToFloat(ds, idx, 0, n, undefined, feeder.norm), feeder.norm, bytes), inputBytes, 0);
    const reconStage = reconstructionStage(run);
    let reconstructionsBase64 = '';
    if (reconStage) {
      const recon = new Uint8Array(n * per);
      await forEachBatch(run.compiled.modelForOutput(reconStage.outputId), inputs, n, (values, start) => toBytes(toDisplay(values, feeder.norm, bytes), recon, start * per));
      reconstructionsBase64 = Buffer.from(recon.buffer, recon.byteOffset, recon.byteLength).toString('base64');
    }

    const positions = Array.from({ length: n }, (_, i) => i);
    const labels = ds.labels ? Array.from(idx, (i) => ds.labels![i]!) : undefined;
    const file = path.join(run.saved.runDir, RUN_FILES.latent);
    const lines = ['position,index,label,x,y', ...positions.map((p) => `${p},${idx[p]},${labels ? labels[p] : ''},${x[p]},${y[p]}`)];
    writeFileAtomic(file, `${lines.join('\n')}\n`);
    return {
      kind: 'latent',
      ...dataFields(run, request.split, reconStage ?? run.stage),
      codeSize,
      projection: codeSize === 2 ? 'code' : 'pca',
      ...(explained ? { explained } : {}),
      x,
      y,
      positions,
      indices: Array.from(idx),
      ...(labels ? { labels, classNames: classNamesFor(ds, ds.numClasses) } : {}),
      imageShape: [ds.height, ds.width, ds.channels],
      inputsBase64: Buffer.from(inputBytes.buffer, inputBytes.byteOffset, inputBytes.byteLength).toString('base64'),
      reconstructionsBase64,
      file,
    };
  } finally {
    run.dispose();
  }
}
