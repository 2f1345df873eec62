/**
 * Importing Keras files: models built here with tfjs are written, with h5py (Debian's
 * python3-h5py), in Keras' own layouts: a Keras 2 `.h5` (model_config attribute, model_weights/<layer>/
 * with weight_names) and a Keras 3 `.keras` zip (config.json in Keras 3's form, model.weights.h5 with
 * layers/<snake_case class>[_n]/vars/<i>). Each imports with the source's parameter count and gives
 * its outputs (≤ 1e-5); a weights-only file, a corrupt file and a damaged zip each get a sentence.
 * Skipped, with the reason, where no Python with h5py is found.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { parseJsonText } from '../../src/core/canonical';
import { compileGraph } from '../../src/compile/compile';
import { mulberry32 } from '../../src/data/random';
import { importModel } from '../../src/run/importModel';
import { toSnakeCase } from '../../src/run/kerasFiles';
import { applyLayerWeights, loadCheckpoint } from '../../src/train/checkpoint';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-keras-'));
const PYTHONS = [process.env.LATENT_STUDIO_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
const python = PYTHONS.find((p) => spawnSync(p, ['-c', 'import h5py, numpy'], { encoding: 'utf8' }).status === 0);
const skip = python ? false : 'no Python with h5py and numpy (Debian: apt-get install python3-h5py; scripts/setup-pytorch.sh does)';

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const WRITE_PY = String.raw`
import json, sys, zipfile, io
import numpy as np, h5py
spec = json.load(open(sys.argv[1]))
def arr(w): return np.fromfile(w["file"], dtype="<f4").reshape(w["shape"])
if spec["kind"] == "h5":
    with h5py.File(spec["out"], "w") as f:
        f.attrs["model_config"] = json.dumps(spec["config"]).encode("utf8")
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [l["name"].encode("utf8") for l in spec["layers"]]
        for l in spec["layers"]:
            lg = g.create_group(l["name"])
            names = [("%s/%s:0" % (l["name"], w["short"])) for w in l["weights"]]
            lg.attrs["weight_names"] = [n.encode("utf8") for n in names]
            for n, w in zip(names, l["weights"]):
                lg.create_dataset(n, data=arr(w))
else:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for l in spec["layers"]:
            v = f.create_group("layers/%s/vars" % l["key"])
            for i, w in enumerate(l["weights"]):
                v.create_dataset(str(i), data=arr(w))
    with zipfile.ZipFile(spec["out"], "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2026-12-04@00:00:00"}))
        z.writestr("config.json", json.dumps(spec["config"]))
        z.writestr("model.weights.h5", buf.getvalue())
`;

interface Layer {
  class_name: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes?: unknown[];
}

/** tfjs' topology (Keras 2's JSON) as Keras 3 writes config.json: InputLayer with batch_shape, inbound nodes as keras tensors. */
function keras3Config(topology: { class_name: string; config: { name?: string; layers: Layer[] } }): unknown {
  const layers = topology.config.layers.map((l) => {
    const config: Record<string, unknown> = { ...l.config };
    if ('batch_input_shape' in config) {
      config.batch_shape = config.batch_input_shape;
      delete config.batch_input_shape;
    }
    if (l.class_name === 'LeakyReLU') {
      config.negative_slope = config.alpha;
      delete config.alpha;
    }
    const nodes = (l.inbound_nodes as [string, number, number, object][][] | undefined)?.map((node) => ({
      args: node.map(([name, a, b]) => ({ class_name: '__keras_tensor__', config: { shape: [null], dtype: 'float32', keras_history: [name, a, b] } })),
      kwargs: {},
    }));
    return { module: 'keras.layers', class_name: l.class_name, config, registered_name: null, ...(nodes ? { inbound_nodes: nodes } : {}) };
  });
  if (topology.class_name === 'Sequential' && layers[0]?.class_name !== 'InputLayer') {
    const first = layers[0]!.config;
    layers.unshift({ module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: first.batch_shape, dtype: 'float32', name: 'input_layer' }, registered_name: null });
    delete first.batch_shape;
  }
  return { module: 'keras', class_name: topology.class_name === 'Model' ? 'Functional' : topology.class_name, config: { name: topology.config.name, layers }, registered_name: null };
}

/** Writes `model` as a Keras file of `kind` with h5py. */
async function writeKeras(model: tf.LayersModel, kind: 'h5' | 'keras', file: string): Promise<void> {
  let topology: { class_name: string; config: { name?: string; layers: Layer[] } } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      topology = a.modelTopology as typeof topology;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const used = new Map<string, number>();
  const layers = model.layers
    .map((layer, li) => {
      const base = toSnakeCase(layer.getClassName());
      const n = used.get(base);
      used.set(base, n === undefined ? 0 : n + 1);
      const weights = layer.weights.map((w, wi) => {
        const f = path.join(tmp, `${path.basename(file)}-${li}-${wi}.bin`);
        const v = w.read().dataSync() as Float32Array;
        fs.writeFileSync(f, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
        return { short: w.originalName.split('/').at(-1)!, shape: w.shape, file: f };
      });
      return { name: layer.name, key: n === undefined ? base : `${base}_${n + 1}`, weights };
    })
    .filter((l) => l.weights.length > 0);
  const spec = { kind, out: file, config: kind === 'h5' ? topology : keras3Config(topology!), layers };
  const specFile = `${file}.spec.json`;
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const scriptFile = path.join(tmp, 'write.py');
  fs.writeFileSync(scriptFile, WRITE_PY);
  const r = spawnSync(python!, [scriptFile, specFile], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

async function importAndCompare(model: tf.LayersModel, kind: 'h5' | 'keras', label: string): Promise<void> {
  const rng = mulberry32(label.length);
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(Float32Array.from({ length: w.size }, () => (i === 3 ? 0.5 + rng() : (rng() - 0.5) * 0.5)), w.shape)));
  }
  const file = path.join(tmp, `${label}.${kind}`);
  await writeKeras(model, kind, file);
  const done = await importModel({ model: file, out: path.join(tmp, `${label}-${kind}.latent.json`) });
  const parsed = parseJsonText(fs.readFileSync(done.graphFile, 'utf8'));
  assert.ok(parsed.ok);
  const analysis = analyzeGraph(parsed.value);
  assert.ok(analysis.ok, analysis.problems.map((p) => p.message).join('; '));
  assert.equal(analysis.totals.params, model.countParams(), `${label}.${kind}: parameter count`);
  const compiled = compileGraph(analysis);
  const ckpt = loadCheckpoint(done.weightsDir);
  try {
    applyLayerWeights(compiled, ckpt);
    const out = (parsed.value as { nodes: { id: string; type: string }[] }).nodes.find((n) => n.type === 'Output')!;
    const shape = model.inputs[0]!.shape.map((d) => d ?? 5);
    const x = tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng()), shape);
    const want = (model.predict(x) as tf.Tensor).dataSync();
    const got = (compiled.modelForOutput(out.id).predict(x) as tf.Tensor).dataSync();
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    assert.ok(worst <= 1e-5, `${label}.${kind}: differs by ${worst}`);
  } finally {
    ckpt.dispose();
    compiled.dispose();
  }
}

const denseAutoencoder = (): tf.LayersModel =>
  tf.sequential({
    name: 'dense_ae',
    layers: [
      tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.dense({ units: 8, activation: 'linear' }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.dense({ units: 32, activation: 'relu' }),
      tf.layers.dense({ units: 784, activation: 'sigmoid' }),
    ],
  });

function convAutoencoder(): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: 'pixels' });
  let h = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: h, name: 'conv_ae' });
}

const classifier = (): tf.LayersModel =>
  tf.sequential({ layers: [tf.layers.dense({ inputShape: [64], units: 16, activation: 'elu' }), tf.layers.dropout({ rate: 0.25 }), tf.layers.dense({ units: 10, activation: 'softmax' })] });

for (const kind of ['h5', 'keras'] as const) {
  test(`Keras ${kind === 'h5' ? '2 .h5' : '3 .keras'}: a dense autoencoder, a convolutional one and a classifier import with their weights and outputs`, { skip }, async () => {
    await importAndCompare(denseAutoencoder(), kind, 'dense');
    await importAndCompare(convAutoencoder(), kind, 'conv');
    await importAndCompare(classifier(), kind, 'classifier');
  });
}

test('Keras files that cannot be imported say why', { skip }, async () => {
  const weightsOnly = path.join(tmp, 'weights-only.h5');
  const r = spawnSync(python!, ['-c', `import h5py\nwith h5py.File(${JSON.stringify(weightsOnly)}, "w") as f: f.create_group("dense")`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  await assert.rejects(importModel({ model: weightsOnly, out: path.join(tmp, 'a.latent.json') }), /weights-only\.h5: has no model_config: it holds weights only \(model\.save_weights\); save the whole model/);
  const corrupt = path.join(tmp, 'corrupt.h5');
  fs.writeFileSync(corrupt, 'not hdf5 at all');
  await assert.rejects(importModel({ model: corrupt, out: path.join(tmp, 'b.latent.json') }), /corrupt\.h5: not an HDF5 file \(Keras \.h5 files start with the HDF5 signature\)/);
  const notZip = path.join(tmp, 'broken.keras');
  fs.writeFileSync(notZip, 'PK nonsense');
  await assert.rejects(importModel({ model: notZip, out: path.join(tmp, 'c.latent.json') }), /broken\.keras: not a \.keras file \(not a zip archive, or a truncated one\)/);
});
