/**
 * Multi-run workflows on real MNIST: train the autoencoder stage alone (`stages`, the CLI's
 * `--stage`), then the classifier stage alone starting from that run's weights (`initFrom`,
 * `--init-from`) with the encoder frozen — its weights must not move by a single bit while the
 * classifier learns — and training on some classes only (`training.classes`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { type FromWorker, TrainRequestSchema, type TrainRequest } from '../../src/core/protocol';
import { type EpochRecord, RUN_FILES } from '../../src/core/runFormat';
import { loadDataset, splitIndices, type Dataset } from '../../src/data/index';
import { loadCheckpoint } from '../../src/train/checkpoint';
import { runEvaluation } from '../../src/train/jobs/evaluate';
import { EvaluateRequestSchema } from '../../src/core/protocol';
import { train } from '../../src/train/trainer';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-workflows-'));
const classifierSample = path.join(SAMPLES_DIR, 'autoencoder-classifier.latent.json');
let mnist: Dataset;

interface Trained {
  runDir: string;
  messages: FromWorker[];
  epochs: EpochRecord[];
  logs: string[];
}

async function run(request: Partial<TrainRequest>): Promise<Trained> {
  const messages: FromWorker[] = [];
  const parsed = TrainRequestSchema.parse({
    graphText: sampleText('autoencoder-classifier'),
    graphPath: classifierSample,
    runsDir: path.join(tmp, 'runs'),
    backend: 'wasm',
    batchProgressMs: 60_000,
    limitSamples: 2000,
    limitValidation: 500,
    ...request,
  });
  const result = await train(parsed, (m) => messages.push(m), { cancelled: false });
  return {
    runDir: result.runDir,
    messages,
    epochs: messages.flatMap((m) => (m.type === 'epoch' ? [m.record] : [])),
    logs: messages.flatMap((m) => (m.type === 'log' ? [m.message] : [])),
  };
}

/** Every layer weight of a run's checkpoint as raw bytes, by name ("layer/encoder.0/0"). */
function checkpointBytes(runDir: string): Map<string, Buffer> {
  const ckpt = loadCheckpoint(runDir);
  const out = new Map<string, Buffer>();
  for (const [name, t] of ckpt.tensors) if (name.startsWith('layer/')) out.set(name, Buffer.from((t.dataSync() as Float32Array).slice().buffer));
  ckpt.dispose();
  return out;
}

let autoencoder: Trained;
let classifier: Trained;

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

before(async () => {
  tf.env().set('PROD', true);
  mnist = await loadDataset({ kind: 'mnist' });
  autoencoder = await run({ stages: ['autoencoder'], epochs: 3 });
  classifier = await run({ stages: ['classifier'], initFrom: autoencoder.runDir, epochs: 3 });
});

test('--stage autoencoder trains the first stage only; the classifier is reported as skipped; evaluate scores the trained autoencoder', async () => {
  const started = autoencoder.messages.find((m) => m.type === 'started');
  assert.ok(started?.type === 'started');
  assert.deepEqual(
    started.stages.map((s) => [s.name, s.epochs, s.skipped]),
    [['autoencoder', 3, undefined], ['classifier', 0, 'not selected with --stage']],
  );
  assert.deepEqual(autoencoder.epochs.map((e) => [e.stage, e.epoch]), [['autoencoder', 0], ['autoencoder', 1], ['autoencoder', 2], ['autoencoder', 3]]);
  assert.ok(autoencoder.logs.includes('Stage "classifier" skipped: not selected with --stage.'));
  const config = JSON.parse(fs.readFileSync(path.join(autoencoder.runDir, RUN_FILES.config), 'utf8')) as { overrides: { stages: string[] }; stages: { name: string; epochs: number }[] };
  assert.deepEqual(config.overrides.stages, ['autoencoder']);
  assert.deepEqual(config.stages.map((s) => [s.name, s.epochs]), [['autoencoder', 3], ['classifier', 0]]);
  // The trained model of this run is the autoencoder (its classifier head never trained).
  const e = await runEvaluation(EvaluateRequestSchema.parse({ runDir: autoencoder.runDir, limit: 200, backend: 'cpu' }));
  assert.deepEqual([e.stage, e.target, e.samples], ['autoencoder', 'input', 200]);
});

test('--stage classifier --init-from <autoencoder run>: the frozen encoder and bottleneck keep every bit while validation accuracy rises', async (t) => {
  const started = classifier.messages.find((m) => m.type === 'started');
  assert.ok(started?.type === 'started');
  assert.deepEqual(started.stages.map((s) => [s.name, s.skipped]), [['autoencoder', 'not selected with --stage'], ['classifier', undefined]]);
  const loaded = classifier.logs.find((l) => l.startsWith('Started from '));
  // Every layer with weights has the same name and shape in both runs (same graph): 3 + 1 + 3 + 1 layers.
  assert.equal(loaded, `Started from ${path.basename(autoencoder.runDir)}: loaded 8 of 8 layers (encoder.0, encoder.1, encoder.2, bottleneck, decoder.0, decoder.1, decoder.2, head).`);

  const before = checkpointBytes(autoencoder.runDir);
  const after = checkpointBytes(classifier.runDir);
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  const frozen = [...before.keys()].filter((k) => /^layer\/(encoder\.\d|bottleneck)\//.test(k));
  assert.equal(frozen.length, 8, 'kernel and bias of 3 encoder layers and the bottleneck');
  for (const name of frozen) assert.ok(before.get(name)!.equals(after.get(name)!), `${name} changed in the classifier stage`);
  // The decoder is not in the classifier model: it is the autoencoder run's, untouched; the head trained.
  for (const name of [...before.keys()].filter((k) => k.startsWith('layer/decoder.'))) assert.ok(before.get(name)!.equals(after.get(name)!), name);
  assert.ok(!before.get('layer/head/0')!.equals(after.get('layer/head/0')!), 'the head learned');

  const records = classifier.epochs.filter((e) => e.stage === 'classifier');
  assert.deepEqual(records.map((e) => e.epoch), [0, 1, 2, 3]);
  assert.ok(classifier.epochs.every((e) => e.stage === 'classifier'), 'nothing else trained');
  const [first, last] = [records[0]!.metrics.valAccuracy!, records.at(-1)!.metrics.valAccuracy!];
  t.diagnostic(`validation accuracy on the frozen codes: epoch 0 ${first.toFixed(3)}, epoch 3 ${last.toFixed(3)}`);
  assert.ok(last > first, `valAccuracy ${first} -> ${last}`);
  const config = JSON.parse(fs.readFileSync(path.join(classifier.runDir, RUN_FILES.config), 'utf8')) as { initFrom: string };
  assert.equal(config.initFrom, autoencoder.runDir);
});

test('--stage and --init-from refuse what they cannot do, with a sentence', async () => {
  await assert.rejects(run({ stages: ['decoder', 'classifier'] }), /autoencoder-classifier\.latent\.json has no stage "decoder": its stages are "autoencoder", "classifier"/);
  await assert.rejects(run({ initFrom: path.join(tmp, 'nowhere') }), /--init-from .*nowhere: no such run folder/);
  const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
  await assert.rejects(run({ initFrom: empty }), /the run has no checkpoint .* no weights to start from/);
  // A graph none of whose layers is in the checkpoint (other names).
  const other = JSON.stringify({
    formatVersion: 1,
    name: 'other',
    nodes: [
      { id: 'input', type: 'Input', params: { shape: [784] } },
      { id: 'squeeze', type: 'Dense', params: { units: 16 } },
      { id: 'grow', type: 'Dense', params: { units: 784, activation: 'sigmoid' } },
      { id: 'out', type: 'Output', params: { target: 'input' } },
    ],
    edges: [{ from: 'input', to: 'squeeze' }, { from: 'squeeze', to: 'grow' }, { from: 'grow', to: 'out' }],
  });
  await assert.rejects(
    run({ graphText: other, graphPath: path.join(tmp, 'other.latent.json'), initFrom: autoencoder.runDir }),
    /none of its checkpoint's layers match this graph's 2 layers with weights by name and shape: nothing to start from/,
  );
  await assert.rejects(run({ resumeFrom: autoencoder.runDir, initFrom: autoencoder.runDir }), /--init-from starts a new run/);
});

test('training.classes: train, validate and evaluate on those classes only; a class the dataset lacks is refused', async () => {
  const graph = JSON.parse(sampleText('autoencoder-classifier')) as { training: Record<string, unknown> };
  graph.training.classes = [3, 5];
  const graphText = JSON.stringify(graph);
  const graphPath = path.join(tmp, 'three-five.latent.json');
  const r = await run({ graphText, graphPath, stages: ['classifier'], epochs: 1, limitSamples: undefined, limitValidation: undefined });
  const split = splitIndices(mnist.count, { validation: 0.1, test: 0.2 }, 42);
  const only = (idx: Uint32Array): number[] => Array.from(idx).filter((i) => [3, 5].includes(mnist.labels![i]!));
  const started = r.messages.find((m) => m.type === 'started');
  assert.ok(started?.type === 'started');
  assert.deepEqual([started.dataset.train, started.dataset.validation, started.dataset.test], [only(split.train).length, only(split.validation).length, only(split.test).length]);
  // The validation confusion matrix has rows for 3 and 5 only.
  const confusion = JSON.parse(fs.readFileSync(path.join(r.runDir, RUN_FILES.confusion), 'utf8')) as { confusion: number[][] };
  const rowSums = confusion.confusion.map((row) => row.reduce((a, b) => a + b, 0));
  assert.deepEqual(rowSums.map((s, c) => (s > 0 ? c : -1)).filter((c) => c >= 0), [3, 5]);
  const e = await runEvaluation(EvaluateRequestSchema.parse({ runDir: r.runDir, backend: 'cpu' }));
  assert.equal(e.samples, only(split.test).length);
  assert.deepEqual(e.classifier!.confusion.map((row) => row.reduce((a, b) => a + b, 0)).filter((s) => s > 0).length, 2);

  graph.training.classes = [3, 12];
  await assert.rejects(run({ graphText: JSON.stringify(graph), graphPath }), /training\.classes names class 12, but mnist has 10 classes \(0-9\)\./);
});
