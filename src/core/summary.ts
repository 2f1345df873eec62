/** Keras-style model summaries (`model.summary()`), as a table for people and as JSON for tools. */
import type { GraphAnalysis } from './analyze';
import type { Shape } from './shape';

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

const fmt = (n: number): string => n.toLocaleString('en-US');
const shapeText = (s: readonly (number | null)[]): string => `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;

export function formatSummaryTable(summary: ModelSummary): string {
  const rows = summary.layers.map((l) => [`${l.name} (${l.type})`, shapeText(l.outputShape), fmt(l.params), l.trainable ? 'yes' : 'no']);
  const header = ['Layer (type)', 'Output Shape', 'Param #', 'Trainable'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 3);
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('').trimEnd();
  const total = widths.reduce((a, b) => a + b, 0);
  return [
    `Model: "${summary.name}"`,
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
