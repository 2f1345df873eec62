/**
 * Mirroring an Encoder into a Decoder: dense widths in reverse, conv + pooling as conv + upsampling
 * (or transposed convs), ending at the encoder's input shape. Every result is checked with the
 * catalog's own expansion and the layer shape rules, so a mirror that analyzes wrong is never returned.
 */
import { type StageParams, type StageParamsInput, StageParamsSchema, getBlock } from './catalog';
import type { Activation } from './format';
import { type Pair, layerOutput } from './layers';
import { formatPath } from './problems';
import { type Shape, describeShape, formatShape, sameShape, shapeSize } from './shape';

export interface MirrorOptions {
  /** Activation of the reconstruction layer (default "sigmoid": pixels lie in 0..1). */
  readonly outputActivation?: Activation;
  /**
   * A dense code layer (a Bottleneck with a latent size) sits between the encoder and the decoder,
   * so the decoder starts by mirroring it back to the encoder's last width.
   */
  readonly codeFollows?: boolean;
  /** Mirror conv stages as transposed convs (strides = the encoder stage's pooling) instead of conv + UpSampling2D. */
  readonly transpose?: boolean;
}

export type MirrorResult =
  | { readonly stages: StageParamsInput[]; readonly reshapeTo?: Shape }
  | { readonly error: string };

type ConvStage = Extract<StageParams, { kind: 'conv' }>;
type DenseStage = Extract<StageParams, { kind: 'dense' }>;

/** Largest crop or growth (pixels per axis) the final fix-up layer may make; more means the mirror is far off. */
const MAX_FIXUP = 8;
/** Up to this many stages, every placement of up to three "valid" paddings is tried. */
const EXHAUSTIVE_STAGES = 16;

function pair(v: number | readonly [number, number]): Pair {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** A kernel or stride written as the samples write it: one number when both axes agree. */
function compact(p: Pair): number | [number, number] {
  return p[0] === p[1] ? p[0] : [p[0], p[1]];
}

/**
 * Output shape of an Encoder or Decoder with these stages on `input`, through the catalog's expansion
 * and the primitive layer rules: exactly what analyzeGraph computes for the block.
 */
export function stackOutputShape(
  type: 'Encoder' | 'Decoder',
  stages: readonly StageParamsInput[],
  input: Shape,
): { ok: true; shape: Shape } | { ok: false; message: string } {
  const block = getBlock(type);
  if (!block) throw new Error(`The catalog has no ${type} block`); // a catalog without it is a programming error
  const parsed = block.params.safeParse({ stages });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, message: issue ? `${formatPath(issue.path.filter(isKey)) || type}: ${issue.message}` : `Invalid ${type} stages.` };
  }
  const expansion = block.expand(parsed.data, { input });
  if (!expansion.ok) return { ok: false, message: expansion.message };
  let shape = expansion.outputShape ?? input;
  for (const spec of expansion.layers) {
    const r = layerOutput(spec, shape);
    if (!r.ok) return { ok: false, message: r.message };
    shape = r.shape;
  }
  return { ok: true, shape };
}

function isKey(p: PropertyKey): p is string | number {
  return typeof p !== 'symbol';
}

function validShape(shape: Shape): boolean {
  return (shape.length === 1 || shape.length === 3) && shape.every((d) => Number.isInteger(d) && d >= 1);
}

/** Build the stages of a Decoder that mirrors `encoderStages` applied to `encoderInput`. */
export function mirrorStages(encoderStages: readonly StageParamsInput[], encoderInput: Shape, opts: MirrorOptions = {}): MirrorResult {
  if (encoderStages.length === 0) return { error: 'The Encoder has no stages to mirror: add at least one.' };
  if (!validShape(encoderInput)) {
    return { error: `The Encoder's input ${formatShape(encoderInput)} is neither a vector (784) nor an image (28x28x1), so there is nothing to mirror back to.` };
  }
  const stages: StageParams[] = [];
  for (const [i, raw] of encoderStages.entries()) {
    const parsed = StageParamsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const detail = issue ? `${formatPath(issue.path.filter(isKey)) || 'stage'}: ${issue.message}` : 'invalid';
      return { error: `Encoder stage ${i + 1} is not valid (${detail}): fix it before mirroring.` };
    }
    stages.push(parsed.data);
  }
  // The whole stack first, so a problem is reported with its real stage number.
  const whole = stackOutputShape('Encoder', stages, encoderInput);
  if (!whole.ok) return { error: `The Encoder does not fit its ${describeShape(encoderInput)} input: ${whole.message}` };
  // Then stage by stage: the size each decoder stage has to give back.
  const shapes: Shape[] = [encoderInput];
  for (const s of stages) {
    const r = stackOutputShape('Encoder', [s], shapes[shapes.length - 1]!);
    if (!r.ok) return { error: `The Encoder does not fit its ${describeShape(encoderInput)} input: ${r.message}` };
    shapes.push(r.shape);
  }

  const dense = stages.filter((s): s is DenseStage => s.kind === 'dense');
  if (dense.length === stages.length) return mirrorDense(dense, encoderInput, opts);
  if (dense.length === 0) return mirrorConv(stages, shapes, encoderInput, opts);
  // Conv stages before dense ones (the reverse order does not validate above).
  const flatFrom = shapes[stages.findIndex((s) => s.kind === 'dense')]!;
  return {
    error:
      `The Encoder flattens its ${formatShape(flatFrom)} feature maps into dense stages; its mirror needs a Reshape ` +
      `between the dense and the conv stages, which one Decoder cannot hold: use a Decoder with the dense stages, ` +
      `a Reshape to ${formatShape(flatFrom)}, then a Decoder with the conv stages.`,
  };
}

function denseMirror(units: number, like: DenseStage): StageParamsInput {
  return {
    kind: 'dense',
    units,
    activation: like.activation,
    ...(like.batchNorm ? { batchNorm: true } : {}),
    ...(like.dropout > 0 ? { dropout: like.dropout } : {}),
  };
}

function mirrorDense(stages: readonly DenseStage[], input: Shape, opts: MirrorOptions): MirrorResult {
  const out: StageParamsInput[] = [];
  // Decoder stage k gives back encoder stage k's width; without a code layer the last stage IS the code.
  const first = opts.codeFollows ? stages.length - 1 : stages.length - 2;
  for (let k = first; k >= 0; k--) out.push(denseMirror(stages[k]!.units, stages[k]!));
  const width = shapeSize(input);
  out.push({ kind: 'dense', units: width, activation: opts.outputActivation ?? 'sigmoid' });
  const code = stages[stages.length - 1]!.units;
  const check = stackOutputShape('Decoder', out, [code]);
  if (!check.ok || !sameShape(check.shape, [width])) {
    return { error: `Mirroring the dense stages did not come back to ${width} values${check.ok ? '' : `: ${check.message}`}.` };
  }
  return input.length > 1 ? { stages: out, reshapeTo: [...input] } : { stages: out };
}

interface ConvPart {
  readonly stage: ConvStage;
  /** How many times smaller the stage makes height and width (strides x pooling). */
  readonly factor: Pair;
}

function mirrorConv(stages: readonly StageParams[], shapes: readonly Shape[], input: Shape, opts: MirrorOptions): MirrorResult {
  const transpose = opts.transpose === true;
  const code = shapes[shapes.length - 1]!;
  if (opts.codeFollows) {
    return {
      error:
        `The Encoder ends in ${formatShape(code)} feature maps but a dense code follows it, so the decoder would need a Dense ` +
        `and a Reshape before its conv stages, which one Decoder cannot hold: remove the Bottleneck's latent size ` +
        `(the feature maps become the code), or build the decoder by hand.`,
    };
  }
  const parts: ConvPart[] = [];
  for (const [i, s] of stages.entries()) {
    if (s.kind !== 'conv') {
      return { error: `Encoder stage ${i + 1} is a transposed conv, which enlarges the image: mirroring expects stages that keep or shrink it.` };
    }
    if (s.upsample > 1) {
      return { error: `Encoder stage ${i + 1} upsamples, which enlarges the image: mirroring expects stages that keep or shrink it.` };
    }
    const [sh, sw] = pair(s.strides);
    const factor: Pair = [sh * s.pool, sw * s.pool];
    if (!transpose && factor[0] !== factor[1]) {
      return {
        error:
          `Encoder stage ${i + 1} shrinks height and width by different factors (${factor[0]} and ${factor[1]}), ` +
          `but UpSampling2D scales both alike: mirror with transposed convolutions instead.`,
      };
    }
    if (!transpose && factor[0] > 8) {
      return { error: `Encoder stage ${i + 1} shrinks the image ${factor[0]}-fold; a Decoder stage upsamples at most 8-fold: mirror with transposed convolutions instead.` };
    }
    parts.push({ stage: s, factor });
  }
  const channels = input[2]!;
  const firstKernel = pair(parts[0]!.stage.kernelSize);
  const outputActivation = opts.outputActivation ?? 'sigmoid';
  // Decoder stage j mirrors encoder stage n-1-j; the extra last position is the reconstruction conv.
  const mirrored = [...parts].reverse();
  const positions = mirrored.length + 1;

  const build = (valid: ReadonlySet<number>, fix: { finalKernel?: Pair; growKernel?: Pair } = {}): StageParamsInput[] => {
    const out: StageParamsInput[] = mirrored.map((p, j): StageParamsInput => {
      const s = p.stage;
      const padding = valid.has(j) ? 'valid' : 'same';
      const extras = { ...(s.batchNorm ? { batchNorm: true } : {}), ...(s.dropout > 0 ? { dropout: s.dropout } : {}) };
      if (transpose) {
        const grow = j === mirrored.length - 1 ? fix.growKernel : undefined;
        return {
          kind: 'convTranspose',
          filters: s.filters,
          kernelSize: compact(grow ?? pair(s.kernelSize)),
          strides: compact(p.factor),
          padding: grow ? 'valid' : padding,
          activation: s.activation,
          ...extras,
        };
      }
      return {
        kind: 'conv',
        filters: s.filters,
        kernelSize: compact(pair(s.kernelSize)),
        padding,
        activation: s.activation,
        ...(p.factor[0] > 1 ? { upsample: p.factor[0] } : {}),
        ...extras,
      };
    });
    out.push({
      kind: 'conv',
      filters: channels,
      kernelSize: compact(fix.finalKernel ?? firstKernel),
      padding: fix.finalKernel || valid.has(positions - 1) ? 'valid' : 'same',
      activation: outputActivation,
    });
    return out;
  };
  const outputOf = (candidate: readonly StageParamsInput[]): Shape | undefined => {
    const r = stackOutputShape('Decoder', candidate, code);
    return r.ok ? r.shape : undefined;
  };

  // Odd sizes (7 -> 4 with "same" pooling) come back too big; like the seed 003 tutorial, a "valid"
  // conv with the stage's own kernel crops them. Try the fewest such convs, latest first.
  const most = positions <= EXHAUSTIVE_STAGES ? 3 : 1;
  for (let count = 0; count <= most; count++) {
    for (const chosen of subsets(positions, count)) {
      const candidate = build(new Set(chosen));
      const shape = outputOf(candidate);
      if (shape && sameShape(shape, input)) return { stages: candidate };
    }
  }

  // Otherwise one fix-up: the reconstruction conv crops the excess ("valid" with a kernel one larger
  // than the crop) and, with transposed convs, the last one grows what is missing (kernel = stride + gap).
  const plain = outputOf(build(new Set()));
  if (plain && plain.length === 3) {
    const gap: Pair = [input[0]! - plain[0]!, input[1]! - plain[1]!];
    const crops = gap.some((d) => d < 0);
    const grows = gap.some((d) => d > 0);
    if (gap.every((d) => Math.abs(d) <= MAX_FIXUP) && (!grows || transpose)) {
      const last = mirrored[mirrored.length - 1]!;
      const candidate = build(new Set(), {
        finalKernel: crops ? [1 - Math.min(gap[0], 0), 1 - Math.min(gap[1], 0)] : undefined,
        growKernel: grows ? [last.factor[0] + Math.max(gap[0], 0), last.factor[1] + Math.max(gap[1], 0)] : undefined,
      });
      const shape = outputOf(candidate);
      if (shape && sameShape(shape, input)) return { stages: candidate };
    }
    const why =
      grows && !transpose
        ? `The Encoder's "valid" padding or pooling drops pixels that upsampling cannot put back: use "same" padding in the Encoder, or mirror with transposed convolutions.`
        : crops && transpose
          ? `Transposed convolutions only enlarge, and that is too much to crop in the last layer: mirror with upsampling instead, whose "valid" convs trim as they go.`
          : `Adjust the Encoder's padding or pooling so each stage divides the image evenly, or build the decoder by hand.`;
    return { error: `Mirroring cannot rebuild the ${formatShape(input)} input exactly: the decoder would end at ${formatShape(plain)}. ${why}` };
  }
  return { error: `Mirroring cannot rebuild the ${formatShape(input)} input: the mirrored stages do not fit the ${formatShape(code)} code.` };
}

/** Index sets of size `k` from 0..n-1, those using later indices first. */
function* subsets(n: number, k: number, below = n): Generator<number[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = below - 1; i >= k - 1; i--) {
    for (const rest of subsets(n, k - 1, i)) yield [i, ...rest];
  }
}
