/**
 * The visual editor for `*.latent.json`: a CustomTextEditorProvider. The TextDocument is the truth;
 * the webview sends semantic edits, applied here through src/core and written back as the smallest
 * WorkspaceEdit, so undo/redo, save, dirty state, hot exit and git diffs all come from VS Code.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonText, serializeGraph } from '../core/canonical';
import { type GraphEdit, applyEdit } from '../core/edits';
import { DEFAULT_LAYOUT, type LayoutPrefs, LayoutPrefsSchema, type ToEditor, type ToHost, ToHostSchema } from '../core/editorProtocol';
import { createReceiver, webviewMessageLimit } from '../core/messages';
import { minimalReplacement } from '../core/textDiff';
import type { DatasetCards } from './datasetCards';
import { savePngAs } from './saveFile';
import { webviewHtml } from './webviewHtml';
import { showError } from './notify';

/** One open graph editor: how to message its webview, and whether its tab is in front. */
interface EditorView {
  readonly send: (m: ToEditor) => void;
  /** Absent for an editor that cannot tell (then it counts as neither active nor visible). */
  readonly panel?: Pick<vscode.WebviewPanel, 'active' | 'visible'>;
}

/**
 * What training tells open graph editors: the newest preview per Output block, whether the graph
 * is training and which stage. Editors opened later get the current state when their webview is
 * ready. Export Graph as PNG goes through here too, to the editor in front.
 */
export class EditorHub {
  private readonly editors = new Map<string, Set<EditorView>>();
  private readonly previews = new Map<string, Map<string, Extract<ToEditor, { type: 'preview' }>>>();
  private readonly running = new Set<string>();
  /** The stage training now per graph, once training said which. */
  private readonly stages = new Map<string, number>();

  /** Called by an editor's webview when it is ready; returns the unsubscribe function. */
  attach(uri: vscode.Uri, send: (m: ToEditor) => void, panel?: EditorView['panel']): () => void {
    const key = uri.toString();
    const set = this.editors.get(key) ?? new Set();
    const view: EditorView = { send, panel };
    set.add(view);
    this.editors.set(key, set);
    return () => set.delete(view);
  }

  /** Replay the state an editor missed while it was closed. */
  replay(uri: vscode.Uri, send: (m: ToEditor) => void): void {
    const key = uri.toString();
    for (const preview of this.previews.get(key)?.values() ?? []) send(preview);
    send(this.trainingMessage(key));
  }

  preview(uri: vscode.Uri, message: Extract<ToEditor, { type: 'preview' }>): void {
    const key = uri.toString();
    const byOutput = this.previews.get(key) ?? new Map();
    byOutput.set(message.outputId, message);
    this.previews.set(key, byOutput);
    this.post(key, message);
  }

  /**
   * Whether the graph trains, and which stage (index into its resolved stages) when known. Cheap to
   * call on every batch: editors hear only of a change.
   */
  setTraining(uri: vscode.Uri, running: boolean, stageIndex?: number): void {
    const key = uri.toString();
    const before = this.trainingMessage(key);
    if (running) {
      this.running.add(key);
      if (stageIndex !== undefined) this.stages.set(key, stageIndex);
    } else {
      this.running.delete(key);
      this.stages.delete(key);
    }
    const after = this.trainingMessage(key);
    if (before.running !== after.running || before.stageIndex !== after.stageIndex) this.post(key, after);
  }

  /**
   * Ask a graph editor to draw its graph (it answers with savePng): the one of `uri`, in front if it
   * has several; without a uri, the graph editor in front. False when there is none.
   */
  requestImage(uri?: vscode.Uri): boolean {
    const views = uri ? [...(this.editors.get(uri.toString()) ?? [])] : [...this.editors.values()].flatMap((set) => [...set]);
    const target = views.find((v) => v.panel?.active) ?? (uri ? (views.find((v) => v.panel?.visible) ?? views[0]) : undefined);
    target?.send({ type: 'exportImage' });
    return target !== undefined;
  }

  private trainingMessage(key: string): Extract<ToEditor, { type: 'training' }> {
    const running = this.running.has(key);
    const stageIndex = running ? this.stages.get(key) : undefined;
    return stageIndex === undefined ? { type: 'training', running } : { type: 'training', running, stageIndex };
  }

  /** A message for every open graph editor but `except` (the one it came from). */
  broadcast(message: ToEditor, except?: (m: ToEditor) => void): void {
    for (const set of this.editors.values()) for (const view of set) if (view.send !== except) view.send(message);
  }

  private post(key: string, message: ToEditor): void {
    for (const view of this.editors.get(key) ?? []) view.send(message);
  }
}

/** Where the palette and inspector go in this workspace's graph editors (the person's last choice). */
export const LAYOUT_KEY = 'latentStudio.editorLayout';

export function storedLayout(state: Pick<vscode.Memento, 'get'>): LayoutPrefs {
  const parsed = LayoutPrefsSchema.safeParse(state.get(LAYOUT_KEY));
  return parsed.success ? parsed.data : DEFAULT_LAYOUT;
}

/**
 * Latent Studio: Export Graph as PNG… — the graph editor draws the graph and sends it back as
 * `savePng` (see saveGraphPng). `uri` comes from the editor title menu; from the palette, the
 * graph editor in front is drawn.
 */
export function exportGraphImage(hub: EditorHub, uri?: unknown): void {
  const target = uri instanceof vscode.Uri ? uri : undefined;
  if (hub.requestImage(target)) return;
  void showError(
    target
      ? vscode.l10n.t('Open {0} in the Latent Studio graph editor, then export it as a PNG.', path.posix.basename(target.path))
      : vscode.l10n.t('Open a graph in the Latent Studio graph editor first: Export Graph as PNG draws the graph it shows.'),
  );
}

/** Where the picture of a graph goes by default: beside the graph file, `<name>.png` for `<name>.latent.json`. */
export function defaultPngLocation(graph: vscode.Uri, suggestedName: string, isUntitled: boolean): { folder: string; name: string } {
  if (isUntitled || graph.scheme !== 'file') {
    return { folder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir(), name: suggestedName };
  }
  const base = path.basename(graph.fsPath).replace(/\.latent\.json$/i, '').replace(/\.json$/i, '');
  return { folder: path.dirname(graph.fsPath), name: base ? `${base}.png` : suggestedName };
}

/** The webview's picture of the graph: VS Code's save dialog asks where (and before replacing a file), then "Saved …" offers Open. */
export async function saveGraphPng(document: vscode.TextDocument, message: Extract<ToHost, { type: 'savePng' }>, log: vscode.LogOutputChannel): Promise<void> {
  const where = defaultPngLocation(document.uri, message.name, document.isUntitled);
  try {
    const saved = await savePngAs(message.pngBase64, { ...where, title: 'Export Graph as PNG' });
    if (saved) log.appendLine(`[export] saved ${saved.toString()}`);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    log.appendLine(`[export] ${reason}`);
    void showError(vscode.l10n.t('The graph picture was not saved: {0}', reason));
  }
}

export class GraphEditorProvider implements vscode.CustomTextEditorProvider {
  static readonly viewType = 'latentStudio.graphEditor';

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly hub: EditorHub,
    private readonly cards: DatasetCards,
    /** The workspace's memento: the editors' layout (LAYOUT_KEY). */
    private readonly workspaceState: vscode.Memento,
  ) {}

  static register(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, hub: EditorHub, cards: DatasetCards): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(GraphEditorProvider.viewType, new GraphEditorProvider(context.extensionUri, log, hub, cards, context.workspaceState), {
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

    const detach = this.hub.attach(document.uri, send, panel);
    const receive = createReceiver(ToHostSchema, {
      from: 'graph editor',
      maxChars: webviewMessageLimit,
      log: (line) => this.log.appendLine(line),
      reject: (r) => send({ type: 'rejected', inReplyTo: r.inReplyTo, error: r.error }),
    });
    const sendCard = (): void => {
      const card = this.cards.card(document.uri);
      if (card) send({ type: 'datasetCard', card });
    };
    const subscriptions = [
      { dispose: detach },
      // Trusting the workspace (there is no way back without a reload) enables Train at once.
      vscode.workspace.onDidGrantWorkspaceTrust(() => send({ type: 'trust', trusted: true })),
      vscode.workspace.onDidChangeTextDocument((e) => {
        // The dataset card follows the change through GraphDiagnostics (every graph document).
        if (e.document.uri.toString() === document.uri.toString() && e.contentChanges.length > 0) sendDocument();
      }),
      this.cards.onDidChangeCard((e) => {
        if (e.uri.toString() === document.uri.toString()) send({ type: 'datasetCard', card: e.card });
      }),
      panel.webview.onDidReceiveMessage(async (raw: unknown) => {
        const message = receive(raw);
        if (!message) return;
        switch (message.type) {
          case 'ready':
            send({ type: 'layout', prefs: storedLayout(this.workspaceState) });
            send({ type: 'trust', trusted: vscode.workspace.isTrusted });
            sendDocument();
            this.hub.replay(document.uri, send);
            sendCard();
            this.cards.update(document, 0);
            break;
          case 'edit':
          case 'edits': {
            const error = await applyGraphEdits(document, message.type === 'edit' ? [message.edit] : message.edits);
            if (error) send({ type: 'editFailed', inReplyTo: message.id, message: error });
            else if (message.id !== undefined) send({ type: 'editApplied', inReplyTo: message.id });
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
          case 'savePng':
            await saveGraphPng(document, message, this.log);
            break;
          case 'layout':
            await this.workspaceState.update(LAYOUT_KEY, message.prefs);
            this.hub.broadcast({ type: 'layout', prefs: message.prefs }, send);
            break;
          case 'rejected':
            this.log.appendLine(`The graph editor of ${vscode.workspace.asRelativePath(document.uri)} could not accept a message: ${message.error}`);
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
