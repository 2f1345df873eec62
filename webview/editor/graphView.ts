/** Pure mapping from a graph document and its analysis to what the canvas draws. */
import type { GraphAnalysis } from '../../src/core/analyze';
import { getBlock } from '../../src/core/catalog';
import { formatShape } from '../../src/core/shape';
import { canConnect } from '../../src/core/edits';
import { type StageRole, type StageShape, resolveStages, stageRoles } from '../../src/core/stages';

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

/** One chip of the stage bar: a declared training stage and what it does to every block. */
export interface StageChip {
  readonly index: number;
  readonly name: string;
  readonly kind: 'fit' | 'layerwise';
  /** The chip's tooltip: kind, target, epochs, loss, optimizer, frozen blocks (one line each). */
  readonly detail: string;
  readonly roles: ReadonlyMap<string, StageRole>;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

interface StageFacts extends StageShape {
  readonly epochs?: number;
  readonly loss?: string;
  readonly optimizer?: string;
  readonly learningRate?: number;
  readonly batchSize?: number;
}

function describeStage(s: StageFacts): string {
  const lines =
    s.kind === 'layerwise'
      ? [`layer-wise pretraining of ${s.encoder ? `"${s.encoder}"` : 'an Encoder (name one)'}`, ...(s.epochs !== undefined ? [`${plural(s.epochs, 'epoch')} per layer`] : [])]
      : [`fits Output "${s.outputId}"`, ...(s.epochs !== undefined ? [plural(s.epochs, 'epoch')] : [])];
  if (s.kind === 'fit' && s.loss) lines.push(`loss ${s.loss}`);
  if (s.optimizer) lines.push(`${s.optimizer}${s.learningRate !== undefined ? ` (learning rate ${s.learningRate})` : ''}`);
  if (s.batchSize !== undefined) lines.push(`batch ${s.batchSize}`);
  if (s.kind === 'fit' && s.freeze.length > 0) lines.push(`freezes ${s.freeze.join(', ')}`);
  return lines.join('\n');
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The stage bar's chips: one per stage the graph declares (none for the implicit single stage).
 * A graph with errors still gets its chips, read loosely from the raw document, so the bar does
 * not flicker away while a block is being rewired.
 */
export function stageChips(doc: Record<string, unknown>, analysis: GraphAnalysis): StageChip[] {
  const training = isObject(doc.training) ? doc.training : {};
  const raw = Array.isArray(training.stages) ? training.stages : [];
  if (raw.length === 0) return [];
  if (analysis.document) {
    return resolveStages(analysis).map((s, index) => ({ index, name: s.name, kind: s.kind, detail: describeStage(s), roles: stageRoles(analysis, s) }));
  }
  return raw.map((r, index) => {
    const s = isObject(r) ? r : {};
    const shape: StageShape = {
      kind: s.kind === 'layerwise' ? 'layerwise' : 'fit',
      outputId: str(s.output) ?? str(training.output) ?? analysis.outputs[0]?.id ?? '',
      freeze: Array.isArray(s.freeze) ? s.freeze.filter((f): f is string => typeof f === 'string') : [],
      encoder: str(s.encoder),
    };
    const detail = describeStage({
      ...shape,
      epochs: int(s.epochs) ?? int(training.epochs),
      loss: str(s.loss) ?? str(training.loss),
      optimizer: str(s.optimizer) ?? str(training.optimizer),
      batchSize: int(s.batchSize) ?? int(training.batchSize),
    });
    return { index, name: str(s.name) ?? `stage ${index + 1}`, kind: shape.kind, detail: `${detail}\n(the graph has errors: fix them for the full plan)`, roles: stageRoles(analysis, shape) };
  });
}

/**
 * The stage whose roles the canvas shows: the one the person picked (null: they cleared it), else
 * the stage training now, else none. An index past the last stage (stages removed) shows none.
 */
export function shownStage(stageCount: number, picked: number | null | undefined, runningStage: number | undefined): number | undefined {
  const index = picked === undefined ? runningStage : (picked ?? undefined);
  return index !== undefined && index >= 0 && index < stageCount ? index : undefined;
}

/** Badge text and tooltip for a block's role in the shown stage; 'fixed' blocks get none. */
export function roleBadge(role: StageRole | undefined, stage: Pick<StageChip, 'index' | 'name'>, trainable: boolean): { label: string; title: string } | undefined {
  const where = `stage ${stage.index + 1} "${stage.name}"`;
  switch (role) {
    case 'trained':
      return { label: 'trains', title: `Its weights update in ${where}.` };
    case 'frozen':
      return { label: 'frozen', title: `Runs in ${where} but keeps its weights (${trainable ? 'the stage freezes it' : 'trainable is off'}).` };
    case 'unused':
      return { label: 'not in stage', title: `${capitalize(where)} does not run this block.` };
    default:
      return undefined;
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * The suggested name of the exported picture: the graph file's name with .png for .latent.json
 * (what the host proposes next to it), else the graph's name made file-safe.
 */
export function pngFileName(fileName: string, graphName: unknown): string {
  const base = fileName.split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.latent\.json$/i, '').replace(/\.json$/i, '');
  const safe = (s: string): string =>
    s
      .replace(/[^\w.-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .slice(0, 96);
  const name = safe(stem) || (typeof graphName === 'string' ? safe(graphName) : '') || 'graph';
  return `${name}.png`;
}

/** A block's wiring as the inspector offers it from the keyboard: its wires in and out, and the blocks its output may go to. */
export interface Wiring {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Blocks a new wire from this one may reach (core/edits.ts canConnect), in document order. */
  readonly targets: readonly string[];
}

export function wiringOf(doc: Record<string, unknown>, id: string): Wiring {
  const edges = (Array.isArray(doc.edges) ? doc.edges : []).filter(isObject).map((e) => ({ from: String(e.from), to: String(e.to) }));
  const ids = (Array.isArray(doc.nodes) ? doc.nodes : []).filter(isObject).map((n) => String(n.id));
  return {
    inputs: edges.filter((e) => e.to === id).map((e) => e.from),
    outputs: edges.filter((e) => e.from === id).map((e) => e.to),
    targets: ids.filter((t) => t !== id && canConnect(doc, id, t).ok),
  };
}
