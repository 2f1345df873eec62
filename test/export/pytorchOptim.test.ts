/**
 * The optimisers, losses and metrics of the generated train.py (src/export/pytorch/optimRuntime.ts)
 * against the tfjs trainer's (src/train/optimizers.ts, src/train/scoring.ts), on the cpu backend:
 *
 * - update rules: from the same weights and the same gradients (zeros, tiny and large values
 *   included), every weight after each of 3 steps and every accumulator after them are
 *   bit-identical, and a state_dict saved after step 2 and loaded into a fresh optimiser gives
 *   the same step 3 (checkpoints);
 * - losses and metrics: the same values and the same gradients (probabilities at exactly 0, 1 and
 *   0.5 for the clipping and the kinks, logits for categorical cross-entropy);
 * - training: dense and conv models (the generated model.py, weights from the tfjs models), 3
 *   optimiser steps of each optimiser from the same weights and batch: the same losses, metrics
 *   and updated weights (float32 rounding of the two engines' forward and backward passes apart).
 *
 * Needs a Python with torch and numpy (findPython); skipped with its reason where there is none.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { DEFAULT_LEARNING_RATE, type LossName, type MetricName, OPTIMIZERS, type OptimizerName } from '../../src/core/format';
import { compileGraph } from '../../src/compile/compile';
import { selectBackend } from '../../src/backend/select';
import { mulberry32, type Rng } from '../../src/data/random';
import { OPTIM_RUNTIME } from '../../src/export/pytorch/optimRuntime';
import { pytorchModelCode } from '../../src/export/pytorch/modelCode';
import { findPython } from '../../src/run/python';
import { ConstantRMSProp, makeOptimizer, minimizeStep } from '../../src/train/optimizers';
import { logitsLayer, lossFn, metricSum, predictForLoss } from '../../src/train/scoring';
import { chainGraph } from '../helpers/samples';

let python: string | undefined;
let skipReason: string | undefined;
let dir: string;

before(async () => {
  tf.env().set('PROD', true);
  await selectBackend({ prefer: 'cpu' });
  const found = await findPython();
  if (found.ok) python = found.command;
  else skipReason = found.message;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-pytorch-optim-'));
  fs.writeFileSync(path.join(dir, 'optim.py'), ['import torch', '', '', ...OPTIM_RUNTIME, ''].join('\n'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The largest differences each part measured, printed at the end (the report quotes them). */
const measured: Record<string, number> = {};
const note = (key: string, value: number): void => {
  measured[key] = Math.max(measured[key] ?? 0, value);
};
after(() => {
  if (Object.keys(measured).length) console.log(`largest differences measured: ${JSON.stringify(measured, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toExponential(2)) : v))}`);
});

// ---- exchanging float32 arrays with Python, exactly (base64 of little-endian float32) ----

interface Packed {
  readonly b64: string;
  readonly shape: number[];
}
const pack = (values: Float32Array | ArrayLike<number>, shape: readonly number[]): Packed => {
  const f = values instanceof Float32Array ? values : Float32Array.from(values);
  return { b64: Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64'), shape: [...shape] };
};
const unpack = (b64: string): Float32Array => {
  const b = Buffer.from(b64, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

const PY_HEADER = String.raw`
import base64, io, json, sys
import numpy as np
import torch

sys.path.insert(0, sys.argv[1])
import optim  # noqa: E402  (OPTIM_RUNTIME)

def tensor(packed):
    a = np.frombuffer(base64.b64decode(packed["b64"]), dtype="<f4").copy()
    return torch.from_numpy(a).reshape(packed["shape"])

def packed(t):
    return base64.b64encode(np.ascontiguousarray(t.detach().cpu().numpy(), dtype="<f4").tobytes()).decode("ascii")

def load(buf):
    """torch.load as torch 2.6+ does by default (weights only); torch 1.x's weights-only unpickler cannot read floats."""
    if int(torch.__version__.split(".")[0]) >= 2:
        return torch.load(buf, weights_only=True)
    return torch.load(buf)

case = json.load(open(sys.argv[2]))
`;

function runPython(script: string, input: unknown): unknown {
  const caseFile = path.join(dir, `case-${Math.random().toString(36).slice(2)}.json`);
  const scriptFile = `${caseFile}.py`;
  fs.writeFileSync(caseFile, JSON.stringify(input));
  fs.writeFileSync(scriptFile, PY_HEADER + script);
  const stdout = execFileSync(python!, [scriptFile, dir, caseFile], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

// ---- comparing ----

/** max |a - b| over max(|b|, floor): the difference relative to the array's scale. */
function maxRelative(a: Float32Array, b: Float32Array, floor = 1e-30): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let scale = floor;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) !== Number.isNaN(b[i]!)) return Infinity;
    if (!Number.isNaN(a[i]!)) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  }
  return d / scale;
}

/**
 * Element by element, how far a is from b in units of the tolerance rtol |b| + atol (≤ 1 passes),
 * and the largest |a - b| / |b| among values above atol (for the record).
 */
function elementwise(a: Float32Array, b: Float32Array, rtol: number, atol: number): { excess: number; relative: number } {
  assert.equal(a.length, b.length, 'lengths differ');
  let excess = 0;
  let relative = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return { excess: Infinity, relative: Infinity };
    excess = Math.max(excess, d / (rtol * Math.abs(b[i]!) + atol));
    if (Math.abs(b[i]!) > atol) relative = Math.max(relative, d / Math.abs(b[i]!));
  }
  return { excess, relative };
}

/** How many values differ in their bits (NaN equal to NaN). */
function bitDifferences(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!(a[i] === b[i] || (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)))) n++;
  return n;
}

function uniform(rng: Rng, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());
}

// ---------------------------------------------------------------------------------------------
// 1. The classes' defaults and make_optimizer

describe('PyTorch optimisers: defaults', () => {
  it("the Keras defaults and learning rates of Latent Studio's optimisers, chosen by make_optimizer", (t) => {
    if (!python) return t.skip(skipReason);
    const got = runPython(
      String.raw`
import inspect
out = {}
for name in ["adadelta", "adam", "rmsprop", "sgd"]:
    p = torch.nn.Parameter(torch.zeros(2))
    opt = optim.make_optimizer(name, [p], 0.125)
    sig = inspect.signature(type(opt).__init__)
    out[name] = {"class": type(opt).__name__, "lr": opt.param_groups[0]["lr"],
                 "defaults": {k: v.default for k, v in sig.parameters.items() if v.default is not inspect.Parameter.empty},
                 "noLr": optim.make_optimizer(name, [p]).param_groups[0]["lr"]}
try:
    optim.make_optimizer("adagrad", [torch.nn.Parameter(torch.zeros(1))], 0.1)
    out["unknown"] = "accepted"
except ValueError as e:
    out["unknown"] = str(e)
print(json.dumps(out))
`,
      {},
    ) as Record<string, { class: string; lr: number; defaults: Record<string, number | boolean>; noLr: number }> & { unknown: string };
    assert.deepEqual(
      Object.fromEntries(OPTIMIZERS.map((n) => [n, { class: got[n]!.class, defaults: got[n]!.defaults }])),
      {
        adadelta: { class: 'KerasAdadelta', defaults: { lr: 1.0, rho: 0.95, eps: 1e-7 } },
        adam: { class: 'KerasAdam', defaults: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-7 } },
        rmsprop: { class: 'KerasRMSprop', defaults: { lr: 1e-3, rho: 0.9, momentum: 0, eps: 1e-7, centered: false } },
        sgd: { class: 'KerasSGD', defaults: { lr: 0.01 } },
      },
    );
    for (const n of OPTIMIZERS) {
      assert.equal(got[n]!.lr, 0.125, `${n}: make_optimizer passes the learning rate`);
      assert.equal(got[n]!.noLr, DEFAULT_LEARNING_RATE[n], `${n}: the default learning rate is Latent Studio's`);
    }
    assert.match(got.unknown, /unknown optimizer 'adagrad'/);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Update rules: the same gradients into both

interface RuleCase {
  readonly label: string;
  /** tfjs' optimizer (ours, from src/train/optimizers.ts). */
  readonly tfjs: () => tf.Optimizer;
  /** Python: the class in optim.py and its keyword arguments. */
  readonly cls: string;
  readonly kwargs: Record<string, number | boolean>;
  /** Gradients without zeros or tiny values (centered RMSprop takes the square root of a variance less eps). */
  readonly noTiny?: boolean;
}

const RULE_CASES: RuleCase[] = [
  ...OPTIMIZERS.map(
    (name): RuleCase => ({
      label: `${name} (make_optimizer's settings)`,
      tfjs: () => makeOptimizer(name, DEFAULT_LEARNING_RATE[name]),
      cls: { adadelta: 'KerasAdadelta', adam: 'KerasAdam', rmsprop: 'KerasRMSprop', sgd: 'KerasSGD' }[name],
      kwargs: { lr: DEFAULT_LEARNING_RATE[name] },
    }),
  ),
  { label: 'adam, lr 0.05', tfjs: () => makeOptimizer('adam', 0.05), cls: 'KerasAdam', kwargs: { lr: 0.05 } },
  { label: 'adadelta, lr 0.3', tfjs: () => makeOptimizer('adadelta', 0.3), cls: 'KerasAdadelta', kwargs: { lr: 0.3 } },
  {
    label: 'rmsprop with momentum 0.5, centered',
    tfjs: () => new ConstantRMSProp(0.01, 0.9, 0.5, 1e-7, true),
    cls: 'KerasRMSprop',
    kwargs: { lr: 0.01, momentum: 0.5, centered: true },
    noTiny: true,
  },
  { label: 'rmsprop with momentum 0.9', tfjs: () => new ConstantRMSProp(0.01, 0.9, 0.9, 1e-7, false), cls: 'KerasRMSprop', kwargs: { lr: 0.01, momentum: 0.9 } },
];

/** A conv kernel, a bias, a dense kernel and a big one (over the host loop's 16384 values: tfjs' ops path). */
const RULE_SHAPES = [[3, 3, 2, 4], [4], [6, 5], [130, 130]];
const RULE_STEPS = 3;

function gradients(rng: Rng, n: number, noTiny: boolean): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const u = rng() * 2 - 1;
    if (noTiny) return (Math.sign(u) || 1) * (0.05 + 3 * Math.abs(u));
    switch (i % 7) {
      case 0:
        return 0; // no gradient: the accumulators only decay
      case 1:
        return u * 1e-6; // below sqrt(eps): eps dominates
      case 2:
        return u * 50;
      default:
        return u;
    }
  });
}

interface RuleResult {
  steps: string[][];
  state: Record<string, string>[];
  resumed: string[];
  stateKeys: string[];
}

const RULES_PY = String.raw`
def fresh():
    return [tensor(w).clone().requires_grad_() for w in case["weights"]]

def run(params, opt, steps):
    out = []
    for s in steps:
        for p, g in zip(params, case["grads"][s]):
            p.grad = tensor(g)
        opt.step()
        out.append([packed(p) for p in params])
    return out

cls = getattr(optim, case["cls"])
params = fresh()
opt = cls(params, **case["kwargs"])
steps = run(params, opt, range(len(case["grads"])))
state = [{k: packed(v) for k, v in opt.state[p].items()} for p in params]

# A checkpoint after all but the last step, through torch.save / torch.load, into a fresh optimiser.
params2 = fresh()
opt2 = cls(params2, **case["kwargs"])
run(params2, opt2, range(len(case["grads"]) - 1))
buf = io.BytesIO()
torch.save(opt2.state_dict(), buf)
buf.seek(0)
params3 = [p.detach().clone().requires_grad_() for p in params2]
opt3 = cls(params3, **case["kwargs"])
opt3.load_state_dict(load(buf))
resumed = run(params3, opt3, [len(case["grads"]) - 1])[0]
print(json.dumps({"steps": steps, "state": state, "resumed": resumed, "stateKeys": sorted(opt.state[params[0]].keys())}))
`;

describe('PyTorch optimisers: the update rules of src/train/optimizers.ts', () => {
  for (const c of RULE_CASES) {
    it(`${c.label}: bit-identical weights after each of ${RULE_STEPS} steps and accumulators, from the same gradients; a loaded state_dict resumes identically`, async (t) => {
      if (!python) return t.skip(skipReason);
      const rng = mulberry32(17);
      const weights = RULE_SHAPES.map((s) => uniform(rng, s.reduce((a, b) => a * b, 1), -0.5, 0.5));
      const grads = Array.from({ length: RULE_STEPS }, () => RULE_SHAPES.map((_, i) => gradients(rng, weights[i]!.length, c.noTiny === true)));
      // tfjs
      const prefix = `rules-${c.label.replace(/\W+/g, '_')}`;
      const vars = weights.map((w, i) => tf.variable(tf.tensor(w, RULE_SHAPES[i]), true, `${prefix}/${i}`));
      const optimizer = c.tfjs();
      const tfSteps: Float32Array[][] = [];
      for (let s = 0; s < RULE_STEPS; s++) {
        const g = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(grads[s]![i]!, RULE_SHAPES[i])]));
        optimizer.applyGradients(g);
        tf.dispose(Object.values(g));
        tfSteps.push(vars.map((v) => v.dataSync() as Float32Array));
      }
      const slots = new Map((await optimizer.getWeights()).map((w) => [w.name, w.tensor.dataSync() as Float32Array]));
      const acc = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
      const accBeta = acc.accBeta1 ? [acc.accBeta1.dataSync()[0]!, acc.accBeta2!.dataSync()[0]!] : undefined;
      optimizer.dispose();
      tf.dispose(vars);
      // PyTorch
      const got = runPython(RULES_PY, {
        cls: c.cls,
        kwargs: c.kwargs,
        weights: weights.map((w, i) => pack(w, RULE_SHAPES[i]!)),
        grads: grads.map((step) => step.map((g, i) => pack(g, RULE_SHAPES[i]!))),
      }) as RuleResult;
      let changed = 0;
      tfSteps.forEach((step, s) =>
        step.forEach((want, i) => {
          const mine = unpack(got.steps[s]![i]!);
          const bits = bitDifferences(mine, want);
          note('update rules: weights (relative)', maxRelative(mine, want));
          assert.equal(bits, 0, `step ${s + 1}, weight ${RULE_SHAPES[i]!.join('x')}: ${bits} values differ (largest by ${maxRelative(mine, want).toExponential(2)} relative)`);
          const before = s === 0 ? weights[i]! : tfSteps[s - 1]![i]!;
          changed += want.filter((v, j) => v !== before[j]).length;
        }),
      );
      assert.ok(changed > 0, 'the steps moved the weights');
      // The accumulators, which tfjs names <variable>/<slot> (the same slot names in PyTorch's state).
      const slotNames = [...slots.keys()].filter((k) => k.startsWith(`${prefix}/0/`)).map((k) => k.slice(`${prefix}/0/`.length));
      assert.deepEqual(got.stateKeys, [...slotNames, ...(accBeta ? ['acc_beta1', 'acc_beta2'] : [])].sort(), "PyTorch's state holds tfjs' accumulators");
      got.state.forEach((state, i) => {
        for (const name of slotNames) {
          const mine = unpack(state[name]!);
          const want = slots.get(`${prefix}/${i}/${name}`)!;
          assert.equal(bitDifferences(mine, want), 0, `${name} of weight ${i} differs by ${maxRelative(mine, want).toExponential(2)} relative`);
        }
        if (accBeta) {
          assert.deepEqual([unpack(state['acc_beta1']!)[0], unpack(state['acc_beta2']!)[0]], accBeta, `Adam's beta powers of weight ${i} are tfjs' (float32, by repeated multiplication)`);
        }
      });
      got.resumed.forEach((w, i) => assert.equal(bitDifferences(unpack(w), tfSteps.at(-1)![i]!), 0, `resumed from a state_dict: weight ${i} differs from the uninterrupted run`));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. Losses and metrics: values and gradients

interface LossCase {
  readonly label: string;
  readonly loss: LossName;
  readonly shape: number[];
  readonly yTrue: Float32Array;
  readonly yPred: Float32Array;
  /** Categorical cross-entropy from logits: yPred is softmax(logits). */
  readonly logits?: Float32Array;
}

/** Probabilities with the edge cases of the clipping and the kinks: exactly 0, 1, 0.5, at and beyond 1e-7 and 1 - 1e-7. */
const EDGES = [0, 1, 0.5, 1e-7, Math.fround(1e-7), 1e-8, 1 - 1e-7, Math.fround(1 - 1e-7), 1 - 1e-8, 0.25];

function probabilities(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? EDGES[(i / 3) % EDGES.length]! : rng()));
}

function oneHotRows(rng: Rng, rows: number, classes: number): Float32Array {
  const y = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) y[r * classes + Math.floor(rng() * classes)] = 1;
  return y;
}

function softmaxRows(logits: Float32Array, classes: number): Float32Array {
  return tf.tidy(() => tf.softmax(tf.tensor2d(logits, [logits.length / classes, classes])).dataSync() as Float32Array);
}

/**
 * The exact gradient of the mean binary cross-entropy with respect to the probabilities, in float64:
 * (p - y) / (p (1 - p)) / n with p clipped to [1e-7, 1 - 1e-7] (float32 bounds, as both engines
 * clip), 0 where the clip holds p (tfjs lets the bounds themselves through).
 */
function bceGradient64(yTrue: Float32Array, yPred: Float32Array): Float64Array {
  const lo = Math.fround(1e-7);
  const hi = Math.fround(1 - 1e-7);
  return Float64Array.from(yPred, (p, j) => (p < lo || p > hi ? 0 : (p - yTrue[j]!) / (p * (1 - p)) / yPred.length));
}

function lossCases(): LossCase[] {
  const rng = mulberry32(23);
  const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);
  const cases: LossCase[] = [];
  for (const shape of [[8, 15], [2, 3, 3, 5]]) {
    const n = size(shape);
    const binary = Float32Array.from({ length: n }, () => (rng() < 0.5 ? 0 : 1));
    const soft = uniform(rng, n, 0, 1);
    cases.push({ label: `binaryCrossentropy ${shape.join('x')}, 0/1 targets`, loss: 'binaryCrossentropy', shape, yTrue: binary, yPred: probabilities(rng, n) });
    cases.push({ label: `binaryCrossentropy ${shape.join('x')}, soft targets`, loss: 'binaryCrossentropy', shape, yTrue: soft, yPred: probabilities(rng, n) });
    cases.push({ label: `meanSquaredError ${shape.join('x')}`, loss: 'meanSquaredError', shape, yTrue: soft, yPred: uniform(rng, n, -2, 3) });
  }
  // Categorical cross-entropy from logits (a softmax Dense's): large logits too, where only the stable form is finite.
  const logits = uniform(rng, 7 * 4, -6, 6);
  logits.set([60, -40, 0, 1, -80, 0, 0, 0], 0);
  cases.push({ label: 'categoricalCrossentropy 7x4 from logits', loss: 'categoricalCrossentropy', shape: [7, 4], yTrue: oneHotRows(rng, 7, 4), yPred: softmaxRows(logits, 4), logits });
  // From probabilities: a one-hot row, a true class at probability 0 (clipped), rows not summing to 1, soft targets.
  const probs = uniform(rng, 7 * 4, 0, 1);
  probs.set([1, 0, 0, 0, 0, 1, 0, 0, 0.5, 0.5, 0.5, 0.5], 0);
  const targets = oneHotRows(rng, 7, 4);
  targets.set([1, 0, 0, 0, 1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25], 0);
  cases.push({ label: 'categoricalCrossentropy 7x4 from probabilities', loss: 'categoricalCrossentropy', shape: [7, 4], yTrue: targets, yPred: probs });
  const imageProbs = uniform(rng, 2 * 3 * 3 * 4, 0, 1);
  cases.push({ label: 'categoricalCrossentropy 2x3x3x4 from probabilities (channels)', loss: 'categoricalCrossentropy', shape: [2, 3, 3, 4], yTrue: uniform(rng, 2 * 3 * 3 * 4, 0, 1), yPred: imageProbs });
  return cases;
}

interface MetricCase {
  readonly label: string;
  readonly shape: number[];
  readonly yTrue: Float32Array;
  readonly yPred: Float32Array;
}

function metricCases(): MetricCase[] {
  const rng = mulberry32(29);
  // Ties: rows whose largest value comes more than once; both engines take the first index (2 right of 3).
  const ties = Float32Array.from([0.5, 0.9, 0.9, 0.1, 0.7, 0.2, 0.7, 0.7, 0.3, 0.3, 0.3, 0.3]);
  const tiesTrue = Float32Array.from([0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
  return [
    { label: '3x4, ties', shape: [3, 4], yTrue: tiesTrue, yPred: ties },
    { label: '3x4x4x3 images', shape: [3, 4, 4, 3], yTrue: uniform(rng, 3 * 16 * 3, 0, 1), yPred: uniform(rng, 3 * 16 * 3, -0.5, 1.5) },
    { label: '9x6 one-hot, some right', shape: [9, 6], yTrue: oneHotRows(rng, 9, 6), yPred: uniform(rng, 54, 0, 1) },
  ];
}

const LOSSES_PY = String.raw`
out = {"losses": [], "metrics": []}
for c in case["losses"]:
    y_true = tensor(c["yTrue"])
    y_pred = tensor(c["yPred"]).requires_grad_()
    logits = tensor(c["logits"]).requires_grad_() if "logits" in c else None
    if logits is not None:
        y_in = torch.softmax(logits, -1)
    else:
        y_in = y_pred
    value = optim.loss_fn(c["loss"], y_true, y_in, logits)
    value.backward()
    g = logits.grad if logits is not None else y_pred.grad
    out["losses"].append({"value": packed(value.reshape(1)), "grad": packed(g), "dtype": str(value.dtype), "dim": value.dim()})
for c in case["metrics"]:
    y_true, y_pred = tensor(c["yTrue"]), tensor(c["yPred"])
    r = {}
    for m in ["accuracy", "meanSquaredError", "meanAbsoluteError"]:
        v = optim.metric_sum(m, y_true, y_pred)
        r[m] = {"value": packed(v.reshape(1)), "dtype": str(v.dtype), "dim": v.dim()}
    out["metrics"].append(r)
print(json.dumps(out))
`;

describe('PyTorch losses and metrics: lossFn and metricSum of src/train/scoring.ts', () => {
  it('every loss: the same value and gradient (clipped probabilities at exactly 0, 1 and 0.5, logits for categorical cross-entropy)', (t) => {
    if (!python) return t.skip(skipReason);
    const cases = lossCases();
    const want = cases.map((c) =>
      tf.tidy(() => {
        const yTrue = tf.tensor(c.yTrue, c.shape);
        const input = tf.tensor(c.logits ?? c.yPred, c.shape);
        // The gradient with respect to what the model gives: the logits where the loss takes them, else the probabilities.
        const f = (x: tf.Tensor): tf.Scalar => (c.logits ? lossFn(c.loss, yTrue, tf.softmax(x, -1), x) : lossFn(c.loss, yTrue, x));
        const { value, grad } = tf.valueAndGrad(f)(input);
        return { value: value.dataSync()[0]!, grad: grad.dataSync() as Float32Array };
      }),
    );
    const got = runPython(LOSSES_PY, {
      losses: cases.map((c) => ({ loss: c.loss, yTrue: pack(c.yTrue, c.shape), yPred: pack(c.yPred, c.shape), ...(c.logits ? { logits: pack(c.logits, c.shape) } : {}) })),
      metrics: [],
    }) as { losses: { value: string; grad: string; dtype: string; dim: number }[] };
    cases.forEach((c, i) => {
      const g = got.losses[i]!;
      assert.equal(g.dtype, 'torch.float32', `${c.label}: a float32 loss`);
      assert.equal(g.dim, 0, `${c.label}: a 0-dim loss`);
      const value = unpack(g.value)[0]!;
      assert.ok(Number.isFinite(want[i]!.value), `${c.label}: tfjs' loss is finite`);
      const rel = Math.abs(value - want[i]!.value) / Math.abs(want[i]!.value);
      note('losses: value (relative)', rel);
      assert.ok(rel <= 1e-6, `${c.label}: loss ${value} vs tfjs ${want[i]!.value} (${rel.toExponential(2)} relative)`);
      // Each value of the gradient (they span 1e7 / n at clipped probabilities to 0): within 1e-5
      // of itself, or 1e-6 / n (a mean's gradient is of the order of 1 / n) where it cancels to 0.
      const grad = unpack(g.grad);
      const tfGrad = want[i]!.grad;
      const atol = 1e-6 / grad.length;
      if (c.loss === 'binaryCrossentropy') {
        // train.py differentiates binary cross-entropy in closed form, (p - y) / (p (1 - p)) / n (one
        // autograd node instead of tfjs' eight ops). tfjs' own float32 gradient cancels where p sits at
        // the clip (1 - 1e-7 with y = 1: up to 6 % off). So each value is within the tolerance of tfjs'
        // or, where it is not, closer to the exact (float64) gradient than tfjs' is; and within the
        // tolerance of the exact gradient everywhere.
        const exact = bceGradient64(c.yTrue, c.yPred);
        let fromTfjs = 0;
        for (let j = 0; j < grad.length; j++) {
          const tol = 1e-5 * Math.abs(exact[j]!) + atol;
          assert.ok(Math.abs(grad[j]! - exact[j]!) <= tol, `${c.label}: value ${j} (p ${c.yPred[j]}, y ${c.yTrue[j]}): gradient ${grad[j]} vs the exact ${exact[j]}`);
          const d = Math.abs(grad[j]! - tfGrad[j]!);
          fromTfjs = Math.max(fromTfjs, d / (1e-5 * Math.abs(tfGrad[j]!) + atol));
          if (d > 1e-5 * Math.abs(tfGrad[j]!) + atol) {
            assert.ok(Math.abs(grad[j]! - exact[j]!) < Math.abs(tfGrad[j]! - exact[j]!), `${c.label}: value ${j} (p ${c.yPred[j]}, y ${c.yTrue[j]}): gradient ${grad[j]} is farther from the exact ${exact[j]} than tfjs' ${tfGrad[j]}`);
          }
        }
        note('losses: BCE gradient from tfjs where tfjs rounds off (of the tolerance)', fromTfjs);
      } else {
        const { excess, relative } = elementwise(grad, tfGrad, 1e-5, atol);
        note('losses: gradient (elementwise relative)', relative);
        note('losses: gradient (of the tolerance)', excess);
        assert.ok(excess <= 1, `${c.label}: gradients differ by ${excess.toExponential(2)} of the tolerance (${relative.toExponential(2)} relative)`);
      }
      // Where tfjs' gradient is zero (clipped probabilities), so is PyTorch's, and the other way round.
      const zeros = (a: Float32Array): number[] => [...a.keys()].filter((j) => a[j] === 0);
      assert.deepEqual(zeros(grad), zeros(want[i]!.grad), `${c.label}: the gradient vanishes at the same values`);
    });
  });

  it('every metric: the same per-batch sums (argmax ties to the first index)', (t) => {
    if (!python) return t.skip(skipReason);
    const cases = metricCases();
    const metrics: MetricName[] = ['accuracy', 'meanSquaredError', 'meanAbsoluteError'];
    const want = cases.map((c) => tf.tidy(() => Object.fromEntries(metrics.map((m) => [m, metricSum(m, tf.tensor(c.yTrue, c.shape), tf.tensor(c.yPred, c.shape)).dataSync()[0]!]))));
    const got = runPython(LOSSES_PY, { losses: [], metrics: cases.map((c) => ({ yTrue: pack(c.yTrue, c.shape), yPred: pack(c.yPred, c.shape) })) }) as {
      metrics: Record<MetricName, { value: string; dtype: string; dim: number }>[];
    };
    cases.forEach((c, i) => {
      for (const m of metrics) {
        const g = got.metrics[i]![m];
        assert.equal(g.dtype, 'torch.float32', `${c.label} ${m}: float32`);
        assert.equal(g.dim, 0, `${c.label} ${m}: 0-dim`);
        const value = unpack(g.value)[0]!;
        const w = want[i]![m]!;
        if (m === 'accuracy') assert.equal(value, w, `${c.label}: accuracy sum ${value} vs tfjs ${w}`);
        else {
          const rel = Math.abs(value - w) / Math.abs(w);
          note('metrics: value (relative)', rel);
          assert.ok(rel <= 1e-6, `${c.label} ${m}: ${value} vs tfjs ${w}`);
        }
      }
    });
    assert.equal(want[0]!['accuracy'], 2, 'tfjs takes the first of tied maxima');
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Training steps: model.py and the optimisers against tfjs' trainer

interface TrainCase {
  readonly label: string;
  readonly doc: Record<string, unknown>;
  readonly loss: LossName;
  readonly target: 'input' | 'labels';
  readonly classes?: number;
}

const TRAIN_CASES: TrainCase[] = [
  {
    label: 'dense autoencoder, binary cross-entropy',
    doc: chainGraph(
      [
        { id: 'd1', type: 'Dense', params: { units: 8, activation: 'relu' } },
        { id: 'd2', type: 'Dense', params: { units: 12, activation: 'sigmoid' } },
      ],
      { input: [12] },
    ),
    loss: 'binaryCrossentropy',
    target: 'input',
  },
  {
    label: 'conv autoencoder with batch norm, mean squared error',
    doc: chainGraph(
      [
        { id: 'c1', type: 'Conv2D', params: { filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' } },
        { id: 'bn', type: 'BatchNormalization' },
        { id: 't1', type: 'Conv2DTranspose', params: { filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid' } },
      ],
      { input: [6, 6, 2] },
    ),
    loss: 'meanSquaredError',
    target: 'input',
  },
  {
    label: 'conv autoencoder with a softmax over channels, categorical cross-entropy from probabilities',
    doc: chainGraph(
      [
        { id: 'c1', type: 'Conv2D', params: { filters: 3, kernelSize: 3, padding: 'same', activation: 'elu' } },
        { id: 'c2', type: 'Conv2D', params: { filters: 3, kernelSize: 1, activation: 'softmax' } },
      ],
      { input: [4, 4, 3] },
    ),
    loss: 'categoricalCrossentropy',
    target: 'input',
  },
  {
    label: 'dense classifier, categorical cross-entropy from logits',
    doc: chainGraph(
      [
        { id: 'd1', type: 'Dense', params: { units: 8, activation: 'tanh' } },
        { id: 'd2', type: 'Dense', params: { units: 3, activation: 'softmax' } },
      ],
      { input: [10], target: 'labels' },
    ),
    loss: 'categoricalCrossentropy',
    target: 'labels',
    classes: 3,
  },
];

const TRAIN_STEPS = 3;
const TRAIN_BATCH = 16;
const TRAIN_METRICS: MetricName[] = ['accuracy', 'meanSquaredError', 'meanAbsoluteError'];

interface Weight {
  readonly name: string;
  readonly shape: number[];
  readonly values: Float32Array;
}

function layerWeights(compiled: ReturnType<typeof compileGraph>): Weight[] {
  const out: Weight[] = [];
  for (const layers of compiled.layersByNode.values()) {
    for (const layer of layers) layer.getWeights().forEach((w, i) => out.push({ name: `layer/${layer.name}/${i}`, shape: [...w.shape], values: w.dataSync() as Float32Array }));
  }
  return out;
}

/** Random weights for every layer (biases and batch-norm parameters too, none a trivial 0 or 1), set into the tfjs layers. */
function randomWeights(compiled: ReturnType<typeof compileGraph>, seed: number): Weight[] {
  const rng = mulberry32(seed);
  const weights: Weight[] = [];
  for (const layers of compiled.layersByNode.values()) {
    for (const layer of layers) {
      layer.getWeights().forEach((w, i) => {
        const kind = layer.weights[i]!.originalName;
        const fanIn = Math.max(1, w.shape.slice(0, -1).reduce((a, b) => a * b, 1));
        const values = Float32Array.from({ length: w.size }, () => {
          const u = rng();
          if (/moving_variance|gamma/.test(kind)) return 0.5 + u;
          if (/bias|beta|moving_mean/.test(kind)) return (u - 0.5) * 0.4;
          return (u * 2 - 1) * Math.sqrt(3 / fanIn);
        });
        weights.push({ name: `layer/${layer.name}/${i}`, shape: [...w.shape], values });
      });
    }
  }
  setWeights(compiled, weights);
  return weights;
}

function setWeights(compiled: ReturnType<typeof compileGraph>, weights: readonly Weight[]): void {
  for (const layers of compiled.layersByNode.values()) {
    for (const layer of layers) {
      const values = layer.getWeights().map((_, i) => {
        const w = weights.find((x) => x.name === `layer/${layer.name}/${i}`)!;
        return tf.tensor(w.values, w.shape);
      });
      if (values.length) layer.setWeights(values);
      tf.dispose(values);
    }
  }
}

function writeManifest(file: string, weights: readonly Weight[]): void {
  const bin = path.basename(file).replace(/\.json$/, '.bin');
  const all = new Float32Array(weights.reduce((a, w) => a + w.values.length, 0));
  let at = 0;
  for (const w of weights) {
    all.set(w.values, at);
    at += w.values.length;
  }
  fs.writeFileSync(path.join(path.dirname(file), bin), Buffer.from(all.buffer));
  fs.writeFileSync(file, JSON.stringify({ weightsFile: bin, weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })) }));
}

function readManifest(file: string): Map<string, Float32Array> {
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { weightsFile: string; weights: { name: string; shape: number[] }[] };
  const b = fs.readFileSync(path.join(path.dirname(file), m.weightsFile));
  const all = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const out = new Map<string, Float32Array>();
  let at = 0;
  for (const w of m.weights) {
    const n = w.shape.reduce((a, c) => a * c, 1);
    out.set(w.name, all.slice(at, at + n));
    at += n;
  }
  return out;
}

const TRAIN_PY = String.raw`
import importlib.util
spec = importlib.util.spec_from_file_location("model", case["modelPy"])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
models = m.build_models(seed=0)
x = tensor(case["x"])
y = tensor(case["y"]) if "y" in case else x
results = {}
for run in case["runs"]:
    m.load_tfjs_weights(models, case["weights"])
    model = models[case["model"]]
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = optim.make_optimizer(run["optimizer"], params, run["lr"])
    losses, metrics = [], []
    for _ in range(case["steps"]):
        if case["headLogits"]:
            logits = model(x, logits=True)
            out = torch.softmax(logits, -1)
        else:
            out, logits = model(x), None
        loss = optim.loss_fn(case["loss"], y, out, logits)
        with torch.no_grad():
            metrics.append([float(optim.metric_sum(name, y, out)) for name in case["metrics"]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    m.save_tfjs_weights(models, run["saveTo"])
    results[run["optimizer"]] = {"losses": losses, "metrics": metrics}
print(json.dumps(results))
`;

describe('PyTorch training steps against the tfjs trainer (model.py, make_optimizer, loss_fn, metric_sum)', () => {
  for (const c of TRAIN_CASES) {
    it(`${c.label}: ${TRAIN_STEPS} steps of each optimiser give the same losses, metrics and weights`, (t) => {
      if (!python) return t.skip(skipReason);
      const analysis = analyzeGraph(c.doc);
      assert.ok(analysis.ok, analysis.problems.map((p) => p.message).join('; '));
      const caseDir = fs.mkdtempSync(path.join(dir, 'train-'));
      const modelPy = path.join(caseDir, 'model.py');
      fs.writeFileSync(modelPy, pytorchModelCode(analysis, { graphFile: 'test.latent.json', version: 'test' }));
      const compiled = compileGraph(analysis, { seed: 3 });
      try {
        const model = compiled.modelForOutput('out');
        const modelName = [...compiled.models].find(([, m]) => m === model)![0];
        const start = randomWeights(compiled, 11);
        writeManifest(path.join(caseDir, 'weights.json'), start);
        const rng = mulberry32(5);
        const inShape = [TRAIN_BATCH, ...(model.inputs[0]!.shape.slice(1) as number[])];
        // Inputs in [0, 1] with exact 0s and 1s (as images have).
        const x = Float32Array.from({ length: inShape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 5 === 0 ? i % 2 : rng()));
        const y = c.target === 'labels' ? oneHotRows(rng, TRAIN_BATCH, c.classes!) : undefined;
        const headLogits = logitsLayer(c.loss, model.outputs[0]!.sourceLayer) !== undefined;
        assert.equal(headLogits, c.label.includes('from logits'), 'the loss is taken from logits exactly where expected');
        // tfjs, as fit.ts steps: predictForLoss, lossFn (+ metricSum), minimizeStep with makeOptimizer.
        const want = new Map<OptimizerName, { losses: number[]; metrics: number[][]; weights: Weight[] }>();
        for (const name of OPTIMIZERS) {
          setWeights(compiled, start);
          const optimizer = makeOptimizer(name, DEFAULT_LEARNING_RATE[name]);
          const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
          const xs = tf.tensor(x, inShape);
          const ys = y ? tf.tensor2d(y, [TRAIN_BATCH, c.classes!]) : xs;
          const losses: number[] = [];
          const metrics: number[][] = [];
          for (let s = 0; s < TRAIN_STEPS; s++) {
            const loss = tf.tidy(() =>
              minimizeStep(
                optimizer,
                () => {
                  const prediction = predictForLoss(model, xs, true, c.loss);
                  metrics.push(TRAIN_METRICS.map((m) => metricSum(m, ys, prediction.output).dataSync()[0]!));
                  return lossFn(c.loss, ys, prediction.output, prediction.logits);
                },
                trainable,
              ),
            );
            losses.push(loss.dataSync()[0]!);
            loss.dispose();
          }
          want.set(name, { losses, metrics, weights: layerWeights(compiled) });
          tf.dispose([xs, ys]);
          optimizer.dispose();
        }
        const got = runPython(TRAIN_PY, {
          modelPy,
          weights: path.join(caseDir, 'weights.json'),
          model: modelName,
          headLogits,
          loss: c.loss,
          metrics: TRAIN_METRICS,
          steps: TRAIN_STEPS,
          x: pack(x, inShape),
          ...(y ? { y: pack(y, [TRAIN_BATCH, c.classes!]) } : {}),
          runs: OPTIMIZERS.map((name) => ({ optimizer: name, lr: DEFAULT_LEARNING_RATE[name], saveTo: path.join(caseDir, `${name}.json`) })),
        }) as Record<OptimizerName, { losses: number[]; metrics: number[][] }>;
        for (const name of OPTIMIZERS) {
          const w = want.get(name)!;
          const g = got[name];
          w.losses.forEach((l, s) => {
            const rel = Math.abs(g.losses[s]! - l) / Math.abs(l);
            note('training: loss (relative)', rel);
            assert.ok(rel <= 1e-6, `${name}, step ${s + 1}: loss ${g.losses[s]} vs tfjs ${l}`);
          });
          w.metrics.forEach((ms, s) =>
            ms.forEach((v, k) => {
              const rel = Math.abs(g.metrics[s]![k]! - v) / Math.max(Math.abs(v), 1e-30);
              if (TRAIN_METRICS[k] !== 'accuracy') note('training: metric (relative)', rel);
              assert.ok(TRAIN_METRICS[k] === 'accuracy' ? g.metrics[s]![k] === v : rel <= 1e-5, `${name}, step ${s + 1}: ${TRAIN_METRICS[k]} ${g.metrics[s]![k]} vs tfjs ${v}`);
            }),
          );
          const saved = readManifest(path.join(caseDir, `${name}.json`));
          assert.deepEqual([...saved.keys()].sort(), w.weights.map((e) => e.name).sort(), `${name}: the same weights`);
          let moved = 0;
          for (const e of w.weights) {
            const mine = saved.get(e.name)!;
            const before = start.find((s) => s.name === e.name)!.values;
            const rel = maxRelative(mine, e.values, 1);
            note(`training: weights (relative to the largest, at least 1; ${name})`, rel);
            assert.ok(rel <= 1e-6, `${name}, ${e.name}: weights differ by ${rel.toExponential(2)} relative`);
            // What the steps changed, relative to how much they changed it, beyond 2 float32 ulps of the weights.
            const delta = (a: Float32Array): Float32Array => a.map((v, i) => v - before[i]!);
            const wantDelta = delta(e.values);
            if (wantDelta.every((v) => v === 0)) {
              assert.ok(delta(mine).every((v) => v === 0), `${name}, ${e.name}: tfjs left it, PyTorch moved it`);
              continue;
            }
            moved++;
            const deltaRel = maxRelative(delta(mine), wantDelta);
            note(`training: weight updates (relative to the largest; ${name})`, deltaRel);
            const ulps = 2 * 2 ** -23 * e.values.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
            const deltaScale = wantDelta.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
            assert.ok(deltaRel * deltaScale <= 1e-4 * deltaScale + ulps, `${name}, ${e.name}: the updates differ by ${deltaRel.toExponential(2)} of the largest`);
          }
          assert.ok(moved > 0, `${name}: the steps moved the weights`);
        }
      } finally {
        compiled.dispose();
      }
    });
  }
});
