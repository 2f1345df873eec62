/**
 * End-to-end harness: a real VS Code (code-server, installed by scripts/setup-e2e.sh) driven headlessly
 * by playwright-core + Debian chromium, with the extension under development loaded from a folder.
 * Facts behind the flags and selectors: /work/shared/E2E-NOTES.md.
 *
 * Pitfall for callers: functions passed to page.evaluate() run in the browser, and tsx (esbuild keepNames)
 * wraps named inner functions/consts in `__name(...)`, which is undefined there. Keep such callbacks to
 * anonymous arrows, or pass a string.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, rmSync, type WriteStream } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { chromium, type Browser, type FrameLocator, type Locator, type Page, type Request } from 'playwright-core';

const REPO_ROOT = resolve(__dirname, '..', '..');
export const CODE_SERVER_ENTRY = join(REPO_ROOT, '.e2e/code-server/node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';

/** Every single wait is bounded by this; a failing step fails in seconds, not at the suite timeout. */
export const WAIT_MS = 30_000;

/** Chromium flags verified to work headless in containers (E2E-NOTES); service workers stay on or webviews go blank. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** User settings that keep start-up dialogs, welcome pages and tips from stealing focus. */
const USER_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'workbench.tips.enabled': false,
  'window.commandCenter': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'workbench.editor.enablePreview': false, // a second Quick Open must not replace the first file's tab
  'extensions.ignoreRecommendations': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'editor.accessibilitySupport': 'off', // no "screen reader optimized?" prompt
  'files.autoSave': 'off', // dirty state must only change when a test saves
  'git.enabled': false, // the temp workspace is no repository; skip the git extension's scans
  'json.schemaDownload.enable': false, // offline machines; our schema is a local file anyway
  'chat.commandCenter.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

/** Workspace trust on, no prompt: a folder nobody trusted yet opens in Restricted Mode. */
const UNTRUSTED_SETTINGS: Record<string, unknown> = {
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
};

/** A request the browser made: its URL and what made it (the frame's URL, or a worker's). */
export interface RecordedRequest {
  readonly url: string;
  readonly by: string;
  readonly resourceType: string;
  /** Playwright's request: its response says whether a service worker answered it (webview resources). */
  readonly request: Request;
}

export interface StartOptions {
  /** Folder opened as the workspace (use a temp copy: tests may edit it). */
  workspace: string;
  /** Folder of the extension under development (its package.json + built bundle). */
  extensionPath: string;
  /** Install this .vsix (code-server --install-extension) and run it instead of the development folder. */
  vsix?: string;
  /** Screenshots, console.log and server.log go here. */
  outDir: string;
  /** Browser viewport; large enough that panels show a whole model summary. */
  viewport?: { width: number; height: number };
  /** Extra user settings merged over the defaults. */
  settings?: Record<string, unknown>;
  /** Open the workspace untrusted (Restricted Mode, without the start-up prompt) instead of with trust off. */
  untrusted?: boolean;
}

export interface OpenFileOptions {
  /** 'text' reopens a custom editor (webview) as plain text, e.g. for commands that need activeTextEditor. */
  as?: 'text' | 'default';
}

export type EditorKind = 'text' | 'webview';

export interface VSCodeSession {
  readonly page: Page;
  readonly port: number;
  readonly url: string;
  /** Quick Open (Ctrl+P) a workspace file; resolves when its tab is active. Returns which kind of editor opened. */
  openFile(relativePath: string, options?: OpenFileOptions): Promise<EditorKind>;
  /** Runs a command by its palette title (F1, `>title`), retrying when start-up focus changes close the palette. */
  runCommand(title: string): Promise<void>;
  /** Picks an item in an open quick pick (e.g. after a command that asks), by its label. */
  pickQuickItem(label: string): Promise<void>;
  /** The inner frame of the visible webview contributed by `extensionId` (publisher.name). */
  webview(extensionId: string): FrameLocator;
  /** Kind of the active editor: a Monaco text editor or a webview (custom editor). */
  activeEditorKind(): Promise<EditorKind | undefined>;
  /** Focuses the Problems panel and returns its text; with `waitFor`, polls until that text appears. */
  problemsText(options?: { waitFor?: string }): Promise<string>;
  /** Shows the Output panel (optionally switching to `channel`) and returns all its lines; `waitFor` polls. */
  outputText(options?: { channel?: string; waitFor?: string }): Promise<string>;
  /** Ctrl+S and waits until the active tab is no longer dirty. */
  save(): Promise<void>;
  isDirty(): Promise<boolean>;
  /** Full-page PNG at outDir/<name>.png; returns its path. */
  screenshot(name: string): Promise<string>;
  /** Texts of the notification toasts currently shown. */
  notifications(): Promise<string[]>;
  /** Console errors/warnings and page errors collected so far (also written to outDir/console.log on close). */
  consoleMessages(): readonly string[];
  /** Every request the browser made since it opened (pages, frames, workers and service workers), in order. */
  requests(): readonly RecordedRequest[];
  /** What an extension's output channel holds so far, read from the file VS Code writes it to (no scrolling, no wrapping). */
  channelLog(channel: string): Promise<string>;
  /** Clicks `button` on the notification toast whose message matches `message`. */
  clickNotificationButton(message: RegExp, button: string): Promise<void>;
  /** A second VS Code window on the same workspace (another browser tab: its own workbench and extension host). */
  openWindow(): Promise<VSCodeSession>;
  /** Closes the browser, kills code-server's process group, removes temp dirs. Safe to call twice. */
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** For races only: an unref'd timer, so a won race does not keep the test process alive for `ms`. */
const deadline = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** Polls `read` until `done(value)` holds or `timeoutMs` passes; then throws with the last value for context. */
export async function waitUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (done(last)) return last;
    } catch (e) {
      lastError = e; // transient: the DOM is re-rendering, a widget is closing, ...
    }
    if (Date.now() > end) {
      const detail = last !== undefined ? `last value:\n${String(last)}` : `last error: ${String(lastError)}`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; ${detail}`);
    }
    await sleep(250);
  }
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error('no free port'))));
    });
  });
}

async function waitForHealthz(port: number, server: ChildProcess, log: () => string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (Date.now() < end) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`code-server exited (${server.exitCode ?? server.signalCode}) before /healthz answered:\n${log()}`);
    }
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(150);
  }
  throw new Error(`code-server did not answer /healthz within ${WAIT_MS} ms:\n${log()}`);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // the whole group: code-server forks the extension host and file watchers
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, 'SIGKILL'); // leader gone, but forked children may linger in its group
    return;
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  killGroup(child, 'SIGTERM');
  const inTime = await Promise.race([exited.then(() => true), deadline(5_000).then(() => false)]);
  killGroup(child, 'SIGKILL');
  if (!inTime) await Promise.race([exited, deadline(2_000)]);
}

export async function startVSCode(opts: StartOptions): Promise<VSCodeSession> {
  if (!existsSync(CODE_SERVER_ENTRY)) {
    throw new Error(`code-server is not installed (${CODE_SERVER_ENTRY} missing): run scripts/setup-e2e.sh`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/setup-e2e.sh`);
  const workspace = resolve(opts.workspace);
  const extensionPath = resolve(opts.extensionPath);
  const outDir = resolve(opts.outDir);
  await mkdir(outDir, { recursive: true });

  const temp = await mkdtemp(join(tmpdir(), 'latent-e2e-'));
  const userData = join(temp, 'user-data');
  await mkdir(join(userData, 'User'), { recursive: true });
  await mkdir(join(temp, 'extensions'), { recursive: true });
  await writeFile(
    join(userData, 'User/settings.json'),
    JSON.stringify({ ...USER_SETTINGS, ...(opts.untrusted ? UNTRUSTED_SETTINGS : {}), ...opts.settings }, null, 2),
  );

  const consoleLines: string[] = [];
  const requests: RecordedRequest[] = [];
  const note = (line: string): void => {
    consoleLines.push(`${new Date().toISOString()} ${line}`);
    if (process.env.E2E_DEBUG && line.startsWith('[harness]')) process.stderr.write(`${line}\n`);
  };
  const serverLogPath = join(outDir, 'server.log');
  const serverLog: WriteStream = createWriteStream(serverLogPath);
  let serverTail = '';

  if (opts.vsix) {
    // As a user installs it: into the extensions folder, no development path.
    const installed = spawnSync(process.execPath, [CODE_SERVER_ENTRY, '--install-extension', resolve(opts.vsix), '--extensions-dir', join(temp, 'extensions'), '--user-data-dir', userData], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    note(`[harness] --install-extension ${opts.vsix}: ${(installed.stdout + installed.stderr).trim()}`);
    if (installed.status !== 0) throw new Error(`code-server --install-extension ${opts.vsix} failed (exit ${installed.status}): ${installed.stderr || installed.stdout}`);
  }

  const port = await freePort();
  const server = spawn(
    process.execPath,
    [
      CODE_SERVER_ENTRY,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`, // 127.0.0.1: webviews need a secure context (crypto.subtle)
      '--disable-telemetry',
      '--disable-update-check',
      ...(opts.untrusted ? [] : ['--disable-workspace-trust']),
      '--user-data-dir', userData,
      '--config', join(temp, 'config.yaml'),
      '--extensions-dir', join(temp, 'extensions'),
      workspace,
    ],
    // Own process group, so close() can kill the extension host and watchers it forks; NODE_OPTIONS
    // cleared so a runner's loader flags (e.g. --import tsx) do not leak into VS Code's processes.
    // EXTENSIONS_GALLERY: the workbench's own extension-gallery queries (open-vsx.org) go nowhere, so a
    // tour makes no request off this machine (hostile.e2e.ts checks that ours make none either).
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: 'http://127.0.0.1:9/gallery', itemUrl: 'http://127.0.0.1:9/item' }) } },
  );
  // A test process that dies without close() (Ctrl+C, crash) must not leave a detached server behind.
  const killOnExit = (): void => {
    killGroup(server, 'SIGKILL');
    rmSync(temp, { recursive: true, force: true });
  };
  const killOnSignal = (signal: NodeJS.Signals): void => {
    killOnExit();
    process.kill(process.pid, signal); // our once-listener is gone: the default action (exit) follows
  };
  process.once('exit', killOnExit);
  process.once('SIGINT', killOnSignal);
  process.once('SIGTERM', killOnSignal);
  const onServerOutput = (chunk: Buffer): void => {
    serverLog.write(chunk);
    serverTail = (serverTail + chunk.toString()).slice(-4000);
  };
  server.stdout?.on('data', onServerOutput);
  server.stderr?.on('data', onServerOutput);

  let browser: Browser | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await browser?.close().catch(() => undefined);
      await stopServer(server);
      process.removeListener('exit', killOnExit);
      process.removeListener('SIGINT', killOnSignal);
      process.removeListener('SIGTERM', killOnSignal);
      await new Promise<void>((r) => serverLog.end(r));
      await writeFile(join(outDir, 'console.log'), consoleLines.join('\n') + '\n').catch(() => undefined);
      // The extension host log holds activation errors: keep it next to the screenshots.
      await cp(join(userData, 'logs'), join(outDir, 'logs'), { recursive: true }).catch(() => undefined);
      await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    })();
    return closing;
  };

  try {
    await waitForHealthz(port, server, () => serverTail);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: WAIT_MS });
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1600, height: 1000 } });
    // Recorded from the first request on (the workbench, its webviews, their service worker).
    context.on('request', (r) => {
      let by: string;
      try {
        by = r.serviceWorker()?.url() ?? r.frame().url();
      } catch {
        by = 'a worker';
      }
      requests.push({ url: r.url(), by, resourceType: r.resourceType(), request: r });
    });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') note(`[${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => note(`[pageerror] ${e.stack ?? e.message}`));
    page.on('crash', () => note('[crash] page crashed'));
    page.on('response', (r) => {
      if (r.status() >= 400) note(`[http ${r.status()}] ${r.url()}`); // the console only says "404", not which URL
    });

    // --extensionDevelopmentPath is not a code-server flag: the workbench takes it from the URL payload.
    const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${extensionPath}`]]);
    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}${opts.vsix ? '' : `&payload=${encodeURIComponent(payload)}`}`;
    await page.goto(url, { timeout: WAIT_MS });
    await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ state: 'visible' });
    const openWindow = async (): Promise<VSCodeSession> => {
      const second = await context.newPage();
      second.setDefaultTimeout(WAIT_MS);
      await second.goto(url, { timeout: WAIT_MS });
      // The Explorer's layout (a folded section) carries over from the first window: wait for the Explorer itself.
      await second.locator('.explorer-viewlet .pane-header').first().waitFor({ state: 'visible' });
      return makeSession(second, port, url, outDir, consoleLines, requests, join(userData, 'logs'), note, () => second.close(), openWindow);
    };
    const session = makeSession(page, port, url, outDir, consoleLines, requests, join(userData, 'logs'), note, close, openWindow);
    return session;
  } catch (e) {
    await close();
    throw e;
  }
}

function makeSession(
  page: Page,
  port: number,
  url: string,
  outDir: string,
  consoleLines: string[],
  requests: readonly RecordedRequest[],
  logsDir: string,
  note: (line: string) => void,
  close: () => Promise<void>,
  openWindow: () => Promise<VSCodeSession>,
): VSCodeSession {
  const quickInput = page.locator('.quick-input-widget');
  const quickInputBox = quickInput.locator('input.input');
  const quickRows = quickInput.locator('.quick-input-list .monaco-list-row');
  // With several editor groups (e.g. the training panel beside the editor) each has an active tab: use the focused group's.
  const ACTIVE_GROUP = '.editor-group-container.active';
  const activeTab = page.locator(`${ACTIVE_GROUP} .tabs-container .tab.active`);
  const activeGroup = page.locator('.editor-group-container.active');

  /** Opens the quick input with `key`, types `text`, clicks the row `row` picks; retries when focus races close it. */
  async function quickSelect(key: string, text: string, row: (rows: Locator) => Locator, what: string): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 4; attempt++) {
      try {
        if (await quickInput.isVisible()) {
          await page.keyboard.press('Escape');
          await quickInput.waitFor({ state: 'hidden', timeout: 5_000 });
        }
        await page.keyboard.press(key);
        await quickInputBox.waitFor({ state: 'visible', timeout: 10_000 });
        await quickInputBox.fill(text);
        const target = row(quickRows).first();
        await target.waitFor({ state: 'visible', timeout: 10_000 });
        await clickAndSettle(target, text);
        return;
      } catch (e) {
        if (e instanceof AfterClickError) throw e; // the item was chosen: repeating could run a command twice
        lastError = e; // start-up focus changes close the widget mid-typing: start over
        note(`[harness] ${what}: attempt ${attempt} failed: ${String(e).split('\n')[0]}`);
        await sleep(300 * attempt);
      }
    }
    throw new Error(`Could not select ${what} from the quick input: ${String(lastError)}`);
  }

  /** Clicks a quick-input row, then waits until the widget closed or moved on to a follow-up pick (new input). */
  async function clickAndSettle(target: Locator, typed: string): Promise<void> {
    await target.click({ timeout: 5_000 });
    try {
      await waitUntil(
        async () => !(await quickInput.isVisible()) || (await quickInputBox.inputValue({ timeout: 1_000 })) !== typed,
        (settled) => settled,
        'the quick input to close or move on',
        10_000,
      );
    } catch (e) {
      throw new AfterClickError(String(e));
    }
  }

  async function pickQuickItem(label: string): Promise<void> {
    await quickInputBox.waitFor({ state: 'visible' });
    // Short: if the picker closes under us (a notification took focus) the caller retries.
    await quickInputBox.fill(label, { timeout: 5_000 });
    const target = exactLabel(label)(quickRows).first();
    await target.waitFor({ state: 'visible' });
    await clickAndSettle(target, label);
  }

  // Case-insensitive: VS Code's own titles are inconsistent ("Reopen Editor with Text Editor").
  const exactLabel = (label: string) => (rows: Locator): Locator =>
    rows.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`, 'i') }) });

  async function activeEditorKind(): Promise<EditorKind | undefined> {
    // Visible only, in case a group keeps the panes of its other editors in the DOM, hidden.
    const shown = (selector: string): Promise<number> => activeGroup.locator(selector).filter({ visible: true }).count();
    if ((await shown('.editor-container .monaco-editor')) > 0) return 'text';
    // A webview editor leaves only a placeholder in the group; its iframe is overlaid from elsewhere in the DOM.
    if ((await shown('.editor-container .editor-instance:has(> [id^="webview-editor-element-"])')) > 0) return 'webview';
    return undefined;
  }

  async function waitActiveTab(name: string): Promise<void> {
    await waitUntil(
      async () => (await activeTab.getAttribute('data-resource-name', { timeout: 1_000 })) ?? '',
      (label) => label === name,
      `the active tab to be ${name}`,
    );
  }

  /** Waits up to `timeoutMs` for the active editor to be a text editor or a webview (possibly still loading). */
  async function waitEditorKind(timeoutMs: number): Promise<EditorKind | undefined> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const kind = await activeEditorKind();
      if (kind) return kind;
      await sleep(200);
    }
    return undefined;
  }

  async function openFile(relativePath: string, options: OpenFileOptions = {}): Promise<EditorKind> {
    const name = basename(relativePath);
    // Quick Open rows show the file name as label and the folder as description: match on the label.
    await quickSelect('Control+P', relativePath, exactLabel(name), `file ${relativePath}`);
    await waitActiveTab(name);
    const kind = await waitEditorKind(WAIT_MS);
    if (!kind) throw new Error(`${relativePath} opened but its editor did not render within ${WAIT_MS} ms`);
    if (kind === 'webview') {
      // The placeholder appears at once; the iframe is ready once the extension resolved the custom editor
      // (and only then does VS Code offer "Reopen Editor with Text Editor" for it).
      const host = page.locator('iframe.webview.ready').filter({ visible: true }).first(); // hidden ones are earlier webviews
      await host.waitFor({ state: 'visible' }).catch((e: unknown) => {
        throw new Error(`${relativePath}: its webview never became ready (extension not activated, or dist/ stale?): ${String(e)}`);
      });
      // Best effort, so a screenshot right after shows something: wait until the page painted any element.
      // Tests should still wait for their own elements; a webview may legitimately start empty.
      await host
        .contentFrame()
        .locator('iframe#active-frame')
        .contentFrame()
        .locator('body > *')
        .filter({ visible: true })
        .first()
        .waitFor({ state: 'visible', timeout: 10_000 })
        .catch(() => note(`[harness] ${relativePath}: webview painted nothing within 10 s`));
    }
    if (kind === 'text' || options.as !== 'text') return kind;
    await runCommand('View: Reopen Editor with Text Editor');
    if ((await waitEditorKind(WAIT_MS)) !== 'text') throw new Error(`${relativePath} did not reopen as text`);
    return 'text';
  }

  async function runCommand(title: string): Promise<void> {
    await quickSelect('F1', `>${title}`, exactLabel(title), `command "${title}"`);
  }

  function webview(extensionId: string): FrameLocator {
    // Two iframes deep: the host frame per webview, then the content frame (E2E-NOTES); names are unreliable.
    return page
      .locator(`iframe.webview.ready[src*="extensionId=${extensionId}"]:visible`)
      .first()
      .contentFrame()
      .locator('iframe#active-frame')
      .contentFrame();
  }

  async function problemsText(options: { waitFor?: string } = {}): Promise<string> {
    await runCommand('Problems: Focus on Problems View');
    const panel = page.locator('.markers-panel');
    await panel.first().waitFor({ state: 'visible' });
    const read = async (): Promise<string> => normalize(await panel.first().innerText({ timeout: 2_000 }));
    const wanted = options.waitFor;
    return wanted === undefined ? read() : waitUntil(read, (t) => t.includes(wanted), `"${wanted}" in Problems`);
  }

  /** Monaco renders only visible lines; scroll through the output editor and collect lines by their offset. */
  async function readOutputEditor(): Promise<string> {
    const editor = page.locator('.output-view .monaco-editor').filter({ visible: true }).first();
    await editor.waitFor({ state: 'visible' });
    const lines = new Map<number, string>();
    const collect = async (): Promise<void> => {
      const seen = await editor.locator('.view-lines .view-line').evaluateAll((els) =>
        els.map((el) => ({ top: parseFloat((el as HTMLElement).style.top || '0'), h: (el as HTMLElement).offsetHeight, text: el.textContent ?? '' })),
      );
      for (const l of seen) lines.set(Math.round(l.top / Math.max(1, l.h)), l.text);
    };
    const scrollable = editor.locator('.monaco-scrollable-element').first();
    await scrollable.hover();
    await page.mouse.wheel(0, -1e6); // from the top
    await sleep(100);
    let before = -1;
    for (let i = 0; i < 200 && lines.size !== before; i++) {
      before = lines.size;
      await collect();
      await page.mouse.wheel(0, 400);
      await sleep(60);
    }
    const max = Math.max(-1, ...lines.keys());
    return Array.from({ length: max + 1 }, (_, i) => normalize(lines.get(i) ?? '')).join('\n');
  }

  async function outputText(options: { channel?: string; waitFor?: string } = {}): Promise<string> {
    if (options.channel !== undefined) {
      await runCommand('Output: Show Output Channels...');
      await pickQuickItem(options.channel);
    } else {
      await runCommand('Output: Focus on Output View');
    }
    const wanted = options.waitFor;
    return wanted === undefined
      ? readOutputEditor()
      : waitUntil(readOutputEditor, (t) => t.includes(wanted), `"${wanted}" in the Output panel`);
  }

  async function isDirty(): Promise<boolean> {
    return (await page.locator(`${ACTIVE_GROUP} .tabs-container .tab.active.dirty`).count()) > 0;
  }

  async function save(): Promise<void> {
    await page.keyboard.press('Control+S');
    await page.locator(`${ACTIVE_GROUP} .tabs-container .tab.active:not(.dirty)`).waitFor({ state: 'visible' });
  }

  async function screenshot(name: string): Promise<string> {
    const file = join(outDir, `${name.replace(/[^\w.-]+/g, '_')}.png`);
    await page.screenshot({ path: file, timeout: WAIT_MS });
    return file;
  }

  async function channelLog(channel: string): Promise<string> {
    // A LogOutputChannel: <logs>/<session>/window<n>/exthost/<publisher.name>/<channel>.log;
    // a plain one: <logs>/<session>/exthost1/output_logging_<time>/<n>-<channel>.log.
    const files = (await readdir(logsDir, { recursive: true })).filter(
      (f) => (basename(f) === `${channel}.log` && f.includes('exthost')) || (basename(f).replace(/^\d+-/, '') === `${channel}.log` && f.includes('output_logging_')),
    );
    const texts = await Promise.all(files.map((f) => readFile(join(logsDir, f), 'utf8')));
    return texts.join('\n');
  }

  async function clickNotificationButton(message: RegExp, button: string): Promise<void> {
    const toast = page.locator('.notifications-toasts .notification-toast').filter({ has: page.locator('.notification-list-item-message', { hasText: message }) }).first();
    await toast.locator('.monaco-button', { hasText: button }).first().click();
  }

  async function notifications(): Promise<string[]> {
    const toasts = page.locator('.notifications-toasts .notification-toast .notification-list-item-message');
    return (await toasts.allInnerTexts()).map(normalize);
  }

  return {
    page,
    port,
    url,
    openFile,
    runCommand,
    pickQuickItem,
    webview,
    activeEditorKind,
    problemsText,
    outputText,
    save,
    isDirty,
    screenshot,
    clickNotificationButton,
    notifications,
    consoleMessages: () => consoleLines,
    requests: () => requests,
    channelLog,
    openWindow,
    close,
  };
}

/** Thrown once a quick-input item was clicked: from then on, a retry is no longer safe. */
class AfterClickError extends Error {}

/** Monaco and the workbench render spaces as U+00A0; tests compare against plain text. */
function normalize(text: string): string {
  return text.replace(/\u00a0/g, ' ');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const OUR_WEBVIEWS = 'iframe.webview.ready[src*="extensionId=latent-studio.latent-studio"]';

/** The first of our webviews whose page has `testId` (the panel: run-status; the editor: canvas, stage-bar…). */
export async function webviewWith(session: VSCodeSession, testId: string, what: string, timeoutMs = 60_000): Promise<FrameLocator> {
  return waitUntil(
    async () => {
      const frames = session.page.locator(OUR_WEBVIEWS);
      for (let i = 0; i < (await frames.count()); i++) {
        const inner = frames.nth(i).contentFrame().locator('iframe#active-frame').contentFrame();
        if ((await inner.locator(`[data-testid="${testId}"]`).count()) > 0) return inner;
      }
      return undefined;
    },
    (f): f is FrameLocator => f !== undefined,
    what,
    timeoutMs,
  ) as Promise<FrameLocator>;
}

/** The training panel's frame: of our extension's webviews, the one showing a run. */
export const trainingPanel = (session: VSCodeSession, timeoutMs?: number): Promise<FrameLocator> => webviewWith(session, 'run-status', 'the training panel', timeoutMs);

/** The first element with this test id in a webview, and its trimmed text. */
export const byTestId = (f: FrameLocator, id: string): Locator => f.locator(`[data-testid="${id}"]`).first();
export const textOf = async (f: FrameLocator, id: string): Promise<string> => (await byTestId(f, id).textContent())?.trim() ?? '';

/** A fresh VS Code on `workspace` for one tour; its screenshots go to `outDir`, emptied first. */
export async function startTour(workspace: string, outDir: string, viewport: { width: number; height: number } = { width: 1600, height: 1000 }): Promise<VSCodeSession> {
  rmSync(outDir, { recursive: true, force: true });
  return startVSCode({ workspace, extensionPath: REPO_ROOT, outDir, viewport });
}

/** Close the tour's VS Code and remove its workspace. */
export async function endTour(session: VSCodeSession | undefined, workspace: string): Promise<void> {
  await session?.close();
  rmSync(workspace, { recursive: true, force: true });
}

/**
 * A picture for the README and the walkthrough: `.test-output/readme/<name>.png`, of `target` (an
 * element, in the window or in a webview) or of the whole window. `npm run readme-shots` copies
 * the newest ones into media/walkthrough/ and docs/images/.
 */
export async function readmeShot(session: VSCodeSession, name: string, target?: Locator): Promise<string> {
  const dir = join(REPO_ROOT, '.test-output', 'readme');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.png`);
  if (target) await target.screenshot({ path: file, timeout: WAIT_MS });
  else await session.page.screenshot({ path: file, timeout: WAIT_MS });
  return file;
}
