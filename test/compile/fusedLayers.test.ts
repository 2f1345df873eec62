/**
 * src/compile/fusedLayers.ts against tfjs-layers' own Dense and Conv2D: the same outputs and
 * gradients, fewer kernels while training, the input gradient computed only when asked for, and
 * the same files when saved. (Gradients against numerical ones on every backend:
 * test/backend/gradients.test.ts.)
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/backend/tf';
import { fusedConv2d, fusedDense } from '../../src/compile/fusedLayers';
import { mulberry32 } from '../../src/data/random';

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = mulberry32(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng() * 2 - 1), shape);
}

interface Pair {
  label: string;
  stock: tf.layers.Layer;
  fused: tf.layers.Layer;
  x: tf.Tensor;
}

const pairs = (): Pair[] => [
  ...(['relu', 'sigmoid', 'linear', 'tanh', 'softmax'] as const).map((activation) => ({
    label: `Dense ${activation}`,
    stock: tf.layers.dense({ units: 6, activation }),
    fused: fusedDense({ units: 6, activation }),
    x: randomTensor([5, 7], 1),
  })),
  {
    label: 'Dense relu, no bias',
    stock: tf.layers.dense({ units: 6, activation: 'relu', useBias: false }),
    fused: fusedDense({ units: 6, activation: 'relu', useBias: false }),
    x: randomTensor([5, 7], 2),
  },
  ...(['relu', 'sigmoid', 'linear'] as const).flatMap((activation) =>
    (['same', 'valid'] as const).map((padding) => ({
      label: `Conv2D ${activation} ${padding} stride 2`,
      stock: tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding, activation }),
      fused: fusedConv2d({ filters: 4, kernelSize: 3, strides: 2, padding, activation }),
      x: randomTensor([3, 9, 8, 2], 3),
    })),
  ),
];

/** Forward in training mode and the gradients of sum(y * r) with respect to x and every weight. */
function trainStep(layer: tf.layers.Layer, x: tf.Tensor): { y: Float32Array; grads: Float32Array[] } {
  return tf.tidy(() => {
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const r = randomTensor(y.shape, 9);
    const loss = (input: tf.Tensor): tf.Scalar => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, r));
    const dx = tf.grad(loss)(x);
    const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => loss(x), vars);
    return { y: y.dataSync() as Float32Array, grads: [dx, ...vars.map((v) => grads[v.name]!)].map((g) => g.dataSync() as Float32Array) };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  const worst = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
  assert.ok(worst <= 1e-5 * scale, `${what}: max difference ${worst}`);
}

test('fused Dense and Conv2D give tfjs-layers\' outputs and gradients (input and every weight)', () => {
  for (const { label, stock, fused, x } of pairs()) {
    stock.apply(x);
    fused.apply(x);
    fused.setWeights(stock.getWeights());
    const a = trainStep(stock, x);
    const b = trainStep(fused, x);
    assertClose(b.y, a.y, `${label} output`);
    assert.equal(b.grads.length, a.grads.length, label);
    b.grads.forEach((g, i) => assertClose(g, a.grads[i]!, `${label} gradient ${i === 0 ? 'of the input' : `of weight ${i}`}`));
    stock.dispose();
    fused.dispose();
  }
});

test('a ReLU layer trains with one forward kernel and one activation-gradient pass, and no input gradient nobody asked for', () => {
  const kernelsOf = async (layer: tf.layers.Layer, x: tf.Tensor): Promise<string[]> => {
    layer.apply(x);
    const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(layer.apply(x, { training: true }) as tf.Tensor), vars);
      return [value, ...Object.values(grads)];
    });
    layer.dispose();
    return info.kernelNames;
  };
  return (async () => {
    const x = randomTensor([3, 9, 8, 2], 4);
    const stock = await kernelsOf(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), x);
    const fused = await kernelsOf(fusedConv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), x);
    // tfjs-layers while training: Conv2D, Add (bias), Relu forward; Step and Multiply for the ReLU gradient.
    for (const k of ['Conv2D', 'Add', 'Relu', 'Step']) assert.ok(stock.includes(k), `stock Conv2D uses ${k}: ${stock.join(' ')}`);
    assert.ok(fused.includes('FusedConv2D'), fused.join(' '));
    for (const k of ['Conv2D', 'Add', 'Relu', 'Conv2DBackpropInput']) assert.ok(!fused.includes(k), `fused Conv2D does not run ${k}: ${fused.join(' ')}`);
    assert.ok(fused.includes('Conv2DBackpropFilter'), fused.join(' '));
    assert.ok(fused.length < stock.length, `${fused.length} kernels vs ${stock.length}`);

    const xd = randomTensor([5, 7], 5);
    const denseStock = await kernelsOf(tf.layers.dense({ units: 6, activation: 'relu' }), xd);
    const denseFused = await kernelsOf(fusedDense({ units: 6, activation: 'relu' }), xd);
    assert.ok(denseFused.includes('_FusedMatMul'), denseFused.join(' '));
    for (const k of ['Add', 'Relu']) assert.ok(denseStock.includes(k) && !denseFused.includes(k), `${k}: stock ${denseStock.join(' ')} / fused ${denseFused.join(' ')}`);
    // Forward 1 matmul, backward 1 (the weight gradient only): the input's is not computed.
    assert.equal(denseFused.filter((k) => k === 'BatchMatMul' || k === '_FusedMatMul').length, 2, denseFused.join(' '));
  })();
});

test('a model of fused layers saves as stock Dense and Conv2D and loads back with the same predictions', async () => {
  const input = tf.input({ shape: [6, 6, 1] });
  const conv = fusedConv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv' }).apply(input) as tf.SymbolicTensor;
  const flat = tf.layers.flatten().apply(conv) as tf.SymbolicTensor;
  const out = fusedDense({ units: 4, activation: 'sigmoid', name: 'dense' }).apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
  const topology = JSON.stringify(saved!.modelTopology);
  assert.match(topology, /"class_name":"Conv2D"/);
  assert.match(topology, /"class_name":"Dense"/);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
  assert.deepEqual(loaded.layers.map((l) => l.getClassName()), ['InputLayer', 'Conv2D', 'Flatten', 'Dense']);
  const x = randomTensor([2, 6, 6, 1], 6);
  assertClose((loaded.predict(x) as tf.Tensor).dataSync() as Float32Array, (model.predict(x) as tf.Tensor).dataSync() as Float32Array, 'loaded model predictions');
});
