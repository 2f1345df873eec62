/**
 * "Import Model (TensorFlow.js, Keras)…": a model.json, .keras or .h5 file picked (or the
 * model.json open in the editor) becomes a graph file beside it with its weights as the starting
 * point (src/run/importModel.ts), opened in the graph editor.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { UserError } from '../core/errors';
import { importModel } from '../run/importModel';
import { showError } from './notify';

/**
 * `evaluateAsImported` (trusted workspaces only: it runs the model) scores the graph's starting
 * weights untrained (a run of 0 epochs) and evaluates that run on the test split.
 */
export async function importModelCommand(log: vscode.LogOutputChannel, target?: vscode.Uri, evaluateAsImported?: (graph: vscode.Uri) => Promise<void>): Promise<void> {
  const fromEditor = target ?? vscode.window.activeTextEditor?.document.uri;
  let model = fromEditor && /(\.json|\.keras|\.h5|\.hdf5)$/i.test(fromEditor.path) && !fromEditor.path.endsWith('.latent.json') ? fromEditor : undefined;
  if (!model) {
    const picked = await vscode.window.showOpenDialog({
      title: vscode.l10n.t('Import a model: a TensorFlow.js model.json, a Keras .keras or .h5 file'),
      openLabel: vscode.l10n.t('Import'),
      canSelectMany: false,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      filters: { [vscode.l10n.t('Models')]: ['json', 'keras', 'h5', 'hdf5'] },
    });
    model = picked?.[0];
  }
  if (!model) return;
  const base = path.basename(model.fsPath).replace(/\.(json|keras|h5|hdf5)$/i, '');
  const name = base === 'model' ? path.basename(path.dirname(model.fsPath)) : base;
  const destination = await vscode.window.showSaveDialog({
    title: vscode.l10n.t('Save the imported graph'),
    defaultUri: vscode.Uri.file(path.join(path.dirname(model.fsPath), `${name}.latent.json`)),
    filters: { [vscode.l10n.t('Latent Studio graph')]: ['json'] },
  });
  if (!destination) return;
  const run = (overwrite: boolean) => importModel({ model: model.fsPath, out: destination.fsPath, overwrite });
  try {
    let done;
    try {
      done = await run(false);
    } catch (e) {
      if (!(e instanceof UserError) || !/already exists: /.test(e.message)) throw e;
      const replace = vscode.l10n.t('Replace');
      if ((await vscode.window.showWarningMessage(vscode.l10n.t('{0}\nReplace it?', e.message), { modal: true }, replace)) !== replace) return;
      done = await run(true);
    }
    log.info(`Imported ${model.fsPath} as ${done.graphFile} (${done.blocks} blocks, ${done.params} params); its weights: ${done.weightsDir}`);
    for (const s of done.skipped) log.warn(`left out: ${s}`);
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(done.graphFile), 'latentStudio.graphEditor');
    const evaluate = vscode.l10n.t('Evaluate As Imported');
    const actions = evaluateAsImported && vscode.workspace.isTrusted ? [evaluate] : [];
    const graph = vscode.Uri.file(done.graphFile);
    void vscode.window
      .showInformationMessage(
        vscode.l10n.t('Imported {0}: {1} blocks, {2} parameters. Training starts from its weights ({3}).', path.basename(model.fsPath), done.blocks, done.params.toLocaleString('en-US'), path.basename(done.weightsDir)),
        ...actions,
      )
      .then((choice) => (choice === evaluate && evaluateAsImported ? evaluateAsImported(graph) : undefined));
  } catch (e) {
    void showError(vscode.l10n.t('Import failed: {0}', e instanceof Error ? e.message : String(e)));
  }
}
