/** "Latent Studio: Show Model Summary": the Keras-style table of the active graph in an output channel. */
import * as vscode from 'vscode';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { formatProblem } from '../core/problems';
import { formatSummaryTable, summarize } from '../core/summary';
import { isGraphDocument } from './diagnostics';

export async function showModelSummary(channel: vscode.OutputChannel, uri: vscode.Uri | undefined): Promise<void> {
  const doc = uri ? await vscode.workspace.openTextDocument(uri) : undefined;
  if (!doc || !isGraphDocument(doc)) {
    void vscode.window.showWarningMessage('Open a *.latent.json graph to see its summary.');
    return;
  }
  const parsed = parseJsonText(doc.getText());
  if (!parsed.ok) {
    void vscode.window.showErrorMessage(`${vscode.workspace.asRelativePath(doc.uri)}:${parsed.error.line}:${parsed.error.column}: ${parsed.error.message}`);
    return;
  }
  const analysis = analyzeGraph(parsed.value);
  channel.clear();
  const errors = analysis.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    channel.appendLine(`${errors.length} problem(s) keep this graph from compiling:`);
    for (const p of errors) channel.appendLine(`  ${formatProblem(p)}`);
  } else channel.appendLine(formatSummaryTable(summarize(analysis)));
  channel.show(true);
}
