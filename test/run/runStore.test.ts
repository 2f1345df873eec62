import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CHECKPOINT_JSON } from '../../src/train/checkpoint';
import { RUN_FILES, type RunStatus, writeStatus } from '../../src/run/runFolder';
import { CHECKPOINT_MANIFEST, canResume, describeRun, formatDuration, hasTrainedWeights, listRuns, pickLatest, readRun, runsOfGraph } from '../../src/run/runStore';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-runstore-'));
const runsDir = path.join(tmp, '.latent', 'runs');
const graphA = path.join(tmp, 'a.latent.json');
const graphB = path.join(tmp, 'b.latent.json');

function makeRun(name: string, status: Partial<RunStatus> & Pick<RunStatus, 'status' | 'startedAt'>, opts: { graph?: string; checkpoint?: boolean; epochs?: number[] } = {}): string {
  const dir = path.join(runsDir, name);
  fs.mkdirSync(dir, { recursive: true });
  writeStatus(dir, { graphName: path.basename(opts.graph ?? 'x'), epochsCompleted: 0, bestValLoss: null, ...status });
  if (opts.graph) {
    const config = { graphFile: opts.graph, dataset: { spec: 'mnist', source: 'MNIST' }, stages: (opts.epochs ?? [3]).map((epochs, i) => ({ name: `s${i}`, kind: 'fit', epochs })) };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  }
  if (opts.checkpoint) {
    fs.mkdirSync(path.join(dir, 'checkpoint'), { recursive: true });
    fs.writeFileSync(path.join(dir, CHECKPOINT_MANIFEST), '{}');
  }
  return dir;
}

const oldCompleted = makeRun('2026-11-20T10-00-00-a', { status: 'completed', startedAt: '2026-11-20T10:00:00.000Z', endedAt: '2026-11-20T10:01:05.000Z', epochsCompleted: 3, bestValLoss: 0.1234, backend: 'wasm' }, { graph: graphA, checkpoint: true });
const stoppedA = makeRun('2026-11-21T10-00-00-a', { status: 'stopped', startedAt: '2026-11-21T10:00:00.000Z', endedAt: '2026-11-21T10:00:09.000Z', epochsCompleted: 1, bestValLoss: 0.2 }, { graph: graphA, checkpoint: true, epochs: [2, 3] });
const failedEarlyA = makeRun('2026-11-22T10-00-00-a', { status: 'failed', startedAt: '2026-11-22T10:00:00.000Z', error: 'NaN' }, { graph: graphA, checkpoint: false });
const runningB = makeRun('2026-11-22T11-00-00-b', { status: 'running', startedAt: '2026-11-22T11:00:00.000Z' }, { graph: graphB, checkpoint: true });
// Not runs: a folder without run.json, one with a corrupt run.json, and a stray file.
fs.mkdirSync(path.join(runsDir, 'not-a-run'), { recursive: true });
fs.mkdirSync(path.join(runsDir, 'corrupt'), { recursive: true });
fs.writeFileSync(path.join(runsDir, 'corrupt', 'run.json'), '{"status": "done?"');
fs.writeFileSync(path.join(runsDir, 'stray.txt'), 'hello');

test('the checkpoint manifest the store looks for is the one the trainer writes', () => {
  assert.equal(CHECKPOINT_MANIFEST, path.join(RUN_FILES.checkpoint, CHECKPOINT_JSON));
});

test('listRuns: every run folder, newest first; folders without a valid run.json are skipped', () => {
  const runs = listRuns([runsDir, path.join(tmp, 'missing')]);
  assert.deepEqual(
    runs.map((r) => r.runDir),
    [runningB, failedEarlyA, stoppedA, oldCompleted],
  );
  const stopped = runs.find((r) => r.runDir === stoppedA)!;
  assert.equal(stopped.graphFile, graphA);
  assert.equal(stopped.dataset, 'mnist');
  assert.equal(stopped.plannedEpochs, 5);
  assert.equal(stopped.hasCheckpoint, true);
  assert.equal(runs.find((r) => r.runDir === failedEarlyA)!.hasCheckpoint, false);
});

test('runsOfGraph matches the recorded graph file', () => {
  const runs = listRuns([runsDir]);
  assert.deepEqual(runsOfGraph(runs, graphA).map((r) => r.runDir), [failedEarlyA, stoppedA, oldCompleted]);
  assert.deepEqual(runsOfGraph(runs, path.join(tmp, '.', 'b.latent.json')).map((r) => r.runDir), [runningB]);
  assert.deepEqual(runsOfGraph(runs, path.join(tmp, 'c.latent.json')), []);
});

test('canResume: only stopped or failed runs with a checkpoint, with the reason otherwise', () => {
  const run = (dir: string) => readRun(dir)!;
  assert.deepEqual(canResume(run(stoppedA)), { ok: true });
  const completed = canResume(run(oldCompleted));
  assert.equal(completed.ok, false);
  assert.match(!completed.ok ? completed.reason : '', /finished all its epochs/);
  const early = canResume(run(failedEarlyA));
  assert.match(!early.ok ? early.reason : '', /failed before its first epoch ended.*no checkpoint/);
  assert.match((canResume(run(runningB)) as { reason: string }).reason, /still training/);
});

test('hasTrainedWeights follows the checkpoint', () => {
  assert.equal(hasTrainedWeights(readRun(oldCompleted)!).ok, true);
  assert.equal(hasTrainedWeights(readRun(failedEarlyA)!).ok, false);
});

test('pickLatest: the newest run of the graph that qualifies, or why none does', () => {
  const runs = listRuns([runsDir]);
  const resumable = pickLatest(runs, graphA, canResume);
  assert.ok('entry' in resumable);
  assert.equal(resumable.entry.runDir, stoppedA);
  const trained = pickLatest(runs, graphA, hasTrainedWeights);
  assert.ok('entry' in trained);
  assert.equal(trained.entry.runDir, stoppedA, 'the failed run has no weights; the stopped one does');
  const none = pickLatest(runs, graphB, canResume);
  assert.ok('reason' in none);
  assert.match(none.reason, /still training/);
  const noRuns = pickLatest(runs, path.join(tmp, 'c.latent.json'), canResume);
  assert.ok('reason' in noRuns);
  assert.match(noRuns.reason, /c\.latent\.json has no runs yet/);
});

test('describeRun: status, best val loss, epochs of planned, duration, backend', () => {
  assert.equal(describeRun(readRun(oldCompleted)!), 'completed · val 0.1234 · 3/3 ep · 1m05s · wasm');
  assert.equal(describeRun(readRun(stoppedA)!), 'stopped · val 0.2000 · 1/5 ep · 9s');
  assert.equal(formatDuration(3725), '1h02m');
});
