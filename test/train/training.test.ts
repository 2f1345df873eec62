/**
 * The training worker end to end, in a real child process, on real MNIST: learning, the run folder,
 * cancelling mid-epoch, and every failure path the host must survive.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { parseJsonText } from '../../src/core/canonical';
import { type FromWorker, type TrainRequest } from '../../src/core/protocol';
import { EpochRecordSchema, type EpochRecord, RUN_FILES } from '../../src/core/runFormat';
import { batchToFloat, loadDataset, splitIndices } from '../../src/data/index';
import { TrainingAborted, TrainingFailure, TrainingSession } from '../../src/run/client';
import { loadModel } from '../../src/train/modelFiles';
import { decodePng } from '../../src/train/png';
import { requireRunJson, sha256 } from '../../src/run/runFolder';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';
import { OVERFLOW_SENTENCE, writeOverflowingGraph } from '../helpers/overflow';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-train-'));
const densePath = path.join(SAMPLES_DIR, 'dense-autoencoder.latent.json');

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

interface Outcome {
  messages: FromWorker[];
  epochs: EpochRecord[];
}

function run(request: Partial<TrainRequest> & { graphText?: string; graphPath?: string }, onMessage?: (m: FromWorker, s: TrainingSession) => void): { session: TrainingSession; outcome: Outcome } {
  const outcome: Outcome = { messages: [], epochs: [] };
  const session: TrainingSession = new TrainingSession(
    { graphText: sampleText('dense-autoencoder'), graphPath: densePath, runsDir: path.join(tmp, 'runs'), ...request },
    {
      onMessage: (m) => {
        outcome.messages.push(m);
        if (m.type === 'epoch') outcome.epochs.push(m.record);
        onMessage?.(m, session);
      },
    },
  );
  return { session, outcome };
}

/** Binary cross-entropy of a saved model on the run's validation split, recomputed here. */
async function savedValLoss(runDir: string): Promise<number> {
  const config = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.config), 'utf8')) as { seed: number; split: { validation: number; test: number } };
  const ds = await loadDataset({ kind: 'mnist' });
  const split = splitIndices(ds.count, { validation: config.split.validation === 1000 ? 0.1 : 0.1, test: 0.2 }, config.seed);
  const model = await loadModel(path.join(runDir, RUN_FILES.model));
  const x = tf.tensor2d(batchToFloat(ds, split.validation, 0, split.validation.length), [split.validation.length, 784]);
  const y = model.predict(x) as tf.Tensor;
  const loss = tf.mean(tf.metrics.binaryCrossentropy(x, y)).dataSync()[0]!;
  tf.dispose([x, y]);
  model.dispose();
  return loss;
}

test('the dense autoencoder learns on real MNIST: validation loss drops by a third in 3 epochs; the run folder is complete', async () => {
  const { session, outcome } = run({ epochs: 3 });
  const done = await session.result;
  assert.equal(done.stopped, false);
  assert.equal(done.epochsCompleted, 3);
  const [initial, , , last] = outcome.epochs;
  assert.equal(outcome.epochs.length, 4);
  assert.equal(initial!.epoch, 0);
  assert.ok(last!.valLoss! <= (2 / 3) * initial!.valLoss!, `val loss ${initial!.valLoss} -> ${last!.valLoss}`);
  assert.ok(outcome.epochs.slice(1).every((r) => r.loss !== null && r.seconds > 0 && r.samplesPerSec > 0 && r.backend === 'wasm'));
  // No tensor leak: the live count is flat from epoch to epoch.
  const live = outcome.epochs.slice(1).map((r) => r.liveTensors);
  assert.deepEqual(live, [live[0], live[0], live[0]]);
  const started = outcome.messages.find((m) => m.type === 'started');
  assert.ok(started && started.type === 'started');
  assert.deepEqual(started.backend.skipped.map((s) => s.name), ['tfjs-node-gpu', 'tfjs-node', 'webgpu']);
  assert.ok(outcome.messages.some((m) => m.type === 'batch'));
  assert.equal(outcome.messages.filter((m) => m.type === 'preview').length, 3);

  const dir = done.runDir;
  assert.match(path.basename(dir), /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-dense-autoencoder$/);
  assert.equal(fs.readFileSync(path.join(dir, RUN_FILES.graph), 'utf8'), sampleText('dense-autoencoder'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.equal(config.graphSha256, sha256(sampleText('dense-autoencoder')));
  assert.equal(config.seed, 42);
  assert.deepEqual((config.split as Record<string, number>).train, 7000);
  const lines = fs.readFileSync(path.join(dir, RUN_FILES.metrics), 'utf8').trim().split('\n').map((l) => EpochRecordSchema.parse(JSON.parse(l)));
  assert.deepEqual(lines, outcome.epochs);
  assert.deepEqual({ ...requireRunJson(dir, 'status'), startedAt: '', endedAt: '', pid: 0 }, {
    runFormatVersion: 1, status: 'completed', graphName: 'Dense autoencoder', startedAt: '', endedAt: '', backend: 'wasm', epochsCompleted: 3, bestValLoss: last!.valLoss, pid: 0,
  });
  const png = decodePng(fs.readFileSync(path.join(dir, RUN_FILES.reconstructions)));
  assert.deepEqual([png.width, png.height], [10 * 56 + 11 * 2, 2 * 56 + 3 * 2]);
  // The saved model is the trained one: it reproduces the last validation loss.
  assert.ok(Math.abs((await savedValLoss(dir)) - last!.valLoss!) < 1e-3);
});

// How long a Stop takes is measured by `npm run bench` (bench/streaming.ts, stopMs); here, that it stops after the running batch.
test('cancel mid-epoch: stops after the running batch and keeps the last completed epoch', async () => {
  let cancelled = false;
  let batchesAfter = 0;
  const { session, outcome } = run({ epochs: 30, batchSize: 64, batchProgressMs: 0 }, (m, s) => {
    if (m.type !== 'batch' || m.epoch !== 2) return;
    if (cancelled) batchesAfter++;
    else if (m.batch === 20) {
      cancelled = true;
      s.cancel();
    }
  });
  const done = await session.result;
  assert.ok(cancelled);
  // Batches run while the cancel crosses the IPC channel: a few at most, never the rest of the epoch's 110.
  assert.ok(batchesAfter <= 5, `${batchesAfter} batches ran after the Stop`);
  assert.equal(done.stopped, true);
  assert.equal(done.epochsCompleted, 1);
  assert.equal(requireRunJson(done.runDir, 'status').status, 'stopped');
  const epoch1 = outcome.epochs.find((r) => r.epoch === 1)!;
  assert.ok(Math.abs((await savedValLoss(done.runDir)) - epoch1.valLoss!) < 1e-3, 'saved weights are epoch 1, not mid-epoch 2');
});

test('a killed worker fails the run with a sentence and marks run.json failed', async () => {
  const { session } = run({ epochs: 30 }, (m, s) => {
    if (m.type === 'epoch' && m.record.epoch === 1) process.kill(s.pid!, 'SIGKILL');
  });
  const failure = await session.result.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(failure instanceof TrainingFailure);
  assert.ok(!(failure instanceof TrainingAborted), 'killed from outside: failed, not stopped');
  assert.equal(failure.message, 'The training worker was killed by signal SIGKILL (9) before finishing (kill -9, or the system ending it when memory ran out).');
  assert.ok(failure.runDir);
  const status = requireRunJson(failure.runDir, 'status');
  assert.equal(status.status, 'failed');
  assert.equal(status.error, failure.message);
});

test('aborted by the user (a second Ctrl-C): run.json says stopped at the last completed epoch, and resume finishes the run', async () => {
  const { session } = run({ epochs: 2, batchProgressMs: 0 }, (m, s) => {
    if (m.type === 'batch' && m.epoch === 2 && m.batch === 5) s.kill();
  });
  const aborted = await session.result.then(
    () => assert.fail('expected the abort'),
    (e: unknown) => e,
  );
  assert.ok(aborted instanceof TrainingAborted, String(aborted));
  assert.equal(aborted.message, 'Aborted by the user before finishing: the run keeps its last completed epoch, and Resume continues from there.');
  const status = requireRunJson(aborted.runDir!, 'status');
  assert.equal(status.status, 'stopped');
  assert.equal(status.epochsCompleted, 1);
  assert.equal(status.pid, undefined, 'no process is recorded as running it');
  const resumed = await run({ resumeFrom: aborted.runDir, epochs: 2 }).session.result;
  assert.equal(resumed.epochsCompleted, 2);
  assert.equal(requireRunJson(aborted.runDir!, 'status').status, 'completed');
});

async function failureOf(request: Partial<TrainRequest>): Promise<TrainingFailure> {
  const { session } = run(request);
  const e = await session.result.then(
    () => assert.fail('expected a failure'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof TrainingFailure, String(e));
  return e;
}

test('a graph with errors is refused with every problem, before any run folder exists', async () => {
  const doc = parseJsonText(sampleText('dense-autoencoder'));
  assert.ok(doc.ok);
  const broken = JSON.parse(JSON.stringify(doc.value)) as { nodes: { id: string; type?: string; params: Record<string, unknown> }[]; edges: unknown[] };
  broken.nodes.find((n) => n.id === 'decoder')!.params.stages = [{ kind: 'dense', units: 10 }];
  broken.nodes.push({ id: 'stray', type: 'Convolution', params: {} });
  const runsDir = path.join(tmp, 'never');
  const f = await failureOf({ graphText: JSON.stringify(broken), runsDir });
  assert.match(f.message, /has 3 errors; the first: .*Fix them before training\.\n/);
  assert.match(f.message, /Unknown block type "Convolution"/);
  assert.match(f.message, /Convolution "stray" has no input/);
  assert.match(f.message, /outputs 10 but the loss compares it with the 784-vector input/);
  assert.equal(f.detail, undefined, 'no stack trace for a user error');
  assert.equal(fs.existsSync(runsDir), false);
});

test('a bad dataset file is one clear error naming the file', async () => {
  const images = path.join(tmp, 'bad-images-idx3-ubyte');
  fs.writeFileSync(images, Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 5]));
  const f = await failureOf({ data: `idx:${images}` });
  assert.match(f.message, /bad-images-idx3-ubyte/);
  assert.match(f.message, /magic/i);
  const f2 = await failureOf({ data: 'cifar10' });
  assert.match(f2.message, /cifar10/);
});

test('a validation loss that is not finite stops the run before the epoch is recorded or checkpointed', async () => {
  const graphPath = writeOverflowingGraph(tmp);
  const runsDir = path.join(tmp, 'overflow-runs');
  const f = await failureOf({ graphText: fs.readFileSync(graphPath, 'utf8'), graphPath, runsDir });
  assert.match(f.message, OVERFLOW_SENTENCE);
  const runDir = path.join(runsDir, fs.readdirSync(runsDir)[0]!);
  const metrics = path.join(runDir, RUN_FILES.metrics);
  assert.equal(fs.existsSync(metrics) ? fs.readFileSync(metrics, 'utf8').trim() : '', '', 'no epoch was recorded');
  assert.equal(fs.existsSync(path.join(runDir, RUN_FILES.checkpoint)), false, 'nothing was checkpointed');
  const status = requireRunJson(runDir, 'status');
  assert.equal(status.status, 'failed');
  assert.match(status.error ?? '', /The validation loss is Infinity/);
});

test('a diverging model stops with a message naming the stage, epoch and batch', async () => {
  const graph = {
    formatVersion: 1,
    name: 'diverges',
    nodes: [
      { id: 'input', type: 'Input', params: { shape: [784] } },
      { id: 'd1', type: 'Dense', params: { units: 64, activation: 'linear' } },
      { id: 'd2', type: 'Dense', params: { units: 784, activation: 'linear' } },
      { id: 'out', type: 'Output', params: { target: 'input' } },
    ],
    edges: [
      { from: 'input', to: 'd1' },
      { from: 'd1', to: 'd2' },
      { from: 'd2', to: 'out' },
    ],
    training: { loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 100, epochs: 3, batchSize: 32 },
  };
  const f = await failureOf({ graphText: JSON.stringify(graph), limitSamples: 2000, batchProgressMs: 0 });
  assert.match(f.message, /The loss became (NaN|Infinity) in stage "train", epoch 1, batch \d+ of 63: lower the learning rate \(now 100\)/);
  assert.equal(requireRunJson(f.runDir!, 'status').status, 'failed');
});
