/**
 * Training from VS Code: one training worker per graph (the same worker the CLI uses), a status bar
 * item and a cancellable progress notification, and the training panel fed with every event. The
 * extension host never blocks: the worker is a child process, and its death is just a failed run.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { type BatchPoint, type PanelSnapshot, type RunInfo, emptySnapshot } from '../core/panelProtocol';
import type { FromWorker } from '../core/protocol';
import type { BackendPreference } from '../core/backends';
import { TrainingAborted, TrainingFailure, TrainingSession, tfjsTopologies } from '../run/client';
import type { RunEntry } from '../run/runStore';
import { workerEnv } from './backendCommands';
import { EtaEstimator } from '../core/eta';
import type { EditorHub } from './graphEditor';
import { snapshotFromRunFolder } from '../run/panelSnapshot';
import type { TrainingPanel } from './trainingPanel';
import { readGraphSnapshot, readOptionalRunJson } from '../run/runFolder';
import { PytorchSession } from '../run/pytorchEngine';
import { defaultCacheDir } from '../data/cache';
import type { Engine } from '../core/format';
import { pythonChoices } from './pythonEnvironment';
import { graphProblemsSentence } from '../core/problems';
import { showError, showFailureWarning } from './notify';

/** What both engines' sessions offer: the tfjs worker's and the PyTorch engine's. */
interface EngineSession {
  readonly result: Promise<{ runDir: string; backend: string; stopped: boolean; epochsCompleted: number; bestValLoss: number | null }>;
  readonly pid: number | undefined;
  cancel(): void;
  kill(): void;
}

interface ActiveRun {
  readonly uri: vscode.Uri;
  readonly session: EngineSession;
  readonly snapshot: PanelSnapshot;
  /** The whole run's remaining time, from the progress reports (core/eta.ts). */
  readonly eta: EtaEstimator;
}

const MAX_BATCH_POINTS = 5000;

function fmtDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class TrainingController implements vscode.Disposable {
  private readonly active = new Map<string, ActiveRun>();
  private readonly statusBar = vscode.window.createStatusBarItem('latentStudio.training', vscode.StatusBarAlignment.Left, 50);

  constructor(
    private readonly panel: TrainingPanel,
    private readonly log: vscode.LogOutputChannel,
    private readonly editors: EditorHub,
  ) {
    this.statusBar.name = 'Latent Studio training';
    this.statusBar.command = 'latentStudio.showTrainingPanel';
    panel.onDidRequestStop(() => this.stop(this.panel.currentRunKey() ? vscode.Uri.parse(this.panel.currentRunKey()!) : undefined));
  }

  /**
   * Train the graph in `uri`; with `resume`, continue that run folder from its checkpoint instead.
   * `epochs: 0` scores the graph's starting weights (training.initFrom) and keeps them as the run's
   * checkpoint, untrained. Resolves to the run folder of a run that ended well.
   */
  async train(uri: vscode.Uri, resume?: RunEntry, overrides: { epochs?: number } = {}): Promise<string | undefined> {
    const key = uri.toString();
    const name = path.basename(uri.fsPath);
    let text: string;
    if (resume) {
      // A resumed run trains its own snapshot of the graph (the file may have changed since).
      const snapshot = readGraphSnapshot(resume.runDir);
      if (!snapshot.ok) {
        void showError(vscode.l10n.t('{0} cannot be resumed: {1}.', resume.name, snapshot.error));
        return undefined;
      }
      text = snapshot.value;
    } else {
      text = (await vscode.workspace.openTextDocument(uri)).getText();
    }
    const parsed = parseJsonText(text);
    if (!parsed.ok) {
      void showError(vscode.l10n.t('{0} is not valid JSON (line {1}, column {2}): fix it before training.', name, parsed.error.line, parsed.error.column));
      return undefined;
    }
    const analysis = analyzeGraph(parsed.value);
    if (!analysis.ok) {
      const showProblems = vscode.l10n.t('Show Problems');
      const choice = await showError(graphProblemsSentence(name, analysis.problems, { before: 'training' }), showProblems);
      if (choice === showProblems) await vscode.commands.executeCommand('workbench.actions.view.problems');
      return undefined;
    }
    const running = this.active.get(key);
    if (running) {
      const answer = await vscode.window.showWarningMessage(vscode.l10n.t('{0} is already training. Stop that run and start a new one?', name), { modal: true }, vscode.l10n.t('Stop and Restart'));
      if (answer !== 'Stop and Restart') return undefined;
      running.session.cancel();
      await running.session.result.catch(() => undefined);
    }

    const folder = vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath ?? path.dirname(uri.fsPath);
    const backend = vscode.workspace.getConfiguration('latentStudio').get<BackendPreference>('backend', 'auto');
    const run: RunInfo = { graphName: analysis.document!.name, graphFile: name, runDir: resume?.runDir ?? null, backend: null, dataset: null, stages: [] };
    // A resumed run's panel starts with the curves it already has.
    const snapshot: PanelSnapshot = resume
      ? { ...snapshotFromRunFolder(resume.runDir), run, status: 'starting', message: null }
      : emptySnapshot(run);
    const runsDir = resume ? path.dirname(resume.runDir) : path.join(folder, '.latent', 'runs');
    // A resumed run continues on the engine that started it.
    const resumedEngine = resume ? readOptionalRunJson(resume.runDir, 'config') : undefined;
    const engine: Engine = resumedEngine?.ok && resumedEngine.value ? resumedEngine.value.engine : vscode.workspace.getConfiguration('latentStudio').get<Engine>('engine', 'tfjs');
    const onMessage = (m: FromWorker): void => this.onWorkerMessage(key, m);
    const session: EngineSession =
      engine === 'pytorch'
        ? new PytorchSession({ graphText: text, graphPath: uri.fsPath, runsDir, resumeFrom: resume?.runDir, epochs: overrides.epochs, cacheDir: defaultCacheDir(), python: await pythonChoices(uri) }, { onMessage, describeModels: (r) => tfjsTopologies(r, { env: workerEnv() }) })
        : new TrainingSession({ graphText: text, graphPath: uri.fsPath, runsDir, backend, resumeFrom: resume?.runDir, epochs: overrides.epochs }, { onMessage, env: workerEnv() });
    const active: ActiveRun = { uri, session, snapshot, eta: new EtaEstimator() };
    this.active.set(key, active);
    this.updateTrainingContext();
    this.panel.showRun(key, snapshot);
    this.updateStatusBar(active);
    this.editors.setTraining(uri, true);
    this.log.appendLine(`[train] ${uri.fsPath}: ${engine} engine, pid ${session.pid ?? '(starting)'}`);

    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: resume ? vscode.l10n.t('Resuming {0}', analysis.document!.name) : vscode.l10n.t('Training {0}', analysis.document!.name), cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => session.cancel());
        let last = 0;
        const timer = setInterval(() => {
          const b = snapshot.batches.at(-1);
          const e = snapshot.epochs.at(-1);
          const plan = snapshot.run.stages[b?.stageIndex ?? 0];
          if (!b || !plan) return;
          const done = ((b.epoch - 1) * b.batches + b.batch) / Math.max(1, plan.epochs * b.batches);
          const pct = Math.min(100, Math.round(done * 100));
          progress.report({ increment: pct - last, message: `epoch ${b.epoch}/${plan.epochs} · loss ${b.loss.toFixed(4)}${e?.valLoss != null ? ` · val ${e.valLoss.toFixed(4)}` : ''}` });
          last = pct;
        }, 500);
        try {
          await session.result.catch(() => undefined);
        } finally {
          clearInterval(timer);
        }
      },
    );

    const watching = this.watchGraph(uri, name, snapshot);
    // The run ends when the worker does, not when someone dismisses the notification about it.
    const outcome = await session.result.then(
      (done) => ({ done }),
      (e: unknown) => ({ error: e }),
    );
    watching.dispose();
    this.active.delete(key);
    this.updateTrainingContext();
    this.updateStatusBar(undefined);
    this.editors.setTraining(uri, false);
    if ('done' in outcome) {
      const { done } = outcome;
      snapshot.status = done.stopped ? 'stopped' : 'completed';
      const start = snapshot.epochs.find((e) => e.epoch === 0)?.valLoss;
      snapshot.message =
        overrides.epochs === 0 && !done.stopped
          ? `its starting weights, untrained: val_loss ${start?.toFixed(4) ?? '-'}`
          : `${done.epochsCompleted} epoch(s), best val_loss ${done.bestValLoss?.toFixed(4) ?? '-'}`;
      this.panel.post(key, { type: 'status', status: snapshot.status, message: snapshot.message, run: snapshot.run });
      const openFolder = vscode.l10n.t('Open Run Folder');
      void vscode.window
        .showInformationMessage(
          done.stopped ? vscode.l10n.t('Stopped training {0}: {1}.', run.graphName, snapshot.message) : vscode.l10n.t('Finished training {0}: {1}.', run.graphName, snapshot.message),
          openFolder,
        )
        .then((open) => open === openFolder && vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(done.runDir)));
      return done.stopped ? undefined : done.runDir;
    } else {
      const e = outcome.error;
      const message = e instanceof Error ? e.message : String(e);
      if (e instanceof TrainingFailure && e.detail) this.log.appendLine(e.detail);
      // Ended on request (a Stop the worker did not obey in time): stopped, as its run.json says, not failed.
      const status = e instanceof TrainingAborted ? 'stopped' : 'failed';
      snapshot.status = status;
      snapshot.message = message;
      this.panel.post(key, { type: 'status', status, message, run: snapshot.run });
      if (status === 'stopped') void showFailureWarning(vscode.l10n.t('Training {0}: {1}', run.graphName, message));
      else void showError(vscode.l10n.t('Training {0} failed: {1}', run.graphName, message));
      return undefined;
    }
  }

  /**
   * The graph file while its run trains: an edit (in an editor or on disk) or a deletion does not touch
   * the run, which trains the copy it started with; say so once, and where that copy is.
   */
  private watchGraph(uri: vscode.Uri, name: string, snapshot: PanelSnapshot): vscode.Disposable {
    const said = new Set<'changed' | 'deleted'>();
    const copy = (): string => (snapshot.run.runDir ? `graph.latent.json in ${path.basename(snapshot.run.runDir)}` : 'the copy in its run folder');
    const say = (what: 'changed' | 'deleted'): void => {
      if (said.has(what)) return;
      said.add(what);
      const message =
        what === 'changed'
          ? `${name} changed while it trains: this run goes on with the graph as it started (${copy()}). Train again to use the change.`
          : `${name} was deleted while it trains: the run goes on with its own copy of the graph (${copy()}).`;
      this.log.appendLine(`[train] ${message}`);
      void (what === 'changed' ? vscode.window.showInformationMessage(message) : vscode.window.showWarningMessage(message));
    };
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(uri.fsPath)), path.basename(uri.fsPath)));
    return vscode.Disposable.from(
      watcher,
      watcher.onDidDelete(() => say('deleted')),
      watcher.onDidChange(() => say('changed')),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.toString() === uri.toString() && e.contentChanges.length > 0) say('changed');
      }),
    );
  }

  /**
   * `latentStudio.trainingGraphs`: the graphs training now (their paths, as `resourcePath` gives them
   * on every platform), so the editor title shows Train or Stop, not both.
   */
  private updateTrainingContext(): void {
    const paths = [...this.active.values()].flatMap((r) => [r.uri.fsPath, r.uri.path]);
    void vscode.commands.executeCommand('setContext', 'latentStudio.trainingGraphs', [...new Set(paths)]);
  }

  /** Stop after the running batch; the run keeps its last completed epoch. */
  stop(uri?: vscode.Uri): void {
    const run = uri ? this.active.get(uri.toString()) : this.active.size === 1 ? [...this.active.values()][0] : undefined;
    if (!run) {
      void vscode.window.showInformationMessage(this.active.size ? vscode.l10n.t('Open the graph whose training to stop.') : vscode.l10n.t('No training is running.'));
      return;
    }
    run.session.cancel();
  }

  private onWorkerMessage(key: string, m: FromWorker): void {
    const run = this.active.get(key);
    if (!run) return;
    const s = run.snapshot;
    switch (m.type) {
      case 'log':
        this.log.appendLine(`[worker] ${m.message}`);
        break;
      case 'started':
        s.status = 'running';
        if (m.stages.some((st) => st.resumedAfterEpoch !== undefined)) this.log.appendLine(`[train] resuming ${m.runDir}`);
        s.run = { ...s.run, runDir: m.runDir, backend: m.backend, dataset: `${m.dataset.source}: ${m.dataset.train} train / ${m.dataset.validation} validation`, stages: m.stages };
        this.panel.post(key, { type: 'status', status: 'running', message: null, run: s.run });
        {
          // The editor's stage bar highlights the stage that trains first (a resumed run may start later).
          const first = m.stages.findIndex((st) => !st.skipped && (st.resumedAfterEpoch ?? 0) < st.epochs);
          if (first >= 0) this.editors.setTraining(run.uri, true, first);
        }
        break;
      case 'batch': {
        this.editors.setTraining(run.uri, true, m.stageIndex);
        run.eta.observe(Date.now(), m.stageIndex, m.epoch, m.batch, m.batches);
        if (m.loss === undefined) break;
        const point: BatchPoint = { stageIndex: m.stageIndex, epoch: m.epoch, batch: m.batch, batches: m.batches, loss: m.loss };
        s.batches.push(point);
        if (s.batches.length > MAX_BATCH_POINTS) s.batches.splice(0, s.batches.length - MAX_BATCH_POINTS);
        this.panel.post(key, { type: 'batch', point });
        this.updateStatusBar(run);
        break;
      }
      case 'epoch':
        this.editors.setTraining(run.uri, true, m.record.stageIndex);
        run.eta.observe(Date.now(), m.record.stageIndex, m.record.epoch, 1, 1); // the epoch's end, its validation included
        s.epochs.push(m.record);
        this.panel.post(key, { type: 'epoch', record: m.record });
        this.updateStatusBar(run);
        break;
      case 'preview':
        s.preview = { epoch: m.epoch, pngBase64: m.pngBase64, ...(m.caption ? { caption: m.caption } : {}) };
        this.panel.post(key, { type: 'preview', epoch: m.epoch, pngBase64: m.pngBase64, ...(m.caption ? { caption: m.caption } : {}) });
        if (m.outputId) this.editors.preview(run.uri, { type: 'preview', outputId: m.outputId, epoch: m.epoch, pngBase64: m.pngBase64, caption: `epoch ${m.epoch}: ${m.caption ?? 'originals over reconstructions'}` });
        break;
      case 'classifier':
        s.classifier = { stageIndex: m.stageIndex, epoch: m.epoch, preview: m.preview };
        this.panel.post(key, { type: 'classifier', stageIndex: m.stageIndex, epoch: m.epoch, preview: m.preview });
        if (m.outputId) {
          const right = m.preview.predicted.filter((p, i) => p === m.preview.labels[i]).length;
          this.editors.preview(run.uri, {
            type: 'preview',
            outputId: m.outputId,
            epoch: m.epoch,
            pngBase64: m.preview.stripPngBase64,
            caption: `epoch ${m.epoch}: ${m.preview.predicted.map((p) => m.preview.classNames[p] ?? String(p)).join(' ')} (${right}/${m.preview.labels.length} right)`,
          });
        }
        break;
      default:
        break;
    }
  }

  private updateStatusBar(run: ActiveRun | undefined): void {
    if (!run) {
      if (this.active.size === 0) this.statusBar.hide();
      return;
    }
    const b = run.snapshot.batches.at(-1);
    const plan = run.snapshot.run.stages[b?.stageIndex ?? 0];
    let text = `$(sync~spin) ${run.snapshot.run.graphName}`;
    if (b && plan) {
      const remaining = run.eta.remainingSeconds(run.snapshot.run.stages, Date.now());
      const stages = run.snapshot.run.stages.filter((st) => !st.skipped).length;
      const stage = stages > 1 ? ` · ${plan.name}` : '';
      text += `${stage}: epoch ${b.epoch}/${plan.epochs} · batch ${b.batch}/${b.batches} · loss ${b.loss.toFixed(4)} · ETA ${remaining === undefined ? '…' : fmtDuration(remaining)}`;
    } else text += ': starting…';
    this.statusBar.text = text;
    this.statusBar.tooltip = 'Latent Studio training — click to show the training panel';
    this.statusBar.show();
  }

  dispose(): void {
    for (const run of this.active.values()) run.session.kill();
    this.statusBar.dispose();
  }
}
