/** The training panel webview: live curves (uPlot), reconstruction previews, run facts and Stop. */
import { createRoot } from 'react-dom/client';
import { useEffect, useReducer, useRef } from 'react';
import uPlot from 'uplot';
import { type FromPanel, parseToPanel } from '../../src/core/panelProtocol';
import { type Series, batchSeries, epochSeries, reducePanel } from './state';

interface VsCodeApi {
  postMessage(message: FromPanel): void;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

const PALETTE = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const cssVar = (name: string): string => getComputedStyle(document.body).getPropertyValue(name).trim() || 'gray';

function Chart({ title, x, series, testId }: { title: string; x: number[]; series: Series[]; testId: string }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => s.label).join('|');
  useEffect(() => {
    if (!host.current) return;
    const fg = cssVar('--vscode-foreground');
    const grid = cssVar('--vscode-panel-border');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: host.current.clientWidth || 400,
      height: 200,
      title,
      scales: { x: { time: false } },
      axes: [{ ...axis, label: 'epoch' }, axis],
      series: [{ label: 'epoch' }, ...series.map((s, i) => ({ label: s.label, stroke: cssVar(PALETTE[i % PALETTE.length]!), width: 2, points: { show: x.length < 60 }, spanGaps: true }))],
      legend: { live: false },
    };
    const chart = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, host.current);
    plot.current = chart;
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
  return <div className="chart" ref={host} data-testid={testId} data-points={x.length} />;
}

const fmt = (n: number | null | undefined, d = 4): string => (n === null || n === undefined ? '–' : n.toFixed(d));

function App() {
  const [state, dispatch] = useReducer(reducePanel, null);
  useEffect(() => {
    const onMessage = (e: MessageEvent<unknown>): void => {
      const m = parseToPanel(e.data);
      if (m) dispatch(m);
    };
    window.addEventListener('message', onMessage);
    vscode.postMessage({ type: 'ready' });
    return () => window.removeEventListener('message', onMessage);
  }, []);
  useEffect(() => {
    if (state?.run.runDir) vscode.setState({ runDir: state.run.runDir });
  }, [state?.run.runDir]);
  if (!state) return <div className="center muted">Waiting for a training run…</div>;

  const epochs = epochSeries(state);
  const batches = batchSeries(state);
  const last = state.epochs.at(-1);
  const trained = state.epochs.filter((e) => e.epoch > 0);
  const running = state.status === 'running' || state.status === 'starting';
  return (
    <div className="panel">
      <header>
        <div>
          <h1>{state.run.graphName}</h1>
          <div className={`status ${state.status}`} data-testid="run-status">
            {state.status}
            {state.message ? ` — ${state.message}` : ''}
          </div>
        </div>
        <div className="actions">
          {running && <button onClick={() => vscode.postMessage({ type: 'stop' })}>Stop</button>}
          {state.run.runDir && <button onClick={() => vscode.postMessage({ type: 'openRunFolder' })}>Run folder</button>}
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
      <div className="charts">
        <Chart title="Loss per epoch" x={epochs.x} series={epochs.loss} testId="loss-chart" />
        {batches.x.length > 1 && <Chart title="Batch loss (smoothed)" x={batches.x} series={[{ label: 'smoothed', values: batches.smooth }, { label: 'batch', values: batches.raw }]} testId="batch-chart" />}
        {epochs.metrics.length > 0 && <Chart title="Metrics" x={epochs.x} series={epochs.metrics} testId="metrics-chart" />}
      </div>
      {state.preview && (
        <figure className="preview">
          <img data-testid="preview" src={`data:image/png;base64,${state.preview.pngBase64}`} alt={`Test images (top) and their reconstructions (bottom) after epoch ${state.preview.epoch}`} />
          <figcaption>Test images (top) and reconstructions (bottom), epoch {state.preview.epoch}</figcaption>
        </figure>
      )}
    </div>
  );
}

const root = document.getElementById('root');
if (root) createRoot(root).render(<App />);
