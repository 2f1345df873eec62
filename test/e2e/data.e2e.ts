/**
 * The user's own data in a real VS Code (code-server + Chromium): Select Dataset → an image folder
 * (VS Code's own folder picker), the dataset card on the Input block shows its classes and samples,
 * and Train shows colour reconstructions on the Output block. Screenshots land in
 * .test-output/e2e/data/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { type VSCodeSession, endTour, startTour, textOf, trainingPanel, waitUntil, webviewWith } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-data-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'data');
const graph = path.join(workspace, 'samples', 'image-folder-autoencoder.latent.json');
const folder = path.join(workspace, 'samples', 'data', 'fashion-colour');
let vscode: VSCodeSession;

before(async () => {
  fs.cpSync(path.join(REPO_ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
  // Start from MNIST (grey 28x28, converted and resized for the 32x32x3 Input); a short run.
  fs.writeFileSync(graph, fs.readFileSync(graph, 'utf8').replace('"folder:data/fashion-colour"', '"mnist"').replace(/"epochs": \d+/, '"epochs": 6'));
  vscode = await startTour(workspace, outDir, { width: 1500, height: 950 });
});

after(() => endTour(vscode, workspace));

/** Share of pixels whose channels differ clearly: colour, not grey. */
function colourShare(pngBase64: string): number {
  const png = PNG.sync.read(Buffer.from(pngBase64, 'base64'));
  let coloured = 0;
  for (let i = 0; i < png.width * png.height; i++) {
    const [r, g, b] = [png.data[i * 4]!, png.data[i * 4 + 1]!, png.data[i * 4 + 2]!];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
  }
  return coloured / (png.width * png.height);
}

test('Select Dataset → an image folder: the card on the Input block shows its classes, Train shows colour reconstructions', async () => {
  await vscode.openFile('samples/image-folder-autoencoder.latent.json');
  let editor = await webviewWith(vscode, 'dataset-card', 'the dataset card on the Input block', 60_000);
  await waitUntil(() => textOf(editor, 'dataset-card'), (t) => /MNIST/.test(t), 'the MNIST card', 60_000);
  await vscode.screenshot('1-mnist-card');

  await vscode.runCommand('Latent Studio: Select Dataset…');
  await vscode.pickQuickItem('Image folder…');
  // VS Code's folder picker (the simple dialog in code-server): type the folder, then accept it.
  const box = vscode.page.locator('.quick-input-widget input.input');
  await box.waitFor({ state: 'visible', timeout: 10_000 });
  // The dialog fills in its start folder asynchronously (and may do it again after we typed): type the
  // folder until it stays, accept, and repeat if the dialog is still open.
  const dialog = vscode.page.locator('.quick-input-widget');
  await waitUntil(() => box.inputValue(), (v) => v.startsWith('/'), 'the folder dialog to show its folder', 20_000);
  for (let attempt = 1; attempt <= 4 && (await dialog.isVisible()); attempt++) {
    await box.fill(`${folder}/`);
    await vscode.page.waitForTimeout(700);
    if ((await box.inputValue()) !== `${folder}/`) continue;
    await vscode.screenshot('1b-folder-dialog');
    await dialog.getByRole('button', { name: /Use Folder/i }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
  }
  await waitUntil(() => vscode.isDirty(), (d) => d, 'the graph to change', 15_000);
  await vscode.save();
  assert.match(fs.readFileSync(graph, 'utf8'), /"dataset": "folder:data\/fashion-colour"/, 'the folder is written relative to the graph');

  editor = await webviewWith(vscode, 'dataset-card', 'the dataset card', 30_000);
  const card = await waitUntil(() => textOf(editor, 'dataset-card'), (t) => /600 images/.test(t), 'the folder card', 60_000);
  assert.match(card, /600 images 32x32x3, 10 classes/);
  assert.match(card, /420 train · 60 val · 120 test/);
  const classes = await editor.locator('[data-testid="dataset-classes"] li').allTextContents();
  assert.equal(classes.length, 10);
  assert.ok(classes.some((c) => /^Bag 60$/.test(c.trim())), classes.join(' | '));
  const strip = await editor.locator('[data-testid="dataset-samples"]').getAttribute('src');
  assert.ok(strip && colourShare(strip.replace(/^data:image\/png;base64,/, '')) > 0.2, 'the sample strip is in colour');
  await vscode.screenshot('2-folder-card');

  await vscode.runCommand('Latent Studio: Train Model');
  const p = await trainingPanel(vscode);
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('completed'), 'the run to complete', 240_000);
  await vscode.screenshot('3-panel');
  await vscode.openFile('samples/image-folder-autoencoder.latent.json');
  editor = await webviewWith(vscode, 'output-thumbnail', 'the reconstructions on the Output block', 30_000);
  const thumb = await editor.locator('[data-testid="output-thumbnail"] img').getAttribute('src');
  assert.ok(thumb, 'a thumbnail on the Output block');
  const share = colourShare(thumb.replace(/^data:image\/png;base64,/, ''));
  assert.ok(share > 0.15, `the reconstructions are in colour (${(share * 100).toFixed(0)} % coloured pixels)`);
  await vscode.screenshot('4-colour-reconstructions');
});

test('a table that does not fit the Input is a problem on the Input block and in the Problems panel; Match Input to dataset fixes it, undoably', async () => {
  const tabular = path.join(workspace, 'samples', 'tabular-anomaly.latent.json');
  fs.writeFileSync(tabular, fs.readFileSync(tabular, 'utf8').replace('"shape": [30]', '"shape": [31]'));
  // The editor at full width (the training panel of the first test closed with the rest).
  await vscode.runCommand('View: Close All Editors');
  await vscode.openFile('samples/tabular-anomaly.latent.json');
  const editor = await webviewWith(vscode, 'dataset-problem', 'the dataset problem on the Input block', 60_000);
  const problem = await waitUntil(() => textOf(editor, 'dataset-problem'), (t) => /Input expects 31/.test(t), 'the sentence on the Input block', 60_000);
  assert.match(problem, /holds 30 features \(30 values each\) but the Input expects 31 \(31 values\): set the Input's shape to \[30\]/);
  assert.equal((await editor.locator('[data-testid="dataset-table"] th').first().textContent())?.trim(), 'mean radius');
  assert.match(await textOf(editor, 'dataset-classes'), /benign 357.*malignant 212/s);
  await vscode.screenshot('5-table-does-not-fit');
  const problems = await vscode.problemsText({ waitFor: 'but the Input expects 31' });
  assert.match(problems, /breast-cancer-wisconsin\.csv/);
  await vscode.openFile('samples/tabular-anomaly.latent.json');
  const again = await webviewWith(vscode, 'match-input', 'Match Input to dataset', 30_000);
  await again.locator('[data-testid="match-input"]').click();
  await waitUntil(() => textOf(again, 'shape-input'), (t) => t === '30', 'the Input to take the table\'s 30 features', 15_000);
  await waitUntil(() => again.locator('[data-testid="dataset-problem"]').count(), (n) => n === 0, 'the problem to go once the card is read again', 60_000);
  await vscode.screenshot('6-input-matched');
  // One undoable edit: Ctrl+Z in the editor puts the 31 back.
  await again.locator('.react-flow__pane').click({ position: { x: 10, y: 10 } });
  await again.locator('.react-flow__pane').press('Control+z');
  await waitUntil(() => textOf(again, 'shape-input'), (t) => t === '31', 'undo to restore the Input shape', 15_000);
});
