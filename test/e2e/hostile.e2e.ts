/**
 * A webview that misbehaves (a bug, or script injected into it) cannot hurt the workspace: malformed,
 * oversized and out-of-order messages posted from inside the graph editor's and the training
 * panel's frames are each rejected and logged, the document stays as it was, and the host goes on
 * answering (a valid edit still applies, a run still trains). And during the whole tour (the editor,
 * a training run, the panel) no request leaves 127.0.0.1: the editor and the panel load nothing from
 * outside the extension.
 *
 * The messages go in the way the webview's own code sends them: through the function VS Code's
 * webview host frame gives its content (`__vscode_post_message__`, what acquireVsCodeApi calls).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame, FrameLocator } from 'playwright-core';
import { type VSCodeSession, startVSCode, textOf, trainingPanel, waitUntil } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-hostile-e2e-'));
const outDir = path.join(REPO_ROOT, '.test-output', 'e2e', 'hostile');
const graph = path.join(workspace, 'samples', 'dense-autoencoder.latent.json');
const OUR_WEBVIEWS = 'iframe.webview.ready[src*="extensionId=latent-studio.latent-studio"]';
let vscode: VSCodeSession;
let original: string;

before(async () => {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.cpSync(path.join(REPO_ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
  fs.writeFileSync(graph, fs.readFileSync(graph, 'utf8').replace(/"epochs": \d+/, '"epochs": 1'));
  original = fs.readFileSync(graph, 'utf8');
  vscode = await startVSCode({ workspace, extensionPath: REPO_ROOT, outDir });
});

after(async () => {
  await vscode?.close();
  fs.rmSync(workspace, { recursive: true, force: true });
});

/** The webview host frame (outer iframe) of ours whose content has `selector`: where `__vscode_post_message__` lives. */
async function hostFrameWith(selector: string, what: string): Promise<Frame> {
  return waitUntil(
    async () => {
      const frames = vscode.page.locator(OUR_WEBVIEWS);
      for (let i = 0; i < (await frames.count()); i++) {
        const inner = frames.nth(i).contentFrame().locator('iframe#active-frame').contentFrame();
        if ((await inner.locator(selector).count()) === 0) continue;
        const outer = await (await frames.nth(i).elementHandle())?.contentFrame();
        if (outer) return outer;
      }
      return undefined;
    },
    (f): f is Frame => f !== undefined,
    what,
    60_000,
  ) as Promise<Frame>;
}

/** Posts each message as the webview's content would (acquireVsCodeApi().postMessage), in order. */
async function post(frame: Frame, messages: readonly unknown[]): Promise<void> {
  await frame.evaluate((list) => {
    const send = (window as unknown as { __vscode_post_message__: (channel: string, data: unknown) => void }).__vscode_post_message__;
    for (const message of list) send('onmessage', { message });
  }, messages as unknown[]);
}

const HUGE = 'x'.repeat(2_000_000);
const timesIn = (text: string, what: string): number => text.split(what).length - 1;

test('the graph editor: malformed, oversized and out-of-order messages are rejected and logged; the document is unchanged; a valid edit still applies', async () => {
  assert.equal(await vscode.openFile('samples/dense-autoencoder.latent.json'), 'webview');
  const view: FrameLocator = vscode.webview('latent-studio.latent-studio');
  await view.locator('[data-testid="shape-bottleneck"]').waitFor({ timeout: 30_000 });
  const host = await hostFrameWith('[data-testid="shape-bottleneck"]', 'the graph editor');
  const malformed: unknown[] = [
    null,
    42,
    'edit',
    [],
    { type: 'format-disk' },
    { type: 'edit' },
    { type: 'edit', id: 7, edit: { kind: 'setParam', id: 'bottleneck', path: [], value: 3 } },
    { type: 'edit', edit: { kind: 'removeNodes', ids: ['x'.repeat(100)] } },
    { type: 'edits', edits: Array.from({ length: 101 }, () => ({ kind: 'move', positions: {} })) },
    { type: 'savePng', name: '../../../etc/cron.d/job.png', pngBase64: 'AAAA' },
    { type: 'layout', prefs: { palette: 'everywhere', inspector: 'auto' } },
    // Over the 1 M characters a message may have: rejected before it is even parsed.
    { type: 'edit', edit: { kind: 'setParams', id: 'bottleneck', params: { latentSize: 16, note: HUGE } } },
  ];
  // Well-formed but out of order or pointing at nothing: answered with a sentence, nothing changes.
  const outOfOrder: unknown[] = [
    { type: 'edit', id: 8, edit: { kind: 'connect', from: 'ghost', to: 'bottleneck' } },
    { type: 'edit', id: 9, edit: { kind: 'setParam', id: 'bottleneck', path: ['__proto__', 'polluted'], value: 1 } },
    { type: 'stop' },
    { type: 'ready' },
    { type: 'ready' },
  ];
  await post(host, [...malformed, ...outOfOrder]);
  const log = await waitUntil(() => vscode.channelLog('Latent Studio'), (t) => timesIn(t, 'Malformed graph editor message') >= malformed.length, 'every malformed editor message in the log', 20_000);
  // And the Output view shows them to the person (the same channel).
  await vscode.outputText({ channel: 'Latent Studio', waitFor: 'Malformed graph editor message' });
  assert.match(log, /Malformed graph editor message: 2,0\d\d,\d{3} characters, over the 1,000,000 such a message may have/, 'the oversized one says its size');
  assert.match(log, /name: a plain file name ending in \.png \(a 'savePng' message, rejected\)/, 'the path in a file name is refused');
  // The document: untouched, in the editor and on disk; the editor still shows it.
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  assert.equal(await vscode.isDirty(), false, 'no message changed the document');
  assert.equal(fs.readFileSync(graph, 'utf8'), original);
  assert.equal(await textOf(view, 'shape-bottleneck'), '16');
  await vscode.screenshot('1-editor-after-hostile-messages');

  // The host still answers: a valid edit, sent the same way, goes in as one undoable change.
  await post(host, [{ type: 'edit', id: 10, edit: { kind: 'setParam', id: 'bottleneck', path: ['latentSize'], value: 8 } }]);
  await waitUntil(() => textOf(view, 'shape-bottleneck'), (t) => t === '8', 'the bottleneck shape 8', 15_000);
  assert.equal(await vscode.isDirty(), true);
  await vscode.page.keyboard.press('Control+Z');
  await waitUntil(() => textOf(view, 'shape-bottleneck'), (t) => t === '16', 'undo back to 16', 15_000);
});

test('the training panel: malformed, oversized and out-of-order messages are rejected and logged; the panel and the host go on working', async () => {
  // The panel exists once a run has started: train the sample (1 epoch) and let it finish.
  await vscode.openFile('samples/dense-autoencoder.latent.json');
  await vscode.webview('latent-studio.latent-studio').locator('[data-testid="btn-train"]').click();
  const panel = await trainingPanel(vscode, 60_000);
  await waitUntil(() => textOf(panel, 'run-status'), (t) => t.startsWith('completed'), 'the run to complete', 240_000);
  const runs = fs.readdirSync(path.join(workspace, '.latent', 'runs'));
  const host = await hostFrameWith('[data-testid="run-status"]', 'the training panel');
  await post(host, [
    true,
    { type: 'command', command: 'rm -rf /' },
    { type: 'inspect', request: { kind: 'weights', layer: { $gt: '' } } },
    { type: 'exportScores', threshold: null },
    { type: 'savePng', name: 'loss.png', pngBase64: '' },
    { type: 'openRunFolder', extra: true },
    { type: 'stop', id: 'not-a-number' },
    { type: 'inspect', request: { kind: 'weights' }, note: HUGE },
    // Valid, but out of order: nothing is training, and the run has finished all its epochs.
    { type: 'stop' },
    { type: 'command', command: 'resume' },
  ]);
  const log = await waitUntil(() => vscode.channelLog('Latent Studio'), (t) => timesIn(t, 'Malformed training panel message') >= 8, 'every malformed panel message in the log', 20_000);
  assert.match(log, /Malformed training panel message: [\d,]+ characters, over the 1,000,000 such a message may have \(a 'inspect' message, rejected\)/, 'the oversized one says its size');
  assert.match(log, /Malformed training panel message: \(root\): Unrecognized key: "extra" \(a 'openRunFolder' message, rejected\)/);
  await waitUntil(() => vscode.notifications(), (n) => n.some((t) => /finished all its epochs; there is nothing to resume/.test(t)), 'the resume refusal', 15_000);
  assert.deepEqual(fs.readdirSync(path.join(workspace, '.latent', 'runs')), runs, 'no run was started or removed');

  // The host still does what a valid message asks: Evaluate from the panel scores the run.
  await post(host, [{ type: 'command', command: 'evaluate' }]);
  await waitUntil(() => textOf(panel, 'evaluation-samples'), (t) => /^\d+$/.test(t), 'the evaluation card', 120_000);
  await vscode.screenshot('2-panel-after-hostile-messages');
});

test('no request leaves 127.0.0.1 during the tour: the editor and the panel load nothing from outside the extension', async () => {
  const requests = vscode.requests();
  assert.ok(requests.length > 50, `the recorder saw the tour (${requests.length} requests)`);
  const outside: string[] = [];
  for (const r of requests) {
    if (/^(data|blob|about):/.test(r.url)) continue;
    let host: string;
    try {
      host = new URL(r.url).hostname;
    } catch {
      outside.push(`${r.url} (not a URL)`);
      continue;
    }
    if (host === '127.0.0.1') continue;
    // Webview resources have a virtual host (*.vscode-resource.vscode-cdn.net) that the webview's
    // service worker answers from the extension's folder: they never reach the network.
    const response = await r.request.response().catch(() => null);
    if (/\.vscode-resource\.vscode-cdn\.net$/.test(host) && response?.fromServiceWorker()) continue;
    outside.push(`${r.url} (by ${r.by}, ${r.resourceType}${response ? `, answered ${response.fromServiceWorker() ? 'by the service worker' : `with HTTP ${response.status()}`}` : ', no answer'})`);
  }
  assert.deepEqual(outside, []);
  // Our webviews' own resources are the extension's dist/webview files, and the recorder saw them.
  for (const file of ['editor.js', 'editor.css', 'panel.js', 'panel.css']) {
    assert.ok(requests.some((r) => r.url.endsWith(`/dist/webview/${file}`)), `${file} was loaded (and seen by the recorder)`);
  }
  const fromOurs = requests.filter((r) => r.by.includes('extensionId=latent-studio.latent-studio') || r.by.includes('/pre/fake.html'));
  assert.ok(fromOurs.every((r) => r.url.includes('/dist/webview/') || new URL(r.url).hostname === '127.0.0.1'), 'our webviews ask only for the extension\'s own files and VS Code\'s webview host');
});
