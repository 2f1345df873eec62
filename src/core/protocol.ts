/**
 * The host ⇄ training-worker protocol: one discriminated union per direction, validated where a
 * message enters (IPC carries untrusted JSON; nothing is cast). Shared by the CLI and the extension.
 */
import { z } from 'zod';

import { BackendInfoSchema, BackendPreferenceSchema, RunBackendInfoSchema } from './backends';
import { DatasetCardSchema, DescribeRequestSchema } from './datasetCard';
import { InspectRequestSchema, InspectResultSchema } from './inspect';
import { LOSSES } from './format';
import { type Parsed, RequestIdSchema, parseWith } from './messages';
import { ClassifierPreviewSchema, EpochRecordSchema, EvaluationSchema } from './runFormat';


export const TrainRequestSchema = z
  .object({
    /** The graph file's text, exactly as on disk (snapshotted and hashed into the run folder). */
    graphText: z.string(),
    /** Absolute path of the graph file: names the run and anchors relative dataset paths. */
    graphPath: z.string(),
    /** Folder that receives `<time>-<name>/` run folders, e.g. `<workspace>/.latent/runs`. */
    runsDir: z.string(),
    /** 0: score the starting weights and keep them as the run's checkpoint, without training. */
    epochs: z.number().int().min(0).optional(),
    batchSize: z.number().int().min(1).optional(),
    backend: BackendPreferenceSchema.default('auto'),
    /** Dataset override in `--data` form. */
    data: z.string().optional(),
    /** The CSV label column, overriding `training.labelColumn`. */
    labelColumn: z.string().min(1).optional(),
    /** Fewest milliseconds between two batch messages (each costs a loss read-back). */
    batchProgressMs: z.number().int().min(0).default(250),
    /** Cap on training samples, for quick runs and tests. */
    limitSamples: z.number().int().min(1).optional(),
    /** Cap on validation samples evaluated per epoch (benchmarks on slow backends). */
    limitValidation: z.number().int().min(1).optional(),
    cacheDir: z.string().optional(),
    /**
     * Continue this run folder from its checkpoint (the last completed epoch) instead of starting a
     * new run: the folder's own graph snapshot is trained, and metrics keep appending to it.
     */
    resumeFrom: z.string().optional(),
    /**
     * Train only these stages (by name, in the graph's order); the others are reported as skipped and
     * keep their weights (initial, or from `initFrom`). Default: every stage.
     */
    stages: z.array(z.string().min(1)).min(1).optional(),
    /**
     * Start a new run from another run folder's checkpoint: every layer whose name and weight shapes
     * match is loaded before training (e.g. `stages: ["classifier"]` on a trained autoencoder).
     */
    initFrom: z.string().optional(),
  })
  .strict();
export type TrainRequest = z.input<typeof TrainRequestSchema>;
export type ResolvedTrainRequest = z.output<typeof TrainRequestSchema>;

/** Score a finished (or stopped) run's model, from its checkpoint, on a split of its dataset. */
export const EvaluateRequestSchema = z
  .object({
    runDir: z.string(),
    split: z.enum(['test', 'validation']).default('test'),
    /** Dataset override in `--data` form; by default the run's own dataset and split. */
    data: z.string().optional(),
    backend: BackendPreferenceSchema.default('auto'),
    /** Cap on samples scored (quick checks, tests). */
    limit: z.number().int().min(1).optional(),
    cacheDir: z.string().optional(),
  })
  .strict();
export type EvaluateRequest = z.input<typeof EvaluateRequestSchema>;

/** Write a run's trained models (the trained one plus every named sub-model) in the tfjs layers format. */
export const ExportRequestSchema = z
  .object({
    runDir: z.string(),
    /** Receives one folder per model: `<outDir>/<model name>/model.json + weights.bin`. */
    outDir: z.string(),
    /** Replace folders that already exist there; without it an existing folder is an error. */
    overwrite: z.boolean().default(false),
  })
  .strict();
export type ExportRequest = z.input<typeof ExportRequestSchema>;

/** Decode random codes of a variational autoencoder's run into pictures (generated.png, manifold.png for a 2-D code). */
export const GenerateRequestSchema = z
  .object({
    runDir: z.string(),
    /** How many random codes, drawn from N(0, I), to decode into the grid. */
    count: z.number().int().min(1).max(400).default(100),
    /** Seed of the random codes; default: the graph's training seed. */
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    /** Rows and columns of the manifold grid of a 2-D code. */
    manifoldSize: z.number().int().min(2).max(30).default(15),
  })
  .strict();
export type GenerateRequest = z.input<typeof GenerateRequestSchema>;

export const GeneratedSchema = z
  .object({
    runDir: z.string(),
    latentSize: z.number().int(),
    count: z.number().int(),
    seed: z.number().int(),
    /** generated.png in the run folder: the decoded random codes, row by row. */
    file: z.string(),
    pngBase64: z.string(),
    /** manifold.png (2-D codes only): codes on a grid of N(0, 1) quantiles, z1 left to right, z2 bottom to top. */
    manifoldFile: z.string().optional(),
    manifoldPngBase64: z.string().optional(),
  })
  .strict();
export type Generated = z.infer<typeof GeneratedSchema>;

/** What a worker answers for `topology`: a graph's models in the TensorFlow.js layers format, without weights. */
export const TopologyRequestSchema = z.object({ graphText: z.string(), graphPath: z.string() }).strict();
export type TopologyRequest = z.input<typeof TopologyRequestSchema>;

/**
 * A graph's models as tfjs would save them, less the weight values (train.py's tfjs-models.json):
 * each model's Keras topology and weight specs in tfjs' order, each weight with the key our weights
 * files give it (`layer/<layer name>/<index>`), so another engine can write model.json + weights.bin.
 */
export const TfjsModelsSchema = z
  .object({
    format: z.literal(1),
    models: z.record(
      z.string(),
      z
        .object({
          modelTopology: z.record(z.string(), z.unknown()),
          format: z.string().optional(),
          generatedBy: z.string().optional(),
          convertedBy: z.string().nullable().optional(),
          weights: z.array(z.object({ name: z.string(), key: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.enum(['float32', 'int32']) }).strict()),
        })
        .strict(),
    ),
  })
  .strict();
export type TfjsModels = z.infer<typeof TfjsModelsSchema>;

/** Every message to the worker is a request with an `id`; the worker answers each (core/messages.ts). */
export const ToWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), id: RequestIdSchema, request: TrainRequestSchema }).strict(),
  /** Stop after the running batch; the run keeps the last completed epoch's weights. */
  z.object({ type: z.literal('cancel'), id: RequestIdSchema }).strict(),
  /** Which backend would train here, and why each better one is unavailable (no training). */
  z.object({ type: z.literal('probe'), id: RequestIdSchema, backend: BackendPreferenceSchema.default('auto') }).strict(),
  z.object({ type: z.literal('evaluate'), id: RequestIdSchema, request: EvaluateRequestSchema }).strict(),
  z.object({ type: z.literal('export'), id: RequestIdSchema, request: ExportRequestSchema }).strict(),
  z.object({ type: z.literal('generate'), id: RequestIdSchema, request: GenerateRequestSchema }).strict(),
  /** Look inside a run's trained model (src/core/inspect.ts): anomaly scores, predictions, weights, feature maps, latent space. */
  z.object({ type: z.literal('inspect'), id: RequestIdSchema, request: InspectRequestSchema }).strict(),
  /** The dataset card of a graph (core/datasetCard.ts): its dataset read for its Input, no training. */
  z.object({ type: z.literal('describe'), id: RequestIdSchema, request: DescribeRequestSchema }).strict(),
  /** A graph's models in the tfjs layers format without weights (for the PyTorch engine's model/), no training. */
  z.object({ type: z.literal('topology'), id: RequestIdSchema, request: TopologyRequestSchema }).strict(),
]);
export type ToWorker = z.input<typeof ToWorkerSchema>;

const finite = z.number().refine(Number.isFinite, 'must be finite');

/** Caption of a denoising autoencoder's preview (three rows); other previews are originals over reconstructions. */
export const DENOISING_CAPTION = 'Noisy inputs (top), reconstructions (middle), clean originals (bottom)';

export const ExportedModelSchema = z.object({ name: z.string(), dir: z.string(), params: z.number().int(), inputShape: z.array(z.number().int().nullable()), outputShape: z.array(z.number().int().nullable()) }).strict();
export type ExportedModel = z.infer<typeof ExportedModelSchema>;

export const StagePlanSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['fit', 'layerwise']),
    epochs: z.number().int(),
    batchesPerEpoch: z.number().int(),
    skipped: z.string().optional(),
    /** A fit stage's loss (a layer-wise stage's steps each have theirs: core/stages.ts layerwiseStepLoss). */
    loss: z.enum(LOSSES).optional(),
    /** The Output block this stage trains against (where the editor shows its preview thumbnail). */
    outputId: z.string().optional(),
    /** Epochs of this stage already done when a resumed run starts. */
    resumedAfterEpoch: z.number().int().optional(),
  })
  .strict();
export type StagePlan = z.infer<typeof StagePlanSchema>;

export const FromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number().int() }).strict(),
  /** A request arrived and is valid: its job has begun (sent at once, so a silent worker is noticed). */
  z.object({ type: z.literal('accepted'), inReplyTo: z.number().int() }).strict(),
  z.object({ type: z.literal('log'), level: z.enum(['debug', 'info', 'warn']), message: z.string() }).strict(),
  z
    .object({
      type: z.literal('started'),
      inReplyTo: z.number().int(),
      runDir: z.string(),
      backend: RunBackendInfoSchema,
      dataset: z.object({ source: z.string(), train: z.number().int(), validation: z.number().int(), test: z.number().int(), skipped: z.number().int() }).strict(),
      stages: z.array(StagePlanSchema),
    })
    .strict(),
  z
    .object({
      type: z.literal('batch'),
      stageIndex: z.number().int(),
      epoch: z.number().int(),
      batch: z.number().int(),
      batches: z.number().int(),
      loss: finite.optional(),
    })
    .strict(),
  z.object({ type: z.literal('epoch'), record: EpochRecordSchema }).strict(),
  z
    .object({
      type: z.literal('preview'),
      stageIndex: z.number().int(),
      epoch: z.number().int(),
      kind: z.enum(['reconstructions']),
      pngBase64: z.string(),
      /** The Output block the preview belongs to. */
      outputId: z.string().optional(),
      /** What the picture's rows show (a denoising autoencoder's has three: noisy, reconstructed, clean). */
      caption: z.string().optional(),
    })
    .strict(),
  z.object({ type: z.literal('classifier'), stageIndex: z.number().int(), epoch: z.number().int(), outputId: z.string().optional(), preview: ClassifierPreviewSchema }).strict(),
  z.object({ type: z.literal('evaluated'), inReplyTo: z.number().int(), evaluation: EvaluationSchema }).strict(),
  z.object({ type: z.literal('exported'), inReplyTo: z.number().int(), models: z.array(ExportedModelSchema) }).strict(),
  z.object({ type: z.literal('generated'), inReplyTo: z.number().int(), generated: GeneratedSchema }).strict(),
  z.object({ type: z.literal('inspected'), inReplyTo: z.number().int(), result: InspectResultSchema }).strict(),
  z.object({ type: z.literal('described'), inReplyTo: z.number().int(), card: DatasetCardSchema }).strict(),
  z.object({ type: z.literal('topologies'), inReplyTo: z.number().int(), models: TfjsModelsSchema }).strict(),
  z
    .object({
      type: z.literal('done'),
      inReplyTo: z.number().int(),
      runDir: z.string(),
      backend: z.string(),
      stopped: z.boolean(),
      epochsCompleted: z.number().int(),
      bestValLoss: z.number().nullable(),
    })
    .strict(),
  z.object({ type: z.literal('probed'), inReplyTo: z.number().int(), backend: BackendInfoSchema }).strict(),
  /** A job failed, or a request was rejected (then `inReplyTo` names it and the error is the parse sentence). */
  z
    .object({
      type: z.literal('failed'),
      inReplyTo: z.number().int().optional(),
      runDir: z.string().optional(),
      error: z.object({ message: z.string(), detail: z.string().optional() }).strict(),
    })
    .strict(),
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;

export type ToWorkerMessage = z.output<typeof ToWorkerSchema>;

export const parseToWorker = (raw: unknown): Parsed<ToWorkerMessage> => parseWith(ToWorkerSchema, raw, 'Malformed host message');
export const parseFromWorker = (raw: unknown): Parsed<FromWorker> => parseWith(FromWorkerSchema, raw, 'Malformed worker message');
