/**
 * Killing the training worker at any moment loses nothing: 20 SIGKILLs at seeded random points
 * (anywhere in the run, just after an epoch is recorded while its checkpoint is written, and after
 * the last epoch while the model is written), each followed by a look at the run folder and a resume.
 * Every folder must read back (run.json failed or completed, metrics.jsonl readable); one with a
 * checkpoint resumes from it and finishes with every epoch recorded once; one without is refused
 * with the sentence. Real MNIST, the dense sample, small limits so a run takes a few seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FromWorker, TrainRequest } from '../../src/core/protocol';
import { mulberry32 } from '../../src/data/random';
import { TrainingFailure, TrainingSession } from '../../src/run/client';
import { readMetrics, readOptionalRunJson, readRunJson } from '../../src/run/runFolder';
import { scanRuns } from '../../src/run/runStore';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-faults-'));
const densePath = path.join(SAMPLES_DIR, 'dense-autoencoder.latent.json');
const EPOCHS = 3;
const base = { graphText: sampleText('dense-autoencoder'), graphPath: densePath, epochs: EPOCHS, batchSize: 64, limitSamples: 640, limitValidation: 256, backend: 'wasm' as const, batchProgressMs: 0 };

type Kill =
  | { readonly kind: 'starting'; readonly afterMs: number }
  | { readonly kind: 'anywhere'; readonly afterMs: number }
  | { readonly kind: 'batch'; readonly epoch: number; readonly batch: number }
  | { readonly kind: 'checkpoint'; readonly epoch: number; readonly afterMs: number }
  | { readonly kind: 'model'; readonly afterMs: number };

function describeKill(k: Kill): string {
  switch (k.kind) {
    case 'starting':
      return `${k.afterMs} ms after the worker started`;
    case 'anywhere':
      return `${k.afterMs} ms after the run folder was made`;
    case 'batch':
      return `during batch ${k.batch} of epoch ${k.epoch}`;
    case 'checkpoint':
      return `${k.afterMs} ms after epoch ${k.epoch} was recorded (its checkpoint being written)`;
    case 'model':
      return `${k.afterMs} ms after the last epoch was recorded (the model being written)`;
  }
}

/** Starts a run and SIGKILLs its worker at `kill`; resolves with the run folder (if one was made) and how it ended. */
async function killed(runsDir: string, kill: Kill): Promise<{ runDir?: string; outcome: 'killed' | 'finished' }> {
  let timer: NodeJS.Timeout | undefined;
  let runDir: string | undefined;
  const hit = (s: TrainingSession, ms: number): void => {
    timer = setTimeout(() => s.pid !== undefined && process.kill(s.pid, 'SIGKILL'), ms);
  };
  const session: TrainingSession = new TrainingSession(
    { ...base, runsDir } satisfies Partial<TrainRequest> as TrainRequest,
    {
      onMessage: (m: FromWorker) => {
        if (m.type === 'started') runDir = m.runDir;
        if (timer !== undefined) return;
        if (m.type === 'started' && kill.kind === 'anywhere') hit(session, kill.afterMs);
        if (m.type === 'batch' && kill.kind === 'batch' && m.epoch === kill.epoch && m.batch === kill.batch) hit(session, 0);
        if (m.type !== 'epoch') return;
        if (kill.kind === 'checkpoint' && m.record.epoch === kill.epoch) hit(session, kill.afterMs);
        if (kill.kind === 'model' && m.record.epoch === EPOCHS) hit(session, kill.afterMs);
      },
    },
  );
  if (kill.kind === 'starting') hit(session, kill.afterMs);
  const outcome = await session.result.then(
    () => 'finished' as const,
    (e: unknown) => {
      assert.ok(e instanceof TrainingFailure, String(e));
      assert.match(e.message, /^The training worker was killed by signal SIGKILL \(9\) before finishing/);
      return 'killed' as const;
    },
  );
  clearTimeout(timer);
  return { runDir, outcome };
}

test('20 SIGKILLs at random points: every run folder reads back, and every one with a checkpoint resumes and finishes', async (t) => {
  // How long an uninterrupted run takes once its folder exists, to spread the "anywhere" kills over it.
  let startedAt = 0;
  const reference = await new TrainingSession({ ...base, runsDir: path.join(tmp, 'reference') } as TrainRequest, { onMessage: (m) => m.type === 'started' && (startedAt = performance.now()) }).result;
  const runMs = performance.now() - startedAt;
  assert.equal(reference.epochsCompleted, EPOCHS);
  const batches = Math.ceil(base.limitSamples / base.batchSize);

  const rng = mulberry32(17);
  const kills: Kill[] = [
    ...Array.from({ length: 2 }, (): Kill => ({ kind: 'starting', afterMs: Math.round(100 + rng() * 400) })),
    ...Array.from({ length: 6 }, (): Kill => ({ kind: 'anywhere', afterMs: Math.round(rng() * runMs) })),
    ...Array.from({ length: 4 }, (): Kill => ({ kind: 'batch', epoch: 1 + Math.floor(rng() * EPOCHS), batch: 1 + Math.floor(rng() * batches) })),
    ...Array.from({ length: 5 }, (_, i): Kill => ({ kind: 'checkpoint', epoch: 1 + (i % EPOCHS), afterMs: Math.round(rng() * 10) })),
    ...Array.from({ length: 3 }, (): Kill => ({ kind: 'model', afterMs: Math.round(rng() * 10) })),
  ];
  const log: string[] = [];
  const tally = { kills: kills.length, killedBeforeTheRunFolder: 0, killedWithoutCheckpoint: 0, finishedBeforeTheKill: 0, resumed: 0, refusedWithSentence: 0 };
  for (const [i, kill] of kills.entries()) {
    const runsDir = path.join(tmp, `kill-${i}`);
    const what = `kill ${i + 1} (${describeKill(kill)})`;
    const { runDir, outcome } = await killed(runsDir, kill);
    const note = (how: string): void => void log.push(`${what}: ${how}`);
    // Whatever the moment, every folder under runs/ reads as a run (none half-made and unreadable).
    const scan = scanRuns([runsDir]);
    assert.deepEqual(scan.unreadable, [], `${what}: unreadable run folders`);
    if (!runDir || !fs.existsSync(path.join(runDir, 'run.json'))) {
      tally.killedBeforeTheRunFolder++;
      note('before the run folder existed');
      continue;
    }
    const status = readRunJson(runDir, 'status');
    assert.ok(status.ok, `${what}: run.json: ${!status.ok ? status.error : ''}`);
    assert.ok(readMetrics(runDir).ok, `${what}: metrics.jsonl reads back`);
    const checkpoint = readOptionalRunJson(runDir, 'checkpoint');
    assert.ok(checkpoint.ok, `${what}: checkpoint.json: ${!checkpoint.ok ? checkpoint.error : ''}`);
    if (outcome === 'finished' || status.value.status === 'completed') {
      assert.equal(status.value.status, 'completed', what);
      tally.finishedBeforeTheKill++;
      note('the run had finished');
      continue;
    }
    assert.equal(status.value.status, 'failed', what);
    assert.equal(status.value.epochsCompleted, checkpoint.value?.epochsCompleted ?? 0, `${what}: run.json counts the epochs its checkpoint holds`);
    const resume = new TrainingSession({ ...base, runsDir, resumeFrom: runDir } as TrainRequest);
    if (checkpoint.value === null) {
      tally.killedWithoutCheckpoint++;
      await assert.rejects(resume.result, /before its first epoch ended: nothing to resume; train again/, what);
      tally.refusedWithSentence++;
      note('no checkpoint yet; resume refused with the sentence');
      continue;
    }
    const done = await resume.result;
    assert.equal(done.epochsCompleted, EPOCHS, what);
    const metrics = readMetrics(runDir);
    assert.ok(metrics.ok);
    assert.deepEqual(metrics.value.map((r) => r.epoch), [0, 1, 2, 3], `${what}: each epoch recorded once`);
    assert.ok(metrics.value.slice(1).every((r) => Number.isFinite(r.loss) && Number.isFinite(r.valLoss)), what);
    const final = readRunJson(runDir, 'status');
    assert.equal(final.ok ? final.value.status : final.error, 'completed', what);
    assert.ok(fs.existsSync(path.join(runDir, 'model', 'model.json')), `${what}: the trained model is written`);
    tally.resumed++;
    note(`failed after ${checkpoint.value.epochsCompleted} checkpointed epoch(s); resumed and finished`);
  }
  t.diagnostic(JSON.stringify(tally));
  t.diagnostic(log.join('\n'));
  assert.equal(tally.resumed + tally.refusedWithSentence + tally.finishedBeforeTheKill + tally.killedBeforeTheRunFolder, kills.length);
  // The schedule is seeded: about half the kills land after the first checkpoint (10 of 20 here).
  assert.ok(tally.resumed >= 8, `kills that leave a checkpoint to resume from: ${JSON.stringify(tally)}`);
  for (const kind of ['batch', 'checkpoint', 'model']) assert.ok(log.some((l) => l.includes(kind === 'batch' ? 'during batch' : kind === 'checkpoint' ? 'checkpoint being written' : 'model being written') && l.endsWith('resumed and finished')), `a ${kind} kill resumed`);
});
