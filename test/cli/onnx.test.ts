/**
 * `latent-studio export --run <runDir> --format onnx`, as a user runs it: a classifier trained on
 * real MNIST digits and scored for anomalies becomes one .onnx per model, which onnxruntime-node
 * runs on real test digits with the outputs of the tfjs models exported from the same run; the
 * files carry the run's normalisation, class names and anomaly threshold; clashes and a graph file
 * instead of a run are refused in one sentence.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import * as tf from '../../src/backend/tf';
import { loadTfjsFolder } from '../helpers/tfjsFolder';
import '../../src/compile/customLayers';
import { loadMnist } from '../../src/data/index';
import { ROOT, SAMPLES_DIR } from '../helpers/samples';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-onnx-cli-'));

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  assert.ok(fs.existsSync(CLI), 'dist/cli.js is missing: run `npm run build` first');
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

test('a trained classifier run as ONNX: onnxruntime gives the tfjs models\' outputs on real digits, with the run\'s metadata', async () => {
  const graph = path.join(SAMPLES_DIR, 'autoencoder-classifier.latent.json');
  const trained = cli(['train', graph, '--epochs', '1', '--limit', '800', '--out', path.join(tmp, 'runs'), '--json']);
  assert.equal(trained.code, 0, trained.stderr);
  const runDir = (JSON.parse(trained.stdout.trim().split('\n').at(-1)!) as { runDir: string }).runDir;
  const scored = cli(['score', '--run', runDir, '--limit', '300', '--json']);
  assert.equal(scored.code, 0, scored.stderr);
  const threshold = (JSON.parse(scored.stdout) as { threshold: number }).threshold;

  const onnxDir = path.join(tmp, 'onnx');
  const exported = cli(['export', '--run', runDir, '--format', 'onnx', '--out', onnxDir, '--json']);
  assert.equal(exported.code, 0, exported.stderr);
  const models = (JSON.parse(exported.stdout) as { models: { name: string; file: string; inputName: string; outputName: string }[] }).models;
  assert.deepEqual(models.map((m) => m.name), ['autoencoder', 'encoder', 'decoder', 'classifier']);
  assert.deepEqual(models.map((m) => m.outputName), ['reconstruction', 'code', 'reconstruction', 'probabilities']);
  const tfjsDir = path.join(tmp, 'tfjs');
  assert.equal(cli(['export', '--run', runDir, '--out', tfjsDir]).code, 0);

  // Real test digits, as the run normalised them (bytes / 255).
  const mnist = await loadMnist();
  const n = 32;
  const images = Float32Array.from(mnist.values.subarray(0, n * 784), (v) => v / 255);
  for (const m of models) {
    const proto = onnx.ModelProto.decode(fs.readFileSync(m.file));
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    assert.equal(meta.graph, 'Autoencoder as classifier');
    assert.equal(meta.model, m.name);
    assert.deepEqual(JSON.parse(meta.classNames!), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal((JSON.parse(meta.normalization!) as { method: string }).method, 'unit');
    assert.equal(Number(meta.anomalyThreshold), threshold);

    const reference = await loadTfjsFolder(path.join(tfjsDir, m.name));
    const inShape = reference.inputs[0]!.shape.slice(1) as number[];
    const size = inShape.reduce((a, b) => a * b, 1);
    // The decoder takes codes: the encoder's of the same digits.
    const x = m.name === 'decoder' ? ((await loadTfjsFolder(path.join(tfjsDir, 'encoder'))).predict(tf.tensor(images, [n, 784])) as tf.Tensor).dataSync() as Float32Array : images;
    assert.equal(x.length, n * size);
    const expected = (reference.predict(tf.tensor(x, [n, ...inShape])) as tf.Tensor).dataSync();
    const session = await ort.InferenceSession.create(m.file);
    const out = await session.run({ [m.inputName]: new ort.Tensor('float32', x, [n, ...inShape]) });
    const got = out[m.outputName]!.data as Float32Array;
    assert.equal(got.length, expected.length);
    const scale = Math.max(1, ...Array.from(expected, Math.abs));
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!) / scale);
    assert.ok(worst <= 1e-5, `${m.name}: ONNX Runtime differs from tfjs by ${worst.toExponential(2)}`);
    if (m.name === 'classifier') {
      for (let i = 0; i < n; i++) {
        const row = got.subarray(i * 10, i * 10 + 10);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'probabilities sum to 1');
      }
    }
    await session.release();
  }

  const clash = cli(['export', '--run', runDir, '--format', 'onnx', '--out', onnxDir]);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /onnx\/autoencoder\.onnx already exists: choose another folder or add --overwrite to replace it/);
  assert.equal(cli(['export', '--run', runDir, '--format', 'onnx', '--out', onnxDir, '--overwrite']).code, 0);
  const graphInstead = cli(['export', graph, '--format', 'onnx', '--out', onnxDir]);
  assert.equal(graphInstead.code, 1);
  assert.match(graphInstead.stderr, /export --format onnx writes a run's trained models: give --run <runDir> instead of a graph file/);
});
