import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { RUN_FILES, type RunStatus } from '../../src/core/runFormat';
import { writeRunJson, writeStatus } from '../../src/run/runFolder';
import { canResume, describeRun, formatDuration, hasTrainedWeights, listRuns, pickLatest, readRun, runsOfGraph, scanRuns } from '../../src/run/runStore';
import { fakeRunConfig } from '../helpers/runFolders';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-runstore-'));
const runsDir = path.join(tmp, '.latent', 'runs');
const graphA = path.join(tmp, 'a.latent.json');
const graphB = path.join(tmp, 'b.latent.json');

function makeRun(name: string, status: Partial<Omit<RunStatus, 'runFormatVersion'>> & Pick<RunStatus, 'status' | 'startedAt'>, opts: { graph?: string; checkpoint?: boolean; epochs?: number[] } = {}): string {
  const dir = path.join(runsDir, name);
  fs.mkdirSync(dir, { recursive: true });
  writeStatus(dir, { graphName: path.basename(opts.graph ?? 'x'), epochsCompleted: 0, bestValLoss: null, ...status });
  if (opts.graph) writeRunJson(dir, 'config', fakeRunConfig(opts.graph, opts.epochs ?? [3]));
  if (opts.checkpoint) {
    fs.mkdirSync(path.join(dir, RUN_FILES.checkpoint), { recursive: true });
    fs.writeFileSync(path.join(dir, RUN_FILES.checkpointManifest), '{}');
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

test('scanRuns: a corrupt run.json is listed as unreadable with the sentence; a corrupt config.json is the entry’s problem', () => {
  const { unreadable } = scanRuns([runsDir]);
  assert.deepEqual(unreadable.map((u) => u.name), ['corrupt']);
  assert.match(unreadable[0]!.error, /corrupt[/\\]run\.json: not valid JSON/);
  assert.throws(() => readRun(path.join(runsDir, 'corrupt')), /run\.json: not valid JSON/);
  assert.throws(() => readRun(path.join(runsDir, 'not-a-run')), /run\.json: not found: .* is not a run folder/);
  const badConfig = makeRun('2026-11-23T10-00-00-a', { status: 'completed', startedAt: '2026-11-23T10:00:00.000Z' }, { graph: graphA });
  const config = JSON.parse(fs.readFileSync(path.join(badConfig, RUN_FILES.config), 'utf8')) as { stages: { epochs: unknown }[] };
  config.stages[0]!.epochs = 'three';
  fs.writeFileSync(path.join(badConfig, RUN_FILES.config), JSON.stringify(config));
  const entry = readRun(badConfig);
  assert.equal(entry.graphFile, undefined);
  assert.match(entry.problem ?? '', /config\.json: stages\[0\]\.epochs: Invalid input: expected number, received string/);
  fs.rmSync(badConfig, { recursive: true });
});

test('runsOfGraph matches the recorded graph file', () => {
  const runs = listRuns([runsDir]);
  assert.deepEqual(runsOfGraph(runs, graphA).map((r) => r.runDir), [failedEarlyA, stoppedA, oldCompleted]);
  assert.deepEqual(runsOfGraph(runs, path.join(tmp, '.', 'b.latent.json')).map((r) => r.runDir), [runningB]);
  assert.deepEqual(runsOfGraph(runs, path.join(tmp, 'c.latent.json')), []);
});

test('canResume: only stopped or failed runs with a checkpoint, with the reason otherwise', () => {
  const run = (dir: string) => readRun(dir);
  assert.deepEqual(canResume(run(stoppedA)), { ok: true });
  const completed = canResume(run(oldCompleted));
  assert.equal(completed.ok, false);
  assert.match(!completed.ok ? completed.reason : '', /finished all its epochs/);
  const early = canResume(run(failedEarlyA));
  assert.match(!early.ok ? early.reason : '', /failed before its first epoch ended.*no checkpoint/);
  assert.match((canResume(run(runningB)) as { reason: string }).reason, /still training/);
});

test('hasTrainedWeights follows the checkpoint', () => {
  assert.equal(hasTrainedWeights(readRun(oldCompleted)).ok, true);
  assert.equal(hasTrainedWeights(readRun(failedEarlyA)).ok, false);
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
  assert.equal(describeRun(readRun(oldCompleted)), 'completed · val 0.1234 · 3/3 ep · 1m05s · wasm');
  assert.equal(describeRun(readRun(stoppedA)), 'stopped · val 0.2000 · 1/5 ep · 9s');
  assert.equal(formatDuration(3725), '1h02m');
});
