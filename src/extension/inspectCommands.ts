/**
 * Looking inside a trained run from VS Code: Detect Anomalies, Predict on Test Images, Show
 * First-Layer Weights, Show Feature Maps, Show Latent Space. Each runs an inspect job
 * (src/core/inspect.ts) in a fresh worker and shows the result in the training panel's tab of that
 * name; the panel's own buttons ask for the same jobs with other settings (another layer, another
 * test image). One job per run and kind at a time: a request made while one runs replaces the
 * queued one, so clicking quickly never piles up workers.
 */
import * as vscode from 'vscode';
import { requireTrust } from './trust';
import { type GraphAnalysis } from '../core/analyze';
import { type InspectKind, type InspectRequest, type InspectResult, InspectRequestSchema, type PanelInspectRequest, anomalyCsv, countFlagged } from '../core/inspect';
import type { BackendPreference } from '../core/backends';
import { TrainingFailure, inspectRun } from '../run/client';
import { type RunEntry, type Verdict, hasTrainedWeights } from '../run/runStore';
import { workerEnv } from './backendCommands';
import { type RunTarget, resolveRun } from './runCommands';
import { saveBytesAs } from './saveFile';
import type { TrainingPanel } from './trainingPanel';
import { readRunJson, readRunGraph } from '../run/runFolder';
import { showError } from './notify';

/** What each command is called in the UI, and the question its run picker asks. */
const TITLES: Record<InspectKind, { title: string; pick: string; progress: string }> = {
  score: { title: 'Detect Anomalies', pick: 'Score the test set with which run?', progress: 'Scoring reconstruction errors' },
  predict: { title: 'Predict', pick: 'Predict with which run?', progress: 'Predicting' },
  weights: { title: 'Show First-Layer Weights', pick: 'Show the weights of which run?', progress: 'Drawing weights' },
  features: { title: 'Show Feature Maps', pick: 'Show the feature maps of which run?', progress: 'Computing feature maps' },
  latent: { title: 'Show Latent Space', pick: 'Show the latent space of which run?', progress: 'Encoding the test set' },
};

/** Block types and Keras layer classes (Conv2D inside a conv Encoder) the graph uses. */
const typesOf = (a: GraphAnalysis): Set<string> => new Set([...a.nodes.values()].flatMap((n) => [n.type, ...n.layers.map((l) => l.className)]));

/**
 * Whether a run suits an inspect job: trained weights, and the blocks the job reads (a
 * reconstruction for anomaly scores, a Bottleneck for the latent space, a conv layer for feature
 * maps). The worker checks again, precisely; this only keeps the palette from picking a run that
 * cannot answer.
 */
export function inspectVerdict(kind: InspectKind, entry: RunEntry): Verdict {
  const trained = hasTrainedWeights(entry);
  if (!trained.ok) return trained;
  const graph = readRunGraph(entry.runDir);
  if (!graph.ok) return { ok: false, reason: `${entry.name} has no readable graph snapshot: ${graph.error}` };
  const analysis = graph.value;
  const types = typesOf(analysis);
  if (kind === 'score' && !analysis.outputs.some((o) => o.target === 'input')) {
    return { ok: false, reason: `${entry.status.graphName} has no Output that reconstructs its input, so there is no reconstruction error to score.` };
  }
  if (kind === 'latent' && !types.has('Bottleneck')) return { ok: false, reason: `${entry.status.graphName} has no Bottleneck block, so it has no latent code to show.` };
  if (kind === 'features' && !types.has('Conv2D')) {
    return { ok: false, reason: `${entry.status.graphName} has no convolutional layers; feature maps need a Conv2D (or a conv Encoder).` };
  }
  return { ok: true };
}

function backendSetting(): BackendPreference {
  return vscode.workspace.getConfiguration('latentStudio').get<BackendPreference>('backend', 'auto');
}

/** The panel's request, completed with the run folder and this window's settings. */
export function fullRequest(runDir: string, request: PanelInspectRequest, backend: BackendPreference): InspectRequest {
  return InspectRequestSchema.parse({ ...request, runDir, backend });
}

export class InspectCommands {
  /** Jobs running, by run folder and kind; a newer request waits in `queued`. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, InspectRequest>();

  constructor(
    private readonly panel: TrainingPanel,
    private readonly log: vscode.LogOutputChannel,
    private readonly activeGraph: () => vscode.Uri | undefined,
  ) {
    panel.onDidRequestInspect(({ runDir, request }) => {
      if (requireTrust('Inspecting a run')) void this.start(runDir, fullRequest(runDir, request, backendSetting()), false);
    });
    panel.onDidRequestScoresExport(({ runDir, threshold }) => void this.exportScores(runDir, threshold));
  }

  /** A palette / Runs view command: find the run, open the panel on the kind's tab, run the job with its defaults. */
  async command(kind: InspectKind, target: RunTarget): Promise<InspectResult | undefined> {
    const entry = await resolveRun(target, this.activeGraph(), this.panel.currentRunDir(), (e) => inspectVerdict(kind, e), TITLES[kind].pick);
    if (!entry) return undefined;
    this.panel.showRunView(entry.runDir, kind);
    return this.start(entry.runDir, fullRequest(entry.runDir, { kind }, backendSetting()), true);
  }

  private async start(runDir: string, request: InspectRequest, notify: boolean): Promise<InspectResult | undefined> {
    const key = `${runDir}\n${request.kind}`;
    if (this.running.has(key)) {
      this.queued.set(key, request);
      return undefined;
    }
    let result: InspectResult | undefined;
    const job = this.runJob(runDir, request, notify).then((r) => {
      result = r;
    });
    this.running.set(key, job);
    try {
      await job;
    } finally {
      this.running.delete(key);
    }
    const next = this.queued.get(key);
    if (next) {
      this.queued.delete(key);
      return this.start(runDir, next, notify);
    }
    return result;
  }

  private async runJob(runDir: string, request: InspectRequest, notify: boolean): Promise<InspectResult | undefined> {
    const kind = request.kind;
    this.panel.postInspecting(runDir, kind, true, null);
    try {
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `${TITLES[kind].progress}…` }, () =>
        inspectRun(request, { env: workerEnv() }),
      );
      this.log.appendLine(describeResult(result));
      this.panel.showInspection(runDir, result);
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (e instanceof TrainingFailure && e.detail) this.log.appendLine(e.detail);
      this.log.appendLine(`${TITLES[kind].title} failed: ${message}`);
      this.panel.postInspecting(runDir, kind, false, message);
      if (notify) void showError(vscode.l10n.t('{0} failed: {1}', TITLES[kind].title, message));
      return undefined;
    }
  }

  /** "Export CSV…" of the Anomalies tab: the run's scores with a flagged column at the panel's threshold. */
  async exportScores(runDir: string, threshold: number): Promise<vscode.Uri | undefined> {
    const parsed = readRunJson(runDir, 'anomaly');
    if (!parsed.ok) {
      this.log.appendLine(`Export CSV: ${parsed.error}`);
      void showError(vscode.l10n.t('No anomaly scores to export: {0}. Run Detect Anomalies first.', parsed.error));
      return undefined;
    }
    const scores = parsed.value;
    const flagged = countFlagged(scores.scores, threshold);
    return saveBytesAs(Buffer.from(anomalyCsv(scores, threshold), 'utf8'), {
      folder: runDir,
      name: 'anomaly-scores.csv',
      title: `Export ${scores.scores.length} anomaly scores (${flagged} flagged above ${threshold.toPrecision(4)})`,
      filters: { CSV: ['csv'] },
    });
  }
}

/** One paragraph for the output channel. */
export function describeResult(r: InspectResult): string {
  switch (r.kind) {
    case 'score': {
      const flagged = countFlagged(r.scores, r.threshold);
      return `Anomaly scores of ${r.runDir}: ${r.scores.length} ${r.split} samples of ${r.dataset}, threshold ${r.threshold.toPrecision(4)} (${r.thresholdRule}), ${flagged} flagged; ${r.csvFile}`;
    }
    case 'predict':
      return `Predictions of ${r.runDir} on ${r.items.length} ${r.split} images of ${r.dataset}`;
    case 'weights':
      return `Weights of layer ${r.layer} (${r.shown} of ${r.units} ${r.layerKind === 'conv' ? 'filters' : 'units'}): ${r.file}`;
    case 'features':
      return `Feature maps of ${r.split} image #${r.position} (${r.maps.map((m) => `${m.layer} ${m.shape.join('x')}`).join(', ')}): ${r.file}`;
    case 'latent':
      return `Latent space of ${r.runDir}: ${r.x.length} ${r.split} codes of ${r.codeSize} numbers, ${r.projection === 'pca' ? `PCA (${r.explained?.map((v) => `${(v * 100).toFixed(1)}%`).join(', ')} of variance)` : 'drawn as they are'}; ${r.file}`;
  }
}
