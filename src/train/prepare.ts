/**
 * What a training run needs before its first batch, as tfjs-layers' `fit()` prepares before it hands
 * off to its loop: the graph (or a resumed run's own snapshot and settings), the dataset and the
 * split, the backend, the compiled graph with its starting weights (checkpoint or `initFrom`).
 * Everything here refuses with a sentence before any run folder is touched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type GraphAnalysis, analyzeGraph } from '../core/analyze';
import type { BackendInfo } from '../core/backends';
import { parseJsonText } from '../core/canonical';
import type { GraphDocument } from '../core/format';
import { graphProblemsSentence } from '../core/problems';
import type { FromWorker, ResolvedTrainRequest } from '../core/protocol';
import { type Shape, formatShape, shapeSize } from '../core/shape';
import { type ResolvedStage, resolveStages } from '../core/stages';
import { type CompiledGraph, compileGraph } from '../compile/compile';
import { applyKernelFixes } from '../backend/kernelFixes';
import { kernelNeeds } from '../backend/kernelNeeds';
import { selectBackend } from '../backend/select';
import { type DatasetSplit, type Normalization, checkNormalization, computeNormalization, defaultNormalize, loadForInput, resolveClasses, restrictSplit, splitDataset } from '../data/index';
import { parseDataSpec } from '../data/spec';
import { type Dataset, datasetShape, describeShape, sampleSize } from '../data/types';
import { readOptionalRunJson, sha256 } from '../run/runFolder';
import { type SavedRun, openRunToResume } from '../run/savedRun';
import { type HeldLock, claimRun } from '../run/runLock';
import { type LoadedCheckpoint, applyLayerWeights, applyMatchingLayerWeights, loadCheckpoint, readCheckpointMeta } from './checkpoint';
import { TrainingError } from './errors';
import { PREVIEW_COUNT } from './scoring';

export type Send = (message: FromWorker) => void;

/** Analyze the graph text; a graph with errors is refused with every problem listed. */
export function analyzeForTraining(graphText: string, graphPath: string, numClasses?: number): GraphAnalysis {
  const parsed = parseJsonText(graphText);
  if (!parsed.ok) {
    throw new TrainingError(`${graphPath}:${parsed.error.line}:${parsed.error.column}: ${parsed.error.message}`);
  }
  const analysis = analyzeGraph(parsed.value, { numClasses });
  if (!analysis.ok) throw new TrainingError(graphProblemsSentence(graphPath, analysis.problems, { before: 'training', list: true }));
  return analysis;
}

export function assertDatasetFits(ds: Dataset, inputShape: Shape, stages: readonly ResolvedStage[]): void {
  const per = sampleSize(ds);
  if (per !== shapeSize(inputShape) || (inputShape.length === 3 && (inputShape[0] !== ds.height || inputShape[1] !== ds.width))) {
    throw new TrainingError(
      `${ds.source} holds ${describeShape(ds)} (${per} values each) but the Input expects ${formatShape(inputShape)} (${shapeSize(inputShape)} values): ` +
        `set the Input's shape to [${datasetShape(ds).join(', ')}]${ds.kind === 'image' ? ` (or [${per}] for flat vectors)` : ''}.`,
    );
  }
  if (stages.some((s) => s.target === 'labels') && !ds.labels) {
    throw new TrainingError(`${ds.source} has no labels, but a stage trains a classifier: use a dataset with labels.`);
  }
}

/** What a run's dataset is, loaded for its graph: the dataset in the Input's shape, the graph re-analyzed with its class count, and the split. */
export interface LoadedRunData {
  readonly analysis: GraphAnalysis;
  readonly ds: Dataset;
  readonly inputShape: Shape;
  /** The graph's split of every sample (the file's own test split where it has one). */
  readonly split: DatasetSplit;
  /** `training.classes` as class indices, or undefined. */
  readonly classes: number[] | undefined;
}

/** Load `dataText` for the graph (folders decode to the Input's size), check it fits, and draw the split. */
export async function loadRunData(graphText: string, graphPath: string, dataText: string, cacheDir: string | undefined, send: Send, labelColumn?: string): Promise<LoadedRunData> {
  const first = analyzeForTraining(graphText, graphPath);
  const training = first.document!.training;
  const inputShape = first.nodes.get(first.inputId!)!.outputShape!;
  send({ type: 'log', level: 'info', message: `Loading ${dataText}…` });
  let lastShown = 0;
  const ds = await loadForInput(parseDataSpec(dataText, path.dirname(graphPath)), inputShape, { resize: training.resize, labelColumn: labelColumn ?? training.labelColumn }, {
    cacheDir,
    onProgress: (done, total) => {
      if (done === total || Date.now() - lastShown > 2000) {
        lastShown = Date.now();
        send({ type: 'log', level: 'info', message: `Decoded ${done} of ${total} images…` });
      }
    },
  });
  for (const note of ds.notes ?? []) send({ type: 'log', level: 'info', message: `${dataText}: ${note}.` });
  // Re-check with the dataset's class count, so a 10-way head on a 26-class set is caught here.
  const analysis = analyzeForTraining(graphText, graphPath, ds.labels ? ds.numClasses : undefined);
  const split = splitDataset(ds, training.split, training.seed);
  if (ds.testStart !== undefined) send({ type: 'log', level: 'info', message: `${dataText} brings its own test split (${ds.count - ds.testStart} samples); validation is drawn from the other ${ds.testStart}.` });
  const classes = training.classes ? resolveClasses(ds, training.classes, dataText) : undefined;
  return { analysis, ds, inputShape, split, classes };
}

/**
 * The run's normalisation: the resumed (or trained) run's own normalization.json where it has one,
 * else computed on `trainIdx` with `training.normalize` (default by dataset kind).
 */
export function runNormalization(ds: Dataset, trainIdx: Uint32Array, method: GraphDocument['training']['normalize'], runDir: string | undefined): Normalization {
  const read = runDir === undefined ? null : readOptionalRunJson(runDir, 'normalization');
  if (read && !read.ok) throw new TrainingError(`${read.error}; the run's inputs cannot be normalized as it trained`);
  if (read?.value) {
    checkNormalization(read.value, ds);
    return read.value;
  }
  return computeNormalization(ds, trainIdx, method ?? defaultNormalize(ds));
}

/** Binary cross-entropy takes targets in [0, 1]: an autoencoder stage with it on z-scores cannot learn. */
function checkLossFitsNormalization(stages: readonly ResolvedStage[], norm: Normalization): void {
  const bad = stages.find((s) => s.target === 'input' && s.loss === 'binaryCrossentropy');
  if (bad && norm.method === 'standard') {
    throw new TrainingError(
      `Stage "${bad.name}" reconstructs its input with binaryCrossentropy, which needs targets in [0, 1], but normalize is "standard" (z-scores, negative too): use loss "meanSquaredError" (and a linear output), or normalize "minmax".`,
    );
  }
}

/** Why a stage left out by `stages` (`--stage`) does not train. */
const NOT_SELECTED = 'not selected with --stage';

/**
 * Per stage, why it is skipped (undefined: it trains). `selected` names the stages to train; every
 * name must be one of the graph's stages.
 */
function skippedStages(stages: readonly ResolvedStage[], selected: readonly string[] | undefined, graphPath: string): (string | undefined)[] {
  if (!selected) return stages.map(() => undefined);
  const names = stages.map((s) => s.name);
  const unknown = selected.filter((n) => !names.includes(n));
  if (unknown.length > 0) {
    const onlyDefault = names.length === 1 && names[0] === 'train';
    throw new TrainingError(
      `${path.basename(graphPath)} has no stage ${unknown.map((n) => `"${n}"`).join(', ')}: its stages are ${names.map((n) => `"${n}"`).join(', ')}${onlyDefault ? ' (without training.stages a graph trains one stage, "train")' : ''}`,
    );
  }
  return stages.map((s) => (selected.includes(s.name) ? undefined : NOT_SELECTED));
}

/** The run's settings: the request's, and for a resumed run the ones it was started with where the request names none. */
export interface RunSettings {
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly data?: string;
  readonly labelColumn?: string;
  readonly limitSamples?: number;
  readonly limitValidation?: number;
  readonly stages?: readonly string[];
}

function settingsOf(request: ResolvedTrainRequest, saved: SavedRun | undefined): RunSettings {
  const previous = saved?.config.overrides ?? {};
  return {
    epochs: request.epochs ?? previous.epochs,
    batchSize: request.batchSize ?? previous.batchSize,
    data: request.data ?? previous.data,
    labelColumn: request.labelColumn ?? previous.labelColumn,
    limitSamples: request.limitSamples ?? previous.limitSamples,
    limitValidation: request.limitValidation ?? previous.limitValidation,
    stages: request.stages ?? previous.stages,
  };
}

/** A resumed run's checkpoint must stand at a stage this graph has, of a kind that resumes. */
function checkResumable(saved: SavedRun, stages: readonly ResolvedStage[]): void {
  const at = stages[saved.checkpoint.stageIndex];
  // A layer-wise stage checkpoints only when it has finished (its sub-steps are not resumable).
  const finishedLayerwise = at?.kind === 'layerwise' && saved.checkpoint.stageEpoch >= at.epochs;
  if (!at || at.name !== saved.checkpoint.stageName || (at.kind !== 'fit' && !finishedLayerwise)) {
    throw new TrainingError(`${saved.name}: the checkpoint is at stage ${saved.checkpoint.stageIndex + 1} "${saved.checkpoint.stageName}", which the graph does not have`);
  }
}

/**
 * Load another run's checkpoint into the layers that match by name and shape (`initFrom`); refuses
 * a folder without a checkpoint, and a checkpoint of which no layer matches.
 */
function initFromRun(compiled: CompiledGraph, initFrom: string, send: Send, what = `--init-from ${initFrom}`): string {
  const dir = path.resolve(initFrom);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new TrainingError(`${what}: no such run folder`);
  if (!readCheckpointMeta(dir)) throw new TrainingError(`${what}: the run has no checkpoint (it ended before its first epoch did), so there are no weights to start from`);
  const ckpt = loadCheckpoint(dir);
  try {
    const matched = applyMatchingLayerWeights(compiled, ckpt);
    const total = matched.loaded.length + matched.mismatched.length + matched.missing.length;
    if (matched.loaded.length === 0) {
      const shapes = matched.mismatched.slice(0, 3).map((m) => `"${m.layer}" is ${m.graph} here but ${m.checkpoint} there`);
      throw new TrainingError(
        `${what}: none of its checkpoint's layers match this graph's ${total} layers with weights by name and shape${shapes.length ? ` (${shapes.join('; ')})` : ''}: nothing to start from`,
      );
    }
    const kept = [
      ...(matched.missing.length ? [`${matched.missing.length} not in that run (${matched.missing.join(', ')})`] : []),
      ...(matched.mismatched.length ? [`${matched.mismatched.length} of another shape (${matched.mismatched.map((m) => m.layer).join(', ')})`] : []),
    ];
    send({
      type: 'log',
      level: 'info',
      message: `Started from ${path.basename(dir)}: loaded ${matched.loaded.length} of ${total} layers (${matched.loaded.join(', ')})${kept.length ? `; kept the initial weights of ${kept.join(' and ')}` : ''}.`,
    });
    return dir;
  } finally {
    ckpt.dispose();
  }
}

/** The graph to train, its stages, and the data they train on. */
interface RunData {
  readonly analysis: GraphAnalysis;
  readonly doc: GraphDocument;
  readonly stages: readonly ResolvedStage[];
  readonly skipped: readonly (string | undefined)[];
  readonly dataText: string;
  readonly ds: Dataset;
  readonly inputShape: Shape;
  readonly split: DatasetSplit;
  readonly trainIdx: Uint32Array;
  readonly validationIdx: Uint32Array;
  readonly previewIdx: Uint32Array;
  /** How stored values become inputs (written to normalization.json). */
  readonly norm: Normalization;
}

async function prepareRunData(graphText: string, graphPath: string, settings: RunSettings, saved: SavedRun | undefined, request: ResolvedTrainRequest, send: Send): Promise<RunData> {
  const firstAnalysis = analyzeForTraining(graphText, graphPath);
  const doc = firstAnalysis.document!;
  const stages = resolveStages(firstAnalysis, { epochs: settings.epochs, batchSize: settings.batchSize });
  const skipped = skippedStages(stages, settings.stages, graphPath);
  if (saved) checkResumable(saved, stages);

  const dataText = settings.data ?? saved?.config.dataset.spec ?? doc.training.dataset;
  const { analysis, ds, inputShape, split: whole, classes } = await loadRunData(graphText, graphPath, dataText, request.cacheDir, send, settings.labelColumn);
  assertDatasetFits(ds, inputShape, stages);

  // training.classes: the split is drawn over every sample, then each part keeps the chosen classes.
  const split = restrictSplit(whole, ds, classes, dataText);
  if (classes) {
    const names = classes.map((c) => ds.classNames?.[c] ?? String(c));
    send({ type: 'log', level: 'info', message: `Training on classes ${names.join(', ')} only (training.classes): ${split.train.length} train / ${split.validation.length} validation / ${split.test.length} test samples.` });
  }
  const trainIdx = settings.limitSamples ? split.train.slice(0, settings.limitSamples) : split.train;
  if (trainIdx.length === 0) {
    throw new TrainingError(classes ? `The training split has no samples of classes ${doc.training.classes!.join(', ')}: check training.classes against the dataset's labels.` : 'The training split is empty: lower the validation and test fractions.');
  }
  const validationIdx = settings.limitValidation ? split.validation.slice(0, settings.limitValidation) : split.validation;
  const previewIdx = (split.test.length ? split.test : split.validation).slice(0, PREVIEW_COUNT);
  const norm = runNormalization(ds, trainIdx, doc.training.normalize, saved?.runDir);
  checkLossFitsNormalization(stages, norm);
  if (norm.method !== 'unit') send({ type: 'log', level: 'info', message: `Normalizing ${norm.method === 'standard' ? 'to z-scores' : 'to [0, 1]'} with statistics of the ${trainIdx.length} training samples.` });
  return { analysis, doc, stages, skipped, dataText, ds, inputShape, split, trainIdx, validationIdx, previewIdx, norm };
}

/** A run ready for its first batch. Dispose when done (the compiled graph and the loaded checkpoint). */
export interface PreparedRun extends RunData {
  readonly request: ResolvedTrainRequest;
  /** The run folder being resumed, when `resumeFrom` names one. */
  readonly saved: SavedRun | undefined;
  readonly settings: RunSettings;
  readonly graphText: string;
  readonly graphPath: string;
  readonly graphSha256: string;
  readonly backend: BackendInfo;
  readonly compiled: CompiledGraph;
  /** The resumed run's checkpoint (optimizer state and shuffle order still to restore). */
  readonly checkpoint: LoadedCheckpoint | undefined;
  /** The run whose weights the layers started from (`initFrom`, or the resumed run's own). */
  readonly initFrom: string | undefined;
  /** The resumed folder's claim (src/run/runLock.ts), held while it trains; a new run's folder is claimed when it is made. */
  readonly lock: HeldLock | undefined;
  dispose(): void;
}

export async function prepareRun(request: ResolvedTrainRequest, send: Send): Promise<PreparedRun> {
  // A resumed run trains the folder's own graph snapshot with the settings it was started with
  // (a value in the request overrides one), and refuses before touching anything if it cannot.
  if (request.resumeFrom !== undefined && request.initFrom !== undefined) {
    throw new TrainingError(`--init-from starts a new run from another run's weights, but a resumed run (${path.basename(request.resumeFrom)}) continues from its own checkpoint: leave out one of the two`);
  }
  // Claim the folder before reading its status: of two resumes started together, one gets it.
  const lock = request.resumeFrom !== undefined ? claimRun(path.resolve(request.resumeFrom), 'resuming') : undefined;
  try {
    return await prepareClaimed(request, send, lock);
  } catch (e) {
    lock?.release();
    throw e;
  }
}

async function prepareClaimed(request: ResolvedTrainRequest, send: Send, lock: HeldLock | undefined): Promise<PreparedRun> {
  const saved = request.resumeFrom !== undefined ? openRunToResume(request.resumeFrom) : undefined;
  const graphText = saved?.graphText ?? request.graphText;
  const graphPath = saved?.graphPath ?? request.graphPath;
  const settings = settingsOf(request, saved);
  const data = await prepareRunData(graphText, graphPath, settings, saved, request, send);

  applyKernelFixes();
  const backend = await selectBackend({ prefer: request.backend, needs: kernelNeeds(data.analysis), log: (m) => send({ type: 'log', level: 'debug', message: m }) });
  const graphSha256 = sha256(graphText);
  const compiled = compileGraph(data.analysis, { seed: data.doc.training.seed });
  let checkpoint: LoadedCheckpoint | undefined;
  try {
    if (saved) {
      checkpoint = loadCheckpoint(saved.runDir, { graphSha256 });
      applyLayerWeights(compiled, checkpoint);
    }
    // The starting weights: --init-from, else the graph's training.initFrom (relative to the graph file); a resumed run has its own.
    const fromGraph = data.doc.training.initFrom;
    const initFrom = saved
      ? saved.config.initFrom
      : request.initFrom !== undefined
        ? initFromRun(compiled, request.initFrom, send)
        : fromGraph !== undefined
          ? initFromRun(compiled, path.resolve(path.dirname(graphPath), fromGraph), send, `training.initFrom "${fromGraph}" (in ${path.basename(graphPath)})`)
          : undefined;
    const dispose = (): void => {
      checkpoint?.dispose();
      compiled.dispose();
    };
    return { ...data, request, saved, settings, graphText, graphPath, graphSha256, backend, compiled, checkpoint, initFrom, lock, dispose };
  } catch (e) {
    checkpoint?.dispose();
    compiled.dispose();
    throw e;
  }
}
