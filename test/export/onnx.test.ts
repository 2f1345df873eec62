/**
 * The ONNX export against the tfjs models it comes from: every named model of every sample and of
 * the coverage graphs (every block type, padding case and activation), with random weights
 * (biases and batch-norm statistics included), saved the way `export` saves them, converted, and
 * run by onnxruntime-node; its outputs equal tfjs' on the same inputs (≤ 1e-5, relative to the
 * output's scale). And what goes wrong says so: an unknown layer, weights that do not fit, a file
 * that is not a layers model.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { compileGraph } from '../../src/compile/compile';
import { mulberry32 } from '../../src/data/random';
import { ONNX_OPSET, tfjsToOnnx } from '../../src/export/onnx';
import { type TfjsModelJson, parseTfjsModelJson, readWeights } from '../../src/export/tfjsModel';
import { COVERAGE, randomizeWeights } from '../helpers/coverageGraphs';
import { SAMPLE_NAMES, sample } from '../helpers/samples';

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

/** The model as `export` writes it: model.json's object and weights.bin's bytes (tf.io, as the worker saves). */
async function saved(model: tf.LayersModel): Promise<{ json: TfjsModelJson; data: Uint8Array }> {
  let json: unknown;
  let data = new Uint8Array();
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      json = { format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] };
      const w = a.weightData;
      data = new Uint8Array(w instanceof ArrayBuffer ? w : tf.io.CompositeArrayBuffer.join(w));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  // Through text, as the file is read: the schema checks it where it enters.
  return { json: parseTfjsModelJson(JSON.stringify(json), 'model.json'), data };
}

async function compare(doc: Record<string, unknown>, label: string): Promise<string[]> {
  const analysis = analyzeGraph(doc);
  assert.ok(analysis.ok, `${label}: ${analysis.problems.map((p) => p.message).join('; ')}`);
  const compiled = compileGraph(analysis, { seed: 3 });
  const operators = new Set<string>();
  try {
    randomizeWeights(compiled, 17);
    for (const [name, model] of compiled.models) {
      const { json, data } = await saved(model);
      const converted = tfjsToOnnx(json, readWeights(json, data, 'weights.bin'), { modelName: name, producerVersion: 'test', metadata: { graph: label }, file: `${label}/${name}` });
      converted.operators.forEach((o) => operators.add(o));
      const inShape = model.inputs[0]!.shape.map((d) => d ?? 3);
      const rng = mulberry32(name.length + 1);
      const x = Float32Array.from({ length: inShape.reduce((a, b) => a * b, 1) }, () => rng());
      const expected = tf.tidy(() => (model.predict(tf.tensor(x, inShape)) as tf.Tensor).dataSync().slice());
      const session = await ort.InferenceSession.create(converted.bytes);
      assert.deepEqual(session.inputNames, [converted.inputName]);
      assert.deepEqual(session.outputNames, [converted.outputName]);
      const result = await session.run({ [converted.inputName]: new ort.Tensor('float32', x, inShape) });
      const got = result[converted.outputName]!;
      const outShape = model.outputs[0]!.shape.map((d) => d ?? 3);
      assert.deepEqual([...got.dims], outShape, `${label}/${name}: output shape`);
      const y = got.data as Float32Array;
      const scale = Math.max(1, ...Array.from(expected, Math.abs));
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(y[i]! - expected[i]!) / scale);
      assert.ok(worst <= 1e-5, `${label}/${name}: ONNX Runtime differs from tfjs by ${worst.toExponential(2)}`);
      await session.release();
    }
  } finally {
    compiled.dispose();
  }
  return [...operators];
}

describe('ONNX export against the tfjs models (onnxruntime-node)', () => {
  for (const name of SAMPLE_NAMES) {
    it(`${name}: every model gives tfjs' outputs`, async () => {
      await compare(sample(name) as Record<string, unknown>, name);
    });
  }
  for (const [label, doc] of Object.entries(COVERAGE)) {
    it(`${label}: every model gives tfjs' outputs`, async () => {
      const ops = await compare(doc, label);
      if (label === 'padding and shapes') {
        for (const op of ['Conv', 'ConvTranspose', 'MaxPool', 'Resize', 'Softmax', 'Selu', 'Elu', 'LeakyRelu', 'Tanh', 'Sigmoid', 'Reshape', 'Flatten', 'MatMul']) assert.ok(ops.includes(op), `${op} is exercised (${ops.join(', ')})`);
      }
    });
  }
});

describe('the ONNX file', () => {
  it('is opset 17, names its input and output, and carries the metadata it was given', async () => {
    const compiled = compileGraph(analyzeGraph(sample('dense-autoencoder')));
    try {
      const { json, data } = await saved(compiled.models.get('encoder')!);
      const out = tfjsToOnnx(json, readWeights(json, data, 'w'), { modelName: 'encoder', producerVersion: '9.9.9', metadata: { graph: 'Dense autoencoder', normalization: '{"method":"unit"}' }, file: 'x' });
      const proto = onnx.ModelProto.decode(out.bytes);
      assert.equal(Number(proto.opsetImport[0]!.version), ONNX_OPSET);
      assert.equal(proto.producerName, 'Latent Studio');
      assert.equal(proto.graph!.output![0]!.name, 'code');
      const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
      assert.equal(meta.graph, 'Dense autoencoder');
      assert.equal(meta.normalization, '{"method":"unit"}');
      assert.match(meta.layout!, /NHWC/);
      assert.deepEqual(out.inputShape, [null, 784]);
      assert.deepEqual(out.outputShape, [null, 16]);
    } finally {
      compiled.dispose();
    }
  });

  it('refuses what it cannot convert with a sentence naming the layer, the weight or the field', async () => {
    const compiled = compileGraph(analyzeGraph(sample('dense-autoencoder')));
    try {
      const { json, data } = await saved(compiled.models.get('autoencoder')!);
      const weights = readWeights(json, data, 'w');
      const unknown = structuredClone(json);
      unknown.modelTopology.config.layers[2]!.class_name = 'LSTM';
      assert.throws(() => tfjsToOnnx(unknown, weights, { modelName: 'autoencoder', producerVersion: 't', metadata: {}, file: 'model.json' }), /model\.json: layer 3 "encoder\.1" \(LSTM\): this layer type has no ONNX export/);
      const missing = new Map(weights);
      missing.delete('encoder.0/kernel');
      assert.throws(() => tfjsToOnnx(json, missing, { modelName: 'autoencoder', producerVersion: 't', metadata: {}, file: 'model.json' }), /"encoder\.0" \(Dense\): its weight "encoder\.0\/kernel" is not in the weights manifest/);
      assert.throws(() => readWeights(json, data.subarray(0, data.byteLength - 8), 'weights.bin'), /weights\.bin: the weights files hold \d+ bytes, but the manifest needs \d+ by weight "[^"]+"/);
      assert.throws(() => parseTfjsModelJson('{"modelTopology": {"class_name": "Model", "config": {}}, "weightsManifest": []}', 'm.json'), /m\.json: not a TensorFlow\.js layers model: "modelTopology\.config\.layers"/);
      assert.throws(() => parseTfjsModelJson('{"oops', 'm.json'), /m\.json: not JSON/);
    } finally {
      compiled.dispose();
    }
  });
});
