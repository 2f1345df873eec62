/**
 * Predictions: chosen images of a split through the model the run trained last. A classifier gives
 * every class's probability and the predicted class (the most probable); an autoencoder gives its
 * reconstruction and the mean squared error to the input. Positions count within the whole split
 * (every class, as the split was drawn), so they name the same images as the other inspect jobs.
 */
import * as tf from '../../../backend/tf';
import type { z } from 'zod';
import type { PredictRequestSchema, PredictResult, PredictionItem } from '../../../core/inspect';
import { batchToFloat } from '../../../data/index';
import { TrainingError } from '../../errors';
import { classNamesFor } from '../../scoring';
import { cellOf, dataFields, singleImagePng } from './common';
import { type Send, indicesAt, openTrainedRun } from '../openRun';

export type ResolvedPredictRequest = z.output<typeof PredictRequestSchema>;

/** Whether the model's last layer already ends in a softmax (a ClassifierHead does). */
function endsInSoftmax(model: tf.LayersModel): boolean {
  const last = model.layers.at(-1);
  return last !== undefined && last.getConfig()['activation'] === 'softmax';
}

export async function runPredict(request: ResolvedPredictRequest, send: Send = () => undefined): Promise<PredictResult> {
  const run = await openTrainedRun({ runDir: request.runDir, data: request.data, backend: request.backend, cacheDir: request.cacheDir, send });
  try {
    const { ds, feeder, stage } = run;
    const part = request.split === 'test' ? run.split.test : run.split.validation;
    const positions = request.positions ?? Array.from({ length: Math.min(request.count, part.length) }, (_, i) => i);
    if (positions.length === 0) throw new TrainingError(`The ${request.split} split of ${ds.source} is empty: nothing to predict`);
    const idx = indicesAt(part, positions, request.split);
    const model = run.compiled.modelForOutput(stage.outputId);
    const n = idx.length;
    const inputs = batchToFloat(ds, idx, 0, n, undefined, feeder.norm);

    const out = tf.tidy(() => {
      const pred = model.apply(feeder.inputs(idx, 0, n), { training: false }) as tf.Tensor;
      if (stage.target === 'labels') return endsInSoftmax(model) ? pred : tf.softmax(pred);
      return pred;
    });
    const values = Float32Array.from(await out.data());
    out.dispose();

    const items: PredictionItem[] = positions.map((position, k) => {
      const index = idx[k]!;
      const item: PredictionItem = {
        position,
        index,
        ...(ds.labels ? { label: ds.labels[index]! } : {}),
        imagePngBase64: singleImagePng(cellOf(ds, inputs, feeder.norm, k)).toString('base64'),
      };
      if (stage.target === 'labels') {
        const classes = values.length / n;
        const probabilities = Array.from(values.subarray(k * classes, (k + 1) * classes));
        let predicted = 0;
        probabilities.forEach((p, c) => (p > probabilities[predicted]! ? (predicted = c) : 0));
        return { ...item, predicted, probabilities };
      }
      const per = values.length / n;
      const recon = values.subarray(k * per, (k + 1) * per);
      let sum = 0;
      for (let i = 0; i < per; i++) sum += (recon[i]! - inputs[k * per + i]!) ** 2;
      return { ...item, reconstructionPngBase64: singleImagePng(cellOf(ds, values, feeder.norm, k)).toString('base64'), error: sum / per };
    });
    // A classifier names its outputs; an autoencoder's items still carry labels worth naming.
    const classes = stage.target === 'labels' ? values.length / n : ds.labels ? ds.numClasses : 0;
    return {
      kind: 'predict',
      ...dataFields(run, request.split),
      target: stage.target,
      ...(classes > 0 ? { classNames: classNamesFor(ds, classes) } : {}),
      items,
    };
  } finally {
    run.dispose();
  }
}
