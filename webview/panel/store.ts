/**
 * The panel's one module that talks to VS Code (through webview/shared/host.ts) and holds its
 * state: every host message is validated there, then dispatched through the reducer (state.ts)
 * into the store; components read it with `usePanel(selector)` and post with `postToHost`.
 */
import { type FromPanel, ToPanelSchema } from '../../src/core/panelProtocol';
import { connectToHost } from '../shared/host';
import { createStore } from '../shared/store';
import { type PanelAction, type PanelModel, type PanelView, initialModel, isPanelView, reducePanelModel } from './state';

/**
 * What survives a reload: the run folder (the host's serializer reads it to show the run again)
 * and the open tab.
 */
export interface SavedState {
  readonly runDir?: string;
  readonly view?: PanelView;
}

/** How long epoch records take from the worker to here (ms): read by an end-to-end test and a benchmark. */
export interface Latency {
  readonly last: number | null;
  readonly max: number | null;
}

export interface PanelStore {
  readonly model: PanelModel;
  readonly latency: Latency;
}

const host = connectToHost<FromPanel, typeof ToPanelSchema>(ToPanelSchema, (m, receivedAt) => {
  if (m.type === 'epoch' && m.record.endedAt !== undefined) {
    const ms = receivedAt - m.record.endedAt;
    store.set((s) => ({ ...s, latency: { last: ms, max: s.latency.max === null ? ms : Math.max(s.latency.max, ms) } }));
  }
  dispatch(m);
});

function readSavedState(): SavedState {
  const s = host.getState();
  if (typeof s !== 'object' || s === null) return {};
  const runDir = 'runDir' in s && typeof s.runDir === 'string' ? s.runDir : undefined;
  const view = 'view' in s && isPanelView(s.view) ? s.view : undefined;
  return { ...(runDir ? { runDir } : {}), ...(view ? { view } : {}) };
}

/** The state VS Code kept from before a reload (read once, at start). */
export const savedState: SavedState = readSavedState();

const store = createStore<PanelStore>({ model: initialModel(savedState.view), latency: { last: null, max: null } });

export function dispatch(action: PanelAction): void {
  store.set((s) => {
    const model = reducePanelModel(s.model, action);
    return model === s.model ? s : { ...s, model };
  });
}

export const usePanel = store.use;

export const postToHost = (message: Exclude<FromPanel, { type: 'rejected' }>): void => void host.post(message);

export const saveState = (state: SavedState): void => host.setState(state);
