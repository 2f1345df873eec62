/** Numbers as the panel writes them. */
export const fmt = (n: number | null | undefined, d = 4): string => (n === null || n === undefined ? '–' : n.toFixed(d));
export const pct = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(d)}%`);
/** Accuracy-like metrics read best as percentages; the rest as plain numbers. */
export const fmtMetric = (name: string, v: number): string => (/accuracy/i.test(name) ? pct(v, 2) : fmt(v));
/** A score of any magnitude with `digits` significant digits (0.000123, 12.3), without exponent noise. */
export const fmtSig = (v: number, digits = 4): string => (Number.isFinite(v) ? String(Number(v.toPrecision(digits))) : '–');
/** "n of m (p%)". */
export const ofTotal = (n: number, m: number): string => `${n.toLocaleString('en-US')} of ${m.toLocaleString('en-US')} (${m > 0 ? ((n / m) * 100).toFixed(1) : '0.0'}%)`;
/** When a result was made, briefly. */
export function when(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? '' : t.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}
