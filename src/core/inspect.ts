/**
 * Looking inside a trained run: the "inspect" jobs a worker runs on a run's checkpointed model, and
 * what each returns. One request union, one result union, both keyed by `kind`, validated where
 * they enter (worker, panel, CLI):
 *
 * - `score`    anomaly detection: per-sample reconstruction error over a split, a suggested
 *              threshold, the worst-k reconstructions, `scores.csv` + `anomaly.json` in the run folder;
 * - `predict`  chosen split images through the trained model: a classifier's class probabilities,
 *              an autoencoder's reconstruction;
 * - `weights`  the first (or a named) Dense/Conv2D layer's weights as a grid of images (`weights.png`);
 * - `features` the activations of every conv layer for one chosen input (`features.png`);
 * - `latent`   the codes of a split: the 2-D code itself or a PCA projection of wider codes, with
 *              each point's input and reconstruction (`latent.csv`).
 *
 * Images travel as PNG base64 except the latent points' thumbnails, which travel as raw uint8
 * pixels (one buffer per set, decoded in the panel) to keep thousands of them small.
 */
import { z } from 'zod';
import { BackendPreferenceSchema } from './backends';

export const INSPECT_KINDS = ['score', 'predict', 'weights', 'features', 'latent'] as const;
export type InspectKind = (typeof INSPECT_KINDS)[number];

export const InspectSplitSchema = z.enum(['test', 'validation']);
export type InspectSplit = z.infer<typeof InspectSplitSchema>;

/** What every inspect request that reads data shares. `runDir` is filled in by the host. */
const dataFields = {
  runDir: z.string(),
  split: InspectSplitSchema.default('test'),
  /** Dataset override in `--data` form; by default the run's own dataset. */
  data: z.string().optional(),
  backend: BackendPreferenceSchema.default('auto'),
  cacheDir: z.string().optional(),
};

export const ScoreRequestSchema = z
  .object({
    kind: z.literal('score'),
    ...dataFields,
    /** Cap on samples scored. */
    limit: z.number().int().min(1).optional(),
    /** How many of the highest-scoring samples to show, originals over reconstructions. */
    worst: z.number().int().min(1).max(100).default(16),
    /**
     * "all": every class of the split (anomaly detection: the classes the run did not train on are
     * the anomalies); "trained": only the classes the run trained on (`training.classes`).
     */
    classes: z.enum(['all', 'trained']).default('all'),
  })
  .strict();

export const PredictRequestSchema = z
  .object({
    kind: z.literal('predict'),
    ...dataFields,
    /** Positions within the split (0 = its first sample); default: the first `count`. */
    positions: z.array(z.number().int().min(0)).max(200).optional(),
    count: z.number().int().min(1).max(200).default(24),
  })
  .strict();

export const WeightsRequestSchema = z
  .object({
    kind: z.literal('weights'),
    runDir: z.string(),
    /** A Dense or Conv2D node id (or a composite block's layer, "encoder.0"); default: the first one after the Input. */
    layer: z.string().optional(),
    /** Most units (tiles) drawn. */
    maxUnits: z.number().int().min(1).max(1024).default(256),
    backend: BackendPreferenceSchema.default('auto'),
  })
  .strict();

export const FeaturesRequestSchema = z
  .object({
    kind: z.literal('features'),
    ...dataFields,
    /** Position of the chosen input within the split. */
    position: z.number().int().min(0).default(0),
    /** Conv-like layers to show (node ids or "block.i" layer names); default: every one with a spatial output. */
    layers: z.array(z.string()).optional(),
    /** Most channels drawn per layer. */
    maxChannels: z.number().int().min(1).max(256).default(64),
  })
  .strict();

export const LatentRequestSchema = z
  .object({
    kind: z.literal('latent'),
    ...dataFields,
    /** Most points (the first of the split). */
    limit: z.number().int().min(1).max(10000).default(2000),
  })
  .strict();

export const InspectRequestSchema = z.discriminatedUnion('kind', [ScoreRequestSchema, PredictRequestSchema, WeightsRequestSchema, FeaturesRequestSchema, LatentRequestSchema]);
export type InspectRequest = z.input<typeof InspectRequestSchema>;
export type ResolvedInspectRequest = z.output<typeof InspectRequestSchema>;

/** What the panel asks for: a request without the run folder (the panel's run) or the host's settings. */
export const PanelInspectRequestSchema = z.discriminatedUnion('kind', [
  ScoreRequestSchema.omit({ runDir: true, backend: true, cacheDir: true, data: true }),
  PredictRequestSchema.omit({ runDir: true, backend: true, cacheDir: true, data: true }),
  WeightsRequestSchema.omit({ runDir: true, backend: true }),
  FeaturesRequestSchema.omit({ runDir: true, backend: true, cacheDir: true, data: true }),
  LatentRequestSchema.omit({ runDir: true, backend: true, cacheDir: true, data: true }),
]);
export type PanelInspectRequest = z.input<typeof PanelInspectRequestSchema>;

const common = {
  runDir: z.string(),
  /** The stage whose model was inspected (the last fit stage) and its Output block. */
  stage: z.string(),
  outputId: z.string(),
  backend: z.string(),
  /** ISO time. */
  at: z.string(),
};
const dataCommon = { ...common, split: InspectSplitSchema, dataset: z.string() };

export const ScoreResultSchema = z
  .object({
    kind: z.literal('score'),
    ...dataCommon,
    /** How a sample's score is computed. */
    metric: z.literal('meanSquaredError'),
    /** Dataset indices of the scored samples, in split order; `scores[i]` belongs to `indices[i]`. */
    indices: z.array(z.number().int()),
    /** Each scored sample's position within the whole split (as Predict and Feature maps count), also with `classes: "trained"` or a limit. */
    positions: z.array(z.number().int()),
    scores: z.array(z.number()),
    /** Class per sample, when the dataset has labels. */
    labels: z.array(z.number().int()).optional(),
    classNames: z.array(z.string()).optional(),
    /** The classes the run trained on (`training.classes`); null: every class. */
    trainedClasses: z.array(z.number().int()).nullable(),
    /** Suggested threshold: scores above it are flagged. */
    threshold: z.number(),
    /** How the suggested threshold was chosen, in a sentence. */
    thresholdRule: z.string(),
    /** The highest scores, worst first. */
    worst: z.array(
      z
        .object({
          index: z.number().int(),
          position: z.number().int(),
          score: z.number(),
          label: z.number().int().optional(),
          /** Tables: the features contributing most to the error (share of it; input and reconstruction in model space), largest first. */
          features: z.array(z.object({ name: z.string(), share: z.number(), value: z.number(), reconstructed: z.number() }).strict()).optional(),
        })
        .strict(),
    ),
    /** The worst samples (top row) over their reconstructions (bottom row), worst first. */
    worstPngBase64: z.string(),
    /** scores.csv in the run folder (anomalyCsv at the suggested threshold). */
    csvFile: z.string(),
  })
  .strict();
export type ScoreResult = z.infer<typeof ScoreResultSchema>;

export const PredictionItemSchema = z
  .object({
    position: z.number().int(),
    index: z.number().int(),
    label: z.number().int().optional(),
    imagePngBase64: z.string(),
    /** Classifiers: the predicted class and every class's probability. */
    predicted: z.number().int().optional(),
    probabilities: z.array(z.number()).optional(),
    /** Autoencoders: the reconstruction, and its mean squared error to the input. */
    reconstructionPngBase64: z.string().optional(),
    error: z.number().optional(),
  })
  .strict();
export type PredictionItem = z.infer<typeof PredictionItemSchema>;

export const PredictResultSchema = z
  .object({
    kind: z.literal('predict'),
    ...dataCommon,
    target: z.enum(['input', 'labels']),
    classNames: z.array(z.string()).optional(),
    items: z.array(PredictionItemSchema),
  })
  .strict();
export type PredictResult = z.infer<typeof PredictResultSchema>;

export const WeightsResultSchema = z
  .object({
    kind: z.literal('weights'),
    ...common,
    /** The layer drawn ("encoder.0", "conv1"), and the layers that could be drawn instead. */
    layer: z.string(),
    layers: z.array(z.string()),
    layerKind: z.enum(['dense', 'conv']),
    /** Units (Dense) or filters (Conv2D) in the layer, and how many are drawn. */
    units: z.number().int(),
    shown: z.number().int(),
    /** Each tile's height and width: the input image's for a Dense layer on an image, the kernel's for a conv. */
    tile: z.tuple([z.number().int(), z.number().int()]),
    /** Grid of tiles, each scaled to its own min..max (grey), one per unit. */
    pngBase64: z.string(),
    file: z.string(),
  })
  .strict();
export type WeightsResult = z.infer<typeof WeightsResultSchema>;

export const FeatureMapSchema = z
  .object({
    layer: z.string(),
    /** The activation's shape without the batch: [height, width, channels]. */
    shape: z.array(z.number().int()),
    shown: z.number().int(),
    /** Grid of channels, each scaled to its own min..max. */
    pngBase64: z.string(),
  })
  .strict();

export const FeaturesResultSchema = z
  .object({
    kind: z.literal('features'),
    ...dataCommon,
    position: z.number().int(),
    index: z.number().int(),
    label: z.number().int().optional(),
    classNames: z.array(z.string()).optional(),
    inputPngBase64: z.string(),
    /** Every layer that could be shown (for a picker). */
    layers: z.array(z.string()),
    maps: z.array(FeatureMapSchema),
    file: z.string(),
  })
  .strict();
export type FeaturesResult = z.infer<typeof FeaturesResultSchema>;

export const LatentResultSchema = z
  .object({
    kind: z.literal('latent'),
    ...dataCommon,
    /** Numbers in one code (the Bottleneck's output, flattened; a VAE's z_mean). */
    codeSize: z.number().int(),
    /** "code": a 2-D code drawn as it is; "pca": the first two principal components of wider codes. */
    projection: z.enum(['code', 'pca']),
    /** PCA: the share of the codes' variance each axis explains. */
    explained: z.tuple([z.number(), z.number()]).optional(),
    x: z.array(z.number()),
    y: z.array(z.number()),
    positions: z.array(z.number().int()),
    indices: z.array(z.number().int()),
    labels: z.array(z.number().int()).optional(),
    classNames: z.array(z.string()).optional(),
    /** Height, width, channels of one image. */
    imageShape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
    /** Every point's input and reconstruction, uint8 pixels (0..255) back to back, base64. */
    inputsBase64: z.string(),
    reconstructionsBase64: z.string(),
    file: z.string(),
  })
  .strict();
export type LatentResult = z.infer<typeof LatentResultSchema>;

export const InspectResultSchema = z.discriminatedUnion('kind', [ScoreResultSchema, PredictResultSchema, WeightsResultSchema, FeaturesResultSchema, LatentResultSchema]);
export type InspectResult = z.infer<typeof InspectResultSchema>;
export type InspectResultOf<K extends InspectKind> = Extract<InspectResult, { kind: K }>;

export const parseInspectRequest = (raw: unknown): { ok: true; request: ResolvedInspectRequest } | { ok: false; error: string } => {
  const r = InspectRequestSchema.safeParse(raw);
  if (r.success) return { ok: true, request: r.data };
  const issue = r.error.issues[0];
  return { ok: false, error: `Malformed inspect request: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
};

/**
 * Anomaly scores as CSV, in split order: dataset index, position within the split, label, class
 * name, score, and `flagged` (1 when the score is above the threshold). The worker writes it at the
 * suggested threshold (scores.csv); Export CSV… at the threshold set in the panel.
 */
export function anomalyCsv(result: ScoreResult, threshold: number): string {
  const names = result.classNames;
  const lines = ['index,position,label,class,score,flagged'];
  result.scores.forEach((score, i) => {
    const label = result.labels?.[i];
    const name = label === undefined ? '' : (names?.[label] ?? String(label));
    const quoted = /[",\n]/.test(name) ? `"${name.replaceAll('"', '""')}"` : name;
    lines.push(`${result.indices[i]},${result.positions[i]},${label ?? ''},${quoted},${score},${score > threshold ? 1 : 0}`);
  });
  return `${lines.join('\n')}\n`;
}

/** Flagged samples at a threshold: every score above it. */
export function countFlagged(scores: readonly number[], threshold: number): number {
  let n = 0;
  for (const s of scores) if (s > threshold) n++;
  return n;
}
