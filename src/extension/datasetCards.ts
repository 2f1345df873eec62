/**
 * Dataset cards of open graphs: when a graph's dataset settings (or its Input and Outputs) change,
 * a fresh worker reads the dataset as training will (src/train/jobs/describe.ts) and the card goes
 * to the graph's editors; its problem goes to the Problems panel. The extension host never loads
 * the data itself, so a large folder cannot slow the editor.
 */
import * as vscode from 'vscode';
import { parseJsonText } from '../core/canonical';
import type { DatasetCard } from '../core/datasetCard';
import { describeDataset } from '../run/client';
import { workerEnv } from './backendCommands';

/** What a card depends on in a graph: its training section and its Input and Output blocks. */
export function cardKey(text: string): string | undefined {
  const parsed = parseJsonText(text);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return undefined;
  const doc = parsed.value as { training?: unknown; nodes?: unknown };
  const nodes = Array.isArray(doc.nodes) ? doc.nodes.filter((n: unknown) => typeof n === 'object' && n !== null && ['Input', 'Output'].includes(String((n as { type?: unknown }).type))) : [];
  return JSON.stringify({ training: doc.training ?? null, nodes });
}

interface Entry {
  key: string;
  card?: DatasetCard;
  /** The newest request: answers of older ones are dropped. */
  request: number;
}

export class DatasetCards implements vscode.Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly emitter = new vscode.EventEmitter<{ uri: vscode.Uri; card: DatasetCard }>();
  /** A card arrived (or changed) for a graph. */
  readonly onDidChangeCard = this.emitter.event;
  private requests = 0;

  constructor(private readonly log: vscode.LogOutputChannel) {}

  /** The newest card of a graph, if one arrived. */
  card(uri: vscode.Uri): DatasetCard | undefined {
    return this.entries.get(uri.toString())?.card;
  }

  /** Read the dataset again when what the card depends on changed (after `delayMs` of quiet, so typing does not start a worker per key). */
  update(document: vscode.TextDocument, delayMs = 400): void {
    const id = document.uri.toString();
    const key = cardKey(document.getText());
    if (key === undefined) return;
    const entry = this.entries.get(id);
    if (entry?.key === key) return;
    this.entries.set(id, { key, card: entry?.card, request: entry?.request ?? 0 });
    clearTimeout(this.timers.get(id));
    this.timers.set(
      id,
      setTimeout(() => void this.describe(document, key), delayMs),
    );
  }

  /** Forget a graph (its editor and text document are closed). */
  forget(uri: vscode.Uri): void {
    clearTimeout(this.timers.get(uri.toString()));
    this.entries.delete(uri.toString());
  }

  private async describe(document: vscode.TextDocument, key: string): Promise<void> {
    const id = document.uri.toString();
    const request = ++this.requests;
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.request = request;
    let card: DatasetCard;
    try {
      card = await describeDataset({ graphText: document.getText(), graphPath: document.uri.fsPath }, { env: workerEnv() });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.log.appendLine(`[dataset] ${vscode.workspace.asRelativePath(document.uri)}: ${message}`);
      card = { spec: '', notes: [], problem: `The dataset could not be read: ${message}` };
    }
    const now = this.entries.get(id);
    if (!now || now.request !== request || now.key !== key) return;
    now.card = card;
    this.emitter.fire({ uri: document.uri, card });
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.emitter.dispose();
  }
}
