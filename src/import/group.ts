/**
 * Recognising an autoencoder in an imported chain of layers and grouping it into Encoder,
 * Bottleneck and Decoder blocks, the way the samples are drawn. A chain is grouped only when the
 * blocks express it exactly: its layers parse into Encoder/Decoder stages (a dense or conv layer
 * with its batch norm, pooling or upsampling and dropout), the narrowest stage before the last is
 * narrower than the input and has a path after it that never narrows, and the last stage gives back
 * the input's size. Otherwise the
 * graph keeps one block per layer. The grouped graph's parameter count must equal the ungrouped
 * one's, and each Keras layer with weights is mapped to the layer of the group that takes them.
 * Pure: no Node, no TensorFlow.js.
 */
import { analyzeGraph } from '../core/analyze';
import { KERAS_CLASS } from '../core/layers';

export interface ChainBlock {
  readonly id: string;
  readonly type: string;
  readonly params?: Record<string, unknown>;
}

export interface GroupedChain {
  readonly blocks: ChainBlock[];
  readonly edges: { from: string; to: string }[];
  /** Block id of each original block → the compiled layer name that takes its weights (for blocks with weights). */
  readonly layerOf: ReadonlyMap<string, string>;
}

interface Stage {
  readonly params: Record<string, unknown>;
  /** The original blocks the stage is made of, in order. */
  readonly members: readonly ChainBlock[];
  /** Values out of the stage (the product of its output shape). */
  readonly size: number;
  readonly kind: 'dense' | 'conv' | 'convTranspose';
}

/** Blocks without weights that may stand before the encoder or after the decoder. */
const LEADING = new Set(['GaussianNoise', 'Dropout', 'Reshape']);
const TRAILING = new Set(['Reshape']);
const WEIGHTED = new Set([KERAS_CLASS.dense, KERAS_CLASS.conv2d, KERAS_CLASS.conv2dTranspose, KERAS_CLASS.batchNormalization]);

const near = (a: unknown, b: number): boolean => typeof a === 'number' && Math.abs(a - b) < 1e-9;
const square = (v: unknown): number | undefined => (typeof v === 'number' ? v : Array.isArray(v) && v.length === 2 && v[0] === v[1] && typeof v[0] === 'number' ? v[0] : undefined);

/** The stages the body parses into, or undefined where a layer does not fit one. */
function parseStages(body: readonly ChainBlock[], sizes: ReadonlyMap<string, number>, ranks: ReadonlyMap<string, number>): Stage[] | undefined {
  const stages: Stage[] = [];
  let i = 0;
  const peek = (type: string): ChainBlock | undefined => (body[i]?.type === type ? body[i] : undefined);
  while (i < body.length) {
    const members: ChainBlock[] = [];
    let params: Record<string, unknown>;
    let kind: Stage['kind'];
    // A dense stage after feature maps flattens them, as the stage expansion does.
    const flatten = peek('Flatten');
    if (flatten && body[i + 1]?.type === 'Dense') {
      members.push(flatten);
      i++;
    }
    const head = body[i]!;
    const p = head.params ?? {};
    if (head.type === 'Dense') {
      // Keras applies a Dense on feature maps along the last axis; a dense stage flattens them first.
      if (p.useBias === false || (!flatten && ranks.get(head.id) !== 1)) return undefined;
      kind = 'dense';
      params = { kind, units: p.units, activation: p.activation };
    } else if (head.type === 'Conv2D' || head.type === 'Conv2DTranspose') {
      kind = head.type === 'Conv2D' ? 'conv' : 'convTranspose';
      params = { kind, filters: p.filters, kernelSize: p.kernelSize, strides: p.strides, padding: p.padding, activation: p.activation };
    } else return undefined;
    members.push(head);
    i++;
    const bn = peek('BatchNormalization');
    if (bn && near(bn.params?.momentum, 0.99) && near(bn.params?.epsilon, 0.001)) {
      params.batchNorm = true;
      members.push(bn);
      i++;
    }
    const pool = kind === 'conv' ? peek('MaxPooling2D') : undefined;
    const up = kind === 'conv' ? peek('UpSampling2D') : undefined;
    if (pool) {
      const size = square(pool.params?.poolSize);
      if (size !== undefined && size > 1 && size <= 8 && square(pool.params?.strides) === size) {
        params.pool = size;
        params.poolPadding = pool.params?.padding ?? 'valid';
        members.push(pool);
        i++;
      }
    } else if (up) {
      const size = square(up.params?.size);
      if (size !== undefined && size > 1 && size <= 8) {
        params.upsample = size;
        members.push(up);
        i++;
      }
    }
    const drop = peek('Dropout');
    if (drop && typeof drop.params?.rate === 'number' && drop.params.rate > 0 && drop.params.rate < 1) {
      params.dropout = drop.params.rate;
      members.push(drop);
      i++;
    }
    const size = sizes.get(members.at(-1)!.id);
    if (size === undefined) return undefined;
    stages.push({ params, members, size, kind });
  }
  return stages;
}

/**
 * The chain (Input, body..., Output; `edges` link them in order) with its autoencoder grouped, or
 * undefined when it is not a recognisable autoencoder or the groups would not express it exactly.
 */
export function groupAutoencoder(document: Record<string, unknown>, chain: readonly ChainBlock[], newId: (name: string) => string): GroupedChain | undefined {
  const input = chain[0];
  const output = chain.at(-1);
  if (!input || input.type !== 'Input' || !output || output.type !== 'Output' || output.params?.target !== 'input') return undefined;
  const before = analyzeGraph(document);
  if (!before.ok) return undefined;
  const sizes = new Map<string, number>();
  const ranks = new Map<string, number>();
  for (const [id, node] of before.nodes) {
    if (node.outputShape) sizes.set(id, node.outputShape.reduce((a, b) => a * b, 1));
    if (node.inputShape) ranks.set(id, node.inputShape.length);
  }

  const body = chain.slice(1, -1);
  let start = 0;
  while (start < body.length && LEADING.has(body[start]!.type)) start++;
  let end = body.length;
  while (end > start && TRAILING.has(body[end - 1]!.type)) end--;
  const stages = parseStages(body.slice(start, end), sizes, ranks);
  if (!stages || stages.length < 2) return undefined;

  // The narrowest stage before the last (the first of equals), with a path after it that never narrows
  // up to the last stage, which gives back the input's size (a conv decoder's last stage narrows to its channels).
  let k = 0;
  for (let s = 1; s < stages.length - 1; s++) if (stages[s]!.size < stages[k]!.size) k = s;
  if (stages.slice(k + 1, -1).some((s, j) => s.size < stages[k + j]!.size)) return undefined;
  if (stages.at(-1)!.size !== sizes.get(input.id)) return undefined;
  // Narrower than the input: a code, not a widening net.
  if (stages[k]!.size >= sizes.get(input.id)!) return undefined;

  // A plain dense code becomes the Bottleneck's own layer; any other code stays the encoder's last stage.
  const code = stages[k]!;
  const denseCode = code.kind === 'dense' && code.params.batchNorm === undefined && code.params.dropout === undefined;
  const encoderStages = denseCode ? stages.slice(0, k) : stages.slice(0, k + 1);
  const decoderStages = stages.slice(k + 1);
  const groups: { block: ChainBlock; members: ChainBlock[] }[] = [];
  if (encoderStages.length) groups.push({ block: { id: newId('encoder'), type: 'Encoder', params: { stages: encoderStages.map((s) => s.params) } }, members: encoderStages.flatMap((s) => [...s.members]) });
  groups.push({
    block: { id: newId('bottleneck'), type: 'Bottleneck', params: denseCode ? { latentSize: code.params.units, activation: code.params.activation } : {} },
    members: denseCode ? [...code.members] : [],
  });
  groups.push({ block: { id: newId('decoder'), type: 'Decoder', params: { stages: decoderStages.map((s) => s.params) } }, members: decoderStages.flatMap((s) => [...s.members]) });

  const blocks: ChainBlock[] = [input, ...body.slice(0, start), ...groups.map((g) => g.block), ...body.slice(end), output];
  const edges = blocks.slice(1).map((b, j) => ({ from: blocks[j]!.id, to: b.id }));
  const grouped = { ...document, nodes: blocks, edges, layout: Object.fromEntries(blocks.map((b, j) => [b.id, { x: 0, y: j * 150 }])) };
  const after = analyzeGraph(grouped);
  if (!after.ok || after.totals.params !== before.totals.params) return undefined;

  // Each original block with weights → the group's layer that takes them, in order.
  const layerOf = new Map<string, string>();
  for (const b of blocks) {
    const node = after.nodes.get(b.id);
    if (node && !groups.some((g) => g.block.id === b.id)) for (const l of node.layers) if (WEIGHTED.has(l.className)) layerOf.set(b.id, l.name);
  }
  for (const g of groups) {
    const ours = (after.nodes.get(g.block.id)?.layers ?? []).filter((l) => WEIGHTED.has(l.className));
    const theirs = g.members.filter((m) => WEIGHTED.has(m.type));
    if (ours.length !== theirs.length || ours.some((l, j) => l.className !== theirs[j]!.type)) return undefined;
    theirs.forEach((m, j) => layerOf.set(m.id, ours[j]!.name));
  }
  return { blocks, edges, layerOf };
}
