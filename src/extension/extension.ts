/** Activation: wiring only (DESIGN.md: a thin extension.ts). */
import * as vscode from 'vscode';
import { GraphDiagnostics } from './diagnostics';
import { showModelSummary } from './summaryCommand';

export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel('Latent Studio');
  context.subscriptions.push(
    channel,
    new GraphDiagnostics(),
    vscode.commands.registerCommand('latentStudio.showModelSummary', () => showModelSummary(channel)),
  );
}

export function deactivate(): void {}
