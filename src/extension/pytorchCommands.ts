/**
 * "Export as PyTorch…": the graph in the active editor (or a run's graph with its trained weights,
 * from the Runs view) written as model.py and train.py into a folder the user picks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { UserError } from '../core/errors';
import { tfjsTopologies } from '../run/client';
import { exportPytorch } from '../run/pytorchExport';
import { workerEnv } from './backendCommands';
import { hasCheckpoint } from '../run/runFolder';
import { showError } from './notify';

/** Export target: a graph file, or a run folder (a Runs view item's runDir). */
export async function exportAsPytorch(log: vscode.LogOutputChannel, graph: vscode.Uri | undefined, runDir?: string): Promise<void> {
  if (!graph && !runDir) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a *.latent.json graph (or pick a run in the Runs view) to export it as PyTorch.'));
    return;
  }
  const withRun = runDir && hasCheckpoint(runDir) ? runDir : undefined;
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: vscode.l10n.t('Export Here'),
    title: withRun ? vscode.l10n.t("Export as PyTorch: model.py and train.py with the run's trained weights") : vscode.l10n.t('Export as PyTorch: model.py and train.py'),
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  const outDir = picked?.[0]?.fsPath;
  if (!outDir) return;
  const run = (overwrite: boolean) =>
    exportPytorch({ graphFile: withRun ? undefined : graph?.fsPath, runDir: withRun, outDir, overwrite, describeModels: (r) => tfjsTopologies(r, { env: workerEnv() }) });
  try {
    let done;
    try {
      done = await run(false);
    } catch (e) {
      if (!(e instanceof UserError) || !/already exists?/.test(e.message)) throw e;
      const replace = vscode.l10n.t('Replace');
      const answer = await vscode.window.showWarningMessage(vscode.l10n.t('{0}\nReplace them?', e.message), { modal: true }, replace);
      if (answer !== replace) return;
      done = await run(true);
    }
    log.appendLine(`Exported as PyTorch to ${done.outDir}: ${done.files.map((f) => path.basename(f)).join(', ')}`);
    for (const w of done.warnings) log.appendLine(`[export pytorch] ${w}`);
    const modelPy = done.files.find((f) => f.endsWith('model.py'));
    const openModel = vscode.l10n.t('Open model.py');
    const where = vscode.workspace.asRelativePath(done.outDir);
    const choice = await vscode.window.showInformationMessage(
      done.weights
        ? vscode.l10n.t('Exported {0} as PyTorch to {1} with {2} trained layers. Run `python train.py` there to train.', done.models.join(', '), where, done.weights)
        : vscode.l10n.t('Exported {0} as PyTorch to {1}. Run `python train.py` there to train.', done.models.join(', '), where),
      openModel,
    );
    if (choice === openModel && modelPy && fs.existsSync(modelPy)) await vscode.window.showTextDocument(vscode.Uri.file(modelPy));
  } catch (e) {
    log.appendLine(`[export pytorch] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    void showError(vscode.l10n.t('Export as PyTorch failed: {0}', e instanceof Error ? e.message : String(e)));
  }
}
