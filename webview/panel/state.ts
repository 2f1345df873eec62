/**
 * The training panel's state and its reducers: pure, so they are tested without a browser.
 *
 * Two parts: the run's data (`PanelState`: the host's snapshot plus the deltas since, null until
 * the first snapshot) and what the person is looking at (`PanelUi`: the open tab and each inspect
 * job's busy/error state). They are kept apart because the host may say `focus` or `inspecting`
 * before the panel has its first snapshot (a palette command that opens the panel), and that must
 * not be lost.
 */
import type { EpochRecord } from '../../src/core/runFormat';
import { layerwiseStepOf } from '../../src/core/stages';
import { INSPECT_KINDS, type InspectKind, type InspectResultOf } from '../../src/core/inspect';
import type { Overlay, PanelSnapshot, ToPanel } from '../../src/core/panelProtocol';

export type PanelState = PanelSnapshot | null;

const MAX_BATCHES = 5000;

/** The run's data: the newest snapshot and every delta since. */
export function reducePanel(state: PanelState, message: ToPanel): PanelState {
  if (message.type === 'snapshot') return message.snapshot;
  if (!state) return state;
  switch (message.type) {
    case 'epoch':
      return { ...state, epochs: [...state.epochs, message.record] };
    case 'batch': {
      const batches = state.batches.length >= MAX_BATCHES ? state.batches.slice(-MAX_BATCHES + 1) : state.batches;
      return { ...state, batches: [...batches, message.point] };
    }
    case 'preview':
      return { ...state, preview: { epoch: message.epoch, pngBase64: message.pngBase64, ...(message.caption ? { caption: message.caption } : {}) } };
    case 'status':
      return { ...state, status: message.status, message: message.message, run: message.run ?? state.run };
    case 'classifier':
      return { ...state, classifier: { stageIndex: message.stageIndex, epoch: message.epoch, preview: message.preview } };
    case 'evaluation':
      return { ...state, evaluation: message.evaluation };
    case 'overlays':
      return { ...state, overlays: message.overlays };
    case 'inspection':
      // The newest result per kind; the others keep their identity (the views memoise on them).
      return { ...state, inspections: [...state.inspections.filter((r) => r.kind !== message.result.kind), message.result] };
    case 'rejected':
      // The host could not accept one of this panel's messages: show the sentence with the run's other problems.
      return { ...state, problems: [...state.problems, message.error] };
    case 'inspecting':
    case 'focus':
      // What the person sees, not what the run is: see reducePanelUi.
      return state;
  }
}

/** The newest result of one inspect job on the run, or null. */
export function inspectionOf<K extends InspectKind>(state: PanelState, kind: K): InspectResultOf<K> | null {
  if (!state) return null;
  return (state.inspections.find((r): r is InspectResultOf<K> => r.kind === kind) ?? null);
}

/** The panel's tabs: the training curves, then one per inspect job. */
export type PanelView = 'training' | InspectKind;
export const PANEL_VIEWS: readonly PanelView[] = ['training', ...INSPECT_KINDS];
export const isPanelView = (v: unknown): v is PanelView => typeof v === 'string' && (PANEL_VIEWS as readonly string[]).includes(v);

export interface PanelUi {
  readonly view: PanelView;
  /** An inspect job of this kind is running (asked by this panel or by a palette command). */
  readonly busy: Readonly<Record<InspectKind, boolean>>;
  /** The sentence the last failed job of this kind left; cleared when the kind runs again. */
  readonly errors: Readonly<Record<InspectKind, string | null>>;
}

const perKind = <T>(value: T): Record<InspectKind, T> => Object.fromEntries(INSPECT_KINDS.map((k) => [k, value])) as Record<InspectKind, T>;

export const initialUi = (view: PanelView = 'training'): PanelUi => ({ view, busy: perKind(false), errors: perKind(null) });

/** What the panel does by itself, beside what the host says. */
export type PanelAction =
  | ToPanel
  /** The person picked a tab. */
  | { readonly type: 'showView'; readonly view: PanelView }
  /** The panel asked the host for an inspect job: busy at once, until the host's `inspecting` says otherwise. */
  | { readonly type: 'inspectRequested'; readonly kind: InspectKind };

/** Which run a snapshot shows: a snapshot of another run resets the tabs' state, one of the same run (a reload) keeps it. */
const runKey = (s: PanelSnapshot): string => `${s.run.graphFile}\u0000${s.run.runDir ?? ''}`;

/** The tab and the inspect jobs' state. `before` is the run's data before this action. */
export function reducePanelUi(ui: PanelUi, action: PanelAction, before: PanelState): PanelUi {
  const withKind = (kind: InspectKind, busy: boolean, error: string | null): PanelUi =>
    ui.busy[kind] === busy && ui.errors[kind] === error ? ui : { ...ui, busy: { ...ui.busy, [kind]: busy }, errors: { ...ui.errors, [kind]: error } };
  switch (action.type) {
    case 'showView':
    case 'focus':
      return ui.view === action.view ? ui : { ...ui, view: action.view };
    case 'inspectRequested':
      return withKind(action.kind, true, null);
    case 'inspecting':
      // Started: busy, no error; finished: neither; failed: the host's sentence.
      return withKind(action.kind, action.busy, action.error);
    case 'inspection':
      // A result means the job is over, whether or not its `inspecting` arrived.
      return withKind(action.result.kind, false, null);
    case 'snapshot':
      // Before the first snapshot, a `focus` or `inspecting` was about this run: keep it.
      return before && runKey(before) !== runKey(action.snapshot) ? initialUi() : ui;
    default:
      return ui;
  }
}

/** Everything the panel app holds. */
export interface PanelModel {
  /** The run's data, null until the first snapshot. */
  readonly data: PanelState;
  readonly ui: PanelUi;
}

export const initialModel = (view: PanelView = 'training'): PanelModel => ({ data: null, ui: initialUi(view) });

export function reducePanelModel(model: PanelModel, action: PanelAction): PanelModel {
  const ui = reducePanelUi(model.ui, action, model.data);
  const data = action.type === 'showView' || action.type === 'inspectRequested' ? model.data : reducePanel(model.data, action);
  return ui === model.ui && data === model.data ? model : { data, ui };
}

type StagePlans = NonNullable<PanelState>['run']['stages'];

/**
 * Where each stage starts on a run's epoch axis, so all its stages plot on one timeline: a stage
 * takes its planned epochs, or the epochs seen when the plan does not know it.
 */
export function timelineOffsets(stages: StagePlans, epochs: readonly EpochRecord[]): number[] {
  const offsets: number[] = [];
  let at = 0;
  const count = Math.max(stages.length, ...epochs.map((e) => e.stageIndex + 1), 1);
  for (let i = 0; i < count; i++) {
    offsets.push(at);
    const planned = stages[i]?.epochs;
    const seen = Math.max(0, ...epochs.filter((e) => e.stageIndex === i).map((e) => e.epoch));
    at += planned ?? seen;
  }
  return offsets;
}

/** Where each stage of this run starts on the shared epoch axis. */
export function stageOffsets(state: NonNullable<PanelState>): number[] {
  return timelineOffsets(state.run.stages, state.epochs);
}

export interface Series {
  readonly label: string;
  readonly values: (number | null)[];
  /** The quantity drawn ("loss", "accuracy"…): a run's series and an overlay's of one key share a colour. */
  readonly key?: string;
  /** Which overlay the series belongs to (index into `overlays`); absent for this run's own curves. */
  readonly overlay?: number;
}

/** Positions of a run's epoch records on its own timeline. */
function epochX(stages: StagePlans, epochs: readonly EpochRecord[]): number[] {
  const offsets = timelineOffsets(stages, epochs);
  return epochs.map((e) => (offsets[e.stageIndex] ?? 0) + e.epoch);
}

const metricNames = (epochs: readonly EpochRecord[]): string[] => [...new Set(epochs.flatMap((e) => Object.keys(e.metrics)))];

/** Epoch curves: x = position on the timeline; loss, val loss and every metric as series. */
export function epochSeries(state: NonNullable<PanelState>): { x: number[]; loss: Series[]; metrics: Series[] } {
  const x = epochX(state.run.stages, state.epochs);
  const loss: Series[] = [
    { label: 'loss', key: 'loss', values: state.epochs.map((e) => e.loss) },
    { label: 'val_loss', key: 'val_loss', values: state.epochs.map((e) => e.valLoss) },
  ];
  const names = metricNames(state.epochs).sort();
  const metrics = names.map((n) => ({ label: n, key: n, values: state.epochs.map((e) => e.metrics[n] ?? null) }));
  return { x, loss, metrics };
}

const LOSS_TEXT: Readonly<Record<string, string>> = {
  binaryCrossentropy: 'binary cross-entropy',
  meanSquaredError: 'mean squared error',
  categoricalCrossentropy: 'categorical cross-entropy',
};

/** One stage's (or one layer-wise step's) loss curves, on its own scale. */
export interface StageLoss {
  /** The epoch records' stage label ("autoencoder", "pretrain · layer 1 (784→128)"). */
  readonly label: string;
  readonly stageIndex: number;
  /** The loss it trains with, as people say it, when known. */
  readonly lossText: string | undefined;
  /** The stage's own epochs (0 = before it trained). */
  readonly x: number[];
  readonly loss: Series[];
}

/**
 * Loss curves one segment per stage, each on its own scale and named by its loss: losses of
 * different stages are not comparable (binary cross-entropy ~0.7 beside categorical cross-entropy
 * ~2.3 would make the first a flat line on one axis). A layer-wise stage gives one segment per
 * step, each with the step's loss (core/stages.ts layerwiseStepOf). In the order the run trained them.
 * Overlays (compared runs) join the segment of the stage with the same label, each on that stage's
 * own epochs; a stage only an overlay has comes after this run's.
 */
export function stageLossSeries(state: NonNullable<PanelState>): StageLoss[] {
  // Stages by their label, this run's in the order it trained them, then any only an overlay has.
  const byLabel = new Map<string, { stageIndex: number; lossText: string | undefined; own: EpochRecord[]; overlays: EpochRecord[][] }>();
  const overlays: readonly Overlay[] = state.overlays ?? [];
  const add = (e: EpochRecord, plans: NonNullable<PanelState>['run']['stages'], run: number): void => {
    let g = byLabel.get(e.stage);
    if (g === undefined) {
      const plan = plans[e.stageIndex];
      const loss = plan?.kind === 'layerwise' ? layerwiseStepOf(e.stage)?.loss : plan?.loss;
      g = { stageIndex: e.stageIndex, lossText: loss ? (LOSS_TEXT[loss] ?? loss) : undefined, own: [], overlays: overlays.map(() => []) };
      byLabel.set(e.stage, g);
    }
    (run < 0 ? g.own : g.overlays[run]!).push(e);
  };
  for (const e of state.epochs) add(e, state.run.stages, -1);
  overlays.forEach((o, r) => o.epochs.forEach((e) => add(e, o.stages, r)));
  const curves = (records: readonly EpochRecord[]): { x: number[]; series: (number | null)[][] } => ({ x: records.map((r) => r.epoch), series: [records.map((r) => r.loss), records.map((r) => r.valLoss)] });
  return [...byLabel.entries()].map(([label, g]) => {
    // One x array for this run and each overlay's records of the same stage (alignRuns sorts by epoch).
    const aligned = alignRuns([curves(g.own), ...g.overlays.map(curves)]);
    const loss: Series[] = [];
    aligned.series.forEach((values, r) => {
      const overlay = r === 0 ? undefined : r - 1;
      // A run without this stage draws nothing here.
      if ((overlay === undefined ? g.own : g.overlays[overlay]!).length === 0) return;
      const suffix = overlay === undefined ? '' : ` · ${overlays[overlay]!.label}`;
      const tag = overlay === undefined ? {} : { overlay };
      loss.push({ label: `loss${suffix}`, key: 'loss', values: values[0]!, ...tag });
      loss.push({ label: `val_loss${suffix}`, key: 'val_loss', values: values[1]!, ...tag });
    });
    return { label, stageIndex: g.stageIndex, lossText: g.lossText, x: aligned.x, loss };
  });
}

/**
 * Several runs on one x array, as uPlot wants it. Each run's points are sorted by x (stably) and
 * keyed by (x, how many earlier points of that run share that x): a stage boundary has two points
 * at one x (the last epoch of a stage and the next stage's epoch-0 evaluation), and they stay two
 * rows. The union of keys, sorted, is the shared x; a run has null where it has no point.
 */
export function alignRuns(runs: readonly { x: readonly number[]; series: readonly (readonly (number | null)[])[] }[]): { x: number[]; series: (number | null)[][][] } {
  const keyed = runs.map((run) => {
    const order = run.x.map((_, i) => i).sort((a, b) => run.x[a]! - run.x[b]! || a - b);
    const seen = new Map<number, number>();
    return order.map((i) => {
      const x = run.x[i]!;
      const k = seen.get(x) ?? 0;
      seen.set(x, k + 1);
      return { x, k, i };
    });
  });
  const rows = new Map<string, { x: number; k: number }>();
  for (const run of keyed) for (const p of run) rows.set(`${p.x}#${p.k}`, { x: p.x, k: p.k });
  const sorted = [...rows.values()].sort((a, b) => a.x - b.x || a.k - b.k);
  const rowOf = new Map(sorted.map((r, j) => [`${r.x}#${r.k}`, j]));
  const series = runs.map((run, r) =>
    run.series.map((values) => {
      const out: (number | null)[] = new Array<number | null>(sorted.length).fill(null);
      for (const p of keyed[r]!) out[rowOf.get(`${p.x}#${p.k}`)!] = values[p.i] ?? null;
      return out;
    }),
  );
  return { x: sorted.map((r) => r.x), series };
}

/**
 * This run's epoch curves plus every overlay's, each overlay on its own stage timeline, merged
 * onto one x array (nulls where a run has no point; draw with spanGaps). Overlay series carry
 * `overlay` (their index) and are labelled "<name> · <overlay label>". Without overlays this is
 * `epochSeries` sorted by x. `points` counts this run's own epochs.
 */
export function comparedEpochSeries(state: NonNullable<PanelState>): { x: number[]; loss: Series[]; metrics: Series[]; points: number } {
  const own = epochSeries(state);
  const overlays: readonly Overlay[] = state.overlays ?? [];
  if (overlays.length === 0) {
    // Still through alignRuns: uPlot needs ascending x, and a resumed run's records may not be.
    const sorted = alignRuns([{ x: own.x, series: [...own.loss, ...own.metrics].map((s) => s.values) }]);
    const values = sorted.series[0]!;
    return {
      x: sorted.x,
      loss: own.loss.map((s, i) => ({ ...s, values: values[i]! })),
      metrics: own.metrics.map((s, i) => ({ ...s, values: values[own.loss.length + i]! })),
      points: own.x.length,
    };
  }
  const names = [...new Set([...own.metrics.map((m) => m.label), ...overlays.flatMap((o) => metricNames(o.epochs))])].sort();
  const ownMetric = new Map(own.metrics.map((m) => [m.label, m.values]));
  const runs = [
    { x: own.x, series: [...own.loss.map((s) => s.values), ...names.map((n) => ownMetric.get(n) ?? own.x.map(() => null))] },
    ...overlays.map((o) => ({
      x: epochX(o.stages, o.epochs),
      series: [o.epochs.map((e) => e.loss), o.epochs.map((e) => e.valLoss), ...names.map((n) => o.epochs.map((e) => e.metrics[n] ?? null))],
    })),
  ];
  const aligned = alignRuns(runs);
  const loss: Series[] = [];
  const metrics: Series[] = [];
  aligned.series.forEach((values, r) => {
    const overlay = r === 0 ? undefined : r - 1;
    const suffix = overlay === undefined ? '' : ` · ${overlays[overlay]!.label}`;
    const tag = overlay === undefined ? {} : { overlay };
    loss.push({ label: `loss${suffix}`, key: 'loss', values: values[0]!, ...tag });
    loss.push({ label: `val_loss${suffix}`, key: 'val_loss', values: values[1]!, ...tag });
    names.forEach((n, m) => {
      const v = values[2 + m]!;
      // An overlay's metric that run never reported is left out rather than drawn as nothing.
      if (overlay !== undefined && v.every((y) => y === null)) return;
      metrics.push({ label: `${n}${suffix}`, key: n, values: v, ...tag });
    });
  });
  // This run's series first, then each overlay's, in name order within each.
  return { x: aligned.x, loss, metrics, points: own.x.length };
}

/** Batch losses on the same timeline, smoothed with an exponential moving average (as TensorBoard does). */
export function batchSeries(state: NonNullable<PanelState>, smoothing = 0.9): { x: number[]; raw: number[]; smooth: number[] } {
  const offsets = stageOffsets(state);
  const x: number[] = [];
  const raw: number[] = [];
  const smooth: number[] = [];
  let ema: number | undefined;
  let debias = 0;
  for (const b of state.batches) {
    x.push((offsets[b.stageIndex] ?? 0) + b.epoch - 1 + b.batch / b.batches);
    raw.push(b.loss);
    ema = ema === undefined ? 0 : ema;
    ema = smoothing * ema + (1 - smoothing) * b.loss;
    debias = smoothing * debias + (1 - smoothing);
    smooth.push(ema / debias);
  }
  return { x, raw, smooth };
}

/** A confusion matrix read for display: counts, row-normalised shares, per-class recall, accuracy. */
export interface ConfusionView {
  readonly classNames: readonly string[];
  readonly counts: readonly (readonly number[])[];
  /** counts[r][c] / sum of row r (0 for an empty row). */
  readonly share: readonly (readonly number[])[];
  readonly rowTotals: readonly number[];
  /** The diagonal share per true class, null for a class with no samples. */
  readonly recall: readonly (number | null)[];
  readonly total: number;
  readonly accuracy: number | null;
}

export function confusionView(classNames: readonly string[], confusion: readonly (readonly number[])[]): ConfusionView {
  const n = Math.max(classNames.length, confusion.length, ...confusion.map((r) => r.length));
  const names = Array.from({ length: n }, (_, i) => classNames[i] ?? String(i));
  const counts = names.map((_, r) => names.map((__, c) => confusion[r]?.[c] ?? 0));
  const rowTotals = counts.map((row) => row.reduce((a, b) => a + b, 0));
  const share = counts.map((row, r) => row.map((v) => (rowTotals[r]! > 0 ? v / rowTotals[r]! : 0)));
  const recall = counts.map((row, r) => (rowTotals[r]! > 0 ? row[r]! / rowTotals[r]! : null));
  const total = rowTotals.reduce((a, b) => a + b, 0);
  const correct = counts.reduce((a, row, r) => a + row[r]!, 0);
  return { classNames: names, counts, share, rowTotals, recall, total, accuracy: total > 0 ? correct / total : null };
}

const num = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));

/**
 * A chart in words, for screen readers (and anyone who would rather read): each series' first and
 * last value, its lowest and where, over how many points.
 */
export function chartSummary(title: string, xLabel: string, x: readonly number[], series: readonly Series[]): string {
  const parts = series.flatMap((s) => {
    const points = s.values.map((v, i) => ({ v, at: x[i] })).filter((p): p is { v: number; at: number } => p.v !== null && Number.isFinite(p.v) && p.at !== undefined);
    if (points.length === 0) return [];
    const first = points[0]!;
    const last = points.at(-1)!;
    const low = points.reduce((a, b) => (b.v < a.v ? b : a));
    if (points.length === 1) return [`${s.label} ${num(first.v)} at ${xLabel} ${first.at}`];
    return [`${s.label} from ${num(first.v)} at ${xLabel} ${first.at} to ${num(last.v)} at ${xLabel} ${last.at}, lowest ${num(low.v)} at ${xLabel} ${low.at} (${points.length} points)`];
  });
  return `${title}: ${parts.length ? parts.join('; ') : 'no values yet'}.`;
}
