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
    panel.webview.html = editorHtml(panel.webview, webviewRoot);

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

function nonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: 32 }, () => chars.charAt(Math.floor(Math.random() * chars.length))).join('');
}

function editorHtml(webview: vscode.Webview, root: vscode.Uri): string {
  const n = nonce();
  const asset = (file: string): string => webview.asWebviewUri(vscode.Uri.joinPath(root, file)).toString();
  // React Flow positions nodes with inline style attributes, hence 'unsafe-inline' for styles only.
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'unsafe-inline'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${asset('xyflow.css')}">
  <link rel="stylesheet" href="${asset('editor.css')}">
  <title>Latent Studio</title>
</head>
<body>
  <div id="root"></div>
  <script nonce="${n}" src="${asset('editor.js')}"></script>
</body>
</html>`;
}
