/**
 * uPlot in React (one hook that creates, resizes and destroys a plot), the line charts of the
 * training curves, and "Save PNG": a chart composed onto one canvas with its title and legend, or
 * a picture the host sent, handed to the host to save.
 */
import { type DependencyList, type ReactNode, type RefObject, useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { type Rgb, type ThemeColours, cssColour, parseColour } from './colours';
import { postToHost } from './store';
import { type Series, chartSummary } from './state';

// ── Theme ───────────────────────────────────────────────────────────────────────────────────────

export const cssVar = (name: string): string => getComputedStyle(document.body).getPropertyValue(name).trim();

let normaliser: CanvasRenderingContext2D | null = null;
/** A theme colour (a CSS variable) as numbers: the canvas parses whatever form the theme wrote it in. */
export function themeColour(name: string, fallback = '#808080'): Rgb {
  const raw = cssVar(name) || fallback;
  normaliser ??= document.createElement('canvas').getContext('2d');
  if (normaliser) {
    normaliser.fillStyle = fallback;
    normaliser.fillStyle = raw;
    const parsed = parseColour(String(normaliser.fillStyle));
    if (parsed) return parsed;
  }
  return parseColour(raw) ?? parseColour(fallback)!;
}

export const themeCss = (name: string, fallback?: string): string => cssColour(themeColour(name, fallback));

export function themeColours(): ThemeColours {
  return {
    blue: themeColour('--vscode-charts-blue', '#3794ff'),
    orange: themeColour('--vscode-charts-orange', '#d18616'),
    green: themeColour('--vscode-charts-green', '#89d185'),
    red: themeColour('--vscode-charts-red', '#f14c4c'),
    purple: themeColour('--vscode-charts-purple', '#b180d7'),
    yellow: themeColour('--vscode-charts-yellow', '#cca700'),
    foreground: themeColour('--vscode-foreground', '#cccccc'),
    background: themeColour('--vscode-editor-background', '#1e1e1e'),
  };
}

export const PALETTE = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
/** Dash pattern of the i-th overlay's curves (and of its sample in the legend). */
const DASHES = [[6, 4], [2, 3], [10, 3, 2, 3]];
export const dashOf = (overlay: number): number[] => DASHES[overlay % DASHES.length]!;

/** Axes in the theme's colours, grid lines in the panel border colour; `x` axes are kept short. */
export function axisStyle(label?: string, side: 'x' | 'y' = 'y'): uPlot.Axis {
  const fg = themeCss('--vscode-descriptionForeground', '#999999');
  const grid = themeCss('--vscode-panel-border', '#444444');
  return {
    stroke: fg,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 },
    font: `11px ${cssVar('--vscode-font-family') || 'sans-serif'}`,
    labelFont: `12px ${cssVar('--vscode-font-family') || 'sans-serif'}`,
    ...(side === 'x' ? { size: 28 } : {}),
    ...(label ? { label, labelSize: side === 'x' ? 18 : 20, labelGap: side === 'x' ? 2 : 0 } : {}),
  };
}

// ── A plot in React ─────────────────────────────────────────────────────────────────────────────

/**
 * Creates a plot in `host` when `deps` change, keeps it as wide as its box (height from the
 * width), and destroys it on the way out. Data updates go through the returned ref.
 */
export function usePlot(create: (host: HTMLDivElement, width: number) => uPlot, heightOf: (width: number) => number, deps: DependencyList): { host: RefObject<HTMLDivElement | null>; plot: RefObject<uPlot | null> } {
  const host = useRef<HTMLDivElement | null>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const chart = create(el, el.clientWidth || 400);
    plot.current = chart;
    let width = el.clientWidth;
    const resize = new ResizeObserver(() => {
      if (el.clientWidth === width || el.clientWidth === 0) return;
      width = el.clientWidth;
      chart.setSize({ width, height: heightOf(width) });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // The caller lists what the plot is built from.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return { host, plot };
}

// ── Save PNG ────────────────────────────────────────────────────────────────────────────────────

export interface LegendItem {
  readonly label: string;
  readonly colour: string;
  /** A line sample (dashed when given a pattern), a filled box (bars) or a dot (points). */
  readonly shape: 'line' | 'box' | 'dot';
  readonly dash?: readonly number[];
}

/**
 * The plot's canvas on a filled background with the chart's title above it and its legend under
 * it, as PNG base64: what the person sees, without the HTML around it.
 */
export function composeChartPng(u: uPlot, title: string, legend: readonly LegendItem[]): string | null {
  const plot = u.ctx.canvas;
  if (plot.width === 0 || plot.height === 0) return null;
  const k = plot.width / Math.max(1, u.width);
  const font = cssVar('--vscode-font-family') || 'sans-serif';
  const pad = 12 * k;
  const titleH = title ? 24 * k : 0;
  const rowH = 18 * k;
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  // Lay the legend out in rows as wide as the plot.
  ctx.font = `${11 * k}px ${font}`;
  const swatch = 18 * k;
  const rows: { item: LegendItem; x: number }[][] = [[]];
  let x = 0;
  for (const item of legend) {
    const w = swatch + 6 * k + ctx.measureText(item.label).width + 16 * k;
    if (x > 0 && x + w > plot.width) {
      rows.push([]);
      x = 0;
    }
    rows.at(-1)!.push({ item, x });
    x += w;
  }
  const legendH = legend.length > 0 ? rows.length * rowH + 6 * k : 0;
  canvas.width = Math.ceil(plot.width + 2 * pad);
  canvas.height = Math.ceil(pad + titleH + plot.height + legendH + pad);
  ctx.fillStyle = themeCss('--vscode-editor-background', '#1e1e1e');
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.textBaseline = 'middle';
  if (title) {
    ctx.fillStyle = themeCss('--vscode-foreground', '#cccccc');
    ctx.font = `600 ${13 * k}px ${font}`;
    ctx.fillText(title, pad, pad + titleH / 2 - 2 * k);
  }
  ctx.drawImage(plot, pad, pad + titleH);
  ctx.font = `${11 * k}px ${font}`;
  rows.forEach((row, r) => {
    const y = pad + titleH + plot.height + 6 * k + r * rowH + rowH / 2;
    for (const { item, x: at } of row) {
      const left = pad + at;
      ctx.fillStyle = item.colour;
      ctx.strokeStyle = item.colour;
      if (item.shape === 'box') ctx.fillRect(left + 3 * k, y - 5 * k, swatch - 6 * k, 10 * k);
      else if (item.shape === 'dot') {
        ctx.beginPath();
        ctx.arc(left + swatch / 2, y, 4 * k, 0, 2 * Math.PI);
        ctx.fill();
      } else {
        ctx.lineWidth = 2 * k;
        ctx.setLineDash((item.dash ?? []).map((d) => d * k));
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + swatch, y);
        ctx.stroke();
        ctx.setLineDash([]);
      }
      ctx.fillStyle = themeCss('--vscode-foreground', '#cccccc');
      ctx.fillText(item.label, left + swatch + 6 * k, y);
    }
  });
  return canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
}

/** "Save PNG": asks the host where to save what `png()` returns. */
export function SavePngButton({ name, png, label = 'Save PNG' }: { name: string; png: () => string | null; label?: string }) {
  return (
    <button
      type="button"
      className="save-png"
      data-name={name}
      title={`Save as ${name}…`}
      onClick={() => {
        const pngBase64 = png();
        if (pngBase64) postToHost({ type: 'savePng', name, pngBase64 });
      }}
    >
      {label}
    </button>
  );
}

/** A picture the host sent (PNG base64), saved as it is. */
export const SavePictureButton = ({ name, pngBase64 }: { name: string; pngBase64: string }) => <SavePngButton name={name} png={() => pngBase64 || null} />;

/** A chart's box: the plot, and its tools (Save PNG) in the top right corner. */
export function ChartBox({ children, tools, className = '' }: { children: ReactNode; tools: ReactNode; className?: string }) {
  return (
    <div className={`chart-box ${className}`}>
      {children}
      <div className="chart-tools">{tools}</div>
    </div>
  );
}

// ── The training curves ─────────────────────────────────────────────────────────────────────────

/** A colour per quantity (loss, val_loss, accuracy…), in order of first appearance: a run and its overlays share it. */
function colourIndex(series: readonly Series[]): Map<string, number> {
  const index = new Map<string, number>();
  for (const s of series) {
    const key = s.key ?? s.label;
    if (!index.has(key)) index.set(key, index.size);
  }
  return index;
}

const LINE_HEIGHT = 200;

/** Curves per epoch (or batch); series named in `faint` are drawn thin and translucent under the others (raw batch losses). */
export function LineChart({ title, x, series, testId, points, pngFile, faint = [], yLabel }: { title: string; x: number[]; series: Series[]; testId: string; points?: number; pngFile: string; faint?: readonly string[]; yLabel?: string }) {
  const labels = series.map((s) => s.label).join('|');
  const colours = colourIndex(series);
  const strokeOf = (s: Series): string => {
    const c = themeColour(PALETTE[(colours.get(s.key ?? s.label) ?? 0) % PALETTE.length]!);
    return cssColour(c, faint.includes(s.label) ? 0.35 : 1);
  };
  const { host, plot } = usePlot(
    (el, width) => {
      const background = themeCss('--vscode-editor-background', '#1e1e1e');
      const opts: uPlot.Options = {
        width,
        height: LINE_HEIGHT,
        title,
        scales: { x: { time: false } },
        axes: [axisStyle('epoch', 'x'), { ...axisStyle(yLabel), size: 48 }],
        series: [
          { label: 'epoch' },
          ...series.map((s) =>
            s.overlay === undefined
              ? { label: s.label, stroke: strokeOf(s), width: faint.includes(s.label) ? 1 : 2, points: { show: (points ?? x.length) < 60, fill: background }, spanGaps: true }
              : { label: s.label, stroke: strokeOf(s), width: 1.5, dash: dashOf(s.overlay), points: { show: false }, spanGaps: true },
          ),
        ],
        legend: { live: false },
      };
      const chart = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
      // Overlays share their colours with this run's curves and are named once, in the overlay legend.
      const overlaid = new Set(series.filter((s) => s.overlay !== undefined).map((s) => s.label));
      chart.root.querySelectorAll('.u-legend .u-series').forEach((row) => {
        if (overlaid.has(row.querySelector('.u-label')?.textContent ?? '')) row.classList.add('overlay');
      });
      return chart;
    },
    () => LINE_HEIGHT,
    // Recreate only when the set of series changes; data updates go through setData below.
    [labels, title, yLabel],
  );
  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series, plot]);
  const legend = (): LegendItem[] => series.map((s) => ({ label: s.label, colour: strokeOf(s), shape: 'line', ...(s.overlay === undefined ? {} : { dash: dashOf(s.overlay) }) }));
  return (
    <ChartBox tools={<SavePngButton name={pngFile} png={() => (plot.current ? composeChartPng(plot.current, title, legend()) : null)} />}>
      <div className="chart" ref={host} data-testid={testId} data-points={points ?? x.length} aria-hidden="true" />
      <p className="sr-only" data-testid={`${testId}-summary`}>
        {chartSummary(title, 'epoch', x, series)}
      </p>
    </ChartBox>
  );
}
