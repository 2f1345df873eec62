/**
 * The visual editor for `*.latent.json`: a CustomTextEditorProvider. The TextDocument is the truth;
 * the webview sends semantic edits, applied here through src/core and written back as the smallest
 * WorkspaceEdit, so undo/redo, save, dirty state, hot exit and git diffs all come from VS Code.
 */
import * as vscode from 'vscode';
import { parseJsonText, serializeGraph } from '../core/canonical';
import { type GraphEdit, applyEdit } from '../core/edits';
import { type ToEditor, parseToHost } from '../core/editorProtocol';
import { minimalReplacement } from '../core/textDiff';
import { webviewHtml } from './webviewHtml';

export class GraphEditorProvider implements vscode.CustomTextEditorProvider {
  static readonly viewType = 'latentStudio.graphEditor';

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.OutputChannel,
  ) {}

  static register(context: vscode.ExtensionContext, log: vscode.OutputChannel): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(GraphEditorProvider.viewType, new GraphEditorProvider(context.extensionUri, log), {
      webviewOptions: { retainContextWhenHidden: true },
      supportsMultipleEditorsPerDocument: true,
    });
  }

  resolveCustomTextEditor(document: vscode.TextDocument, panel: vscode.WebviewPanel): void {
    const webviewRoot = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    panel.webview.options = { enableScripts: true, localResourceRoots: [webviewRoot] };
    panel.webview.html = webviewHtml(panel.webview, webviewRoot, { title: 'Latent Studio', script: 'editor.js', styles: ['xyflow.css', 'editor.css'] });

    const send = (message: ToEditor): void => void panel.webview.postMessage(message);
    const sendDocument = (): void =>
      send({ type: 'document', text: document.getText(), version: document.version, fileName: vscode.workspace.asRelativePath(document.uri) });

    const subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.toString() === document.uri.toString() && e.contentChanges.length > 0) sendDocument();
      }),
      panel.webview.onDidReceiveMessage(async (raw: unknown) => {
        const parsed = parseToHost(raw);
        if (!parsed.ok) {
          this.log.appendLine(parsed.error);
          return;
        }
        const message = parsed.message;
        switch (message.type) {
          case 'ready':
            sendDocument();
            break;
          case 'edit':
          case 'edits': {
            const error = await this.applyEdits(document, message.type === 'edit' ? [message.edit] : message.edits);
            if (error) send({ type: 'editFailed', message: error });
            break;
          }
          case 'openAsText':
            await vscode.commands.executeCommand('vscode.openWith', document.uri, 'default', panel.viewColumn);
            break;
          case 'train':
            await vscode.commands.executeCommand('latentStudio.trainModel', document.uri);
            break;
          case 'newFromTemplate':
            await vscode.commands.executeCommand('latentStudio.newFromTemplate', document);
            break;
        }
      }),
    ];
    panel.onDidDispose(() => subscriptions.forEach((s) => s.dispose()));
  }

  /** Apply edits to the document's JSON as one WorkspaceEdit; returns a sentence when refused. */
  private async applyEdits(document: vscode.TextDocument, edits: readonly GraphEdit[]): Promise<string | undefined> {
    const text = document.getText();
    const parsed = parseJsonText(text);
    if (!parsed.ok) return `The file is not valid JSON (line ${parsed.error.line}, column ${parsed.error.column}); fix it as text first.`;
    if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) return 'The file does not hold a graph object.';
    let doc = parsed.value as Record<string, unknown>;
    for (const edit of edits) {
      const result = applyEdit(doc, edit);
      if (!result.ok) return result.error;
      doc = result.document;
    }
    const replacement = minimalReplacement(text, serializeGraph(doc));
    if (!replacement) return undefined;
    const workspaceEdit = new vscode.WorkspaceEdit();
    workspaceEdit.replace(document.uri, new vscode.Range(document.positionAt(replacement.start), document.positionAt(replacement.end)), replacement.text);
    const applied = await vscode.workspace.applyEdit(workspaceEdit);
    return applied ? undefined : 'VS Code did not accept the edit (is the file read-only?).';
  }
}
