import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import * as tf from '../../src/backend/tf';

import { loadModel, ModelFileError, saveModel } from '../../src/train/modelFiles';

let root = '';

before(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(path.join(tmpdir(), 'latent-model-files-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function denseAutoencoder(): tf.LayersModel {
  const input = tf.input({ shape: [784] });
  const code = tf.layers.dense({ units: 16, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 784, activation: 'sigmoid' }).apply(code) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function convAutoencoder(): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.upSampling2d({ size: [2, 2] }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** Deterministic input so predictions can be compared exactly. */
function fixedInput(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = ((i * 37) % 101) / 100;
  return tf.tensor(values, shape);
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function predict(model: tf.LayersModel, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(fixedInput(shape)) as tf.Tensor).dataSync() as Float32Array);
}

async function freshDir(name: string): Promise<string> {
  return path.join(await mkdtemp(path.join(root, `${name}-`)), 'model');
}

interface ModelJsonShape {
  modelTopology: { class_name: string; config: unknown };
  format: string;
  generatedBy: string;
  convertedBy: null;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}

const cases: { name: string; build: () => tf.LayersModel; inputShape: number[] }[] = [
  { name: 'dense', build: denseAutoencoder, inputShape: [3, 784] },
  { name: 'conv', build: convAutoencoder, inputShape: [2, 28, 28, 1] },
];

for (const { name, build, inputShape } of cases) {
  test(`${name} model: save writes the standard layers layout and loads back identical`, async () => {
    const tensorsBefore = tf.memory().numTensors;
    const model = build();
    const dir = await freshDir(name);
    const saved = await saveModel(model, dir);

    assert.equal(saved.modelJson, path.join(dir, 'model.json'));
    assert.equal(saved.weightsBin, path.join(dir, 'weights.bin'));
    assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin'], 'no temp files left behind');
    const jsonSize = (await stat(saved.modelJson)).size;
    const binSize = (await stat(saved.weightsBin)).size;
    assert.equal(saved.bytes, jsonSize + binSize);

    const json = JSON.parse(await readFile(saved.modelJson, 'utf8')) as ModelJsonShape;
    assert.equal(json.format, 'layers-model');
    assert.match(json.generatedBy, /^TensorFlow\.js tfjs-layers v4\./);
    assert.equal(json.convertedBy, null);
    assert.equal(typeof json.modelTopology.class_name, 'string');
    assert.equal(json.weightsManifest.length, 1);
    const group = json.weightsManifest[0];
    assert.ok(group);
    assert.deepEqual(group.paths, ['weights.bin']);
    const originalWeights = model.weights;
    assert.deepEqual(
      group.weights.map((w) => [w.name, w.shape, w.dtype]),
      originalWeights.map((w) => [w.originalName, w.shape, w.dtype]),
    );
    const paramCount = originalWeights.reduce((n, w) => n + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
    assert.equal(binSize, paramCount * 4, 'float32 weights, nothing else');

    const loaded = await loadModel(dir);
    const a = weightsOf(model);
    const b = weightsOf(loaded);
    assert.equal(b.length, a.length);
    a.forEach((w, i) => assert.deepEqual(b[i], w, `weight ${i} (${originalWeights[i]?.originalName})`));
    assert.deepEqual(loaded.outputs[0]?.shape, model.outputs[0]?.shape);
    assert.deepEqual(predict(loaded, inputShape), predict(model, inputShape));

    model.dispose();
    loaded.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensors leaked');
  });
}

test('saving again over an existing folder replaces both files', async () => {
  const dir = await freshDir('overwrite');
  const first = denseAutoencoder();
  const second = denseAutoencoder();
  await saveModel(first, dir);
  await saveModel(second, dir);
  const loaded = await loadModel(dir);
  assert.deepEqual(weightsOf(loaded), weightsOf(second));
  assert.notDeepEqual(weightsOf(loaded), weightsOf(first));
  assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin']);
  [first, second, loaded].forEach((m) => m.dispose());
});

test('the stock tfjs HTTP loader (what browsers use) reads the saved folder', async () => {
  const model = convAutoencoder();
  const dir = await freshDir('http');
  await saveModel(model, dir);
  // Serve the folder as a static site: the browser loader resolves weights.bin next to model.json.
  const server: Server = createServer((req, res) => {
    const file = path.join(dir, path.basename(req.url ?? ''));
    readFile(file).then(
      (body) => res.end(body),
      () => {
        res.statusCode = 404;
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const loaded = await tf.loadLayersModel(`http://127.0.0.1:${port}/model.json`);
    assert.deepEqual(predict(loaded, [1, 28, 28, 1]), predict(model, [1, 28, 28, 1]));
    loaded.dispose();
  } finally {
    server.close();
    model.dispose();
  }
});

/** Saves a dense model into a fresh folder and returns the folder, for corrupting. */
async function savedDir(name: string): Promise<string> {
  const model = denseAutoencoder();
  const dir = await freshDir(name);
  await saveModel(model, dir);
  model.dispose();
  return dir;
}

async function rejectsNaming(dir: string, file: string, fault: RegExp): Promise<void> {
  await assert.rejects(loadModel(dir), (e: unknown) => {
    assert.ok(e instanceof ModelFileError, `expected ModelFileError, got ${String(e)}`);
    assert.equal(e.file, path.join(dir, file));
    assert.ok(e.message.includes(path.join(dir, file)), `message names the file: ${e.message}`);
    assert.match(e.message, fault);
    return true;
  });
}

test('missing folder or model.json names model.json', async () => {
  await rejectsNaming(path.join(root, 'does-not-exist'), 'model.json', /model\.json not found/);
});

test('missing weights.bin names weights.bin', async () => {
  const dir = await savedDir('no-weights');
  await unlink(path.join(dir, 'weights.bin'));
  await rejectsNaming(dir, 'weights.bin', /weights file not found/);
});

test('truncated weights.bin names weights.bin and the sizes', async () => {
  const dir = await savedDir('truncated');
  const bin = path.join(dir, 'weights.bin');
  const size = (await stat(bin)).size;
  await truncate(bin, size - 10);
  await rejectsNaming(dir, 'weights.bin', new RegExp(`truncated: has ${size - 10} bytes but model\\.json describes ${size} bytes`));
});

test('weights.bin with extra bytes is refused', async () => {
  const dir = await savedDir('too-long');
  const bin = path.join(dir, 'weights.bin');
  await writeFile(bin, Buffer.concat([await readFile(bin), Buffer.alloc(4)]));
  await rejectsNaming(dir, 'weights.bin', /longer than expected/);
});

test('garbage model.json names model.json', async () => {
  const dir = await savedDir('garbage');
  await writeFile(path.join(dir, 'model.json'), '\u0000\u0001 not json {');
  await rejectsNaming(dir, 'model.json', /not valid JSON/);
});

test('model.json with the wrong structure names the faulty field', async () => {
  const dir = await savedDir('structure');
  const jsonPath = path.join(dir, 'model.json');
  const good = JSON.parse(await readFile(jsonPath, 'utf8')) as Record<string, unknown>;

  await writeFile(jsonPath, JSON.stringify([1, 2]));
  await rejectsNaming(dir, 'model.json', /expected a JSON object/);

  await writeFile(jsonPath, JSON.stringify({ ...good, modelTopology: undefined }));
  await rejectsNaming(dir, 'model.json', /modelTopology is missing/);

  await writeFile(jsonPath, JSON.stringify({ ...good, format: 'graph-model' }));
  await rejectsNaming(dir, 'model.json', /format is "graph-model"/);

  await writeFile(jsonPath, JSON.stringify({ ...good, weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'k', shape: [2], dtype: 'float64' }] }] }));
  await rejectsNaming(dir, 'model.json', /weightsManifest\[0\]\.weights\[0\]\.dtype "float64"/);

  await writeFile(jsonPath, JSON.stringify({ ...good, weightsManifest: [{ paths: ['../outside.bin'], weights: [] }] }));
  await rejectsNaming(dir, 'model.json', /outside the model folder/);
});

test('a topology tfjs cannot build is reported against model.json', async () => {
  const dir = await savedDir('bad-topology');
  const jsonPath = path.join(dir, 'model.json');
  const good = JSON.parse(await readFile(jsonPath, 'utf8')) as Record<string, unknown>;
  await writeFile(jsonPath, JSON.stringify({ ...good, modelTopology: { class_name: 'NoSuchModel', config: {} } }));
  await rejectsNaming(dir, 'model.json', /tfjs could not build a model from it/);
});
