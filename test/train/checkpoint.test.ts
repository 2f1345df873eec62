/**
 * Checkpoints and resuming: the checkpoint files themselves (round trip, every way they can be
 * wrong), and resuming real MNIST runs in the real worker — a stopped run resumed to the end
 * matches an uninterrupted one, a killed run resumes across a stage boundary, and runs that
 * cannot resume are refused with a sentence, untouched.
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
import { type CompiledGraph, compileGraph } from '../../src/compile/compile';
import { Mulberry32, mulberry32 } from '../../src/data/random';
import {
  CheckpointError,
  applyLayerWeights,
  checkpointOrder,
  loadCheckpoint,
  readCheckpointMeta,
  restoreOptimizer,
  saveCheckpoint,
} from '../../src/train/checkpoint';
import { TrainingFailure, TrainingSession } from '../../src/run/client';
import { TrainingError } from '../../src/train/errors';
import { makeOptimizer } from '../../src/train/optimizers';
import { analyzeForTraining } from '../../src/train/prepare';
import { train } from '../../src/train/trainer';
import { requireRunJson, sha256, writeStatus } from '../../src/run/runFolder';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';
import { UserError } from '../../src/core/errors';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-ckpt-'));
const densePath = path.join(SAMPLES_DIR, 'dense-autoencoder.latent.json');
const classifierPath = path.join(SAMPLES_DIR, 'autoencoder-classifier.latent.json');

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

function compileText(text: string): CompiledGraph {
  const analysis = analyzeForTraining(text, 'test.latent.json');
  return compileGraph(analysis, { seed: analysis.document!.training.seed });
}

/** Every layer weight of a compiled graph as plain arrays, keyed by variable name. */
function weightsOf(compiled: CompiledGraph): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const layers of compiled.layersByNode.values()) for (const l of layers) for (const w of l.weights) out.set(w.originalName, Float32Array.from(w.read().dataSync() as Float32Array));
  return out;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-3, Math.abs(a[i]!), Math.abs(b[i]!)));
  return worst;
}

test('Mulberry32 yields the same stream as mulberry32 and continues exactly from a saved state', () => {
  const a = mulberry32(7);
  const b = new Mulberry32(7);
  for (let i = 0; i < 100; i++) assert.equal(b.next(), a());
  const state = b.state;
  const ahead = [b.next(), b.next(), b.next()];
  const c = new Mulberry32(0);
  c.state = state;
  assert.deepEqual([c.next(), c.next(), c.next()], ahead);
  assert.throws(() => (c.state = -1), RangeError);
});

test('a checkpoint round-trips layer weights, optimizer state and shuffle order; the next step matches', async () => {
  const text = sampleText('dense-autoencoder');
  const runDir = fs.mkdtempSync(path.join(tmp, 'unit-'));
  const a = compileText(text);
  const model = a.modelForOutput('reconstruction');
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optA = makeOptimizer('adam', 0.01);
  const x = tf.randomUniform([8, 784], 0, 1, 'float32', 3);
  const step = (m: tf.LayersModel, opt: tf.Optimizer, v: tf.Variable[]): void =>
    tf.tidy(() => {
      opt.minimize(() => tf.mean(tf.metrics.binaryCrossentropy(x, m.apply(x) as tf.Tensor)), false, v);
    });
  step(model, optA, vars);
  step(model, optA, vars);
  const order = Uint32Array.from([5, 3, 9, 1]);
  const meta = await saveCheckpoint(runDir, a, optA, {
    stageIndex: 0, stageName: 'train', stageEpoch: 1, stageEpochs: 3, epochsCompleted: 1, bestValLoss: 0.25,
    graphSha256: sha256(text), backend: 'cpu', optimizerName: 'adam', rngState: 123456789, order,
  });
  // Saving twice keeps one weights file: the one checkpoint.json names.
  const meta2 = await saveCheckpoint(runDir, a, optA, { stageIndex: 0, stageName: 'train', stageEpoch: 1, stageEpochs: 3, epochsCompleted: 1, bestValLoss: 0.25, graphSha256: sha256(text), backend: 'cpu', optimizerName: 'adam', rngState: 123456789, order });
  assert.notEqual(meta2.weightsFile, meta.weightsFile);
  assert.deepEqual(fs.readdirSync(path.join(runDir, 'checkpoint')).sort(), ['checkpoint.json', meta2.weightsFile].sort());
  assert.deepEqual(readCheckpointMeta(runDir), meta2);
  assert.equal(meta2.weights.filter((w) => w.name.startsWith('layer/')).length, 14);
  // adam: iterations + first and second moments of each of the 14 trainable weights.
  assert.equal(meta2.weights.filter((w) => w.name.startsWith('optimizer/')).length, 1 + 2 * 14);
  assert.deepEqual(meta2.weights.filter((w) => w.name.startsWith('state/')).map((w) => w.name), ['state/adam/accBeta1', 'state/adam/accBeta2', 'state/order']);

  const b = compileText(text);
  const before = weightsOf(b);
  const ckpt = loadCheckpoint(runDir, { graphSha256: sha256(text) });
  applyLayerWeights(b, ckpt);
  const wa = weightsOf(a);
  const wb = weightsOf(b);
  assert.equal(wa.size, 14);
  assert.ok(before.get('encoder.0/kernel') && wa.get('encoder.0/kernel'));
  assert.notDeepEqual(before.get('encoder.0/kernel'), wa.get('encoder.0/kernel'), 'a fresh compile starts elsewhere');
  for (const [k, v] of wa) assert.deepEqual(wb.get(k), v, k);
  const modelB = b.modelForOutput('reconstruction');
  const varsB = modelB.trainableWeights.map((w) => w.read() as tf.Variable);
  const optB = makeOptimizer('adam', 0.01);
  await restoreOptimizer(optB, 'adam', varsB, ckpt);
  assert.deepEqual(checkpointOrder(ckpt, Uint32Array.from([1, 3, 5, 9])), order);
  assert.equal(checkpointOrder(ckpt, Uint32Array.from([1, 3, 5, 8])), undefined, 'other samples: no order');
  ckpt.dispose();
  // One more step on each: bit-identical only if adam's moments, step count and beta powers came back too.
  step(model, optA, vars);
  step(modelB, optB, varsB);
  const [na, nb] = [weightsOf(a), weightsOf(b)];
  for (const [k, v] of na) assert.equal(maxRelDiff(v, nb.get(k)!), 0, k);
  assert.ok(maxRelDiff(na.get('encoder.0/kernel')!, wa.get('encoder.0/kernel')!) > 1e-4, 'the step moved the weights');
  const again = loadCheckpoint(runDir);
  await assert.rejects(restoreOptimizer(makeOptimizer('sgd', 0.1), 'sgd', varsB, again), /optimizer is adam but stage "train" uses sgd/);
  again.dispose();
  tf.dispose([x]);
  optA.dispose();
  optB.dispose();
  a.dispose();
  b.dispose();
});

test('every optimizer continues bit-identically from a checkpoint', async () => {
  const text = sampleText('dense-autoencoder');
  const x = tf.randomUniform([8, 784], 0, 1, 'float32', 5);
  for (const name of ['adadelta', 'rmsprop', 'sgd'] as const) {
    const runDir = fs.mkdtempSync(path.join(tmp, `${name}-`));
    const setup = (): { g: CompiledGraph; m: tf.LayersModel; v: tf.Variable[]; opt: tf.Optimizer } => {
      const g = compileText(text);
      const m = g.modelForOutput('reconstruction');
      return { g, m, v: m.trainableWeights.map((w) => w.read() as tf.Variable), opt: makeOptimizer(name, name === 'adadelta' ? 1 : 0.01) };
    };
    const step = (s: ReturnType<typeof setup>): void =>
      tf.tidy(() => {
        s.opt.minimize(() => tf.mean(tf.metrics.binaryCrossentropy(x, s.m.apply(x) as tf.Tensor)), false, s.v);
      });
    const a = setup();
    step(a);
    step(a);
    await saveCheckpoint(runDir, a.g, a.opt, { stageIndex: 0, stageName: 'train', stageEpoch: 1, stageEpochs: 2, epochsCompleted: 1, bestValLoss: null, graphSha256: sha256(text), backend: 'cpu', optimizerName: name, rngState: 0, order: new Uint32Array(0) });
    const b = setup();
    const ckpt = loadCheckpoint(runDir);
    applyLayerWeights(b.g, ckpt);
    await restoreOptimizer(b.opt, name, b.v, ckpt);
    ckpt.dispose();
    const moved = weightsOf(a.g).get('decoder.2/kernel')!;
    step(a);
    step(b);
    const [wa, wb] = [weightsOf(a.g), weightsOf(b.g)];
    for (const [k, v] of wa) assert.equal(maxRelDiff(v, wb.get(k)!), 0, `${name}: ${k}`);
    assert.ok(maxRelDiff(moved, wa.get('decoder.2/kernel')!) > 0, `${name}: the step moved the weights`);
    for (const s of [a, b]) {
      s.opt.dispose();
      s.g.dispose();
    }
  }
  x.dispose();
});

test('a checkpoint that does not fit is refused with the file and the fault named', async () => {
  const text = sampleText('dense-autoencoder');
  const runDir = fs.mkdtempSync(path.join(tmp, 'bad-'));
  const a = compileText(text);
  const meta = await saveCheckpoint(runDir, a, undefined, { stageIndex: 0, stageName: 'train', stageEpoch: 1, stageEpochs: 2, epochsCompleted: 1, bestValLoss: null, graphSha256: sha256(text), backend: 'cpu', optimizerName: 'adadelta', rngState: 1, order: new Uint32Array(0) });
  a.dispose();
  const json = path.join(runDir, RUN_FILES.checkpointManifest);
  const bin = path.join(runDir, 'checkpoint', meta.weightsFile);

  // Another graph: a 8-unit bottleneck.
  const doc = parseJsonText(text);
  assert.ok(doc.ok);
  const other = JSON.parse(JSON.stringify(doc.value)) as { nodes: { id: string; params: Record<string, unknown> }[] };
  other.nodes.find((n) => n.id === 'bottleneck')!.params.latentSize = 8;
  const b = compileText(JSON.stringify(other));
  const ckpt = loadCheckpoint(runDir);
  assert.throws(() => applyLayerWeights(b, ckpt), (e: unknown) => {
    assert.ok(e instanceof CheckpointError && e instanceof TrainingError);
    assert.equal(e.file, json);
    assert.match(e.message, /weight shape mismatch in layer "bottleneck" \(block "bottleneck"\) weight 0 \(bottleneck\/kernel\): \[32, 16\] in the checkpoint, \[32, 8\] in the graph/);
    return true;
  });
  ckpt.dispose();
  b.dispose();

  assert.throws(() => loadCheckpoint(runDir, { graphSha256: sha256(`${text} `) }), (e: unknown) => e instanceof CheckpointError && e.file === json && /saved for a different graph/.test(e.message));

  const good = fs.readFileSync(bin);
  fs.writeFileSync(bin, good.subarray(0, good.length - 100));
  assert.throws(() => loadCheckpoint(runDir), (e: unknown) => e instanceof CheckpointError && e.file === bin && e.message.startsWith(bin) && /corrupt: truncated/.test(e.message));
  const flipped = Buffer.from(good);
  flipped[1000] = flipped[1000]! ^ 0xff;
  fs.writeFileSync(bin, flipped);
  assert.throws(() => loadCheckpoint(runDir), (e: unknown) => e instanceof CheckpointError && e.file === bin && /SHA-256 does not match/.test(e.message));
  fs.rmSync(bin);
  assert.throws(() => loadCheckpoint(runDir), (e: unknown) => e instanceof CheckpointError && e.file === bin && /missing/.test(e.message));
  fs.writeFileSync(bin, good);
  loadCheckpoint(runDir).dispose();

  const goodJson = fs.readFileSync(json, 'utf8');
  fs.writeFileSync(json, goodJson.slice(0, 200));
  assert.throws(() => readCheckpointMeta(runDir), (e: unknown) => e instanceof CheckpointError && e.file === json && /corrupt: not valid JSON/.test(e.message));
  fs.writeFileSync(json, goodJson.replace('"stageEpoch": 1', '"stageEpoch": "one"'));
  assert.throws(() => loadCheckpoint(runDir), (e: unknown) => e instanceof CheckpointError && e.message.startsWith(json) && /stageEpoch/.test(e.message));
  fs.rmSync(json);
  assert.equal(readCheckpointMeta(runDir), undefined);
  assert.throws(() => loadCheckpoint(runDir), (e: unknown) => e instanceof CheckpointError && e.file === json && /no checkpoint/.test(e.message));
});

// ---------------------------------------------------------------------------------------------
// Resuming real runs in the worker.

interface Outcome {
  messages: FromWorker[];
  epochs: EpochRecord[];
}

function run(request: Partial<TrainRequest>, onMessage?: (m: FromWorker, s: TrainingSession) => void): { session: TrainingSession; outcome: Outcome } {
  const outcome: Outcome = { messages: [], epochs: [] };
  const session: TrainingSession = new TrainingSession(
    { graphText: sampleText('dense-autoencoder'), graphPath: densePath, runsDir: path.join(tmp, 'runs'), backend: 'wasm', ...request },
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

const metricsOf = (runDir: string): EpochRecord[] =>
  fs.readFileSync(path.join(runDir, RUN_FILES.metrics), 'utf8').trim().split('\n').map((l) => EpochRecordSchema.parse(JSON.parse(l)));

/** The checkpoint's tensors as arrays, by name. */
function checkpointValues(runDir: string): Map<string, Float32Array | Int32Array> {
  const ckpt = loadCheckpoint(runDir);
  const out = new Map([...ckpt.tensors].map(([k, t]) => [k, t.dataSync() as Float32Array | Int32Array]));
  ckpt.dispose();
  return out;
}

const quick = { epochs: 2, batchSize: 32, limitSamples: 640, limitValidation: 200, batchProgressMs: 0 } as const;
let completedRun = '';

test('stop after epoch 1, resume: the same final weights, optimizer and metrics as an uninterrupted 2-epoch run', async () => {
  const straight = run(quick);
  const a = await straight.session.result;
  assert.equal(a.epochsCompleted, 2);
  completedRun = a.runDir;

  const first = run(quick, (m, s) => {
    if (m.type === 'batch' && m.epoch === 2 && m.batch === 1) s.cancel();
  });
  const stopped = await first.session.result;
  assert.equal(stopped.stopped, true);
  assert.equal(stopped.epochsCompleted, 1);
  const dir = stopped.runDir;
  assert.equal(requireRunJson(dir, 'status').status, 'stopped');
  const meta = readCheckpointMeta(dir)!;
  assert.deepEqual([meta.stageIndex, meta.stageName, meta.stageEpoch, meta.epochsCompleted], [0, 'train', 1, 1]);
  assert.equal(meta.graphSha256, sha256(sampleText('dense-autoencoder')));
  assert.equal(meta.bestValLoss, first.outcome.epochs.find((r) => r.epoch === 1)!.valLoss);

  const afterEpoch1 = checkpointValues(dir);
  // The request's graph is ignored on resume: the run's snapshot is trained.
  const second = run({ resumeFrom: dir, graphText: '{"not": "a graph"}', runsDir: path.join(tmp, 'elsewhere'), batchProgressMs: 0 });
  const resumed = await second.session.result;
  assert.equal(resumed.runDir, dir);
  assert.equal(resumed.stopped, false);
  assert.equal(resumed.epochsCompleted, 2);
  assert.equal(fs.existsSync(path.join(tmp, 'elsewhere')), false);
  const started = second.outcome.messages.find((m) => m.type === 'started');
  assert.ok(started?.type === 'started');
  assert.deepEqual(started.stages.map((s) => [s.name, s.epochs, s.resumedAfterEpoch, s.outputId]), [['train', 2, 1, 'reconstruction']]);
  assert.deepEqual(started.dataset.train, 640, 'limitSamples comes from the run\'s config.json');
  assert.deepEqual(second.outcome.epochs.map((r) => r.epoch), [2], 'no epoch-0 record for the resumed stage');
  assert.ok(second.outcome.epochs.every((r) => typeof r.endedAt === 'number' && Math.abs(r.endedAt - Date.now()) < 120_000));

  const va = checkpointValues(a.runDir);
  const vb = checkpointValues(dir);
  assert.deepEqual([...vb.keys()].sort(), [...va.keys()].sort());
  for (const [k, v] of va) assert.ok(maxRelDiff(v, vb.get(k)!) < 1e-4, `${k} differs by ${maxRelDiff(v, vb.get(k)!)}`);
  // The resumed run really trained: epoch 2's weights are not epoch 1's.
  assert.ok(maxRelDiff(afterEpoch1.get('layer/decoder.2/0')!, vb.get('layer/decoder.2/0')!) > 1e-3);

  const ma = metricsOf(a.runDir);
  const mb = metricsOf(dir);
  assert.deepEqual(mb.map((r) => r.epoch), [0, 1, 2]);
  mb.forEach((r, i) => {
    assert.ok(Math.abs(r.valLoss! - ma[i]!.valLoss!) <= 1e-4 * ma[i]!.valLoss!, `epoch ${r.epoch} val loss ${r.valLoss} vs ${ma[i]!.valLoss}`);
    if (r.loss !== null) assert.ok(Math.abs(r.loss - ma[i]!.loss!) <= 1e-4 * ma[i]!.loss!, `epoch ${r.epoch} loss`);
  });
  const status = requireRunJson(dir, 'status');
  assert.equal(status.status, 'completed');
  assert.equal(status.epochsCompleted, 2);
  assert.equal(status.bestValLoss, Math.min(...mb.slice(1).map((r) => r.valLoss!)));
  const config = JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.config), 'utf8')) as { resumes: { afterEpoch: number }[]; startedAt: string };
  assert.deepEqual(config.resumes.map((r) => r.afterEpoch), [1]);
  assert.equal(config.startedAt, status.startedAt);
});

test('a killed run resumes across a stage boundary: metrics past the checkpoint are dropped, the classifier stage trains', async () => {
  const text = sampleText('autoencoder-classifier');
  const first = run({ graphText: text, graphPath: classifierPath, epochs: 1, limitSamples: 600, limitValidation: 300, batchProgressMs: 0 }, (m, s) => {
    if (m.type === 'batch' && m.stageIndex === 1 && m.batch === 1) process.kill(s.pid!, 'SIGKILL');
  });
  const failure = await first.session.result.then(
    () => assert.fail('expected the kill to fail the run'),
    (e: unknown) => e,
  );
  assert.ok(failure instanceof TrainingFailure && failure.runDir);
  const dir = failure.runDir;
  assert.equal(requireRunJson(dir, 'status').status, 'failed');
  const meta = readCheckpointMeta(dir)!;
  assert.deepEqual([meta.stageIndex, meta.stageEpoch, meta.stageEpochs], [0, 1, 1]);
  // The classifier stage's epoch-0 record was written before the kill: past the checkpoint.
  assert.deepEqual(metricsOf(dir).map((r) => [r.stageIndex, r.epoch]), [[0, 0], [0, 1], [1, 0]]);

  const atKill = checkpointValues(dir);
  const second = run({ resumeFrom: dir, graphText: '', graphPath: '', runsDir: '' });
  const done = await second.session.result;
  assert.equal(done.epochsCompleted, 2);
  const started = second.outcome.messages.find((m) => m.type === 'started');
  assert.ok(started?.type === 'started');
  assert.deepEqual(started.stages.map((s) => s.resumedAfterEpoch), [1, 0]);
  assert.deepEqual(second.outcome.epochs.map((r) => [r.stageIndex, r.epoch]), [[1, 0], [1, 1]], 'the next stage starts with its epoch 0');
  assert.deepEqual(metricsOf(dir).map((r) => [r.stageIndex, r.epoch]), [[0, 0], [0, 1], [1, 0], [1, 1]]);
  const classifier = second.outcome.messages.filter((m) => m.type === 'classifier');
  assert.equal(classifier.length, 1);
  const finalMeta = readCheckpointMeta(dir)!;
  assert.deepEqual([finalMeta.stageIndex, finalMeta.stageName, finalMeta.stageEpoch, finalMeta.epochsCompleted], [1, 'classifier', 1, 2]);
  assert.equal(requireRunJson(dir, 'status').status, 'completed');
  // The encoder is frozen in the classifier stage, so it is exactly what the first stage left; the head trained.
  const end = checkpointValues(dir);
  assert.deepEqual(end.get('layer/encoder.0/0'), atKill.get('layer/encoder.0/0'));
  assert.deepEqual(end.get('layer/bottleneck/0'), atKill.get('layer/bottleneck/0'));
  assert.ok(maxRelDiff(end.get('layer/head/0')!, atKill.get('layer/head/0')!) > 1e-3);
});

test('runs that cannot resume are refused with a sentence, and left as they were', async () => {
  assert.ok(completedRun, 'needs the completed run of the equivalence test');
  const attempt = (dir: string): Promise<unknown> =>
    train({ graphText: '', graphPath: '', runsDir: tmp, backend: 'cpu', batchProgressMs: 250, resumeFrom: dir }, () => undefined, { cancelled: false }).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
  const refusal = async (dir: string, pattern: RegExp): Promise<Error> => {
    const runJson = fs.readFileSync(path.join(dir, RUN_FILES.status), 'utf8');
    const e = await attempt(dir);
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, pattern);
    assert.equal(fs.readFileSync(path.join(dir, RUN_FILES.status), 'utf8'), runJson, 'run.json untouched');
    return e;
  };
  await refusal(completedRun, /finished all 2 epochs; nothing to resume/);

  const copy = (name: string, edit: (dir: string) => void): string => {
    const dir = path.join(tmp, 'copies', name);
    fs.cpSync(completedRun, dir, { recursive: true });
    writeStatus(dir, { ...requireRunJson(dir, 'status'), status: 'stopped', epochsCompleted: 1 });
    edit(dir);
    return dir;
  };
  await refusal(copy('no-checkpoint', (d) => fs.rmSync(path.join(d, 'checkpoint'), { recursive: true })), /stopped before its first epoch ended: nothing to resume; train again/);
  await refusal(copy('running', (d) => writeStatus(d, { ...requireRunJson(d, 'status'), status: 'running', pid: process.pid })), new RegExp(`still running \\(process ${process.pid}\\)`));
  await refusal(copy('edited', (d) => fs.appendFileSync(path.join(d, RUN_FILES.graph), '\n')), /graph hash mismatch/);
  const truncated = copy('truncated', (d) => {
    const bin = path.join(d, 'checkpoint', readCheckpointMeta(d)!.weightsFile);
    fs.truncateSync(bin, 1000);
  });
  const e = await refusal(truncated, /the checkpoint is corrupt: truncated/);
  assert.ok(e.message.startsWith(path.join(truncated, 'checkpoint', 'weights-')), e.message);
  const nowhere = await attempt(path.join(tmp, 'nowhere'));
  assert.ok(nowhere instanceof UserError && /nowhere: no such run folder/.test(nowhere.message));

  // A run marked running whose process is gone (a crashed host) may resume: it gets past the status check.
  const orphan = copy('orphan', (d) => {
    writeStatus(d, { ...requireRunJson(d, 'status'), status: 'running', pid: 2 ** 22 + 12345 });
    fs.rmSync(path.join(d, 'checkpoint'), { recursive: true });
  });
  await refusal(orphan, /stopped before its first epoch ended/);
});
