/**
 * The denoising and variational building blocks as compiled tfjs layers: MaskingNoise, the
 * variational Bottleneck (z_mean, z_log_var, Sampling) and its KL term, and models using them
 * saved and loaded back in the tfjs layers format.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { compileGraph } from '../../src/compile/compile';
import { MaskingNoise, Sampling, collectExtraLosses, hasExtraLosses } from '../../src/compile/customLayers';
import { loadModel, saveModel } from '../../src/train/modelFiles';
import { chainGraph } from '../helpers/samples';

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

const vaeGraph = (klWeight = 2): Record<string, unknown> =>
  chainGraph(
    [
      { id: 'noise', type: 'Noise', params: { mode: 'masking', rate: 0.3 } },
      { id: 'encoder', type: 'Encoder', params: { stages: [{ kind: 'dense', units: 8, activation: 'tanh' }] } },
      { id: 'bottleneck', type: 'Bottleneck', params: { latentSize: 3, variational: true, klWeight } },
      { id: 'decoder', type: 'Decoder', params: { stages: [{ kind: 'dense', units: 6, activation: 'sigmoid' }] } },
    ],
    { input: [6] },
  );

const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

/** The KL term by hand: klWeight * (-1/2 mean_batch sum_latent (1 + lv - mu^2 - e^lv)) / values per sample. */
function klByHand(mu: tf.Tensor, lv: tf.Tensor, klWeight: number, valuesPerSample: number): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.mean(tf.sum(tf.sub(tf.sub(tf.add(1, lv), tf.square(mu)), tf.exp(lv)), -1)), (-0.5 * klWeight) / valuesPerSample) as tf.Scalar);
}

test('variational Bottleneck compiles to Keras-equal counts; inference gives z_mean, training samples z_mean + exp(z_log_var / 2) * eps', () => {
  const a = analyzeGraph(vaeGraph());
  assert.equal(a.ok, true, JSON.stringify(a.problems));
  const c = compileGraph(a);
  const ae = c.models.get('autoencoder')!;
  const encoder = c.models.get('encoder')!;
  assert.equal(ae.countParams(), a.totals.params);
  assert.equal(encoder.countParams(), 6 * 8 + 8 + 2 * (8 * 3 + 3));
  assert.deepEqual(encoder.outputs[0]!.shape, [null, 3]);
  assert.deepEqual(c.models.get('decoder')!.inputs[0]!.shape, [null, 3]);
  assert.equal(hasExtraLosses(ae), true);
  assert.deepEqual(c.layersByNode.get('bottleneck')!.map((l) => `${l.name}:${l.getClassName()}`), ['bottleneck.z_mean:Dense', 'bottleneck.z_log_var:Dense', 'bottleneck.z:Sampling']);

  const x = tf.randomUniform([2000, 6], 0, 1, 'float32', 3);
  const h = c.models.get('encoder')!.getLayer('encoder').apply(x) as tf.Tensor;
  const mu = encoder.getLayer('bottleneck.z_mean').apply(h) as tf.Tensor;
  const lv = encoder.getLayer('bottleneck.z_log_var').apply(h) as tf.Tensor;
  // Inference: z = z_mean, the same every time (noise layers are off too).
  const z1 = encoder.predict(x) as tf.Tensor;
  assert.ok(maxDiff(z1, mu) < 1e-6);
  // Training: eps = (z - z_mean) / exp(z_log_var / 2) is standard normal. (Masking noise changes h, so feed the encoder's output.)
  const sampling = encoder.getLayer('bottleneck.z');
  const z = sampling.apply([mu, lv], { training: true }) as tf.Tensor;
  const eps = tf.div(tf.sub(z, mu), tf.exp(tf.mul(0.5, lv)));
  const { mean, variance } = tf.moments(eps);
  assert.ok(Math.abs(mean.dataSync()[0]!) < 0.05, `eps mean ${mean.dataSync()[0]}`);
  assert.ok(Math.abs(Math.sqrt(variance.dataSync()[0]!) - 1) < 0.05, `eps std ${Math.sqrt(variance.dataSync()[0]!)}`);
  tf.dispose([x, h, mu, lv, z1, z, eps, mean, variance]);
  c.dispose();
});

test('the KL term: klWeight * KL / values per sample, collected in training and inference, with gradients', () => {
  const a = analyzeGraph(vaeGraph(2));
  const c = compileGraph(a);
  const ae = c.models.get('autoencoder')!;
  const encoder = c.models.get('encoder')!;
  const x = tf.randomUniform([5, 6], 0, 1, 'float32', 4);
  // Inference (no masking): the KL of the encoder's z_mean / z_log_var of the clean input.
  const h = encoder.getLayer('encoder').apply(x) as tf.Tensor;
  const mu = encoder.getLayer('bottleneck.z_mean').apply(h) as tf.Tensor;
  const lv = encoder.getLayer('bottleneck.z_log_var').apply(h) as tf.Tensor;
  const expected = klByHand(mu, lv, 2, 6);
  tf.dispose(tf.tidy(() => collectExtraLosses(() => ae.apply(x, { training: false }) as tf.Tensor).extraLoss!)); // uploads the layer's constants once
  const before = tf.memory().numTensors;
  const got = tf.tidy(() => {
    const { value, extraLoss } = collectExtraLosses(() => ae.apply(x, { training: false }) as tf.Tensor);
    assert.deepEqual(value.shape, [5, 6]);
    return extraLoss!;
  });
  assert.equal(tf.memory().numTensors, before + 1, 'only the returned term survives the tidy');
  assert.ok(Math.abs(got.dataSync()[0]! - expected.dataSync()[0]!) < 1e-6, `${got.dataSync()[0]} vs ${expected.dataSync()[0]}`);
  assert.ok(got.dataSync()[0]! > 0);
  // Outside collectExtraLosses nothing is collected, and a plain forward pass leaves nothing behind.
  const y = ae.predict(x) as tf.Tensor;
  assert.equal(collectExtraLosses(() => 0).extraLoss, undefined);

  // Gradients of the collected term equal those of the formula written out by hand.
  const vars = encoder.trainableWeights.map((w) => w.read() as tf.Variable).filter((v) => v.name.includes('z_'));
  assert.equal(vars.length, 4);
  // (Inference mode: training would also mask the input at random; the KL term does not depend on the mode.)
  const viaLayer = tf.variableGrads(() => collectExtraLosses(() => encoder.apply(x, { training: false }) as tf.Tensor).extraLoss!, vars);
  const byHand = tf.variableGrads(() => {
    const hh = encoder.getLayer('encoder').apply(x) as tf.Tensor;
    return klByHand(encoder.getLayer('bottleneck.z_mean').apply(hh) as tf.Tensor, encoder.getLayer('bottleneck.z_log_var').apply(hh) as tf.Tensor, 2, 6);
  }, vars);
  for (const v of vars) {
    const g = viaLayer.grads[v.name]!;
    assert.ok(tf.max(tf.abs(g)).dataSync()[0]! > 0, `${v.name} gets a gradient`);
    assert.ok(maxDiff(g, byHand.grads[v.name]!) < 1e-6, v.name);
  }
  // klWeight 0 adds nothing.
  const none = compileGraph(analyzeGraph(vaeGraph(0)));
  tf.tidy(() => assert.equal(collectExtraLosses(() => none.models.get('autoencoder')!.apply(x, { training: true }) as tf.Tensor).extraLoss, undefined));
  none.dispose();
  tf.dispose([x, h, mu, lv, expected, got, y, viaLayer.value, byHand.value]);
  tf.dispose(Object.values(viaLayer.grads));
  tf.dispose(Object.values(byHand.grads));
  c.dispose();
});

test('MaskingNoise zeroes a fraction rate of the values while training, without rescaling, and nothing at inference', () => {
  const layer = new MaskingNoise({ rate: 0.3 });
  const x = tf.ones([200, 100]);
  const trained = layer.apply(x, { training: true }) as tf.Tensor;
  const values = trained.dataSync();
  const zeros = values.filter((v) => v === 0).length / values.length;
  assert.ok(Math.abs(zeros - 0.3) < 0.02, `zeroed fraction ${zeros}`);
  assert.ok(values.every((v) => v === 0 || v === 1), 'kept values are not rescaled');
  const inferred = layer.apply(x, { training: false }) as tf.Tensor;
  assert.equal(maxDiff(inferred, x), 0);
  tf.dispose([x, trained, inferred]);
});

test('models with MaskingNoise and Sampling save and load back in the tfjs layers format', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-variants-'));
  const c = compileGraph(analyzeGraph(vaeGraph(0.5)));
  const x = tf.randomUniform([4, 6], 0, 1, 'float32', 5);
  for (const name of ['autoencoder', 'encoder', 'decoder']) {
    const model = c.models.get(name)!;
    await saveModel(model, path.join(dir, name));
    const json = fs.readFileSync(path.join(dir, name, 'model.json'), 'utf8');
    const loaded = await loadModel(path.join(dir, name));
    const input = name === 'decoder' ? tf.randomNormal([4, 3], 0, 1, 'float32', 6) : x;
    assert.ok(maxDiff(loaded.predict(input) as tf.Tensor, model.predict(input) as tf.Tensor) < 1e-6, name);
    assert.equal(loaded.countParams(), model.countParams(), name);
    if (name !== 'decoder') {
      assert.match(json, /"LatentStudio>Sampling"|"Sampling"/);
      const sampling = loaded.getLayer('bottleneck.z');
      assert.ok(sampling instanceof Sampling);
      assert.deepEqual([sampling.klWeight, sampling.valuesPerSample], [0.5, 6]);
    }
    if (name === 'autoencoder') assert.ok(loaded.getLayer('noise') instanceof MaskingNoise);
    loaded.dispose();
  }
  c.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
