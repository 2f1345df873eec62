/**
 * The Runs view (Explorer): every run folder under the workspace's .latent/runs, newest first, with
 * status, best validation loss, duration and backend. Opening a run shows its curves and previews
 * in the training panel; deleting asks first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { type RunEntry, type UnreadableRun, canResume, describeRun, hasTrainedWeights, listRuns, scanRuns } from '../run/runStore';
import { snapshotFromRunFolder } from '../run/panelSnapshot';
import type { TrainingPanel } from './trainingPanel';

export class RunItem extends vscode.TreeItem {
  readonly runDir: string;
  constructor(readonly entry: RunEntry) {
    super(entry.status.graphName, vscode.TreeItemCollapsibleState.None);
    const { status } = entry;
    this.runDir = entry.runDir;
    this.description = describeRun(entry);
    this.tooltip = new vscode.MarkdownString(
      [
        `**${status.graphName}** — ${status.status}`,
        `started ${status.startedAt}`,
        entry.dataset ? `data: ${entry.dataset}` : '',
        status.error ? `error: ${status.error}` : '',
        entry.problem ? `⚠ ${entry.problem}` : '',
        `\`${entry.runDir}\``,
      ]
        .filter(Boolean)
        .join('\n\n'),
    );
    this.iconPath = new vscode.ThemeIcon(
      { running: 'sync~spin', completed: 'pass', stopped: 'debug-stop', failed: 'error' }[status.status],
      status.status === 'failed' ? new vscode.ThemeColor('errorForeground') : undefined,
    );
    // Menus match on these words: "resumable" shows Resume, "trained" Evaluate and Export.
    this.contextValue = ['latentStudio.run', canResume(entry).ok ? 'resumable' : '', hasTrainedWeights(entry).ok ? 'trained' : ''].filter(Boolean).join(' ');
    this.resourceUri = vscode.Uri.file(entry.runDir);
    this.command = { command: 'latentStudio.openRun', title: vscode.l10n.t('Open Run'), arguments: [this] };
  }
}

/** A run folder whose run.json cannot be read: listed with the sentence, so it does not silently vanish. */
export class UnreadableRunItem extends vscode.TreeItem {
  constructor(run: UnreadableRun) {
    super(run.name, vscode.TreeItemCollapsibleState.None);
    this.description = vscode.l10n.t('cannot be read');
    this.tooltip = new vscode.MarkdownString(`**${run.name}** cannot be read: ${run.error}\n\n\`${run.runDir}\``);
    this.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
    this.contextValue = 'latentStudio.unreadableRun';
    this.resourceUri = vscode.Uri.file(run.runDir);
  }
}

/** The `.latent/runs` folder of every workspace folder. */
export function workspaceRunsDirs(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => path.join(f.uri.fsPath, '.latent', 'runs'));
}

const POLL_MS = 3000;

/** Context key: this workspace has a graph file or a run folder (the Runs view's `when`). */
export const SHOWN_KEY = 'latentStudio.hasGraphsOrRuns';

/** The run folders' names and their run.json sizes and times: what changes when a run starts, moves on, ends or goes. */
function runsSignature(runsDirs: readonly string[]): string {
  const parts: string[] = [];
  for (const dir of runsDirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      let stat: fs.Stats | undefined;
      try {
        stat = fs.statSync(path.join(dir, name, 'run.json'), { throwIfNoEntry: false });
      } catch {
        stat = undefined; // not a folder, or going away right now
      }
      parts.push(`${name}:${stat ? `${stat.size}:${stat.mtimeMs}` : '-'}`);
    }
  }
  return parts.join('|');
}

/** Runs of every workspace folder, newest first. */
export function workspaceRuns(): RunEntry[] {
  return listRuns(workspaceRunsDirs());
}

/** Ask for a run; `filter` narrows the list (its reason is shown when nothing is left). */
export async function pickRun(placeHolder: string, filter?: (e: RunEntry) => { ok: boolean; reason?: string }, exclude?: string): Promise<RunEntry | undefined> {
  const all = workspaceRuns().filter((r) => r.runDir !== exclude);
  const runs = filter ? all.filter((r) => filter(r).ok) : all;
  if (runs.length === 0) {
    const why = all.length && filter ? ` (${all.length} run(s), none usable here: ${(filter(all[0]!) as { reason?: string }).reason ?? ''})` : '';
    void vscode.window.showInformationMessage(vscode.l10n.t('No runs to choose from{0}. Train a model with "Latent Studio: Train Model".', why));
    return undefined;
  }
  const choice = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.name, description: `${r.status.graphName} · ${describeRun(r)}`, run: r })),
    { placeHolder, matchOnDescription: true },
  );
  return choice?.run;
}

export class RunsView implements vscode.TreeDataProvider<RunItem | UnreadableRunItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly panel: TrainingPanel) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/.latent/runs/*/run.json');
    // A run folder deleted whole (rm -rf, another window's Delete Run) reports the folder, not its run.json.
    const folders = vscode.workspace.createFileSystemWatcher('**/.latent/runs/*', true, true, false);
    const graphs = vscode.workspace.createFileSystemWatcher('**/*.latent.json', false, true, false);
    void this.updateShown();
    this.subscriptions.push(
      watcher,
      folders,
      graphs,
      graphs.onDidCreate(() => void this.updateShown()),
      graphs.onDidDelete(() => void this.updateShown()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.updateShown()),
      folders.onDidDelete(() => this.refresh()),
      watcher.onDidCreate(() => {
        this.refresh();
        void this.updateShown();
      }),
      watcher.onDidChange(() => this.refresh()),
      watcher.onDidDelete(() => this.refresh()),
      this.poll(vscode.window.createTreeView('latentStudio.runs', { treeDataProvider: this })),
      vscode.commands.registerCommand('latentStudio.refreshRuns', () => this.refresh()),
      vscode.commands.registerCommand('latentStudio.openRun', (item?: RunItem) => this.open(item)),
      vscode.commands.registerCommand('latentStudio.deleteRun', (item?: RunItem) => this.delete(item)),
    );
  }

  refresh(): void {
    this.changed.fire();
  }

  /**
   * The view is shown only in workspaces with a graph or a run (package.json: its `when` clause on
   * this context key), so it does not sit empty in the Explorer of every other project.
   */
  private async updateShown(): Promise<void> {
    const hasRuns = workspaceRunsDirs().some((dir) => {
      try {
        return fs.readdirSync(dir).length > 0;
      } catch {
        return false;
      }
    });
    const shown = hasRuns || (await vscode.workspace.findFiles('**/*.latent.json', '**/node_modules/**', 1)).length > 0;
    await vscode.commands.executeCommand('setContext', SHOWN_KEY, shown);
  }

  /**
   * File watchers miss some changes (a run folder deleted whole can arrive as nothing, another
   * window's or a script's writes on some file systems): while the view is visible it also looks at
   * the run folders every few seconds and refreshes when their names or run.json files changed.
   */
  private poll(view: vscode.TreeView<RunItem | UnreadableRunItem>): vscode.Disposable {
    let seen = runsSignature(workspaceRunsDirs());
    const look = (): void => {
      const now = runsSignature(workspaceRunsDirs());
      if (now !== seen) {
        seen = now;
        this.refresh();
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const follow = (visible: boolean): void => {
      clearInterval(timer);
      timer = visible ? setInterval(look, POLL_MS) : undefined;
      if (visible) look();
    };
    follow(view.visible);
    return vscode.Disposable.from(view, view.onDidChangeVisibility((e) => follow(e.visible)), { dispose: () => clearInterval(timer) });
  }

  getTreeItem(item: RunItem | UnreadableRunItem): vscode.TreeItem {
    return item;
  }

  getChildren(): (RunItem | UnreadableRunItem)[] {
    const { runs, unreadable } = scanRuns(workspaceRunsDirs());
    return [...runs.map((e) => new RunItem(e)), ...unreadable.map((u) => new UnreadableRunItem(u))];
  }

  private async open(item?: RunItem): Promise<void> {
    const run = item?.entry ?? (await pickRun('Open which run?'));
    if (run) this.panel.showRun(`run:${run.runDir}`, snapshotFromRunFolder(run.runDir));
  }

  private async delete(item?: RunItem): Promise<void> {
    const run = item?.entry ?? (await pickRun('Delete which run?'));
    if (!run) return;
    if (run.status.status === 'running') {
      void vscode.window.showWarningMessage(vscode.l10n.t('That run is still training: stop it first.'));
      return;
    }
    const del = vscode.l10n.t('Delete');
    const answer = await vscode.window.showWarningMessage(vscode.l10n.t('Delete the run folder {0} and everything in it?', path.basename(run.runDir)), { modal: true }, del);
    if (answer !== del) return;
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
