/** The one place that talks to VS Code: `acquireVsCodeApi` may be called once per webview. */
import type { FromPanel } from '../../src/core/panelProtocol';
import { type PanelView, isPanelView } from './state';

interface VsCodeApi {
  postMessage(message: FromPanel): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

export const postToHost = (message: FromPanel): void => vscode.postMessage(message);

/**
 * What survives a reload: the run folder (the host's serializer reads it to show the run again)
 * and the open tab.
 */
export interface SavedState {
  readonly runDir?: string;
  readonly view?: PanelView;
}

export function savedState(): SavedState {
  const s = vscode.getState();
  if (typeof s !== 'object' || s === null) return {};
  const runDir = 'runDir' in s && typeof s.runDir === 'string' ? s.runDir : undefined;
  const view = 'view' in s && isPanelView(s.view) ? s.view : undefined;
  return { ...(runDir ? { runDir } : {}), ...(view ? { view } : {}) };
}

export const saveState = (state: SavedState): void => vscode.setState(state);
