/**
 * Saving what a webview drew (a chart, a picture, the graph) or a table the user exports: VS Code's
 * save dialog asks where (and asks before replacing a file), then the bytes are written and the
 * file can be opened from the notification.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { showError } from './notify';

export interface SaveOptions {
  /** Folder the dialog opens in, and the suggested file name. */
  readonly folder: string;
  readonly name: string;
  readonly title: string;
  readonly filters: Record<string, string[]>;
}

/** Ask where, write, confirm; returns the file written or undefined when the user cancelled. */
export async function saveBytesAs(bytes: Uint8Array, options: SaveOptions): Promise<vscode.Uri | undefined> {
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(options.folder, options.name)),
    filters: options.filters,
    title: options.title,
    saveLabel: 'Save',
  });
  if (!target) return undefined;
  try {
    await vscode.workspace.fs.writeFile(target, bytes);
  } catch (e) {
    void showError(vscode.l10n.t('Could not save {0}: {1}', target.fsPath, e instanceof Error ? e.message : String(e)));
    return undefined;
  }
  const open = vscode.l10n.t('Open');
  void vscode.window.showInformationMessage(vscode.l10n.t('Saved {0}.', vscode.workspace.asRelativePath(target)), open).then((choice) => {
    if (choice) void vscode.commands.executeCommand('vscode.open', target, { preview: false });
  });
  return target;
}

/** A PNG sent by a webview as base64: checked for the PNG signature before it is written. */
export function pngBytes(base64: string): Uint8Array | undefined {
  const bytes = Buffer.from(base64, 'base64');
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes.length > signature.length && signature.every((b, i) => bytes[i] === b) ? bytes : undefined;
}

export function savePngAs(base64: string, options: Omit<SaveOptions, 'filters'>): Promise<vscode.Uri | undefined> {
  const bytes = pngBytes(base64);
  if (!bytes) {
    void showError(vscode.l10n.t('{0}: the picture sent by the view is not a PNG; nothing was saved.', options.name));
    return Promise.resolve(undefined);
  }
  return saveBytesAs(bytes, { ...options, filters: { 'PNG image': ['png'] } });
}
