/**
 * The visual editor in a real VS Code (code-server + Chromium): open a sample, drag and wire
 * blocks, edit a parameter, see shapes and problems update, save to disk, undo. Screenshots of each
 * step land in .test-output/e2e/editor/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator, Locator } from 'playwright-core';
import { type VSCodeSession, endTour, startTour, waitUntil } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-editor-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'editor');
const file = path.join(workspace, 'samples', 'dense-autoencoder.latent.json');
let vscode: VSCodeSession;
let view: FrameLocator;
let original: string;
const BROKEN = '{\n  "formatVersion": 1,\n  "name": "broken",\n  "nodes": [,\n}\n';

before(async () => {
  fs.cpSync(path.join(REPO_ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
  original = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(path.join(workspace, 'samples', 'broken.latent.json'), BROKEN);
  fs.writeFileSync(path.join(workspace, 'samples', 'new.latent.json'), '');
  vscode = await startTour(workspace, outDir, { width: 1500, height: 950 });
  const kind = await vscode.openFile('samples/dense-autoencoder.latent.json');
  assert.equal(kind, 'webview', '*.latent.json opens in the graph editor');
  view = vscode.webview('latent-studio.latent-studio');
});

after(() => endTour(vscode, workspace));

const block = (id: string): Locator => view.locator(`.react-flow__node[data-id="${id}"]`);
const text = async (l: Locator): Promise<string> => (await l.textContent())?.trim() ?? '';

async function dragBetween(from: Locator, to: Locator): Promise<void> {
  const a = await from.boundingBox();
  const b = await to.boundingBox();
  assert.ok(a && b, 'both handles are on screen');
  const mouse = vscode.page.mouse;
  await mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await mouse.down();
  await mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 8 });
  await mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 8 });
  await mouse.up();
}

/** Drag from one block's output handle to another's input, once more if the first drag raced a re-render. */
async function wire(from: string, to: string): Promise<void> {
  const edge = view.locator(`.react-flow__edge[data-id="${from}->${to}"]`);
  for (let attempt = 0; attempt < 2 && (await edge.count()) === 0; attempt++) {
    await vscode.page.waitForTimeout(300);
    await dragBetween(block(from).locator('.react-flow__handle.source'), block(to).locator('.react-flow__handle.target'));
    await edge.waitFor({ timeout: 5_000 }).catch(() => undefined);
  }
  await edge.waitFor({ timeout: 10_000 });
}

async function dropFromPalette(type: string, xFraction: number, yFraction: number): Promise<void> {
  const canvas = view.locator('.canvas');
  const box = await canvas.boundingBox();
  assert.ok(box);
  await view.locator(`[data-testid="palette-${type}"]`).dragTo(canvas, { targetPosition: { x: box.width * xFraction, y: box.height * yFraction } });
}

test('the canvas shows every block of the sample with its shape and parameter count', async () => {
  await block('decoder').waitFor({ timeout: 30_000 });
  for (const id of ['input', 'encoder', 'bottleneck', 'decoder', 'reconstruction']) await block(id).waitFor();
  assert.equal(await text(view.locator('[data-testid="shape-bottleneck"]')), '16');
  assert.equal(await text(view.locator('[data-testid="params-encoder"]')), '110,816 params');
  assert.match(await text(view.locator('[data-testid="totals"]')), /221,888 params · 221,888 trainable/);
  await vscode.screenshot('1-opened');
});

test('drag a Dense block from the palette and wire it to the bottleneck', async () => {
  await dropFromPalette('Dense', 0.8, 0.35);
  await block('dense').waitFor({ timeout: 15_000 });
  assert.equal(await vscode.isDirty(), true, 'the edit went into the TextDocument');
  await wire('bottleneck', 'dense');
  // Dense 64 (its palette default) on the 16-number code: 16*64 + 64.
  await waitUntil(() => text(view.locator('[data-testid="params-dense"]')), (t) => t === '1,088 params', 'dense params', 10_000);
  await vscode.screenshot('2-dense-wired');
});

test('changing units in the inspector updates the shape and parameter count at once', async () => {
  await block('dense').click();
  const units = view.locator('[data-testid="inspector"] input[aria-label="units"]');
  await units.fill('10');
  await units.press('Enter');
  await waitUntil(() => text(view.locator('[data-testid="shape-dense"]')), (t) => t === '10', 'dense shape 10', 10_000);
  assert.equal(await text(view.locator('[data-testid="params-dense"]')), '170 params');
  await vscode.screenshot('3-units-10');
});

test('keyboard: Ctrl+D duplicates, Ctrl+C / Ctrl+V copy and paste, Delete removes', async () => {
  await block('dense').click();
  await block('dense').press('Control+d');
  await block('dense2').waitFor({ timeout: 15_000 });
  // The copy is the new selection, so the inspector shows it and Delete acts on it.
  await waitUntil(() => view.locator('[data-testid="inspector"] input[aria-label="id"]').inputValue(), (v) => v === 'dense2', 'inspector on the copy', 10_000);
  await vscode.screenshot('3b-duplicated');
  assert.equal(await text(view.locator('[data-testid="params-dense2"]')), '0 params', 'the copy is not wired');
  await vscode.page.keyboard.press('Delete');
  await waitUntil(() => block('dense2').count(), (n) => n === 0, 'dense2 deleted', 15_000);
  await block('dense').click();
  await block('dense').press('Control+c');
  await block('dense').press('Control+v');
  await block('dense2').waitFor({ timeout: 15_000 });
  await vscode.page.keyboard.press('Delete');
  await waitUntil(() => block('dense2').count(), (n) => n === 0, 'pasted copy deleted', 15_000);
});

test('wiring from the keyboard: the inspector lists the blocks a wire may reach, connects one, and removes a wire', async () => {
  await block('dense').click();
  await block('dense').press('Control+d');
  await block('dense2').waitFor({ timeout: 15_000 });
  await block('bottleneck').click();
  const connect = view.locator('[data-testid="inspector"] [data-testid="connect-to"]');
  const offered = await connect.locator('option').allTextContents();
  assert.ok(offered.includes('dense2'), `the unwired copy is offered: ${offered.join(', ')}`);
  assert.ok(!offered.includes('encoder'), 'a block that already has its input is not');
  await connect.focus();
  await connect.selectOption('dense2');
  // Dense 10 on the 16-number code: 16*10 + 10.
  await waitUntil(() => text(view.locator('[data-testid="params-dense2"]')), (t) => t === '170 params', 'dense2 wired from the keyboard', 10_000);
  await vscode.screenshot('3d-keyboard-wired');
  // The bottleneck's inspector lists its new wire; Enter on it removes it.
  await view.locator('[data-testid="inspector"] button[aria-label="Disconnect bottleneck from dense2"]').press('Enter');
  await waitUntil(() => text(view.locator('[data-testid="params-dense2"]')), (t) => t === '0 params', 'the wire removed', 10_000);
  // Selected from the keyboard too: focus the block, Enter selects it (it sits under the inspector's edge, out of a pointer's reach).
  await block('dense2').focus();
  await block('dense2').press('Enter');
  await waitUntil(() => view.locator('[data-testid="inspector"] input[aria-label="id"]').inputValue(), (v) => v === 'dense2', 'inspector on dense2', 10_000);
  await vscode.page.keyboard.press('Delete');
  await waitUntil(() => block('dense2').count(), (n) => n === 0, 'dense2 deleted', 15_000);
});

test('a connection that cannot be made is refused with the reason', async () => {
  const edgesBefore = await view.locator('.react-flow__edge').count();
  await dragBetween(block('decoder').locator('.react-flow__handle.source'), block('encoder').locator('.react-flow__handle.target'));
  const toast = await waitUntil(() => text(view.locator('[data-testid="toast"]')), (t) => t.length > 0, 'refusal toast', 10_000);
  assert.match(toast, /Encoder "encoder" already takes its input from "input": remove that edge first/);
  assert.equal(await view.locator('.react-flow__edge').count(), edgesBefore);
  await vscode.screenshot('3c-refused');
});

test('an impossible connection shows on the block and in the Problems panel', async () => {
  await view.locator('.react-flow__pane').click({ position: { x: 10, y: 10 } });
  await dropFromPalette('Conv2D', 0.8, 0.75);
  await block('conv2D').waitFor({ timeout: 15_000 });
  await wire('dense', 'conv2D');
  const error = await waitUntil(() => text(view.locator('[data-testid="error-conv2D"]')), (t) => t.includes('needs an image input'), 'conv2D shape error', 15_000);
  assert.match(error, /Conv2D needs an image input .* but receives the 10 vector/);
  await vscode.screenshot('4-conv-on-vector');
  const problems = await vscode.problemsText({ waitFor: 'Conv2D needs an image input' });
  assert.match(problems, /Conv2D needs an image input/);
  await vscode.screenshot('5-problems-panel');
});

test('save writes the canonical file to disk', async () => {
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  await vscode.save();
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: { id: string; params?: { units?: number } }[]; edges: { from: string; to: string }[] };
  assert.equal(saved.nodes.find((n) => n.id === 'dense')?.params?.units, 10);
  assert.ok(saved.edges.some((e) => e.from === 'dense' && e.to === 'conv2D'));
  await vscode.screenshot('6-saved');
});

test('undo walks every edit back to the original file', async () => {
  // Nine edits so far. Ctrl+Z pressed inside the graph editor reaches VS Code's undo for the document;
  // press until the original five blocks are back (undo past the first edit of an opened file is a no-op).
  await view.locator('.react-flow__pane').click({ position: { x: 10, y: 10 } });
  for (let i = 0; i < 20 && (await view.locator('.react-flow__node').count()) !== 5; i++) {
    await view.locator('.react-flow__pane').press('Control+z');
    await vscode.page.waitForTimeout(400);
  }
  await waitUntil(() => block('dense').count(), (n) => n === 0, 'dense block removed by undo', 15_000);
  await vscode.save();
  assert.equal(fs.readFileSync(file, 'utf8'), original);
  await vscode.screenshot('7-undone');
});

test('a file changed on disk (git checkout, another editor) re-renders the graph', async () => {
  await vscode.openFile('samples/simple-autoencoder.latent.json');
  await block('code').waitFor({ timeout: 30_000 });
  assert.equal(await text(view.locator('[data-testid="shape-code"]')), '32');
  const simple = path.join(workspace, 'samples', 'simple-autoencoder.latent.json');
  fs.writeFileSync(simple, fs.readFileSync(simple, 'utf8').replace('"latentSize": 32', '"latentSize": 8'));
  await waitUntil(() => text(view.locator('[data-testid="shape-code"]')), (t) => t === '8', 'code shape after the file changed on disk', 20_000);
  assert.equal(await text(view.locator('[data-testid="params-code"]')), '6,280 params');
  await vscode.screenshot('8-external-change');
});

test('a malformed file opens as an error view with line and column, and is not rewritten', async () => {
  await vscode.openFile('samples/broken.latent.json');
  const errorView = view.locator('[data-testid="error-view"]');
  await errorView.waitFor({ timeout: 30_000 });
  assert.match(await text(errorView), /Line 4, column 13: value expected/);
  await vscode.screenshot('9-malformed');
  await view.getByRole('button', { name: 'Open as text' }).click();
  await waitUntil(() => vscode.activeEditorKind(), (k) => k === 'text', 'text editor after Open as text', 15_000);
  assert.equal(fs.readFileSync(path.join(workspace, 'samples', 'broken.latent.json'), 'utf8'), BROKEN);
});

test('an empty graph file offers the templates and fills itself with the chosen one', async () => {
  await vscode.openFile('samples/new.latent.json');
  await view.locator('[data-testid="empty-view"]').waitFor({ timeout: 30_000 });
  await vscode.screenshot('10-empty');
  await view.getByRole('button', { name: 'New model from template…' }).click();
  await vscode.pickQuickItem('Fashion-MNIST conv autoencoder');
  await block('bottleneck').waitFor({ timeout: 15_000 });
  assert.equal(await text(view.locator('[data-testid="shape-bottleneck"]')), '4x4x4');
  await vscode.save();
  assert.equal(fs.readFileSync(path.join(workspace, 'samples', 'new.latent.json'), 'utf8'), fs.readFileSync(path.join(REPO_ROOT, 'samples', 'fashion-conv-autoencoder.latent.json'), 'utf8'));
  await vscode.screenshot('11-from-template');
});
