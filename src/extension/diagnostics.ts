/** Problems of open `*.latent.json` documents in the Problems panel, pointing at the JSON they concern. */
import * as vscode from 'vscode';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { locatePath } from '../core/jsonPosition';
import type { DatasetCards } from './datasetCards';

export const isGraphDocument = (doc: vscode.TextDocument): boolean => doc.uri.path.endsWith('.latent.json');

export class GraphDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('latent-studio');
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly cards: DatasetCards) {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.update(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.update(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => {
        this.collection.delete(d.uri);
        cards.forget(d.uri);
      }),
      cards.onDidChangeCard((e) => {
        const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === e.uri.toString());
        if (doc) this.update(doc);
      }),
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
    this.cards.update(doc);
    const analysis = analyzeGraph(parsed.value);
    const card = this.cards.card(doc.uri);
    // The dataset's problem (it cannot be read, or does not fit the Input) as the Input block's, on training.dataset.
    const datasetProblems = card?.problem ? [{ severity: 'error' as const, message: card.problem, path: ['training', 'dataset'], nodeId: analysis.inputId }] : [];
    const diagnostics = [...analysis.problems, ...datasetProblems].map((p) => {
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
