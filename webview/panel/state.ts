/** The training panel's state and its reducer: pure, so it is tested without a browser. */
import type { PanelSnapshot, ToPanel } from '../../src/core/panelProtocol';

export type PanelState = PanelSnapshot | null;

const MAX_BATCHES = 5000;

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
      return { ...state, preview: { epoch: message.epoch, pngBase64: message.pngBase64 } };
    case 'status':
      return { ...state, status: message.status, message: message.message, run: message.run ?? state.run };
  }
}

/** Where each stage starts on the shared epoch axis, so all stages plot on one timeline. */
export function stageOffsets(state: NonNullable<PanelState>): number[] {
  const offsets: number[] = [];
  let at = 0;
  const count = Math.max(state.run.stages.length, ...state.epochs.map((e) => e.stageIndex + 1), 1);
  for (let i = 0; i < count; i++) {
    offsets.push(at);
    const planned = state.run.stages[i]?.epochs;
    const seen = Math.max(0, ...state.epochs.filter((e) => e.stageIndex === i).map((e) => e.epoch));
    at += planned ?? seen;
  }
  return offsets;
}

export interface Series {
  readonly label: string;
  readonly values: (number | null)[];
}

/** Epoch curves: x = position on the timeline; loss, val loss and every metric as series. */
export function epochSeries(state: NonNullable<PanelState>): { x: number[]; loss: Series[]; metrics: Series[] } {
  const offsets = stageOffsets(state);
  const x = state.epochs.map((e) => (offsets[e.stageIndex] ?? 0) + e.epoch);
  const loss: Series[] = [
    { label: 'loss', values: state.epochs.map((e) => e.loss) },
    { label: 'val_loss', values: state.epochs.map((e) => e.valLoss) },
  ];
  const names = [...new Set(state.epochs.flatMap((e) => Object.keys(e.metrics)))].sort();
  const metrics = names.map((n) => ({ label: n, values: state.epochs.map((e) => e.metrics[n] ?? null) }));
  return { x, loss, metrics };
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
