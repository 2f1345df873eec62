/**
 * The run folder format: `.latent/runs/<time>-<graph name>/`, the contract every training engine
 * writes (the tfjs worker today; generated PyTorch scripts later) and every reader reads (the Runs
 * view, the training panel, the CLI, resume, evaluate and the other jobs). One zod schema per file,
 * serialisation types apart from runtime classes (tfjs-layers' `keras_format/`); the reader/writer
 * is src/run/runFolder.ts, and docs/run-format.md describes the files for people.
 *
 * Versioned like the graph file: run.json carries `runFormatVersion`. Folders written before the
 * version existed (no field) have the same layout and read as version 1; a newer version is refused
 * with a sentence instead of being misread.
 */
import { z } from 'zod';
import { RunBackendInfoSchema } from './backends';
import { OutputTargetSchema } from './catalog';
import { ENGINES, LOSSES, METRICS, NORMALIZE_METHODS, OPTIMIZERS } from './format';
import { ScoreResultSchema } from './inspect';
import { type Parsed, firstIssue } from './messages';
import { parseJsonText } from './canonical';

export const RUN_FORMAT_VERSION = 1;

/** Every file and folder of a run folder, by role. */
export const RUN_FILES = {
  /** The graph exactly as trained (its SHA-256 is in config.json and the checkpoint). */
  graph: 'graph.latent.json',
  config: 'config.json',
  status: 'run.json',
  metrics: 'metrics.jsonl',
  /** The trained model in the TensorFlow.js layers format (model.json + weights.bin). */
  model: 'model',
  /** A PyTorch run's trained layers as a state dict (torch.save of model.py's Layers). */
  pytorchModel: 'model.pt',
  /** A PyTorch run: the code it trained with (model.py, train.py), exported into the run folder. */
  pytorchCode: 'pytorch',
  reconstructions: 'reconstructions.png',
  /** Folder with the last completed epoch's weights, optimizer and shuffle state. */
  checkpoint: 'checkpoint',
  /** The checkpoint's manifest, inside `checkpoint/`. */
  checkpointManifest: 'checkpoint/checkpoint.json',
  /** A classifier stage's latest confusion matrix on the validation split, with the preview predictions. */
  confusion: 'confusion.json',
  /** The classifier's preview images side by side (their labels and predictions are in confusion.json). */
  predictions: 'predictions.png',
  /** The latest "Evaluate on Test Set" result. */
  evaluation: 'evaluation.json',
  /** Layer-wise pretraining: test accuracy of the stack before and after fine-tuning. */
  pretraining: 'pretraining.json',
  /** Anomaly detection: the newest scores (anomaly.json), as CSV at the suggested threshold, the worst reconstructions. */
  anomaly: 'anomaly.json',
  scores: 'scores.csv',
  worst: 'worst.png',
  /** Inspect pictures and tables. */
  weights: 'weights.png',
  features: 'features.png',
  latent: 'latent.csv',
  /** A variational autoencoder's decoded random codes, and the decoded code plane of a 2-D code. */
  generated: 'generated.png',
  manifold: 'manifold.png',
  /** How the dataset's stored values became model inputs (statistics of the training split). */
  normalization: 'normalization.json',
} as const;

const finite = z.number().refine(Number.isFinite, 'must be finite');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex');

// ---------------------------------------------------------------------------------------------
// run.json

export const RUN_STATES = ['running', 'completed', 'stopped', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** run.json: whether the run is going, finished, stopped or failed. Replaced atomically on every change. */
export const RunStatusSchema = z.object({
  runFormatVersion: z.literal(RUN_FORMAT_VERSION),
  status: z.enum(RUN_STATES),
  graphName: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  backend: z.string().optional(),
  epochsCompleted: z.number().int().min(0),
  bestValLoss: z.number().nullable(),
  error: z.string().optional(),
  /** The training process while it runs (a resumed run refuses to start while it is alive). */
  pid: z.number().int().optional(),
});
export type RunStatus = z.infer<typeof RunStatusSchema>;

// ---------------------------------------------------------------------------------------------
// metrics.jsonl: one epoch record a line (epoch 0 of each stage is the evaluation before it trains)

export const EpochRecordSchema = z
  .object({
    stage: z.string(),
    stageIndex: z.number().int(),
    /** 1-based; epoch 0 is the evaluation before training. */
    epoch: z.number().int().min(0),
    loss: z.number().nullable(),
    valLoss: z.number().nullable(),
    /** Metric values by name: "accuracy", "valAccuracy", "meanSquaredError", ... */
    metrics: z.record(z.string(), z.number()),
    seconds: z.number(),
    samplesPerSec: z.number(),
    backend: z.string(),
    /** tf.memory().numTensors after the epoch: flat from epoch to epoch when nothing leaks. */
    liveTensors: z.number().int(),
    /** Wall-clock time the record was made (ms since 1970): measures how fast it reaches the panel. */
    endedAt: z.number().optional(),
  })
  .strict();
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

// ---------------------------------------------------------------------------------------------
// config.json: what was trained, on what, how

/** A stage as it ran: the graph's stage with every default filled in (src/core/stages.ts ResolvedStage). */
export const RunStageSchema = z.object({
  name: z.string(),
  kind: z.enum(['fit', 'layerwise']),
  outputId: z.string(),
  target: OutputTargetSchema,
  loss: z.enum(LOSSES),
  optimizer: z.enum(OPTIMIZERS),
  learningRate: z.number(),
  /** Epochs planned (0 for a skipped stage). */
  epochs: z.number().int().min(0),
  batchSize: z.number().int().min(1),
  metrics: z.array(z.enum(METRICS)),
  freeze: z.array(z.string()),
  encoder: z.string().optional(),
  /** Why the stage did not train (e.g. "not selected with --stage"). */
  skipped: z.string().optional(),
});
export type RunStage = z.infer<typeof RunStageSchema>;

/** The settings a run was started with beyond the graph (CLI options, the extension's request). */
export const RunOverridesSchema = z.object({
  epochs: z.number().int().min(0).optional(),
  batchSize: z.number().int().min(1).optional(),
  data: z.string().optional(),
  labelColumn: z.string().optional(),
  backend: z.string().optional(),
  limitSamples: z.number().int().min(1).optional(),
  limitValidation: z.number().int().min(1).optional(),
  stages: z.array(z.string()).min(1).optional(),
});
export type RunOverrides = z.infer<typeof RunOverridesSchema>;

export const RunConfigSchema = z.object({
  /** Which engine wrote the run: the tfjs worker, or the PyTorch engine's train.py (src/export/pytorch). */
  engine: z.enum(ENGINES).default('tfjs'),
  /** The PyTorch engine: the device it trained on ("cuda:0 (NVIDIA H200)", "mps", "cpu") and its number of processes (torchrun). */
  device: z.string().optional(),
  worldSize: z.number().int().min(1).optional(),
  /** The graph file trained (absolute path; anchors relative dataset paths). */
  graphFile: z.string(),
  graphSha256: sha256Hex,
  graphName: z.string(),
  seed: z.number().int(),
  dataset: z.object({
    /** As the user wrote it: "mnist", "csv:digits.csv". */
    spec: z.string(),
    /** What was loaded, for people: "MNIST (10000 digits)". */
    source: z.string(),
    count: z.number().int().min(0),
    /** Malformed rows or files passed over while loading. */
    skipped: z.number().int().min(0),
    /** One sample: height, width, channels (a table: 1, 1, features). */
    shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
    /** Images, or a table of features. */
    kind: z.enum(['image', 'table']).default('image'),
    /** The classes' names, where the data names them (folders, word labels). */
    classNames: z.array(z.string()).optional(),
    /** A table's column names. */
    featureNames: z.array(z.string()).optional(),
  }),
  /** Samples in each part of the split as trained (after `training.classes` and limits). */
  split: z.object({ train: z.number().int().min(0), validation: z.number().int().min(0), test: z.number().int().min(0) }),
  stages: z.array(RunStageSchema),
  /** The tfjs backend; a PyTorch run says "pytorch" here, with torch's version and the device in the detail. */
  backend: RunBackendInfoSchema,
  overrides: RunOverridesSchema.default({}),
  /** The run whose checkpoint the layers started from (`--init-from`). */
  initFrom: z.string().optional(),
  versions: z.record(z.string(), z.string()),
  startedAt: z.string(),
  /** Each time the run was resumed: when, after how many epochs, on which backend. */
  resumes: z.array(z.object({ startedAt: z.string(), afterEpoch: z.number().int().min(0), backend: z.string() })).optional(),
});
export type RunConfig = z.output<typeof RunConfigSchema>;
export type RunConfigInput = z.input<typeof RunConfigSchema>;

// ---------------------------------------------------------------------------------------------
// normalization.json

/**
 * Per channel (images) or feature (tables): model input = (stored value - shift) / div, stored
 * values being bytes 0..255 or floats. `unit`: shift 0, div 255 (bytes) or 1; `minmax`: shift = min,
 * div = max - min; `standard`: shift = mean, div = standard deviation (1 where a feature is constant).
 */
export const NormalizationSchema = z
  .object({
    method: z.enum(NORMALIZE_METHODS),
    shift: z.array(finite).min(1),
    div: z.array(finite.refine((d) => d > 0, 'must be above 0')).min(1),
  })
  .strict()
  .refine((n) => n.shift.length === n.div.length, { message: 'shift and div must have one value per channel each', path: ['div'] });
export type Normalization = z.infer<typeof NormalizationSchema>;

// ---------------------------------------------------------------------------------------------
// Classifier pictures, evaluation.json, confusion.json, pretraining.json

/**
 * A classifier's pictures for one epoch (or an evaluation): the confusion matrix (rows are true
 * classes, columns predictions, counts) and a strip of preview images with their labels.
 */
export const ClassifierPreviewSchema = z
  .object({
    classNames: z.array(z.string()),
    confusion: z.array(z.array(z.number().int().min(0))),
    /** The preview images side by side, one PNG; `labels[i]` / `predicted[i]` belong to image i. */
    stripPngBase64: z.string(),
    labels: z.array(z.number().int()),
    predicted: z.array(z.number().int()),
    /** The predicted class's probability, per image. */
    confidence: z.array(z.number()),
  })
  .strict();
export type ClassifierPreview = z.infer<typeof ClassifierPreviewSchema>;

/** confusion.json: the newest validation confusion matrix of a classifier stage; its strip is predictions.png. */
export const ConfusionFileSchema = ClassifierPreviewSchema.omit({ stripPngBase64: true }).extend({
  stage: z.string(),
  stageIndex: z.number().int().min(0),
  epoch: z.number().int().min(0),
  outputId: z.string(),
  split: z.literal('validation'),
  samples: z.number().int().min(0),
});
export type ConfusionFile = z.infer<typeof ConfusionFileSchema>;

export const EvaluationSchema = z
  .object({
    runDir: z.string(),
    split: z.enum(['test', 'validation']),
    dataset: z.string(),
    samples: z.number().int(),
    /** The stage whose model was scored (the last fit stage) and what it predicts. */
    stage: z.string(),
    outputId: z.string(),
    target: OutputTargetSchema,
    lossName: z.string(),
    loss: finite,
    /** As in epoch records: "accuracy", "meanSquaredError", ... */
    metrics: z.record(z.string(), z.number()),
    classifier: ClassifierPreviewSchema.optional(),
    /** Originals over reconstructions of the first test images (autoencoders). */
    reconstructionsPngBase64: z.string().optional(),
    /** What its rows show when they are not originals over reconstructions (a denoising autoencoder's three rows). */
    reconstructionsCaption: z.string().optional(),
    backend: z.string(),
    evaluatedAt: z.string(),
  })
  .strict();
export type Evaluation = z.infer<typeof EvaluationSchema>;

const score = z.number().nullable();

/** pretraining.json: the stacked classifier's scores after layer-wise pretraining, and after fine-tuning once every later stage trained. */
export const PretrainingSchema = z.object({
  stage: z.string(),
  outputId: z.string(),
  before: z.object({ valLoss: score, valAccuracy: score, testLoss: score, testAccuracy: score }),
  after: z.object({ testLoss: score, testAccuracy: score }).optional(),
});
export type Pretraining = z.infer<typeof PretrainingSchema>;

// ---------------------------------------------------------------------------------------------
// checkpoint/checkpoint.json (the weights file it names is in the tfjs weights encoding)

export const CHECKPOINT_FORMAT = 1;

const WeightSpecSchema = z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.enum(['float32', 'int32']) }).strict();
export type CheckpointWeightSpec = z.infer<typeof WeightSpecSchema>;

export const CheckpointMetaSchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    /** The stage the last completed epoch belongs to, and how many of its epochs are done. */
    stageIndex: z.number().int().min(0),
    stageName: z.string(),
    stageEpoch: z.number().int().min(0),
    stageEpochs: z.number().int().min(0),
    /** Completed epochs over all stages. */
    epochsCompleted: z.number().int().min(0),
    bestValLoss: z.number().nullable(),
    graphSha256: sha256Hex,
    savedAt: z.string(),
    backend: z.string(),
    /** The running stage's optimizer (its weights are restored only into the same kind). */
    optimizer: z.string(),
    /** State of the shuffling rng after the last completed epoch (mulberry32, one uint32). */
    rngState: z.number().int().min(0).max(0xffffffff),
    /** Training samples shuffled (the length of `state/order`). */
    trainSamples: z.number().int().min(0),
    weightsFile: z.string().regex(/^weights-[A-Za-z0-9_-]+\.bin$/, 'must name a weights-*.bin file in the checkpoint folder'),
    weightsBytes: z.number().int().min(0),
    weightsSha256: sha256Hex,
    weights: z.array(WeightSpecSchema),
  })
  .strict();
export type CheckpointMeta = z.infer<typeof CheckpointMetaSchema>;

// ---------------------------------------------------------------------------------------------
// The JSON files by role, and how each is read

/** The JSON files of a run folder and their schemas (metrics.jsonl is read line by line: parseMetricsText). */
export const RUN_JSON_FILES = {
  status: { file: RUN_FILES.status, schema: RunStatusSchema },
  config: { file: RUN_FILES.config, schema: RunConfigSchema },
  confusion: { file: RUN_FILES.confusion, schema: ConfusionFileSchema },
  evaluation: { file: RUN_FILES.evaluation, schema: EvaluationSchema },
  pretraining: { file: RUN_FILES.pretraining, schema: PretrainingSchema },
  anomaly: { file: RUN_FILES.anomaly, schema: ScoreResultSchema },
  checkpoint: { file: RUN_FILES.checkpointManifest, schema: CheckpointMetaSchema },
  normalization: { file: RUN_FILES.normalization, schema: NormalizationSchema },
} as const;
export type RunJsonKind = keyof typeof RUN_JSON_FILES;
export type RunJson<K extends RunJsonKind> = z.output<(typeof RUN_JSON_FILES)[K]['schema']>;
/** What a writer hands in (defaults may be left out). */
export type RunJsonInput<K extends RunJsonKind> = z.input<(typeof RUN_JSON_FILES)[K]['schema']>;

/**
 * Earlier layouts brought up to this version before validation. run.json without
 * `runFormatVersion` was written before the field existed (same layout): it is version 1.
 */
function migrate(kind: RunJsonKind, raw: unknown, where: string): Parsed<unknown> {
  if (kind !== 'status' || typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: true, value: raw };
  const version: unknown = (raw as Record<string, unknown>)['runFormatVersion'];
  if (version === undefined) return { ok: true, value: { ...raw, runFormatVersion: 1 } };
  if (typeof version === 'number' && Number.isInteger(version) && version > RUN_FORMAT_VERSION) {
    return { ok: false, error: `${where}: runFormatVersion: the run was written by a newer Latent Studio (run format ${version}; this one reads up to ${RUN_FORMAT_VERSION}): update Latent Studio to open it` };
  }
  return { ok: true, value: raw };
}

/** Parse a run folder JSON file's text; the sentence names `where` (the file's path) and the first bad field. */
export function parseRunJson<K extends RunJsonKind>(kind: K, text: string, where: string): Parsed<RunJson<K>> {
  const json = parseJsonText(text);
  if (!json.ok) return { ok: false, error: `${where}: not valid JSON (line ${json.error.line}, column ${json.error.column}: ${json.error.message})` };
  const migrated = migrate(kind, json.value, where);
  if (!migrated.ok) return migrated;
  const parsed = RUN_JSON_FILES[kind].schema.safeParse(migrated.value);
  if (!parsed.success) return { ok: false, error: `${where}: ${firstIssue(parsed.error)}` };
  return { ok: true, value: parsed.data as RunJson<K> };
}

/** The text a writer puts in a run folder JSON file: validated first, so no engine writes what readers would refuse. */
export function serializeRunJson<K extends RunJsonKind>(kind: K, value: RunJsonInput<K>, where: string): string {
  const parsed = RUN_JSON_FILES[kind].schema.safeParse(value);
  if (!parsed.success) throw new Error(`${where}: refusing to write an invalid ${RUN_JSON_FILES[kind].file}: ${firstIssue(parsed.error)}`);
  // Large files (evaluation pictures, anomaly scores) on one line; the small ones people read, indented.
  return kind === 'anomaly' || kind === 'confusion' ? `${JSON.stringify(parsed.data)}\n` : `${JSON.stringify(parsed.data, null, 2)}\n`;
}

/** One metrics.jsonl line, serialised. */
export function serializeEpochRecord(record: EpochRecord): string {
  return `${JSON.stringify(EpochRecordSchema.parse(record))}\n`;
}

export interface MetricsText {
  readonly records: EpochRecord[];
  /** Lines that are not epoch records, with the sentence (the last one may be half-written by a killed process). */
  readonly bad: { readonly line: number; readonly error: string }[];
  /** The number of the last non-empty line. */
  readonly lastLine: number;
}

/** metrics.jsonl's text as records, and each line that is not one. */
export function parseMetricsText(text: string, where: string): MetricsText {
  const records: EpochRecord[] = [];
  const bad: { line: number; error: string }[] = [];
  let lastLine = 0;
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    lastLine = i + 1;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      bad.push({ line: i + 1, error: `${where}: line ${i + 1}: not valid JSON` });
      return;
    }
    const parsed = EpochRecordSchema.safeParse(raw);
    if (parsed.success) records.push(parsed.data);
    else bad.push({ line: i + 1, error: `${where}: line ${i + 1}: ${firstIssue(parsed.error)}` });
  });
  return { records, bad, lastLine };
}
