/**
 * Workspace trust. In Restricted Mode the graph editor works (view, edit, validate, dataset cards,
 * summaries: our own code reading the workspace's files); everything that starts training, an
 * export, an evaluation, generation or an inspection (a worker or the user's Python running on the
 * workspace, the generated train.py, native modules) says the workspace must be trusted, and offers
 * VS Code's trust editor. package.json declares `capabilities.untrustedWorkspaces: limited`.
 */
import * as vscode from 'vscode';

/** What Restricted Mode refuses, in words ("Training", "Export as PyTorch"), and why. */
export function untrustedSentence(what: string): string {
  return vscode.l10n.t("{0} runs code on this workspace's files, and this workspace is in Restricted Mode: trust it first (Manage Workspace Trust).", what);
}

/** True when the workspace is trusted; otherwise says why `what` cannot run, and returns false. */
export function requireTrust(what: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  const MANAGE = vscode.l10n.t('Manage Workspace Trust');
  void vscode.window.showWarningMessage(untrustedSentence(what), MANAGE).then((pick) => {
    if (pick === MANAGE) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  return false;
}

/** A command handler that first requires trust for `what`. */
export function trusted<A extends unknown[], R>(what: string, run: (...args: A) => R): (...args: A) => R | undefined {
  return (...args: A) => (requireTrust(what) ? run(...args) : undefined);
}
