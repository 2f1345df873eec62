/** Pure mapping from a graph document and its analysis to what the canvas draws. */
import type { GraphAnalysis } from '../../src/core/analyze';
import { getBlock } from '../../src/core/catalog';
import { formatShape } from '../../src/core/shape';

export interface LayerRow {
  readonly name: string;
  readonly className: string;
  readonly shape: string;
  readonly params: number;
}

export interface BlockView {
  readonly id: string;
  readonly type: string;
  readonly label: string | undefined;
  readonly category: string;
  readonly known: boolean;
  readonly hasInput: boolean;
  readonly hasOutput: boolean;
  readonly outputShape: string | undefined;
  readonly params: number;
  readonly trainable: boolean;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly layers: readonly LayerRow[];
  /** "target: input" for Outputs, "latent 16" for Bottlenecks… a one-line gist of the params. */
  readonly gist: string;
  readonly position: { readonly x: number; readonly y: number };
}

export interface EdgeView {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly shape: string | undefined;
  readonly broken: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function gist(type: string, params: Record<string, unknown> | undefined): string {
  if (!params) return '';
  const stages = Array.isArray(params.stages) ? params.stages.filter(isObject) : undefined;
  switch (type) {
    case 'Input':
      return Array.isArray(params.shape) ? `shape ${params.shape.join('x')}` : '';
    case 'Encoder':
    case 'Decoder':
      return stages ? stages.map((s) => (s.kind === 'dense' ? String(s.units) : `${s.kind === 'convTranspose' ? 'deconv' : 'conv'} ${String(s.filters)}`)).join(' → ') : '';
    case 'Bottleneck':
      if (params.latentSize === undefined) return 'code = incoming maps';
      return params.variational === true ? `variational, latent ${String(params.latentSize)}` : `latent ${String(params.latentSize)}`;
    case 'Noise':
      return params.mode === 'masking' ? `masking ${String(params.rate ?? 0.3)}` : `gaussian σ ${String(params.stddev ?? 0.5)}`;
    case 'ClassifierHead':
      return `${String(params.classes ?? 10)} classes`;
    case 'Output':
      return params.target === 'labels' ? 'predicts labels' : 'reconstructs input';
    case 'Dense':
      return `${String(params.units)} ${String(params.activation ?? 'relu')}`;
    case 'Conv2D':
    case 'Conv2DTranspose':
      return `${String(params.filters)} filters`;
    default:
      return '';
  }
}

export function blockViews(doc: Record<string, unknown>, analysis: GraphAnalysis): BlockView[] {
  const layout = isObject(doc.layout) ? doc.layout : {};
  const rawNodes = Array.isArray(doc.nodes) ? doc.nodes.filter(isObject) : [];
  const views: BlockView[] = [];
  rawNodes.forEach((raw, i) => {
    const id = typeof raw.id === 'string' ? raw.id : undefined;
    if (!id) return;
    const type = typeof raw.type === 'string' ? raw.type : '?';
    const node = analysis.nodes.get(id);
    const block = getBlock(type);
    const problems = analysis.problems.filter((p) => p.nodeId === id);
    const pos = layout[id];
    views.push({
      id,
      type,
      label: typeof raw.label === 'string' ? raw.label : undefined,
      category: block?.category ?? 'Layers',
      known: block !== undefined,
      hasInput: block ? block.inputs === 1 : true,
      hasOutput: type !== 'Output',
      outputShape: node?.outputShape ? formatShape(node.outputShape) : undefined,
      params: node?.paramCount ?? 0,
      trainable: raw.trainable !== false,
      errors: problems.filter((p) => p.severity === 'error').map((p) => p.message),
      warnings: problems.filter((p) => p.severity === 'warning').map((p) => p.message),
      layers: (node?.layers ?? []).map((l) => ({ name: l.name, className: l.className, shape: formatShape(l.outputShape), params: l.params })),
      gist: gist(type, node?.params ?? (isObject(raw.params) ? raw.params : undefined)),
      position: isObject(pos) && typeof pos.x === 'number' && typeof pos.y === 'number' ? { x: pos.x, y: pos.y } : { x: i * 240, y: 0 },
    });
  });
  return views;
}

export function edgeViews(doc: Record<string, unknown>, analysis: GraphAnalysis): EdgeView[] {
  const edges = Array.isArray(doc.edges) ? doc.edges.filter(isObject) : [];
  return edges
    .filter((e): e is { from: string; to: string } => typeof e.from === 'string' && typeof e.to === 'string')
    .map((e) => {
      const shape = analysis.nodes.get(e.from)?.outputShape;
      const target = analysis.nodes.get(e.to);
      return {
        id: `${e.from}->${e.to}`,
        from: e.from,
        to: e.to,
        shape: shape ? formatShape(shape) : undefined,
        broken: !target || analysis.problems.some((p) => p.severity === 'error' && p.nodeId === e.to),
      };
    });
}
