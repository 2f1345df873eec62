/** Problems of open `*.latent.json` documents in the Problems panel, pointing at the JSON they concern. */
import * as vscode from 'vscode';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { locatePath } from '../core/jsonPosition';

export const isGraphDocument = (doc: vscode.TextDocument): boolean => doc.uri.path.endsWith('.latent.json');

export class GraphDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('latent-studio');
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor() {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.update(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.update(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => this.collection.delete(d.uri)),
    );
    for (const doc of vscode.workspace.textDocuments) this.update(doc);
  }

  update(doc: vscode.TextDocument): void {
    if (!isGraphDocument(doc)) return;
    const text = doc.getText();
    const parsed = parseJsonText(text);
    if (!parsed.ok) {
      // JSON syntax errors are already reported by VS Code's JSON language service.
      this.collection.set(doc.uri, []);
      return;
    }
    const diagnostics = analyzeGraph(parsed.value).problems.map((p) => {
      const range = locatePath(text, p.path);
      const d = new vscode.Diagnostic(
        new vscode.Range(doc.positionAt(range.offset), doc.positionAt(range.offset + range.length)),
        p.message,
        p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
      );
      d.source = 'Latent Studio';
      if (p.nodeId) d.code = p.nodeId;
      return d;
    });
    this.collection.set(doc.uri, diagnostics);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.collection.dispose();
  }
}
