/**
 * The trainer's optimizers and losses take their constants from the device (constants.ts): they
 * must compute exactly what tfjs' stock ones do, while uploading ~100 fewer scalars per step.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { parseJsonText } from '../../src/core/canonical';
import type { OptimizerName } from '../../src/core/format';
import { resolveStages } from '../../src/core/stages';
import { compileGraph } from '../../src/compile/compile';
import { selectBackend } from '../../src/backend/select';
import { hostFusedCounters } from '../../src/backend/kernels/hostOptimizers';
import { makeOptimizer, minimizeStep, stockOptimizer } from '../../src/train/optimizers';
import { lossFn } from '../../src/train/scoring';

before(async () => {
  await selectBackend({ prefer: 'cpu' });
});

function tinyModel(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [12] });
  const h = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 12, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function trainSteps(optimizer: tf.Optimizer, steps: number): Float32Array[] {
  const model = tinyModel(7);
  const xs = tf.tensor2d(Float32Array.from({ length: 16 * 12 }, (_, i) => ((i * 7919) % 97) / 97), [16, 12]);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      optimizer.minimize(() => lossFn('binaryCrossentropy', xs, model.apply(xs) as tf.Tensor), false, vars);
    });
  }
  const weights = vars.map((v) => v.dataSync() as Float32Array);
  xs.dispose();
  model.dispose();
  return weights;
}

for (const [name, backend] of (['adadelta', 'adam', 'rmsprop', 'sgd'] as OptimizerName[]).flatMap((n) => [[n, 'cpu'], [n, 'wasm']] as const)) {
  test(`${name} on ${backend}: ours (constants on the device, small variables in one loop) gives bit-identical weights and state to tfjs' own after 5 steps`, async () => {
    await selectBackend({ prefer: backend });
    const lr = name === 'adadelta' ? 1 : 0.01;
    const ours = makeOptimizer(name, lr);
    const stock = stockOptimizer(name, lr);
    const before = hostFusedCounters.fused;
    const a = trainSteps(ours, 5);
    assert.equal(hostFusedCounters.fused - before, 5 * 4, 'every variable of every step updated by the one-loop path');
    const b = trainSteps(stock, 5);
    assert.equal(a.length, b.length);
    a.forEach((w, i) => assert.deepEqual(w, b[i], `weight ${i} differs`));
    const [sa, sb] = [await ours.getWeights(), await stock.getWeights()];
    assert.equal(sa.length, sb.length);
    sa.forEach((w, i) => assert.deepEqual(w.tensor.dataSync(), sb[i]!.tensor.dataSync(), `optimizer weight ${w.name} differs`));
    ours.dispose();
    stock.dispose();
  });
}

test('the losses equal tf.metrics binary and categorical cross-entropy and MSE', () => {
  const yTrue = tf.tensor2d([0, 1, 0.3, 1, 0, 0.9], [2, 3]);
  const yPred = tf.tensor2d([0.1, 0.8, 0.5, 1, 0, 0.2], [2, 3]);
  const labels = tf.tensor2d([0, 1, 0, 1, 0, 0], [2, 3]);
  const probs = tf.tensor2d([0.2, 0.7, 0.1, 0.5, 0.25, 0.25], [2, 3]);
  const pairs: [string, tf.Tensor, tf.Tensor][] = [
    ['bce', lossFn('binaryCrossentropy', yTrue, yPred), tf.mean(tf.metrics.binaryCrossentropy(yTrue, yPred))],
    ['cce', lossFn('categoricalCrossentropy', labels, probs), tf.mean(tf.metrics.categoricalCrossentropy(labels, probs))],
    ['mse', lossFn('meanSquaredError', yTrue, yPred), tf.mean(tf.metrics.meanSquaredError(yTrue, yPred))],
  ];
  // The cross-entropies follow tfjs-layers op for op (bit-equal); MSE averages all values at once
  // where Keras averages per sample first: equal up to float32 rounding.
  for (const [what, ours, theirs] of pairs) {
    const [a, b] = [ours.dataSync()[0]!, theirs.dataSync()[0]!];
    if (what === 'mse') assert.ok(Math.abs(a - b) <= 1e-7 * Math.abs(b), `${what}: ${a} vs ${b}`);
    else assert.equal(a, b, what);
  }
});

/** Tensors made from JS values (host→device uploads) during one training step of a sample. */
function uploadsPerStep(sample: string, optimizerFor: (name: OptimizerName, lr: number) => tf.Optimizer, loss: (n: string, y: tf.Tensor, p: tf.Tensor) => tf.Scalar): number {
  const parsed = parseJsonText(fs.readFileSync(path.join(__dirname, '..', '..', 'samples', sample), 'utf8'));
  assert.ok(parsed.ok);
  const analysis = analyzeGraph(parsed.value);
  const stage = resolveStages(analysis)[0]!;
  const compiled = compileGraph(analysis, { seed: 1 });
  const model = compiled.modelForOutput(stage.outputId);
  const optimizer = optimizerFor(stage.optimizer, stage.learningRate);
  const xs = tf.randomUniform([4, ...(model.inputs[0]!.shape.slice(1) as number[])]);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = (): void => tf.tidy(() => void optimizer.minimize(() => loss(stage.loss, xs, model.apply(xs, { training: true }) as tf.Tensor), false, vars));
  step(); // first step creates the accumulators and caches the constants
  const engine = tf.engine() as unknown as { makeTensor: (...args: unknown[]) => tf.Tensor };
  const original = engine.makeTensor;
  let uploads = 0;
  engine.makeTensor = (...args: unknown[]) => {
    uploads++;
    return original.apply(engine, args);
  };
  try {
    step();
  } finally {
    engine.makeTensor = original;
    xs.dispose();
    optimizer.dispose();
    compiled.dispose();
  }
  return uploads;
}

test('a training step uploads a handful of tensors instead of one scalar per constant per variable', () => {
  const stockLoss = (n: string, y: tf.Tensor, p: tf.Tensor): tf.Scalar =>
    n === 'binaryCrossentropy' ? tf.mean(tf.metrics.binaryCrossentropy(y, p)) : tf.mean(tf.squaredDifference(y, p));
  // Uploads matter on GPU backends, where the one-loop update for small variables (which makes new
  // tensors from CPU arrays: no upload on a CPU backend) never runs; count the device path alone.
  process.env.LATENT_HOST_FUSED_MAX = '0';
  for (const sample of ['dense-autoencoder.latent.json', 'fashion-conv-autoencoder.latent.json']) {
    const ours = uploadsPerStep(sample, makeOptimizer, (n, y, p) => lossFn(n as 'binaryCrossentropy', y, p));
    const stock = uploadsPerStep(sample, stockOptimizer, stockLoss);
    assert.ok(stock >= 50, `${sample}: tfjs' own optimizer uploads ${stock} tensors per step (the cost this avoids)`);
    assert.ok(ours <= 10, `${sample}: ${ours} uploads per step`);
  }
  delete process.env.LATENT_HOST_FUSED_MAX;
});

test('minimizeStep (dy = 1 from the device) gives the same loss and weights as optimizer.minimize and skips non-trainable variables', async () => {
  const run = (step: (o: tf.Optimizer, f: () => tf.Scalar, vars: tf.Variable[]) => tf.Scalar) => {
    const model = tinyModel(11);
    const xs = tf.tensor2d(Float32Array.from({ length: 16 * 12 }, (_, i) => ((i * 31) % 89) / 89), [16, 12]);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    vars[0]!.trainable = false; // as a frozen layer's kernel
    const frozenBefore = vars[0]!.dataSync().slice();
    const optimizer = makeOptimizer('adam', 0.01);
    const losses: number[] = [];
    for (let s = 0; s < 3; s++) {
      losses.push(tf.tidy(() => step(optimizer, () => lossFn('binaryCrossentropy', xs, model.apply(xs) as tf.Tensor), vars).dataSync()[0]!));
    }
    const weights = vars.map((v) => v.dataSync().slice());
    tf.dispose(xs);
    optimizer.dispose();
    model.dispose();
    return { losses, weights, frozenBefore };
  };
  const ours = run((o, f, vars) => minimizeStep(o, f, vars));
  const stock = run((o, f, vars) => o.minimize(f, true, vars)!);
  assert.deepEqual(ours.losses, stock.losses);
  ours.weights.forEach((w, i) => assert.deepEqual(w, stock.weights[i], `weight ${i}`));
  assert.deepEqual(ours.weights[0], ours.frozenBefore, 'the non-trainable variable is unchanged');
  assert.ok(ours.losses[2]! < ours.losses[0]!, `the other variables train: ${ours.losses.join(' → ')}`);
});
