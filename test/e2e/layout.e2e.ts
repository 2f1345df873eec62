/**
 * The graph editor beside the training panel (code-server + Chromium): train the two-stage
 * classifier from the command palette, then look at the editor at widths 1600, 1000 and 700 px.
 * Every block and both Output thumbnails lie inside the visible canvas, clear of the palette and
 * inspector, which dock or collapse to icon rails by width; collapsing on demand is remembered for
 * the workspace across a window reload. Screenshots in .test-output/e2e/layout/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { type VSCodeSession, endTour, startTour, textOf, trainingPanel, waitUntil, webviewWith } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-layout-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'layout');
const graph = path.join(workspace, 'samples', 'autoencoder-classifier.latent.json');
const BLOCKS = ['input', 'encoder', 'bottleneck', 'decoder', 'reconstruction', 'head', 'classes'];
let vscode: VSCodeSession;

before(async () => {
  fs.cpSync(path.join(REPO_ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
  // One epoch per stage: the thumbnails, not the accuracy, are under test here.
  fs.writeFileSync(graph, fs.readFileSync(graph, 'utf8').replace(/"epochs": \d+/g, '"epochs": 1'));
  // Wide enough that the editor can be 1600 px beside the panel.
  vscode = await startTour(workspace, outDir, { width: 3300, height: 1000 });
});

after(() => endTour(vscode, workspace));

const editorView = (what: string): Promise<FrameLocator> => webviewWith(vscode, 'totals', what, 30_000);
const editorWidth = async (f: FrameLocator): Promise<number> => f.locator('body').evaluate(() => window.innerWidth);

/**
 * Resize the browser until the graph editor's webview is `target` px wide (± 3). The editor and the
 * panel share the window in proportion, so the viewport changes by twice the difference.
 */
async function setEditorWidth(target: number): Promise<FrameLocator> {
  let f = await editorView('the graph editor');
  for (let i = 0; i < 6; i++) {
    const width = await editorWidth(f);
    if (Math.abs(width - target) <= 3) return f;
    const viewport = vscode.page.viewportSize()!;
    await vscode.page.setViewportSize({ width: Math.round(viewport.width + 2 * (target - width)), height: viewport.height });
    await vscode.page.waitForTimeout(400);
    f = await editorView('the graph editor after a resize');
  }
  assert.fail(`the editor did not reach ${target} px (it is ${await editorWidth(f)} px)`);
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}
interface Geometry {
  canvas: Box;
  sides: { name: string; box: Box }[];
  blocks: { id: string; box: Box }[];
  thumbnails: { box: Box; naturalWidth: number }[];
  palette: string;
  inspector: string;
}

/**
 * Where the canvas, the side panels (docked, rails, overlays), the blocks and the thumbnails are, in
 * the editor's pixels. A string: tsx would wrap named inner functions in `__name` (see harness.ts).
 */
const GEOMETRY = `(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return { left: r.left, top: r.top, right: r.right, bottom: r.bottom }; };
  const main = document.querySelector('.main');
  return {
    canvas: box(document.querySelector('.canvas')),
    sides: [...document.querySelectorAll('.side-panel, .rail')].map((e) => ({ name: e.className, box: box(e) })),
    blocks: [...document.querySelectorAll('.react-flow__node')].map((e) => ({ id: e.getAttribute('data-id') || '?', box: box(e) })),
    thumbnails: [...document.querySelectorAll('[data-testid="output-thumbnail"] img')].map((e) => ({ box: box(e), naturalWidth: e.naturalWidth })),
    palette: main.getAttribute('data-palette') || '',
    inspector: main.getAttribute('data-inspector') || '',
  };
})()`;
const geometry = async (f: FrameLocator): Promise<Geometry> => (await f.locator('body').evaluate((_, code) => (0, eval)(code) as unknown, GEOMETRY)) as Geometry;

const inside = (b: Box, c: Box): boolean => b.left >= c.left - 1 && b.top >= c.top - 1 && b.right <= c.right + 1 && b.bottom <= c.bottom + 1;
const overlaps = (a: Box, b: Box): boolean => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;

/** Every block and thumbnail inside the canvas, none under a side panel; thumbnails drawn at least `minThumb` px wide. */
async function assertAllVisible(f: FrameLocator, width: number, minThumb: number): Promise<Geometry> {
  // The canvas re-fits once the resize settles (a short debounce, then a fit).
  const g = await waitUntil(
    () => geometry(f),
    (g) => g.blocks.length === BLOCKS.length && g.blocks.every((b) => inside(b.box, g.canvas)),
    `every block inside the canvas at ${width} px`,
    10_000,
  );
  assert.deepEqual(g.blocks.map((b) => b.id).sort(), [...BLOCKS].sort());
  for (const b of g.blocks) for (const s of g.sides) assert.ok(!overlaps(b.box, s.box), `${b.id} is clear of ${s.name} at ${width} px`);
  assert.equal(g.thumbnails.length, 2, 'a thumbnail on both Output blocks');
  for (const t of g.thumbnails) {
    assert.ok(inside(t.box, g.canvas), `the thumbnail is inside the canvas at ${width} px`);
    assert.ok(t.box.right - t.box.left >= minThumb, `the thumbnail is drawn ${Math.round(t.box.right - t.box.left)} px wide at ${width} px (at least ${minThumb})`);
  }
  return g;
}

test('the two-stage classifier trains from the palette with the panel open; the header says "training" meanwhile', async () => {
  await vscode.runCommand('View: Close Primary Side Bar');
  await vscode.openFile('samples/autoencoder-classifier.latent.json');
  await vscode.runCommand('Latent Studio: Train Model');
  const editor = await webviewWith(vscode, 'training-indicator', 'the graph editor badged "training"', 60_000);
  assert.equal(await editor.locator('[data-testid="status"]').count(), 0, 'no "ready to train" while training');
  const p = await trainingPanel(vscode);
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('completed'), 'the classifier run to complete', 240_000);
  await waitUntil(() => editor.locator('[data-testid="output-thumbnail"]').count(), (n) => n === 2, 'a thumbnail on both Output blocks', 30_000);
  await waitUntil(() => editor.locator('[data-testid="training-indicator"]').count(), (n) => n === 0, 'the badge gone after the run', 10_000);
});

for (const [width, palette, inspector, minThumb] of [
  [1600, 'docked', 'docked', 150],
  [1000, 'docked', 'docked', 100],
  [700, 'rail', 'rail', 100],
] as const) {
  test(`at ${width} px the editor shows every block and both thumbnails (palette ${palette}, inspector ${inspector})`, async () => {
    const f = await setEditorWidth(width);
    const g = await assertAllVisible(f, width, minThumb);
    assert.equal(g.palette, palette);
    assert.equal(g.inspector, inspector);
    await vscode.screenshot(`${width}px-window`);
    await vscode.page.locator('.editor-group-container').first().screenshot({ path: path.join(outDir, `${width}px-editor.png`) });
  });
}

test('at 700 px the rails open their panels over the canvas, which keeps its size; Escape closes them', async () => {
  const f = await setEditorWidth(700);
  const before = await geometry(f);
  await f.locator('[data-testid="expand-inspector"]').click();
  await f.locator('[data-testid="panel-inspector"][data-mode="overlay"]').waitFor({ timeout: 5_000 });
  assert.ok(await f.locator('[data-testid="training-inspector"]').isVisible(), 'the inspector shows the training settings');
  const during = await geometry(f);
  assert.deepEqual(during.canvas, before.canvas, 'an overlay does not shrink the canvas');
  await vscode.page.locator('.editor-group-container').first().screenshot({ path: path.join(outDir, '700px-inspector-overlay.png') });
  await vscode.page.keyboard.press('Escape');
  await f.locator('[data-testid="panel-inspector"]').waitFor({ state: 'detached', timeout: 5_000 });
  // Double-clicking a block opens its inspector over the canvas.
  await f.locator('.react-flow__node[data-id="bottleneck"]').dblclick();
  await waitUntil(() => f.locator('[data-testid="inspector"] input[aria-label="id"]').inputValue(), (v) => v === 'bottleneck', 'the bottleneck in the overlay inspector', 5_000);
  await f.locator('[data-testid="close-inspector"]').click();
  // The palette's overlay adds a block and gets out of the way.
  await f.locator('[data-testid="expand-palette"]').click();
  await f.locator('[data-testid="panel-palette"][data-mode="overlay"]').waitFor({ timeout: 5_000 });
  assert.ok(await f.locator('[data-testid="palette-Dense"]').isVisible());
  await vscode.page.keyboard.press('Escape');
  await f.locator('[data-testid="panel-palette"]').waitFor({ state: 'detached', timeout: 5_000 });
});

test('collapsing the palette at 1600 px is remembered for the workspace across a window reload; expanding docks it again', async () => {
  let f = await setEditorWidth(1600);
  await f.locator('[data-testid="collapse-palette"]').click();
  await f.locator('[data-testid="rail-palette"]').waitFor({ timeout: 5_000 });
  await assertAllVisible(f, 1600, 150);
  await vscode.page.evaluate('window.__beforeReload = true');
  await vscode.runCommand('Developer: Reload Window');
  await waitUntil(() => vscode.page.evaluate('window.__beforeReload === undefined').catch(() => false), (gone) => gone === true, 'the window to reload', 30_000);
  await vscode.page.locator('iframe.webview.ready[src*="extensionId=latent-studio.latent-studio"]').first().waitFor({ timeout: 30_000 });
  f = await webviewWith(vscode, 'rail-palette', 'the graph editor with its palette still collapsed', 60_000);
  assert.equal(await f.locator('[data-testid="panel-palette"]').count(), 0, 'no docked palette after the reload');
  await vscode.screenshot('reloaded-palette-collapsed');
  await f.locator('[data-testid="expand-palette"]').click();
  await f.locator('[data-testid="panel-palette"][data-mode="docked"]').waitFor({ timeout: 5_000 });
});
