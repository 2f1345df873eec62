/**
 * The seed workflows past training, in VS Code (code-server + Chromium): stages drawn on the graph,
 * the graph exported as a PNG, anomaly detection (histogram, draggable threshold, CSV), the latent
 * space, Predict on test images, first-layer weights, feature maps, and a chart saved as PNG — from
 * the command palette and the panel's own tabs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { PNG } from 'pngjs';
import { type VSCodeSession, byTestId, endTour, readmeShot, startTour, textOf, trainingPanel, waitUntil, webviewWith } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-workflows-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'workflows');
const runsDir = path.join(workspace, '.latent', 'runs');
const saved = path.join(workspace, 'saved');
let vscode: VSCodeSession;

/** Samples with their epochs cut so that each trains in seconds here. */
function shorten(file: string, epochs: number): void {
  const p = path.join(workspace, 'samples', file);
  fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace(/"epochs": \d+/g, `"epochs": ${epochs}`));
}

before(async () => {
  fs.cpSync(path.join(REPO_ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
  fs.mkdirSync(saved);
  shorten('anomaly-detection.latent.json', 3);
  shorten('autoencoder-classifier.latent.json', 1);
  shorten('conv-autoencoder.latent.json', 1);
  vscode = await startTour(workspace, outDir);
});

after(() => endTour(vscode, workspace));

const webview = (testId: string, what: string, timeoutMs?: number): Promise<FrameLocator> => webviewWith(vscode, testId, what, timeoutMs);
const panel = (): Promise<FrameLocator> => trainingPanel(vscode);
const byId = byTestId;
const attrOf = async (f: FrameLocator, id: string, attr: string): Promise<string | null> => byId(f, id).getAttribute(attr);
const runOf = (suffix: string): string => {
  const found = (fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []).filter((f) => f.endsWith(suffix)).sort().at(-1);
  assert.ok(found, `a run folder ending in ${suffix}`);
  return path.join(runsDir, found);
};

/** Quick Open can lose its pick to a notification arriving at the same moment: try again once. */
async function open(file: string): Promise<void> {
  try {
    await vscode.openFile(file);
  } catch {
    await vscode.page.keyboard.press('Escape');
    await vscode.openFile(file);
  }
}

const runFolders = (): string[] => (fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []);

/** Train a sample from the palette and wait until its own run has completed, in its folder and in the panel. */
async function trainToCompletion(sample: string, timeoutMs = 240_000): Promise<FrameLocator> {
  await open(`samples/${sample}`);
  const before = new Set(runFolders());
  await vscode.runCommand('Latent Studio: Train Model');
  // The new run's folder, not the panel's status: a short run can be over before the panel is polled,
  // and until it starts the panel still says the previous run completed.
  const runDir = await waitUntil(async () => runFolders().find((f) => !before.has(f)) ?? '', (f) => f !== '', `${sample} to start`, 60_000);
  const status = async (): Promise<string> => {
    try {
      return (JSON.parse(fs.readFileSync(path.join(runsDir, runDir, 'run.json'), 'utf8')) as { status: string }).status;
    } catch {
      return 'starting';
    }
  };
  await waitUntil(status, (st) => st === 'completed', `${sample} to complete`, timeoutMs);
  const p = await panel();
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('completed'), `the panel to show ${sample} completed`, 30_000);
  return p;
}

/** code-server's save dialog is a quick input holding a path: replace it with `file` and accept. */
async function saveDialog(file: string): Promise<void> {
  const box = vscode.page.locator('.quick-input-widget input.input');
  await box.waitFor({ state: 'visible', timeout: 20_000 });
  // The dialog fills in its folder, then the suggested file name, asynchronously: a value typed in
  // between is overwritten, so type until it stays.
  await waitUntil(() => box.inputValue(), (v) => v.startsWith('/'), 'the save dialog to show its folder', 20_000);
  for (let attempt = 1; ; attempt++) {
    await box.fill(file);
    await new Promise((r) => setTimeout(r, 750));
    if ((await box.inputValue()) === file) break;
    if (attempt === 5) throw new Error(`the save dialog kept replacing the typed file name (now ${await box.inputValue()})`);
  }
  await box.press('Enter');
  const written = async (): Promise<boolean> => fs.existsSync(file) && fs.statSync(file).size > 0;
  // Under load the dialog has once kept its path after Enter (still validating it): accept it again.
  for (let attempt = 1; !(await waitUntil(written, (ok) => ok, `${path.basename(file)} to be written`, 10_000).catch(() => false)); attempt++) {
    await vscode.screenshot(`save-dialog-${path.basename(file)}-${attempt}`);
    if (attempt === 3) throw new Error(`${file} was not written after accepting the save dialog ${attempt} times`);
    if (await box.isVisible()) {
      await box.fill(file);
      await box.press('Enter');
    }
  }
}

function readPng(file: string): PNG {
  return PNG.sync.read(fs.readFileSync(file));
}

test('the editor draws the stages: a bar of stages, and each block badged trained, frozen or not in the stage', async () => {
  await open('samples/autoencoder-classifier.latent.json');
  const editor = await webview('stage-bar', 'the stage bar');
  const chips = editor.locator('[data-testid="stage-chip"]');
  assert.equal(await chips.count(), 2, 'autoencoder → classifier');
  await chips.nth(1).click();
  await waitUntil(() => chips.nth(1).getAttribute('data-selected'), (v) => v === 'true', 'stage 2 selected', 10_000);
  const roles = await editor.locator('[data-testid="stage-badge"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-role')));
  assert.ok(roles.includes('frozen'), `the classifier stage freezes the encoder (${roles.join(', ')})`);
  assert.ok(roles.includes('trained'), 'the head trains');
  assert.ok(roles.includes('unused'), 'the decoder is not in the classifier stage');
  await vscode.screenshot('1-stage-2-badges');
  await chips.nth(0).click();
  await waitUntil(
    () => editor.locator('[data-testid="stage-badge"][data-role="frozen"]').count(),
    (n) => n === 0,
    'nothing frozen in the autoencoder stage',
    10_000,
  );
});

test('Export Graph as PNG draws the whole graph into a picture file', async () => {
  await open('samples/autoencoder-classifier.latent.json');
  const editor = await webview('btn-export-image', 'the export button');
  await byId(editor, 'btn-export-image').click();
  const file = path.join(saved, 'classifier-graph.png');
  await saveDialog(file);
  const png = readPng(file);
  assert.ok(png.width > 300 && png.height > 300, `a picture of the graph (${png.width}x${png.height})`);
  await vscode.screenshot('2-graph-exported');
});

test('Detect Anomalies: clothes-only training flags shoes and bags; the threshold drags and the scores export as CSV', async () => {
  let p = await trainToCompletion('anomaly-detection.latent.json');
  await vscode.runCommand('Latent Studio: Detect Anomalies (Reconstruction Error)…');
  p = await panel();
  await waitUntil(() => attrOf(p, 'tab-score', 'aria-selected'), (v) => v === 'true', 'the Anomalies tab', 20_000);
  await waitUntil(() => attrOf(p, 'anomaly-histogram', 'data-total').catch(() => null), (v) => Number(v) > 0, 'the histogram', 180_000);
  const run = runOf('anomaly-detection');
  const result = JSON.parse(fs.readFileSync(path.join(run, 'anomaly.json'), 'utf8')) as { scores: number[]; labels: number[]; trainedClasses: number[]; threshold: number };
  assert.equal(Number(await attrOf(p, 'anomaly-histogram', 'data-total')), result.scores.length);
  const flaggedAt = (t: number): number => result.scores.filter((s) => s > t).length;
  assert.equal(Number(await attrOf(p, 'anomaly-histogram', 'data-flagged')), flaggedAt(result.threshold), 'flagged at the suggested threshold');
  // Held-out classes (shoes, bags) score higher than the clothes the model learned.
  const mean = (held: boolean): number => {
    const s = result.scores.filter((_, i) => result.trainedClasses.includes(result.labels[i]!) !== held);
    return s.reduce((a, b) => a + b, 0) / s.length;
  };
  assert.ok(mean(true) > mean(false), `held-out mean ${mean(true)} > trained mean ${mean(false)}`);
  await vscode.screenshot('3-anomalies');
  await vscode.runCommand('Notifications: Clear All Notifications');
  await readmeShot(vscode, 'anomalies', vscode.page.locator('.editor-group-container', { has: vscode.page.locator('.tab.active', { hasText: 'Training:' }) }).first());

  // Drag the threshold line to the left: more samples are flagged.
  const before = Number(await attrOf(p, 'anomaly-histogram', 'data-flagged'));
  const over = byId(p, 'anomaly-histogram').locator('.u-over');
  const box = (await over.boundingBox())!;
  const handle = byId(p, 'anomaly-histogram').locator('[data-testid="anomaly-threshold-line"]');
  const start = (await handle.count()) > 0 ? (await handle.boundingBox())! : { x: box.x + box.width * 0.5, y: box.y, width: 0, height: box.height };
  await vscode.page.mouse.move(start.x + start.width / 2, box.y + box.height / 2);
  await vscode.page.mouse.down();
  await vscode.page.mouse.move(box.x + box.width * 0.1, box.y + box.height / 2, { steps: 8 });
  await vscode.page.mouse.up();
  const dragged = await waitUntil(() => attrOf(p, 'anomaly-histogram', 'data-flagged'), (v) => Number(v) > before, 'more samples flagged after dragging left', 10_000);
  const threshold = Number(await attrOf(p, 'anomaly-histogram', 'data-threshold'));
  assert.equal(Number(dragged), flaggedAt(threshold));
  // The chart in words follows the threshold.
  const words = await waitUntil(() => textOf(p, 'anomaly-histogram-summary'), (t) => t.includes(`, ${Number(dragged).toLocaleString('en-US')} flagged by the threshold`), 'the histogram in words', 10_000);
  assert.match(words, /^Reconstruction error per image: [\d,]+ images from .*; trained classes: [\d,]+ images .*; held-out classes: [\d,]+ images .* flagged\.$/);
  await vscode.screenshot('4-threshold-dragged');

  await byId(p, 'btn-export-scores').click();
  const csv = path.join(saved, 'scores.csv');
  await saveDialog(csv);
  const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
  assert.match(rows[0]!, /score,flagged$/);
  assert.equal(rows.length - 1, result.scores.length);
  assert.equal(rows.slice(1).filter((r) => r.endsWith(',1')).length, Number(dragged), 'the CSV flags what the panel flagged');
});

test('Show Latent Space: a scatter of test codes; clicking a point shows its input and reconstruction', async () => {
  await vscode.runCommand('Latent Studio: Show Latent Space');
  const p = await panel();
  await waitUntil(() => attrOf(p, 'latent-scatter', 'data-points').catch(() => null), (v) => Number(v) > 100, 'the latent scatter', 180_000);
  assert.equal(await attrOf(p, 'latent-scatter', 'data-projection'), 'pca', 'a 16-number code is projected with PCA');
  const points = Number(await attrOf(p, 'latent-scatter', 'data-points'));
  assert.match(await textOf(p, 'latent-scatter-summary'), new RegExp(`^Latent space \\(PCA of 16-number codes\\), PC1 \\([\\d.]+% of variance\\) across, PC2 .* up: ${points.toLocaleString('en-US')} points; .* centred at \\(`));
  const over = byId(p, 'latent-scatter').locator('.u-over, canvas').first();
  const box = (await over.boundingBox())!;
  // The view starts on the first point; a click in the middle of the cloud selects another one.
  const shown = await byId(p, 'latent-detail').getAttribute('data-position').catch(() => null);
  await vscode.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await waitUntil(() => byId(p, 'latent-detail').getAttribute('data-position').catch(() => null), (v) => v !== null && v !== shown, 'the clicked point’s pictures', 10_000);
  assert.equal(await p.locator('[data-testid="latent-input"]').count(), 1);
  assert.equal(await p.locator('[data-testid="latent-reconstruction"]').count(), 1);
  await vscode.screenshot('5-latent');
});

test('Show First-Layer Weights draws one 28x28 tile per unit of the first dense layer', async () => {
  await vscode.runCommand('Latent Studio: Show First-Layer Weights');
  const p = await panel();
  await waitUntil(() => attrOf(p, 'weights-image', 'data-units').catch(() => null), (v) => Number(v) > 0, 'the weights grid', 120_000);
  const run = runOf('anomaly-detection');
  const png = readPng(path.join(run, 'weights.png'));
  assert.ok(png.width >= 28 * 8, `a grid of 28x28 tiles (${png.width}x${png.height})`);
  await vscode.screenshot('6-weights');

  // Save the loss chart from the Training tab as a PNG.
  await byId(p, 'tab-training').click();
  await p.locator('.save-png[data-name="loss.png"]').first().click();
  const file = path.join(saved, 'loss.png');
  await saveDialog(file);
  const chart = readPng(file);
  assert.ok(chart.width > 200 && chart.height > 100, `the loss chart as a picture (${chart.width}x${chart.height})`);
});

test('Predict on Test Images: a classifier shows the image, the predicted class and every class’s probability', async () => {
  await trainToCompletion('autoencoder-classifier.latent.json');
  await vscode.runCommand('Latent Studio: Predict on Test Images');
  const p = await panel();
  await waitUntil(() => p.locator('[data-testid="predict-item"]').count(), (n) => n >= 10, 'the test images', 120_000);
  await p.locator('[data-testid="predict-item"]').nth(3).click();
  const detail = byId(p, 'predict-detail');
  await detail.waitFor({ state: 'visible', timeout: 10_000 });
  const probs = await p.locator('[data-testid="predict-prob"]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-p'))));
  assert.equal(probs.length, 10, 'ten digit classes');
  assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-3, 'the probabilities add up to 1');
  const predicted = Number(await attrOf(p, 'predict-class', 'data-predicted'));
  assert.equal(predicted, probs.indexOf(Math.max(...probs)), 'the predicted class is the most probable');
  await vscode.screenshot('7-predict');
});

test('Show Feature Maps: the conv layers’ activations for a chosen test image', async () => {
  await trainToCompletion('conv-autoencoder.latent.json', 300_000);
  await vscode.runCommand('Latent Studio: Show Feature Maps');
  const p = await panel();
  await waitUntil(() => p.locator('[data-testid="feature-map"]').count(), (n) => n >= 2, 'feature maps', 120_000);
  const layers = await p.locator('[data-testid="feature-map"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-layer')));
  assert.ok(layers.every((l) => l && l.length > 0), `each map names its layer (${layers.join(', ')})`);
  assert.equal(await attrOf(p, 'features-input', 'data-position'), '0', 'the first test image by default');
  const picture = path.join(runOf('conv-autoencoder'), 'features.png');
  const firstPicture = fs.readFileSync(picture);
  // Another test image: the maps are computed again, for it.
  await byId(p, 'features-position').fill('7');
  await byId(p, 'features-position').press('Enter');
  await waitUntil(() => attrOf(p, 'features-input', 'data-position'), (v) => v === '7', 'the maps of test image #7', 60_000);
  assert.ok(!fs.readFileSync(picture).equals(firstPicture), 'features.png now shows the other image');
  await vscode.screenshot('8-feature-maps');
});
