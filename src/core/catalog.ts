/**
 * The block catalog: every block a graph may use, its parameters (zod schemas with defaults and
 * ranges), and how it expands into primitive layers. Composite blocks (Encoder, Bottleneck,
 * Decoder, ClassifierHead) are stacks of primitives, so shapes and counts have one rule set.
 */
import { z } from 'zod';
import { ACTIVATIONS } from './format';
import type { LayerSpec, Pair } from './layers';
import { type Shape, describeShape, formatShape } from './shape';

export type BlockCategory = 'Inputs' | 'Layers' | 'Autoencoder blocks' | 'Heads' | 'Outputs';

const activation = z.enum(ACTIVATIONS);
const padding = z.enum(['same', 'valid']);
// Up to 65 536: a dense decoder of 128x128x3 images has 49 152 units (Keras sets no limit).
const dim = z.number().int().min(1).max(65536);
const pairOrNumber = z.union([dim, z.tuple([dim, dim])]);
const rate = z.number().min(0).max(0.95);

function pair(v: number | readonly [number, number]): Pair {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** One stage of an Encoder or Decoder: a dense layer, or a conv layer with optional pooling / upsampling. */
export const StageParamsSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('dense'),
      units: dim,
      activation: activation.default('relu'),
      batchNorm: z.boolean().default(false),
      dropout: rate.default(0),
    })
    .strict(),
  z
    .object({
      kind: z.literal('conv'),
      filters: dim,
      kernelSize: pairOrNumber.default(3),
      strides: pairOrNumber.default(1),
      padding: padding.default('same'),
      activation: activation.default('relu'),
      batchNorm: z.boolean().default(false),
      pool: z.number().int().min(1).max(8).default(1).describe('MaxPooling2D size after the conv (1 = none).'),
      poolPadding: padding.default('same'),
      upsample: z.number().int().min(1).max(8).default(1).describe('UpSampling2D factor after the conv (1 = none).'),
      dropout: rate.default(0),
    })
    .strict(),
  z
    .object({
      kind: z.literal('convTranspose'),
      filters: dim,
      kernelSize: pairOrNumber.default(3),
      strides: pairOrNumber.default(2),
      padding: padding.default('same'),
      activation: activation.default('relu'),
      batchNorm: z.boolean().default(false),
      dropout: rate.default(0),
    })
    .strict(),
]);
export type StageParams = z.infer<typeof StageParamsSchema>;
export type StageParamsInput = z.input<typeof StageParamsSchema>;

export interface ExpandContext {
  /** The node's input shape (undefined for Input). */
  readonly input: Shape | undefined;
}

/**
 * How one expanded layer is wired inside its block, when it is not simply the next link of a chain
 * (a variational Bottleneck's z_mean and z_log_var both read the block's input; its sampling layer
 * reads both of them).
 */
export interface LayerLink {
  /** Name suffix: the layer is called `<node id>.<name>` (default `<node id>.<index>`, or the node id for a lone layer). */
  readonly name?: string;
  /**
   * Indices (into the block's layers) of the layers whose outputs feed this one, in order; -1 is
   * the block's input. Default: the previous layer (the block's input for the first).
   */
  readonly from?: readonly number[];
}

export type Expansion =
  | {
      readonly ok: true;
      readonly layers: readonly LayerSpec[];
      readonly outputShape?: Shape;
      /** Per layer, its name and inputs when it is not the next link of a chain (parallel to `layers`). The block's output is its last layer's. */
      readonly links?: readonly LayerLink[];
    }
  | { readonly ok: false; readonly message: string; readonly path?: readonly (string | number)[] };

export interface BlockDefinition<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly category: BlockCategory;
  /** One sentence for the palette and hover. */
  readonly summary: string;
  readonly params: S;
  /** Parameters a freshly dropped block gets. */
  readonly example: z.input<S>;
  /** 0 for Input; every other block takes exactly one tensor. */
  readonly inputs: 0 | 1;
  /** Parameters that do not apply given the others (e.g. a Noise block's rate in Gaussian mode): editors hide them. */
  inapplicable?(params: Readonly<Record<string, unknown>>): readonly string[];
  expand(params: z.output<S>, ctx: ExpandContext): Expansion;
}

function define<S extends z.ZodType>(def: BlockDefinition<S>): BlockDefinition<S> {
  return def;
}

const done = (layers: LayerSpec[], outputShape?: Shape): Expansion => ({ ok: true, layers, outputShape });

function flattenIfImage(input: Shape | undefined): LayerSpec[] {
  return input && input.length > 1 ? [{ kind: 'flatten' }] : [];
}

function expandStages(stages: readonly StageParams[], input: Shape | undefined, owner: string): Expansion {
  const layers: LayerSpec[] = [];
  let rank = input?.length ?? 1;
  for (const [i, s] of stages.entries()) {
    if (s.kind === 'dense') {
      // A dense stage after feature maps flattens them first, as a person writing Keras would.
      if (rank > 1) layers.push({ kind: 'flatten' });
      layers.push({ kind: 'dense', units: s.units, activation: s.activation, useBias: true });
      rank = 1;
    } else {
      if (rank !== 3) {
        return {
          ok: false,
          path: ['stages', i],
          message:
            `${owner} stage ${i + 1} is a ${s.kind === 'conv' ? 'conv' : 'transposed conv'} stage but receives ` +
            `${input && i === 0 ? `the ${describeShape(input)}` : 'a flat vector'}: add a Reshape before it ` +
            `(e.g. to 28x28x1) or make it a dense stage.`,
        };
      }
      if (s.kind === 'conv' && s.pool > 1 && s.upsample > 1) {
        return { ok: false, path: ['stages', i], message: `${owner} stage ${i + 1} both pools and upsamples: keep one.` };
      }
      const common = {
        filters: s.filters,
        kernelSize: pair(s.kernelSize),
        strides: pair(s.strides),
        padding: s.padding,
        activation: s.activation,
      };
      layers.push({ kind: s.kind === 'conv' ? 'conv2d' : 'conv2dTranspose', ...common });
    }
    if (s.batchNorm) layers.push({ kind: 'batchNormalization', momentum: 0.99, epsilon: 0.001 });
    if (s.kind === 'conv' && s.pool > 1) {
      layers.push({ kind: 'maxPooling2d', poolSize: [s.pool, s.pool], strides: [s.pool, s.pool], padding: s.poolPadding });
    }
    if (s.kind === 'conv' && s.upsample > 1) layers.push({ kind: 'upSampling2d', size: [s.upsample, s.upsample] });
    if (s.dropout > 0) layers.push({ kind: 'dropout', rate: s.dropout });
  }
  return done(layers);
}

const InputBlock = define({
  type: 'Input',
  category: 'Inputs',
  summary: 'The images or vectors fed to the model: a flat vector (784) or an image (28x28x1).',
  params: z
    .object({
      shape: z
        .array(dim)
        .min(1)
        .max(3)
        .describe('[784] for flat vectors, [28, 28, 1] for images (height, width, channels).'),
    })
    .strict(),
  example: { shape: [784] },
  inputs: 0,
  expand: (p) => {
    if (p.shape.length === 2) {
      return {
        ok: false,
        path: ['shape'],
        message: `Input shape ${formatShape(p.shape)} has no channel axis: use [${p.shape.join(', ')}, 1] for a grayscale image.`,
      };
    }
    return done([], p.shape);
  },
});

const DenseBlock = define({
  type: 'Dense',
  category: 'Layers',
  summary: 'A fully connected layer.',
  params: z.object({ units: dim, activation: activation.default('relu'), useBias: z.boolean().default(true) }).strict(),
  example: { units: 64, activation: 'relu' },
  inputs: 1,
  expand: (p) => done([{ kind: 'dense', units: p.units, activation: p.activation, useBias: p.useBias }]),
});

const convParams = z
  .object({
    filters: dim,
    kernelSize: pairOrNumber.default(3),
    strides: pairOrNumber.default(1),
    padding: padding.default('same'),
    activation: activation.default('relu'),
  })
  .strict();

const Conv2DBlock = define({
  type: 'Conv2D',
  category: 'Layers',
  summary: 'A 2-D convolution over image feature maps.',
  params: convParams,
  example: { filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' },
  inputs: 1,
  expand: (p) =>
    done([
      {
        kind: 'conv2d',
        filters: p.filters,
        kernelSize: pair(p.kernelSize),
        strides: pair(p.strides),
        padding: p.padding,
        activation: p.activation,
      },
    ]),
});

const Conv2DTransposeBlock = define({
  type: 'Conv2DTranspose',
  category: 'Layers',
  summary: 'A transposed convolution: learns to upsample feature maps.',
  params: convParams.extend({ strides: pairOrNumber.default(2) }),
  example: { filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' },
  inputs: 1,
  expand: (p) =>
    done([
      {
        kind: 'conv2dTranspose',
        filters: p.filters,
        kernelSize: pair(p.kernelSize),
        strides: pair(p.strides),
        padding: p.padding,
        activation: p.activation,
      },
    ]),
});

const MaxPoolingBlock = define({
  type: 'MaxPooling2D',
  category: 'Layers',
  summary: 'Keeps the largest value of each window: halves height and width at size 2.',
  params: z
    .object({ poolSize: pairOrNumber.default(2), strides: pairOrNumber.optional(), padding: padding.default('valid') })
    .strict(),
  example: { poolSize: 2, padding: 'same' },
  inputs: 1,
  expand: (p) =>
    done([{ kind: 'maxPooling2d', poolSize: pair(p.poolSize), strides: pair(p.strides ?? p.poolSize), padding: p.padding }]),
});

const UpSamplingBlock = define({
  type: 'UpSampling2D',
  category: 'Layers',
  summary: 'Repeats rows and columns: doubles height and width at size 2.',
  params: z.object({ size: pairOrNumber.default(2) }).strict(),
  example: { size: 2 },
  inputs: 1,
  expand: (p) => done([{ kind: 'upSampling2d', size: pair(p.size) }]),
});

const FlattenBlock = define({
  type: 'Flatten',
  category: 'Layers',
  summary: 'Turns an image or feature maps into a flat vector.',
  params: z.object({}).strict(),
  example: {},
  inputs: 1,
  expand: () => done([{ kind: 'flatten' }]),
});

const ReshapeBlock = define({
  type: 'Reshape',
  category: 'Layers',
  summary: 'Gives the same values a new shape, e.g. 784 → 28x28x1.',
  params: z.object({ targetShape: z.array(dim).min(1).max(3) }).strict(),
  example: { targetShape: [28, 28, 1] },
  inputs: 1,
  expand: (p) => done([{ kind: 'reshape', targetShape: p.targetShape }]),
});

const DropoutBlock = define({
  type: 'Dropout',
  category: 'Layers',
  summary: 'Zeroes a random fraction of values while training.',
  params: z.object({ rate: rate.default(0.5) }).strict(),
  example: { rate: 0.2 },
  inputs: 1,
  expand: (p) => done([{ kind: 'dropout', rate: p.rate }]),
});

const BatchNormBlock = define({
  type: 'BatchNormalization',
  category: 'Layers',
  summary: 'Normalizes each channel over the batch.',
  params: z
    .object({ momentum: z.number().min(0).max(1).default(0.99), epsilon: z.number().positive().max(1).default(0.001) })
    .strict(),
  example: {},
  inputs: 1,
  expand: (p) => done([{ kind: 'batchNormalization', momentum: p.momentum, epsilon: p.epsilon }]),
});

const GaussianNoiseBlock = define({
  type: 'GaussianNoise',
  category: 'Layers',
  summary: 'Adds Gaussian noise while training only (for denoising autoencoders).',
  params: z.object({ stddev: z.number().min(0).max(10).default(0.5) }).strict(),
  example: { stddev: 0.5 },
  inputs: 1,
  expand: (p) => done([{ kind: 'gaussianNoise', stddev: p.stddev }]),
});

export const NOISE_MODES = ['gaussian', 'masking'] as const;

const NoiseBlock = define({
  type: 'Noise',
  category: 'Autoencoder blocks',
  summary:
    'Corrupts its input while training only, for a denoising autoencoder: Gaussian noise, or masking (zeroes a fraction of the values). The loss still compares with the clean input.',
  params: z
    .object({
      mode: z
        .enum(NOISE_MODES)
        .default('gaussian')
        .describe('"gaussian" adds N(0, stddev²) noise to every value; "masking" sets each value to 0 with probability rate.'),
      stddev: z.number().min(0).max(10).default(0.5).describe('Standard deviation of the Gaussian noise (mode "gaussian").'),
      rate: rate.default(0.3).describe('Fraction of values set to 0, not rescaled (mode "masking").'),
    })
    .strict(),
  example: { mode: 'gaussian', stddev: 0.5 },
  inputs: 1,
  inapplicable: (p) => (p.mode === 'masking' ? ['stddev'] : ['rate']),
  expand: (p) => done([p.mode === 'gaussian' ? { kind: 'gaussianNoise', stddev: p.stddev } : { kind: 'maskingNoise', rate: p.rate }]),
});

const ActivationBlock = define({
  type: 'Activation',
  category: 'Layers',
  summary: 'Applies an activation function.',
  params: z.object({ activation }).strict(),
  example: { activation: 'relu' },
  inputs: 1,
  expand: (p) => done([{ kind: 'activation', activation: p.activation }]),
});

const stagesSchema = z.array(StageParamsSchema).min(1).max(64);

const EncoderBlock = define({
  type: 'Encoder',
  category: 'Autoencoder blocks',
  summary: 'A stack of dense or conv stages that compresses the input.',
  params: z.object({ stages: stagesSchema }).strict(),
  example: {
    stages: [
      { kind: 'dense', units: 128, activation: 'relu' },
      { kind: 'dense', units: 64, activation: 'relu' },
    ],
  },
  inputs: 1,
  expand: (p, ctx) => expandStages(p.stages, ctx.input, 'Encoder'),
});

const BottleneckBlock = define({
  type: 'Bottleneck',
  category: 'Autoencoder blocks',
  summary:
    'The latent code. With a latent size it is a dense layer; without, it marks the incoming feature maps as the code. Variational: a VAE code sampled from a learned mean and log-variance.',
  params: z
    .object({
      latentSize: dim.optional().describe('Width of the code; leave out to use the incoming tensor as the code.'),
      activation: activation.default('relu').describe('Activation of the code layer (not used when variational: z_mean and z_log_var are linear).'),
      variational: z
        .boolean()
        .default(false)
        .describe(
          'A variational autoencoder\'s code: Dense z_mean and z_log_var, z = z_mean + exp(z_log_var / 2) * eps sampled while training (z_mean otherwise), and the KL divergence from N(0, 1) added to the loss.',
        ),
      klWeight: z
        .number()
        .min(0)
        .max(1000)
        .default(1)
        .describe('Weight of the KL term of a variational code (1: the standard VAE loss, 0: none).'),
    })
    .strict(),
  example: { latentSize: 32, activation: 'relu' },
  inputs: 1,
  inapplicable: (p) => (p.variational === true ? ['activation'] : ['klWeight']),
  expand: (p, ctx) => {
    if (p.variational) {
      if (p.latentSize === undefined) {
        return { ok: false, path: ['latentSize'], message: 'A variational Bottleneck needs a latentSize: the width of z_mean, z_log_var and the sampled code z.' };
      }
      const flat = flattenIfImage(ctx.input);
      const mean = flat.length; // index of z_mean; the layer before it (or the block input, -1) feeds both branches
      const code = { kind: 'dense', units: p.latentSize, activation: 'linear', useBias: true } as const;
      return {
        ok: true,
        layers: [...flat, code, code, { kind: 'sampling', klWeight: p.klWeight }],
        links: [...flat.map(() => ({ name: 'flatten' })), { name: 'z_mean' }, { name: 'z_log_var', from: [mean - 1] }, { name: 'z', from: [mean, mean + 1] }],
      };
    }
    return p.latentSize === undefined
      ? done([])
      : done([...flattenIfImage(ctx.input), { kind: 'dense', units: p.latentSize, activation: p.activation, useBias: true }]);
  },
});

const DecoderBlock = define({
  type: 'Decoder',
  category: 'Autoencoder blocks',
  summary: 'A stack of stages that rebuilds the input from the code; its last stage makes the reconstruction.',
  params: z.object({ stages: stagesSchema }).strict(),
  example: {
    stages: [
      { kind: 'dense', units: 128, activation: 'relu' },
      { kind: 'dense', units: 784, activation: 'sigmoid' },
    ],
  },
  inputs: 1,
  expand: (p, ctx) => expandStages(p.stages, ctx.input, 'Decoder'),
});

const ClassifierHeadBlock = define({
  type: 'ClassifierHead',
  category: 'Heads',
  summary: 'Dense layers ending in a softmax over the classes.',
  params: z
    .object({
      classes: z.number().int().min(2).max(1000).default(10),
      hidden: z.array(dim).max(16).default([]).describe('Widths of hidden dense layers before the softmax.'),
      activation: activation.default('relu'),
      dropout: rate.default(0),
    })
    .strict(),
  example: { classes: 10 },
  inputs: 1,
  expand: (p, ctx) => {
    const layers: LayerSpec[] = flattenIfImage(ctx.input);
    for (const units of p.hidden) {
      layers.push({ kind: 'dense', units, activation: p.activation, useBias: true });
      if (p.dropout > 0) layers.push({ kind: 'dropout', rate: p.dropout });
    }
    layers.push({ kind: 'dense', units: p.classes, activation: 'softmax', useBias: true });
    return done(layers);
  },
});

export const OutputTargetSchema = z.enum(['input', 'labels']);
export type OutputTarget = z.infer<typeof OutputTargetSchema>;

const OutputBlock = define({
  type: 'Output',
  category: 'Outputs',
  summary: 'What the model is trained to produce: a reconstruction of its input, or class labels.',
  params: z
    .object({
      target: OutputTargetSchema.default('input').describe('"input" for a reconstruction, "labels" for classes.'),
    })
    .strict(),
  example: { target: 'input' },
  inputs: 1,
  expand: () => done([]),
});

export const BLOCKS = [
  InputBlock,
  DenseBlock,
  Conv2DBlock,
  Conv2DTransposeBlock,
  MaxPoolingBlock,
  UpSamplingBlock,
  FlattenBlock,
  ReshapeBlock,
  DropoutBlock,
  BatchNormBlock,
  GaussianNoiseBlock,
  ActivationBlock,
  NoiseBlock,
  EncoderBlock,
  BottleneckBlock,
  DecoderBlock,
  ClassifierHeadBlock,
  OutputBlock,
] as const satisfies readonly BlockDefinition[];

export type BlockType = (typeof BLOCKS)[number]['type'];

const byType = new Map<string, BlockDefinition>(BLOCKS.map((b) => [b.type, b as unknown as BlockDefinition]));

export function getBlock(type: string): BlockDefinition | undefined {
  return byType.get(type);
}

export function blockTypes(): string[] {
  return BLOCKS.map((b) => b.type);
}

/** The closest known type by edit distance, for "did you mean" hints. */
export function suggestBlockType(type: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of byType.keys()) {
    const d = editDistance(type.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(type.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
