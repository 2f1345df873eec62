/**
 * The webgpu training path's own kernels (src/backend/kernels/webgpu/optimizers.ts, webgpu/losses.ts),
 * its device-side batches (Feeder) and upload-free gradients (src/backend/gradientFixes.ts): each must
 * compute what the tfjs ops it replaces compute, and the training loop on webgpu must learn real
 * MNIST. Runs where a webgpu adapter exists: a GPU, or lavapipe on the CPU
 * (scripts/setup-software-gpu.sh, test/helpers/softwareGpu.ts); skipped with the reason elsewhere, and
 * failed, not skipped, where that setup installed lavapipe and webgpu still does not load.
 * The gradient-fix identities are checked on the cpu backend, which every machine has.
 */
import { skipWithoutWebgpu } from '../helpers/softwareGpu';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '../../src/backend/tf';
import type { OptimizerName } from '../../src/core/format';
import { TrainRequestSchema, type FromWorker } from '../../src/core/protocol';
import { loadDataset } from '../../src/data/index';
import { selectBackend } from '../../src/backend/select';
import { disposeConstants } from '../../src/backend/constants';
import { fusedCounters } from '../../src/backend/kernels/webgpu/optimizers';
import { makeOptimizer, minimizeStep } from '../../src/train/optimizers';
import { Feeder, lossFn } from '../../src/train/scoring';
import { train } from '../../src/train/trainer';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';

let webgpu: string | null = null; // null: available; otherwise why not

before(async () => {
  tf.env().set('PROD', true);
  try {
    await selectBackend({ prefer: 'webgpu' });
  } catch (e) {
    webgpu = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
  }
});

function tinyModel(seed: number, inputs: number): tf.LayersModel {
  const input = tf.input({ shape: [inputs] });
  const h = tf.layers.dense({ units: 24, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: inputs, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

const X = Float32Array.from({ length: 32 * 40 }, (_, i) => ((i * 7919) % 101) / 101);

/** Weights and optimizer state after `steps` steps of `name` on the current backend, fused or with tfjs ops. */
async function trainSteps(name: OptimizerName, fused: boolean, steps: number): Promise<{ weights: Float32Array[]; state: Float32Array[]; fusedUpdates: number }> {
  process.env.LATENT_WEBGPU_FUSED_OPTIMIZER = fused ? '1' : '0';
  process.env.LATENT_WEBGPU_FUSED_LOSS = '0';
  const before = fusedCounters.fused;
  const model = tinyModel(3, 40);
  const optimizer = makeOptimizer(name, name === 'adadelta' ? 1 : 0.01);
  const xs = tf.tensor2d(X, [32, 40]);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      minimizeStep(optimizer, () => lossFn('binaryCrossentropy', xs, model.apply(xs, { training: true }) as tf.Tensor), vars);
    });
    // A read between steps caches values on the CPU; the next in-place update must not leave them stale.
    if (s === 1) await vars[0]!.data();
  }
  const weights = await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
  const state = await Promise.all((await optimizer.getWeights()).map(async (w) => (await w.tensor.data()) as Float32Array));
  const fusedUpdates = fusedCounters.fused - before;
  xs.dispose();
  model.dispose();
  optimizer.dispose();
  delete process.env.LATENT_WEBGPU_FUSED_OPTIMIZER;
  delete process.env.LATENT_WEBGPU_FUSED_LOSS;
  return { weights, state, fusedUpdates };
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string, rel = 2e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let at = -1;
  actual.forEach((v, i) => {
    const err = Math.abs(v - expected[i]!);
    if (!(err <= worst)) [worst, at] = [err, i];
  });
  assert.ok(worst <= rel * scale, `${what}: max error ${worst} at [${at}] (got ${actual[at]}, want ${expected[at]}), allowed ${rel * scale}`);
}

describe('webgpu: one-dispatch optimizer updates', () => {
  for (const name of ['adadelta', 'adam', 'rmsprop', 'sgd'] as OptimizerName[]) {
    test(`${name}: weights and optimizer state after 4 steps equal the tfjs-ops update`, async (t) => {
      if (webgpu !== null) return skipWithoutWebgpu(t, webgpu);
      await selectBackend({ prefer: 'webgpu' });
      const fused = await trainSteps(name, true, 4);
      const ops = await trainSteps(name, false, 4);
      assert.equal(fused.fusedUpdates, 4 * 4, 'every variable of every step updated by one dispatch');
      assert.equal(ops.fusedUpdates, 0);
      fused.weights.forEach((w, i) => assertClose(w, ops.weights[i]!, `${name} weight ${i}`));
      assert.equal(fused.state.length, ops.state.length);
      fused.state.forEach((w, i) => assertClose(w, ops.state[i]!, `${name} state ${i}`));
      // And the step moved the weights at all (an update that writes nothing would pass the above only if both did nothing).
      const untrained = tinyModel(3, 40);
      const w0 = (await untrained.trainableWeights[0]!.read().data()) as Float32Array;
      untrained.dispose();
      assert.ok(fused.weights[0]!.some((v, i) => Math.abs(v - w0[i]!) > 1e-6), 'weights changed');
    });
  }

  test('a weight whose data is shared (a snapshot clone) keeps its old values; the variable still steps', async (t) => {
    if (webgpu !== null) return skipWithoutWebgpu(t, webgpu);
    await selectBackend({ prefer: 'webgpu' });
    const model = tinyModel(5, 40);
    const optimizer = makeOptimizer('adam', 0.01);
    const xs = tf.tensor2d(X, [32, 40]);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const snapshot = vars.map((v) => tf.clone(v));
    const before = await Promise.all(snapshot.map(async (s) => Float32Array.from(await s.data())));
    const counts = { ...fusedCounters };
    for (let s = 0; s < 3; s++) tf.tidy(() => void minimizeStep(optimizer, () => lossFn('meanSquaredError', xs, model.apply(xs) as tf.Tensor), vars));
    for (let i = 0; i < snapshot.length; i++) assert.deepEqual(await snapshot[i]!.data(), before[i], `snapshot ${i} unchanged`);
    assert.equal(fusedCounters.fallback - counts.fallback, vars.length, 'the first step falls back (shared data), once per variable');
    assert.equal(fusedCounters.fused - counts.fused, 2 * vars.length, 'later steps are fused again');
    assert.ok((await vars[0]!.data()).some((v, i) => v !== before[0]![i]), 'the variable moved');
    tf.dispose([xs, ...snapshot]);
    model.dispose();
    optimizer.dispose();
  });
});

describe('webgpu: one-kernel losses', () => {
  for (const loss of ['binaryCrossentropy', 'meanSquaredError'] as const) {
    test(`${loss}: value and gradients equal the tfjs-ops loss, clipped values included`, async (t) => {
      if (webgpu !== null) return skipWithoutWebgpu(t, webgpu);
      await selectBackend({ prefer: 'webgpu' });
      const z = tf.tensor2d(Float32Array.from({ length: 6 * 50 }, (_, i) => ((i * 31) % 17) / 16), [6, 50]);
      // Predictions inside (0, 1) and at both clip edges, where BCE's gradient is 0.
      const p = tf.variable(tf.tensor2d(Float32Array.from({ length: 6 * 50 }, (_, i) => (i % 25 === 0 ? 0 : i % 25 === 1 ? 1 : ((i * 13) % 97) / 97 + 0.004)), [6, 50]));
      const run = async (fused: boolean) => {
        process.env.LATENT_WEBGPU_FUSED_LOSS = fused ? '1' : '0';
        const { value, grads } = tf.variableGrads(() => lossFn(loss, z, p), [p]);
        const out = { value: (await value.data())[0]!, grad: (await grads[p.name]!.data()) as Float32Array };
        tf.dispose([value, grads[p.name]!]);
        return out;
      };
      const fused = await run(true);
      const ops = await run(false);
      delete process.env.LATENT_WEBGPU_FUSED_LOSS;
      assert.ok(Math.abs(fused.value - ops.value) <= 1e-5 * Math.max(1, Math.abs(ops.value)), `loss ${fused.value} vs ${ops.value}`);
      assertClose(fused.grad, ops.grad, `${loss} gradient`, 1e-4);
      assert.ok(ops.grad.some((g) => g !== 0));
      tf.dispose([z, p]);
    });
  }
});

describe('webgpu: one-dispatch activation gradients', () => {
  test('relu and sigmoid gradients equal tfjs-core formulas (zeros, negatives and NaN included)', async (t) => {
    if (webgpu !== null) return skipWithoutWebgpu(t, webgpu);
    await selectBackend({ prefer: 'webgpu' });
    const values = Float32Array.from({ length: 4 * 33 }, (_, i) => (i % 11 === 0 ? 0 : Math.sin(i * 0.7) * 2));
    values[5] = Number.NaN;
    const x = tf.tensor2d(values, [4, 33]);
    const w = tf.tensor2d(Float32Array.from({ length: 4 * 33 }, (_, i) => Math.cos(i)), [4, 33]);
    for (const [name, f] of [['relu', tf.relu], ['sigmoid', tf.sigmoid]] as const) {
      const grad = async (fused: boolean) => {
        process.env.LATENT_WEBGPU_FUSED_GRADIENTS = fused ? '1' : '0';
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), w)))(x);
        const out = (await g.data()) as Float32Array;
        g.dispose();
        return out;
      };
      const [fused, ops] = [await grad(true), await grad(false)];
      delete process.env.LATENT_WEBGPU_FUSED_GRADIENTS;
      assert.ok(Number.isNaN(fused[5]!) && Number.isNaN(ops[5]!), `${name}: NaN propagates`);
      fused[5] = ops[5] = 0;
      assertClose(fused, ops, `${name} gradient`, 1e-6);
      assert.ok(fused.some((v) => v !== 0));
    }
    tf.dispose([x, w]);
  });
});

describe('webgpu: batches gathered on the device', () => {
  for (const kind of ['mnist', 'fashion-mnist'] as const) {
    test(`${kind}: inputs and one-hot labels of an epoch equal the host-built batches, bit for bit`, async (t) => {
      if (webgpu !== null) return skipWithoutWebgpu(t, webgpu);
      await selectBackend({ prefer: 'webgpu' });
      // Fashion-MNIST (70 000 images) is 219 MB as float32, over the 128 MiB binding limit of many
      // adapters: the device keeps bytes, 55 MB.
      const ds = await loadDataset({ kind });
      const feeder = new Feeder(ds, [28, 28, 1]);
      const host = new Feeder(ds, [28, 28, 1]);
      const order = Uint32Array.from({ length: 300 }, (_, i) => (i === 0 ? ds.count - 1 : (i * 7919) % ds.count));
      feeder.startEpoch(order);
      assert.ok(feeder.gathersOnDevice(order));
      assert.ok(!host.gathersOnDevice(order));
      for (const [start, end] of [[0, 128], [128, 256], [256, 300]] as const) {
        const [a, b] = [feeder.inputs(order, start, end), host.inputs(order, start, end)];
        assert.deepEqual(a.shape, b.shape);
        assert.deepEqual(await a.data(), await b.data());
        const [la, lb] = [feeder.labels(order, start, end, 10), host.labels(order, start, end, 10)];
        assert.equal(la.dtype, 'float32');
        assert.deepEqual(await la.data(), await lb.data());
        tf.dispose([a, b, la, lb]);
      }
      feeder.endEpoch();
      assert.ok(!feeder.gathersOnDevice(order));
      feeder.dispose();
    });
  }

  test('the dense seed autoencoder trains on webgpu: real MNIST, validation loss drops, no tensors left behind', async (t) => {
    if (webgpu !== null) return skipWithoutWebgpu(t, webgpu);
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-webgpu-'));
    const graphPath = path.join(SAMPLES_DIR, 'dense-autoencoder.latent.json');
    const messages: FromWorker[] = [];
    const request = TrainRequestSchema.parse({
      graphText: sampleText('dense-autoencoder'),
      graphPath,
      runsDir,
      epochs: 3,
      batchSize: 64,
      backend: 'webgpu',
      limitSamples: 64 * 24,
      limitValidation: 256,
    });
    await selectBackend({ prefer: 'webgpu' });
    disposeConstants();
    const tensorsBefore = tf.memory().numTensors;
    const result = await train(request, (m) => messages.push(m), { cancelled: false });
    assert.equal(result.backend, 'webgpu');
    assert.equal(result.epochsCompleted, 3);
    const vals = messages.flatMap((m) => (m.type === 'epoch' && m.record.valLoss !== null ? [m.record.valLoss] : []));
    assert.equal(vals.length, 4, 'epoch 0 and three epochs');
    assert.ok(vals.every(Number.isFinite));
    assert.ok(vals[3]! < vals[0]! * 0.8, `validation loss ${vals.join(' → ')} drops by a fifth`);
    assert.ok(fusedCounters.fused > 0);
    // The run's tensors (device dataset, order, optimizer slots, model) are all released; the
    // device constants (constants.ts) are kept by design, so drop them before counting.
    disposeConstants();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors left after the run');
    fs.rmSync(runsDir, { recursive: true, force: true });
  });
});

describe('webgpu: device errors', () => {
  test('an error the GPU reports mid-training stops the run with the error, instead of training on garbage', async (t) => {
    if (webgpu !== null) return skipWithoutWebgpu(t, webgpu);
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-webgpu-err-'));
    const request = TrainRequestSchema.parse({
      graphText: sampleText('dense-autoencoder'),
      graphPath: path.join(SAMPLES_DIR, 'dense-autoencoder.latent.json'),
      runsDir,
      epochs: 2,
      batchSize: 64,
      backend: 'webgpu',
      limitSamples: 64 * 4,
      limitValidation: 64,
    });
    let injected = false;
    await assert.rejects(
      train(
        request,
        (m) => {
          if (m.type === 'epoch' && m.record.epoch === 0 && !injected) {
            injected = true;
            // An invalid command, as a binding over a device limit would be: WebGPU only reports it as an event.
            const device = (tf.backend() as unknown as { device: GPUDevice }).device;
            device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
          }
        },
        { cancelled: false },
      ),
      (e: Error) => /The GPU reported an error in stage "train", epoch 1/.test(e.message) && /another backend/.test(e.message),
    );
    assert.ok(injected);
    fs.rmSync(runsDir, { recursive: true, force: true });
  });
});

describe('upload-free gradients (cpu: the same numbers as tfjs-core 4.22)', () => {
  test('the Relu gradient is bit-identical to tfjs-core\'s', async () => {
    await selectBackend({ prefer: 'cpu' });
    const x = tf.tensor1d([-2, -0, 0, 0.5, 3, Number.NaN]);
    const dy = tf.tensor1d([1, 2, 3, 4, 5, 6]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), dy)))(x);
    const expected = tf.mul(dy, tf.cast(tf.step(x), 'float32'));
    assert.deepEqual(await g.data(), await expected.data());
    tf.dispose([x, dy, g, expected]);
  });

  test('Mean and Sigmoid gradients are bit-identical to the formulas they replace', async () => {
    await selectBackend({ prefer: 'cpu' });
    const x = tf.variable(tf.tensor3d(Float32Array.from({ length: 2 * 3 * 7 }, (_, i) => Math.sin(i) * 3), [2, 3, 7]));
    const w = tf.tensor3d(Float32Array.from({ length: 2 * 3 * 7 }, (_, i) => Math.cos(i * 1.7)), [2, 3, 7]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.mean(tf.sigmoid(v), [0, 2], true), tf.mean(w, 0))))(x);
    // tfjs-core's own: Sigmoid dx = dy * (y * (1 - y)); Mean dx = dy reshaped * ones / reduceSize.
    const y = tf.sigmoid(x);
    const dyMean = tf.mean(w, 0); // d sum(mean(s) * m) / d mean(s) = m, summed over the broadcast axes
    const dMean = tf.reshape(tf.sum(tf.broadcastTo(tf.reshape(dyMean, [1, 3, 7]), [1, 3, 7]), [2], true), [1, 3, 1]);
    const dS = tf.div(tf.mul(dMean, tf.ones([2, 3, 7])), tf.scalar(14));
    const expected = tf.mul(dS, tf.mul(y, tf.sub(tf.scalar(1), y)));
    assert.deepEqual(await g.data(), await expected.data());
    tf.dispose([x, w, g, y, dyMean, dMean, dS, expected]);
  });
});
