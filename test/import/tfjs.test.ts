/**
 * Importing TensorFlow.js layers models: models built here with tfjs (sequential and functional,
 * dense and convolutional autoencoders, a classifier) and saved as model.json + weights.bin become
 * graph files whose parameter counts equal the model's, and which, compiled and started from the
 * imported weights (the checkpoint the graph names as its training.initFrom), give the model's outputs
 * (≤ 1e-5); both engines start training from them and score them alike.
 * A layer the catalog lacks, --partial, weights that do not fit the config and a corrupt file each
 * get a sentence; nothing is overwritten without --overwrite.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { parseJsonText } from '../../src/core/canonical';
import { compileGraph } from '../../src/compile/compile';
import { mulberry32 } from '../../src/data/random';
import { importModel } from '../../src/run/importModel';
import { applyLayerWeights, loadCheckpoint } from '../../src/train/checkpoint';
import { torchPython } from '../helpers/pytorch';
import { loadTfjsFolder } from '../helpers/tfjsFolder';
import { ROOT } from '../helpers/samples';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-import-'));
before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Saves `model` as a user's tfjs export: <dir>/model.json and weights.bin. */
async function saveModel(model: tf.LayersModel, dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const w = a.weightData!;
      fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(w instanceof ArrayBuffer ? w : tf.io.CompositeArrayBuffer.join(w)));
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', generatedBy: 'test', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return path.join(dir, 'model.json');
}

/** Non-trivial batch-norm statistics, so an import that dropped them would show. */
function shakeBatchNorm(model: tf.LayersModel): void {
  const rng = mulberry32(9);
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(Float32Array.from({ length: w.size }, () => (i === 3 ? 0.5 + rng() : (rng() - 0.5) * 0.5)), w.shape)));
  }
}

async function roundTrip(model: tf.LayersModel, label: string): Promise<{ graph: Record<string, unknown>; types: string[] }> {
  shakeBatchNorm(model);
  const file = await saveModel(model, path.join(tmp, label));
  const graphFile = path.join(tmp, `${label}.latent.json`);
  const done = await importModel({ model: file, out: graphFile });
  assert.deepEqual(done.skipped, []);
  const parsed = parseJsonText(fs.readFileSync(done.graphFile, 'utf8'));
  assert.ok(parsed.ok);
  const analysis = analyzeGraph(parsed.value);
  assert.ok(analysis.ok, `${label}: ${analysis.problems.map((p) => p.message).join('; ')}`);
  assert.equal(analysis.totals.params, model.countParams(), `${label}: parameter count`);
  assert.equal(done.params, model.countParams());
  const compiled = compileGraph(analysis);
  const ckpt = loadCheckpoint(done.weightsDir);
  try {
    applyLayerWeights(compiled, ckpt);
    const doc = parsed.value as { nodes: { id: string; type: string }[] };
    const output = doc.nodes.find((n) => n.type === 'Output')!;
    const ours = compiled.modelForOutput(output.id);
    const shape = model.inputs[0]!.shape.map((d) => d ?? 4);
    const rng = mulberry32(3);
    const x = tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng()), shape);
    const want = (model.predict(x) as tf.Tensor).dataSync();
    const got = (ours.predict(x) as tf.Tensor).dataSync();
    assert.equal(got.length, want.length);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    assert.ok(worst <= 1e-5, `${label}: the imported graph differs from the model by ${worst}`);
    tf.dispose(x);
    return { graph: parsed.value as Record<string, unknown>, types: doc.nodes.map((n) => n.type) };
  } finally {
    ckpt.dispose();
    compiled.dispose();
  }
}

test('a sequential dense autoencoder (batch norm, dropout, noise, leaky ReLU) imports with its weights and outputs', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu' }),
      tf.layers.batchNormalization({ momentum: 0.9, epsilon: 0.01 }),
      tf.layers.dropout({ rate: 0.2 }),
      tf.layers.dense({ units: 16, activation: 'linear' }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.gaussianNoise({ stddev: 0.1 }),
      tf.layers.dense({ units: 64, activation: 'tanh', useBias: false }),
      tf.layers.dense({ units: 784, activation: 'sigmoid' }),
    ],
  });
  const { graph, types } = await roundTrip(model, 'dense-ae');
  assert.deepEqual(types, ['Input', 'Dense', 'BatchNormalization', 'Dropout', 'Dense', 'Activation', 'GaussianNoise', 'Dense', 'Dense', 'Output']);
  assert.equal((graph.training as { dataset: string; loss: string }).dataset, 'mnist');
  assert.equal((graph.training as { loss: string }).loss, 'binaryCrossentropy');
});

test('a functional convolutional autoencoder (strides, same and valid padding, pooling, upsampling, transposed convs) imports exactly', async () => {
  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  let h = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv_a' }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 4, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'elu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.upSampling2d({ size: [2, 2] }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: h, name: 'conv_ae' });
  const { graph } = await roundTrip(model, 'conv-ae');
  assert.equal(graph.name, 'conv_ae');
  assert.deepEqual((graph.nodes as { id: string }[])[0], { id: 'image', type: 'Input', params: { shape: [28, 28, 1] } });
});

test('a classifier (flatten, softmax) imports with a labels Output and the accuracy metric', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.reshape({ inputShape: [784], targetShape: [28, 28, 1] }),
      tf.layers.conv2d({ filters: 4, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  const { graph, types } = await roundTrip(model, 'classifier');
  assert.equal(types.at(-1), 'Output');
  assert.equal((graph.nodes as { type: string; params?: { target?: string } }[]).at(-1)!.params!.target, 'labels');
  assert.deepEqual((graph.training as { metrics: string[] }).metrics, ['accuracy']);
  assert.equal((graph.training as { loss: string }).loss, 'categoricalCrossentropy');
});

test('a dense autoencoder becomes Encoder, Bottleneck and Decoder blocks, as the samples draw it, with the same parameters and outputs', async () => {
  const dense = (units: number, activation: 'relu' | 'sigmoid' | 'linear' = 'relu', more: Record<string, unknown> = {}) => tf.layers.dense({ units, activation, ...more });
  const model = tf.sequential({ layers: [dense(128, 'relu', { inputShape: [784] }), dense(64), dense(16, 'linear'), dense(64), dense(128), dense(784, 'sigmoid')] });
  const { graph, types } = await roundTrip(model, 'grouped-dense');
  assert.deepEqual(types, ['Input', 'Encoder', 'Bottleneck', 'Decoder', 'Output']);
  const nodes = graph.nodes as { type: string; params: { stages?: { units: number; activation: string }[]; latentSize?: number; activation?: string } }[];
  assert.deepEqual(nodes[1]!.params.stages!.map((st) => [st.units, st.activation]), [[128, 'relu'], [64, 'relu']]);
  assert.deepEqual([nodes[2]!.params.latentSize, nodes[2]!.params.activation], [16, 'linear']);
  assert.deepEqual(nodes[3]!.params.stages!.map((st) => [st.units, st.activation]), [[64, 'relu'], [128, 'relu'], [784, 'sigmoid']]);

  // A denoising one on images: noise first, a Flatten before the first dense layer, a Reshape back at the end; batch norm and dropout join their stages.
  const denoising = tf.sequential({
    layers: [
      tf.layers.gaussianNoise({ inputShape: [28, 28, 1], stddev: 0.2 }),
      tf.layers.flatten(),
      dense(64),
      tf.layers.batchNormalization(),
      tf.layers.dropout({ rate: 0.1 }),
      dense(8),
      dense(64),
      dense(784, 'sigmoid'),
      tf.layers.reshape({ targetShape: [28, 28, 1] }),
    ],
  });
  const noisy = await roundTrip(denoising, 'grouped-denoising');
  assert.deepEqual(noisy.types, ['Input', 'GaussianNoise', 'Encoder', 'Bottleneck', 'Decoder', 'Reshape', 'Output']);
  const enc = (noisy.graph.nodes as { params: { stages?: Record<string, unknown>[] } }[])[2]!.params.stages!;
  assert.deepEqual(enc, [{ kind: 'dense', units: 64, activation: 'relu', batchNorm: true, dropout: 0.1 }]);
});

test('a convolutional autoencoder groups too: conv and pooling stages, the feature maps as the code, conv and upsampling stages back', async () => {
  const conv = (filters: number, activation: 'relu' | 'sigmoid' = 'relu', more: Record<string, unknown> = {}) => tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation, ...more });
  const model = tf.sequential({
    layers: [
      conv(16, 'relu', { inputShape: [28, 28, 1] }),
      tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
      conv(8),
      tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
      conv(8),
      tf.layers.upSampling2d({ size: [2, 2] }),
      conv(16),
      tf.layers.upSampling2d({ size: [2, 2] }),
      conv(1, 'sigmoid'),
    ],
  });
  const { graph, types } = await roundTrip(model, 'grouped-conv');
  assert.deepEqual(types, ['Input', 'Encoder', 'Bottleneck', 'Decoder', 'Output']);
  const nodes = graph.nodes as { params: { stages?: { filters: number; pool?: number; upsample?: number }[]; latentSize?: number } }[];
  assert.deepEqual(nodes[1]!.params.stages!.map((st) => [st.filters, st.pool]), [[16, 2], [8, 2]]);
  assert.equal(nodes[2]!.params.latentSize, undefined, 'the 7x7x8 feature maps are the code');
  assert.deepEqual(nodes[3]!.params.stages!.map((st) => [st.filters, st.upsample]), [[8, 2], [16, 2], [1, undefined]]);

  // --no-group (group: false) keeps one block per layer; a net that never narrows below its input is not an autoencoder.
  const file = await saveModel(model, path.join(tmp, 'ungrouped'));
  const flat = await importModel({ model: file, out: path.join(tmp, 'ungrouped.latent.json'), group: false });
  assert.equal(flat.grouped, false);
  assert.equal(flat.blocks, 11);
  const wide = await saveModel(tf.sequential({ layers: [tf.layers.dense({ inputShape: [16], units: 32 }), tf.layers.dense({ units: 16 })] }), path.join(tmp, 'wide'));
  assert.equal((await importModel({ model: wide, out: path.join(tmp, 'wide.latent.json') })).grouped, false);
});

test('what does not import says why, naming the layer; --partial keeps the supported part; nothing is overwritten', async () => {
  const input = tf.input({ shape: [32] });
  const a = tf.layers.dense({ units: 8, name: 'first' }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.dense({ units: 8, name: 'second' }).apply(a) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'merge' }).apply([a, b]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 32, name: 'last' }).apply(sum) as tf.SymbolicTensor;
  const file = await saveModel(tf.model({ inputs: input, outputs: out }), path.join(tmp, 'merge'));
  await assert.rejects(() => importModel({ model: file, out: path.join(tmp, 'merge.latent.json') }), /model\.json: layer 4 "merge" \(Add\): it takes 2 inputs; blocks take one .*Import with --partial/);
  const partial = await importModel({ model: file, out: path.join(tmp, 'merge.latent.json'), partial: true });
  assert.equal(partial.skipped.length, 2);
  assert.match(partial.skipped[1]!, /layer 5 "last" \(Dense\): after a layer that was left out/);
  assert.equal(partial.params, 32 * 8 + 8 + 8 * 8 + 8);
  // What was left out stays in the graph: a warning each, at its line of "leftOut", until removed.
  const partialText = fs.readFileSync(partial.graphFile, 'utf8');
  const partialGraph = JSON.parse(partialText) as { leftOut?: string[] };
  assert.deepEqual(partialGraph.leftOut, partial.skipped);
  const partialAnalysis = analyzeGraph(partialGraph);
  // (This graph stops before the model's output, so its Output is an error too; a graph that is whole stays valid with leftOut.)
  const whole = analyzeGraph({ ...JSON.parse(fs.readFileSync(path.join(ROOT, 'samples', 'dense-autoencoder.latent.json'), 'utf8')), leftOut: ['x.json: layer 3 "a" (Foo)'] });
  assert.equal(whole.ok, true, JSON.stringify(whole.problems));
  assert.deepEqual(whole.document?.leftOut, ['x.json: layer 3 "a" (Foo)']);
  const leftOut = partialAnalysis.problems.filter((p) => p.path[0] === 'leftOut');
  assert.deepEqual(leftOut.map((p) => [p.severity, p.path[1]]), [['warning', 0], ['warning', 1]]);
  assert.match(leftOut[0]!.message, /^Left out of the imported model: .*layer 4 "merge" \(Add\).*delete this line from "leftOut"\.$/);
  assert.match(partialText, /"leftOut": \[\n {4}"[^\n]*layer 4 \\"merge\\"/, 'one line per layer left out');
  await assert.rejects(() => importModel({ model: file, out: path.join(tmp, 'merge.latent.json'), partial: true }), /merge\.latent\.json already exists: choose another name or overwrite it/);

  // Weights that do not belong to the config.
  const small = await saveModel(tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 })] }), path.join(tmp, 'small'));
  const json = JSON.parse(fs.readFileSync(small, 'utf8')) as { weightsManifest: { weights: { shape: number[] }[] }[] };
  json.weightsManifest[0]!.weights[0]!.shape = [4, 2];
  fs.writeFileSync(small, JSON.stringify(json));
  await assert.rejects(() => importModel({ model: small, out: path.join(tmp, 'small.latent.json') }), /the weights files hold \d+ bytes, the manifest \d+|do not belong to this config/);
  fs.writeFileSync(small, '{"modelTopology": 3');
  await assert.rejects(() => importModel({ model: small, out: path.join(tmp, 'small2.latent.json') }), /small\/model\.json: not JSON/);
  await assert.rejects(() => importModel({ model: path.join(tmp, 'nothing.json'), out: path.join(tmp, 'x.latent.json') }), /nothing\.json: cannot be read \(ENOENT\)/);
});

test('latent-studio import on the command line: the graph starts from the imported weights (training.initFrom) on both engines, which score them alike', async (t) => {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu' }), tf.layers.dense({ units: 784, activation: 'sigmoid' })] });
  const file = await saveModel(model, path.join(tmp, 'cli'));
  const cli = (args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
  const r = cli(['import', file, '--out', 'cli-graph.latent.json']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /cli-graph\.latent\.json: 4 blocks \(an autoencoder: Encoder, Bottleneck, Decoder\), 50,992 params/);
  assert.match(r.stdout, /the graph's starting point \(training\.initFrom\)[^\n]*\n {2}latent-studio train cli-graph\.latent\.json\n/);
  const graph = JSON.parse(fs.readFileSync(path.join(tmp, 'cli-graph.latent.json'), 'utf8')) as { training: { initFrom?: string } };
  assert.equal(graph.training.initFrom, 'cli-graph.weights');

  // No --init-from: the graph names its starting point. Epoch 0 scores the weights before any step.
  const { python } = await torchPython();
  const engines = [['--backend', 'cpu'], ...(python ? [['--engine', 'pytorch', '--python', python, '--device', 'cpu']] : [])];
  const epoch0 = engines.map((engine, i) => {
    const trained = cli(['train', 'cli-graph.latent.json', '--epochs', '1', '--limit', '256', '--out', `runs-${i}`, ...engine]);
    assert.equal(trained.status, 0, trained.stderr);
    assert.match(trained.stderr + trained.stdout, /Started from cli-graph\.weights: loaded 2 of 2 layers/, engine.join(' '));
    const runDir = path.join(tmp, `runs-${i}`, fs.readdirSync(path.join(tmp, `runs-${i}`))[0]!);
    const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { initFrom?: string };
    assert.equal(config.initFrom, path.join(fs.realpathSync(tmp), 'cli-graph.weights'), `${engine.join(' ')}: config.json names the starting point`);
    const records = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; valLoss: number });
    return records.find((e) => e.epoch === 0)!.valLoss;
  });
  if (epoch0.length === 2) assert.ok(Math.abs(epoch0[0]! - epoch0[1]!) / epoch0[0]! <= 1e-4, `the imported weights' validation loss: tfjs ${epoch0[0]}, PyTorch ${epoch0[1]}`);
  else t.diagnostic('no Python with torch: the PyTorch engine was not compared');

  // --epochs 0: the imported model as it is, kept as a run's checkpoint on either engine: its model/ is the source model, and evaluate scores it alike.
  const x = tf.tensor(Float32Array.from({ length: 3 * 784 }, mulberry32(11)), [3, 784]);
  const expected = (model.predict(x) as tf.Tensor).dataSync();
  const tested = engines.map((engine, i) => {
    const untrained = cli(['train', 'cli-graph.latent.json', '--epochs', '0', '--limit', '256', '--out', `untrained-${i}`, ...engine]);
    assert.equal(untrained.status, 0, untrained.stderr);
    assert.match(untrained.stderr, /Done: the starting weights, untrained, are the run's checkpoint/);
    const runDir = path.join(tmp, `untrained-${i}`, fs.readdirSync(path.join(tmp, `untrained-${i}`))[0]!);
    const status = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { status: string; epochsCompleted: number };
    assert.deepEqual([status.status, status.epochsCompleted], ['completed', 0], engine.join(' '));
    const evaluated = cli(['evaluate', '--run', runDir, '--limit', '200', '--backend', 'cpu', '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    return { runDir, loss: (JSON.parse(evaluated.stdout) as { loss: number }).loss };
  });
  for (const { runDir } of tested) {
    const saved = await loadTfjsFolder(path.join(runDir, 'model'));
    const got = (saved.predict(x) as tf.Tensor).dataSync();
    assert.ok(got.every((v, j) => Math.abs(v - expected[j]!) <= 1e-5), `${path.basename(path.dirname(runDir))}: the run's model is the imported one`);
  }
  if (tested.length === 2) assert.ok(Math.abs(tested[0]!.loss - tested[1]!.loss) <= 1e-6 * tested[0]!.loss, `evaluate: ${tested[0]!.loss} vs ${tested[1]!.loss}`);

  const again = cli(['import', file, '--out', 'cli-graph.latent.json']);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /cli-graph\.latent\.json already exists/);
  assert.equal(again.stderr.trim().split('\n').length, 1);
  // The starting point gone: the run refuses, naming the graph's field.
  fs.rmSync(path.join(tmp, 'cli-graph.weights'), { recursive: true });
  const gone = cli(['train', 'cli-graph.latent.json', '--epochs', '1', '--limit', '256', '--out', 'runs-gone']);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /training\.initFrom "cli-graph\.weights" \(in cli-graph\.latent\.json\): no such run folder/);
});
