/**
 * What the inspect views compute from a result before drawing it: histogram bins, flagged counts,
 * the nearest scatter point to a click, a latent point's pixels. Pure (no DOM), so it is tested in
 * plain Node.
 */
import type { LatentResult, PredictionItem, ScoreResult } from '../../src/core/inspect';

// ── Anomaly scores ──────────────────────────────────────────────────────────────────────────────

/** The q-quantile (0..1) of values already sorted ascending, interpolated between neighbours. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const i = Math.floor(at);
  const next = sorted[Math.min(i + 1, sorted.length - 1)]!;
  return sorted[i]! + (next - sorted[i]!) * (at - i);
}

/**
 * The range the histogram's bins cover: min..max, unless a few extreme scores would squeeze
 * everything else into a handful of bars (the max more than twice as far from the min as the
 * 99.5th percentile): then up to just past that percentile, the rest counted in the last bar.
 */
export function histogramRange(values: readonly number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  const sorted = [...finite].sort((a, b) => a - b);
  const lo = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  const top = quantileSorted(sorted, 0.995);
  const hi = max - lo > 2 * (top - lo) && top > lo ? top + 0.05 * (top - lo) : max;
  if (hi > lo) return [lo, hi];
  // Every score the same: a bar in the middle of a range around it.
  const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 0.5;
  return [lo - pad, lo + pad];
}

export interface Histogram {
  /** bins + 1 edges, from lo to hi. */
  readonly edges: number[];
  readonly centers: number[];
  readonly width: number;
  /** counts[group][bin]; one group when none are given. */
  readonly counts: number[][];
  /** Values below lo / above hi, counted in the first / last bin. */
  readonly below: number;
  readonly above: number;
  readonly total: number;
}

/** The bin a value falls in; values outside [lo, hi] fall in the first or last bin. */
export function binOf(value: number, lo: number, width: number, bins: number): number {
  return Math.min(bins - 1, Math.max(0, Math.floor((value - lo) / width)));
}

/**
 * Counts of `values` in `bins` equal bins over `range`, per group when `groupOf[i]` names each
 * value's group (0..groups-1). Non-finite values are left out.
 */
export function histogram(values: readonly number[], range: readonly [number, number], bins = 50, group?: { readonly of: readonly number[]; readonly count: number }): Histogram {
  const n = Math.max(1, Math.floor(bins));
  const [lo, hi] = range;
  const width = (hi - lo) / n;
  const edges = Array.from({ length: n + 1 }, (_, i) => lo + i * width);
  const centers = Array.from({ length: n }, (_, i) => lo + (i + 0.5) * width);
  const counts = Array.from({ length: group?.count ?? 1 }, () => new Array<number>(n).fill(0));
  let below = 0;
  let above = 0;
  let total = 0;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const g = group ? group.of[i] ?? 0 : 0;
    const row = counts[g];
    if (!row) return;
    if (v < lo) below++;
    if (v > hi) above++;
    row[binOf(v, lo, width, n)]!++;
    total++;
  });
  return { edges, centers, width, counts, below, above, total };
}

export interface ScoreGroups {
  /** Group names, e.g. ["trained classes", "held-out classes"]. */
  readonly names: string[];
  /** Group of each sample, index into names. */
  readonly of: number[];
}

/**
 * Trained classes vs held-out classes, when the run trained on some classes only and the scores
 * carry labels: the held-out classes are the anomalies the threshold should catch.
 */
export function scoreGroups(result: Pick<ScoreResult, 'labels' | 'trainedClasses'>): ScoreGroups | null {
  const { labels, trainedClasses } = result;
  if (!labels || !trainedClasses || trainedClasses.length === 0) return null;
  const trained = new Set(trainedClasses);
  return { names: ['trained classes', 'held-out classes'], of: labels.map((l) => (trained.has(l) ? 0 : 1)) };
}

export interface FlaggedSummary {
  readonly total: number;
  readonly flagged: number;
  /** Per group (trained / held-out), when there are groups. */
  readonly groups: { readonly name: string; readonly total: number; readonly flagged: number }[];
}

export function flaggedSummary(scores: readonly number[], threshold: number, groups: ScoreGroups | null): FlaggedSummary {
  const perGroup = (groups?.names ?? []).map((name) => ({ name, total: 0, flagged: 0 }));
  let flagged = 0;
  scores.forEach((s, i) => {
    const hit = s > threshold;
    if (hit) flagged++;
    const g = groups ? perGroup[groups.of[i] ?? -1] : undefined;
    if (g) {
      g.total++;
      if (hit) g.flagged++;
    }
  });
  return { total: scores.length, flagged, groups: perGroup };
}

export interface ClassRow {
  readonly label: number;
  readonly name: string;
  /** Whether the run trained on this class; null when it trained on every class. */
  readonly trained: boolean | null;
  readonly samples: number;
  readonly meanScore: number;
  readonly flagged: number;
}

/** Per class: how many samples, their mean score, how many are flagged at `threshold`. */
export function classRows(result: Pick<ScoreResult, 'scores' | 'labels' | 'classNames' | 'trainedClasses'>, threshold: number): ClassRow[] {
  const { labels, scores } = result;
  if (!labels) return [];
  const acc = new Map<number, { sum: number; samples: number; flagged: number }>();
  labels.forEach((l, i) => {
    const s = scores[i];
    if (s === undefined) return;
    const a = acc.get(l) ?? { sum: 0, samples: 0, flagged: 0 };
    a.sum += s;
    a.samples++;
    if (s > threshold) a.flagged++;
    acc.set(l, a);
  });
  const trained = result.trainedClasses ? new Set(result.trainedClasses) : null;
  return [...acc.entries()]
    .sort(([a], [b]) => a - b)
    .map(([label, a]) => ({
      label,
      name: result.classNames?.[label] ?? String(label),
      trained: trained ? trained.has(label) : null,
      samples: a.samples,
      meanScore: a.sum / a.samples,
      flagged: a.flagged,
    }));
}

/** A step for a threshold input over this range: a power of ten near a thousandth of it. */
export function niceStep(lo: number, hi: number): number {
  const span = Math.abs(hi - lo) || Math.abs(hi) || 1;
  const e = Math.floor(Math.log10(span / 1000));
  // 1 / 10^4 is the double nearest 0.0001; 10^-4 is not.
  return e < 0 ? 1 / 10 ** -e : 10 ** e;
}

/** A value rounded to a step (without the float dust 0.1 + 0.2 leaves). */
export function roundTo(value: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return Number((Math.round(value / step) * step).toFixed(Math.min(digits, 20)));
}

// ── Predictions ─────────────────────────────────────────────────────────────────────────────────

/**
 * Split positions typed by a person: "7", "3, 10-12", "5 8". Positions are 0-based within the
 * split; at most `max` of them.
 */
export function parsePositions(text: string, max = 200): { positions: number[] } | { error: string } {
  const parts = text.split(/[\s,;]+/).filter((p) => p !== '');
  if (parts.length === 0) return { error: 'Type a test image number, e.g. 7 or 10-20.' };
  const positions: number[] = [];
  for (const part of parts) {
    const m = /^(\d+)(?:\s*[-–]\s*(\d+))?$/.exec(part);
    if (!m) return { error: `"${part}" is not a number or a range like 10-20.` };
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return { error: `The range ${part} runs backwards.` };
    for (let p = a; p <= b; p++) {
      if (!positions.includes(p)) positions.push(p);
      if (positions.length > max) return { error: `At most ${max} images at a time.` };
    }
  }
  return { positions };
}

/** The next page of positions after the ones shown (or before them, with `direction` -1). */
export function pagePositions(items: readonly Pick<PredictionItem, 'position'>[], count = 24, direction: 1 | -1 = 1): number[] {
  if (items.length === 0) return Array.from({ length: count }, (_, i) => i);
  const positions = items.map((i) => i.position);
  const start = direction === 1 ? Math.max(...positions) + 1 : Math.max(0, Math.min(...positions) - count);
  const end = direction === 1 ? start + count : Math.min(...positions);
  return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
}

/** Classes by probability, highest first, with the predicted one marked. */
export function rankedProbabilities(item: Pick<PredictionItem, 'probabilities' | 'predicted'>, classNames: readonly string[] | undefined): { cls: number; name: string; p: number; predicted: boolean }[] {
  return (item.probabilities ?? [])
    .map((p, cls) => ({ cls, name: classNames?.[cls] ?? String(cls), p, predicted: cls === item.predicted }))
    .sort((a, b) => b.p - a.p || a.cls - b.cls);
}

// ── Latent space ────────────────────────────────────────────────────────────────────────────────

/** The axis titles of a latent scatter: the code's own numbers, or principal components with their share of variance. */
export function latentAxisLabels(result: Pick<LatentResult, 'projection' | 'explained'>): [string, string] {
  if (result.projection === 'code') return ['z[0]', 'z[1]'];
  const share = (i: 0 | 1): string => (result.explained ? ` (${(result.explained[i] * 100).toFixed(1)}% of variance)` : '');
  return [`PC1${share(0)}`, `PC2${share(1)}`];
}

/** A plot area in CSS pixels and the data ranges its scales show (y grows upwards). */
export interface PlotFrame {
  readonly width: number;
  readonly height: number;
  readonly xMin: number;
  readonly xMax: number;
  readonly yMin: number;
  readonly yMax: number;
}

/**
 * The point nearest to a click at (left, top) in the plot area (CSS pixels), compared in pixels
 * (the axes have different units), or null when none is within `radius` pixels.
 */
export function nearestPoint(x: readonly number[], y: readonly number[], frame: PlotFrame, left: number, top: number, radius = 10): number | null {
  const sx = frame.xMax > frame.xMin ? frame.width / (frame.xMax - frame.xMin) : 0;
  const sy = frame.yMax > frame.yMin ? frame.height / (frame.yMax - frame.yMin) : 0;
  let best: number | null = null;
  let bestD = radius * radius;
  for (let i = 0; i < x.length; i++) {
    const px = (x[i]! - frame.xMin) * sx;
    const py = (frame.yMax - y[i]!) * sy;
    const d = (px - left) ** 2 + (py - top) ** 2;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** Bytes of a base64 string (the latent thumbnails travel as raw uint8 pixels). */
export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Sample `index` of images stored back to back (height × width × channels uint8 each), as RGBA
 * bytes for an ImageData: grey when there is one channel, RGB from the first three otherwise.
 * Null when the buffer does not hold that sample.
 */
export function sampleRgba(pixels: Uint8Array, index: number, shape: readonly [number, number, number]): Uint8ClampedArray | null {
  const [h, w, c] = shape;
  const size = h * w * c;
  const start = index * size;
  if (index < 0 || size <= 0 || start + size > pixels.length) return null;
  const out = new Uint8ClampedArray(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    const at = start + p * c;
    const r = pixels[at]!;
    out[p * 4] = r;
    out[p * 4 + 1] = c >= 3 ? pixels[at + 1]! : r;
    out[p * 4 + 2] = c >= 3 ? pixels[at + 2]! : r;
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** Points of each class, for one scatter series per class (unlabelled points in one series). */
export function pointsByClass(result: Pick<LatentResult, 'x' | 'y' | 'labels' | 'classNames'>): { label: number | null; name: string; x: number[]; y: number[]; indices: number[] }[] {
  const groups = new Map<number | null, { x: number[]; y: number[]; indices: number[] }>();
  result.x.forEach((xv, i) => {
    const label = result.labels?.[i] ?? null;
    const g = groups.get(label) ?? { x: [], y: [], indices: [] };
    g.x.push(xv);
    g.y.push(result.y[i] ?? NaN);
    g.indices.push(i);
    groups.set(label, g);
  });
  return [...groups.entries()]
    .sort(([a], [b]) => (a ?? Infinity) - (b ?? Infinity))
    .map(([label, g]) => ({ label, name: label === null ? 'points' : result.classNames?.[label] ?? String(label), ...g }));
}

// ── Pictures ────────────────────────────────────────────────────────────────────────────────────

/** A file name the host accepts for a saved picture: letters, digits, "_", "." and "-", ending in .png. */
export function pngName(...parts: (string | number)[]): string {
  const base = parts
    .map((p) => String(p).trim().replace(/[^\w.-]+/g, '-'))
    .filter((p) => p !== '')
    .join('-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .replace(/\.png$/i, '')
    .slice(0, 96);
  return `${base || 'picture'}.png`;
}

// ── Charts in words (screen readers) ────────────────────────────────────────────────────────────

const sig = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(3))) : '–');
const count = (n: number): string => n.toLocaleString('en-US');

/**
 * The anomaly histogram in words: how many scores, their range and median, what the threshold
 * flags, and the same per group (trained / held-out classes) when there are groups.
 */
export function scoreHistogramSummary(title: string, scores: readonly number[], threshold: number, groups: ScoreGroups | null): string {
  const describe = (values: readonly number[]): string => {
    const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
    if (sorted.length === 0) return 'no scores';
    const over = sorted.filter((v) => v > threshold).length;
    return `${count(sorted.length)} images from ${sig(sorted[0]!)} to ${sig(sorted.at(-1)!)}, median ${sig(quantileSorted(sorted, 0.5))}, ${count(over)} flagged`;
  };
  const parts = [`${describe(scores)} by the threshold ${sig(threshold)}`];
  for (const [g, name] of (groups?.names ?? []).entries()) parts.push(`${name}: ${describe(scores.filter((_, i) => groups!.of[i] === g))}`);
  return `${title}: ${parts.join('; ')}.`;
}

/** A latent scatter in words: its axes, how many points, and where each class's points centre (the first 20 classes). */
export function latentScatterSummary(title: string, axes: readonly [string, string], groups: readonly { name: string; x: readonly number[]; y: readonly number[] }[]): string {
  const mean = (v: readonly number[]): number => {
    const f = v.filter(Number.isFinite);
    return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
  };
  const total = groups.reduce((n, g) => n + g.x.length, 0);
  const centre = (g: (typeof groups)[number]): string => `centred at (${sig(mean(g.x))}, ${sig(mean(g.y))})`;
  const head = `${title}, ${axes[0]} across, ${axes[1]} up: ${count(total)} points`;
  if (groups.length === 1 && groups[0]!.name === 'points') return `${head} ${centre(groups[0]!)}.`;
  const shown = groups.slice(0, 20).map((g) => `${g.name}: ${count(g.x.length)} ${centre(g)}`);
  const more = groups.length > 20 ? `; ${groups.length - 20} more classes` : '';
  return `${head}; ${shown.join('; ')}${more}.`;
}
