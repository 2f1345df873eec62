/**
 * The `*.latent.json` graph document: schemas (the single source of the TypeScript types, the
 * run-time validation and the shipped JSON Schema) and the vocabulary shared by every layer.
 */
import { z } from 'zod';

export const FORMAT_VERSION = 1;

export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh', 'softmax', 'linear', 'elu', 'selu', 'leakyRelu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const LOSSES = ['binaryCrossentropy', 'meanSquaredError', 'categoricalCrossentropy'] as const;
export type LossName = (typeof LOSSES)[number];

export const OPTIMIZERS = ['adadelta', 'adam', 'rmsprop', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Learning rates used when the file gives none: the classic Keras defaults the tutorials ran with. */
export const DEFAULT_LEARNING_RATE: Record<OptimizerName, number> = {
  adadelta: 1.0,
  adam: 0.001,
  rmsprop: 0.001,
  sgd: 0.01,
};

/** The training engines: the tfjs worker (in-process, every backend tfjs has) and PyTorch (generated code run by the user's Python: CUDA, MPS, CPU, torchrun). */
export const ENGINES = ['tfjs', 'pytorch'] as const;
export type Engine = (typeof ENGINES)[number];

export const METRICS = ['accuracy', 'meanSquaredError', 'meanAbsoluteError'] as const;
export type MetricName = (typeof METRICS)[number];

export const NODE_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const NodeIdSchema = z
  .string()
  .regex(NODE_ID_PATTERN, 'Node ids start with a letter and use only letters, digits, "_" and "-" (at most 64).');

export const NodeSchema = z
  .object({
    id: NodeIdSchema,
    type: z.string().min(1).describe('Block type, e.g. "Dense", "Encoder", "Output".'),
    label: z.string().max(200).optional().describe('Name shown on the canvas.'),
    trainable: z.boolean().optional().describe('false freezes every layer of this block.'),
    params: z.record(z.string(), z.unknown()).optional().describe("The block's parameters."),
  })
  .strict();
export type NodeSpec = z.infer<typeof NodeSchema>;

export const EdgeSchema = z
  .object({
    from: NodeIdSchema.describe('Id of the block whose output flows along this edge.'),
    to: NodeIdSchema.describe('Id of the block that takes it as input.'),
  })
  .strict();
export type EdgeSpec = z.infer<typeof EdgeSchema>;

export const SplitSchema = z
  .object({
    validation: z.number().min(0).max(0.9).default(0.1),
    test: z.number().min(0).max(0.9).default(0.2),
  })
  .strict();

const trainingFields = {
  output: NodeIdSchema.optional().describe('The Output block this trains (default: the first Output).'),
  loss: z.enum(LOSSES).optional(),
  optimizer: z.enum(OPTIMIZERS).optional(),
  learningRate: z.number().positive().max(100).optional(),
  epochs: z.number().int().min(1).max(100000).optional(),
  batchSize: z.number().int().min(1).max(65536).optional(),
  metrics: z.array(z.enum(METRICS)).optional(),
};

export const StageSchema = z
  .object({
    name: z.string().min(1).max(100),
    kind: z
      .enum(['fit', 'layerwise'])
      .optional()
      .describe('"fit" trains one model; "layerwise" pretrains an Encoder greedily, one layer at a time.'),
    freeze: z.array(NodeIdSchema).optional().describe('Blocks whose weights stay fixed in this stage.'),
    encoder: NodeIdSchema.optional().describe('For "layerwise": the Encoder to pretrain.'),
    ...trainingFields,
  })
  .strict();
export type StageSpec = z.infer<typeof StageSchema>;

/** Class indices (labels) or class names, each at most once; checked against the dataset's classes when it is loaded. */
export const ClassesSchema = z
  .array(z.union([z.number().int().min(0), z.string().min(1).max(200)]))
  .min(1)
  .superRefine((classes, ctx) => {
    const twice = classes.find((c, i) => classes.indexOf(c) !== i);
    if (twice !== undefined) ctx.addIssue({ code: 'custom', message: `names class ${JSON.stringify(twice)} twice: list each class once` });
  })
  .meta({ uniqueItems: true });

/** The built-in datasets and the prefixes of the file forms of `training.dataset` (src/data/spec.ts parses them). */
export const BUILTIN_DATASETS = ['mnist', 'fashion-mnist'] as const;
export const DATASET_PREFIXES = ['folder', 'npz', 'npy', 'csv', 'idx'] as const;

/** How stored values become model inputs (statistics from the training split): see src/data/normalize.ts. */
export const NORMALIZE_METHODS = ['unit', 'minmax', 'standard'] as const;
export type NormalizeMethod = (typeof NORMALIZE_METHODS)[number];

/** How images of another size than the Input's are brought to it: stretched whole ("fit") or scaled to cover and centre-cropped ("crop"). */
export const RESIZE_MODES = ['fit', 'crop'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

export const TrainingSchema = z
  .object({
    dataset: z
      .string()
      .min(1)
      .default('mnist')
      .describe('"mnist", "fashion-mnist", "folder:<dir>", "npz:<file>", "npy:<x.npy>[,<y.npy>]", "csv:<file>" or "idx:<images>,<labels>" (paths relative to this file).'),
    split: SplitSchema.default({ validation: 0.1, test: 0.2 }),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
    classes: ClassesSchema.optional().describe(
      'Train, validate and evaluate on these classes only, by index or name (anomaly detection: the other classes are the anomalies that Detect Anomalies scores).',
    ),
    normalize: z
      .enum(NORMALIZE_METHODS)
      .optional()
      .describe('"unit": bytes / 255 (float images as they are); "minmax": to [0, 1]; "standard": z-scores. Statistics from the training split. Default: "unit" for images, "standard" for tables.'),
    resize: z
      .enum(RESIZE_MODES)
      .optional()
      .describe('Images of another size than the Input are resized to it: "fit" stretches the whole image, "crop" scales to cover and centre-crops. Without it such an image stops the load.'),
    labelColumn: z.string().min(1).max(200).optional().describe('The CSV column with the labels (default: "label", "class" or "target").'),
    ...trainingFields,
    loss: z.enum(LOSSES).default('binaryCrossentropy'),
    optimizer: z.enum(OPTIMIZERS).default('adam'),
    epochs: z.number().int().min(1).max(100000).default(10),
    batchSize: z.number().int().min(1).max(65536).default(256),
    metrics: z.array(z.enum(METRICS)).default([]),
    stages: z.array(StageSchema).optional().describe('Training stages run in order; weights flow from one to the next.'),
    initFrom: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "The starting weights: a run folder (or an imported model's <name>.weights folder) whose checkpoint the layers that match by name and shape load before the first stage; relative to this file. train --init-from overrides it; a resumed run continues from its own checkpoint.",
      ),
  })
  .strict();
export type TrainingSpec = z.infer<typeof TrainingSchema>;

export const PositionSchema = z.object({ x: z.number(), y: z.number() }).strict();
export const LayoutSchema = z.record(z.string(), PositionSchema);

export const GraphDocumentSchema = z
  .object({
    formatVersion: z.literal(FORMAT_VERSION),
    name: z.string().min(1).max(200),
    description: z.string().max(5000).optional(),
    reproduces: z.string().max(1000).optional().describe('The tutorial this graph reproduces.'),
    leftOut: z
      .array(z.string().min(1).max(2000))
      .max(10000)
      .optional()
      .describe('Layers of an imported model that the graph lacks (import --partial), one sentence each: each is a warning in the editor until the line is removed.'),
    nodes: z.array(NodeSchema),
    edges: z.array(EdgeSchema).default([]),
    training: TrainingSchema.default(TrainingSchema.parse({})),
    layout: LayoutSchema.default({}).describe('Canvas positions, kept apart from the architecture.'),
  })
  .strict();
export type GraphDocument = z.infer<typeof GraphDocumentSchema>;
/** A document as written in a file: defaults not yet filled in. */
export type GraphDocumentInput = z.input<typeof GraphDocumentSchema>;
