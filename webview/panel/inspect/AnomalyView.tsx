/**
 * The Anomalies tab: a histogram of the reconstruction errors (trained classes vs held-out ones
 * when the run left some out) with a threshold line to drag, how many images it flags, the worst
 * images, a per-class table and "Export CSV…".
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import type { ScoreResult } from '../../../src/core/inspect';
import { cssColour } from '../colours';
import { ChartBox, type LegendItem, SavePngButton, SavePictureButton, axisStyle, composeChartPng, themeColour, usePlot } from '../charts';
import { fmtSig, ofTotal, pct } from '../format';
import { postToHost } from '../store';
import { type Histogram, type ScoreGroups, classRows, flaggedSummary, histogram, histogramRange, niceStep, roundTo, scoreGroups, scoreHistogramSummary } from '../inspectData';
import { PixelImage } from './common';

const BINS = 50;
const HEIGHT = 240;
const TITLE = 'Reconstruction error per image';

interface HistogramProps {
  readonly hist: Histogram;
  readonly groups: ScoreGroups | null;
  readonly threshold: number;
  readonly step: number;
  readonly onThreshold: (value: number) => void;
  readonly flagged: number;
  /** The chart in words (scoreHistogramSummary). */
  readonly summary: string;
}

/** Group colours: trained classes in blue, held-out (the anomalies) in orange; the threshold in red. */
function colours(groups: ScoreGroups | null): { groups: string[]; fills: string[]; threshold: string; flaggedArea: string } {
  const blue = themeColour('--vscode-charts-blue', '#3794ff');
  const orange = themeColour('--vscode-charts-orange', '#d18616');
  const red = themeColour('--vscode-charts-red', '#f14c4c');
  const base = groups ? [blue, orange] : [blue];
  return { groups: base.map((c) => cssColour(c)), fills: base.map((c) => cssColour(c, groups ? 0.45 : 0.6)), threshold: cssColour(red), flaggedArea: cssColour(red, 0.07) };
}

type Colours = ReturnType<typeof colours>;

/** The line's grip: a focusable slider over the line (drag it, or arrow keys), for people and tests alike. */
function thresholdHandle(): HTMLDivElement {
  const handle = document.createElement('div');
  handle.className = 'threshold-handle';
  handle.tabIndex = 0;
  handle.setAttribute('data-testid', 'anomaly-threshold-line');
  handle.setAttribute('role', 'slider');
  handle.setAttribute('aria-label', 'Threshold: scores above it are flagged');
  return handle;
}

/** Draw the threshold line at `t` over the plot (shading what it flags), and move the grip there. */
function drawThreshold(u: uPlot, t: number, c: Colours, handle: HTMLElement, [lo, hi]: [number, number]): void {
  const { left, top, width: w, height: h } = u.bbox;
  const x = Math.round(u.valToPos(t, 'x', true));
  handle.style.left = `${u.valToPos(t, 'x')}px`;
  handle.setAttribute('aria-valuenow', String(t));
  handle.setAttribute('aria-valuemin', String(u.scales.x?.min ?? lo));
  handle.setAttribute('aria-valuemax', String(u.scales.x?.max ?? hi));
  if (x < left - 1 || x > left + w + 1) return;
  const ctx = u.ctx;
  const k = uPlot.pxRatio;
  ctx.save();
  ctx.fillStyle = c.flaggedArea;
  ctx.fillRect(x, top, left + w - x, h);
  ctx.strokeStyle = c.threshold;
  ctx.lineWidth = 2 * k;
  ctx.beginPath();
  ctx.moveTo(x, top);
  ctx.lineTo(x, top + h);
  ctx.stroke();
  // A handle at the top says the line can be dragged.
  ctx.fillStyle = c.threshold;
  ctx.beginPath();
  ctx.moveTo(x - 5 * k, top);
  ctx.lineTo(x + 5 * k, top);
  ctx.lineTo(x, top + 7 * k);
  ctx.closePath();
  ctx.fill();
  ctx.font = `${11 * k}px ${getComputedStyle(document.body).fontFamily || 'sans-serif'}`;
  ctx.textBaseline = 'top';
  const label = `threshold ${fmtSig(t)}`;
  const tw = ctx.measureText(label).width;
  const right = x + 8 * k + tw < left + w;
  ctx.textAlign = right ? 'left' : 'right';
  ctx.fillText(label, right ? x + 8 * k : x - 8 * k, top + 4 * k);
  ctx.restore();
}

/** Move the threshold by dragging on the plot (it jumps where pressed) or with the grip's arrow keys. */
function attachThresholdDrag(u: uPlot, handle: HTMLElement, step: number, [lo, hi]: [number, number], current: () => number, set: (v: number) => void): void {
  const over = u.over;
  over.appendChild(handle);
  handle.addEventListener('keydown', (e) => {
    const direction = ({ ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 } as Record<string, number>)[e.key];
    if (direction === undefined) return;
    e.preventDefault();
    const span = (u.scales.x?.max ?? hi) - (u.scales.x?.min ?? lo);
    const delta = Math.max(step, span / (e.shiftKey ? 20 : 200));
    set(roundTo(current() + direction * delta, step));
  });
  let dragging = false;
  const valueAt = (e: PointerEvent): number => {
    const r = over.getBoundingClientRect();
    const x = Math.min(Math.max(e.clientX - r.left, 0), r.width);
    return roundTo(u.posToVal(x, 'x'), step);
  };
  over.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    dragging = true;
    over.setPointerCapture(e.pointerId);
    set(valueAt(e));
    e.preventDefault();
  });
  over.addEventListener('pointermove', (e) => {
    const near = Math.abs(u.valToPos(current(), 'x') - (e.clientX - over.getBoundingClientRect().left)) < 6;
    over.style.cursor = dragging || near ? 'ew-resize' : 'crosshair';
    if (dragging) set(valueAt(e));
  });
  const stop = (e: PointerEvent): void => {
    dragging = false;
    if (over.hasPointerCapture(e.pointerId)) over.releasePointerCapture(e.pointerId);
  };
  over.addEventListener('pointerup', stop);
  over.addEventListener('pointercancel', stop);
}

/** The bar under the mouse, in words: "0.012 – 0.014: 31 trained, 2 held-out". */
function readoutText(hist: Histogram, names: readonly string[], grouped: boolean, i: number | null | undefined): string {
  if (i === null || i === undefined) return '';
  return `${fmtSig(hist.edges[i]!, 3)} – ${fmtSig(hist.edges[i + 1]!, 3)}: ${names.map((n, g) => `${hist.counts[g]![i]} ${grouped ? n.replace(' classes', '') : n}`).join(', ')}`;
}

function histogramOptions(width: number, hist: Histogram, names: readonly string[], c: Colours, threshold: number, hooks: uPlot.Hooks.Arrays): uPlot.Options {
  const lo = hist.edges[0]!;
  const hi = hist.edges[hist.edges.length - 1]!;
  return {
    width,
    height: HEIGHT,
    title: TITLE,
    scales: { x: { time: false, auto: false, range: [Math.min(lo, threshold - hist.width / 2), Math.max(hi, threshold + hist.width / 2)] }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.08] } },
    axes: [axisStyle('reconstruction error (mean squared error)', 'x'), { ...axisStyle('images'), size: 48 }],
    series: [
      { label: 'error' },
      ...names.map((label, g) => ({ label, stroke: c.groups[g], fill: c.fills[g], width: 1, paths: uPlot.paths.bars!({ size: [1, Infinity], align: 0 }), points: { show: false } })),
    ],
    cursor: { x: false, y: false, points: { show: false }, drag: { x: false, y: false, setScale: false } },
    // The groups' names and counts are written above the chart; the bar under the mouse in the readout.
    legend: { show: false },
    hooks,
  };
}

function AnomalyHistogram({ hist, groups, threshold, step, onThreshold, flagged, summary }: HistogramProps) {
  const thresholdRef = useRef(threshold);
  thresholdRef.current = threshold;
  const onThresholdRef = useRef(onThreshold);
  onThresholdRef.current = onThreshold;
  const names = groups?.names ?? ['images'];
  const c = colours(groups);
  const readout = useRef<HTMLDivElement>(null);
  const { host, plot } = usePlot(
    (el, width) => {
      const range: [number, number] = [hist.edges[0]!, hist.edges[hist.edges.length - 1]!];
      const handle = thresholdHandle();
      const hooks: uPlot.Hooks.Arrays = {
        draw: [(u) => drawThreshold(u, thresholdRef.current, c, handle, range)],
        setCursor: [
          (u) => {
            if (readout.current) readout.current.textContent = readoutText(hist, names, groups !== null, u.cursor.idx);
          },
        ],
      };
      // Empty bins are gaps, not a hairline along the axis.
      const u = new uPlot(histogramOptions(width, hist, names, c, thresholdRef.current, hooks), [hist.centers, ...hist.counts.map((row) => row.map((n) => (n === 0 ? null : n)))] as uPlot.AlignedData, el);
      attachThresholdDrag(u, handle, step, range, () => thresholdRef.current, (v) => onThresholdRef.current(v));
      return u;
    },
    () => HEIGHT,
    [hist, groups, step],
  );
  // A new threshold: widen the x axis when it lies outside, else only redraw the line.
  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    const { min, max } = u.scales.x ?? {};
    if (min !== undefined && max !== undefined && (threshold < min || threshold > max)) {
      u.setScale('x', { min: Math.min(min, threshold - hist.width / 2), max: Math.max(max, threshold + hist.width / 2) });
    } else u.redraw(false, false);
  }, [threshold, plot, hist]);
  const legend = (): LegendItem[] => [
    ...names.map((label, g): LegendItem => ({ label, colour: c.fills[g]!, shape: 'box' })),
    { label: `threshold ${fmtSig(threshold)} (${flagged} flagged)`, colour: c.threshold, shape: 'line' },
  ];
  return (
    <ChartBox tools={<SavePngButton name="anomaly-histogram.png" png={() => (plot.current ? composeChartPng(plot.current, TITLE, legend()) : null)} />}>
      <div className="chart" ref={host} data-testid="anomaly-histogram" data-threshold={threshold} data-flagged={flagged} data-total={hist.total} aria-hidden="true" />
      <p className="sr-only" data-testid="anomaly-histogram-summary">
        {summary}
      </p>
      <div className="readout muted" ref={readout} aria-live="off" />
    </ChartBox>
  );
}

/** The threshold as a number field that follows the line while it is dragged and moves it when typed in. */
function ThresholdInput({ value, step, onChange }: { value: number; step: number; onChange: (v: number) => void }) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      type="number"
      className="num"
      data-testid="anomaly-threshold"
      aria-label="Threshold"
      step={step}
      value={draft ?? String(value)}
      onChange={(e) => {
        setDraft(e.currentTarget.value);
        const v = Number(e.currentTarget.value);
        if (e.currentTarget.value.trim() !== '' && Number.isFinite(v)) onChange(v);
      }}
      onBlur={() => setDraft(null)}
    />
  );
}

function WorstImages({ result }: { result: ScoreResult }) {
  const n = result.worst.length;
  if (n === 0 || !result.worstPngBase64) return null;
  const name = (l: number | undefined): string => (l === undefined ? '' : result.classNames?.[l] ?? String(l));
  return (
    <figure className="strip worst">
      <div className="strip-body">
        <PixelImage pngBase64={result.worstPngBase64} alt={`The ${n} images with the highest reconstruction error (top) and their reconstructions (bottom)`} target={100000} maxZoom={2} testId="anomaly-worst" />
        <ol className="strip-labels" style={{ gridTemplateColumns: `repeat(${n}, minmax(0, 1fr))` }}>
          {result.worst.map((w, i) => (
            <li key={i} title={`test image #${w.position} (dataset index ${w.index})${w.label === undefined ? '' : `, class ${name(w.label)}`}: error ${w.score}`}>
              <span className="score">{fmtSig(w.score, 2)}</span>
              <span className="muted">#{w.position}</span>
              {w.label !== undefined && <span className="cls">{name(w.label)}</span>}
            </li>
          ))}
        </ol>
      </div>
      <figcaption className="with-tools">
        <span>The {n} highest errors, worst first: images (top) over their reconstructions (bottom).</span>
        <SavePictureButton name="anomaly-worst.png" pngBase64={result.worstPngBase64} />
      </figcaption>
    </figure>
  );
}

/** A table's worst rows: each one's score and the features that hold most of its error (share, input → reconstruction, in z-scores or normalised units). */
function WorstRows({ result }: { result: ScoreResult }) {
  const rows = result.worst.filter((w) => w.features && w.features.length > 0);
  if (rows.length === 0) return null;
  const name = (l: number | undefined): string => (l === undefined ? '' : result.classNames?.[l] ?? String(l));
  return (
    <figure className="worst-rows">
      <table className="table" data-testid="anomaly-worst-rows">
        <thead>
          <tr>
            <th className="n">score</th>
            <th>sample</th>
            {result.labels && <th>class</th>}
            <th>most of its error in</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((w) => (
            <tr key={w.index}>
              <td className="n">{fmtSig(w.score, 3)}</td>
              <td className="muted">#{w.position}</td>
              {result.labels && <td>{name(w.label)}</td>}
              <td>
                {w.features!.map((f) => (
                  <span key={f.name} className="feature" title={`${f.name}: ${fmtSig(f.value, 3)} → ${fmtSig(f.reconstructed, 3)} (${pct(f.share)} of the squared error)`}>
                    <span className="meter">
                      <span style={{ width: `${Math.round(f.share * 100)}%` }} />
                    </span>
                    {f.name} <span className="muted">{pct(f.share)}</span>
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <figcaption>The rows with the highest errors, worst first, and the features that contribute most to each one's reconstruction error.</figcaption>
    </figure>
  );
}

function ClassTable({ result, threshold }: { result: ScoreResult; threshold: number }) {
  const rows = useMemo(() => classRows(result, threshold), [result, threshold]);
  if (rows.length === 0) return null;
  const split = rows.some((r) => r.trained !== null);
  const maxMean = Math.max(...rows.map((r) => r.meanScore));
  return (
    <table className="table classes">
      <thead>
        <tr>
          <th>class</th>
          {split && <th />}
          <th className="n">images</th>
          <th className="n">mean error</th>
          <th className="n">flagged</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.label} className={r.trained === false ? 'held-out' : ''}>
            <td>{r.name}</td>
            {split && <td className="tag">{r.trained ? 'trained' : 'held out'}</td>}
            <td className="n">{r.samples.toLocaleString('en-US')}</td>
            <td className="n">
              <span className="meter" aria-hidden="true">
                <span style={{ width: `${(r.meanScore / maxMean) * 100}%` }} />
              </span>
              {fmtSig(r.meanScore, 3)}
            </td>
            <td className="n">{pct(r.flagged / r.samples, 1)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function AnomalyView({ result }: { result: ScoreResult }) {
  const groups = useMemo(() => scoreGroups(result), [result]);
  const range = useMemo(() => histogramRange(result.scores), [result]);
  const hist = useMemo(() => histogram(result.scores, range, BINS, groups ? { of: groups.of, count: groups.names.length } : undefined), [result, range, groups]);
  const step = useMemo(() => niceStep(range[0], range[1]), [range]);
  // A new result brings its own suggested threshold: the tab keys this view by the result's time.
  const [threshold, setThreshold] = useState(result.threshold);
  const summary = useMemo(() => flaggedSummary(result.scores, threshold, groups), [result, threshold, groups]);
  const words = useMemo(() => scoreHistogramSummary(TITLE, result.scores, threshold, groups), [result, threshold, groups]);
  const suggested = threshold === result.threshold;
  return (
    <div className="anomaly">
      <div className="threshold-bar">
        <label className="field">
          <span>Threshold</span>
          <ThresholdInput value={threshold} step={step} onChange={setThreshold} />
        </label>
        <button type="button" disabled={suggested} onClick={() => setThreshold(result.threshold)} title={`Back to the suggested threshold, ${fmtSig(result.threshold)}`}>
          Suggested
        </button>
        <div className="flagged" data-testid="anomaly-flagged">
          flagged: <strong>{ofTotal(summary.flagged, summary.total)}</strong>
        </div>
        <div className="spacer" />
        <button type="button" data-testid="btn-export-scores" onClick={() => postToHost({ type: 'exportScores', threshold })} title="Write every image's score and whether this threshold flags it to a CSV file">
          Export CSV…
        </button>
      </div>
      {summary.groups.length > 0 && (
        <div className="group-summary">
          {summary.groups.map((g, i) => (
            <span key={g.name} className={`group g${i}`}>
              <span className="swatch" /> {g.name}: <strong>{ofTotal(g.flagged, g.total)}</strong> flagged
            </span>
          ))}
        </div>
      )}
      <p className="muted rule">
        {suggested ? 'Suggested threshold' : `Suggested threshold ${fmtSig(result.threshold)}`}: {result.thresholdRule}
        {hist.above > 0 && ` ${hist.above} ${hist.above === 1 ? 'image' : 'images'} above ${fmtSig(range[1], 3)} ${hist.above === 1 ? 'is' : 'are'} counted in the last bar.`}
      </p>
      <AnomalyHistogram hist={hist} groups={groups} threshold={threshold} step={step} onThreshold={setThreshold} flagged={summary.flagged} summary={words} />
      <div className="anomaly-details">
        {result.worst.some((w) => w.features) ? <WorstRows result={result} /> : <WorstImages result={result} />}
        <ClassTable result={result} threshold={threshold} />
      </div>
    </div>
  );
}
