/**
 * The run store: what the Runs view, the palette commands and the CLI know about run folders.
 * Reads `.latent/runs/*` (run.json, config.json, the checkpoint's presence) and answers the
 * questions commands ask — which runs belong to this graph, which can resume, which can be
 * evaluated — with a sentence when the answer is no. No VS Code here, so it is unit-tested.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { RUN_FILES, type RunStatus, readStatus } from './runFolder';

/** Where a run keeps its last completed epoch (written by the trainer after every epoch). */
// Spelled out rather than imported from checkpoint.ts, which loads tfjs: the extension host must not.
export const CHECKPOINT_MANIFEST = path.join(RUN_FILES.checkpoint, 'checkpoint.json');

export interface RunEntry {
  readonly runDir: string;
  /** Folder name: `<time>-<graph name>`. */
  readonly name: string;
  readonly status: RunStatus;
  /** The graph file trained (absolute, as recorded in config.json), when known. */
  readonly graphFile: string | undefined;
  /** The dataset spec the run trained on, when known. */
  readonly dataset: string | undefined;
  /** Epochs planned over all stages, when known. */
  readonly plannedEpochs: number | undefined;
  readonly hasCheckpoint: boolean;
}

const ConfigSchema = z
  .object({
    graphFile: z.string().optional(),
    dataset: z.object({ spec: z.string() }).passthrough().optional(),
    stages: z.array(z.object({ epochs: z.number().int() }).passthrough()).optional(),
  })
  .passthrough();

function readConfig(runDir: string): z.infer<typeof ConfigSchema> | undefined {
  try {
    const parsed = ConfigSchema.safeParse(JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.config), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** One run folder, or undefined when it is not one (no readable run.json). */
export function readRun(runDir: string): RunEntry | undefined {
  const status = readStatus(runDir);
  if (!status) return undefined;
  const config = readConfig(runDir);
  return {
    runDir,
    name: path.basename(runDir),
    status,
    graphFile: config?.graphFile,
    dataset: config?.dataset?.spec,
    plannedEpochs: config?.stages?.reduce((sum, s) => sum + s.epochs, 0),
    hasCheckpoint: fs.existsSync(path.join(runDir, CHECKPOINT_MANIFEST)),
  };
}

/** Every run under the given `.latent/runs` folders, newest first (ties: folder name, descending). */
export function listRuns(runsDirs: readonly string[]): RunEntry[] {
  const entries: RunEntry[] = [];
  for (const runsDir of runsDirs) {
    let names: string[];
    try {
      names = fs.readdirSync(runsDir);
    } catch {
      continue;
    }
    for (const name of names) {
      const entry = readRun(path.join(runsDir, name));
      if (entry) entries.push(entry);
    }
  }
  return entries.sort((a, b) => b.status.startedAt.localeCompare(a.status.startedAt) || b.name.localeCompare(a.name));
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
    status.backend,
  ]
    .filter((p): p is string => p !== undefined)
    .join(' · ');
}
