/**
 * The generated model.py against the tfjs models compiled from the same graph: with the same
 * weights (written by us in the tfjs weights encoding, loaded by model.py's load_tfjs_weights) and
 * the same inputs, every model of every sample and of graphs using every block and padding case
 * gives the same outputs (≤ 1e-5 relative), the same parameter counts (trainable and not), the same
 * KL term, the same BatchNormalization in training mode (outputs and moving statistics), and
 * save_tfjs_weights writes back exactly the weights it loaded.
 *
 * Needs a Python with torch and numpy (the test setup installs Debian's python3-torch); skipped
 * with the reason where there is none.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { analyzeGraph, type GraphAnalysis } from '../../src/core/analyze';
import { compileGraph } from '../../src/compile/compile';
import { collectExtraLosses } from '../../src/compile/customLayers';
import { mulberry32 } from '../../src/data/random';
import { pytorchModelCode, samePadding } from '../../src/export/pytorch/modelCode';
import { findPython } from '../../src/run/python';
import { SAMPLE_NAMES, sample } from '../helpers/samples';
import { COVERAGE, type WeightEntry, randomizeWeights } from '../helpers/coverageGraphs';

let python: string | undefined;
let skipReason: string | undefined;
let dir: string;

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  const found = await findPython();
  if (found.ok) python = found.command;
  else skipReason = found.message;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-pytorch-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (file: string, data: Float32Array): void => fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
const readF32 = (file: string): Float32Array => {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

function writeManifest(file: string, entries: readonly WeightEntry[]): void {
  const bin = path.basename(file).replace(/\.json$/, '.bin');
  const total = entries.reduce((a, e) => a + e.values.length, 0);
  const all = new Float32Array(total);
  let at = 0;
  for (const e of entries) {
    all.set(e.values, at);
    at += e.values.length;
  }
  write(path.join(path.dirname(file), bin), all);
  fs.writeFileSync(file, JSON.stringify({ weightsFile: bin, weights: entries.map((e) => ({ name: e.name, shape: e.shape, dtype: 'float32' })) }));
}

const PARITY_PY = String.raw`
import importlib.util, json, sys
import numpy as np
import torch

spec = importlib.util.spec_from_file_location("model", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
case = json.load(open(sys.argv[2]))
models = m.build_models(seed=0)
m.load_tfjs_weights(models, case["weights"])
read = lambda f, shape: torch.from_numpy(np.fromfile(f, dtype="<f4").reshape(shape))
result = {}
for name, c in case["models"].items():
    model = models[name]
    if c["training"]:
        m.load_tfjs_weights(models, case["weights"])  # each model starts from the written weights, as in tfjs
    model.train(c["training"])
    x = read(c["x"], c["xShape"])
    with torch.no_grad():
        y = model(x)
        r = {"shape": list(y.shape), "trainable": sum(p.numel() for p in model.parameters()), "nonTrainable": sum(b.numel() for b in model.buffers())}
        np.ascontiguousarray(y.numpy(), dtype="<f4").tofile(c["y"])
        kl = m.added_losses(model)
        r["kl"] = None if kl is None else float(kl)
        if "logits" in c:
            logits = model(x, logits=True)
            r["softmaxOfLogits"] = float((torch.softmax(logits, -1) - y).abs().max())
    result[name] = r
m.save_tfjs_weights(models, case["saveTo"])
print(json.dumps(result))
`;

interface PyResult {
  shape: number[];
  trainable: number;
  nonTrainable: number;
  kl: number | null;
  softmaxOfLogits?: number;
}

function maxRelativeDiff(a: Float32Array, b: Float32Array): number {
  let scale = 1;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d / scale;
}

/** Runs one graph through both engines; `training` runs the models in training mode (graphs without randomness only). */
async function parity(label: string, doc: Record<string, unknown>, opts: { training?: boolean } = {}): Promise<void> {
  const analysis: GraphAnalysis = analyzeGraph(doc);
  assert.ok(analysis.ok, `${label}: ${analysis.problems.map((p) => p.message).join('; ')}`);
  const caseDir = fs.mkdtempSync(path.join(dir, 'case-'));
  const modelPy = path.join(caseDir, 'model.py');
  fs.writeFileSync(modelPy, pytorchModelCode(analysis, { graphFile: `${label}.latent.json`, version: 'test' }));
  const compiled = compileGraph(analysis, { seed: 3 });
  try {
    const entries = randomizeWeights(compiled, 11);
    writeManifest(path.join(caseDir, 'weights.json'), entries);
    const rng = mulberry32(5);
    const models: Record<string, unknown> = {};
    const expected = new Map<string, { y: Float32Array; kl: number | null; params: number; trainable: number }>();
    for (const [name, model] of compiled.models) {
      const inShape = [3, ...(model.inputs[0]!.shape.slice(1) as number[])];
      const x = Float32Array.from({ length: inShape.reduce((a, b) => a * b, 1) }, () => rng());
      write(path.join(caseDir, `${name}.x.bin`), x);
      // Training mode changes the moving statistics: each model starts from the written weights.
      if (opts.training) randomizeWeights(compiled, 11);
      const { value, extraLoss } = collectExtraLosses(() => model.apply(tf.tensor(x, inShape), { training: opts.training === true }) as tf.Tensor);
      expected.set(name, {
        y: value.dataSync() as Float32Array,
        kl: extraLoss ? extraLoss.dataSync()[0]! : null,
        params: model.countParams(),
        trainable: model.trainableWeights.reduce((a, w) => a + (w.shape as number[]).reduce((p, q) => p * q, 1), 0),
      });
      tf.dispose([value, extraLoss]);
      const last = model.layers.at(-1);
      const softmaxHead = last instanceof tf.layers.Layer && last.getClassName() === 'Dense' && (last.getConfig()['activation'] as string) === 'softmax';
      models[name] = { x: path.join(caseDir, `${name}.x.bin`), xShape: inShape, y: path.join(caseDir, `${name}.y.bin`), training: opts.training === true, ...(softmaxHead ? { logits: true } : {}) };
    }
    const caseFile = path.join(caseDir, 'case.json');
    fs.writeFileSync(caseFile, JSON.stringify({ weights: path.join(caseDir, 'weights.json'), saveTo: path.join(caseDir, 'saved.json'), models }));
    fs.writeFileSync(path.join(caseDir, 'parity.py'), PARITY_PY);
    const stdout = execFileSync(python!, [path.join(caseDir, 'parity.py'), modelPy, caseFile], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, PyResult>;
    for (const [name, want] of expected) {
      const got = result[name]!;
      assert.ok(got, `${label}: model.py has no model "${name}"`);
      const y = readF32(path.join(caseDir, `${name}.y.bin`));
      assert.equal(y.length, want.y.length, `${label} ${name}: output sizes differ (PyTorch ${got.shape.join('x')})`);
      const diff = maxRelativeDiff(y, want.y);
      assert.ok(diff <= 1e-5, `${label} ${name}: outputs differ by ${diff.toExponential(2)} (relative)`);
      assert.equal(got.trainable + got.nonTrainable, want.params, `${label} ${name}: parameter count`);
      assert.equal(got.trainable, want.trainable, `${label} ${name}: trainable parameters`);
      if (want.kl === null) assert.equal(got.kl, null, `${label} ${name}: PyTorch adds a loss term tfjs does not`);
      else assert.ok(got.kl !== null && Math.abs(got.kl - want.kl) <= 1e-5 * Math.max(1, Math.abs(want.kl)), `${label} ${name}: KL ${got.kl} vs ${want.kl}`);
      if (got.softmaxOfLogits !== undefined) assert.ok(got.softmaxOfLogits <= 1e-6, `${label} ${name}: softmax(logits) is not the output`);
    }
    // What PyTorch writes back is what it read (its layout conversions are each other's inverse);
    // after training mode, the moving statistics are the ones tfjs computed.
    const saved = JSON.parse(fs.readFileSync(path.join(caseDir, 'saved.json'), 'utf8')) as { weightsFile: string; weights: { name: string; shape: number[] }[] };
    const savedValues = readF32(path.join(caseDir, saved.weightsFile));
    const want = opts.training ? currentWeights(compiled) : entries;
    assert.deepEqual(saved.weights.map((w) => w.name).sort(), want.map((e) => e.name).sort(), `${label}: the saved weights name the same layers`);
    let at = 0;
    for (const w of saved.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const e = want.find((x) => x.name === w.name)!;
      assert.deepEqual(w.shape, e.shape, `${label}: ${w.name} shape`);
      const diff = maxRelativeDiff(savedValues.subarray(at, at + n), e.values);
      assert.ok(opts.training ? diff <= 1e-5 : diff === 0, `${label}: ${w.name} differs by ${diff}`);
      at += n;
    }
  } finally {
    compiled.dispose();
  }
}

function currentWeights(compiled: ReturnType<typeof compileGraph>): WeightEntry[] {
  const out: WeightEntry[] = [];
  for (const layers of compiled.layersByNode.values()) {
    for (const layer of layers) layer.getWeights().forEach((w, i) => out.push({ name: `layer/${layer.name}/${i}`, shape: [...w.shape], values: w.dataSync() as Float32Array }));
  }
  return out;
}

describe('PyTorch model.py against the tfjs models', () => {
  it('TensorFlow\'s "same" padding: the odd pixel after', () => {
    assert.deepEqual(samePadding(8, 3, 2), [0, 1]);
    assert.deepEqual(samePadding(7, 3, 2), [1, 1]);
    assert.deepEqual(samePadding(4, 2, 1), [0, 1]);
    assert.deepEqual(samePadding(5, 3, 1), [1, 1]);
    assert.deepEqual(samePadding(3, 5, 1), [2, 2]);
  });

  for (const name of SAMPLE_NAMES) {
    it(`sample ${name}: the same outputs, parameter counts and KL term from the same weights`, async (t) => {
      if (!python) return t.skip(skipReason);
      await parity(name, sample(name));
    });
  }
  for (const [label, doc] of Object.entries(COVERAGE)) {
    it(`${label}: the same outputs, parameter counts and KL term from the same weights`, async (t) => {
      if (!python) return t.skip(skipReason);
      await parity(label, doc);
    });
  }
  it('BatchNormalization in training mode: batch statistics, the same outputs and moving statistics', async (t) => {
    if (!python) return t.skip(skipReason);
    await parity('batch norm, trained', COVERAGE['batch norm, trained']!, { training: true });
  });
});
