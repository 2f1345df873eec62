/**
 * The Latent space tab: the codes of test images as a scatter plot coloured by class (uPlot in
 * faceted mode 2, one series per class, points drawn by our own path builder), a legend that
 * hides and shows classes, and the clicked point's input and reconstruction.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import type { LatentResult } from '../../../src/core/inspect';
import { classPalette, cssColour } from '../colours';
import { ChartBox, type LegendItem, SavePngButton, axisStyle, composeChartPng, themeColours, themeCss, usePlot } from '../charts';
import { fmtSig } from '../format';
import { decodeBase64, latentAxisLabels, latentScatterSummary, nearestPoint, pointsByClass, sampleRgba } from '../inspectData';

/** uPlot's typings describe only aligned data; faceted mode 2 takes [null, [xs, ys], [xs, ys]…]. */
type FacetedData = [null, ...[number[], number[]][]];

const heightOf = (width: number): number => Math.round(Math.min(520, Math.max(280, width * 0.72)));

/** Pads a data range by 5% each side (a single value gets ±1). */
function padded(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!Number.isFinite(lo)) return [-1, 1];
  if (hi === lo) return [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

interface ScatterProps {
  readonly result: LatentResult;
  readonly title: string;
  readonly groups: ReturnType<typeof pointsByClass>;
  readonly colours: readonly string[];
  readonly hidden: ReadonlySet<number>;
  readonly selected: number | null;
  readonly onSelect: (point: number) => void;
}

type Groups = ScatterProps['groups'];

/** A group's points as filled dots, drawn directly (uPlot gets no paths back). */
function pointsPath(group: Groups[number], colour: string, radius: number): uPlot.Series.PathBuilder {
  return (u) => {
    const { left, top, width: w, height: h } = u.bbox;
    const ctx = u.ctx;
    const p = new Path2D();
    for (let i = 0; i < group.x.length; i++) {
      const cx = u.valToPos(group.x[i]!, 'x', true);
      const cy = u.valToPos(group.y[i]!, 'y', true);
      p.moveTo(cx + radius, cy);
      p.arc(cx, cy, radius, 0, 2 * Math.PI);
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, w, h);
    ctx.clip();
    ctx.fillStyle = colour;
    ctx.globalAlpha = 0.75;
    ctx.fill(p);
    ctx.restore();
    return null;
  };
}

/** A ring around the selected point (unless its group is hidden). */
function drawSelection(u: uPlot, result: LatentResult, groups: Groups, i: number | null, hidden: ReadonlySet<number>, radius: number): void {
  if (i === null || i >= result.x.length) return;
  const label = result.labels?.[i];
  const g = groups.findIndex((gr) => gr.label === (label ?? null));
  if (g >= 0 && hidden.has(g)) return;
  const k = uPlot.pxRatio;
  const cx = u.valToPos(result.x[i]!, 'x', true);
  const cy = u.valToPos(result.y[i]!, 'y', true);
  const ctx = u.ctx;
  ctx.save();
  ctx.lineWidth = 2 * k;
  ctx.strokeStyle = themeCss('--vscode-editor-background', '#1e1e1e');
  ctx.beginPath();
  ctx.arc(cx, cy, radius + 5 * k, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.strokeStyle = themeCss('--vscode-focusBorder', '#007fd4');
  ctx.beginPath();
  ctx.arc(cx, cy, radius + 3.5 * k, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.restore();
}

/** Click a point (the nearest within reach, compared in pixels) to see its image; hovering names it. */
function attachPointPicking(u: uPlot, result: LatentResult, groups: Groups, hidden: () => ReadonlySet<number>, onSelect: (i: number) => void): void {
  const over = u.over;
  over.style.cursor = 'crosshair';
  const hit = (e: MouseEvent, reach: number): number | null => {
    const r = over.getBoundingClientRect();
    const { min: xMin = 0, max: xMax = 1 } = u.scales.x ?? {};
    const { min: yMin = 0, max: yMax = 1 } = u.scales.y ?? {};
    const h = hidden();
    const visible = h.size === 0 ? null : new Set(groups.filter((_, g) => !h.has(g)).flatMap((gr) => gr.indices));
    const xs = visible ? result.x.map((v, i) => (visible.has(i) ? v : NaN)) : result.x;
    return nearestPoint(xs, result.y, { width: r.width, height: r.height, xMin, xMax, yMin, yMax }, e.clientX - r.left, e.clientY - r.top, reach);
  };
  over.addEventListener('click', (e) => {
    const i = hit(e, 24);
    if (i !== null) onSelect(i);
  });
  over.addEventListener('mousemove', (e) => {
    const i = hit(e, 8);
    over.style.cursor = i === null ? 'crosshair' : 'pointer';
    const label = i === null ? undefined : result.labels?.[i];
    over.title = i === null ? '' : `test image #${result.positions[i]}${label === undefined ? '' : `, class ${result.classNames?.[label] ?? label}`}`;
  });
}

function LatentScatter({ result, title, groups, colours, hidden, selected, onSelect }: ScatterProps) {
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const hiddenRef = useRef(hidden);
  hiddenRef.current = hidden;
  const onSelectRef = useRef(onSelect);
  onSelectRef.current = onSelect;
  const [xLabel, yLabel] = latentAxisLabels(result);
  const n = result.x.length;
  const words = useMemo(() => latentScatterSummary(title, [xLabel, yLabel], groups.filter((_, g) => !hidden.has(g))), [title, xLabel, yLabel, groups, hidden]);
  const { host, plot } = usePlot(
    (el, width) => {
      const radius = (n > 5000 ? 1.5 : n > 1000 ? 2 : 3) * uPlot.pxRatio;
      const opts: uPlot.Options = {
        mode: 2,
        width,
        height: heightOf(width),
        title,
        scales: { x: { time: false, auto: false, range: padded(result.x) }, y: { auto: false, range: padded(result.y) } },
        axes: [axisStyle(xLabel, 'x'), { ...axisStyle(yLabel), size: 52 }],
        series: [{}, ...groups.map((gr, g) => ({ label: gr.name, stroke: colours[g], fill: colours[g], paths: pointsPath(gr, colours[g]!, radius), show: !hiddenRef.current.has(g) }))],
        cursor: { show: false },
        legend: { show: false },
        hooks: { draw: [(u) => drawSelection(u, result, groups, selectedRef.current, hiddenRef.current, radius)] },
      };
      const data: FacetedData = [null, ...groups.map((gr): [number[], number[]] => [gr.x, gr.y])];
      const u = new uPlot(opts, data as unknown as uPlot.AlignedData, el);
      attachPointPicking(u, result, groups, () => hiddenRef.current, (i) => onSelectRef.current(i));
      return u;
    },
    heightOf,
    [result, groups, colours],
  );
  useEffect(() => {
    plot.current?.redraw(false, false);
  }, [selected, plot]);
  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    groups.forEach((_, g) => {
      const show = !hidden.has(g);
      if (u.series[g + 1]?.show !== show) u.setSeries(g + 1, { show });
    });
  }, [hidden, groups, plot]);
  const legend = (): LegendItem[] => groups.filter((_, g) => !hidden.has(g)).map((gr) => ({ label: gr.name, colour: colours[groups.indexOf(gr)]!, shape: 'dot' }));
  return (
    <ChartBox tools={<SavePngButton name="latent-space.png" png={() => (plot.current ? composeChartPng(plot.current, title, legend()) : null)} />}>
      <div className="chart" ref={host} data-testid="latent-scatter" data-points={n} data-projection={result.projection} aria-hidden="true" />
      <p className="sr-only" data-testid="latent-scatter-summary">
        {words}
      </p>
    </ChartBox>
  );
}

/** One sample of the raw uint8 buffers, drawn at its own size (CSS scales it up crisply). */
function SampleCanvas({ pixels, index, shape, testId, label }: { pixels: Uint8Array; index: number; shape: LatentResult['imageShape']; testId: string; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [h, w] = shape;
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    const rgba = sampleRgba(pixels, index, shape);
    if (!ctx) return;
    if (!rgba) return ctx.clearRect(0, 0, w, h);
    ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba), w, h), 0, 0);
  }, [pixels, index, shape, w, h]);
  const zoom = Math.max(1, Math.floor(112 / Math.max(w, 1)));
  return (
    <figure>
      <canvas ref={ref} width={w} height={h} className="pixel" data-testid={testId} style={{ width: w * zoom, height: h * zoom }} aria-label={label} role="img" />
      <figcaption>{label}</figcaption>
    </figure>
  );
}

export function LatentView({ result }: { result: LatentResult }) {
  const groups = useMemo(() => pointsByClass(result), [result]);
  const colours = useMemo(() => classPalette(groups.length, themeColours()).map((c) => cssColour(c)), [groups]);
  const inputs = useMemo(() => decodeBase64(result.inputsBase64), [result]);
  const reconstructions = useMemo(() => decodeBase64(result.reconstructionsBase64), [result]);
  const [selected, setSelected] = useState<number | null>(result.x.length > 0 ? 0 : null);
  const [hidden, setHidden] = useState<ReadonlySet<number>>(new Set());
  const title = result.projection === 'code' ? `Latent space (${result.codeSize}-number code)` : `Latent space (PCA of ${result.codeSize}-number codes)`;
  const toggle = (g: number): void =>
    setHidden((h) => {
      const next = new Set(h);
      if (!next.delete(g)) next.add(g);
      return next;
    });
  const label = selected === null ? undefined : result.labels?.[selected];
  return (
    <div className="latent">
      <div className="latent-main">
        <LatentScatter result={result} title={title} groups={groups} colours={colours} hidden={hidden} selected={selected} onSelect={setSelected} />
        {groups.length > 1 && (
          <div className="class-legend" role="group" aria-label="Classes (click to hide or show)">
            {groups.map((gr, g) => (
              <button key={gr.name} type="button" className={`legend-item ${hidden.has(g) ? 'off' : ''}`} aria-pressed={!hidden.has(g)} onClick={() => toggle(g)} title={`${hidden.has(g) ? 'Show' : 'Hide'} ${gr.name} (${gr.x.length} points)`}>
                <span className="dot" style={{ background: colours[g] }} />
                {gr.name}
              </button>
            ))}
          </div>
        )}
        <p className="muted">
          {result.x.length.toLocaleString('en-US')} {result.split} images{result.projection === 'pca' && result.explained ? `; the two axes explain ${((result.explained[0] + result.explained[1]) * 100).toFixed(1)}% of the codes' variance` : ''}. Click a point to see its image.
        </p>
      </div>
      {selected !== null && (
        <aside className="latent-detail" data-testid="latent-detail" data-position={result.positions[selected]}>
          <h3>
            Test image #{result.positions[selected]}
            {label !== undefined && <span className="muted"> · {result.classNames?.[label] ?? label}</span>}
          </h3>
          <div className="pictures">
            <SampleCanvas pixels={inputs} index={selected} shape={result.imageShape} testId="latent-input" label="input" />
            <SampleCanvas pixels={reconstructions} index={selected} shape={result.imageShape} testId="latent-reconstruction" label="reconstruction" />
          </div>
          <dl className="facts">
            <dt>{latentAxisLabels(result)[0].split(' ')[0]}</dt>
            <dd>{fmtSig(result.x[selected]!, 4)}</dd>
            <dt>{latentAxisLabels(result)[1].split(' ')[0]}</dt>
            <dd>{fmtSig(result.y[selected]!, 4)}</dd>
            <dt>index</dt>
            <dd>{result.indices[selected]}</dd>
          </dl>
        </aside>
      )}
    </div>
  );
}
