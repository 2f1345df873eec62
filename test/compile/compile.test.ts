import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { compileGraph } from '../../src/compile/compile';
import { SAMPLE_NAMES, chainGraph, sample } from '../helpers/samples';

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

test('every sample compiles; tfjs-layers (a Keras port) agrees with core on every count and shape', () => {
  for (const name of SAMPLE_NAMES) {
    const a = analyzeGraph(sample(name));
    const compiled = compileGraph(a);
    assert.ok(compiled.models.size > 0, name);
    for (const plan of a.models) {
      const model = compiled.models.get(plan.name)!;
      const to = a.nodes.get(plan.to)!;
      assert.deepEqual(model.outputs[0]!.shape.slice(1), [...to.outputShape!], `${name}/${plan.name} output shape`);
      if (plan.from === a.inputId) {
        // The whole chain from the Input: sum of core's counts for the nodes the model uses.
        const ids = new Set<string>();
        for (let cur: string | undefined = plan.to; cur; cur = a.nodes.get(cur)!.inputs[0]) ids.add(cur);
        const expected = [...ids].reduce((s, id) => s + a.nodes.get(id)!.paramCount, 0);
        assert.equal(model.countParams(), expected, `${name}/${plan.name} params`);
      }
    }
    const ae = compiled.models.get('autoencoder') ?? compiled.models.get('classifier')!;
    if (!a.document!.training.stages) assert.equal(ae.countParams(), a.totals.params, name);
    compiled.dispose();
  }
});

test('sub-models share weights: changing the autoencoder changes the encoder and decoder', () => {
  const compiled = compileGraph(analyzeGraph(sample('dense-autoencoder')));
  const ae = compiled.models.get('autoencoder')!;
  const encoder = compiled.models.get('encoder')!;
  const decoder = compiled.models.get('decoder')!;
  const x = tf.randomUniform([3, 784], 0, 1, 'float32', 7);
  const viaParts = decoder.predict(encoder.predict(x) as tf.Tensor) as tf.Tensor;
  const whole = ae.predict(x) as tf.Tensor;
  assert.ok(tf.max(tf.abs(tf.sub(viaParts, whole))).dataSync()[0]! < 1e-6);
  const layer = encoder.getLayer('bottleneck');
  layer.setWeights(layer.getWeights().map((w) => tf.zerosLike(w)));
  const code = encoder.predict(x) as tf.Tensor;
  assert.equal(tf.max(code).dataSync()[0], 0, 'zeroed bottleneck gives a zero code');
  const after = ae.predict(x) as tf.Tensor;
  assert.ok(tf.max(tf.abs(tf.sub(after, whole))).dataSync()[0]! > 1e-4, 'the autoencoder saw the change');
  tf.dispose([x, viaParts, whole, code, after]);
  compiled.dispose();
});

test('freezing: trainable: false and stage freezes remove weights from trainableWeights', () => {
  const doc = sample('autoencoder-classifier');
  const a = analyzeGraph(doc);
  const compiled = compileGraph(a);
  const classifier = compiled.models.get('classifier')!;
  assert.equal(classifier.trainableWeights.length, 10); // 3 encoder + bottleneck + head, kernel + bias each
  compiled.setFrozen(new Set(['encoder', 'bottleneck']));
  assert.deepEqual(classifier.trainableWeights.map((w) => w.originalName), ['head/kernel', 'head/bias']);
  compiled.setFrozen(new Set());
  assert.equal(classifier.trainableWeights.length, 10);
  compiled.dispose();

  (doc.nodes as { id: string; trainable?: boolean }[]).find((n) => n.id === 'encoder')!.trainable = false;
  const frozen = compileGraph(analyzeGraph(doc));
  frozen.setFrozen(new Set());
  assert.equal(frozen.models.get('classifier')!.trainableWeights.length, 4, 'a node frozen in the file stays frozen');
  frozen.dispose();
});

test('the same seed gives the same initial weights; another seed does not', () => {
  const a = analyzeGraph(sample('simple-autoencoder'));
  const w = (seed: number): Float32Array => {
    const c = compileGraph(a, { seed });
    const data = c.models.get('autoencoder')!.getLayer('code').getWeights()[0]!.dataSync() as Float32Array;
    c.dispose();
    return data;
  };
  assert.deepEqual(w(1), w(1));
  assert.notDeepEqual(w(1), w(2));
});

test('leaky ReLU, BatchNormalization, Dropout, GaussianNoise and Conv2DTranspose compile and run', () => {
  const a = analyzeGraph(
    chainGraph(
      [
        { id: 'noise', type: 'GaussianNoise', params: { stddev: 0.2 } },
        { id: 'c', type: 'Conv2D', params: { filters: 4, strides: 2, activation: 'leakyRelu' } },
        { id: 'bn', type: 'BatchNormalization' },
        { id: 'drop', type: 'Dropout', params: { rate: 0.3 } },
        { id: 't', type: 'Conv2DTranspose', params: { filters: 1, activation: 'sigmoid' } },
      ],
      { input: [28, 28, 1] },
    ),
  );
  assert.equal(a.ok, true, JSON.stringify(a.problems));
  const c = compileGraph(a);
  const m = c.models.get('autoencoder')!;
  assert.equal(m.countParams(), a.totals.params);
  const y = m.predict(tf.ones([2, 28, 28, 1])) as tf.Tensor;
  assert.deepEqual(y.shape, [2, 28, 28, 1]);
  c.dispose();
});

test('compiling a graph with errors is refused', () => {
  assert.throws(() => compileGraph(analyzeGraph({ formatVersion: 1, name: 'x', nodes: [] })), /has errors/);
});

test('Conv2DTranspose with valid padding and a kernel smaller than its stride: core gives what tfjs-layers gives (in × stride)', () => {
  // From 7x7: kernel 1 / stride 2 → 14 (not (7 - 1) × 2 + 1 = 13), kernel 3 / stride 4 → 28, kernel = stride → 14, kernel 3 / stride 2 → 15.
  for (const [kernelSize, strides, side] of [[1, 2, 14], [3, 4, 28], [2, 2, 14], [3, 2, 15]] as const) {
    const a = analyzeGraph(
      chainGraph(
        [
          { id: 'c', type: 'Conv2D', params: { filters: 2, kernelSize: 4, strides: 4, padding: 'valid' } }, // 28 → 7
          { id: 't', type: 'Conv2DTranspose', params: { filters: 1, kernelSize, strides, padding: 'valid', activation: 'sigmoid' } },
        ],
        { input: [28, 28, 1] },
      ),
    );
    const what = `kernel ${kernelSize}, stride ${strides}`;
    assert.deepEqual(a.nodes.get('t')!.outputShape, [side, side, 1], what);
    const keras = tf.layers.conv2dTranspose({ filters: 1, kernelSize, strides, padding: 'valid' }).computeOutputShape([null, 7, 7, 2]);
    assert.deepEqual(keras, [null, side, side, 1], `tfjs-layers: ${what}`);
    if (side !== 28) continue; // the Output compares with the 28x28 input: only this one compiles into an autoencoder
    assert.equal(a.ok, true, JSON.stringify(a.problems));
    const c = compileGraph(a);
    const y = c.models.get('autoencoder')!.predict(tf.ones([1, 28, 28, 1])) as tf.Tensor;
    assert.deepEqual(y.shape, [1, 28, 28, 1], what);
    y.dispose();
    c.dispose();
  }
});
