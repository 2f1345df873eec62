/**
 * The .vsix as a user gets it: `npm run package`'s packaging step builds it from the built bundle,
 * it holds the icon, the CHANGELOG and the manifest's Marketplace fields, and installed into
 * code-server with --install-extension (no development path) it opens a sample as a graph and
 * trains it from the command palette.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yauzl from 'yauzl';
import { type VSCodeSession, startVSCode, textOf, trainingPanel, waitUntil, webviewWith } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-package-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'package');
const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const vsix = path.join(REPO_ROOT, `latent-studio-${process.platform}-${process.arch}-${version}.vsix`);
let vscode: VSCodeSession | undefined;

/** The .vsix's entries (names) and the text of the few the test reads. */
async function entries(file: string, read: readonly string[]): Promise<{ names: string[]; texts: Map<string, string> }> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  const names: string[] = [];
  const texts = new Map<string, string>();
  try {
    const wanted: yauzl.Entry[] = [];
    for await (const entry of zip.eachEntry()) {
      names.push(entry.fileName);
      if (read.includes(entry.fileName)) wanted.push(entry);
    }
    for (const entry of wanted) {
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      texts.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
    }
  } finally {
    zip.close();
  }
  return { names, texts };
}

before(() => {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.rmSync(vsix, { force: true });
  // npm run package is `npm run build` and this step; the suite has built the bundle already.
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'prepare-package.ts')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `packaging failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /DONE\s+Packaged: .*\.vsix/);
});

after(async () => {
  await vscode?.close();
  fs.rmSync(workspace, { recursive: true, force: true });
});

test('the .vsix holds the bundle, the icon, the CHANGELOG, the walkthrough, the strings and the Marketplace fields, and nothing of the sources', async () => {
  const { names, texts } = await entries(vsix, ['extension/package.json']);
  for (const f of ['extension/dist/extension.js', 'extension/dist/worker.js', 'extension/dist/cli.js', 'extension/dist/webview/editor.js', 'extension/dist/webview/panel.js', 'extension/media/icon.png', 'extension/changelog.md', 'extension/readme.md', 'extension/samples/dense-autoencoder.latent.json', 'extension/package.nls.json', 'extension/l10n/bundle.l10n.json']) {
    assert.ok(names.includes(f), `${f} is in the package`);
  }
  assert.deepEqual(names.filter((n) => /^extension\/(src|test|webview|bench|node_modules)\//.test(n)), [], 'no sources, tests or node_modules');
  const manifest = JSON.parse(texts.get('extension/package.json')!) as { icon: string; preview: boolean; galleryBanner: { color: string }; repository: { url: string }; bugs: { url: string }; homepage: string; activationEvents: string[] };
  assert.equal(manifest.icon, 'media/icon.png');
  assert.equal(manifest.preview, true);
  assert.match(manifest.galleryBanner.color, /^#[0-9a-f]{6}$/i);
  assert.match(manifest.repository.url, /^https:\/\//);
  assert.match(manifest.bugs.url, /issues$/);
  assert.ok(manifest.homepage.length > 0);
  assert.ok(!manifest.activationEvents.includes('onLanguage:json'), 'not woken by every JSON file');
  const walkthrough = (JSON.parse(texts.get('extension/package.json')!) as { contributes: { walkthroughs: { steps: { media: { image: string } }[] }[] } }).contributes.walkthroughs[0]!;
  assert.equal(walkthrough.steps.length, 5);
  for (const step of walkthrough.steps) assert.ok(names.includes(`extension/${step.media.image}`), `the walkthrough's ${step.media.image} is in the package`);
});

test('installed with --install-extension, it opens a sample as a graph and trains it from the palette', async () => {
  fs.mkdirSync(path.join(workspace, 'graphs'));
  const graph = path.join(workspace, 'graphs', 'dense-autoencoder.latent.json');
  fs.writeFileSync(graph, fs.readFileSync(path.join(REPO_ROOT, 'samples', 'dense-autoencoder.latent.json'), 'utf8').replace(/"epochs": \d+/, '"epochs": 1'));
  vscode = await startVSCode({ workspace, extensionPath: REPO_ROOT, vsix, outDir });
  assert.equal(await vscode.openFile('graphs/dense-autoencoder.latent.json'), 'webview', 'the installed extension opens the graph editor');
  await webviewWith(vscode, 'shape-bottleneck', 'the graph editor');
  await vscode.runCommand('Latent Studio: Train Model');
  const panel = await trainingPanel(vscode, 60_000);
  await waitUntil(() => textOf(panel, 'run-status'), (t) => t.startsWith('completed'), 'the run to complete', 240_000);
  const runs = fs.readdirSync(path.join(workspace, '.latent', 'runs'));
  assert.equal(runs.length, 1);
  const status = JSON.parse(fs.readFileSync(path.join(workspace, '.latent', 'runs', runs[0]!, 'run.json'), 'utf8')) as { status: string; epochsCompleted: number };
  assert.deepEqual([status.status, status.epochsCompleted], ['completed', 1]);
  // The installed copy, not this folder: the extension host loaded it from the extensions folder.
  const log = await vscode.channelLog('Latent Studio');
  assert.match(log, /\[worker\] wasm: binaries from .*[/\\]extensions[/\\]latent-studio\.latent-studio-[\d.]+[/\\]dist[/\\]wasm/, 'the worker ran from the installed package');
  await vscode.screenshot('1-installed-and-trained');
});
