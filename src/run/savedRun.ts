/**
 * Opening an existing run folder to resume, evaluate or export it: its status, config, graph
 * snapshot and checkpoint manifest, each checked, with a sentence naming the file when one is not
 * usable. Nothing here touches tensors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CheckpointMeta, CheckpointError, checkpointJsonPath, readCheckpointMeta } from '../train/checkpoint';
import { TrainingError } from '../train/errors';
import { RUN_FILES, type RunConfig, type RunStatus, readRunConfig, readStatus, sha256 } from './runFolder';

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

/** Whether a process with this id is alive (EPERM: alive, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function openFolder(runDirArg: string): { runDir: string; name: string; status: RunStatus } {
  const runDir = path.resolve(runDirArg);
  if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) throw new TrainingError(`${runDirArg}: no such run folder`);
  const status = readStatus(runDir);
  if (!status) throw new TrainingError(`${runDir} is not a run folder: ${RUN_FILES.status} is missing or unreadable`);
  return { runDir, name: path.basename(runDir), status };
}

function openRest(runDir: string, name: string, status: RunStatus, noCheckpoint: () => string): SavedRun {
  const config = readRunConfig(runDir);
  if (!config.ok) throw new TrainingError(`${config.error}; the run folder cannot be used`);
  const graphFile = path.join(runDir, RUN_FILES.graph);
  let graphText: string;
  try {
    graphText = fs.readFileSync(graphFile, 'utf8');
  } catch {
    throw new TrainingError(`${graphFile}: the run's graph snapshot is missing`);
  }
  const checkpoint = readCheckpointMeta(runDir);
  if (!checkpoint) throw new TrainingError(noCheckpoint());
  const hash = sha256(graphText);
  if (hash !== checkpoint.graphSha256) {
    const file = checkpointJsonPath(runDir);
    throw new CheckpointError(
      `${file}: graph hash mismatch: the checkpoint was saved for graph sha256 ${checkpoint.graphSha256.slice(0, 12)}… but ${graphFile} has sha256 ${hash.slice(0, 12)}…; the run folder was edited`,
      file,
    );
  }
  return { runDir, name, status, config: config.config, graphText, graphPath: config.config.graphFile || graphFile, checkpoint };
}

/** A run to evaluate, export or generate from: any status, as long as it has a checkpoint. */
export function openSavedRun(runDirArg: string, purpose: 'evaluate' | 'export' | 'generate from' | 'inspect'): SavedRun {
  const { runDir, name, status } = openFolder(runDirArg);
  return openRest(runDir, name, status, () => `${name} has no checkpoint (it ended before its first epoch did): nothing to ${purpose}; train it again`);
}

/** A run to continue: not running, not completed, with a checkpoint. */
export function openRunToResume(runDirArg: string): SavedRun {
  const { runDir, name, status } = openFolder(runDirArg);
  if (status.status === 'running' && status.pid !== undefined && processAlive(status.pid)) {
    throw new TrainingError(`${name} is still running (process ${status.pid}): stop it before resuming`);
  }
  if (status.status === 'completed') throw new TrainingError(`${name} finished all ${status.epochsCompleted} epochs; nothing to resume`);
  const how = status.status === 'failed' ? 'failed' : 'stopped';
  return openRest(runDir, name, status, () => `${name} ${how} before its first epoch ended: nothing to resume; train again`);
}
