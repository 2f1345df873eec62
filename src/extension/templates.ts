/** "New Model from Template…": every sample graph, written to a new file or into an empty one. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonText, serializeGraph } from '../core/canonical';
import { formatDataSpec, parseDataSpec } from '../data/spec';

/**
 * The template's text with a relative dataset path ("csv:data/table.csv", beside the sample) made
 * absolute, so the new graph reads the sample's data wherever it is saved.
 */
export function anchorDatasetPaths(text: string, templateDir: string): string {
  const parsed = parseJsonText(text);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return text;
  const doc = parsed.value as { training?: { dataset?: unknown } };
  const spec = doc.training?.dataset;
  if (typeof spec !== 'string' || !spec.includes(':')) return text;
  try {
    // The parser training uses resolves the paths against the template's folder.
    doc.training!.dataset = formatDataSpec(parseDataSpec(spec, templateDir)).split(path.sep).join('/');
  } catch {
    return text;
  }
  return serializeGraph(doc as Record<string, unknown>);
}

interface Template {
  readonly label: string;
  readonly description: string;
  readonly detail: string;
  readonly uri: vscode.Uri;
  readonly fileName: string;
}

async function readTemplates(extensionUri: vscode.Uri): Promise<Template[]> {
  const dir = vscode.Uri.joinPath(extensionUri, 'samples');
  const entries = await vscode.workspace.fs.readDirectory(dir);
  const templates: Template[] = [];
  for (const [name] of entries.filter(([n]) => n.endsWith('.latent.json')).sort()) {
    const uri = vscode.Uri.joinPath(dir, name);
    const parsed = parseJsonText(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));
    const value = parsed.ok && typeof parsed.value === 'object' && parsed.value !== null ? (parsed.value as Record<string, unknown>) : {};
    templates.push({
      label: typeof value.name === 'string' ? value.name : name,
      description: name,
      detail: typeof value.description === 'string' ? value.description : '',
      uri,
      fileName: name,
    });
  }
  return templates;
}

/** Pick a template; fill `target` when it is an empty graph file, otherwise ask where to save a new one. */
export async function newFromTemplate(extensionUri: vscode.Uri, target?: vscode.TextDocument): Promise<void> {
  const templates = await readTemplates(extensionUri);
  const pick = await vscode.window.showQuickPick(templates, { title: 'New model from template', placeHolder: 'Pick the tutorial model to start from', matchOnDetail: true });
  if (!pick) return;
  const text = anchorDatasetPaths(new TextDecoder().decode(await vscode.workspace.fs.readFile(pick.uri)), path.dirname(pick.uri.fsPath));
  if (target && target.getText().trim() === '') {
    const edit = new vscode.WorkspaceEdit();
    edit.replace(target.uri, new vscode.Range(0, 0, target.lineCount, 0), text);
    await vscode.workspace.applyEdit(edit);
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const destination = await vscode.window.showSaveDialog({
    title: 'Save the new graph',
    defaultUri: folder ? vscode.Uri.joinPath(folder, pick.fileName) : undefined,
    filters: { 'Latent Studio graph': ['latent.json'] },
  });
  if (!destination) return;
  try {
    await vscode.workspace.fs.stat(destination);
    const answer = await vscode.window.showWarningMessage(`${vscode.workspace.asRelativePath(destination)} exists. Replace it?`, { modal: true }, 'Replace');
    if (answer !== 'Replace') return;
  } catch {
    // Does not exist yet: nothing of the user's is overwritten.
  }
  await vscode.workspace.fs.writeFile(destination, new TextEncoder().encode(text));
  await vscode.commands.executeCommand('vscode.openWith', destination, 'latentStudio.graphEditor');
}
