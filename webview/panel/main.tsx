/**
 * The training panel webview: the run's actions, then tabs: Training (live curves with other runs
 * overlaid, previews, a classifier's confusion matrix, evaluations) and one per inspect job
 * (anomalies, predictions, weights, feature maps, latent space). This module owns the message
 * dispatch and the store; the tabs live in training.tsx and inspect/.
 */
import { createRoot } from 'react-dom/client';
import { Component, type ErrorInfo, type KeyboardEvent, type ReactNode, useCallback, useEffect, useMemo } from 'react';
import type { InspectKind, InspectResult } from '../../src/core/inspect';
import type { FromPanel, PanelSnapshot } from '../../src/core/panelProtocol';
import { dispatch, postToHost, saveState, savedState, usePanel } from './store';
import { AnomalyView } from './inspect/AnomalyView';
import { DEFAULT_REQUEST, InspectFrame, type RequestInspect, Spinner, makeRequestInspect } from './inspect/common';
import { FeaturesView } from './inspect/FeaturesView';
import { LatentView } from './inspect/LatentView';
import { PredictView } from './inspect/PredictView';
import { WeightsView } from './inspect/WeightsView';
import { PANEL_VIEWS, type PanelUi, type PanelView, inspectionOf } from './state';
import { TrainingView } from './training';
import * as l10n from '@vscode/l10n';
import { configureL10n } from '../shared/l10n';

configureL10n();

/** Tab names, translated when drawn (literal `t` calls, so npm run l10n collects them). */
const tabName = (view: PanelView): string =>
  (({ training: l10n.t('Training'), score: l10n.t('Anomalies'), predict: l10n.t('Predict'), weights: l10n.t('Weights'), features: l10n.t('Feature maps'), latent: l10n.t('Latent space') }) satisfies Record<PanelView, string>)[view];

function Tabs({ ui, state, onSelect }: { ui: PanelUi; state: PanelSnapshot; onSelect: (view: PanelView) => void }) {
  // Arrow keys move between tabs (WAI-ARIA tabs pattern, automatic activation).
  const onKey = (e: KeyboardEvent<HTMLDivElement>): void => {
    const i = PANEL_VIEWS.indexOf(ui.view);
    const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? PANEL_VIEWS.length - 1 : null;
    if (next === null) return;
    e.preventDefault();
    const view = PANEL_VIEWS[(next + PANEL_VIEWS.length) % PANEL_VIEWS.length]!;
    onSelect(view);
    document.getElementById(`tab-${view}`)?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label="Panel views" onKeyDown={onKey}>
      {PANEL_VIEWS.map((view) => {
        const selected = view === ui.view;
        const kind = view === 'training' ? null : view;
        const busy = kind !== null && ui.busy[kind];
        const failed = kind !== null && ui.errors[kind] !== null;
        const has = kind !== null && inspectionOf(state, kind) !== null;
        const testKind = view;
        return (
          <button
            key={view}
            id={`tab-${view}`}
            type="button"
            role="tab"
            className={`tab ${selected ? 'selected' : ''}`}
            aria-selected={selected}
            aria-controls={`view-${view}`}
            tabIndex={selected ? 0 : -1}
            data-testid={`tab-${testKind}`}
            onClick={() => onSelect(view)}
          >
            {tabName(view)}
            {busy ? <Spinner /> : failed ? <span className="tab-dot error" title="The last run failed" /> : has ? <span className="tab-dot" title="Has a result" /> : null}
          </button>
        );
      })}
    </div>
  );
}

/** The request "Run again" sends: the newest result's own settings, or the job's defaults. */
function rerunRequest(result: InspectResult | null, kind: InspectKind): Parameters<RequestInspect>[0] {
  if (!result) return DEFAULT_REQUEST[kind];
  switch (result.kind) {
    case 'score':
      return { kind: 'score', split: result.split, worst: Math.max(1, Math.min(100, result.worst.length || 16)) };
    case 'predict':
      return { kind: 'predict', split: result.split, positions: result.items.map((i) => i.position) };
    case 'weights':
      return { kind: 'weights', layer: result.layer };
    case 'features':
      return { kind: 'features', split: result.split, position: result.position };
    case 'latent':
      return { kind: 'latent', split: result.split, limit: Math.max(1, Math.min(10000, result.x.length)) };
  }
}

/** The view of an inspect job's newest result. */
function InspectResultView({ result, request, busy }: { result: InspectResult; request: RequestInspect; busy: boolean }) {
  switch (result.kind) {
    case 'score':
      return <AnomalyView key={result.at} result={result} />;
    case 'predict':
      return <PredictView key={result.at} result={result} request={request} busy={busy} />;
    case 'weights':
      return <WeightsView result={result} request={request} busy={busy} />;
    case 'features':
      return <FeaturesView key={result.at} result={result} request={request} busy={busy} />;
    case 'latent':
      return <LatentView key={result.at} result={result} />;
  }
}

function InspectTab({ kind, state, ui, request }: { kind: InspectKind; state: PanelSnapshot; ui: PanelUi; request: RequestInspect }) {
  const busy = ui.busy[kind];
  const disabledReason = state.run.runDir === null ? 'This run has no run folder yet: it can be inspected once its first epoch is saved.' : null;
  const r = inspectionOf(state, kind);
  return (
    <InspectFrame kind={kind} busy={busy} error={ui.errors[kind]} disabledReason={disabledReason} result={r} onRun={() => request(rerunRequest(r, kind))}>
      {r && <InspectResultView result={r} request={request} busy={busy} />}
    </InspectFrame>
  );
}

function App() {
  const model = usePanel((s) => s.model);
  const latency = usePanel((s) => s.latency);
  useEffect(() => postToHost({ type: 'ready' }), []);
  const state = model.data;
  const { ui } = model;
  const runDir = state?.run.runDir ?? savedState.runDir;
  useEffect(() => {
    if (runDir) saveState({ runDir, view: ui.view });
  }, [runDir, ui.view]);
  const request = useMemo(() => makeRequestInspect((kind) => dispatch({ type: 'inspectRequested', kind })), []);
  const select = useCallback((view: PanelView) => dispatch({ type: 'showView', view }), []);
  if (!state) return <div className="center muted">Waiting for a training run…</div>;

  const running = state.status === 'running' || state.status === 'starting';
  const resumable = state.status === 'stopped' || state.status === 'failed';
  const hasRun = state.run.runDir !== null;
  const command = (c: Extract<FromPanel, { type: 'command' }>['command']) => () => postToHost({ type: 'command', command: c });
  return (
    <div className="panel" data-testid="panel" data-view={ui.view} data-epoch-latency-ms={latency.last ?? undefined} data-epoch-latency-max-ms={latency.max ?? undefined}>
      <header>
        <div className="title">
          <h1>{state.run.graphName}</h1>
          <div className={`status ${state.status}`} data-testid="run-status">
            {state.status}
            {state.message ? ` — ${state.message}` : ''}
          </div>
        </div>
        <div className="actions" role="toolbar" aria-label={l10n.t('Run actions')}>
          {running && (
            <button className="primary" data-testid="btn-stop" onClick={() => postToHost({ type: 'stop' })}>
              {l10n.t('Stop')}
            </button>
          )}
          {resumable && (
            <button className="primary" data-testid="btn-resume" disabled={!hasRun} onClick={command('resume')} title={l10n.t('Continue training from the last completed epoch')}>
              {l10n.t('Resume')}
            </button>
          )}
          <button
            className={running || resumable ? '' : 'primary'}
            data-testid="btn-evaluate"
            disabled={!hasRun}
            onClick={command('evaluate')}
            title={l10n.t("Score the model from this run's last completed epoch on the test split")}
          >
            {l10n.t('Evaluate on Test Set')}
          </button>
          <button data-testid="btn-generate" disabled={!hasRun} onClick={command('generate')} title={l10n.t('Decode random codes into new images (models with a decoder)')}>
            {l10n.t('Generate')}
          </button>
          <button data-testid="btn-export" disabled={!hasRun} onClick={command('export')} title={l10n.t('Write the trained models in the TensorFlow.js layers format')}>
            {l10n.t('Export Model…')}
          </button>
          <button data-testid="btn-compare" onClick={command('compare')} title={l10n.t("Draw another run's curves over this one's")}>
            {l10n.t('Compare with…')}
          </button>
          {state.run.runDir && (
            <button data-testid="btn-run-folder" onClick={() => postToHost({ type: 'openRunFolder' })}>
              {l10n.t('Run folder')}
            </button>
          )}
        </div>
      </header>
      {state.problems.length > 0 && (
        <ul className="problems" data-testid="run-problems" role="status" aria-label="Files of this run that could not be read">
          {state.problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      )}
      <Tabs ui={ui} state={state} onSelect={select} />
      <div className="view" role="tabpanel" id={`view-${ui.view}`} aria-labelledby={`tab-${ui.view}`} data-testid={`view-${ui.view}`}>
        {ui.view === 'training' ? <TrainingView state={state} /> : <InspectTab kind={ui.view} state={state} ui={ui} request={request} />}
      </div>
    </div>
  );
}

/** A rendering error shows as a sentence (and in the webview's console) instead of a blank panel. */
class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };
  static getDerivedStateFromError(error: Error): { error: Error } {
    return { error };
  }
  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error('Latent Studio panel:', error, info.componentStack);
  }
  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="center panel-error" data-testid="panel-error" role="alert">
        The panel hit an error and cannot show this run: {error.message}. Close it and run &quot;Latent Studio: Show Training Panel&quot; to open it again.
      </div>
    );
  }
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <ErrorBoundary>
      <App />
    </ErrorBoundary>,
  );
