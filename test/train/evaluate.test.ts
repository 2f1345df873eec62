/**
 * Classifier previews during training, the evaluate job and the export job, on real MNIST runs
 * trained by the real worker; every number is checked against a recomputation here.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { type FromWorker, type TrainRequest } from '../../src/core/protocol';
import { type ClassifierPreview, EvaluationSchema, RUN_FILES } from '../../src/core/runFormat';
import { compileGraph } from '../../src/compile/compile';
import { type Dataset, batchToFloat, loadDataset, splitIndices } from '../../src/data/index';
import { applyLayerWeights, loadCheckpoint } from '../../src/train/checkpoint';
import { TrainingFailure, TrainingSession, evaluateRun, exportRun } from '../../src/run/client';
import { loadModel } from '../../src/train/modelFiles';
import { decodePng } from '../../src/train/png';
import { requireRunJson, writeStatus } from '../../src/run/runFolder';
import { analyzeForTraining } from '../../src/train/prepare';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-eval-'));
let mnist: Dataset;
/** The sample graphs' split: validation 0.1, test 0.2, seed 42. */
let split: ReturnType<typeof splitIndices>;

interface Trained {
  runDir: string;
  messages: FromWorker[];
}

async function trainRun(name: string, request: Partial<TrainRequest>, onMessage?: (m: FromWorker, s: TrainingSession) => void): Promise<Trained> {
  const messages: FromWorker[] = [];
  const file = path.join(SAMPLES_DIR, `${name}.latent.json`);
  const session: TrainingSession = new TrainingSession(
    { graphText: sampleText(name), graphPath: file, runsDir: path.join(tmp, 'runs'), ...request },
    {
      onMessage: (m) => {
        messages.push(m);
        onMessage?.(m, session);
      },
    },
  );
  const done = await session.result;
  return { runDir: done.runDir, messages };
}

let classifierRun: Trained;
let autoencoderRun: Trained;

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  mnist = await loadDataset({ kind: 'mnist' });
  split = splitIndices(mnist.count, { validation: 0.1, test: 0.2 }, 42);
  classifierRun = await trainRun('autoencoder-classifier', { epochs: 1, limitSamples: 1200, limitValidation: 400 });
  // Stopped during its second epoch: evaluate and export must work on stopped runs too.
  autoencoderRun = await trainRun('dense-autoencoder', { epochs: 3, limitSamples: 1200, limitValidation: 200, batchSize: 32, batchProgressMs: 0 }, (m, s) => {
    if (m.type === 'batch' && m.epoch === 2 && m.batch === 1) s.cancel();
  });
  assert.equal(requireRunJson(autoencoderRun.runDir, 'status').status, 'stopped');
});

const labelCounts = (idx: Uint32Array, classes = 10): number[] => {
  const counts = new Array<number>(classes).fill(0);
  for (const i of idx) counts[mnist.labels![i]!]!++;
  return counts;
};
const trace = (m: number[][]): number => m.reduce((s, row, i) => s + row[i]!, 0);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

function checkStrip(preview: ClassifierPreview, idx: Uint32Array): void {
  assert.deepEqual(preview.labels, Array.from(idx.slice(0, 10), (i) => mnist.labels![i]!));
  assert.equal(preview.predicted.length, 10);
  assert.ok(preview.predicted.every((p) => Number.isInteger(p) && p >= 0 && p < 10));
  assert.ok(preview.confidence.every((c) => c >= 0.1 - 1e-6 && c <= 1), 'the top class of 10 has at least probability 0.1');
  const png = decodePng(Buffer.from(preview.stripPngBase64, 'base64'));
  assert.deepEqual([png.width, png.height], [10 * 56 + 11 * 2, 56 + 2 * 2]);
  // The first image's top-left pixel row of the strip is the dataset's first preview image, upscaled.
  const first = batchToFloat(mnist, idx, 0, 1);
  const row = 14;
  for (let x = 0; x < 28; x++) {
    const expected = Math.round(Math.min(1, Math.max(0, first[row * 28 + x]!)) * 255);
    assert.equal(png.data[((2 + row * 2) * png.width + 2 + x * 2) * 4], expected, `pixel ${x}`);
  }
  assert.deepEqual(preview.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
}

test('a labels stage sends a classifier preview per epoch: confusion over the validation split, predictions of the preview images', () => {
  const started = classifierRun.messages.find((m) => m.type === 'started');
  assert.ok(started?.type === 'started');
  assert.deepEqual(started.stages.map((s) => [s.name, s.outputId]), [['autoencoder', 'reconstruction'], ['classifier', 'classes']]);
  assert.equal(started.dataset.validation, 400);
  const previews = classifierRun.messages.filter((m) => m.type === 'classifier');
  assert.equal(previews.length, 1, 'one per completed epoch of the classifier stage');
  const p = previews[0]!;
  assert.ok(p.type === 'classifier');
  assert.deepEqual([p.stageIndex, p.epoch, p.outputId], [1, 1, 'classes']);
  const validation = split.validation.slice(0, 400);
  assert.deepEqual(p.preview.confusion.map(sum), labelCounts(validation), 'row sums are the true label counts');
  const record = classifierRun.messages.find((m) => m.type === 'epoch' && m.record.stageIndex === 1 && m.record.epoch === 1);
  assert.ok(record?.type === 'epoch');
  assert.ok(Math.abs(record.record.metrics.valAccuracy! - trace(p.preview.confusion) / 400) < 1e-6, 'the diagonal agrees with valAccuracy');
  checkStrip(p.preview, split.test);
  // Reconstruction previews belong to the autoencoder's Output.
  const recon = classifierRun.messages.filter((m) => m.type === 'preview');
  assert.ok(recon.length === 1 && recon[0]!.type === 'preview' && recon[0]!.outputId === 'reconstruction');

  const onDisk = JSON.parse(fs.readFileSync(path.join(classifierRun.runDir, RUN_FILES.confusion), 'utf8')) as { confusion: number[][]; epoch: number; samples: number; predicted: number[] };
  assert.deepEqual(onDisk.confusion, p.preview.confusion);
  assert.deepEqual([onDisk.epoch, onDisk.samples, onDisk.predicted], [1, 400, p.preview.predicted]);
  assert.deepEqual(fs.readFileSync(path.join(classifierRun.runDir, RUN_FILES.predictions)), Buffer.from(p.preview.stripPngBase64, 'base64'));
});

/** Categorical cross-entropy and accuracy of the run's saved model (model/) on `idx`, computed here. */
function recompute(model: tf.LayersModel, idx: Uint32Array, target: 'labels' | 'input'): { loss: number; accuracy?: number } {
  return tf.tidy(() => {
    const x = tf.tensor2d(batchToFloat(mnist, idx, 0, idx.length), [idx.length, 784]);
    const pred = model.predict(x) as tf.Tensor;
    if (target === 'input') return { loss: tf.mean(tf.metrics.binaryCrossentropy(x, pred)).dataSync()[0]! };
    const y = tf.oneHot(tf.tensor1d(Array.from(idx, (i) => mnist.labels![i]!), 'int32'), 10);
    const loss = tf.mean(tf.metrics.categoricalCrossentropy(y, pred)).dataSync()[0]!;
    const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(pred, -1), tf.argMax(y, -1)), 'float32')).dataSync()[0]!;
    return { loss, accuracy };
  });
}

test('evaluate a classifier run: loss and accuracy match a recomputation; the confusion matrix adds up', async () => {
  const e = await evaluateRun({ runDir: classifierRun.runDir, limit: 700 });
  assert.deepEqual([e.split, e.samples, e.stage, e.outputId, e.target, e.lossName], ['test', 700, 'classifier', 'classes', 'labels', 'categoricalCrossentropy']);
  assert.ok(Number.isFinite(e.loss) && e.loss > 0);
  const c = e.classifier!;
  const idx = split.test.slice(0, 700);
  assert.equal(sum(c.confusion.map(sum)), 700);
  assert.deepEqual(c.confusion.map(sum), labelCounts(idx));
  assert.equal(e.metrics.accuracy, trace(c.confusion) / 700);
  checkStrip(c, idx);
  assert.equal(e.reconstructionsPngBase64, undefined);
  const model = await loadModel(path.join(classifierRun.runDir, RUN_FILES.model));
  const here = recompute(model, idx, 'labels');
  model.dispose();
  assert.ok(Math.abs(here.loss - e.loss) < 1e-4 * here.loss, `loss ${e.loss} vs ${here.loss}`);
  assert.ok(Math.abs(here.accuracy! - e.metrics.accuracy!) < 1e-6, `accuracy ${e.metrics.accuracy} vs ${here.accuracy}`);
  const saved = EvaluationSchema.parse(JSON.parse(fs.readFileSync(path.join(classifierRun.runDir, RUN_FILES.evaluation), 'utf8')));
  assert.deepEqual(saved, e);

  const v = await evaluateRun({ runDir: classifierRun.runDir, split: 'validation' });
  assert.equal(v.samples, split.validation.length, 'no limit: the whole split');
  assert.deepEqual(v.classifier!.confusion.map(sum), labelCounts(split.validation));
  assert.equal(v.metrics.accuracy, trace(v.classifier!.confusion) / v.samples);
});

test('evaluate a stopped autoencoder run: the checkpoint (epoch 1) is scored; reconstructions come back', async () => {
  const e = await evaluateRun({ runDir: autoencoderRun.runDir, limit: 300 });
  assert.deepEqual([e.samples, e.stage, e.target, e.lossName, e.classifier], [300, 'train', 'input', 'binaryCrossentropy', undefined]);
  const model = await loadModel(path.join(autoencoderRun.runDir, RUN_FILES.model));
  const here = recompute(model, split.test.slice(0, 300), 'input');
  model.dispose();
  assert.ok(Math.abs(here.loss - e.loss) < 1e-4 * here.loss, `loss ${e.loss} vs ${here.loss}`);
  const png = decodePng(Buffer.from(e.reconstructionsPngBase64!, 'base64'));
  assert.deepEqual([png.width, png.height], [10 * 56 + 11 * 2, 2 * 56 + 3 * 2]);

  // A failed run with a checkpoint evaluates too; one without is refused with a sentence.
  const failed = path.join(tmp, 'failed-copy');
  fs.cpSync(autoencoderRun.runDir, failed, { recursive: true });
  writeStatus(failed, { ...requireRunJson(failed, 'status'), status: 'failed', error: 'killed' });
  const again = await evaluateRun({ runDir: failed, limit: 300 });
  assert.equal(again.loss, e.loss);
  fs.rmSync(path.join(failed, 'checkpoint'), { recursive: true });
  await assert.rejects(evaluateRun({ runDir: failed }), (err: unknown) => err instanceof TrainingFailure && /has no checkpoint .*nothing to evaluate/.test(err.message) && err.detail === undefined);
  await assert.rejects(evaluateRun({ runDir: autoencoderRun.runDir, data: 'cifar10' }), /cifar10/);
});

test('export writes every model; they load back and compute what the checkpointed graph computes', async () => {
  const outDir = path.join(tmp, 'export');
  const models = await exportRun({ runDir: classifierRun.runDir, outDir });
  assert.deepEqual(models.map((m) => m.name), ['autoencoder', 'encoder', 'decoder', 'classifier']);
  const byName = new Map(models.map((m) => [m.name, m]));
  assert.deepEqual(byName.get('encoder')!.outputShape, [null, 16], "the encoder's output is the bottleneck's");
  assert.deepEqual(byName.get('decoder')!.inputShape, [null, 16]);
  assert.deepEqual(byName.get('classifier')!.outputShape, [null, 10]);
  assert.equal(byName.get('autoencoder')!.params, 221_888);
  assert.equal(byName.get('encoder')!.params + byName.get('decoder')!.params, byName.get('autoencoder')!.params);

  // The reference: the run's graph snapshot compiled here with the checkpoint loaded into it.
  const text = fs.readFileSync(path.join(classifierRun.runDir, RUN_FILES.graph), 'utf8');
  const compiled = compileGraph(analyzeForTraining(text, 'snapshot'), { seed: 42 });
  const ckpt = loadCheckpoint(classifierRun.runDir);
  applyLayerWeights(compiled, ckpt);
  ckpt.dispose();
  const idx = split.test.slice(0, 16);
  const x = tf.tensor2d(batchToFloat(mnist, idx, 0, 16), [16, 784]);
  const code = compiled.models.get('encoder')!.predict(x) as tf.Tensor;
  for (const m of models) {
    assert.equal(m.dir, path.join(outDir, m.name));
    const loaded = await loadModel(m.dir);
    const input = m.name === 'decoder' ? code : x;
    const [want, got] = [compiled.models.get(m.name)!.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor];
    assert.deepEqual(got.shape, want.shape);
    assert.ok(tf.max(tf.abs(tf.sub(want, got))).dataSync()[0]! < 1e-6, m.name);
    if (m.name === 'encoder') assert.deepEqual(got.shape, [16, 16]);
    tf.dispose([want, got]);
    loaded.dispose();
  }
  // Not the untrained graph: the classifier's head moved away from its seeded start.
  const fresh = compileGraph(analyzeForTraining(text, 'snapshot'), { seed: 42 });
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(fresh.models.get('classifier')!.predict(x) as tf.Tensor, compiled.models.get('classifier')!.predict(x) as tf.Tensor))).dataSync()[0]!);
  assert.ok(diff > 1e-3);
  tf.dispose([x, code]);
  fresh.dispose();
  compiled.dispose();

  // An existing folder is an error naming it, unless overwrite.
  const before = fs.statSync(path.join(outDir, 'encoder', 'weights.bin')).mtimeMs;
  await assert.rejects(exportRun({ runDir: classifierRun.runDir, outDir }), (e: unknown) => e instanceof TrainingFailure && e.message.includes(`${path.join(outDir, 'autoencoder')} already exists`));
  await new Promise((r) => setTimeout(r, 20));
  const again = await exportRun({ runDir: autoencoderRun.runDir, outDir, overwrite: true });
  assert.deepEqual(again.map((m) => m.name), ['autoencoder', 'encoder', 'decoder']);
  assert.ok(fs.statSync(path.join(outDir, 'encoder', 'weights.bin')).mtimeMs > before);
});
