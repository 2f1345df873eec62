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

export async function selectDataset(graph: vscode.Uri | undefined): Promise<void> {
  if (!graph?.path.endsWith('.latent.json')) {
    void vscode.window.showWarningMessage('Open a *.latent.json graph first: the dataset is part of the graph.');
    return;
  }
  const document = await vscode.workspace.openTextDocument(graph);
  const parsed = parseJsonText(document.getText());
  const current =
    parsed.ok && typeof parsed.value === 'object' && parsed.value !== null && 'training' in parsed.value && typeof parsed.value.training === 'object' && parsed.value.training !== null && 'dataset' in parsed.value.training
      ? String(parsed.value.training.dataset)
      : undefined;
  const mark = (spec: string): string => (current?.toLowerCase() === spec ? ' (current)' : '');
  const items = [
    { label: 'MNIST', description: `10 000 handwritten digits, built in${mark('mnist')}`, value: 'mnist' },
    { label: 'Fashion-MNIST', description: `70 000 clothing images in 10 classes, built in${mark('fashion-mnist')}`, value: 'fashion-mnist' },
    { label: 'Image folder…', description: 'PNG / JPEG images, one subfolder per class (or none: unlabelled)', value: 'folder' },
    { label: 'NumPy file…', description: '.npz (x_train, y_train, x_test, y_test or x, y) or .npy samples (and labels)', value: 'numpy' },
    { label: 'CSV file…', description: 'a table (named feature columns, a label column) or one column per pixel', value: 'csv' },
    { label: 'IDX files…', description: 'MNIST-style train-images-idx3-ubyte(.gz) and its labels file', value: 'idx' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: `Dataset for ${path.basename(graph.fsPath)}`, placeHolder: current ? `Now: ${current}` : 'Pick a dataset' });
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
      void vscode.window.showErrorMessage(problem);
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
  if (error) void vscode.window.showErrorMessage(`Could not set the dataset: ${error}`);
  else void vscode.window.setStatusBarMessage(`Dataset of ${path.basename(graph.fsPath)}: ${spec}`, 5000);
}
