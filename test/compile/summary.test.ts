/**
 * Keras-style summaries of each model a graph names (core/summary.ts summarizeModel): the layers of
 * that sub-model only, and with a stage the stage's trainable counts; checked against the compiled
 * tfjs models of every sample (their layers, countParams and trainable weights under the stage's
 * freezing).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { resolveStages } from '../../src/core/stages';
import { SummaryError, formatSummaryTable, summarize, summarizeModel, summarizeModels } from '../../src/core/summary';
import { compileGraph } from '../../src/compile/compile';
import { SAMPLE_NAMES, sample } from '../helpers/samples';

const count = (ws: readonly tf.LayerVariable[]): number => ws.reduce((a, w) => a + w.shape.reduce<number>((x, y) => x * (y ?? 1), 1), 0);

describe('sub-model summaries', () => {
  it("seed 000's classifier: 111,514 parameters, 170 of them trainable in its stage (the whole graph has 222,058)", () => {
    const a = analyzeGraph(sample('autoencoder-classifier'));
    assert.equal(summarize(a).totalParams, 222_058);
    const c = summarizeModel(a, 'classifier', 'classifier');
    assert.deepEqual([c.totalParams, c.trainableParams, c.nonTrainableParams], [111_514, 170, 111_344]);
    assert.deepEqual(c.layers.map((l) => `${l.name}:${l.trainable ? 'T' : 'F'}`), ['input:T', 'encoder.0:F', 'encoder.1:F', 'encoder.2:F', 'bottleneck:F', 'head:T']);
    const plain = summarizeModel(a, 'classifier');
    assert.equal(plain.trainableParams, 111_514, 'without a stage every layer of the model trains');
    const table = formatSummaryTable(c);
    assert.match(table, /^Model: "classifier" \(trainable as in stage "classifier"\)/);
    assert.match(table, /Trainable params: 170\n/);
    // The decoder's input is the code, as the compiled decoder model's.
    const d = summarizeModel(a, 'decoder');
    assert.deepEqual([d.layers[0]!.name, d.layers[0]!.outputShape], ['decoder_input', [null, 16]]);
  });

  it('an unknown model or stage is named with the ones there are', () => {
    const a = analyzeGraph(sample('autoencoder-classifier'));
    assert.throws(() => summarizeModel(a, 'nope'), (e: unknown) => e instanceof SummaryError && /no model "nope": its models are "autoencoder", "encoder", "decoder", "classifier"/.test(e.message));
    assert.throws(() => summarizeModel(a, 'classifier', 'later'), (e: unknown) => e instanceof SummaryError && /no stage "later": its stages are "autoencoder", "classifier"/.test(e.message));
  });

  it('every sample: each named model as tfjs compiles it (layers, parameters, trainable under each stage)', async () => {
    await tf.setBackend('cpu');
    for (const name of SAMPLE_NAMES) {
      const a = analyzeGraph(sample(name));
      const compiled = compileGraph(a);
      try {
        for (const m of summarizeModels(a)) {
          const model = compiled.models.get(m.name)!;
          assert.equal(m.totalParams, model.countParams(), `${name} ${m.name}: parameters`);
          const tfLayers = model.layers.map((l) => l.name);
          assert.deepEqual(m.layers.map((l) => l.name), tfLayers, `${name} ${m.name}: layers`);
        }
        for (const stage of resolveStages(a)) {
          if (stage.kind !== 'fit') continue;
          compiled.setFrozen(new Set(stage.freeze));
          for (const m of summarizeModels(a, stage.name)) {
            const model = compiled.models.get(m.name)!;
            assert.equal(m.trainableParams, count(model.trainableWeights), `${name} ${m.name} in stage ${stage.name}: trainable`);
            assert.equal(m.nonTrainableParams, count(model.nonTrainableWeights), `${name} ${m.name} in stage ${stage.name}: non-trainable`);
          }
        }
      } finally {
        compiled.dispose();
      }
    }
  });
});
