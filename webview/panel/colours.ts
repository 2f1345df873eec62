/**
 * Colour arithmetic for canvases (uPlot and composed PNGs), which cannot read CSS variables or
 * `color-mix` themselves. Pure: the theme's colours come in already resolved.
 */
export interface Rgb {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly a: number;
}

/** "#rgb", "#rrggbb", "#rrggbbaa", "rgb(…)" or "rgba(…)"; null for anything else. */
export function parseColour(text: string): Rgb | null {
  const s = text.trim().toLowerCase();
  const hex = /^#([0-9a-f]{3,8})$/.exec(s);
  if (hex) {
    const h = hex[1]!;
    if (h.length === 3 || h.length === 4) {
      const [r, g, b, a] = [...h].map((c) => parseInt(c + c, 16));
      return { r: r!, g: g!, b: b!, a: a === undefined ? 1 : a / 255 };
    }
    if (h.length === 6 || h.length === 8) {
      const n = (i: number): number => parseInt(h.slice(i, i + 2), 16);
      return { r: n(0), g: n(2), b: n(4), a: h.length === 8 ? n(6) / 255 : 1 };
    }
    return null;
  }
  const fn = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/.exec(s);
  if (fn) {
    const alpha = fn[4] === undefined ? 1 : fn[4].endsWith('%') ? parseFloat(fn[4]) / 100 : parseFloat(fn[4]);
    return { r: Number(fn[1]), g: Number(fn[2]), b: Number(fn[3]), a: alpha };
  }
  return null;
}

export const cssColour = (c: Rgb, alpha = c.a): string => `rgba(${Math.round(c.r)}, ${Math.round(c.g)}, ${Math.round(c.b)}, ${+alpha.toFixed(3)})`;

/** a and b mixed, `t` of the way from a to b. */
export const mix = (a: Rgb, b: Rgb, t: number): Rgb => ({ r: a.r + (b.r - a.r) * t, g: a.g + (b.g - a.g) * t, b: a.b + (b.b - a.b) * t, a: a.a + (b.a - a.a) * t });

interface Hsl {
  readonly h: number;
  readonly s: number;
  readonly l: number;
}

function toHsl({ r, g, b }: Rgb): Hsl {
  const [R, G, B] = [r / 255, g / 255, b / 255];
  const max = Math.max(R, G, B);
  const min = Math.min(R, G, B);
  const l = (max + min) / 2;
  if (max === min) return { h: 0, s: 0, l };
  const d = max - min;
  const s = l > 0.5 ? d / (2 - max - min) : d / (max + min);
  const h = max === R ? (G - B) / d + (G < B ? 6 : 0) : max === G ? (B - R) / d + 2 : (R - G) / d + 4;
  return { h: h * 60, s, l };
}

function fromHsl({ h, s, l }: Hsl, a = 1): Rgb {
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const channel = (t: number): number => {
    const u = ((t % 1) + 1) % 1;
    const v = u < 1 / 6 ? p + (q - p) * 6 * u : u < 1 / 2 ? q : u < 2 / 3 ? p + (q - p) * (2 / 3 - u) * 6 : p;
    return Math.round(v * 255);
  };
  const hue = h / 360;
  return { r: channel(hue + 1 / 3), g: channel(hue), b: channel(hue - 1 / 3), a };
}

/** The colour half way round the colour wheel from a to b (the shorter way), saturation and lightness averaged. */
export function hueBetween(a: Rgb, b: Rgb): Rgb {
  const A = toHsl(a);
  const B = toHsl(b);
  let d = B.h - A.h;
  if (d > 180) d -= 360;
  if (d < -180) d += 360;
  return fromHsl({ h: (A.h + d / 2 + 360) % 360, s: (A.s + B.s) / 2, l: (A.l + B.l) / 2 });
}

/** The theme's chart colours, resolved, for categorical palettes. */
export interface ThemeColours {
  readonly blue: Rgb;
  readonly orange: Rgb;
  readonly green: Rgb;
  readonly red: Rgb;
  readonly purple: Rgb;
  readonly yellow: Rgb;
  readonly foreground: Rgb;
  readonly background: Rgb;
}

/**
 * n colours for n classes: the theme's six chart colours, then colours between them on the wheel
 * (teal, magenta, lime) and a neutral grey, then the same again lighter/darker towards the
 * foreground.
 */
export function classPalette(n: number, t: ThemeColours): Rgb[] {
  const first = [t.blue, t.orange, t.green, t.red, t.purple, t.yellow, hueBetween(t.green, t.blue), hueBetween(t.purple, t.red), mix(t.foreground, t.background, 0.35), hueBetween(t.yellow, t.green)];
  return Array.from({ length: n }, (_, i) => {
    const base = first[i % first.length]!;
    const round = Math.floor(i / first.length);
    return round === 0 ? base : mix(base, round % 2 === 1 ? t.foreground : t.background, 0.45);
  });
}
