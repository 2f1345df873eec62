/**
 * The training panel webview: live curves (uPlot) with other runs overlaid, reconstruction
 * previews, a classifier's confusion matrix and predictions, test-set evaluations, run facts and
 * the run's actions (Stop, Evaluate, Export, Resume, Compare, Run folder).
 */
import { createRoot } from 'react-dom/client';
import { type CSSProperties, useEffect, useReducer, useRef, useState } from 'react';
import uPlot from 'uplot';
import { type FromPanel, type Overlay, parseToPanel } from '../../src/core/panelProtocol';
import type { ClassifierPreview, Evaluation } from '../../src/core/protocol';
import { type Series, batchSeries, comparedEpochSeries, confusionView, reducePanel } from './state';

interface VsCodeApi {
  postMessage(message: FromPanel): void;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

const PALETTE = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
/** Dash pattern of the i-th overlay's curves (and of its sample in the legend). */
const DASHES = [[6, 4], [2, 3], [10, 3, 2, 3]];
const dashOf = (overlay: number): number[] => DASHES[overlay % DASHES.length]!;
const cssVar = (name: string): string => getComputedStyle(document.body).getPropertyValue(name).trim() || 'gray';

/** A colour per quantity (loss, val_loss, accuracy…), in order of first appearance: a run and its overlays share it. */
function colourIndex(series: readonly Series[]): Map<string, number> {
  const index = new Map<string, number>();
  for (const s of series) {
    const key = s.key ?? s.label;
    if (!index.has(key)) index.set(key, index.size);
  }
  return index;
}

function Chart({ title, x, series, testId, points }: { title: string; x: number[]; series: Series[]; testId: string; points?: number }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => s.label).join('|');
  useEffect(() => {
    if (!host.current) return;
    const fg = cssVar('--vscode-foreground');
    const grid = cssVar('--vscode-panel-border');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const colours = colourIndex(series);
    const opts: uPlot.Options = {
      width: host.current.clientWidth || 400,
      height: 200,
      title,
      scales: { x: { time: false } },
      axes: [{ ...axis, label: 'epoch' }, axis],
      series: [
        { label: 'epoch' },
        ...series.map((s) => {
          const stroke = cssVar(PALETTE[(colours.get(s.key ?? s.label) ?? 0) % PALETTE.length]!);
          return s.overlay === undefined
            ? { label: s.label, stroke, width: 2, points: { show: (points ?? x.length) < 60 }, spanGaps: true }
            : { label: s.label, stroke, width: 1.5, dash: dashOf(s.overlay), points: { show: false }, spanGaps: true };
        }),
      ],
      legend: { live: false },
    };
    const chart = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, host.current);
    plot.current = chart;
    // Overlays share their colours with this run's curves and are named once, in the overlay legend.
    const overlaid = new Set(series.filter((s) => s.overlay !== undefined).map((s) => s.label));
    chart.root.querySelectorAll('.u-legend .u-series').forEach((row) => {
      if (overlaid.has(row.querySelector('.u-label')?.textContent ?? '')) row.classList.add('overlay');
    });
    const resize = new ResizeObserver(() => chart.setSize({ width: host.current?.clientWidth || 400, height: 200 }));
    resize.observe(host.current);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // Recreate only when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, title]);
  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);
  return <div className="chart" ref={host} data-testid={testId} data-points={points ?? x.length} />;
}

const fmt = (n: number | null | undefined, d = 4): string => (n === null || n === undefined ? '–' : n.toFixed(d));
const pct = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(d)}%`);
/** Accuracy-like metrics read best as percentages; the rest as plain numbers. */
const fmtMetric = (name: string, v: number): string => (/accuracy/i.test(name) ? pct(v, 2) : fmt(v));

/**
 * Rows are true classes, columns predictions. Each cell's background is its share of the row:
 * the diagonal (right answers) in the accent colour, confusions in the error colour, boosted
 * (square root) so that a few percent of mistakes still shows.
 */
function ConfusionMatrix({ preview, testId = 'confusion-matrix' }: { preview: ClassifierPreview; testId?: string }) {
  const v = confusionView(preview.classNames, preview.confusion);
  const n = v.classNames.length;
  if (n === 0) return null;
  return (
    <figure className="confusion" data-testid={testId}>
      <table>
        <thead>
          <tr>
            <th className="corner" colSpan={2} rowSpan={2} />
            <th className="axis-title" colSpan={n}>
              predicted
            </th>
            <th className="recall-head" rowSpan={2} title="Share of each true class predicted right">
              recall
            </th>
          </tr>
          <tr>
            {v.classNames.map((name, c) => (
              <th key={c} className="col-name" title={name}>
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {v.counts.map((row, r) => (
            <tr key={r}>
              {r === 0 && (
                <th className="axis-title vertical" rowSpan={n}>
                  <span>true</span>
                </th>
              )}
              <th className="row-name" title={v.classNames[r]}>
                {v.classNames[r]}
              </th>
              {row.map((value, c) => {
                const share = v.share[r]![c]!;
                const diagonal = r === c;
                const intensity = diagonal ? share : Math.min(1, Math.sqrt(share));
                const classes = ['cell', diagonal ? 'diag' : 'off'];
                if (value === 0) classes.push('zero');
                if (intensity > 0.65) classes.push('strong');
                return (
                  <td
                    key={c}
                    className={classes.join(' ')}
                    data-count={value}
                    style={{ '--v': `${(intensity * 100).toFixed(1)}%` } as CSSProperties}
                    title={`true ${v.classNames[r]}, predicted ${v.classNames[c]}: ${value} (${pct(share)} of true ${v.classNames[r]})`}
                  >
                    {value}
                  </td>
                );
              })}
              <td className="recall" title={`${row[r]!} of ${v.rowTotals[r]!}`}>
                {pct(v.recall[r] ?? null, 0)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <figcaption>
        accuracy <strong>{pct(v.accuracy, 1)}</strong> on {v.total} samples
      </figcaption>
    </figure>
  );
}

/** The preview images in one PNG, drawn crisply, each with its prediction, ✓/✗ and confidence under it. */
function PredictionStrip({ preview, testId = 'prediction-strip' }: { preview: ClassifierPreview; testId?: string }) {
  const n = preview.labels.length;
  if (n === 0 || preview.stripPngBase64 === '') return null;
  const name = (i: number | undefined): string => (i === undefined ? '?' : preview.classNames[i] ?? String(i));
  const wrong = preview.predicted.filter((p, i) => p !== preview.labels[i]).length;
  return (
    <figure className="strip" data-testid={testId}>
      <div className="strip-body">
        <img src={`data:image/png;base64,${preview.stripPngBase64}`} alt={`${n} test images and the class predicted for each`} />
        <ol className="strip-labels" style={{ gridTemplateColumns: `repeat(${n}, minmax(0, 1fr))` }}>
          {preview.labels.map((label, i) => {
            const predicted = preview.predicted[i];
            const ok = predicted === label;
            const confidence = preview.confidence[i];
            return (
              <li
                key={i}
                className={ok ? 'right' : 'wrong'}
                data-testid="prediction"
                data-correct={ok}
                title={`true ${name(label)}, predicted ${name(predicted)} (${pct(confidence ?? null)} confident)`}
              >
                <span className="predicted">
                  {name(predicted)} <span className="mark">{ok ? '✓' : '✗'}</span>
                </span>
                <span className="confidence">{confidence === undefined ? '–' : pct(confidence, 0)}</span>
                {!ok && <span className="truth">true {name(label)}</span>}
              </li>
            );
          })}
        </ol>
      </div>
      <figcaption>
        {n - wrong} of {n} right
      </figcaption>
    </figure>
  );
}

function EvaluationCard({ evaluation: e }: { evaluation: Evaluation }) {
  const when = new Date(e.evaluatedAt);
  return (
    <section className="card evaluation" data-testid="evaluation">
      <div className="card-head">
        <h2>Evaluation on the {e.split} set</h2>
        <span className="muted">
          {e.dataset} · stage {e.stage} · {e.backend}
          {Number.isNaN(when.getTime()) ? '' : ` · ${when.toLocaleString()}`}
        </span>
      </div>
      <dl className="scores">
        <div>
          <dt>samples</dt>
          <dd data-testid="evaluation-samples">{e.samples}</dd>
        </div>
        <div>
          <dt>{e.lossName}</dt>
          <dd data-testid="evaluation-loss">{fmt(e.loss)}</dd>
        </div>
        {Object.entries(e.metrics).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd data-testid={`evaluation-${k}`}>{fmtMetric(k, v)}</dd>
          </div>
        ))}
      </dl>
      {e.classifier && (
        <div className="classifier-views">
          <ConfusionMatrix preview={e.classifier} testId="evaluation-confusion-matrix" />
          <PredictionStrip preview={e.classifier} testId="evaluation-prediction-strip" />
        </div>
      )}
      {e.reconstructionsPngBase64 && (
        <figure className="preview">
          <img data-testid="evaluation-reconstructions" src={`data:image/png;base64,${e.reconstructionsPngBase64}`} alt={e.reconstructionsCaption ?? `${e.split} images (top) and their reconstructions (bottom)`} />
          <figcaption>{e.reconstructionsCaption ? `${e.split} split: ${e.reconstructionsCaption}` : `${e.split} images (top) and reconstructions (bottom)`}</figcaption>
        </figure>
      )}
    </section>
  );
}

function DashSample({ overlay }: { overlay: number }) {
  return (
    <svg className="dash-sample" width="28" height="8" aria-hidden="true">
      <line x1="0" y1="4" x2="28" y2="4" strokeDasharray={dashOf(overlay).join(' ')} />
    </svg>
  );
}

function OverlayLegend({ overlays }: { overlays: readonly Overlay[] }) {
  return (
    <div className="overlay-legend" data-testid="overlay-legend">
      <span className="overlay-item">
        <svg className="dash-sample" width="28" height="8" aria-hidden="true">
          <line x1="0" y1="4" x2="28" y2="4" />
        </svg>
        this run
      </span>
      {overlays.map((o, i) => (
        <span key={o.runDir} className="overlay-item" title={o.runDir}>
          <DashSample overlay={i} />
          comparing with <strong>{o.label}</strong>
          <span className="muted"> ({o.epochs.filter((e) => e.epoch > 0).length} epochs)</span>
        </span>
      ))}
    </div>
  );
}

interface Latency {
  readonly last: number | null;
  readonly max: number | null;
}

function App() {
  const [state, dispatch] = useReducer(reducePanel, null);
  // How long epoch records take from the worker to here (ms): read by an end-to-end test and a benchmark.
  const [latency, setLatency] = useState<Latency>({ last: null, max: null });
  useEffect(() => {
    const onMessage = (e: MessageEvent<unknown>): void => {
      const receivedAt = Date.now();
      const m = parseToPanel(e.data);
      if (!m) return;
      if (m.type === 'epoch' && m.record.endedAt !== undefined) {
        const ms = receivedAt - m.record.endedAt;
        setLatency((l) => ({ last: ms, max: l.max === null ? ms : Math.max(l.max, ms) }));
      }
      dispatch(m);
    };
    window.addEventListener('message', onMessage);
    vscode.postMessage({ type: 'ready' });
    return () => window.removeEventListener('message', onMessage);
  }, []);
  useEffect(() => {
    if (state?.run.runDir) vscode.setState({ runDir: state.run.runDir });
  }, [state?.run.runDir]);
  if (!state) return <div className="center muted">Waiting for a training run…</div>;

  const epochs = comparedEpochSeries(state);
  const batches = batchSeries(state);
  const last = state.epochs.at(-1);
  const trained = state.epochs.filter((e) => e.epoch > 0);
  const running = state.status === 'running' || state.status === 'starting';
  const resumable = state.status === 'stopped' || state.status === 'failed';
  const hasRun = state.run.runDir !== null;
  const command = (c: Extract<FromPanel, { type: 'command' }>['command']) => () => vscode.postMessage({ type: 'command', command: c });
  const classifierStage = state.classifier ? state.run.stages[state.classifier.stageIndex]?.name : undefined;
  return (
    <div
      className="panel"
      data-testid="panel"
      data-epoch-latency-ms={latency.last ?? undefined}
      data-epoch-latency-max-ms={latency.max ?? undefined}
    >
      <header>
        <div className="title">
          <h1>{state.run.graphName}</h1>
          <div className={`status ${state.status}`} data-testid="run-status">
            {state.status}
            {state.message ? ` — ${state.message}` : ''}
          </div>
        </div>
        <div className="actions" role="toolbar" aria-label="Run actions">
          {running && (
            <button className="primary" data-testid="btn-stop" onClick={() => vscode.postMessage({ type: 'stop' })}>
              Stop
            </button>
          )}
          {resumable && (
            <button className="primary" data-testid="btn-resume" disabled={!hasRun} onClick={command('resume')} title="Continue training from the last completed epoch">
              Resume
            </button>
          )}
          <button
            className={running || resumable ? '' : 'primary'}
            data-testid="btn-evaluate"
            disabled={!hasRun}
            onClick={command('evaluate')}
            title="Score the model from this run's last completed epoch on the test split"
          >
            Evaluate on Test Set
          </button>
          <button data-testid="btn-export" disabled={!hasRun} onClick={command('export')} title="Write the trained models in the TensorFlow.js layers format">
            Export Model…
          </button>
          <button data-testid="btn-compare" onClick={command('compare')} title="Draw another run's curves over this one's">
            Compare with…
          </button>
          {state.run.runDir && (
            <button data-testid="btn-run-folder" onClick={() => vscode.postMessage({ type: 'openRunFolder' })}>
              Run folder
            </button>
          )}
        </div>
      </header>
      <dl className="facts">
        <dt>backend</dt>
        <dd>{state.run.backend ? `${state.run.backend.name} (${state.run.backend.detail})` : last?.backend ?? '–'}</dd>
        <dt>data</dt>
        <dd>{state.run.dataset ?? '–'}</dd>
        <dt>epochs</dt>
        <dd data-testid="epochs-done">{trained.length}</dd>
        <dt>speed</dt>
        <dd>{last && last.epoch > 0 ? `${Math.round(last.samplesPerSec).toLocaleString('en-US')} samples/s, ${last.seconds.toFixed(1)} s/epoch` : '–'}</dd>
        <dt>last</dt>
        <dd>
          loss {fmt(last?.loss)} · val_loss {fmt(last?.valLoss)}
          {last ? Object.entries(last.metrics).map(([k, v]) => ` · ${k} ${fmt(v)}`).join('') : ''}
        </dd>
      </dl>
      {state.evaluation && <EvaluationCard evaluation={state.evaluation} />}
      {state.overlays.length > 0 && <OverlayLegend overlays={state.overlays} />}
      <div className="charts">
        <Chart title="Loss per epoch" x={epochs.x} series={epochs.loss} points={epochs.points} testId="loss-chart" />
        {batches.x.length > 1 && <Chart title="Batch loss (smoothed)" x={batches.x} series={[{ label: 'smoothed', values: batches.smooth }, { label: 'batch', values: batches.raw }]} testId="batch-chart" />}
        {epochs.metrics.length > 0 && <Chart title="Metrics" x={epochs.x} series={epochs.metrics} points={epochs.points} testId="metrics-chart" />}
      </div>
      {state.classifier && (
        <section className="card" data-testid="classifier">
          <div className="card-head">
            <h2>Predictions</h2>
            <span className="muted">
              {classifierStage ? `stage ${classifierStage}, ` : ''}epoch {state.classifier.epoch}
            </span>
          </div>
          <div className="classifier-views">
            <ConfusionMatrix preview={state.classifier.preview} />
            <PredictionStrip preview={state.classifier.preview} />
          </div>
        </section>
      )}
      {state.preview && (
        <section className="card" data-testid="reconstructions">
          <div className="card-head">
            <h2>Reconstructions</h2>
            <span className="muted">epoch {state.preview.epoch}</span>
          </div>
          <figure className="preview">
            <img data-testid="preview" src={`data:image/png;base64,${state.preview.pngBase64}`} alt={`${state.preview.caption ?? 'Test images (top) and their reconstructions (bottom)'} after epoch ${state.preview.epoch}`} />
            <figcaption>{state.preview.caption ?? 'Test images (top) and reconstructions (bottom)'}, epoch {state.preview.epoch}</figcaption>
          </figure>
        </section>
      )}
    </div>
  );
}

const root = document.getElementById('root');
if (root) createRoot(root).render(<App />);
