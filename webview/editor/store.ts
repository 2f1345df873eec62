/**
 * The editor's one module that talks to VS Code (through webview/shared/host.ts, which owns
 * acquireVsCodeApi and validates every host message) and holds the editor state in a store
 * (webview/shared/store.ts). Components read it through `useEditor(selector)` and stay thin.
 */
import { type GraphAnalysis, analyzeGraph } from '../../src/core/analyze';
import { type JsonParseError, parseJsonText } from '../../src/core/canonical';
import type { DatasetCard } from '../../src/core/datasetCard';
import { type GraphEdit, applyEdit } from '../../src/core/edits';
import { DEFAULT_LAYOUT, type LayoutPrefs, type ToEditor, ToEditorSchema, type ToHost } from '../../src/core/editorProtocol';
import { connectToHost } from '../shared/host';
import { createStore } from '../shared/store';
import { type StageChip, shownStage, stageChips } from './graphView';
import type { PanelName } from './layout';
import { EMPTY_RUN_VIEW, type OutputPreview, type RunView, reduceRunView } from './previews';

export type DocumentState =
  | { readonly kind: 'loading' }
  | { readonly kind: 'empty' }
  | { readonly kind: 'invalidJson'; readonly error: JsonParseError }
  | { readonly kind: 'graph'; readonly value: Record<string, unknown>; readonly analysis: GraphAnalysis };

export interface Toast {
  readonly id: number;
  readonly message: string;
  readonly kind: 'error' | 'info';
}

export interface EditorState {
  readonly fileName: string;
  readonly version: number;
  readonly document: DocumentState;
  readonly selection: readonly string[];
  readonly toast: Toast | null;
  /** Newest training preview per Output block id (see previewFor). */
  readonly previews: Readonly<Record<string, OutputPreview>>;
  /** This graph is training now: the header shows Stop instead of Train. */
  readonly training: boolean;
  /** The stage training now, when the host said which. */
  readonly trainingStage: number | undefined;
  /** The stage bar's chips (empty when the graph declares no stages). */
  readonly stages: readonly StageChip[];
  /** The stage the person clicked; null: they cleared it; undefined: follow the training run. */
  readonly pickedStage: number | null | undefined;
  /** The dataset card of the Input block, once the host has read the dataset. */
  readonly datasetCard: DatasetCard | null;
  /** Where the palette and inspector go (layout.ts); the host remembers it per workspace. */
  readonly layout: LayoutPrefs;
  /** False in Restricted Mode: editing and validating work, training does not. */
  readonly trusted: boolean;
  /** The side panel shown as an overlay over the canvas (from its icon rail), if any. */
  readonly overlay: PanelName | null;
}

const store = createStore<EditorState>({
  fileName: '',
  version: 0,
  document: { kind: 'loading' },
  selection: [],
  toast: null,
  ...EMPTY_RUN_VIEW,
  stages: [],
  pickedStage: undefined,
  datasetCard: null,
  layout: DEFAULT_LAYOUT,
  trusted: true,
  overlay: null,
});
/** Draws the graph and posts it as `savePng`; set by the canvas once React Flow is up. */
let exportImage: (() => Promise<void>) | undefined;
/** An export asked for before the canvas was up (the command opened the editor). */
let exportPending = false;
let toastId = 0;
/** Set when an edit creates blocks: the next document selects them, as people expect after add/paste. */
let selectCreatedBlocks = false;

function setState(patch: Partial<EditorState>): void {
  store.set((s) => ({ ...s, ...patch }));
}

export function readDocument(text: string): DocumentState {
  if (text.trim() === '') return { kind: 'empty' };
  const parsed = parseJsonText(text);
  if (!parsed.ok) return { kind: 'invalidJson', error: parsed.error };
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'invalidJson', error: { message: 'the file must hold one JSON object', line: 1, column: 1, offset: 0 } };
  }
  return { kind: 'graph', value: value as Record<string, unknown>, analysis: analyzeGraph(value) };
}

// ---------------------------------------------------------------------------------------------
// Edits shown before the host answers. An edit the person makes is applied here too (src/core's
// applyEdit, as the host applies it) and drawn at once; the host's document stays the truth: while
// edits are in flight its documents are kept, and once the last one is answered (editApplied or
// editFailed) the newest host document is shown, so a refused edit rolls back and nothing the
// host did is lost. The round trip (webview → workbench → extension host and back, a network hop
// in code-server) is most of an edit's time on a large graph (bench/editor.ts).

/** Edits that change nothing but values and wires: safe to show before the host has them. */
const OPTIMISTIC = new Set<GraphEdit['kind']>(['setParam', 'setParams', 'setTraining', 'setNode', 'move', 'connect', 'disconnect']);
/** Ids of the edits shown here that the host has not answered yet. */
const inFlight = new Set<number>();
/** The newest document the host sent, shown once no edit is in flight. */
let hostDocument: Extract<ToEditor, { type: 'document' }> | undefined;
/** Edits the host never answers (it went away) must not freeze the view: give up waiting after this. */
const IN_FLIGHT_MS = 5000;
let inFlightTimer: ReturnType<typeof setTimeout> | undefined;

function answered(id: number | undefined): void {
  if (id !== undefined) inFlight.delete(id);
  if (inFlight.size > 0) return;
  clearTimeout(inFlightTimer);
  if (hostDocument) showDocument(hostDocument);
}

/** Applies `edits` to the shown graph and draws the result; false when it cannot (the host then decides alone). */
function showOptimistic(edits: readonly GraphEdit[]): boolean {
  const state = store.get();
  if (state.document.kind !== 'graph' || !edits.every((e) => OPTIMISTIC.has(e.kind))) return false;
  let value = state.document.value;
  for (const edit of edits) {
    const r = applyEdit(value, edit);
    if (!r.ok) return false; // the host will refuse it with the sentence
    value = r.document;
  }
  const analysis = analyzeGraph(value);
  setState({ document: { kind: 'graph', value, analysis }, stages: stageChips(value, analysis) });
  return true;
}

function postEdits(edits: readonly GraphEdit[]): void {
  const optimistic = showOptimistic(edits);
  const id = host.post(edits.length === 1 ? { type: 'edit', edit: edits[0]! } : { type: 'edits', edits: [...edits] });
  if (!optimistic) return;
  inFlight.add(id);
  clearTimeout(inFlightTimer);
  inFlightTimer = setTimeout(() => {
    inFlight.clear();
    answered(undefined);
  }, IN_FLIGHT_MS);
}

/** The host's document, drawn: selection kept where its blocks still exist, new blocks selected after an add or paste. */
function showDocument(m: Extract<ToEditor, { type: 'document' }>): void {
  const state = store.get();
  const document = readDocument(m.text);
  // The host's copy of what is drawn already (an edit shown before it was answered): keep the drawn objects, redraw nothing.
  if (document.kind === 'graph' && state.document.kind === 'graph' && JSON.stringify(document.value) === JSON.stringify(state.document.value)) {
    setState({ fileName: m.fileName, version: m.version });
    return;
  }
  const ids = document.kind === 'graph' ? new Set(document.analysis.nodes.keys()) : new Set<string>();
  const before = state.document.kind === 'graph' ? state.document.analysis.nodes : new Map<string, unknown>();
  const created = [...ids].filter((id) => !before.has(id));
  // Keep only selected blocks that still exist (undo may have removed them).
  const selection = selectCreatedBlocks && created.length > 0 ? created : state.selection.filter((s) => ids.has(s));
  if (created.length > 0) selectCreatedBlocks = false;
  const stages = document.kind === 'graph' ? stageChips(document.value, document.analysis) : [];
  if (exportPending && document.kind !== 'graph') {
    exportPending = false;
    showToast('There is no graph to export: the file holds no graph the editor can draw.');
  }
  setState({ fileName: m.fileName, version: m.version, document, selection, stages });
}

function onHostMessage(m: ToEditor): void {
  const state = store.get();
  switch (m.type) {
    case 'document':
      hostDocument = m;
      if (inFlight.size === 0) showDocument(m);
      break;
    case 'editApplied':
      answered(m.inReplyTo);
      break;
    case 'editFailed':
      selectCreatedBlocks = false;
      showToast(m.message, 'error');
      answered(m.inReplyTo);
      break;
    case 'notice':
      showToast(m.message, 'info');
      break;
    case 'preview':
    case 'training': {
      const before: RunView = { previews: state.previews, training: state.training, trainingStage: state.trainingStage };
      const after = reduceRunView(before, m);
      // A run that starts shows its stages as they train, whatever was picked before.
      if (after !== before) setState(!before.training && after.training ? { ...after, pickedStage: undefined } : after);
      break;
    }
    case 'exportImage':
      void requestExportImage();
      break;
    case 'datasetCard':
      setState({ datasetCard: m.card });
      break;
    case 'layout':
      setState({ layout: m.prefs, overlay: null });
      break;
    case 'trust':
      setState({ trusted: m.trusted });
      break;
    case 'rejected':
      // The host could not accept one of this editor's messages: say so, as for a refused edit.
      selectCreatedBlocks = false;
      showToast(`Latent Studio could not take that action: ${m.error}`, 'error');
      break;
  }
}

const host = connectToHost<ToHost, typeof ToEditorSchema>(ToEditorSchema, onHostMessage);

export const useEditor = store.use;

export function getState(): EditorState {
  return store.get();
}

export function post(message: Exclude<ToHost, { type: 'rejected' }>): void {
  host.post(message);
}

const CREATES = new Set<GraphEdit['kind']>(['addNode', 'paste', 'mirrorDecoder']);

export function sendEdit(edit: GraphEdit): void {
  if (CREATES.has(edit.kind)) selectCreatedBlocks = true;
  postEdits([edit]);
}

export function sendEdits(edits: readonly GraphEdit[]): void {
  if (edits.some((e) => CREATES.has(e.kind))) selectCreatedBlocks = true;
  if (edits.length > 0) postEdits(edits);
}

export function select(ids: readonly string[]): void {
  const same = ids.length === store.get().selection.length && ids.every((id, i) => id === store.get().selection[i]);
  if (!same) setState({ selection: [...ids] });
}

export function showToast(message: string, kind: Toast['kind'] = 'error'): void {
  const toast = { id: ++toastId, message, kind };
  setState({ toast });
  setTimeout(() => {
    if (store.get().toast?.id === toast.id) setState({ toast: null });
  }, 6000);
}

export function dismissToast(): void {
  setState({ toast: null });
}

/** The stage whose roles the blocks show (see shownStage). */
export function selectShownStage(s: EditorState): number | undefined {
  return shownStage(s.stages.length, s.pickedStage, s.trainingStage);
}

/** Show a stage's roles on the blocks; picking the shown stage again clears it. */
export function pickStage(index: number): void {
  setState({ pickedStage: selectShownStage(store.get()) === index ? null : index });
}

export function setExportImage(handler: (() => Promise<void>) | undefined): void {
  exportImage = handler;
  if (handler && exportPending) {
    exportPending = false;
    void requestExportImage();
  }
}

/** Export Graph as PNG, from the toolbar or the host's command; failures become a toast. */
export async function requestExportImage(): Promise<void> {
  if (!exportImage) {
    // The command can arrive while the editor is still opening: export once the canvas is up.
    if (store.get().document.kind === 'loading' || store.get().document.kind === 'graph') exportPending = true;
    else showToast('There is no graph to export: the file holds no graph the editor can draw.');
    return;
  }
  try {
    await exportImage();
  } catch (e) {
    showToast(`The graph could not be drawn as a PNG: ${e instanceof Error ? e.message : String(e)}.`);
  }
}

/** The person moved a side panel: lay it out so now, and let the host remember it for the workspace. */
export function setLayout(prefs: LayoutPrefs, overlay: PanelName | null = null): void {
  const before = store.get().layout;
  setState({ layout: prefs, overlay });
  if (prefs.palette !== before.palette || prefs.inspector !== before.inspector) post({ type: 'layout', prefs });
}

/** Open a rail's panel over the canvas, or close the overlay (null). */
export function setOverlay(overlay: PanelName | null): void {
  if (store.get().overlay !== overlay) setState({ overlay });
}

export function ready(): void {
  post({ type: 'ready' });
}
