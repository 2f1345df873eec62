/**
 * Restricted Mode (code-server with workspace trust on, the folder not trusted): the graph editor
 * opens, edits and validates; Train (button and palette), Export as PyTorch and the other commands
 * that run code say the workspace must be trusted and start nothing; trusting the workspace enables
 * Train in the open editor at once, and it trains.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { type VSCodeSession, startVSCode, textOf, trainingPanel, waitUntil } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-trust-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'trust');
const graph = path.join(workspace, 'samples', 'dense-autoencoder.latent.json');
const runsDir = path.join(workspace, '.latent', 'runs');
let vscode: VSCodeSession;
let view: FrameLocator;

before(async () => {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.cpSync(path.join(REPO_ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
  fs.writeFileSync(graph, fs.readFileSync(graph, 'utf8').replace(/"epochs": \d+/, '"epochs": 1'));
  vscode = await startVSCode({ workspace, extensionPath: REPO_ROOT, outDir, untrusted: true });
  assert.equal(await vscode.openFile('samples/dense-autoencoder.latent.json'), 'webview', 'the graph editor opens in Restricted Mode');
  view = vscode.webview('latent-studio.latent-studio');
});

after(async () => {
  await vscode?.close();
  fs.rmSync(workspace, { recursive: true, force: true });
});

const warningsAbout = async (what: string): Promise<string[]> =>
  waitUntil(() => vscode.notifications(), (n) => n.some((t) => t.startsWith(`${what} runs code on this workspace's files`)), `the Restricted Mode warning for ${what}`, 15_000);

test('Restricted Mode: the editor edits and validates; Train is off and says why', async () => {
  await view.locator('[data-testid="restricted"]').waitFor({ timeout: 30_000 });
  const train = view.locator('[data-testid="btn-train"]');
  assert.equal(await train.isDisabled(), true, 'Train is disabled');
  assert.match((await train.getAttribute('title')) ?? '', /trust the workspace first/);
  // An edit from the inspector goes into the document, and the shapes follow.
  await view.locator('.react-flow__node[data-id="bottleneck"]').click();
  const size = view.locator('[data-testid="inspector"] input[aria-label="latentSize"]');
  await size.fill('8');
  await size.press('Enter');
  await waitUntil(() => textOf(view, 'shape-bottleneck'), (t) => t === '8', 'the bottleneck shape 8', 10_000);
  assert.equal(await vscode.isDirty(), true, 'the edit went into the document');
  await vscode.save();
  assert.match(fs.readFileSync(graph, 'utf8'), /"latentSize": 8/);
  await vscode.screenshot('1-restricted-editor');
});

test('Restricted Mode: Train Model, Export as PyTorch and Show Latent Space from the palette start nothing and say why', async () => {
  await vscode.runCommand('Latent Studio: Train Model');
  await warningsAbout('Training');
  await vscode.runCommand('Latent Studio: Export as PyTorch…');
  await warningsAbout('Export as PyTorch');
  await vscode.runCommand('Latent Studio: Show Latent Space');
  await warningsAbout('Showing the latent space');
  await vscode.screenshot('2-restricted-warnings');
  // Nothing ran: no run folder, no exported code.
  assert.equal(fs.existsSync(runsDir), false, 'no run was started');
  assert.deepEqual(fs.readdirSync(path.join(workspace, 'samples')).filter((f) => !f.endsWith('.json') && !f.endsWith('.md') && f !== 'data'), []);
});

test('trusting the workspace enables Train in the open editor, and it trains', async () => {
  await vscode.runCommand('Workspaces: Manage Workspace Trust');
  const trust = vscode.page.getByRole('button', { name: 'Trust', exact: true });
  await trust.first().click({ timeout: 20_000 });
  await vscode.screenshot('3-trusted');
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  await waitUntil(() => view.locator('[data-testid="restricted"]').count(), (n) => n === 0, 'the Restricted Mode badge to go', 20_000);
  const train = view.locator('[data-testid="btn-train"]');
  await waitUntil(() => train.isDisabled(), (d) => !d, 'Train enabled', 10_000);
  await train.click();
  const p = await trainingPanel(vscode);
  await waitUntil(() => textOf(p, 'run-status'), (t) => t.startsWith('completed'), 'the run to complete', 180_000);
  assert.equal(fs.readdirSync(runsDir).length, 1);
  await vscode.screenshot('4-trained');
});
