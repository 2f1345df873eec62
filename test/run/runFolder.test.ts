/**
 * The run folder format's one reader and writer (src/run/runFolder.ts over src/core/runFormat.ts):
 * every file round-trips, and every reader fed a corrupt copy of its file answers with a sentence
 * naming the file and the field — the JSON readers, metrics.jsonl, the run store, the panel's
 * snapshot, opening a run for a job and the checkpoint's manifest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../src/core/errors';
import { type EpochRecord, RUN_FILES, RUN_FORMAT_VERSION, RUN_JSON_FILES, type RunJsonKind } from '../../src/core/runFormat';
import { snapshotFromRunFolder } from '../../src/run/panelSnapshot';
import { appendMetrics, readMetrics, readOptionalRunJson, readRunJson, requireRunJson, runFile, trimMetrics, writeRunJson } from '../../src/run/runFolder';
import { readRun } from '../../src/run/runStore';
import { openSavedRun } from '../../src/run/savedRun';
import { fakeRunFiles } from '../helpers/runFolders';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-runfolder-'));
const KINDS = Object.keys(RUN_JSON_FILES) as RunJsonKind[];

/** A run folder with every JSON file written through the writer. */
function makeRunFolder(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, RUN_FILES.checkpoint), { recursive: true });
  const files = fakeRunFiles(dir, path.join(tmp, 'g.latent.json'));
  for (const kind of KINDS) writeRunJson(dir, kind, files[kind] as never);
  fs.writeFileSync(path.join(dir, RUN_FILES.graph), '{}\n');
  return dir;
}

/** Each file's first field of a type that can be wrong, and what to put there instead. */
const WRONG: Record<RunJsonKind, { field: string; path: string; value: unknown }> = {
  status: { field: 'epochsCompleted', path: 'epochsCompleted', value: 'three' },
  config: { field: 'seed', path: 'seed', value: 'forty-two' },
  confusion: { field: 'epoch', path: 'epoch', value: -1 },
  evaluation: { field: 'loss', path: 'loss', value: 'low' },
  pretraining: { field: 'before', path: 'before.testAccuracy', value: { valLoss: 1, valAccuracy: 1, testLoss: 1, testAccuracy: 'high' } },
  anomaly: { field: 'scores', path: 'scores[1]', value: [0.1, 'x'] },
  checkpoint: { field: 'rngState', path: 'rngState', value: -5 },
  normalization: { field: 'div', path: 'div[1]', value: [1, 0] },
};

test('every JSON file written through the writer reads back equal', () => {
  const dir = makeRunFolder('round-trip');
  const files = fakeRunFiles(dir, path.join(tmp, 'g.latent.json'));
  for (const kind of KINDS) {
    const r = readRunJson(dir, kind);
    assert.ok(r.ok, `${kind}: ${!r.ok ? r.error : ''}`);
    assert.deepEqual(r.value, { ...(kind === 'config' ? { engine: 'tfjs', overrides: {} } : {}), ...files[kind] }, kind);
  }
});

test('a writer refuses to write a file its readers would refuse', () => {
  const dir = makeRunFolder('refuse');
  const status = fakeRunFiles(dir, 'g').status;
  assert.throws(() => writeRunJson(dir, 'status', { ...status, epochsCompleted: -1 }), /run\.json: refusing to write an invalid run\.json: epochsCompleted: /);
  assert.equal(requireRunJson(dir, 'status').epochsCompleted, status.epochsCompleted, 'the old file stays');
});

test('each JSON reader fed a corrupt copy of its file names the file and the field', () => {
  for (const kind of KINDS) {
    const dir = makeRunFolder(`corrupt-${kind}`);
    const file = runFile(dir, kind);
    const good = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;

    fs.writeFileSync(file, JSON.stringify({ ...good, [WRONG[kind].field]: WRONG[kind].value }));
    const wrong = readRunJson(dir, kind);
    assert.equal(wrong.ok, false, kind);
    assert.ok(!wrong.ok && wrong.error.startsWith(`${file}: ${WRONG[kind].path}: `), `${kind}: ${!wrong.ok ? wrong.error : ''}`);
    assert.throws(() => requireRunJson(dir, kind), (e: unknown) => e instanceof UserError && e.file === file && e.message.startsWith(`${file}: ${WRONG[kind].path}`));

    fs.writeFileSync(file, JSON.stringify(good).slice(0, 40));
    const truncated = readOptionalRunJson(dir, kind);
    assert.ok(!truncated.ok && truncated.error.startsWith(`${file}: not valid JSON (`), `${kind}: ${!truncated.ok ? truncated.error : ''}`);

    const { [WRONG[kind].field]: _gone, ...missing } = good;
    fs.writeFileSync(file, JSON.stringify(missing));
    const lacking = readRunJson(dir, kind);
    assert.ok(!lacking.ok && lacking.error.startsWith(`${file}: ${WRONG[kind].field}: `), `${kind}: ${!lacking.ok ? lacking.error : ''}`);

    fs.rmSync(file);
    const gone = readRunJson(dir, kind);
    assert.ok(!gone.ok && gone.error === `${file}: not found`, kind);
    const optional = readOptionalRunJson(dir, kind);
    assert.ok(optional.ok && optional.value === null, `${kind}: a missing optional file is no error`);
  }
});

test('run.json without a format version is the first version; a newer one is refused with a sentence', () => {
  const dir = makeRunFolder('versions');
  const file = runFile(dir, 'status');
  const { runFormatVersion: _v, ...before } = requireRunJson(dir, 'status');
  fs.writeFileSync(file, JSON.stringify(before));
  assert.equal(requireRunJson(dir, 'status').runFormatVersion, RUN_FORMAT_VERSION);
  fs.writeFileSync(file, JSON.stringify({ ...before, runFormatVersion: RUN_FORMAT_VERSION + 1 }));
  const newer = readRunJson(dir, 'status');
  assert.ok(!newer.ok && newer.error === `${file}: runFormatVersion: the run was written by a newer Latent Studio (run format ${RUN_FORMAT_VERSION + 1}; this one reads up to ${RUN_FORMAT_VERSION}): update Latent Studio to open it`);
});

const record = (epoch: number): EpochRecord => ({ stage: 's0', stageIndex: 0, epoch, loss: 0.5, valLoss: 0.4, metrics: {}, seconds: 1, samplesPerSec: 100, backend: 'wasm', liveTensors: 9 });

test('metrics.jsonl: a bad line is named by number; half a last line (a killed append) is left out, and trimmed away', () => {
  const dir = makeRunFolder('metrics');
  const file = path.join(dir, RUN_FILES.metrics);
  assert.deepEqual(readMetrics(dir), { ok: true, value: [] }, 'no file: no epochs yet');
  for (const e of [0, 1, 2]) appendMetrics(dir, record(e));
  fs.appendFileSync(file, '{"stage": "s0", "stageIn');
  const half = readMetrics(dir);
  assert.ok(half.ok);
  assert.deepEqual(half.value.map((r) => r.epoch), [0, 1, 2]);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines[1] = JSON.stringify({ ...record(1), seconds: 'slow' });
  fs.writeFileSync(file, lines.join('\n'));
  const bad = readMetrics(dir);
  assert.ok(!bad.ok && bad.error === `${file}: line 2: seconds: Invalid input: expected number, received string`, !bad.ok ? bad.error : '');
  assert.equal(trimMetrics(dir, (r) => r.epoch <= 2), 2, 'the bad line and the half line go');
  assert.deepEqual(readMetrics(dir), { ok: true, value: [record(0), record(2)] });
});

test('the panel, the run store and opening a run for a job each say which file is corrupt, and what in it', () => {
  const dir = makeRunFolder('readers');
  const confusion = runFile(dir, 'confusion');
  fs.writeFileSync(confusion, JSON.stringify({ ...requireRunJson(dir, 'confusion'), labels: 'none' }));
  fs.writeFileSync(path.join(dir, RUN_FILES.metrics), `${JSON.stringify({ epoch: 1 })}\n${JSON.stringify(record(2))}\n`);
  const snapshot = snapshotFromRunFolder(dir);
  assert.deepEqual(snapshot.problems, [
    `${path.join(dir, RUN_FILES.metrics)}: line 1: stage: Invalid input: expected string, received undefined`,
    `${confusion}: labels: Invalid input: expected array, received string`,
  ]);
  assert.equal(snapshot.classifier, null);
  assert.equal(snapshot.status, 'completed', 'the rest of the run is still shown');

  const config = runFile(dir, 'config');
  fs.writeFileSync(config, '{"graphFile": 3}');
  assert.match(readRun(dir).problem ?? '', /config\.json: graphFile: Invalid input: expected string, received number$/);
  assert.throws(() => openSavedRun(dir, 'evaluate'), (e: unknown) => e instanceof UserError && e.file === config && /config\.json: graphFile: .*; the run folder cannot be used$/.test(e.message));
  fs.rmSync(config);
  assert.throws(() => openSavedRun(dir, 'inspect'), /config\.json: not found; the run folder cannot be used/);
  fs.writeFileSync(runFile(dir, 'status'), '[]');
  assert.throws(() => openSavedRun(dir, 'inspect'), /run\.json: \(root\): Invalid input: expected object, received array; this is not a usable run folder/);
});
