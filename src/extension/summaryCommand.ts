/**
 * "Latent Studio: Show Model Summary": in an output channel, the Keras-style table of each model
 * the graph names (autoencoder, encoder, decoder, classifier), each counted trainable as the stage
 * that trains it trains it (its frozen blocks non-trainable), then the whole graph's.
 */
import * as vscode from 'vscode';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { formatProblem } from '../core/problems';
import { formatSummaryTable, summarize, summarizeModel } from '../core/summary';
import { resolveStages } from '../core/stages';
import { isGraphDocument } from './diagnostics';
import { showError } from './notify';

export async function showModelSummary(channel: vscode.LogOutputChannel, uri: vscode.Uri | undefined): Promise<void> {
  const doc = uri ? await vscode.workspace.openTextDocument(uri) : undefined;
  if (!doc || !isGraphDocument(doc)) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Open a *.latent.json graph to see its summary.'));
    return;
  }
  const parsed = parseJsonText(doc.getText());
  if (!parsed.ok) {
    void showError(`${vscode.workspace.asRelativePath(doc.uri)}:${parsed.error.line}:${parsed.error.column}: ${parsed.error.message}`);
    return;
  }
  const analysis = analyzeGraph(parsed.value);
  channel.clear();
  const errors = analysis.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    channel.appendLine(`${errors.length} problem(s) keep this graph from compiling:`);
    for (const p of errors) channel.appendLine(`  ${formatProblem(p)}`);
  } else {
    const stages = resolveStages(analysis);
    for (const model of analysis.models) {
      // The last stage that trains this model's Output, if any: its freezing decides what is trainable.
      const stage = model.outputId ? stages.filter((s) => s.outputId === model.outputId && s.kind === 'fit').at(-1) : undefined;
      channel.appendLine(formatSummaryTable(summarizeModel(analysis, model.name, stages.length > 1 ? stage?.name : undefined)));
      channel.appendLine('');
    }
    // The whole graph last: the Output view shows the end of the channel.
    channel.appendLine(formatSummaryTable(summarize(analysis)));
  }
  channel.show(true);
}
