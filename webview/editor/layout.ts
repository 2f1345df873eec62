/**
 * The editor's responsive layout: where the palette and the inspector go at a given editor width.
 * Pure (unit-tested): the components read `panelModes` and the toggles below.
 *
 * Each side panel has a preference the person sets (remembered per workspace by the host):
 * - `auto`: docked beside the canvas when the editor is at least the panel's breakpoint wide, an
 *   icon rail below it (the default);
 * - `open`: docked at every width (pinned from its overlay);
 * - `collapsed`: an icon rail at every width (the collapse button).
 * A rail opens its panel as an overlay over the canvas, which keeps its size.
 */
import type { LayoutPrefs } from '../../src/core/editorProtocol';

export { DEFAULT_LAYOUT, type LayoutPrefs, type PanelPref } from '../../src/core/editorProtocol';
export type PanelName = keyof LayoutPrefs;
export type PanelMode = 'docked' | 'rail';

/**
 * Editor widths (CSS px) below which an `auto` panel becomes a rail. The docked palette is 170 px
 * and the inspector 280 px: both docked at 960 px leave the canvas 510 px, about what the dense
 * sample with its thumbnails needs at a readable zoom; the inspector goes first (it is wider).
 */
export const BREAKPOINTS: Readonly<Record<PanelName, number>> = { palette: 820, inspector: 960 };

/** The width an icon rail takes (CSS in editor.css: .rail). */
export const RAIL_WIDTH = 34;

export function panelMode(panel: PanelName, width: number, prefs: LayoutPrefs): PanelMode {
  const pref = prefs[panel];
  if (pref === 'open') return 'docked';
  if (pref === 'collapsed') return 'rail';
  return width >= BREAKPOINTS[panel] ? 'docked' : 'rail';
}

export function panelModes(width: number, prefs: LayoutPrefs): Record<PanelName, PanelMode> {
  return { palette: panelMode('palette', width, prefs), inspector: panelMode('inspector', width, prefs) };
}

/** The collapse button of a docked panel: a rail from now on, at every width. */
export function collapse(prefs: LayoutPrefs, panel: PanelName): LayoutPrefs {
  return { ...prefs, [panel]: 'collapsed' };
}

/**
 * The expand button of a rail. Where `auto` would dock the panel at this width, it docks again
 * (`auto`); otherwise it stays a rail and the caller opens the overlay (`overlay: true`).
 */
export function expand(prefs: LayoutPrefs, panel: PanelName, width: number): { prefs: LayoutPrefs; overlay: boolean } {
  if (width >= BREAKPOINTS[panel]) return { prefs: { ...prefs, [panel]: 'auto' }, overlay: false };
  return { prefs, overlay: true };
}

/** The pin button of an overlay: docked at every width. */
export function pin(prefs: LayoutPrefs, panel: PanelName): LayoutPrefs {
  return { ...prefs, [panel]: 'open' };
}

/** The canvas width left at an editor width: what the MiniMap and the fit depend on. */
export function canvasWidth(width: number, prefs: LayoutPrefs): number {
  const modes = panelModes(width, prefs);
  const side = (panel: PanelName, docked: number): number => (modes[panel] === 'docked' ? docked : RAIL_WIDTH);
  return Math.max(0, width - side('palette', 170) - side('inspector', 280));
}

/** The MiniMap (200 px wide) covers blocks on a narrow canvas: shown from this canvas width up. */
export const MINIMAP_MIN_CANVAS = 720;
