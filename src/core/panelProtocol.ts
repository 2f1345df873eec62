/**
 * Host ⇄ training-panel webview protocol. The panel asks (`ready`) and gets the whole run so far
 * (`snapshot`), then each worker event as it happens. Validated where it enters, both ways.
 */
import { z } from 'zod';
import { INSPECT_KINDS, InspectResultSchema, PanelInspectRequestSchema } from './inspect';
import { BackendInfoSchema, ClassifierPreviewSchema, EpochRecordSchema, EvaluationSchema, StagePlanSchema } from './protocol';

export const RunInfoSchema = z
  .object({
    graphName: z.string(),
    graphFile: z.string(),
    runDir: z.string().nullable(),
    backend: BackendInfoSchema.nullable(),
    dataset: z.string().nullable(),
    stages: z.array(StagePlanSchema),
  })
  .strict();
export type RunInfo = z.infer<typeof RunInfoSchema>;

export const RunStatusSchema = z.enum(['starting', 'running', 'completed', 'stopped', 'failed']);
export type PanelRunStatus = z.infer<typeof RunStatusSchema>;

export const BatchPointSchema = z.object({ stageIndex: z.number().int(), epoch: z.number().int(), batch: z.number().int(), batches: z.number().int(), loss: z.number() }).strict();
export type BatchPoint = z.infer<typeof BatchPointSchema>;

/** Another run's per-epoch curves, drawn dashed on the same charts. */
export const OverlaySchema = z.object({ label: z.string(), runDir: z.string(), stages: z.array(StagePlanSchema), epochs: z.array(EpochRecordSchema) }).strict();
export type Overlay = z.infer<typeof OverlaySchema>;

export const PanelSnapshotSchema = z
  .object({
    run: RunInfoSchema,
    status: RunStatusSchema,
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
  })
  .strict();
export type PanelSnapshot = z.output<typeof PanelSnapshotSchema>;

export const ToPanelSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), snapshot: PanelSnapshotSchema }).strict(),
  z.object({ type: z.literal('epoch'), record: EpochRecordSchema }).strict(),
  z.object({ type: z.literal('batch'), point: BatchPointSchema }).strict(),
  z.object({ type: z.literal('preview'), epoch: z.number().int(), pngBase64: z.string(), caption: z.string().optional() }).strict(),
  z.object({ type: z.literal('status'), status: RunStatusSchema, message: z.string().nullable(), run: RunInfoSchema.optional() }).strict(),
  z.object({ type: z.literal('classifier'), stageIndex: z.number().int(), epoch: z.number().int(), preview: ClassifierPreviewSchema }).strict(),
  z.object({ type: z.literal('evaluation'), evaluation: EvaluationSchema }).strict(),
  z.object({ type: z.literal('overlays'), overlays: z.array(OverlaySchema) }).strict(),
  /** An inspect job on this run started (busy), finished (its result follows as `inspection`) or failed (error). */
  z.object({ type: z.literal('inspecting'), kind: z.enum(INSPECT_KINDS), busy: z.boolean(), error: z.string().nullable() }).strict(),
  z.object({ type: z.literal('inspection'), result: InspectResultSchema }).strict(),
  /** Show this inspect view (the host opened the panel for a palette command). */
  z.object({ type: z.literal('focus'), view: z.enum(['training', ...INSPECT_KINDS]) }).strict(),
]);
export type ToPanel = z.infer<typeof ToPanelSchema>;

export const FromPanelSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }).strict(),
  z.object({ type: z.literal('stop') }).strict(),
  z.object({ type: z.literal('openRunFolder') }).strict(),
  /** Toolbar buttons: run a palette command on the panel's run. */
  z.object({ type: z.literal('command'), command: z.enum(['evaluate', 'export', 'resume', 'compare', 'generate']) }).strict(),
  /** Run an inspect job on the panel's run. */
  z.object({ type: z.literal('inspect'), request: PanelInspectRequestSchema }).strict(),
  /** Save a picture the panel drew (a chart, a grid) as a PNG file: the host asks where. */
  z
    .object({
      type: z.literal('savePng'),
      /** Suggested file name without folder, e.g. "loss.png". */
      name: z.string().regex(/^[\w.-]{1,100}\.png$/, 'a plain file name ending in .png'),
      pngBase64: z.string().min(1),
    })
    .strict(),
  /** Write the newest anomaly scores as CSV with a flagged column at this threshold: the host asks where. */
  z.object({ type: z.literal('exportScores'), threshold: z.number().refine(Number.isFinite, 'must be finite') }).strict(),
]);
export type FromPanel = z.infer<typeof FromPanelSchema>;

export const parseToPanel = (raw: unknown): ToPanel | null => {
  const r = ToPanelSchema.safeParse(raw);
  return r.success ? r.data : null;
};
export const parseFromPanel = (raw: unknown): FromPanel | null => {
  const r = FromPanelSchema.safeParse(raw);
  return r.success ? r.data : null;
};
