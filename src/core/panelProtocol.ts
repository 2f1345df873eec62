/**
 * Host ⇄ training-panel webview protocol. The panel asks (`ready`) and gets the whole run so far
 * (`snapshot`), then each worker event as it happens. Validated where it enters, both ways.
 */
import { z } from 'zod';
import { INSPECT_KINDS, InspectResultSchema, PanelInspectRequestSchema } from './inspect';
import { type Parsed, RejectedSchema, parseWith, request } from './messages';
import { RunBackendInfoSchema } from './backends';
import { StagePlanSchema } from './protocol';
import { ClassifierPreviewSchema, EpochRecordSchema, EvaluationSchema, RUN_STATES } from './runFormat';

export const RunInfoSchema = z
  .object({
    graphName: z.string(),
    graphFile: z.string(),
    runDir: z.string().nullable(),
    backend: RunBackendInfoSchema.nullable(),
    dataset: z.string().nullable(),
    stages: z.array(StagePlanSchema),
  })
  .strict();
export type RunInfo = z.infer<typeof RunInfoSchema>;

/** A run folder's states (run.json), and `starting` before the worker has made the folder. */
export const PanelRunStatusSchema = z.enum(['starting', ...RUN_STATES]);
export type PanelRunStatus = z.infer<typeof PanelRunStatusSchema>;

export const BatchPointSchema = z.object({ stageIndex: z.number().int(), epoch: z.number().int(), batch: z.number().int(), batches: z.number().int(), loss: z.number() }).strict();
export type BatchPoint = z.infer<typeof BatchPointSchema>;

/** Another run's per-epoch curves, drawn dashed on the same charts. */
export const OverlaySchema = z.object({ label: z.string(), runDir: z.string(), stages: z.array(StagePlanSchema), epochs: z.array(EpochRecordSchema) }).strict();
export type Overlay = z.infer<typeof OverlaySchema>;

export const PanelSnapshotSchema = z
  .object({
    run: RunInfoSchema,
    status: PanelRunStatusSchema,
    message: z.string().nullable(),
    epochs: z.array(EpochRecordSchema),
    batches: z.array(BatchPointSchema),
    /** The newest reconstruction preview; `caption` says what its rows show when they are not originals over reconstructions. */
    preview: z.object({ epoch: z.number().int(), pngBase64: z.string(), caption: z.string().optional() }).strict().nullable(),
    /** The newest confusion matrix and prediction strip of a classifier stage. */
    classifier: z.object({ stageIndex: z.number().int(), epoch: z.number().int(), preview: ClassifierPreviewSchema }).strict().nullable().default(null),
    /** The newest "Evaluate on Test Set" result of this run. */
    evaluation: EvaluationSchema.nullable().default(null),
    /** Other runs whose epoch curves are drawn over this run's, to compare. */
    overlays: z.array(OverlaySchema).default([]),
    /** The newest result of each inspect job on this run (anomaly scores, predictions, weights, feature maps, latent space). */
    inspections: z.array(InspectResultSchema).default([]),
    /** Files of the run folder that could not be read, as sentences naming the file and the field. */
    problems: z.array(z.string()).default([]),
  })
  .strict();
export type PanelSnapshot = z.output<typeof PanelSnapshotSchema>;

export const ToPanelSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), snapshot: PanelSnapshotSchema }).strict(),
  z.object({ type: z.literal('epoch'), record: EpochRecordSchema }).strict(),
  z.object({ type: z.literal('batch'), point: BatchPointSchema }).strict(),
  z.object({ type: z.literal('preview'), epoch: z.number().int(), pngBase64: z.string(), caption: z.string().optional() }).strict(),
  z.object({ type: z.literal('status'), status: PanelRunStatusSchema, message: z.string().nullable(), run: RunInfoSchema.optional() }).strict(),
  z.object({ type: z.literal('classifier'), stageIndex: z.number().int(), epoch: z.number().int(), preview: ClassifierPreviewSchema }).strict(),
  z.object({ type: z.literal('evaluation'), evaluation: EvaluationSchema }).strict(),
  z.object({ type: z.literal('overlays'), overlays: z.array(OverlaySchema) }).strict(),
  /** An inspect job on this run started (busy), finished (its result follows as `inspection`) or failed (error). */
  z.object({ type: z.literal('inspecting'), kind: z.enum(INSPECT_KINDS), busy: z.boolean(), error: z.string().nullable() }).strict(),
  z.object({ type: z.literal('inspection'), result: InspectResultSchema }).strict(),
  /** Show this inspect view (the host opened the panel for a palette command). */
  z.object({ type: z.literal('focus'), view: z.enum(['training', ...INSPECT_KINDS]) }).strict(),
  /** A message from the panel the host could not accept: the sentence. */
  RejectedSchema,
]);
export type ToPanel = z.infer<typeof ToPanelSchema>;

/** Panel → host. Each message may carry an `id` (the panel's store numbers them); a rejected one is answered by it. */
export const FromPanelSchema = z.discriminatedUnion('type', [
  request({ type: z.literal('ready') }),
  request({ type: z.literal('stop') }),
  request({ type: z.literal('openRunFolder') }),
  /** Toolbar buttons: run a palette command on the panel's run. */
  request({ type: z.literal('command'), command: z.enum(['evaluate', 'export', 'resume', 'compare', 'generate']) }),
  /** Run an inspect job on the panel's run. */
  request({ type: z.literal('inspect'), request: PanelInspectRequestSchema }),
  /** Save a picture the panel drew (a chart, a grid) as a PNG file: the host asks where. */
  request({
    type: z.literal('savePng'),
    /** Suggested file name without folder, e.g. "loss.png". */
    name: z.string().regex(/^[\w.-]{1,100}\.png$/, 'a plain file name ending in .png'),
    pngBase64: z.string().min(1),
  }),
  /** Write the newest anomaly scores as CSV with a flagged column at this threshold: the host asks where. */
  request({ type: z.literal('exportScores'), threshold: z.number().refine(Number.isFinite, 'must be finite') }),
  /** A host message the panel could not accept (logged in the host's output channel). */
  RejectedSchema,
]);
export type FromPanel = z.infer<typeof FromPanelSchema>;

export const parseToPanel = (raw: unknown): Parsed<ToPanel> => parseWith(ToPanelSchema, raw, 'Malformed host message');
export const parseFromPanel = (raw: unknown): Parsed<FromPanel> => parseWith(FromPanelSchema, raw, 'Malformed panel message');

/** What the panel shows of a run that has not sent anything yet. */
export function emptySnapshot(run: RunInfo): PanelSnapshot {
  return { run, status: 'starting', message: null, epochs: [], batches: [], preview: null, classifier: null, evaluation: null, overlays: [], inspections: [], problems: [] };
}
