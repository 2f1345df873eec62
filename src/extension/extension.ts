/** Activation: wiring only (DESIGN.md: a thin extension.ts). */
import * as vscode from 'vscode';
import { GraphDiagnostics } from './diagnostics';
import { GraphEditorProvider } from './graphEditor';
import { showModelSummary } from './summaryCommand';
import { newFromTemplate } from './templates';

export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel('Latent Studio');
  const activeGraphUri = (uri?: vscode.Uri): vscode.Uri | undefined => uri ?? vscode.window.activeTextEditor?.document.uri ?? activeTabUri();
  context.subscriptions.push(
    channel,
    new GraphDiagnostics(),
    GraphEditorProvider.register(context, channel),
    vscode.commands.registerCommand('latentStudio.showModelSummary', (uri?: vscode.Uri) => showModelSummary(channel, activeGraphUri(uri))),
    vscode.commands.registerCommand('latentStudio.newFromTemplate', (target?: vscode.TextDocument) => newFromTemplate(context.extensionUri, target)),
    vscode.commands.registerCommand('latentStudio.openAsText', (uri?: vscode.Uri) => {
      const target = activeGraphUri(uri);
      if (target) return vscode.commands.executeCommand('vscode.openWith', target, 'default');
    }),
    vscode.commands.registerCommand('latentStudio.openGraphEditor', (uri?: vscode.Uri) => {
      const target = activeGraphUri(uri);
      if (target) return vscode.commands.executeCommand('vscode.openWith', target, GraphEditorProvider.viewType);
    }),
  );
}

/** The resource of the active tab, for custom editors (which have no activeTextEditor). */
function activeTabUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
}

export function deactivate(): void {}
