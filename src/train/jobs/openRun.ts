/**
 * What every job on a trained run shares (evaluate and the inspect jobs): open the run folder,
 * re-analyze its graph snapshot, load the dataset and draw the split exactly as training did (the
 * graph's seed), pick a backend, compile the graph and load the checkpoint into it.
 *
 * The model a job looks at is the one the run trained last: the last fit stage up to the stage the
 * checkpoint was saved in (every fit stage, for a finished run; `--stage autoencoder` on a two-stage
 * graph leaves the classifier untrained, so the autoencoder is the trained model there).
 */
import * as path from 'node:path';
import type { GraphAnalysis } from '../../core/analyze';
import type { GraphDocument } from '../../core/format';
import type { FromWorker } from '../../core/protocol';
import type { BackendPreference, BackendInfo } from '../../core/backends';
import type { Shape } from '../../core/shape';
import { type ResolvedStage, resolveStages } from '../../core/stages';
import { type CompiledGraph, compileGraph } from '../../compile/compile';
import { type DatasetSplit, restrictSplit } from '../../data/index';
import type { Dataset } from '../../data/types';
import { selectBackend } from '../../backend/select';
import type { CheckpointMeta } from '../../core/runFormat';
import { applyLayerWeights, loadCheckpoint } from '../checkpoint';
import { TrainingError } from '../errors';
import { applyKernelFixes } from '../../backend/kernelFixes';
import { kernelNeeds } from '../../backend/kernelNeeds';
import { sha256 } from '../../run/runFolder';
import { type SavedRun, type SavedRunPurpose, openSavedRun } from '../../run/savedRun';
import { type HeldLock, claimRun } from '../../run/runLock';
import { Feeder } from '../scoring';
import { analyzeForTraining, assertDatasetFits, loadRunData, runNormalization } from '../prepare';

export type Send = (message: FromWorker) => void;

export interface OpenRunOptions {
  readonly runDir: string;
  /** Dataset in `--data` form instead of the run's own. */
  readonly data?: string;
  readonly backend: BackendPreference;
  readonly cacheDir?: string;
  readonly send?: Send;
  /** What the run is opened for, in the sentence that refuses a run without a checkpoint. */
  readonly purpose?: 'evaluate' | 'inspect';
}

/** A run's graph compiled with its checkpointed weights. Dispose when done. */
export interface TrainedModel {
  readonly saved: SavedRun;
  readonly analysis: GraphAnalysis;
  readonly doc: GraphDocument;
  readonly stages: readonly ResolvedStage[];
  /** The fit stage the run trained last (see the module comment). */
  readonly stage: ResolvedStage;
  readonly backend: BackendInfo;
  readonly compiled: CompiledGraph;
  dispose(): void;
}

/** A trained model with the dataset and split it was trained on. */
export interface TrainedRun extends TrainedModel {
  readonly ds: Dataset;
  /** The dataset as the user wrote it ("mnist", "csv:digits.csv"): for sentences. */
  readonly dataText: string;
  readonly inputShape: Shape;
  /** The graph's split of the whole dataset (every class). */
  readonly split: DatasetSplit;
  /** `training.classes`, or null when the run trained on every class. */
  readonly trainedClasses: number[] | null;
  /** The split restricted to the trained classes (checked against the dataset); the whole split without `training.classes`. */
  trainedSplit(): DatasetSplit;
  readonly feeder: Feeder;
}

/**
 * The fit stage a run trained last: the last fit stage at or before the checkpoint's stage, else
 * the graph's last fit stage (a run whose checkpoint is a finished layer-wise stage).
 */
export function trainedStage(stages: readonly ResolvedStage[], checkpoint: Pick<CheckpointMeta, 'stageIndex'>): ResolvedStage | undefined {
  const fit = stages.map((s, i) => ({ s, i })).filter(({ s }) => s.kind === 'fit');
  return (fit.filter(({ i }) => i <= checkpoint.stageIndex).at(-1) ?? fit.at(-1))?.s;
}

/** A run folder opened for a job: its files checked, its graph snapshot analyzed. */
export interface OpenedRun {
  readonly saved: SavedRun;
  readonly analysis: GraphAnalysis;
  /** The claim on the folder of a job that writes into it (src/run/runLock.ts); release when done. */
  readonly lock: HeldLock | undefined;
}

/** What holds a folder while a job writes into it (export writes elsewhere and claims nothing). */
const JOB_OF: Record<SavedRunPurpose, string | undefined> = { evaluate: 'evaluating', 'generate from': 'generating', inspect: 'inspecting', export: undefined };

/**
 * Open a run folder and analyze its graph snapshot (the graph exactly as trained), or refuse with a
 * sentence; a job that writes into the folder claims it first (busy while it trains).
 */
export function openRunGraph(runDir: string, purpose: SavedRunPurpose): OpenedRun {
  const job = JOB_OF[purpose];
  const lock = job === undefined ? undefined : claimRun(path.resolve(runDir), job);
  try {
    const saved = openSavedRun(runDir, purpose);
    return { saved, analysis: analyzeForTraining(saved.graphText, saved.graphPath), lock };
  } catch (e) {
    lock?.release();
    throw e;
  }
}

/** The run's graph compiled on a backend with its checkpointed weights. Dispose when done. */
export async function compileRun(opened: OpenedRun, prefer: BackendPreference, send: Send = () => undefined, analysis: GraphAnalysis = opened.analysis): Promise<{ backend: BackendInfo; compiled: CompiledGraph }> {
  applyKernelFixes();
  const backend = await selectBackend({ prefer, needs: kernelNeeds(analysis), log: (m) => send({ type: 'log', level: 'debug', message: m }) });
  const compiled = compileGraph(analysis, { seed: analysis.document!.training.seed });
  let checkpoint: ReturnType<typeof loadCheckpoint> | undefined;
  try {
    checkpoint = loadCheckpoint(opened.saved.runDir, { graphSha256: sha256(opened.saved.graphText) });
    applyLayerWeights(compiled, checkpoint);
  } catch (e) {
    compiled.dispose();
    throw e;
  } finally {
    checkpoint?.dispose();
  }
  return { backend, compiled };
}

interface OpenedStage extends OpenedRun {
  readonly stages: ResolvedStage[];
  readonly stage: ResolvedStage;
}

function openStage(runDir: string, purpose: SavedRunPurpose): OpenedStage {
  const opened = openRunGraph(runDir, purpose);
  const overrides = opened.saved.config.overrides;
  const stages = resolveStages(opened.analysis, { epochs: overrides.epochs, batchSize: overrides.batchSize });
  const stage = trainedStage(stages, opened.saved.checkpoint);
  if (!stage) {
    opened.lock?.release();
    throw new TrainingError(`${opened.saved.name}: the graph has no fit stage, so there is no trained model to look at`);
  }
  return { ...opened, stages, stage };
}

async function compileWithCheckpoint(opened: OpenedStage, analysis: GraphAnalysis, opts: OpenRunOptions, prefer: BackendPreference): Promise<TrainedModel> {
  const { backend, compiled } = await compileRun(opened, prefer, opts.send, analysis);
  const dispose = (): void => {
    compiled.dispose();
    opened.lock?.release();
  };
  return { saved: opened.saved, analysis, doc: analysis.document!, stages: opened.stages, stage: opened.stage, backend, compiled, dispose };
}

/** `use(opened)`, giving the folder's claim back if it throws (on success the result's dispose does). */
async function holding<T>(opened: OpenedRun, use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (e) {
    opened.lock?.release();
    throw e;
  }
}

/** The run's graph with its checkpoint, no dataset (weights pictures). A plain JS backend is enough unless one is asked for. */
export async function openTrainedModel(opts: OpenRunOptions): Promise<TrainedModel> {
  const opened = openStage(opts.runDir, opts.purpose ?? 'inspect');
  return holding(opened, () => compileWithCheckpoint(opened, opened.analysis, opts, opts.backend === 'auto' ? 'cpu' : opts.backend));
}

/** The run's graph with its checkpoint, its dataset (or `opts.data`) and the split it trained with. */
export async function openTrainedRun(opts: OpenRunOptions): Promise<TrainedRun> {
  const send = opts.send ?? (() => undefined);
  const opened = openStage(opts.runDir, opts.purpose ?? 'inspect');
  return holding(opened, () => trainedRunOf(opened, opts, send));
}

async function trainedRunOf(opened: OpenedStage, opts: OpenRunOptions, send: Send): Promise<TrainedRun> {
  const { saved } = opened;
  const dataText = opts.data ?? saved.config.overrides.data ?? saved.config.dataset.spec;
  const { analysis, ds, inputShape, split, classes } = await loadRunData(saved.graphText, saved.graphPath, dataText, opts.cacheDir, send, saved.config.overrides.labelColumn);
  assertDatasetFits(ds, inputShape, [opened.stage]);
  const doc = analysis.document!;
  // The statistics the run trained with (normalization.json; `unit` for runs from before it existed).
  const norm = runNormalization(ds, new Uint32Array(0), 'unit', saved.runDir);
  const model = await compileWithCheckpoint(opened, analysis, opts, opts.backend);
  let trained: DatasetSplit | undefined;
  return {
    ...model,
    doc,
    ds,
    dataText,
    inputShape,
    split,
    trainedClasses: classes ?? null,
    trainedSplit: () => (trained ??= restrictSplit(split, ds, classes, dataText)),
    feeder: new Feeder(ds, inputShape, norm),
  };
}

/** "the test split", "the validation split". */
export const splitName = (split: 'test' | 'validation'): string => `the ${split} split`;

/** The dataset indices at `positions` of a split part, each checked: "position 1200 is outside the test split (1000 samples)". */
export function indicesAt(part: Uint32Array, positions: readonly number[], split: 'test' | 'validation'): Uint32Array {
  const out = new Uint32Array(positions.length);
  positions.forEach((p, k) => {
    if (!Number.isInteger(p) || p < 0 || p >= part.length) {
      throw new TrainingError(`position ${p} is outside ${splitName(split)} (${part.length} samples${part.length > 0 ? `: positions 0 to ${part.length - 1}` : ''})`);
    }
    out[k] = part[p]!;
  });
  return out;
}
