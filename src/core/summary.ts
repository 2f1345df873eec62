/** Keras-style model summaries (`model.summary()`), as a table for people and as JSON for tools. */
import { type GraphAnalysis, modelChain } from './analyze';
import type { Shape } from './shape';
import { resolveStages } from './stages';

export interface SummaryLayer {
  readonly name: string;
  readonly type: string;
  /** The block the layer belongs to. */
  readonly node: string;
  readonly outputShape: (number | null)[];
  readonly params: number;
  readonly trainable: boolean;
}

export interface ModelSummary {
  readonly name: string;
  /** The stage whose freezing the trainable counts follow (sub-model summaries with a stage). */
  readonly stage?: string;
  readonly layers: SummaryLayer[];
  readonly totalParams: number;
  readonly trainableParams: number;
  readonly nonTrainableParams: number;
}

const withBatch = (shape: Shape): (number | null)[] => [null, ...shape];

/** One row per primitive layer in dependency order, with the InputLayer first as Keras prints it. */
export function summarize(analysis: GraphAnalysis): ModelSummary {
  const layers: SummaryLayer[] = [];
  for (const id of analysis.order) {
    const node = analysis.nodes.get(id)!;
    if (node.type === 'Input' && node.outputShape) {
      layers.push({ name: id, type: 'InputLayer', node: id, outputShape: withBatch(node.outputShape), params: 0, trainable: true });
    }
    for (const layer of node.layers) {
      layers.push({
        name: layer.name,
        type: layer.className,
        node: id,
        outputShape: withBatch(layer.outputShape),
        params: layer.params,
        trainable: node.trainable,
      });
    }
  }
  return {
    name: analysis.document?.name ?? 'model',
    layers,
    totalParams: analysis.totals.params,
    trainableParams: analysis.totals.trainableParams,
    nonTrainableParams: analysis.totals.nonTrainableParams,
  };
}

/** Why a sub-model summary cannot be made: an unknown model or stage, named with the ones there are. */
export class SummaryError extends Error {}

/**
 * One named model of the graph (autoencoder, encoder, decoder, classifier, …) as Keras' summary of
 * that tf.keras Model prints it: its InputLayer (the graph's Input, or `<name>_input` for a model
 * fed by a code) and the layers between its input and output. With a stage, a layer of a block the
 * stage freezes counts as non-trainable (the stage's view: seed 000's classifier has 170 trainable
 * parameters in its stage, the softmax layer's).
 */
export function summarizeModel(analysis: GraphAnalysis, modelName: string, stageName?: string): ModelSummary {
  const plan = analysis.models.find((m) => m.name === modelName);
  if (!plan) throw new SummaryError(`The graph has no model "${modelName}": its models are ${analysis.models.map((m) => `"${m.name}"`).join(', ')}`);
  let frozen: ReadonlySet<string> = new Set();
  let stage: string | undefined;
  if (stageName !== undefined) {
    const stages = resolveStages(analysis);
    const found = stages.find((s) => s.name === stageName);
    if (!found) throw new SummaryError(`The graph has no stage "${stageName}": its stages are ${stages.map((s) => `"${s.name}"`).join(', ')}`);
    frozen = new Set(found.freeze);
    stage = found.name;
  }
  const nodes = modelChain(analysis, plan) ?? [];
  const from = analysis.nodes.get(plan.from)!;
  const layers: SummaryLayer[] = [
    { name: from.type === 'Input' ? from.id : `${plan.name}_input`, type: 'InputLayer', node: from.id, outputShape: withBatch(from.outputShape ?? []), params: 0, trainable: true },
  ];
  let trainableParams = 0;
  let totalParams = 0;
  for (const node of nodes) {
    const trainable = node.trainable && !frozen.has(node.id);
    for (const layer of node.layers) {
      layers.push({ name: layer.name, type: layer.className, node: node.id, outputShape: withBatch(layer.outputShape), params: layer.params, trainable });
      totalParams += layer.params;
      if (trainable) trainableParams += layer.trainableParams;
    }
  }
  return { name: plan.name, ...(stage ? { stage } : {}), layers, totalParams, trainableParams, nonTrainableParams: totalParams - trainableParams };
}

/** Every named model's summary (with a stage: that stage's trainable counts). */
export function summarizeModels(analysis: GraphAnalysis, stageName?: string): ModelSummary[] {
  return analysis.models.map((m) => summarizeModel(analysis, m.name, stageName));
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const shapeText = (s: readonly (number | null)[]): string => `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;

export function formatSummaryTable(summary: ModelSummary): string {
  const rows = summary.layers.map((l) => [`${l.name} (${l.type})`, shapeText(l.outputShape), fmt(l.params), l.trainable ? 'yes' : 'no']);
  const header = ['Layer (type)', 'Output Shape', 'Param #', 'Trainable'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 3);
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('').trimEnd();
  const total = widths.reduce((a, b) => a + b, 0);
  return [
    `Model: "${summary.name}"${summary.stage ? ` (trainable as in stage "${summary.stage}")` : ''}`,
    '_'.repeat(total),
    line(header),
    '='.repeat(total),
    ...rows.map(line),
    '='.repeat(total),
    `Total params: ${fmt(summary.totalParams)}`,
    `Trainable params: ${fmt(summary.trainableParams)}`,
    `Non-trainable params: ${fmt(summary.nonTrainableParams)}`,
    '_'.repeat(total),
  ].join('\n');
}
