/**
 * The inspect jobs (src/core/inspect.ts) on real MNIST runs trained here: anomaly scores of an
 * autoencoder trained on two digits, predictions, weight and feature-map pictures, the latent space
 * of a 2-D variational code and of a wider code. Numbers are checked against recomputations from the
 * run's checkpoint.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { type InspectRequest, type InspectResult, InspectRequestSchema, InspectResultSchema, ScoreResultSchema } from '../../src/core/inspect';
import { type FromWorker, TrainRequestSchema } from '../../src/core/protocol';
import { type CompiledGraph, compileGraph } from '../../src/compile/compile';
import { type Dataset, batchToFloat, loadMnist, splitIndices } from '../../src/data/index';
import { applyLayerWeights, loadCheckpoint } from '../../src/train/checkpoint';
import { inspectRun } from '../../src/run/client';
import { runInspect } from '../../src/train/jobs/inspect/index';
import { decodePng } from '../../src/train/png';
import { analyzeForTraining } from '../../src/train/prepare';
import { train } from '../../src/train/trainer';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';
import { RUN_FILES } from '../../src/core/runFormat';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-inspect-'));
let mnist: Dataset<Uint8Array>;
/** The split of graphs with validation 0.1, test 0.2, seed 42 (10 000 MNIST digits: 1 000 / 2 000). */
let split: ReturnType<typeof splitIndices>;

const TRAINED = [0, 1];
const dense = (units: number, activation: string): { kind: 'dense'; units: number; activation: string } => ({ kind: 'dense', units, activation });

/** A small dense autoencoder trained on the digits 0 and 1 only: every other digit is an anomaly. */
const anomalyGraph = {
  formatVersion: 1,
  name: 'Anomaly autoencoder',
  nodes: [
    { id: 'input', type: 'Input', params: { shape: [784] } },
    { id: 'encoder', type: 'Encoder', params: { stages: [dense(64, 'relu')] } },
    { id: 'code', type: 'Bottleneck', params: { latentSize: 16, activation: 'relu' } },
    { id: 'decoder', type: 'Decoder', params: { stages: [dense(64, 'relu'), dense(784, 'sigmoid')] } },
    { id: 'reconstruction', type: 'Output', params: { target: 'input' } },
  ],
  edges: [
    { from: 'input', to: 'encoder' },
    { from: 'encoder', to: 'code' },
    { from: 'code', to: 'decoder' },
    { from: 'decoder', to: 'reconstruction' },
  ],
  training: { dataset: 'mnist', classes: TRAINED, loss: 'binaryCrossentropy', optimizer: 'adam', learningRate: 0.003, epochs: 5, batchSize: 64 },
};

/** A small classifier (no Bottleneck). */
const classifierGraph = {
  formatVersion: 1,
  name: 'Small classifier',
  nodes: [
    { id: 'input', type: 'Input', params: { shape: [784] } },
    { id: 'hidden', type: 'Dense', params: { units: 32, activation: 'relu' } },
    { id: 'head', type: 'ClassifierHead', params: { classes: 10 } },
    { id: 'classes', type: 'Output', params: { target: 'labels' } },
  ],
  edges: [
    { from: 'input', to: 'hidden' },
    { from: 'hidden', to: 'head' },
    { from: 'head', to: 'classes' },
  ],
  training: { dataset: 'mnist', loss: 'categoricalCrossentropy', optimizer: 'adam', learningRate: 0.003, epochs: 2, batchSize: 64, metrics: ['accuracy'] },
};

async function trainRun(graphText: string, graphPath: string, extra: Record<string, unknown>): Promise<string> {
  const messages: FromWorker[] = [];
  const request = TrainRequestSchema.parse({ graphText, graphPath, runsDir: path.join(tmp, 'runs'), backend: 'wasm', batchProgressMs: 60_000, ...extra });
  const result = await train(request, (m) => messages.push(m), { cancelled: false });
  return result.runDir;
}

let anomalyRun: string;
let classifierRun: string;
let convRun: string;
let vaeRun: string;
const seconds: Record<string, number> = {};

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

before(async () => {
  tf.env().set('PROD', true);
  mnist = await loadMnist();
  split = splitIndices(mnist.count, { validation: 0.1, test: 0.2 }, 42);
  const timed = async (name: string, f: () => Promise<string>): Promise<string> => {
    const t0 = performance.now();
    const dir = await f();
    seconds[name] = (performance.now() - t0) / 1000;
    return dir;
  };
  anomalyRun = await timed('anomaly', () => trainRun(JSON.stringify(anomalyGraph), path.join(tmp, 'anomaly.latent.json'), { limitSamples: 3000 }));
  classifierRun = await timed('classifier', () => trainRun(JSON.stringify(classifierGraph), path.join(tmp, 'classifier.latent.json'), { limitSamples: 2000 }));
  // The Fashion-MNIST conv sample (3 805 parameters) on MNIST digits: seven conv layers for the feature maps.
  convRun = await timed('conv', () => trainRun(sampleText('fashion-conv-autoencoder'), path.join(SAMPLES_DIR, 'fashion-conv-autoencoder.latent.json'), { data: 'mnist', epochs: 1, limitSamples: 500 }));
  vaeRun = await timed('vae', () => trainRun(sampleText('variational-autoencoder'), path.join(SAMPLES_DIR, 'variational-autoencoder.latent.json'), { epochs: 1, limitSamples: 1000 }));
});

/** Run a job in this process on the cpu backend, checking its result against the schema. */
async function inspect<K extends InspectResult['kind']>(request: InspectRequest & { kind: K }): Promise<Extract<InspectResult, { kind: K }>> {
  const result = await runInspect(InspectRequestSchema.parse({ backend: 'cpu', ...request }));
  assert.equal(result.kind, request.kind);
  return InspectResultSchema.parse(result) as Extract<InspectResult, { kind: K }>;
}

/** The run's graph snapshot compiled with its checkpoint (the reference for recomputations). */
async function compiledRun(runDir: string): Promise<CompiledGraph> {
  await tf.setBackend('cpu');
  const text = fs.readFileSync(path.join(runDir, RUN_FILES.graph), 'utf8');
  const analysis = analyzeForTraining(text, 'snapshot');
  const compiled = compileGraph(analysis, { seed: analysis.document!.training.seed });
  const ckpt = loadCheckpoint(runDir);
  applyLayerWeights(compiled, ckpt);
  ckpt.dispose();
  return compiled;
}

/** Per-sample mean squared reconstruction error, computed here in float64 from the model's outputs. */
function errorsHere(model: tf.LayersModel, idx: Uint32Array): number[] {
  const x = batchToFloat(mnist, idx, 0, idx.length);
  const out = tf.tidy(() => model.predict(tf.tensor2d(x, [idx.length, 784])) as tf.Tensor).dataSync();
  return Array.from(idx, (_, k) => {
    let s = 0;
    for (let j = 0; j < 784; j++) s += (out[k * 784 + j]! - x[k * 784 + j]!) ** 2;
    return s / 784;
  });
}

/** numpy's default percentile: linear interpolation between order statistics. */
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

/** Area under the ROC curve of "positives score higher" (ties count half). */
function rocAuc(positives: number[], negatives: number[]): number {
  let wins = 0;
  for (const p of positives) for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (positives.length * negatives.length);
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const near = (a: number, b: number, rel = 1e-5): boolean => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-6);

test('anomaly scores: an autoencoder trained on 0 and 1 scores the other digits higher (AUC ≥ 0.75); files, threshold and worst agree', async (t) => {
  t.diagnostic(`training seconds: ${JSON.stringify(seconds)}`);
  // Through the real worker: the result crosses the process boundary and is validated there.
  const r = await inspectRun({ kind: 'score', runDir: anomalyRun, backend: 'cpu' });
  assert.ok(r.kind === 'score');
  assert.deepEqual([r.split, r.stage, r.outputId, r.metric, r.backend], ['test', 'train', 'reconstruction', 'meanSquaredError', 'cpu']);
  assert.deepEqual(r.indices, Array.from(split.test), 'classes "all": the whole test split, in order');
  assert.deepEqual(r.labels, Array.from(split.test, (i) => mnist.labels![i]!));
  assert.deepEqual(r.trainedClasses, TRAINED);
  assert.equal(r.classNames!.length, 10);

  const held: number[] = [];
  const trained: number[] = [];
  r.scores.forEach((s, i) => (TRAINED.includes(r.labels![i]!) ? trained : held).push(s));
  const auc = rocAuc(held, trained);
  t.diagnostic(`mean score: held-out digits ${mean(held).toFixed(5)} (${held.length}), trained digits ${mean(trained).toFixed(5)} (${trained.length}); ROC AUC ${auc.toFixed(4)}; threshold ${r.threshold.toFixed(5)}`);
  assert.ok(mean(held) > mean(trained), `held-out ${mean(held)} vs trained ${mean(trained)}`);
  assert.ok(auc >= 0.75, `ROC AUC ${auc}`);

  // Scores are the mean squared errors of the checkpointed autoencoder (recomputed for 50 samples).
  const compiled = await compiledRun(anomalyRun);
  const model = compiled.modelForOutput('reconstruction');
  errorsHere(model, split.test.slice(0, 50)).forEach((e, i) => assert.ok(near(e, r.scores[i]!), `sample ${i}: ${e} vs ${r.scores[i]}`));
  // The threshold: the 99th percentile of the validation scores of the trained classes.
  const validation = split.validation.filter((i) => TRAINED.includes(mnist.labels![i]!));
  assert.ok(near(percentile(errorsHere(model, validation), 99), r.threshold), `threshold ${r.threshold}`);
  assert.equal(r.thresholdRule, `99th percentile of the ${validation.length} validation samples of the trained classes (0, 1)`);
  compiled.dispose();

  // Worst first; worst[0] holds the highest score; positions index the scored split.
  assert.equal(r.worst.length, 16);
  assert.equal(r.worst[0]!.score, Math.max(...r.scores));
  r.worst.forEach((w, k) => {
    if (k > 0) assert.ok(w.score <= r.worst[k - 1]!.score);
    assert.equal(r.indices[w.position], w.index);
    assert.equal(r.scores[w.position], w.score);
    assert.equal(w.label, mnist.labels![w.index]);
  });
  const png = decodePng(Buffer.from(r.worstPngBase64, 'base64'));
  assert.deepEqual([png.width, png.height], [16 * 56 + 17 * 2, 2 * 56 + 3 * 2], 'originals over reconstructions, 16 columns');
  assert.deepEqual(fs.readFileSync(path.join(anomalyRun, 'worst.png')), Buffer.from(r.worstPngBase64, 'base64'));

  // scores.csv and anomaly.json say the same.
  assert.equal(r.csvFile, path.join(anomalyRun, 'scores.csv'));
  const lines = fs.readFileSync(r.csvFile, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'index,position,label,class,score,flagged');
  assert.equal(lines.length, r.scores.length + 1);
  assert.deepEqual(r.positions, r.scores.map((_, i) => i), 'every class scored: positions are the split order');
  lines.slice(1).forEach((line, i) => {
    const [index, position, label, name, score, flagged] = line.split(',');
    assert.deepEqual([Number(index), Number(position), Number(label), name, Number(score), Number(flagged)], [r.indices[i], i, r.labels![i], String(r.labels![i]), r.scores[i], r.scores[i]! > r.threshold ? 1 : 0]);
  });
  assert.deepEqual(ScoreResultSchema.parse(JSON.parse(fs.readFileSync(path.join(anomalyRun, 'anomaly.json'), 'utf8'))), r);
});

test('score --classes trained: only the trained digits; positions stay those of the whole split; limit and worst are honoured', async () => {
  const r = await inspect({ kind: 'score', runDir: anomalyRun, classes: 'trained', limit: 100, worst: 5 });
  assert.equal(r.scores.length, 100);
  assert.ok(r.labels!.every((l) => TRAINED.includes(l)));
  const positions = Array.from(split.test.keys()).filter((p) => TRAINED.includes(mnist.labels![split.test[p]!]!)).slice(0, 100);
  assert.deepEqual(r.indices, positions.map((p) => split.test[p]!));
  assert.deepEqual(r.positions, positions);
  assert.equal(r.worst.length, 5);
  for (const w of r.worst) assert.equal(split.test[w.position], w.index);
  const csv = fs.readFileSync(r.csvFile, 'utf8').trim().split('\n').slice(1);
  assert.deepEqual(csv.map((l) => Number(l.split(',')[1])), positions);
  // The validation split, scored whole: the threshold is the 99th percentile of these very scores.
  const v = await inspect({ kind: 'score', runDir: anomalyRun, split: 'validation', classes: 'trained' });
  assert.ok(near(percentile(v.scores, 99), v.threshold, 1e-9));
});

test('predict: a classifier gives probabilities summing to 1 and predicts their argmax, at the positions asked for; bad positions are refused', async () => {
  const r = await inspect({ kind: 'predict', runDir: classifierRun, positions: [0, 5, 17] });
  assert.deepEqual([r.target, r.stage, r.outputId, r.split], ['labels', 'train', 'classes', 'test']);
  assert.deepEqual(r.items.map((i) => [i.position, i.index, i.label]), [0, 5, 17].map((p) => [p, split.test[p], mnist.labels![split.test[p]!]]));
  for (const item of r.items) {
    const p = item.probabilities!;
    assert.equal(p.length, 10);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.equal(item.predicted, p.indexOf(Math.max(...p)));
    assert.equal(item.reconstructionPngBase64, undefined);
    const png = decodePng(Buffer.from(item.imagePngBase64, 'base64'));
    assert.deepEqual([png.width, png.height], [56, 56]);
  }
  // Two epochs on 2 000 digits: most of the first 24 test digits are right.
  const first = await inspect({ kind: 'predict', runDir: classifierRun });
  assert.equal(first.items.length, 24);
  assert.deepEqual(first.items.map((i) => i.position), Array.from({ length: 24 }, (_, i) => i));
  assert.ok(first.items.filter((i) => i.predicted === i.label).length >= 18);
  await assert.rejects(inspect({ kind: 'predict', runDir: classifierRun, positions: [3, 2000] }), /position 2000 is outside the test split \(2000 samples: positions 0 to 1999\)/);
  await assert.rejects(inspect({ kind: 'predict', runDir: classifierRun, split: 'validation', positions: [1000] }), /position 1000 is outside the validation split \(1000 samples/);

  // An autoencoder: its reconstruction, and the same error the anomaly score gives.
  const ae = await inspect({ kind: 'predict', runDir: anomalyRun, count: 3 });
  const scores = await inspect({ kind: 'score', runDir: anomalyRun, limit: 3, worst: 1 });
  assert.equal(ae.target, 'input');
  ae.items.forEach((item, k) => {
    assert.ok(near(item.error!, scores.scores[k]!), `${item.error} vs ${scores.scores[k]}`);
    assert.deepEqual([decodePng(Buffer.from(item.reconstructionPngBase64!, 'base64')).width, item.predicted], [56, undefined]);
  });
});

test('weights: one tile per unit (28×28 for a Dense on the image, the kernel for a conv), each scaled to its own range', async () => {
  const r = await inspect({ kind: 'weights', runDir: anomalyRun });
  assert.deepEqual([r.layer, r.layerKind, r.units, r.shown, r.tile], ['encoder', 'dense', 64, 64, [28, 28]]);
  assert.deepEqual(r.layers, ['encoder', 'code', 'decoder.0', 'decoder.1']);
  const png = decodePng(Buffer.from(r.pngBase64, 'base64'));
  assert.deepEqual([png.width, png.height], [16 * 56 + 17 * 2, 4 * 56 + 5 * 2], '64 tiles, 16 to a row, ×2');
  assert.deepEqual(fs.readFileSync(path.join(anomalyRun, 'weights.png')), Buffer.from(r.pngBase64, 'base64'));
  // Unit 1's tile (second column): its 784 incoming weights, min → 0, max → 255.
  const compiled = await compiledRun(anomalyRun);
  const kernel = compiled.layersByNode.get('encoder')![0]!.getWeights()[0]!.arraySync() as number[][];
  const w = kernel.map((row) => row[1]!);
  const [lo, hi] = [Math.min(...w), Math.max(...w)];
  for (const [y, x] of [[0, 0], [14, 14], [20, 7]] as const) {
    const expected = Math.round(((w[y * 28 + x]! - lo) / (hi - lo)) * 255);
    const got = png.data[((2 + y * 2) * png.width + 2 + 56 + 2 + x * 2) * 4]!;
    assert.ok(Math.abs(got - expected) <= 1, `pixel (${y}, ${x}): ${got} vs ${expected}`);
  }
  compiled.dispose();

  const few = await inspect({ kind: 'weights', runDir: anomalyRun, layer: 'decoder', maxUnits: 10 });
  assert.deepEqual([few.layer, few.units, few.shown, few.tile], ['decoder.0', 64, 10, [4, 4]], 'a Dense on the 16-number code: 4×4 tiles');
  const conv = await inspect({ kind: 'weights', runDir: convRun, layer: 'encoder.0' });
  assert.deepEqual([conv.layerKind, conv.units, conv.shown, conv.tile], ['conv', 16, 16, [3, 3]]);
  const convPng = decodePng(Buffer.from(conv.pngBase64, 'base64'));
  assert.deepEqual([convPng.width, convPng.height], [16 * 24 + 17 * 2, 24 + 2 * 2], '3×3 kernels drawn ×8');
  await assert.rejects(inspect({ kind: 'weights', runDir: anomalyRun, layer: 'nope' }), /has no Dense or Conv2D layer "nope": the layers whose weights can be drawn are encoder, code, decoder\.0, decoder\.1/);
});

test('features: one map per conv layer of the autoencoder, shaped as the model computes it; a dense graph is refused', async () => {
  const r = await inspect({ kind: 'features', runDir: convRun, position: 3 });
  const compiled = await compiledRun(convRun);
  const model = compiled.modelForOutput('reconstruction');
  const convLayers = model.layers.filter((l) => l.getClassName() === 'Conv2D');
  assert.equal(convLayers.length, 7);
  assert.deepEqual(r.maps.map((m) => m.layer), convLayers.map((l) => l.name));
  assert.deepEqual(r.maps.map((m) => m.shape), convLayers.map((l) => (l.outputShape as number[]).slice(1)));
  assert.ok(r.layers.includes('encoder.1') && r.layers.length > 7, 'pooling and upsampling layers can be picked too');
  // The same test split as the conv graph draws it (validation 0.1, test 0.15 of MNIST here).
  const convSplit = splitIndices(mnist.count, { validation: 0.1, test: 0.15 }, 42);
  assert.deepEqual([r.position, r.index, r.label], [3, convSplit.test[3], mnist.labels![convSplit.test[3]!]]);
  const first = decodePng(Buffer.from(r.maps[0]!.pngBase64, 'base64'));
  assert.deepEqual([r.maps[0]!.shown, first.width, first.height], [16, 8 * 56 + 9 * 2, 2 * 56 + 3 * 2], '16 channels of 28×28, 8 to a row, ×2');
  // Channel 0 of the first conv layer, recomputed: the brightest pixel is where the activation peaks.
  const probe = tf.model({ inputs: model.inputs, outputs: convLayers[0]!.output as tf.SymbolicTensor });
  const act = tf.tidy(() => (probe.predict(tf.tensor4d(batchToFloat(mnist, convSplit.test, 3, 4), [1, 28, 28, 1])) as tf.Tensor).dataSync());
  const channel0 = Array.from({ length: 784 }, (_, p) => act[p * 16]!);
  const peak = channel0.indexOf(Math.max(...channel0));
  assert.equal(first.data[((2 + Math.floor(peak / 28) * 2) * first.width + 2 + (peak % 28) * 2) * 4], 255);
  compiled.dispose();
  assert.ok(fs.existsSync(r.file) && r.file === path.join(convRun, 'features.png'));

  const picked = await inspect({ kind: 'features', runDir: convRun, layers: ['encoder.0', 'decoder'], maxChannels: 4 });
  assert.deepEqual(picked.maps.map((m) => m.layer), ['encoder.0', ...convLayers.slice(3).map((l) => l.name)]);
  assert.ok(picked.maps.every((m) => m.shown === Math.min(4, m.shape[2]!)));
  await assert.rejects(inspect({ kind: 'features', runDir: convRun, layers: ['nope'] }), /has no layer "nope" with a spatial output/);
  await assert.rejects(inspect({ kind: 'features', runDir: anomalyRun }), /has no convolutional layers; feature maps need a Conv2D/);
  await assert.rejects(inspect({ kind: 'features', runDir: convRun, position: 1500 }), /position 1500 is outside the test split \(1500 samples/);
});

test('latent: a 2-D variational code is drawn as it is (z_mean); a 16-number code as its principal components', async () => {
  const r = await inspect({ kind: 'latent', runDir: vaeRun, limit: 300 });
  assert.deepEqual([r.codeSize, r.projection, r.explained, r.x.length], [2, 'code', undefined, 300]);
  assert.deepEqual(r.indices, Array.from(split.test.slice(0, 300)));
  assert.deepEqual(r.positions, Array.from({ length: 300 }, (_, i) => i));
  const compiled = await compiledRun(vaeRun);
  const codes = tf.tidy(() => (compiled.models.get('encoder')!.predict(tf.tensor2d(batchToFloat(mnist, split.test, 0, 5), [5, 784])) as tf.Tensor).arraySync() as number[][]);
  const zMean = compiled.layersByNode.get('bottleneck')!.find((l) => l.name === 'bottleneck.z_mean')!;
  const means = tf.tidy(() => (tf.model({ inputs: compiled.models.get('encoder')!.inputs, outputs: zMean.output as tf.SymbolicTensor }).predict(tf.tensor2d(batchToFloat(mnist, split.test, 0, 5), [5, 784])) as tf.Tensor).arraySync() as number[][]);
  compiled.dispose();
  codes.forEach(([x, y], i) => {
    assert.ok(near(r.x[i]!, x!) && near(r.y[i]!, y!), `point ${i}: (${r.x[i]}, ${r.y[i]}) vs (${x}, ${y})`);
    assert.ok(near(r.x[i]!, means[i]![0]!) && near(r.y[i]!, means[i]![1]!), 'the code is z_mean');
  });
  assert.deepEqual(r.imageShape, [28, 28, 1]);
  const inputs = Buffer.from(r.inputsBase64, 'base64');
  const recon = Buffer.from(r.reconstructionsBase64, 'base64');
  assert.deepEqual([inputs.length, recon.length], [300 * 784, 300 * 784]);
  assert.deepEqual(inputs.subarray(0, 784), Buffer.from(mnist.values.subarray(split.test[0]! * 784, (split.test[0]! + 1) * 784)));
  const csv = fs.readFileSync(r.file, 'utf8').trim().split('\n');
  assert.equal(csv[0], 'position,index,label,x,y');
  assert.deepEqual(csv[1]!.split(',').map(Number), [0, split.test[0], mnist.labels![split.test[0]!], r.x[0], r.y[0]]);

  const wide = await inspect({ kind: 'latent', runDir: anomalyRun, split: 'validation', limit: 400 });
  assert.deepEqual([wide.codeSize, wide.projection, wide.x.length], [16, 'pca', 400]);
  const [e1, e2] = wide.explained!;
  assert.ok(e1 >= e2 && e2 > 0 && e1 <= 1 && e1 + e2 <= 1 + 1e-12, `explained ${wide.explained}`);
  assert.equal(Buffer.from(wide.inputsBase64, 'base64').length, 400 * 28 * 28 * 1);
  assert.equal(Buffer.from(wide.reconstructionsBase64, 'base64').length, 400 * 28 * 28 * 1);
  assert.ok(Math.abs(mean(wide.x)) < 1e-6 && Math.abs(mean(wide.y)) < 1e-6, 'projections of centred codes');
  await assert.rejects(inspect({ kind: 'latent', runDir: classifierRun }), /has no Bottleneck block/);
});
