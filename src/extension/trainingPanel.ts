/**
 * The training panel: live curves and reconstruction previews of the current run, beside the
 * editor. It survives a window reload: its state names the run folder, which is read back.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { type FromPanel, FromPanelSchema, type Overlay, type PanelSnapshot, type ToPanel } from '../core/panelProtocol';
import { createReceiver, webviewMessageLimit } from '../core/messages';
import type { InspectKind, InspectResult, PanelInspectRequest } from '../core/inspect';
import type { Evaluation } from '../core/runFormat';
import { snapshotFromRunFolder } from '../run/panelSnapshot';
import { savePngAs } from './saveFile';
import { webviewHtml } from './webviewHtml';

export class TrainingPanel implements vscode.Disposable {
  static readonly viewType = 'latentStudio.training';
  private panel: vscode.WebviewPanel | undefined;
  private runKey: string | undefined;
  private snapshot: PanelSnapshot | undefined;
  private focusOnReady: InspectKind | 'training' | undefined;
  /** Set the HTML of the shown panel again if its page has not said a word yet. */
  private reloadUnheard: (() => void) | undefined;
  private readonly stopRequests = new vscode.EventEmitter<void>();
  readonly onDidRequestStop = this.stopRequests.event;
  private readonly commandRequests = new vscode.EventEmitter<{ command: Extract<FromPanel, { type: 'command' }>['command']; runDir: string | null }>();
  /** A toolbar button (Evaluate, Export, Resume, Compare) on the run the panel shows. */
  readonly onDidRequestCommand = this.commandRequests.event;
  private readonly inspectRequests = new vscode.EventEmitter<{ runDir: string; request: PanelInspectRequest }>();
  /** A tab of the panel asks for an inspect job on its run (another layer, another test image…). */
  readonly onDidRequestInspect = this.inspectRequests.event;
  private readonly scoresExports = new vscode.EventEmitter<{ runDir: string; threshold: number }>();
  /** "Export CSV…" in the Anomalies tab, at the threshold the user set there. */
  readonly onDidRequestScoresExport = this.scoresExports.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions.push(
      vscode.window.registerWebviewPanelSerializer(TrainingPanel.viewType, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
          const runDir = typeof state === 'object' && state !== null && 'runDir' in state && typeof state.runDir === 'string' ? state.runDir : undefined;
          this.attach(panel);
          if (runDir && fs.existsSync(runDir)) this.snapshot = snapshotFromRunFolder(runDir);
        },
      }),
    );
  }

  currentRunKey(): string | undefined {
    return this.runKey;
  }

  currentRunDir(): string | undefined {
    return this.snapshot?.run.runDir ?? undefined;
  }

  /** Show the run (unless the panel already does) and its evaluation. */
  showEvaluation(runDir: string, evaluation: Evaluation): void {
    this.showRunFolder(runDir);
    this.snapshot!.evaluation = evaluation;
    this.post(this.runKey!, { type: 'evaluation', evaluation });
  }

  /** Show the run (unless the panel already does) with other runs' curves drawn over it. */
  showOverlays(runDir: string, overlays: Overlay[]): void {
    this.showRunFolder(runDir);
    this.snapshot!.overlays = overlays;
    this.post(this.runKey!, { type: 'overlays', overlays });
  }

  /** Show the run (unless the panel already does) on one of its tabs. */
  showRunView(runDir: string, view: InspectKind | 'training'): void {
    const listening = this.panel !== undefined;
    this.showRunFolder(runDir);
    // A panel created just now is not listening yet: its `ready` gets the tab after the snapshot.
    if (listening) this.post(this.runKey!, { type: 'focus', view });
    else this.focusOnReady = view;
  }

  /** An inspect job on a run started or failed; posted only when the panel shows that run. */
  postInspecting(runDir: string, kind: InspectKind, busy: boolean, error: string | null): void {
    if (this.snapshot?.run.runDir === runDir) this.post(this.runKey!, { type: 'inspecting', kind, busy, error });
  }

  /** An inspect job's result: kept in the run's snapshot (newest per kind) and shown when the panel shows that run. */
  showInspection(runDir: string, result: InspectResult): void {
    if (this.snapshot?.run.runDir !== runDir) this.showRunFolder(runDir);
    const snapshot = this.snapshot!;
    snapshot.inspections = [...snapshot.inspections.filter((r) => r.kind !== result.kind), result];
    this.post(this.runKey!, { type: 'inspecting', kind: result.kind, busy: false, error: null });
    this.post(this.runKey!, { type: 'inspection', result });
  }

  private showRunFolder(runDir: string): void {
    if (this.panel && this.snapshot?.run.runDir === runDir) this.panel.reveal(undefined, true);
    else this.showRun(`run:${runDir}`, snapshotFromRunFolder(runDir));
  }

  /** Show the panel for a run; the snapshot object is live (the controller keeps filling it). */
  showRun(key: string, snapshot: PanelSnapshot): void {
    this.runKey = key;
    this.snapshot = snapshot;
    if (!this.panel) {
      this.attach(vscode.window.createWebviewPanel(TrainingPanel.viewType, 'Training', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {}));
    } else {
      this.panel.reveal(undefined, true);
      void this.panel.webview.postMessage({ type: 'snapshot', snapshot } satisfies ToPanel);
    }
    this.panel!.title = `Training: ${snapshot.run.graphName}`;
  }

  reveal(): void {
    if (this.panel) {
      this.panel.reveal();
      // A page that never loaded (see attach): asking for the panel loads it again.
      this.reloadUnheard?.();
    }
    else void vscode.window.showInformationMessage(vscode.l10n.t('No training has run in this window yet: run "Latent Studio: Train Model".'));
  }

  post(key: string, message: ToPanel): void {
    if (key === this.runKey && this.panel) void this.panel.webview.postMessage(message);
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    const root = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    panel.webview.options = { enableScripts: true, localResourceRoots: [root] };
    const html = webviewHtml(panel.webview, root, { title: 'Training', script: 'panel.js', styles: ['uPlot.min.css', 'panel.css'] });
    panel.webview.html = html;
    // A panel revived by a window reload has stayed blank in code-server now and then: its page never
    // loaded, so it never said `ready`. Setting the HTML again (changed, or nothing happens) reloads it.
    let heard = false;
    let reloads = 0;
    const reload = (): void => {
      if (!heard) panel.webview.html = `${html}<!-- reload ${++reloads} -->`;
    };
    this.reloadUnheard = reload;
    const watchdog = setInterval(() => {
      if (heard || reloads >= 3) return clearInterval(watchdog);
      if (panel.visible) reload();
    }, 8_000);
    const receive = createReceiver(FromPanelSchema, {
      from: 'training panel',
      maxChars: webviewMessageLimit,
      log: (line) => this.log.appendLine(line),
      reject: (r) => void panel.webview.postMessage({ type: 'rejected', inReplyTo: r.inReplyTo, error: r.error } satisfies ToPanel),
    });
    const subs = [
      { dispose: () => clearInterval(watchdog) },
      panel.webview.onDidReceiveMessage(async (raw: unknown) => {
        heard = true;
        const m = receive(raw);
        if (!m) return;
        if (m.type === 'rejected') this.log.appendLine(`The training panel could not accept a message: ${m.error}`);
        if (m.type === 'ready' && this.snapshot) {
          await panel.webview.postMessage({ type: 'snapshot', snapshot: this.snapshot } satisfies ToPanel);
          if (this.focusOnReady) await panel.webview.postMessage({ type: 'focus', view: this.focusOnReady } satisfies ToPanel);
          this.focusOnReady = undefined;
        }
        if (m.type === 'stop') this.stopRequests.fire();
        if (m.type === 'openRunFolder' && this.snapshot?.run.runDir) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(this.snapshot.run.runDir));
        if (m.type === 'command') this.commandRequests.fire({ command: m.command, runDir: this.snapshot?.run.runDir ?? null });
        const runDir = this.snapshot?.run.runDir;
        if (m.type === 'inspect') {
          if (runDir) this.inspectRequests.fire({ runDir, request: m.request });
          else void vscode.window.showWarningMessage(vscode.l10n.t('This run has no folder yet: wait until training has started.'));
        }
        if (m.type === 'exportScores' && runDir) this.scoresExports.fire({ runDir, threshold: m.threshold });
        if (m.type === 'savePng') {
          const folder = runDir ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
          await savePngAs(m.pngBase64, { folder, name: m.name, title: vscode.l10n.t('Save {0}', m.name) });
        }
      }),
    ];
    panel.onDidDispose(() => {
      subs.forEach((s) => s.dispose());
      if (this.panel === panel) {
        this.panel = undefined;
        this.reloadUnheard = undefined;
      }
    });
  }

  dispose(): void {
    this.panel?.dispose();
    this.stopRequests.dispose();
    this.commandRequests.dispose();
    this.inspectRequests.dispose();
    this.scoresExports.dispose();
    this.subscriptions.forEach((s) => s.dispose());
  }
}
