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

/**
 * What training tells open graph editors: the newest preview per Output block and whether the
 * graph is training. Editors opened later get the current state when their webview is ready.
 */
export class EditorHub {
  private readonly editors = new Map<string, Set<(m: ToEditor) => void>>();
  private readonly previews = new Map<string, Map<string, Extract<ToEditor, { type: 'preview' }>>>();
  private readonly running = new Set<string>();

  /** Called by an editor's webview when it is ready; returns the unsubscribe function. */
  attach(uri: vscode.Uri, send: (m: ToEditor) => void): () => void {
    const key = uri.toString();
    const set = this.editors.get(key) ?? new Set();
    set.add(send);
    this.editors.set(key, set);
    return () => set.delete(send);
  }

  /** Replay the state an editor missed while it was closed. */
  replay(uri: vscode.Uri, send: (m: ToEditor) => void): void {
    const key = uri.toString();
    for (const preview of this.previews.get(key)?.values() ?? []) send(preview);
    send({ type: 'training', running: this.running.has(key) });
  }

  preview(uri: vscode.Uri, message: Extract<ToEditor, { type: 'preview' }>): void {
    const key = uri.toString();
    const byOutput = this.previews.get(key) ?? new Map();
    byOutput.set(message.outputId, message);
    this.previews.set(key, byOutput);
    this.post(key, message);
  }

  setTraining(uri: vscode.Uri, running: boolean): void {
    const key = uri.toString();
    if (running) this.running.add(key);
    else this.running.delete(key);
    this.post(key, { type: 'training', running });
  }

  private post(key: string, message: ToEditor): void {
    for (const send of this.editors.get(key) ?? []) send(message);
  }
}

export class GraphEditorProvider implements vscode.CustomTextEditorProvider {
  static readonly viewType = 'latentStudio.graphEditor';

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.OutputChannel,
    private readonly hub: EditorHub,
  ) {}

  static register(context: vscode.ExtensionContext, log: vscode.OutputChannel, hub: EditorHub): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(GraphEditorProvider.viewType, new GraphEditorProvider(context.extensionUri, log, hub), {
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

    const detach = this.hub.attach(document.uri, send);
    const subscriptions = [
      { dispose: detach },
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
            this.hub.replay(document.uri, send);
            break;
          case 'edit':
          case 'edits': {
            const error = await applyGraphEdits(document, message.type === 'edit' ? [message.edit] : message.edits);
            if (error) send({ type: 'editFailed', message: error });
            break;
          }
          case 'openAsText':
            await vscode.commands.executeCommand('vscode.openWith', document.uri, 'default', panel.viewColumn);
            break;
          case 'train':
            await vscode.commands.executeCommand('latentStudio.trainModel', document.uri);
            break;
          case 'stop':
            await vscode.commands.executeCommand('latentStudio.stopTraining', document.uri);
            break;
          case 'newFromTemplate':
            await vscode.commands.executeCommand('latentStudio.newFromTemplate', document);
            break;
        }
      }),
    ];
    panel.onDidDispose(() => subscriptions.forEach((s) => s.dispose()));
  }
}

/** Apply edits to the document's JSON as one WorkspaceEdit (one undo step); returns a sentence when refused. */
export async function applyGraphEdits(document: vscode.TextDocument, edits: readonly GraphEdit[]): Promise<string | undefined> {
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
