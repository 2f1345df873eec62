/** The editor shell: header with totals and actions, palette, canvas, inspector; error and empty views. */
import { ReactFlowProvider, useReactFlow } from '@xyflow/react';
import { type ReactElement, useCallback, useEffect, useMemo, useState } from 'react';
import type { GraphAnalysis } from '../../src/core/analyze';
import type { GraphEdit } from '../../src/core/edits';
import { layoutPositions } from './autoLayout';
import { Canvas } from './Canvas';
import { blockViews, wiringOf } from './graphView';
import { BlockInspector, TrainingInspector } from './Inspector';
import { type PanelName, collapse, expand, panelModes, pin } from './layout';
import { Palette } from './Palette';
import { Rail, SidePanel } from './SidePanels';
import { StageBar } from './StageBar';
import * as l10n from '@vscode/l10n';
import { dismissToast, getState, post, requestExportImage, sendEdit, setLayout, setOverlay, useEditor } from './store';

const fmt = (n: number): string => n.toLocaleString('en-US');

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Clipboard {
  nodes: { id: string; type: string; label?: string; trainable?: boolean; params?: Record<string, unknown> }[];
  edges: { from: string; to: string }[];
  positions: Record<string, { x: number; y: number }>;
}
let clipboard: Clipboard | null = null;

function copySelection(doc: Record<string, unknown>, ids: readonly string[]): Clipboard | null {
  const wanted = new Set(ids);
  const nodes = (Array.isArray(doc.nodes) ? doc.nodes : [])
    .filter(isObject)
    .filter((n) => typeof n.id === 'string' && wanted.has(n.id) && typeof n.type === 'string')
    .map((n) => ({
      id: n.id as string,
      type: n.type as string,
      ...(typeof n.label === 'string' ? { label: n.label } : {}),
      ...(typeof n.trainable === 'boolean' ? { trainable: n.trainable } : {}),
      ...(isObject(n.params) ? { params: n.params } : {}),
    }));
  if (nodes.length === 0) return null;
  const edges = (Array.isArray(doc.edges) ? doc.edges : [])
    .filter(isObject)
    .filter((e) => typeof e.from === 'string' && typeof e.to === 'string' && wanted.has(e.from) && wanted.has(e.to))
    .map((e) => ({ from: e.from as string, to: e.to as string }));
  const layout = isObject(doc.layout) ? doc.layout : {};
  const positions: Record<string, { x: number; y: number }> = {};
  for (const n of nodes) {
    const p = layout[n.id];
    positions[n.id] = isObject(p) && typeof p.x === 'number' && typeof p.y === 'number' ? { x: p.x, y: p.y } : { x: 0, y: 0 };
  }
  return { nodes, edges, positions };
}

function Header({ doc, analysis }: { doc: Record<string, unknown>; analysis: GraphAnalysis }) {
  const rf = useReactFlow();
  const training = useEditor((s) => s.training);
  const trusted = useEditor((s) => s.trusted);
  const errors = analysis.problems.filter((p) => p.severity === 'error').length;
  const warnings = analysis.problems.length - errors;
  const autoLayout = (): void => {
    const views = blockViews(doc, analysis);
    const positions = layoutPositions(
      views.map((v) => ({ id: v.id, width: 210, height: 110 })),
      (Array.isArray(doc.edges) ? doc.edges : []).filter(isObject).map((e) => ({ from: String(e.from), to: String(e.to) })),
    );
    sendEdit({ kind: 'move', positions });
    setTimeout(() => void rf.fitView({ padding: 0.2, duration: 200 }), 150);
  };
  return (
    <header className="header">
      <div className="title">
        <strong>{typeof doc.name === 'string' ? doc.name : 'Untitled graph'}</strong>
        <span className="totals" data-testid="totals">
          {fmt(analysis.totals.params)} params · {fmt(analysis.totals.trainableParams)} trainable
        </span>
        {/* While it trains the header says so (the badge below), not "ready to train". */}
        {(errors > 0 || warnings > 0 || !training) && (
          <span className={errors ? 'status error' : warnings ? 'status warning' : 'status ok'} data-testid="status">
            {errors ? `${errors} error${errors > 1 ? 's' : ''}` : warnings ? `${warnings} warning${warnings > 1 ? 's' : ''}` : trusted ? 'ready to train' : 'valid'}
          </span>
        )}
        {!trusted && (
          <span className="status warning" data-testid="restricted" title="This workspace is in Restricted Mode: you can edit and validate the graph; training needs a trusted workspace.">
            Restricted Mode: editing only
          </span>
        )}
        {training && (
          <span className="training" data-testid="training-indicator">
            training
          </span>
        )}
      </div>
      <div className="actions">
        {training ? (
          <button className="primary" data-testid="btn-stop" onClick={() => post({ type: 'stop' })} title={l10n.t('Stop training after the running batch (the run keeps its last completed epoch)')}>
            {l10n.t('Stop')}
          </button>
        ) : (
          <button
            className="primary"
            data-testid="btn-train"
            onClick={() => post({ type: 'train' })}
            disabled={errors > 0 || !trusted}
            title={!trusted ? l10n.t('Training runs code on this workspace: trust the workspace first (Restricted Mode)') : errors ? l10n.t('Fix the errors first') : l10n.t('Train this model (Latent Studio: Train Model)')}
          >
            {l10n.t('Train')}
          </button>
        )}
        <button onClick={autoLayout} title={l10n.t('Arrange blocks top to bottom')}>{l10n.t('Auto layout')}</button>
        <button onClick={() => void rf.fitView({ padding: 0.2, duration: 200 })}>{l10n.t('Fit')}</button>
        <button data-testid="btn-export-image" onClick={() => void requestExportImage()} title={l10n.t('Save the whole graph as a PNG picture (Latent Studio: Export Graph as PNG…)')}>
          {l10n.t('Export PNG')}
        </button>
        <button onClick={() => post({ type: 'openAsText' })}>{l10n.t('Open as text')}</button>
      </div>
    </header>
  );
}

/** The webview's width (the editor group's), following resizes. */
function useEditorWidth(): number {
  const [width, setWidth] = useState(() => window.innerWidth);
  useEffect(() => {
    const onResize = (): void => setWidth(window.innerWidth);
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  return width;
}

function Editor({ doc, analysis }: { doc: Record<string, unknown>; analysis: GraphAnalysis }) {
  const selection = useEditor((s) => s.selection);
  const layout = useEditor((s) => s.layout);
  const overlay = useEditor((s) => s.overlay);
  const width = useEditorWidth();
  const modes = panelModes(width, layout);
  const rf = useReactFlow();
  const views = useMemo(() => blockViews(doc, analysis), [doc, analysis]);
  const selected = selection.length === 1 ? views.find((v) => v.id === selection[0]) : undefined;
  const rawNode = selected ? (Array.isArray(doc.nodes) ? doc.nodes : []).filter(isObject).find((n) => n.id === selected.id) : undefined;

  const addBlock = useCallback(
    (type: string) => {
      const bounds = document.querySelector('.canvas')?.getBoundingClientRect();
      const center = bounds ? rf.screenToFlowPosition({ x: bounds.left + bounds.width / 2, y: bounds.top + bounds.height / 2 }) : { x: 0, y: 0 };
      // With one block selected, the new block goes below it and is wired to it when that is allowed.
      const from = getState().selection.length === 1 ? views.find((v) => v.id === getState().selection[0]) : undefined;
      const edit: GraphEdit = from
        ? { kind: 'addNode', type, position: { x: from.position.x, y: from.position.y + 150 }, ...(from.hasOutput ? { connectFrom: from.id } : {}) }
        : { kind: 'addNode', type, position: { x: Math.round(center.x), y: Math.round(center.y) } };
      sendEdit(edit);
      // An overlay palette makes room for the new block (its inspector is the next thing wanted).
      if (getState().overlay === 'palette') setOverlay(null);
    },
    [rf, views],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const target = e.target as HTMLElement | null;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return;
      const mod = e.ctrlKey || e.metaKey;
      const ids = getState().selection;
      if (mod && e.key === 'c' && ids.length) {
        clipboard = copySelection(doc, ids);
      } else if (mod && e.key === 'v' && clipboard) {
        e.preventDefault();
        sendEdit({ kind: 'paste', ...clipboard, offset: { x: 40, y: 60 } });
      } else if (mod && e.key === 'd' && ids.length) {
        e.preventDefault();
        const copy = copySelection(doc, ids);
        if (copy) sendEdit({ kind: 'paste', ...copy, offset: { x: 40, y: 60 } });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [doc]);

  // An overlay belongs to a rail: gone when its panel docks (the window grew, or it was pinned).
  useEffect(() => {
    if (overlay && modes[overlay] === 'docked') setOverlay(null);
  }, [overlay, modes]);

  const inspector = selected && rawNode ? (
    <BlockInspector view={selected} rawParams={isObject(rawNode.params) ? rawNode.params : {}} send={sendEdit} wiring={wiringOf(doc, selected.id)} />
  ) : selection.length > 1 ? (
    <div className="inspector-body">
      <h2>{selection.length} blocks selected</h2>
      <p className="muted">Delete removes them; Ctrl+C / Ctrl+V copies them; Ctrl+D duplicates.</p>
    </div>
  ) : (
    <TrainingInspector training={isObject(doc.training) ? doc.training : {}} send={sendEdit} />
  );
  const content: Record<PanelName, ReactElement> = { palette: <Palette onAdd={addBlock} />, inspector };
  const panel = (name: PanelName, mode: 'docked' | 'overlay'): ReactElement => (
    <SidePanel
      panel={name}
      mode={mode}
      onCollapse={() => setLayout(collapse(layout, name))}
      onPin={() => setLayout(pin(layout, name))}
      onClose={() => setOverlay(null)}
    >
      {content[name]}
    </SidePanel>
  );
  const rail = (name: PanelName, detail?: string): ReactElement => (
    <Rail
      panel={name}
      detail={detail}
      onExpand={() => {
        if (overlay === name) return setOverlay(null);
        const next = expand(layout, name, width);
        setLayout(next.prefs, next.overlay ? name : null);
      }}
    />
  );
  const railDetail = selected ? (selected.label ?? selected.id) : selection.length > 1 ? `${selection.length} blocks` : 'training';

  return (
    <div className="app">
      <Header doc={doc} analysis={analysis} />
      <StageBar />
      <div className="main" data-palette={modes.palette} data-inspector={modes.inspector}>
        {modes.palette === 'docked' ? panel('palette', 'docked') : rail('palette')}
        <div className="canvas-area">
          <Canvas doc={doc} analysis={analysis} selection={selection} onNodeDoubleClick={() => modes.inspector === 'rail' && setOverlay('inspector')} onPaneClick={() => setOverlay(null)} />
          {overlay === 'palette' && modes.palette === 'rail' && panel('palette', 'overlay')}
          {overlay === 'inspector' && modes.inspector === 'rail' && panel('inspector', 'overlay')}
        </div>
        {modes.inspector === 'docked' ? panel('inspector', 'docked') : rail('inspector', railDetail)}
      </div>
    </div>
  );
}

function ToastView() {
  const toast = useEditor((s) => s.toast);
  if (!toast) return null;
  return (
    <div className={`toast ${toast.kind}`} role="alert" data-testid="toast" onClick={dismissToast}>
      {toast.message}
    </div>
  );
}

export function App() {
  const state = useEditor((s) => s.document);
  const fileName = useEditor((s) => s.fileName);
  let body;
  if (state.kind === 'loading') body = <div className="center muted">Loading…</div>;
  else if (state.kind === 'empty') {
    body = (
      <div className="center" data-testid="empty-view">
        <h2>This graph is empty</h2>
        <p>Start from one of the tutorial models, then change it block by block.</p>
        <button className="primary" onClick={() => post({ type: 'newFromTemplate' })}>New model from template…</button>
      </div>
    );
  } else if (state.kind === 'invalidJson') {
    body = (
      <div className="center" data-testid="error-view">
        <h2>{fileName} is not valid JSON</h2>
        <p className="problem error">
          Line {state.error.line}, column {state.error.column}: {state.error.message}
        </p>
        <p className="muted">The graph editor opens it again once the text parses. Nothing was changed.</p>
        <button className="primary" onClick={() => post({ type: 'openAsText' })}>{l10n.t('Open as text')}</button>
      </div>
    );
  } else {
    body = (
      <ReactFlowProvider>
        <Editor doc={state.value} analysis={state.analysis} />
      </ReactFlowProvider>
    );
  }
  return (
    <>
      {body}
      <ToastView />
    </>
  );
}

