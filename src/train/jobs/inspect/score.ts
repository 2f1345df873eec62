/**
 * Anomaly scores: every sample of a split gets its reconstruction error (the mean squared error
 * between the input and the autoencoder's output). An autoencoder trained on some classes
 * (`training.classes`) reconstructs those well and the others badly, so a high score flags a sample
 * unlike the training data. The suggested threshold is the 99th percentile of the scores of the
 * validation samples of the trained classes: about 1 % of normal samples score above it.
 *
 * Writes scores.csv (index,position,label,class,score,flagged at the suggested threshold), anomaly.json (the whole result, so a panel can
 * show it again) and worst.png (the highest-scoring samples over their reconstructions).
 */
import * as path from 'node:path';
import type { z } from 'zod';
import { anomalyCsv, type ScoreRequestSchema, type ScoreResult } from '../../../core/inspect';
import { batchToFloat } from '../../../data/index';
import { TrainingError } from '../../errors';
import { reconstructionGrid } from '../../png';
import { tableBars } from '../../tablePictures';
import { writeFileAtomic, writeRunJson } from '../../../run/runFolder';
import { classNamesFor } from '../../scoring';
import { cellOf, dataFields, predictAll, quantile, reconstructionErrors, requireReconstruction } from './common';
import { type Send, openTrainedRun } from '../openRun';
import { RUN_FILES } from '../../../core/runFormat';

export type ResolvedScoreRequest = z.output<typeof ScoreRequestSchema>;

/** The percentile of normal samples' scores the suggested threshold sits at. */
export const THRESHOLD_PERCENTILE = 99;

const sameIndices = (a: Uint32Array, b: Uint32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Positions (within `part`) of the samples whose label is one of `classes`. */
function positionsOfClasses(part: Uint32Array, labels: Uint8Array, classes: readonly number[]): number[] {
  const keep = new Set(classes);
  const out: number[] = [];
  part.forEach((index, position) => {
    if (keep.has(labels[index]!)) out.push(position);
  });
  return out;
}

/** Features named in a table row's explanation. */
const TOP_FEATURES = 3;

/**
 * The features that contribute most to sample k's reconstruction error: each one's share of the
 * row's squared error (in model space, z-scores for `standard`), largest first.
 */
export function topFeatures(originals: Float32Array, reconstructions: Float32Array, k: number, names: readonly string[]): { name: string; share: number; value: number; reconstructed: number }[] {
  const f = names.length;
  const sq = Array.from({ length: f }, (_, j) => (originals[k * f + j]! - reconstructions[k * f + j]!) ** 2);
  const total = sq.reduce((a, b) => a + b, 0);
  return sq
    .map((e, j) => ({ j, e }))
    .sort((a, b) => b.e - a.e || a.j - b.j)
    .slice(0, TOP_FEATURES)
    .map(({ j, e }) => ({ name: names[j]!, share: total > 0 ? e / total : 0, value: originals[k * f + j]!, reconstructed: reconstructions[k * f + j]! }));
}

/** One CSV line per scored sample, in split order. */
export async function runScore(request: ResolvedScoreRequest, send: Send = () => undefined): Promise<ScoreResult> {
  const run = await openTrainedRun({ runDir: request.runDir, data: request.data, backend: request.backend, cacheDir: request.cacheDir, send });
  try {
    const stage = requireReconstruction(run, 'Detect Anomalies');
    const model = run.compiled.modelForOutput(stage.outputId);
    const { ds, feeder, trainedClasses } = run;
    const part = request.split === 'test' ? run.split.test : run.split.validation;

    // Which samples of the split: every class, or (with "trained") those of training.classes.
    let positions = Array.from(part, (_, p) => p);
    if (request.classes === 'trained' && trainedClasses) {
      run.trainedSplit(); // checks the classes against the dataset (labels, class count)
      positions = positionsOfClasses(part, ds.labels!, trainedClasses);
    }
    if (request.limit !== undefined) positions = positions.slice(0, request.limit);
    if (positions.length === 0) {
      throw new TrainingError(`${request.classes === 'trained' ? `The trained classes have no samples in the ${request.split} split` : `The ${request.split} split of ${ds.source} is empty`}: nothing to score`);
    }
    const idx = Uint32Array.from(positions, (p) => part[p]!);
    send({ type: 'log', level: 'info', message: `Scoring ${idx.length} samples of the ${request.split} split…` });
    const scores = await reconstructionErrors(model, feeder, idx);

    // The threshold: the 99th percentile of the validation scores of the classes the run trained on.
    const restrict = trainedClasses !== null && ds.labels !== null;
    const validation = restrict ? run.trainedSplit().validation : run.split.validation;
    const names = classNamesFor(ds, ds.numClasses);
    const whose = restrict ? `of the trained classes (${trainedClasses.map((c) => names[c] ?? String(c)).join(', ')})` : trainedClasses ? '(the dataset has no labels to pick the trained classes by)' : '';
    let threshold: number;
    let thresholdRule: string;
    if (validation.length > 0) {
      const validationScores = sameIndices(validation, idx) ? scores : await reconstructionErrors(model, feeder, validation);
      threshold = quantile(validationScores, THRESHOLD_PERCENTILE / 100);
      thresholdRule = `${THRESHOLD_PERCENTILE}th percentile of the ${validation.length} validation samples${whose ? ` ${whose}` : ''}`;
    } else {
      // No validation split (the graph's split gives it nothing): the scored samples themselves.
      const own = restrict ? positions.flatMap((p, i) => (trainedClasses.includes(ds.labels![part[p]!]!) ? [scores[i]!] : [])) : Array.from(scores);
      threshold = quantile(own.length > 0 ? own : Array.from(scores), THRESHOLD_PERCENTILE / 100);
      thresholdRule = `${THRESHOLD_PERCENTILE}th percentile of the scored ${request.split} samples${restrict && own.length > 0 ? ` ${whose}` : ''} (the validation split is empty)`;
    }

    const labels = ds.labels ? Array.from(idx, (i) => ds.labels![i]!) : undefined;
    const order = Array.from(scores, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
    const worstAt = order.slice(0, Math.min(request.worst, order.length));
    const worstIdx = Uint32Array.from(worstAt, (i) => idx[i]!);
    const originals = batchToFloat(ds, worstIdx, 0, worstIdx.length, undefined, feeder.norm);
    const reconstructions = await predictAll(model, feeder, worstIdx);
    const worst = worstAt.map((i, k) => ({
      index: idx[i]!,
      position: positions[i]!,
      score: scores[i]!,
      ...(labels ? { label: labels[i]! } : {}),
      ...(ds.kind === 'table' ? { features: topFeatures(originals, reconstructions, k, ds.featureNames ?? []) } : {}),
    }));
    const worstPng =
      ds.kind === 'table'
        ? tableBars(originals, reconstructions, worstAt.length, ds.channels, feeder.norm)
        : reconstructionGrid(
            worstAt.map((_, k) => cellOf(ds, originals, feeder.norm, k)),
            worstAt.map((_, k) => cellOf(ds, reconstructions, feeder.norm, k)),
          );

    const csvFile = path.join(run.saved.runDir, RUN_FILES.scores);
    const result: ScoreResult = {
      kind: 'score',
      ...dataFields(run, request.split, stage),
      metric: 'meanSquaredError',
      indices: Array.from(idx),
      positions,
      scores: Array.from(scores),
      ...(labels ? { labels, classNames: classNamesFor(ds, ds.numClasses) } : {}),
      trainedClasses,
      threshold,
      thresholdRule,
      worst,
      worstPngBase64: worstPng.toString('base64'),
      csvFile,
    };
    writeFileAtomic(csvFile, anomalyCsv(result, threshold));
    writeFileAtomic(path.join(run.saved.runDir, RUN_FILES.worst), worstPng);
    writeRunJson(run.saved.runDir, 'anomaly', result);
    return result;
  } finally {
    run.dispose();
  }
}
