/** "New Model from Template…": every sample graph, written to a new file or into an empty one. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonText, serializeGraph } from '../core/canonical';
import { formatDataSpec, parseDataSpec } from '../data/spec';
import { graphFileName } from '../core/fileNames';

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

function graphFileUri(uri: vscode.Uri): vscode.Uri {
  const name = path.posix.basename(uri.path);
  return vscode.Uri.joinPath(uri, '..', graphFileName(name));
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

/**
 * Pick a template; fill `target` when it is an empty graph file, otherwise ask where to save a new
 * one. `target` may instead name a template file (`"dense-autoencoder.latent.json"`, as the
 * walkthrough's links do): then that one is taken without asking.
 */
export async function newFromTemplate(extensionUri: vscode.Uri, target?: vscode.TextDocument | string): Promise<void> {
  const templates = await readTemplates(extensionUri);
  const named = typeof target === 'string' ? templates.find((t) => t.fileName === target) : undefined;
  const pick =
    named ??
    (await vscode.window.showQuickPick(templates, { title: vscode.l10n.t('New model from template'), placeHolder: vscode.l10n.t('Pick the tutorial model to start from'), matchOnDetail: true }));
  if (!pick) return;
  const text = anchorDatasetPaths(new TextDecoder().decode(await vscode.workspace.fs.readFile(pick.uri)), path.dirname(pick.uri.fsPath));
  if (typeof target === 'object' && 'getText' in target && target.getText().trim() === '') {
    const edit = new vscode.WorkspaceEdit();
    edit.replace(target.uri, new vscode.Range(0, 0, target.lineCount, 0), text);
    await vscode.workspace.applyEdit(edit);
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const picked = await vscode.window.showSaveDialog({
    title: vscode.l10n.t('Save the new graph'),
    defaultUri: folder ? vscode.Uri.joinPath(folder, pick.fileName) : undefined,
    // "json", not "latent.json": file dialogs take the part after the last dot as the extension and
    // would append ".latent.json" to "x.latent.json" (code-server's does); graphFileUri adds it instead.
    filters: { [vscode.l10n.t('Latent Studio graph')]: ['json'] },
  });
  if (!picked) return;
  const destination = graphFileUri(picked);
  try {
    await vscode.workspace.fs.stat(destination);
    const replace = vscode.l10n.t('Replace');
    const answer = await vscode.window.showWarningMessage(vscode.l10n.t('{0} exists. Replace it?', vscode.workspace.asRelativePath(destination)), { modal: true }, replace);
    if (answer !== replace) return;
  } catch {
    // Does not exist yet: nothing of the user's is overwritten.
  }
  await vscode.workspace.fs.writeFile(destination, new TextEncoder().encode(text));
  await vscode.commands.executeCommand('vscode.openWith', destination, 'latentStudio.graphEditor');
}
