/**
 * The run store: what the Runs view, the palette commands and the CLI know about run folders.
 * Reads `.latent/runs/*` (run.json, config.json, the checkpoint's presence) and answers the
 * questions commands ask — which runs belong to this graph, which can resume, which can be
 * evaluated — with a sentence when the answer is no. No VS Code here, so it is unit-tested.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunStatus } from '../core/runFormat';
import { RunFolderError, hasCheckpoint, readOptionalRunJson, readRunJson, runFile } from './runFolder';
import { processAlive } from './runLock';

export interface RunEntry {
  readonly runDir: string;
  /** Folder name: `<time>-<graph name>`. */
  readonly name: string;
  readonly status: RunStatus;
  /** The graph file trained (absolute, as recorded in config.json), when config.json is readable. */
  readonly graphFile: string | undefined;
  /** The dataset spec the run trained on, when known. */
  readonly dataset: string | undefined;
  /** Epochs planned over all stages, when known. */
  readonly plannedEpochs: number | undefined;
  /** The PyTorch engine's device and process count ("cuda:0 (NVIDIA H200) x 2"), when it trained. */
  readonly device?: string;
  readonly hasCheckpoint: boolean;
  /** Why config.json could not be read (a run that is starting has none yet), as a sentence. */
  readonly problem: string | undefined;
}

/** A folder under `.latent/runs` whose run.json is there but cannot be read. */
export interface UnreadableRun {
  readonly runDir: string;
  readonly name: string;
  readonly error: string;
}

type FolderRead = { readonly kind: 'run'; readonly entry: RunEntry } | { readonly kind: 'unreadable'; readonly run: UnreadableRun } | { readonly kind: 'none' };

/** One folder: a run, a run whose run.json is corrupt, or no run folder at all (no run.json). */
function readFolder(runDir: string): FolderRead {
  const name = path.basename(runDir);
  const status = readRunJson(runDir, 'status');
  if (!status.ok) return fs.existsSync(runFile(runDir, 'status')) ? { kind: 'unreadable', run: { runDir, name, error: status.error } } : { kind: 'none' };
  // A run that has just started may not have written config.json yet: that is no problem.
  const config = readOptionalRunJson(runDir, 'config');
  const c = config.ok ? config.value : null;
  const entry: RunEntry = {
    runDir,
    name,
    status: interrupted(status.value),
    graphFile: c?.graphFile,
    dataset: c?.dataset.spec,
    plannedEpochs: c?.stages.reduce((sum, s) => sum + s.epochs, 0),
    ...(c?.device ? { device: `${c.device}${c.worldSize && c.worldSize > 1 ? ` x ${c.worldSize}` : ''}` } : {}),
    hasCheckpoint: hasCheckpoint(runDir),
    problem: config.ok ? undefined : config.error,
  };
  return { kind: 'run', entry };
}

/**
 * A run.json that says `running` although the process it names is gone (killed before anyone could
 * record it, or its folder became read-only): shown and treated as failed, with what happened.
 */
function interrupted(status: RunStatus): RunStatus {
  if (status.status !== 'running' || status.pid === undefined || processAlive(status.pid)) return status;
  const { pid, ...rest } = status;
  return { ...rest, status: 'failed', error: `Interrupted: the process training it (${pid}) ended without recording how (it was killed, or run.json could not be written)` };
}

/** One run folder's entry; a RunFolderError naming run.json when it is not a readable run. */
export function readRun(runDir: string): RunEntry {
  const r = readFolder(runDir);
  if (r.kind === 'run') return r.entry;
  const file = runFile(runDir, 'status');
  throw new RunFolderError(r.kind === 'unreadable' ? r.run.error : `${file}: not found: ${runDir} is not a run folder`, file);
}

/** Every run under the given `.latent/runs` folders, newest first (ties: folder name, descending), and those whose run.json is corrupt. */
export function scanRuns(runsDirs: readonly string[]): { runs: RunEntry[]; unreadable: UnreadableRun[] } {
  const runs: RunEntry[] = [];
  const unreadable: UnreadableRun[] = [];
  for (const runsDir of runsDirs) {
    let names: string[];
    try {
      names = fs.readdirSync(runsDir);
    } catch {
      continue; // no runs there yet
    }
    for (const name of names) {
      const dir = path.join(runsDir, name);
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
      const r = readFolder(dir);
      if (r.kind === 'run') runs.push(r.entry);
      else if (r.kind === 'unreadable') unreadable.push(r.run);
    }
  }
  runs.sort((a, b) => b.status.startedAt.localeCompare(a.status.startedAt) || b.name.localeCompare(a.name));
  return { runs, unreadable };
}

/** Every readable run under the given `.latent/runs` folders, newest first. */
export function listRuns(runsDirs: readonly string[]): RunEntry[] {
  return scanRuns(runsDirs).runs;
}

const samePath = (a: string, b: string): boolean => path.resolve(a) === path.resolve(b);

/** Runs of one graph file, newest first. */
export function runsOfGraph(entries: readonly RunEntry[], graphFile: string): RunEntry[] {
  return entries.filter((e) => e.graphFile !== undefined && samePath(e.graphFile, graphFile));
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Whether "Resume from Last Checkpoint" can continue this run. */
export function canResume(entry: RunEntry): Verdict {
  const { status } = entry;
  if (status.status === 'running') return { ok: false, reason: `${entry.name} is still training.` };
  if (status.status === 'completed') return { ok: false, reason: `${entry.name} finished all its epochs; there is nothing to resume.` };
  if (!entry.hasCheckpoint) return { ok: false, reason: `${entry.name} ${status.status === 'failed' ? 'failed' : 'stopped'} before its first epoch ended, so it has no checkpoint: train again instead.` };
  return { ok: true };
}

/** Whether the run has weights to evaluate or export. */
export function hasTrainedWeights(entry: RunEntry): Verdict {
  if (entry.hasCheckpoint) return { ok: true };
  if (entry.status.status === 'running') return { ok: false, reason: `${entry.name} has not finished an epoch yet.` };
  return { ok: false, reason: `${entry.name} has no checkpoint (it ended before its first epoch did).` };
}

/** The run commands act on when none is named: the newest run of the graph that passes the check. */
export function pickLatest(entries: readonly RunEntry[], graphFile: string | undefined, check: (e: RunEntry) => Verdict): { entry: RunEntry } | { reason: string } {
  const candidates = graphFile ? runsOfGraph(entries, graphFile) : [...entries];
  if (candidates.length === 0) return { reason: graphFile ? `${path.basename(graphFile)} has no runs yet: train it first.` : 'There are no runs yet: train a model first.' };
  const found = candidates.find((e) => check(e).ok);
  if (found) return { entry: found };
  const newest = check(candidates[0]!);
  return { reason: newest.ok ? 'No run qualifies.' : newest.reason };
}

export function runSeconds(status: RunStatus): number | undefined {
  return status.endedAt ? Math.max(0, (Date.parse(status.endedAt) - Date.parse(status.startedAt)) / 1000) : undefined;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One line for lists: `completed · val 0.0912 · 5/5 ep · 1m02s · wasm`. */
export function describeRun(entry: RunEntry): string {
  const { status } = entry;
  const seconds = runSeconds(status);
  return [
    status.status,
    status.bestValLoss !== null ? `val ${status.bestValLoss.toFixed(4)}` : undefined,
    entry.plannedEpochs !== undefined ? `${status.epochsCompleted}/${entry.plannedEpochs} ep` : `${status.epochsCompleted} ep`,
    seconds !== undefined ? formatDuration(seconds) : undefined,
    entry.device ? `${status.backend ?? 'pytorch'} ${entry.device}` : status.backend,
  ]
    .filter((p): p is string => p !== undefined)
    .join(' · ');
}
