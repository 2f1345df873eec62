/**
 * Commands that act on a finished (or interrupted) run: Resume from Last Checkpoint, Evaluate on
 * Test Set, Export Model, Generate Samples (variational autoencoders), Compare Runs. Each takes a run from the Runs view, the training panel, or
 * — from the palette — the newest suitable run of the active graph (with no graph in front: the
 * panel's run, else a pick), and says why when there is none.
 * The work happens in a worker process; the extension host only waits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { variationalBottleneck } from '../core/analyze';
import type { BackendPreference } from '../core/backends';
import type { Evaluation } from '../core/runFormat';
import { TrainingFailure, evaluateRun, exportRun, generateRun } from '../run/client';
import { type RunEntry, type Verdict, canResume, hasTrainedWeights, pickLatest, readRun } from '../run/runStore';
import { overlayFromRunFolder } from '../run/panelSnapshot';
import { workerEnv } from './backendCommands';
import { type RunItem, pickRun, workspaceRuns } from './runsView';
import type { TrainingController } from './training';
import type { TrainingPanel } from './trainingPanel';
import { readRunGraph } from '../run/runFolder';
import { SHOW_OUTPUT, showError, showFailureWarning } from './notify';
import { UserError } from '../core/errors';
import { ONNX_OPSET, exportOnnx } from '../run/onnxExport';

/** What a run command was invoked on: a Runs view item, a run folder path, a graph URI, or nothing. */
export type RunTarget = RunItem | vscode.Uri | string | undefined;

function isRunItem(t: RunTarget): t is RunItem {
  return typeof t === 'object' && t !== null && 'entry' in t;
}

/**
 * The run a command acts on. An explicit run is checked; otherwise the newest run of the active
 * graph that passes the check; otherwise (no graph open) a pick among all runs that pass.
 */
export async function resolveRun(
  target: RunTarget,
  activeGraph: vscode.Uri | undefined,
  panelRunDir: string | undefined,
  check: (e: RunEntry) => Verdict,
  placeHolder: string,
): Promise<RunEntry | undefined> {
  let entry: RunEntry | undefined;
  try {
    if (isRunItem(target)) entry = target.entry;
    else if (typeof target === 'string') entry = readRun(target);
  } catch (e) {
    // A folder named explicitly that is not a readable run: say why (the sentence names run.json).
    void showFailureWarning(e instanceof Error ? e.message : String(e));
    return undefined;
  }
  if (entry) {
    const verdict = check(entry);
    if (verdict.ok) return entry;
    void showFailureWarning(verdict.reason);
    return undefined;
  }
  const graph = target instanceof vscode.Uri ? target : activeGraph;
  if (graph?.path.endsWith('.latent.json')) {
    const found = pickLatest(workspaceRuns(), graph.fsPath, check);
    if ('entry' in found) return found.entry;
    void showFailureWarning(found.reason);
    return undefined;
  }
  // No graph in front (e.g. the training panel has focus): the run the panel shows, if it qualifies
  // (one deleted or unreadable since does not: then the pick among the others).
  let shown: RunEntry | undefined;
  try {
    shown = panelRunDir ? readRun(panelRunDir) : undefined;
  } catch {
    shown = undefined; // the picker below lists the readable runs; the Runs view names the unreadable one
  }
  if (shown && check(shown).ok) return shown;
  return pickRun(placeHolder, check);
}

function backendSetting(): BackendPreference {
  return vscode.workspace.getConfiguration('latentStudio').get<BackendPreference>('backend', 'auto');
}

/** Whether "Generate Samples" can decode random codes with this run: trained weights and a variational Bottleneck. */
export function canGenerate(entry: RunEntry): Verdict {
  const trained = hasTrainedWeights(entry);
  if (!trained.ok) return trained;
  const graph = readRunGraph(entry.runDir);
  if (!graph.ok) return { ok: false, reason: `${entry.name} has no readable graph snapshot: ${graph.error}` };
  return variationalBottleneck(graph.value) !== undefined
    ? { ok: true }
    : { ok: false, reason: `${entry.name} is not a variational autoencoder: Generate Samples decodes random codes, which needs a Bottleneck with "variational" on.` };
}

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;

/** One line for notifications: `test loss 0.0923 · accuracy 97.1% (2000 samples)`. */
export function summarizeEvaluation(e: Evaluation): string {
  const metrics = Object.entries(e.metrics).map(([k, v]) => (k === 'accuracy' ? `accuracy ${pct(v)}` : `${k} ${v.toFixed(4)}`));
  return [`${e.split} loss ${e.loss.toFixed(4)}`, ...metrics].join(' · ') + ` (${e.samples} samples)`;
}

/** The evaluation as text for the output channel, with the confusion matrix for classifiers. */
export function evaluationReport(e: Evaluation): string {
  const lines = [`Evaluation of ${e.runDir}`, `  ${e.dataset}, ${e.split} split: ${e.samples} samples, stage "${e.stage}", backend ${e.backend}`, `  ${e.lossName}: ${e.loss.toFixed(6)}`];
  for (const [k, v] of Object.entries(e.metrics)) lines.push(`  ${k}: ${v.toFixed(6)}`);
  const c = e.classifier;
  if (c) {
    const width = Math.max(5, ...c.classNames.map((n) => n.length), ...c.confusion.flat().map((n) => String(n).length)) + 1;
    const cell = (s: string): string => s.slice(0, width - 1).padStart(width);
    lines.push('  confusion matrix (rows: true class, columns: predicted)');
    lines.push(`  ${cell('')}${c.classNames.map(cell).join('')}`);
    c.confusion.forEach((row, i) => lines.push(`  ${cell(c.classNames[i] ?? String(i))}${row.map((n) => cell(String(n))).join('')}`));
  }
  return lines.join('\n');
}

export class RunCommands {
  constructor(
    private readonly training: TrainingController,
    private readonly panel: TrainingPanel,
    private readonly log: vscode.LogOutputChannel,
    private readonly activeGraph: () => vscode.Uri | undefined,
  ) {}

  async resume(target: RunTarget): Promise<void> {
    const entry = await resolveRun(target, this.activeGraph(), this.panel.currentRunDir(), canResume, 'Resume which run?');
    if (!entry) return;
    const graph = entry.graphFile && fs.existsSync(entry.graphFile) ? vscode.Uri.file(entry.graphFile) : vscode.Uri.file(path.join(entry.runDir, 'graph.latent.json'));
    await this.training.train(graph, entry);
  }

  async evaluate(target: RunTarget): Promise<Evaluation | undefined> {
    const entry = await resolveRun(target, this.activeGraph(), this.panel.currentRunDir(), hasTrainedWeights, 'Evaluate which run on its test set?');
    if (!entry) return undefined;
    try {
      const evaluation = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Evaluating {0} on the test set…', entry.status.graphName) },
        () => evaluateRun({ runDir: entry.runDir, split: 'test', backend: backendSetting() }, { env: workerEnv() }),
      );
      this.log.appendLine(evaluationReport(evaluation));
      this.panel.showEvaluation(entry.runDir, evaluation);
      const showOutput = SHOW_OUTPUT();
      void vscode.window.showInformationMessage(`${entry.status.graphName}: ${summarizeEvaluation(evaluation)}.`, showOutput).then((choice) => {
        if (choice === showOutput) this.log.show(true);
      });
      return evaluation;
    } catch (e) {
      this.reportFailure('Evaluation', e);
      return undefined;
    }
  }

  async export(target: RunTarget): Promise<void> {
    const entry = await resolveRun(target, this.activeGraph(), this.panel.currentRunDir(), hasTrainedWeights, 'Export the models of which run?');
    if (!entry) return;
    const formats = [
      { label: vscode.l10n.t('TensorFlow.js layers'), description: vscode.l10n.t('model.json + weights.bin per model, for tf.loadLayersModel'), format: 'tfjs' as const },
      { label: 'ONNX', description: vscode.l10n.t('one .onnx file per model (opset {0}), for ONNX Runtime and other deployment tools', ONNX_OPSET), format: 'onnx' as const },
    ];
    const chosen = await vscode.window.showQuickPick(formats, { title: vscode.l10n.t('Export {0}', entry.status.graphName), placeHolder: vscode.l10n.t('Which format?') });
    if (!chosen) return;
    if (chosen.format === 'onnx') return this.exportOnnx(entry);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: vscode.l10n.t('Export Here'),
      title: vscode.l10n.t('Export {0}: each model goes into its own sub-folder (model.json + weights.bin)', entry.status.graphName),
      defaultUri: folder,
    });
    const outDir = picked?.[0]?.fsPath;
    if (!outDir) return;
    const run = (overwrite: boolean) =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Exporting {0}…', entry.status.graphName) }, () =>
        exportRun({ runDir: entry.runDir, outDir, overwrite }, { env: workerEnv() }),
      );
    try {
      let models;
      try {
        models = await run(false);
      } catch (e) {
        if (!(e instanceof TrainingFailure) || !/already exists/i.test(e.message)) throw e;
        const replace = vscode.l10n.t('Replace');
        const answer = await vscode.window.showWarningMessage(vscode.l10n.t('{0}\nReplace the existing model folders?', e.message), { modal: true }, replace);
        if (answer !== replace) return;
        models = await run(true);
      }
      this.log.appendLine(`Exported ${entry.runDir} to ${outDir}:`);
      for (const m of models) this.log.appendLine(`  ${m.name}: ${m.dir} (${m.params} parameters, ${JSON.stringify(m.inputShape)} → ${JSON.stringify(m.outputShape)})`);
      const reveal = vscode.l10n.t('Reveal');
      const choice = await vscode.window.showInformationMessage(
        vscode.l10n.t('Exported {0} (tfjs layers format) to {1}.', models.map((m) => m.name).join(', '), vscode.workspace.asRelativePath(outDir)),
        reveal,
      );
      if (choice === reveal) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(models[0]?.dir ?? outDir));
    } catch (e) {
      this.reportFailure('Export', e);
    }
  }

  private async exportOnnx(entry: RunEntry): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: vscode.l10n.t('Export Here'),
      title: vscode.l10n.t('Export {0} as ONNX: <model>.onnx for each model', entry.status.graphName),
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    const outDir = picked?.[0]?.fsPath;
    if (!outDir) return;
    const run = (overwrite: boolean) =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Exporting {0} as ONNX…', entry.status.graphName) }, () =>
        exportOnnx({ runDir: entry.runDir, outDir, overwrite }, { env: workerEnv() }),
      );
    try {
      let models;
      try {
        models = await run(false);
      } catch (e) {
        if (!(e instanceof UserError) || !/already exists: /.test(e.message)) throw e;
        const replace = vscode.l10n.t('Replace');
        const answer = await vscode.window.showWarningMessage(vscode.l10n.t('{0}\nReplace the existing files?', e.message), { modal: true }, replace);
        if (answer !== replace) return;
        models = await run(true);
      }
      this.log.appendLine(`Exported ${entry.runDir} as ONNX to ${outDir}:`);
      for (const m of models) this.log.appendLine(`  ${m.name}: ${m.file} (${m.inputName} ${JSON.stringify(m.inputShape)} → ${m.outputName} ${JSON.stringify(m.outputShape)})`);
      const reveal = vscode.l10n.t('Reveal');
      const choice = await vscode.window.showInformationMessage(vscode.l10n.t('Exported {0} as ONNX to {1}.', models.map((m) => m.name).join(', '), vscode.workspace.asRelativePath(outDir)), reveal);
      if (choice === reveal) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(models[0]?.file ?? outDir));
    } catch (e) {
      this.reportFailure('Export as ONNX', e);
    }
  }

  /** Decode random codes of a variational autoencoder's run; opens generated.png (and manifold.png for a 2-D code). */
  async generate(target: RunTarget): Promise<void> {
    const entry = await resolveRun(target, this.activeGraph(), this.panel.currentRunDir(), canGenerate, 'Generate samples with which run?');
    if (!entry) return;
    try {
      const generated = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Generating samples with {0}…', entry.status.graphName) },
        () => generateRun({ runDir: entry.runDir }, { env: workerEnv() }),
      );
      this.log.appendLine(`Generated ${generated.count} images from random ${generated.latentSize}-number codes (seed ${generated.seed}): ${generated.file}`);
      await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(generated.file), { preview: false });
      if (generated.manifoldFile) {
        this.log.appendLine(`The 2-D code's manifold: ${generated.manifoldFile}`);
        await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(generated.manifoldFile), { preview: false, viewColumn: vscode.ViewColumn.Beside });
      }
    } catch (e) {
      this.reportFailure('Generate Samples', e);
    }
  }

  /** Draw another run's curves over the panel's run (or a picked one). */
  async compare(target: RunTarget): Promise<void> {
    const any = (): Verdict => ({ ok: true });
    let base: RunEntry | undefined;
    try {
      const dir = isRunItem(target) ? target.entry.runDir : typeof target === 'string' ? target : this.panel.currentRunDir();
      base = dir ? readRun(dir) : await pickRun('Compare: the first run', any);
    } catch (e) {
      return this.reportFailure('Compare Runs', e);
    }
    if (!base) return;
    const other = await pickRun(`Compare ${base.name} with which run?`, any, base.runDir);
    if (!other) return;
    const overlay = overlayFromRunFolder(other.runDir, `${other.status.graphName} · ${other.name}`);
    if (!overlay.ok) return this.reportFailure('Compare Runs', new Error(overlay.error));
    this.panel.showOverlays(base.runDir, [overlay.value]);
  }

  private reportFailure(what: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof TrainingFailure && e.detail) this.log.appendLine(e.detail);
    void showError(vscode.l10n.t('{0} failed: {1}', what, message));
  }
}
