/**
 * The denoising and variational autoencoder samples, trained by the real worker on real MNIST:
 * the denoising model repairs noisy digits, the VAE's loss carries its KL term, and the generate
 * job decodes random codes (and a 2-D code's manifold) into pictures.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { DENOISING_CAPTION, type FromWorker, type TrainRequest } from '../../src/core/protocol';
import { type EpochRecord } from '../../src/core/runFormat';
import { type Dataset, batchToFloat, loadDataset, splitIndices } from '../../src/data/index';
import { TrainingFailure, TrainingSession, evaluateRun, exportRun, generateRun } from '../../src/run/client';
import { RUN_FILES } from '../../src/core/runFormat';
import { loadModel } from '../../src/train/modelFiles';
import { decodePng } from '../../src/train/png';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-variants-'));
let mnist: Dataset;
/** The samples' split: validation 0.1, test 0.2, seed 42. */
let split: ReturnType<typeof splitIndices>;

interface Trained {
  runDir: string;
  messages: FromWorker[];
  epochs: EpochRecord[];
  seconds: number;
}

async function trainRun(name: string, request: Partial<TrainRequest>): Promise<Trained> {
  const t0 = performance.now();
  const messages: FromWorker[] = [];
  const session = new TrainingSession(
    { graphText: sampleText(name), graphPath: path.join(SAMPLES_DIR, `${name}.latent.json`), runsDir: path.join(tmp, 'runs'), ...request },
    { onMessage: (m) => messages.push(m) },
  );
  const done = await session.result;
  const epochs = messages.flatMap((m) => (m.type === 'epoch' ? [m.record] : []));
  return { runDir: done.runDir, messages, epochs, seconds: (performance.now() - t0) / 1000 };
}

let denoising: Trained;
let vae: Trained;

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  mnist = await loadDataset({ kind: 'mnist' });
  split = splitIndices(mnist.count, { validation: 0.1, test: 0.2 }, 42);
  denoising = await trainRun('denoising-autoencoder', { epochs: 3, limitSamples: 2000, limitValidation: 200 });
  vae = await trainRun('variational-autoencoder', { epochs: 2, limitSamples: 2000, limitValidation: 500 });
});

const images = (idx: Uint32Array): tf.Tensor2D => tf.tensor2d(batchToFloat(mnist, idx, 0, idx.length), [idx.length, 784]);

test('denoising: after a short training, the output for a noisy test digit is closer to the clean digit than the noisy input is', async (t) => {
  const model = await loadModel(path.join(denoising.runDir, RUN_FILES.model));
  const clean = images(split.test.slice(0, 500));
  // The sample's corruption: Gaussian noise of stddev 0.5 (seeded here, so the check is repeatable).
  const noisy = tf.add(clean, tf.randomNormal(clean.shape, 0, 0.5, 'float32', 7));
  const output = model.predict(noisy) as tf.Tensor;
  const distance = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.mean(tf.squaredDifference(a, b)).dataSync()[0]!);
  const before = distance(noisy, clean);
  const after = distance(output, clean);
  t.diagnostic(`trained in ${denoising.seconds.toFixed(1)} s; mean squared distance to the clean digits: noisy ${before.toFixed(4)}, output ${after.toFixed(4)}`);
  assert.ok(after < before / 2, `mean squared distance to the clean digits: noisy input ${before.toFixed(4)}, output ${after.toFixed(4)}`);
  // Without noise the model passes clean digits through about as well: it reconstructs, not just smooths.
  assert.ok(distance(model.predict(clean) as tf.Tensor, clean) < before / 2);
  tf.dispose([clean, noisy, output]);
  model.dispose();
});

test('denoising previews: three rows (noisy inputs, reconstructions, clean originals) with a caption saying so', async () => {
  const previews = denoising.messages.filter((m) => m.type === 'preview');
  assert.equal(previews.length, 3);
  assert.ok(previews.every((m) => m.type === 'preview' && m.kind === 'reconstructions' && m.caption === DENOISING_CAPTION));
  const png = decodePng(fs.readFileSync(path.join(denoising.runDir, RUN_FILES.reconstructions)));
  assert.deepEqual([png.width, png.height], [10 * 56 + 11 * 2, 3 * 56 + 4 * 2]);
  // The bottom row is the clean test image; the top row is the same image with noise.
  const first = batchToFloat(mnist, split.test, 0, 1);
  const pixel = (row: number, y: number, x: number): number => png.data[((2 + row * 58 + 2 * y) * png.width + 2 + 2 * x) * 4]!;
  let noisyDiffers = 0;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      assert.equal(pixel(2, y, x), Math.round(first[y * 28 + x]! * 255), `clean row at ${y},${x}`);
      if (pixel(0, y, x) !== pixel(2, y, x)) noisyDiffers++;
    }
  }
  assert.ok(noisyDiffers > 400, `${noisyDiffers} of 784 pixels differ between the noisy and the clean row`);
  const evaluation = await evaluateRun({ runDir: denoising.runDir, limit: 100 });
  assert.equal(evaluation.reconstructionsCaption, DENOISING_CAPTION);
  assert.equal(decodePng(Buffer.from(evaluation.reconstructionsPngBase64!, 'base64')).height, 3 * 56 + 4 * 2);
});

test('VAE: every epoch record carries the KL term, and the loss is the reconstruction loss plus it', async (t) => {
  assert.equal(vae.epochs.length, 3);
  for (const r of vae.epochs) {
    assert.ok(r.metrics.valKl! > 0, `epoch ${r.epoch}: valKl ${r.metrics.valKl}`);
    assert.ok(r.valLoss! > r.metrics.valKl!);
    if (r.epoch > 0) {
      assert.ok(r.metrics.kl! > 0, `epoch ${r.epoch}: kl ${r.metrics.kl}`);
      assert.ok(r.loss! > r.metrics.kl!);
    }
  }
  // No tensor leaks from the collected KL terms: the live count is flat from epoch to epoch.
  assert.equal(new Set(vae.epochs.slice(1).map((r) => r.liveTensors)).size, 1, JSON.stringify(vae.epochs.map((r) => r.liveTensors)));
  const last = vae.epochs.at(-1)!;
  t.diagnostic(`trained in ${vae.seconds.toFixed(1)} s; last epoch: loss ${last.loss?.toFixed(4)} (kl ${last.metrics.kl?.toFixed(4)}), val loss ${last.valLoss?.toFixed(4)} (kl ${last.metrics.valKl?.toFixed(4)})`);
  assert.ok(last.valLoss! < vae.epochs[0]!.valLoss! * 0.6, `val loss ${vae.epochs[0]!.valLoss} -> ${last.valLoss}`);
  // valLoss = binary cross-entropy of the reconstruction (inference decodes z_mean) + the KL term: recompute the first part.
  const model = await loadModel(path.join(vae.runDir, RUN_FILES.model));
  const x = images(split.validation.slice(0, 500));
  const y = model.predict(x) as tf.Tensor;
  const reconstruction = tf.tidy(() => tf.mean(tf.metrics.binaryCrossentropy(x, y)).dataSync()[0]!);
  assert.ok(Math.abs(last.valLoss! - last.metrics.valKl! - reconstruction) < 1e-4, `${last.valLoss} - ${last.metrics.valKl} vs ${reconstruction}`);
  tf.dispose([x, y]);
  model.dispose();
});

test('VAE: generate decodes 100 random codes into a 10x10 grid and the 2-D code into a 15x15 manifold; exported models load back', async () => {
  const g = await generateRun({ runDir: vae.runDir });
  assert.equal(g.latentSize, 2);
  assert.equal(g.seed, 42);
  assert.equal(g.file, path.join(vae.runDir, RUN_FILES.generated));
  const grid = decodePng(fs.readFileSync(g.file));
  assert.deepEqual([grid.width, grid.height], [10 * 56 + 11 * 2, 10 * 56 + 11 * 2]);
  assert.deepEqual(Buffer.from(g.pngBase64, 'base64'), fs.readFileSync(g.file));
  assert.equal(g.manifoldFile, path.join(vae.runDir, RUN_FILES.manifold));
  const manifold = decodePng(fs.readFileSync(g.manifoldFile!));
  assert.deepEqual([manifold.width, manifold.height], [15 * 56, 15 * 56]);
  // Decoded digits, not a blank: bright strokes on a dark background (blurry after 2 short epochs), differing from code to code.
  const bright = grid.data.filter((v, i) => i % 4 === 0 && v > 128).length / (grid.width * grid.height);
  assert.ok(bright > 0.005 && bright < 0.5, `bright fraction ${bright}`);
  const cellSum = (col: number): number => {
    let sum = 0;
    for (let y = 0; y < 56; y++) for (let x = 0; x < 56; x++) sum += grid.data[((2 + y) * grid.width + 2 + col * 58 + x) * 4]!;
    return sum;
  };
  assert.ok(new Set(Array.from({ length: 10 }, (_, c) => cellSum(c))).size > 5, 'different codes decode to different images');
  // Seeded: the same seed gives the same picture, another seed another one.
  const again = await generateRun({ runDir: vae.runDir, count: 100 });
  assert.equal(again.pngBase64, g.pngBase64);
  const other = await generateRun({ runDir: vae.runDir, count: 9, seed: 1 });
  assert.deepEqual([decodePng(fs.readFileSync(other.file)).width], [3 * 56 + 4 * 2]);

  const models = await exportRun({ runDir: vae.runDir, outDir: path.join(tmp, 'export') });
  assert.deepEqual(models.map((m) => m.name).sort(), ['autoencoder', 'decoder', 'encoder']);
  for (const m of models) {
    const loaded = await loadModel(m.dir);
    assert.equal(loaded.countParams(), m.params, m.name);
    loaded.dispose();
  }
});

test('generate refuses a run without a variational Bottleneck, saying why', async () => {
  const failure = await generateRun({ runDir: denoising.runDir }).then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(failure instanceof TrainingFailure);
  assert.match(failure.message, /is not a variational autoencoder: Generate decodes random codes drawn from N\(0, 1\)/);
});
