/**
 * The PyTorch engine in VS Code (code-server + Chromium): with latentStudio.engine "pytorch" and
 * latentStudio.pythonPath set, "Latent Studio: Train Model" on the dense sample trains through the
 * generated code; the panel shows the curve and the reconstructions, the Runs view lists the run
 * with its engine and device, and Show Backend Info has the engine section. Skipped with the reason
 * where no Python with torch is installed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findPython } from '../../src/run/python';
import { type VSCodeSession, startVSCode, textOf, trainingPanel, waitUntil } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-pytorch-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'pytorch');
const graph = path.join(workspace, 'samples', 'dense-autoencoder.latent.json');
let vscode: VSCodeSession | undefined;
let skipReason: string | undefined;

before(async () => {
  const found = await findPython();
  if (!found.ok) {
    skipReason = found.message;
    return;
  }
  fs.mkdirSync(path.dirname(graph), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'samples', 'dense-autoencoder.latent.json'), graph);
  fs.writeFileSync(graph, fs.readFileSync(graph, 'utf8').replace(/"epochs": \d+/, '"epochs": 2'));
  fs.rmSync(outDir, { recursive: true, force: true });
  vscode = await startVSCode({ workspace, extensionPath: REPO_ROOT, outDir, viewport: { width: 1600, height: 1000 }, settings: { 'latentStudio.engine': 'pytorch', 'latentStudio.pythonPath': found.command } });
  await vscode.openFile('samples/dense-autoencoder.latent.json');
});

after(async () => {
  await vscode?.close();
  fs.rmSync(workspace, { recursive: true, force: true });
});

test('Train Model with the PyTorch engine: curves and reconstructions in the panel, the run in the Runs view with engine and device', async (t) => {
  if (!vscode) return t.skip(skipReason);
  await vscode.runCommand('Latent Studio: Train Model');
  const p = await trainingPanel(vscode);
  await waitUntil(() => textOf(p, 'run-status'), (s) => s.startsWith('completed') || s.startsWith('failed'), 'run ended', 240_000);
  await vscode.screenshot('1-pytorch-completed');
  assert.match(await textOf(p, 'run-status'), /^completed/);
  assert.equal(await textOf(p, 'epochs-done'), '2');
  assert.equal(await p.locator('[data-testid="loss-chart"]').getAttribute('data-points'), '3');
  const width = await p.locator('[data-testid="preview"]').evaluate((img) => (img as HTMLImageElement).naturalWidth);
  assert.equal(width, 10 * 56 + 11 * 2, 'ten originals over ten reconstructions, drawn as the tfjs engine draws them');
  assert.match((await p.locator('.facts').textContent()) ?? '', /pytorch/);

  const runs = fs.readdirSync(path.join(workspace, '.latent', 'runs'));
  assert.equal(runs.length, 1);
  const config = JSON.parse(fs.readFileSync(path.join(workspace, '.latent', 'runs', runs[0]!, 'config.json'), 'utf8')) as { engine: string; device: string };
  assert.equal(config.engine, 'pytorch');
  assert.ok(fs.existsSync(path.join(workspace, '.latent', 'runs', runs[0]!, 'pytorch', 'model.py')));
  // The extension asked a tfjs worker for the models' topology: the run has model/ as a tfjs run does.
  assert.ok(fs.existsSync(path.join(workspace, '.latent', 'runs', runs[0]!, 'model', 'model.json')), 'model/ in the TensorFlow.js layers format');

  const header = vscode.page.locator('.pane-header', { hasText: 'Latent Studio Runs' }).first();
  if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
  const row = vscode.page.locator('.pane', { has: header }).locator('.monaco-list-row', { hasText: 'Dense autoencoder' }).first();
  await row.waitFor({ timeout: 20_000 });
  assert.match((await row.textContent()) ?? '', new RegExp(`completed.*pytorch ${config.device}`));
  await vscode.screenshot('2-runs-view');
});

test('Show Backend Info has the PyTorch engine: the Python found, torch and the devices', async (t) => {
  if (!vscode) return t.skip(skipReason);
  await vscode.runCommand('Latent Studio: Show Backend Info');
  const editor = vscode.page.locator('.editor-group-container.active .monaco-editor .view-lines');
  const report = await waitUntil(async () => ((await editor.textContent()) ?? '').replace(/\u00a0/g, ' '), (s) => s.includes('PyTorch engine'), 'the engine section', 60_000);
  assert.match(report, /The latentStudio\.engine setting is \*\*pytorch\*\*/);
  assert.match(report, /torch \d+\.\d+/);
  assert.match(report, /\*\*cpu\*\*/);
  await vscode.screenshot('3-backend-info');
});
