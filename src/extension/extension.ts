/** Activation: wiring only (DESIGN.md: a thin extension.ts). */
import * as vscode from 'vscode';
import { exportAsPytorch } from './pytorchCommands';
import { registerReportDocuments, selectBackend, showBackendInfo } from './backendCommands';
import { GraphDiagnostics } from './diagnostics';
import { InspectCommands } from './inspectCommands';
import { selectDataset } from './datasetCommand';
import { DatasetCards } from './datasetCards';
import { EditorHub, GraphEditorProvider, exportGraphImage } from './graphEditor';
import { RunCommands, type RunTarget } from './runCommands';
import { showModelSummary } from './summaryCommand';
import { RunsView } from './runsView';
import { newFromTemplate } from './templates';
import { TrainingController } from './training';
import { TrainingPanel } from './trainingPanel';
import { requireTrust, trusted } from './trust';
import { createLog } from './notify';
import { importModelCommand } from './importCommand';

export function activate(context: vscode.ExtensionContext): void {
  const channel = createLog();
  const activeGraphUri = (uri?: vscode.Uri): vscode.Uri | undefined => uri ?? vscode.window.activeTextEditor?.document.uri ?? activeTabUri();
  /** Train and Export as PyTorch with no graph in front (the walkthrough's buttons): the one graph open is meant. */
  const graphToRun = (uri?: vscode.Uri): vscode.Uri | undefined => {
    const target = activeGraphUri(uri);
    return target?.path.endsWith('.latent.json') || uri ? target : (visibleGraphUri() ?? target);
  };
  const panel = new TrainingPanel(context.extensionUri, channel);
  const editors = new EditorHub();
  const cards = new DatasetCards(channel);
  const training = new TrainingController(panel, channel, editors);
  const runs = new RunCommands(training, panel, channel, () => activeGraphUri());
  panel.onDidRequestCommand(({ command, runDir }) => {
    const target = runDir ?? undefined;
    if (command !== 'compare' && !requireTrust(REQUEST_WHAT[command])) return;
    if (command === 'evaluate') void runs.evaluate(target);
    if (command === 'export') void runs.export(target);
    if (command === 'resume') void runs.resume(target);
    if (command === 'compare') void runs.compare(target);
    if (command === 'generate') void runs.generate(target);
  });
  const inspect = new InspectCommands(panel, channel, () => activeGraphUri());
  const graphUri = (uri?: vscode.Uri): vscode.Uri | undefined => {
    const target = graphToRun(uri);
    if (target?.path.endsWith('.latent.json')) return target;
    void vscode.window.showWarningMessage(vscode.l10n.t('Open a *.latent.json graph first.'));
    return undefined;
  };
  context.subscriptions.push(
    channel,
    panel,
    training,
    new RunsView(panel),
    vscode.commands.registerCommand('latentStudio.trainModel', trusted('Training', (uri?: vscode.Uri) => {
      const target = graphUri(uri);
      if (target) return training.train(target);
    })),
    vscode.commands.registerCommand('latentStudio.stopTraining', (uri?: vscode.Uri) => training.stop(activeGraphUri(uri))),
    vscode.commands.registerCommand('latentStudio.resumeTraining', trusted('Resuming a run', (target?: RunTarget) => runs.resume(target))),
    vscode.commands.registerCommand('latentStudio.evaluateModel', trusted('Evaluation', (target?: RunTarget) => runs.evaluate(target))),
    vscode.commands.registerCommand('latentStudio.exportModel', trusted('Export', (target?: RunTarget) => runs.export(target))),
    vscode.commands.registerCommand('latentStudio.exportPytorch', trusted('Export as PyTorch', (target?: RunTarget) => exportAsPytorch(channel, target instanceof vscode.Uri ? target : graphToRun(undefined), typeof target === 'object' && target !== null && 'runDir' in target ? target.runDir : undefined))),
    vscode.commands.registerCommand('latentStudio.compareRuns', (target?: RunTarget) => runs.compare(target)),
    vscode.commands.registerCommand('latentStudio.generateSamples', trusted('Generating samples', (target?: RunTarget) => runs.generate(target))),
    vscode.commands.registerCommand('latentStudio.scoreAnomalies', trusted('Scoring anomalies', (target?: RunTarget) => inspect.command('score', target))),
    vscode.commands.registerCommand('latentStudio.predict', trusted('Predicting', (target?: RunTarget) => inspect.command('predict', target))),
    vscode.commands.registerCommand('latentStudio.showWeights', trusted('Showing weights', (target?: RunTarget) => inspect.command('weights', target))),
    vscode.commands.registerCommand('latentStudio.showFeatureMaps', trusted('Showing feature maps', (target?: RunTarget) => inspect.command('features', target))),
    vscode.commands.registerCommand('latentStudio.showLatentSpace', trusted('Showing the latent space', (target?: RunTarget) => inspect.command('latent', target))),
    // No trust needed: our own readers parse the files; nothing of the workspace runs.
    vscode.commands.registerCommand('latentStudio.importModel', (uri?: vscode.Uri) =>
      importModelCommand(channel, uri instanceof vscode.Uri ? uri : undefined, async (graph) => {
        // The imported model as it is: a run of 0 epochs holds its weights, then the test split scores them.
        const runDir = await training.train(graph, undefined, { epochs: 0 });
        if (runDir) await runs.evaluate(runDir);
      }),
    ),
    vscode.commands.registerCommand('latentStudio.exportGraphImage', (uri?: unknown) => exportGraphImage(editors, uri)),
    vscode.commands.registerCommand('latentStudio.selectDataset', (uri?: vscode.Uri) => selectDataset(activeGraphUri(uri))),
    vscode.commands.registerCommand('latentStudio.showTrainingPanel', () => panel.reveal()),
    registerReportDocuments(),
    vscode.commands.registerCommand('latentStudio.selectBackend', selectBackend),
    vscode.commands.registerCommand('latentStudio.showBackendInfo', showBackendInfo),
    cards,
    new GraphDiagnostics(cards),
    GraphEditorProvider.register(context, channel, editors, cards),
    vscode.commands.registerCommand('latentStudio.showModelSummary', (uri?: vscode.Uri) => showModelSummary(channel, activeGraphUri(uri))),
    vscode.commands.registerCommand('latentStudio.newFromTemplate', (target?: vscode.TextDocument | string) => newFromTemplate(context.extensionUri, target)),
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

/** The panel's buttons, as the trust warning names them. */
const REQUEST_WHAT = { evaluate: 'Evaluation', export: 'Export', resume: 'Resuming a run', compare: 'Comparing runs', generate: 'Generating samples' } as const;

/** The resource of the active tab, for custom editors (which have no activeTextEditor). */
function activeTabUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
}

/** The one graph shown in an editor group (a group's active tab), else the one graph open in any tab; none when it is ambiguous. */
function visibleGraphUri(): vscode.Uri | undefined {
  const graphs = (tabs: readonly vscode.Tab[]): vscode.Uri[] => {
    const found = new Map<string, vscode.Uri>();
    for (const tab of tabs) {
      const input = tab.input;
      const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
      if (uri?.path.endsWith('.latent.json')) found.set(uri.toString(), uri);
    }
    return [...found.values()];
  };
  const groups = vscode.window.tabGroups.all;
  const shown = graphs(groups.flatMap((g) => (g.activeTab ? [g.activeTab] : [])));
  if (shown.length > 0) return shown.length === 1 ? shown[0] : undefined;
  const open = graphs(groups.flatMap((g) => g.tabs));
  return open.length === 1 ? open[0] : undefined;
}

export function deactivate(): void {}
