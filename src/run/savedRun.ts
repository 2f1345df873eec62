/**
 * Opening an existing run folder to resume, evaluate, export or inspect it: its status, config,
 * graph snapshot and checkpoint manifest, each read through runFolder.ts, with a sentence naming the
 * file when one is not usable. Nothing here touches tensors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CheckpointMeta, RunConfig, RunStatus } from '../core/runFormat';
import { RunFolderError, readGraphSnapshot, readOptionalRunJson, requireRunJson, runFile, sha256 } from './runFolder';
import { processAlive } from './runLock';

export interface SavedRun {
  /** Absolute path of the run folder. */
  readonly runDir: string;
  readonly name: string;
  readonly status: RunStatus;
  readonly config: RunConfig;
  /** graph.latent.json, the graph exactly as trained. */
  readonly graphText: string;
  /** Where the graph came from (anchors relative dataset paths); the snapshot when unknown. */
  readonly graphPath: string;
  readonly checkpoint: CheckpointMeta;
}

/** What a job opens a run for, in the sentence that refuses a run without a checkpoint. */
export type SavedRunPurpose = 'evaluate' | 'export' | 'generate from' | 'inspect';

function openFolder(runDirArg: string): { runDir: string; name: string; status: RunStatus } {
  const runDir = path.resolve(runDirArg);
  if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) throw new RunFolderError(`${runDirArg}: no such run folder`, runDir);
  const status = requireRunJson(runDir, 'status', 'this is not a usable run folder');
  return { runDir, name: path.basename(runDir), status };
}

function openRest(runDir: string, name: string, status: RunStatus, noCheckpoint: () => string): SavedRun {
  const config = requireRunJson(runDir, 'config', 'the run folder cannot be used');
  const graph = readGraphSnapshot(runDir);
  if (!graph.ok) throw new RunFolderError(graph.error, runDir);
  const checkpoint = readOptionalRunJson(runDir, 'checkpoint');
  if (!checkpoint.ok) throw new RunFolderError(`${checkpoint.error}; the checkpoint cannot be used`, runFile(runDir, 'checkpoint'));
  if (!checkpoint.value) throw new RunFolderError(noCheckpoint(), runFile(runDir, 'checkpoint'));
  const hash = sha256(graph.value);
  if (hash !== checkpoint.value.graphSha256) {
    const file = runFile(runDir, 'checkpoint');
    throw new RunFolderError(
      `${file}: graph hash mismatch: the checkpoint was saved for graph sha256 ${checkpoint.value.graphSha256.slice(0, 12)}… but the run's graph snapshot has sha256 ${hash.slice(0, 12)}…; the run folder was edited`,
      file,
    );
  }
  return { runDir, name, status, config, graphText: graph.value, graphPath: config.graphFile || path.join(runDir, 'graph.latent.json'), checkpoint: checkpoint.value };
}

/** A run to evaluate, export, generate from or inspect: any status, as long as it has a checkpoint. */
export function openSavedRun(runDirArg: string, purpose: SavedRunPurpose): SavedRun {
  const { runDir, name, status } = openFolder(runDirArg);
  return openRest(runDir, name, status, () => `${name} has no checkpoint (it ended before its first epoch did): nothing to ${purpose}; train it again`);
}

/** A run to continue: not running, not completed, with a checkpoint. */
export function openRunToResume(runDirArg: string): SavedRun {
  const { runDir, name, status } = openFolder(runDirArg);
  if (status.status === 'running' && status.pid !== undefined && processAlive(status.pid)) {
    throw new RunFolderError(`${name} is still running (process ${status.pid}): stop it before resuming`, runDir);
  }
  if (status.status === 'completed') throw new RunFolderError(`${name} finished all ${status.epochsCompleted} epochs; nothing to resume`, runDir);
  const how = status.status === 'failed' ? 'failed' : 'stopped';
  return openRest(runDir, name, status, () => `${name} ${how} before its first epoch ended: nothing to resume; train again`);
}
