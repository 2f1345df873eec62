/**
 * "Select Dataset": the embedded MNIST / Fashion-MNIST, or an image folder, NumPy, CSV or IDX
 * files picked from disk. The
 * choice is written into the graph's `training.dataset` as an ordinary (undoable) edit; paths are
 * stored relative to the graph file when they are inside its workspace, so the graph stays portable.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonText } from '../core/canonical';
import { checkIdxHeader, parseDataSpec, siblingLabels, specPath } from '../data/spec';
import { applyGraphEdits } from './graphEditor';
import { showError } from './notify';

export async function selectDataset(graph: vscode.Uri | undefined): Promise<void> {
  if (!graph?.path.endsWith('.latent.json')) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Open a *.latent.json graph first: the dataset is part of the graph.'));
    return;
  }
  const document = await vscode.workspace.openTextDocument(graph);
  const parsed = parseJsonText(document.getText());
  const current =
    parsed.ok && typeof parsed.value === 'object' && parsed.value !== null && 'training' in parsed.value && typeof parsed.value.training === 'object' && parsed.value.training !== null && 'dataset' in parsed.value.training
      ? String(parsed.value.training.dataset)
      : undefined;
  const mark = (spec: string): string => (current?.toLowerCase() === spec ? vscode.l10n.t(' (current)') : '');
  const items = [
    { label: 'MNIST', description: vscode.l10n.t('10 000 handwritten digits, built in{0}', mark('mnist')), value: 'mnist' },
    { label: 'Fashion-MNIST', description: vscode.l10n.t('70 000 clothing images in 10 classes, built in{0}', mark('fashion-mnist')), value: 'fashion-mnist' },
    { label: vscode.l10n.t('Image folder…'), description: vscode.l10n.t('PNG / JPEG images, one subfolder per class (or none: unlabelled)'), value: 'folder' },
    { label: vscode.l10n.t('NumPy file…'), description: vscode.l10n.t('.npz (x_train, y_train, x_test, y_test or x, y) or .npy samples (and labels)'), value: 'numpy' },
    { label: vscode.l10n.t('CSV file…'), description: vscode.l10n.t('a table (named feature columns, a label column) or one column per pixel'), value: 'csv' },
    { label: vscode.l10n.t('IDX files…'), description: vscode.l10n.t('MNIST-style train-images-idx3-ubyte(.gz) and its labels file'), value: 'idx' },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('Dataset for {0}', path.basename(graph.fsPath)),
    placeHolder: current ? vscode.l10n.t('Now: {0}', current) : vscode.l10n.t('Pick a dataset'),
  });
  if (!pick) return;
  const root = vscode.workspace.getWorkspaceFolder(graph)?.uri.fsPath;
  const defaultUri = vscode.Uri.file(path.dirname(graph.fsPath));
  let spec = pick.value;
  if (pick.value === 'idx') {
    const images = await vscode.window.showOpenDialog({ title: 'IDX images file', openLabel: 'Use Images', defaultUri, filters: { 'IDX images': ['*ubyte', 'gz', 'idx3'], 'All files': ['*'] } });
    const imagesFile = images?.[0]?.fsPath;
    if (!imagesFile) return;
    let labelsFile = siblingLabels(imagesFile);
    if (!labelsFile) {
      const labels = await vscode.window.showOpenDialog({ title: 'IDX labels file (cancel for none: autoencoders need no labels)', openLabel: 'Use Labels', defaultUri: vscode.Uri.file(path.dirname(imagesFile)) });
      labelsFile = labels?.[0]?.fsPath;
    }
    const problem = checkIdxHeader(imagesFile, 3) ?? (labelsFile ? checkIdxHeader(labelsFile, 1) : undefined);
    if (problem) {
      void showError(problem);
      return;
    }
    spec = `idx:${specPath(imagesFile, graph.fsPath, root)}${labelsFile ? `,${specPath(labelsFile, graph.fsPath, root)}` : ''}`;
  } else if (pick.value === 'folder') {
    const folders = await vscode.window.showOpenDialog({ title: 'Image folder (each subfolder a class)', openLabel: 'Use Folder', defaultUri, canSelectFiles: false, canSelectFolders: true });
    const folder = folders?.[0]?.fsPath;
    if (!folder) return;
    spec = `folder:${specPath(folder, graph.fsPath, root)}`;
  } else if (pick.value === 'numpy') {
    const files = await vscode.window.showOpenDialog({ title: 'NumPy file: .npz, or the .npy of the samples', openLabel: 'Use File', defaultUri, filters: { NumPy: ['npz', 'npy'], 'All files': ['*'] } });
    const file = files?.[0]?.fsPath;
    if (!file) return;
    if (/\.npz$/i.test(file)) spec = `npz:${specPath(file, graph.fsPath, root)}`;
    else {
      const labels = await vscode.window.showOpenDialog({ title: 'The .npy of the labels (cancel for none: autoencoders need no labels)', openLabel: 'Use Labels', defaultUri: vscode.Uri.file(path.dirname(file)), filters: { NumPy: ['npy'] } });
      const labelsFile = labels?.[0]?.fsPath;
      spec = `npy:${specPath(file, graph.fsPath, root)}${labelsFile ? `,${specPath(labelsFile, graph.fsPath, root)}` : ''}`;
    }
  } else if (pick.value === 'csv') {
    const files = await vscode.window.showOpenDialog({ title: 'CSV file', openLabel: 'Use CSV', defaultUri, filters: { CSV: ['csv'], 'All files': ['*'] } });
    const file = files?.[0]?.fsPath;
    if (!file) return;
    spec = `csv:${specPath(file, graph.fsPath, root)}`;
  }
  // The same parser training uses: a spec written here always reads back.
  parseDataSpec(spec, path.dirname(graph.fsPath));
  const error = await applyGraphEdits(document, [{ kind: 'setTraining', path: ['dataset'], value: spec }]);
  if (error) void showError(vscode.l10n.t('Could not set the dataset: {0}', error));
  else void vscode.window.setStatusBarMessage(vscode.l10n.t('Dataset of {0}: {1}', path.basename(graph.fsPath), spec), 5000);
}
