/**
 * The training panel: live curves and reconstruction previews of the current run, beside the
 * editor. It survives a window reload: its state names the run folder, which is read back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { z } from 'zod';
import { type FromPanel, type Overlay, type PanelSnapshot, type ToPanel, parseFromPanel } from '../core/panelProtocol';
import { analyzeGraph, isDenoising } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { INSPECT_FILES, type InspectKind, type InspectResult, type PanelInspectRequest, ScoreResultSchema } from '../core/inspect';
import { BackendInfoSchema, ClassifierPreviewSchema, DENOISING_CAPTION, type Evaluation, EvaluationSchema, type StagePlanSchema } from '../core/protocol';
import { RUN_FILES, readMetrics, readStatus } from '../run/runFolder';
import { savePngAs } from './saveFile';
import { webviewHtml } from './webviewHtml';

export class TrainingPanel implements vscode.Disposable {
  static readonly viewType = 'latentStudio.training';
  private panel: vscode.WebviewPanel | undefined;
  private runKey: string | undefined;
  private snapshot: PanelSnapshot | undefined;
  private focusOnReady: InspectKind | 'training' | undefined;
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

  constructor(private readonly extensionUri: vscode.Uri) {
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
    if (this.panel) this.panel.reveal();
    else void vscode.window.showInformationMessage('No training has run in this window yet: run "Latent Studio: Train Model".');
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
    const watchdog = setInterval(() => {
      if (heard || reloads >= 3) return clearInterval(watchdog);
      if (!panel.visible) return;
      reloads++;
      panel.webview.html = `${html}<!-- reload ${reloads} -->`;
    }, 8_000);
    const subs = [
      { dispose: () => clearInterval(watchdog) },
      panel.webview.onDidReceiveMessage(async (raw: unknown) => {
        heard = true;
        const m = parseFromPanel(raw);
        if (!m) return;
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
          else void vscode.window.showWarningMessage('This run has no folder yet: wait until training has started.');
        }
        if (m.type === 'exportScores' && runDir) this.scoresExports.fire({ runDir, threshold: m.threshold });
        if (m.type === 'savePng') {
          const folder = runDir ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
          await savePngAs(m.pngBase64, { folder, name: m.name, title: `Save ${m.name}` });
        }
      }),
    ];
    panel.onDidDispose(() => {
      subs.forEach((s) => s.dispose());
      if (this.panel === panel) this.panel = undefined;
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

/** The parts of config.json the panel shows; anything else in it is ignored. */
const RunConfigSchema = z.object({
  backend: BackendInfoSchema,
  dataset: z.object({ source: z.string() }).passthrough(),
  split: z.object({ train: z.number(), validation: z.number() }).passthrough(),
  stages: z.array(z.object({ name: z.string(), kind: z.enum(['fit', 'layerwise']), epochs: z.number().int() }).passthrough()),
}).passthrough();

function readConfig(runDir: string): z.infer<typeof RunConfigSchema> | undefined {
  try {
    const parsed = RunConfigSchema.safeParse(JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.config), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A run's stage plans as config.json records them (empty when unreadable). */
export function readRunStages(runDir: string): z.infer<typeof StagePlanSchema>[] {
  return (readConfig(runDir)?.stages ?? []).map((st) => ({ name: st.name, kind: st.kind, epochs: st.epochs, batchesPerEpoch: 0 }));
}

function readEvaluation(runDir: string): Evaluation | null {
  try {
    const parsed = EvaluationSchema.safeParse(JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.evaluation), 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** confusion.json + predictions.png, as the trainer writes them for a classifier stage. */
const ConfusionFileSchema = ClassifierPreviewSchema.omit({ stripPngBase64: true }).extend({ stageIndex: z.number().int(), epoch: z.number().int() }).passthrough();

function readClassifier(runDir: string): PanelSnapshot['classifier'] {
  try {
    const parsed = ConfusionFileSchema.safeParse(JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.confusion), 'utf8')));
    if (!parsed.success) return null;
    const { stageIndex, epoch, classNames, confusion, labels, predicted, confidence } = parsed.data;
    const strip = path.join(runDir, RUN_FILES.predictions);
    const stripPngBase64 = fs.existsSync(strip) ? fs.readFileSync(strip).toString('base64') : '';
    return { stageIndex, epoch, preview: { classNames, confusion, labels, predicted, confidence, stripPngBase64 } };
  } catch {
    return null;
  }
}

/** The caption of a run's reconstruction preview, from its graph snapshot: a denoising autoencoder's has three rows. */
function previewCaption(runDir: string): string | undefined {
  try {
    const parsed = parseJsonText(fs.readFileSync(path.join(runDir, RUN_FILES.graph), 'utf8'));
    return parsed.ok && isDenoising(analyzeGraph(parsed.value)) ? DENOISING_CAPTION : undefined;
  } catch {
    return undefined;
  }
}

const withCaption = (caption: string | undefined): { caption?: string } => (caption ? { caption } : {});

/** A finished (or interrupted) run, read back from its folder. */
export function snapshotFromRunFolder(runDir: string): PanelSnapshot {
  const status = readStatus(runDir);
  const config = readConfig(runDir);
  const png = path.join(runDir, RUN_FILES.reconstructions);
  const epochs = readMetrics(runDir);
  return {
    run: {
      graphName: status?.graphName ?? path.basename(runDir),
      graphFile: RUN_FILES.graph,
      runDir,
      backend: config?.backend ?? null,
      dataset: config ? `${config.dataset.source}: ${config.split.train} train / ${config.split.validation} validation` : null,
      stages: readRunStages(runDir),
    },
    // "running" in a folder read back after a reload means the window closed under it.
    status: status?.status === 'running' ? 'failed' : (status?.status ?? 'failed'),
    message: status?.status === 'running' ? 'interrupted: the window closed while it trained' : (status?.error ?? null),
    epochs,
    batches: [],
    preview: fs.existsSync(png) ? { epoch: epochs.at(-1)?.epoch ?? 0, pngBase64: fs.readFileSync(png).toString('base64'), ...withCaption(previewCaption(runDir)) } : null,
    classifier: readClassifier(runDir),
    evaluation: readEvaluation(runDir),
    overlays: [],
    inspections: readInspections(runDir),
  };
}

/** Inspect results a run folder keeps whole: the newest anomaly scores (anomaly.json). */
function readInspections(runDir: string): InspectResult[] {
  try {
    const parsed = ScoreResultSchema.safeParse(JSON.parse(fs.readFileSync(path.join(runDir, INSPECT_FILES.anomaly), 'utf8')));
    return parsed.success ? [parsed.data] : [];
  } catch {
    return [];
  }
}
