/**
 * The host ⇄ training-worker protocol: one discriminated union per direction, validated where a
 * message enters (IPC carries untrusted JSON; nothing is cast). Shared by the CLI and the extension.
 */
import { z } from 'zod';

export const BACKEND_NAMES = ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'] as const;
export const BackendPreferenceSchema = z.enum([...BACKEND_NAMES, 'auto']);
export type BackendPreference = z.infer<typeof BackendPreferenceSchema>;

export const TrainRequestSchema = z
  .object({
    /** The graph file's text, exactly as on disk (snapshotted and hashed into the run folder). */
    graphText: z.string(),
    /** Absolute path of the graph file: names the run and anchors relative dataset paths. */
    graphPath: z.string(),
    /** Folder that receives `<time>-<name>/` run folders, e.g. `<workspace>/.latent/runs`. */
    runsDir: z.string(),
    epochs: z.number().int().min(1).optional(),
    batchSize: z.number().int().min(1).optional(),
    backend: BackendPreferenceSchema.default('auto'),
    /** Dataset override in `--data` form. */
    data: z.string().optional(),
    /** Fewest milliseconds between two batch messages (each costs a loss read-back). */
    batchProgressMs: z.number().int().min(0).default(250),
    /** Cap on training samples, for quick runs and tests. */
    limitSamples: z.number().int().min(1).optional(),
    /** Cap on validation samples evaluated per epoch (benchmarks on slow backends). */
    limitValidation: z.number().int().min(1).optional(),
    cacheDir: z.string().optional(),
  })
  .strict();
export type TrainRequest = z.input<typeof TrainRequestSchema>;
export type ResolvedTrainRequest = z.output<typeof TrainRequestSchema>;

export const ToWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), messageId: z.number().int(), request: TrainRequestSchema }).strict(),
  /** Stop after the running batch; the run keeps the last completed epoch's weights. */
  z.object({ type: z.literal('cancel'), messageId: z.number().int() }).strict(),
  /** Which backend would train here, and why each better one is unavailable (no training). */
  z.object({ type: z.literal('probe'), messageId: z.number().int(), backend: BackendPreferenceSchema.default('auto') }).strict(),
]);
export type ToWorker = z.input<typeof ToWorkerSchema>;

const SkippedBackendSchema = z.object({ name: z.enum(BACKEND_NAMES), reason: z.string() }).strict();
export const BackendInfoSchema = z
  .object({ name: z.enum(BACKEND_NAMES), tfBackend: z.string(), detail: z.string(), skipped: z.array(SkippedBackendSchema) })
  .strict();
export type BackendInfo = z.infer<typeof BackendInfoSchema>;

const finite = z.number().refine(Number.isFinite, 'must be finite');

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
  })
  .strict();
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

export const StagePlanSchema = z
  .object({ name: z.string(), kind: z.enum(['fit', 'layerwise']), epochs: z.number().int(), batchesPerEpoch: z.number().int(), skipped: z.string().optional() })
  .strict();

export const FromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number().int() }).strict(),
  z.object({ type: z.literal('log'), level: z.enum(['debug', 'info', 'warn']), message: z.string() }).strict(),
  z
    .object({
      type: z.literal('started'),
      inReplyTo: z.number().int(),
      runDir: z.string(),
      backend: BackendInfoSchema,
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
    })
    .strict(),
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

export type MessageParse<T> = { ok: true; message: T } | { ok: false; error: string };

function parseWith<T>(schema: z.ZodType<T>, raw: unknown, direction: string): MessageParse<T> {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, message: r.data };
  const issue = r.error.issues[0];
  return { ok: false, error: `Malformed ${direction} message: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
}

export const parseFromWorker = (raw: unknown): MessageParse<FromWorker> => parseWith(FromWorkerSchema, raw, 'worker');
export const parseToWorker = (raw: unknown): MessageParse<z.output<typeof ToWorkerSchema>> => parseWith(ToWorkerSchema, raw, 'host');
