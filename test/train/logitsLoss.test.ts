/**
 * Categorical cross-entropy from the logits of a softmax output (src/train/scoring.ts lossFn with
 * logits, predictForLoss; src/compile/fusedLayers.ts LOGITS_OF): the same value as the probability
 * formula where that one does not clip, a gradient where it clips (a confidently wrong sample), and
 * model outputs (probabilities) unchanged.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '../../src/backend/tf';
import { LOGITS_OF, fusedDense } from '../../src/compile/fusedLayers';
import { selectBackend } from '../../src/backend/select';
import { logitsLayer, lossFn, predictForLoss } from '../../src/train/scoring';

before(() => {
  tf.env().set('PROD', true);
});

const BACKENDS = ['cpu', 'wasm'] as const;

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void => {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

for (const backend of BACKENDS) {
  test(`${backend}: from logits it equals the probability formula (and tf.metrics) where nothing is clipped`, async () => {
    await selectBackend({ prefer: backend });
    tf.tidy(() => {
      const logits = tf.tensor2d([1.5, -0.3, 0.2, 0, 2, -1, -2, 0.5, 3.1, 0.7, 0.7, 0.7], [4, 3]);
      const labels = tf.tensor2d([1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0], [4, 3]);
      const probs = tf.softmax(logits);
      const fromLogits = lossFn('categoricalCrossentropy', labels, probs, logits).dataSync()[0]!;
      const fromProbs = lossFn('categoricalCrossentropy', labels, probs).dataSync()[0]!;
      const keras = tf.mean(tf.metrics.categoricalCrossentropy(labels, probs)).dataSync()[0]!;
      close([fromLogits], [fromProbs], 1e-6, 'loss');
      close([fromLogits], [keras], 1e-6, 'loss vs tf.metrics');
      // The gradients with respect to the logits agree too (softmax(z) - y, over the batch size).
      const gLogits = tf.grad((z: tf.Tensor) => lossFn('categoricalCrossentropy', labels, tf.softmax(z), z))(logits);
      const gProbs = tf.grad((z: tf.Tensor) => lossFn('categoricalCrossentropy', labels, tf.softmax(z)))(logits);
      const expected = tf.div(tf.sub(probs, labels), 4);
      close(gLogits.dataSync(), expected.dataSync(), 1e-6, 'gradient from logits');
      close(gProbs.dataSync(), expected.dataSync(), 1e-5, 'gradient from probabilities');
    });
  });

  test(`${backend}: a saturated wrong sample (p_true < 1e-7) has no gradient from probabilities, softmax(z) - y from logits`, async () => {
    await selectBackend({ prefer: backend });
    tf.tidy(() => {
      // True class 0, logits favour class 1 by 40: p_true = e^-40 ≈ 4e-18, far below the clip.
      const logits = tf.tensor2d([[0, 40, 0]]);
      const labels = tf.tensor2d([[1, 0, 0]]);
      const gProbs = tf.grad((z: tf.Tensor) => lossFn('categoricalCrossentropy', labels, tf.softmax(z)))(logits);
      assert.deepEqual(Array.from(gProbs.dataSync()).map(Math.abs), [0, 0, 0], 'the clip stops the gradient');
      const gLogits = tf.grad((z: tf.Tensor) => lossFn('categoricalCrossentropy', labels, tf.softmax(z), z))(logits);
      close(gLogits.dataSync(), [-1, 1, 0], 1e-6, 'gradient from logits');
      // The loss is the true one, 40 (+ log(1 + 2e-40)), not the clipped -log(1e-7) ≈ 16.1; and finite for huge logits.
      close(lossFn('categoricalCrossentropy', labels, tf.softmax(logits), logits).dataSync(), [40], 1e-6, 'loss');
      close(lossFn('categoricalCrossentropy', labels, tf.softmax(logits)).dataSync(), [-Math.log(1e-7)], 1e-4, 'clipped loss');
      const huge = tf.tensor2d([[-1e4, 1e4, 0]]);
      close(lossFn('categoricalCrossentropy', labels, tf.softmax(huge), huge).dataSync(), [2e4], 1e-6, 'huge logits');
    });
  });

  for (const fusedOff of [false, true]) {
    test(`${backend}${fusedOff ? ', LATENT_FUSED_LAYERS=0' : ''}: predictForLoss gives a softmax Dense model's logits, its very outputs, and a gradient to the head for a saturated sample`, async () => {
      await selectBackend({ prefer: backend });
      const saved = process.env.LATENT_FUSED_LAYERS;
      if (fusedOff) process.env.LATENT_FUSED_LAYERS = '0';
      try {
        const input = tf.input({ shape: [4] });
        const hidden = fusedDense({ units: 5, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'hidden' });
        const head = fusedDense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), name: 'head' });
        const model = tf.model({ inputs: input, outputs: head.apply(hidden.apply(input)) as tf.SymbolicTensor });
        assert.equal(logitsLayer('categoricalCrossentropy', head), head);
        assert.equal(logitsLayer('binaryCrossentropy', head), undefined, 'only categorical cross-entropy is taken from logits');
        assert.equal(logitsLayer('categoricalCrossentropy', hidden), undefined, 'not a softmax');
        tf.tidy(() => {
          // Inputs large enough that the head's logits saturate: some true classes get p < 1e-7.
          const xs = tf.mul(tf.tensor2d([1, 2, 0.5, -1, -2, 1, 3, 0.2, 0.3, -0.7, 2, 2], [3, 4]), 500);
          const pred = predictForLoss(model, xs, true, 'categoricalCrossentropy');
          assert.ok(pred.logits, 'logits given');
          assert.deepEqual(pred.output.dataSync(), (model.apply(xs, { training: true }) as tf.Tensor).dataSync(), 'same probabilities as the model');
          const kernel = head.getWeights()[0]!;
          const expectedLogits = tf.add(tf.matMul(hidden.apply(xs) as tf.Tensor, kernel), head.getWeights()[1]!);
          close(pred.logits!.dataSync(), expectedLogits.dataSync(), 1e-5, 'logits');
          // No logits where the loss does not take them.
          assert.equal(predictForLoss(model, xs, true, 'meanSquaredError').logits, undefined);
          const probs = pred.output.dataSync();
          // Sample 0's least likely class as its true class: a confidently wrong sample.
          const wrong = [0, 1, 2].reduce((a, c) => (probs[c]! < probs[a]! ? c : a), 0);
          assert.ok(probs[wrong]! < 1e-7, `sample 0 saturated: ${Array.from(probs.slice(0, 3))}`);
          const labels = tf.oneHot(tf.tensor1d([wrong, 0, 1], 'int32'), 3);
          const one = xs.slice([0, 0], [1, 4]);
          const yOne = labels.slice([0, 0], [1, 3]);
          const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
          const viaLogits = tf.variableGrads(() => {
            const p = predictForLoss(model, one, true, 'categoricalCrossentropy');
            return lossFn('categoricalCrossentropy', yOne, p.output, p.logits);
          }, vars).grads;
          const viaProbs = tf.variableGrads(() => lossFn('categoricalCrossentropy', yOne, model.apply(one, { training: true }) as tf.Tensor), vars).grads;
          const headKernel = vars.find((v) => v.name.includes('head') && v.shape.length === 2)!.name;
          assert.ok(tf.max(tf.abs(viaLogits[headKernel]!)).dataSync()[0]! > 1, 'the head learns from the saturated sample');
          assert.equal(tf.max(tf.abs(viaProbs[headKernel]!)).dataSync()[0], 0, 'the clipped formula gives it nothing');
        });
        // The layer itself is unchanged: a Dense with a softmax (what saved models hold), outputs without the kwarg are probabilities.
        assert.equal(head.getClassName(), 'Dense');
        assert.equal(head.getConfig().activation, 'softmax');
        tf.tidy(() => {
          const y = head.apply(tf.ones([2, 5]), { [LOGITS_OF]: hidden }) as tf.Tensor;
          close(tf.sum(y, -1).dataSync(), [1, 1], 1e-6, 'another layer named: probabilities');
        });
        model.dispose();
      } finally {
        if (saved === undefined) delete process.env.LATENT_FUSED_LAYERS;
        else process.env.LATENT_FUSED_LAYERS = saved;
      }
    });
  }
}
