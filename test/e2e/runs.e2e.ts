/**
 * Working with runs in VS Code (code-server + Chromium): a two-stage classifier's pictures in the
 * panel and as thumbnails on the graph's Output blocks, Evaluate on Test Set, Stop then Resume from
 * Last Checkpoint, Compare Runs, Export Model and Select Dataset — all from the command palette.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator } from 'playwright-core';
import * as tf from '../../src/backend/tf';
import { type VSCodeSession, endTour, startTour, textOf, trainingPanel, waitUntil, webviewWith } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-runs-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'runs');
const benchDir = path.join(REPO_ROOT, '.test-output', 'bench');
const classifierGraph = path.join(workspace, 'samples', 'autoencoder-classifier.latent.json');
const denseGraph = path.join(workspace, 'samples', 'dense-autoencoder.latent.json');
const runsDir = path.join(workspace, '.latent', 'runs');
let vscode: VSCodeSession;

before(async () => {
  fs.cpSync(path.join(REPO_ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
  // Short runs: one epoch per stage for the classifier, and a long dense run to stop and resume.
  fs.writeFileSync(classifierGraph, fs.readFileSync(classifierGraph, 'utf8').replace(/"epochs": \d+/g, '"epochs": 1'));
  fs.writeFileSync(denseGraph, fs.readFileSync(denseGraph, 'utf8').replace(/"epochs": \d+/, '"epochs": 40'));
  vscode = await startTour(workspace, outDir);
});

after(() => endTour(vscode, workspace));

const webview = (testId: string, what: string, timeoutMs?: number): Promise<FrameLocator> => webviewWith(vscode, testId, what, timeoutMs);
const panel = (): Promise<FrameLocator> => trainingPanel(vscode);
const runFolders = (): string[] => (fs.existsSync(runsDir) ? fs.readdirSync(runsDir).sort() : []);

interface MetricsLine {
  stage: string;
  stageIndex: number;
  epoch: number;
}
const metricsOf = (runDir: string): MetricsLine[] =>
  fs
    .readFileSync(path.join(runsDir, runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as MetricsLine);

/** Palette commands can lose their picker to a notification arriving at the same moment: retry the pair. */
async function commandThenPick(command: string, item: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await vscode.runCommand(command);
      await vscode.pickQuickItem(item);
      return;
    } catch (e) {
      if (attempt === 3) throw e;
      await vscode.page.keyboard.press('Escape');
    }
  }
}

test('a two-stage classifier trains from the palette: confusion matrix, predictions, and thumbnails on both Output blocks', async () => {
  await vscode.openFile('samples/autoencoder-classifier.latent.json');
  await vscode.runCommand('Latent Studio: Train Model');
  const p = await panel();
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('completed'), 'the classifier run to complete', 240_000);
  // Ten digits: a 10x10 matrix whose counts add up to the validation split.
  const cells = p.locator('[data-testid="confusion-matrix"] [data-count]');
  assert.equal(await cells.count(), 100);
  const counts = await cells.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
  assert.equal(counts.reduce((a, b) => a + b, 0), 1000, 'every validation image is counted once');
  assert.equal(await p.locator('[data-testid="prediction-strip"]').count(), 1);
  await vscode.screenshot('1-classifier-panel');

  const latency = Number(await p.locator('[data-epoch-latency-max-ms]').first().getAttribute('data-epoch-latency-max-ms'));
  assert.ok(Number.isFinite(latency), 'the panel measured how long epochs took to reach it');
  fs.mkdirSync(benchDir, { recursive: true });
  fs.writeFileSync(path.join(benchDir, 'panel-latency.json'), `${JSON.stringify({ bench: 'panel-latency-code-server', epochToPanelMsMax: latency, measuredAt: new Date().toISOString() })}\n`);

  // The graph editor shows the newest preview on each Output block: reconstructions and predictions.
  await vscode.openFile('samples/autoencoder-classifier.latent.json');
  const editor = await webview('output-thumbnail', 'thumbnails on the Output blocks', 30_000);
  await waitUntil(() => editor.locator('[data-testid="output-thumbnail"]').count(), (n) => n === 2, 'a thumbnail on both Output blocks', 30_000);
  await vscode.screenshot('2-editor-thumbnails');
});

test('Evaluate on Test Set scores the newest run of the open graph and shows it in the panel', async () => {
  await vscode.runCommand('Latent Studio: Evaluate on Test Set');
  const p = await panel();
  const card = await waitUntil(() => textOf(p, 'evaluation'), (t) => /test/i.test(t) && /accuracy/i.test(t), 'the evaluation card', 120_000);
  assert.match(card, /Evaluation on the test set/);
  // The samples cell itself (the confusion matrix's digits would match a search of the whole card).
  assert.equal((await textOf(p, 'evaluation-samples')).trim(), '2000', 'the whole test split (20 % of 10 000) was scored');
  const evaluation = JSON.parse(fs.readFileSync(path.join(runsDir, runFolders()[0]!, 'evaluation.json'), 'utf8')) as { split: string; samples: number; metrics: { accuracy: number } };
  assert.equal(evaluation.split, 'test');
  assert.equal(evaluation.samples, 2000);
  const shown = Number((await textOf(p, 'evaluation-accuracy')).replace(/[^\d.]/g, ''));
  assert.ok(Math.abs(shown / (shown > 1 ? 100 : 1) - evaluation.metrics.accuracy) < 0.01, `the card shows the file's accuracy (${shown} vs ${evaluation.metrics.accuracy})`);
  // One epoch per stage with a frozen encoder: well above chance (10 %), far from converged.
  assert.ok(evaluation.metrics.accuracy > 0.2, `a trained classifier beats chance (accuracy ${evaluation.metrics.accuracy})`);
  await vscode.screenshot('3-evaluation');
});

test('Stop, then Resume from Last Checkpoint continues the same run folder where it stopped', async () => {
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  await vscode.runCommand('Latent Studio: Train Model');
  let p = await panel();
  await waitUntil(() => textOf(p, 'epochs-done'), (t) => t === '0', 'the panel showing the new run', 30_000);
  await waitUntil(() => textOf(p, 'epochs-done'), (t) => Number(t) >= 1, 'a first epoch', 120_000);
  await p.getByRole('button', { name: 'Stop' }).click();
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('stopped'), 'the run to stop', 30_000);
  const folders = runFolders();
  const dense = folders.find((f) => f.endsWith('dense-autoencoder'))!;
  const stoppedAt = metricsOf(dense).at(-1)!.epoch;

  await vscode.runCommand('Latent Studio: Resume from Last Checkpoint');
  p = await panel();
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('running'), 'the resumed run', 60_000);
  await waitUntil(async () => metricsOf(dense).at(-1)!.epoch, (e) => e > stoppedAt, 'an epoch after the checkpoint', 120_000);
  await vscode.screenshot('4-resumed');
  await p.getByRole('button', { name: 'Stop' }).click();
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('stopped'), 'the resumed run to stop', 30_000);

  assert.deepEqual(runFolders(), folders, 'resuming writes into the same run folder');
  const epochs = metricsOf(dense).map((m) => m.epoch);
  assert.equal(epochs.filter((e) => e === 0).length, 1, 'one evaluation before training, not one per resume');
  assert.deepEqual(epochs, epochs.map((_, i) => i), 'epochs continue without gaps or repeats');
});

test('Compare Runs draws another run over the panel’s run', async () => {
  const classifierRun = runFolders().find((f) => f.endsWith('autoencoder-classifier'))!;
  await commandThenPick('Latent Studio: Compare Runs…', classifierRun);
  const p = await panel();
  const legend = await waitUntil(() => textOf(p, 'overlay-legend'), (t) => t.length > 0, 'the overlay legend', 20_000);
  assert.match(legend, /Autoencoder \+ classifier|autoencoder-classifier/i);
  // The compared run has two stages: one loss chart per stage, each on its own axis, the compared
  // run's curves in the chart of their stage (labelled "loss · <run>").
  const charts = await waitUntil(() => p.locator('[data-testid="stage-losses"] .chart').count(), (n) => n >= 2, 'a loss chart per stage', 20_000);
  const words = await Promise.all(Array.from({ length: charts }, (_, i) => textOf(p, i === 0 ? 'loss-chart-summary' : `loss-chart-${i}-summary`)));
  assert.ok(words.filter((w) => / · /.test(w)).length >= 2, `the compared run's curves in each of its stages' charts:\n${words.join('\n')}`);
  await vscode.screenshot('5-compare');
});

test('Export Model writes the autoencoder, encoder and decoder in the tfjs layers format', async () => {
  const target = path.join(workspace, 'exported');
  fs.mkdirSync(target);
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  await vscode.runCommand('Latent Studio: Export Model…');
  await vscode.pickQuickItem('TensorFlow.js layers');
  // code-server's file dialog is a quick input holding a path: type the folder and accept it.
  const box = vscode.page.locator('.quick-input-widget input.input');
  await box.waitFor({ state: 'visible', timeout: 20_000 });
  // The dialog fills in its start folder asynchronously; typing before that would be overwritten.
  await waitUntil(() => box.inputValue(), (v) => v.startsWith('/'), 'the file dialog to show its folder', 20_000);
  await vscode.screenshot('6-export-dialog');
  await box.fill(`${target}/`);
  await waitUntil(() => box.inputValue(), (v) => v === `${target}/`, 'the typed folder', 10_000);
  await vscode.page.locator('.quick-input-widget').getByRole('button', { name: /Export Here/i }).click();
  // One folder per model, and the run's normalization.json beside them.
  const models = await waitUntil(
    async () => (fs.existsSync(target) ? fs.readdirSync(target, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : []),
    (names) => names.length >= 3 && names.every((n) => fs.existsSync(path.join(target, n, 'model.json'))) && fs.existsSync(path.join(target, 'normalization.json')),
    'the exported model folders',
    60_000,
  );
  assert.equal((JSON.parse(fs.readFileSync(path.join(target, 'normalization.json'), 'utf8')) as { method: string }).method, 'unit');
  assert.deepEqual(models.filter((m) => ['autoencoder', 'encoder', 'decoder'].includes(m)), ['autoencoder', 'decoder', 'encoder']);
  const encoder = JSON.parse(fs.readFileSync(path.join(target, 'encoder', 'model.json'), 'utf8')) as { format: string; weightsManifest: unknown[] };
  assert.equal(encoder.format, 'layers-model');
  assert.ok(encoder.weightsManifest.length > 0);
  await vscode.screenshot('7-exported');
});

test('Export Model as ONNX writes one .onnx per model of the run', async () => {
  const target = path.join(workspace, 'onnx');
  fs.mkdirSync(target);
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  await vscode.runCommand('Latent Studio: Export Model…');
  await vscode.pickQuickItem('ONNX');
  const box = vscode.page.locator('.quick-input-widget input.input');
  await box.waitFor({ state: 'visible', timeout: 20_000 });
  await waitUntil(() => box.inputValue(), (v) => v.startsWith('/'), 'the file dialog to show its folder', 20_000);
  await box.fill(`${target}/`);
  await waitUntil(() => box.inputValue(), (v) => v === `${target}/`, 'the typed folder', 10_000);
  await vscode.page.locator('.quick-input-widget').getByRole('button', { name: /Export Here/i }).click();
  const files = await waitUntil(
    async () => fs.readdirSync(target).sort(),
    (names) => ['autoencoder.onnx', 'decoder.onnx', 'encoder.onnx'].every((n) => names.includes(n)),
    'the .onnx files',
    60_000,
  );
  // An ONNX file is a protobuf ModelProto: field 1 (ir_version) comes first as a varint.
  for (const f of files) assert.equal(fs.readFileSync(path.join(target, f))[0], 0x08, `${f} starts like an ONNX model`);
  await vscode.screenshot('8-exported-onnx');
});

test('Import Model turns the model.json open in the editor into a graph beside it, opened in the graph editor', async () => {
  const dir = path.join(workspace, 'imported');
  fs.mkdirSync(dir);
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 24, activation: 'relu' }), tf.layers.dense({ units: 784, activation: 'sigmoid' })] });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  await vscode.openFile('imported/model.json');
  await vscode.runCommand('Latent Studio: Import Model (TensorFlow.js, Keras)…');
  const box = vscode.page.locator('.quick-input-widget input.input');
  await box.waitFor({ state: 'visible', timeout: 20_000 });
  await waitUntil(() => box.inputValue(), (v) => v.endsWith('imported.latent.json'), 'the save dialog proposing imported.latent.json', 20_000);
  await box.press('Enter');
  const graph = path.join(dir, 'imported.latent.json');
  await waitUntil(() => Promise.resolve(fs.existsSync(graph) && fs.existsSync(path.join(dir, 'imported.weights', 'checkpoint', 'checkpoint.json'))), (e) => e, 'the graph and its weights', 30_000);
  const editor = await webviewWith(vscode, 'btn-train', 'the imported graph in the graph editor', 30_000);
  await waitUntil(() => editor.locator('[data-testid^="shape-"]').count(), (n) => n >= 3, 'its blocks drawn', 20_000);
  await vscode.screenshot('9-imported');

  // Evaluate As Imported: a run of 0 epochs holds the model's own weights, then the test split scores them.
  const runsDir = path.join(workspace, '.latent', 'runs');
  const before = new Set(fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []);
  await vscode.clickNotificationButton(/Imported model\.json: \d+ blocks/, 'Evaluate As Imported');
  const evaluated = await waitUntil(
    async () =>
      (fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [])
        .filter((n) => !before.has(n))
        .map((n) => path.join(runsDir, n))
        .find((d) => fs.existsSync(path.join(d, 'evaluation.json'))),
    (d) => d !== undefined,
    'the imported model evaluated on the test split',
    120_000,
  );
  const config = JSON.parse(fs.readFileSync(path.join(evaluated!, 'config.json'), 'utf8')) as { graphFile: string; initFrom?: string };
  assert.equal(config.graphFile, graph);
  assert.equal(config.initFrom, path.join(dir, 'imported.weights'));
  const status = JSON.parse(fs.readFileSync(path.join(evaluated!, 'run.json'), 'utf8')) as { status: string; epochsCompleted: number };
  assert.deepEqual([status.status, status.epochsCompleted], ['completed', 0]);
  const evaluation = JSON.parse(fs.readFileSync(path.join(evaluated!, 'evaluation.json'), 'utf8')) as { loss: number; split: string };
  assert.equal(evaluation.split, 'test');
  assert.ok(Number.isFinite(evaluation.loss) && evaluation.loss > 0, `the test loss of the imported weights: ${evaluation.loss}`);
  await vscode.screenshot('10-imported-evaluated');
});

test('Select Dataset writes the choice into the graph as an undoable edit', async () => {
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  await commandThenPick('Latent Studio: Select Dataset…', 'Fashion-MNIST');
  await waitUntil(() => vscode.isDirty(), (d) => d, 'the graph to change', 10_000);
  await vscode.save();
  assert.match(fs.readFileSync(denseGraph, 'utf8'), /"dataset": "fashion-mnist"/);
});
