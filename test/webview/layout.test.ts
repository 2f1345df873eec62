import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BREAKPOINTS, DEFAULT_LAYOUT, RAIL_WIDTH, canvasWidth, collapse, expand, panelModes, pin } from '../../webview/editor/layout';
import { LayoutPrefsSchema } from '../../src/core/editorProtocol';

test('auto panels dock on a wide editor and become rails below their breakpoints, the inspector first', () => {
  assert.deepEqual(panelModes(1600, DEFAULT_LAYOUT), { palette: 'docked', inspector: 'docked' });
  assert.deepEqual(panelModes(1000, DEFAULT_LAYOUT), { palette: 'docked', inspector: 'docked' });
  assert.deepEqual(panelModes(900, DEFAULT_LAYOUT), { palette: 'docked', inspector: 'rail' });
  assert.deepEqual(panelModes(700, DEFAULT_LAYOUT), { palette: 'rail', inspector: 'rail' });
  assert.deepEqual(panelModes(BREAKPOINTS.inspector, DEFAULT_LAYOUT).inspector, 'docked');
  assert.deepEqual(panelModes(BREAKPOINTS.inspector - 1, DEFAULT_LAYOUT).inspector, 'rail');
});

test('the canvas keeps most of a 700 px editor: two rails, not 450 px of panels', () => {
  assert.equal(canvasWidth(700, DEFAULT_LAYOUT), 700 - 2 * RAIL_WIDTH);
  assert.equal(canvasWidth(1000, DEFAULT_LAYOUT), 1000 - 170 - 280);
  // Pinned panels stay docked and take their width even when narrow.
  assert.equal(canvasWidth(700, { palette: 'open', inspector: 'open' }), 250);
});

test('collapse makes a rail at every width; expand docks it again where it fits, or asks for an overlay', () => {
  const collapsed = collapse(DEFAULT_LAYOUT, 'palette');
  assert.deepEqual(collapsed, { palette: 'collapsed', inspector: 'auto' });
  assert.equal(panelModes(1600, collapsed).palette, 'rail');
  assert.deepEqual(expand(collapsed, 'palette', 1600), { prefs: DEFAULT_LAYOUT, overlay: false });
  // Too narrow to dock: the preference stays and the panel opens over the canvas.
  assert.deepEqual(expand(collapsed, 'palette', 700), { prefs: collapsed, overlay: true });
  assert.deepEqual(expand(DEFAULT_LAYOUT, 'inspector', 700), { prefs: DEFAULT_LAYOUT, overlay: true });
  // Pinning from the overlay docks it at every width.
  const pinned = pin(DEFAULT_LAYOUT, 'inspector');
  assert.equal(panelModes(500, pinned).inspector, 'docked');
  assert.equal(panelModes(500, collapse(pinned, 'inspector')).inspector, 'rail');
});

test('the remembered layout is validated where it enters (the host reads it back from workspace state)', () => {
  assert.ok(LayoutPrefsSchema.safeParse({ palette: 'collapsed', inspector: 'open' }).success);
  assert.equal(LayoutPrefsSchema.safeParse({ palette: 'hidden', inspector: 'auto' }).success, false);
  assert.equal(LayoutPrefsSchema.safeParse({ palette: 'auto' }).success, false);
  assert.equal(LayoutPrefsSchema.safeParse({ palette: 'auto', inspector: 'auto', width: 3 }).success, false);
});
