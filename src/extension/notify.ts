/**
 * The extension's output channel and its failure notifications. The channel is a LogOutputChannel
 * (timestamps, levels, VS Code's "Developer: Set Log Level…"); every error notification goes
 * through showError, which writes the sentence to the log and offers "Show Output" after the
 * caller's own buttons, so the detail behind a failure is one click away (lint refuses
 * vscode.window.showErrorMessage anywhere else in src/extension).
 */
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

/** Creates the one "Latent Studio" channel (at activation) and remembers it for the notifications. */
export function createLog(): vscode.LogOutputChannel {
  channel = vscode.window.createOutputChannel('Latent Studio', { log: true });
  return channel;
}

/** The button every failure notification carries. */
export const SHOW_OUTPUT = (): string => vscode.l10n.t('Show Output');

async function withShowOutput(show: typeof vscode.window.showErrorMessage, level: 'error' | 'warn', message: string, actions: readonly string[]): Promise<string | undefined> {
  channel?.[level](message);
  const showOutput = SHOW_OUTPUT();
  const pick = await show(message, ...actions, showOutput);
  if (pick === showOutput) {
    channel?.show(true);
    return undefined;
  }
  return pick;
}

/** An error notification with the caller's `actions`, then "Show Output"; resolves to the action picked (not Show Output). */
export function showError(message: string, ...actions: string[]): Promise<string | undefined> {
  return withShowOutput(vscode.window.showErrorMessage, 'error', message, actions);
}

/** A warning that reports something that did not happen (a refused job, a stopped run), with "Show Output". */
export function showFailureWarning(message: string, ...actions: string[]): Promise<string | undefined> {
  return withShowOutput(vscode.window.showWarningMessage, 'warn', message, actions);
}
