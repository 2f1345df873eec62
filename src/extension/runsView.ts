/**
 * The Runs view (Explorer): every run folder under the workspace's .latent/runs, newest first, with
 * status, best validation loss, duration and backend. Opening a run shows its curves and previews
 * in the training panel; deleting asks first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { type RunStatus, readStatus } from '../train/runFolder';
import { type TrainingPanel, snapshotFromRunFolder } from './trainingPanel';

export class RunItem extends vscode.TreeItem {
  constructor(
    readonly runDir: string,
    readonly status: RunStatus,
  ) {
    super(status.graphName, vscode.TreeItemCollapsibleState.None);
    const seconds = status.endedAt ? (Date.parse(status.endedAt) - Date.parse(status.startedAt)) / 1000 : undefined;
    const parts = [
      status.status,
      status.bestValLoss !== null ? `val ${status.bestValLoss.toFixed(4)}` : undefined,
      `${status.epochsCompleted} ep`,
      seconds !== undefined ? formatDuration(seconds) : undefined,
      status.backend,
    ].filter(Boolean);
    this.description = parts.join(' · ');
    this.tooltip = new vscode.MarkdownString(
      [`**${status.graphName}** — ${status.status}`, `started ${status.startedAt}`, status.error ? `error: ${status.error}` : '', `\`${runDir}\``].filter(Boolean).join('\n\n'),
    );
    this.iconPath = new vscode.ThemeIcon(
      { running: 'sync~spin', completed: 'pass', stopped: 'debug-stop', failed: 'error' }[status.status],
      status.status === 'failed' ? new vscode.ThemeColor('errorForeground') : undefined,
    );
    this.contextValue = 'latentStudio.run';
    this.resourceUri = vscode.Uri.file(runDir);
    this.command = { command: 'latentStudio.openRun', title: 'Open Run', arguments: [this] };
  }
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Run folders of every workspace folder, newest first (their names start with the time). */
export function listRuns(): RunItem[] {
  const items: RunItem[] = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const runsDir = path.join(folder.uri.fsPath, '.latent', 'runs');
    if (!fs.existsSync(runsDir)) continue;
    for (const name of fs.readdirSync(runsDir)) {
      const dir = path.join(runsDir, name);
      const status = readStatus(dir);
      if (status) items.push(new RunItem(dir, status));
    }
  }
  return items.sort((a, b) => b.status.startedAt.localeCompare(a.status.startedAt));
}

export class RunsView implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly panel: TrainingPanel) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/.latent/runs/*/run.json');
    this.subscriptions.push(
      watcher,
      watcher.onDidCreate(() => this.refresh()),
      watcher.onDidChange(() => this.refresh()),
      watcher.onDidDelete(() => this.refresh()),
      vscode.window.registerTreeDataProvider('latentStudio.runs', this),
      vscode.commands.registerCommand('latentStudio.refreshRuns', () => this.refresh()),
      vscode.commands.registerCommand('latentStudio.openRun', (item?: RunItem) => this.open(item)),
      vscode.commands.registerCommand('latentStudio.deleteRun', (item?: RunItem) => this.delete(item)),
    );
  }

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(item: RunItem): vscode.TreeItem {
    return item;
  }

  getChildren(): RunItem[] {
    return listRuns();
  }

  private async pick(placeHolder: string): Promise<RunItem | undefined> {
    const runs = listRuns();
    if (runs.length === 0) {
      void vscode.window.showInformationMessage('No runs yet: train a model with "Latent Studio: Train Model".');
      return undefined;
    }
    const choice = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: path.basename(r.runDir), description: `${r.status.graphName} · ${String(r.description ?? '')}`, run: r })),
      { placeHolder, matchOnDescription: true },
    );
    return choice?.run;
  }

  private async open(item?: RunItem): Promise<void> {
    const run = item ?? (await this.pick('Open which run?'));
    if (run) this.panel.showRun(`run:${run.runDir}`, snapshotFromRunFolder(run.runDir));
  }

  private async delete(item?: RunItem): Promise<void> {
    const run = item ?? (await this.pick('Delete which run?'));
    if (!run) return;
    if (run.status.status === 'running') {
      void vscode.window.showWarningMessage('That run is still training: stop it first.');
      return;
    }
    const answer = await vscode.window.showWarningMessage(`Delete the run folder ${path.basename(run.runDir)} and everything in it?`, { modal: true }, 'Delete');
    if (answer !== 'Delete') return;
    await vscode.workspace.fs.delete(vscode.Uri.file(run.runDir), { recursive: true, useTrash: true }).then(undefined, () =>
      vscode.workspace.fs.delete(vscode.Uri.file(run.runDir), { recursive: true, useTrash: false }),
    );
    this.refresh();
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.changed.dispose();
  }
}
