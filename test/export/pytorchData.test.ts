/**
 * The data part of the generated train.py (dataRuntime.ts, written to a temporary latent_data.py)
 * against src/data, on the same files: mulberry32 and the shuffle give the same floats and swaps;
 * split_indices / split_dataset the identical index arrays; restriction to training.classes the
 * same parts; the normalisation the same statistics (bytes exactly, floats ≤ 1e-6 relative) and
 * bit-identical batches; every loader (NPZ, NPY, CSV tables and pixel CSVs, IDX, PNG folders, the
 * built-in MNIST through builtinData.ts) the same values, labels, class names and source line; and
 * bad input the same sentence.
 *
 * Needs a Python with numpy and Pillow (findPython; Debian's python3 has them); skipped with the
 * reason where there is none.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  type DataSettings,
  type Dataset,
  type Normalization,
  batchToFloat,
  computeNormalization,
  loadDataset,
  loadForInput,
  loadMnist,
  Mulberry32,
  mulberry32,
  parseDataSpec,
  resolveClasses,
  restrictSplit,
  shuffleInPlace,
  splitDataset,
  splitIndices,
} from '../../src/data/index';
import { builtinNpz, npyBytes, writeBuiltinNpz } from '../../src/export/pytorch/builtinData';
import { DATA_RUNTIME } from '../../src/export/pytorch/dataRuntime';
import { findPython } from '../../src/run/python';

let python: string | undefined;
let skipReason: string | undefined;
let dir: string;

before(async () => {
  const found = await findPython();
  if (found.ok) python = found.command;
  else skipReason = found.message;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-pytorch-data-'));
  fs.writeFileSync(path.join(dir, 'latent_data.py'), `${DATA_RUNTIME.join('\n')}\n`);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Helpers every script gets: dump(ds, prefix) writes a dataset's arrays and returns what it says about itself. */
const PRELUDE = String.raw`
import hashlib, json, os, sys
import numpy as np

def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()

def dump(ds, prefix):
    np.ascontiguousarray(ds.values).tofile(prefix + ".values")
    if ds.labels is not None:
        np.ascontiguousarray(ds.labels).tofile(prefix + ".labels")
    return {"source": ds.source, "kind": ds.kind, "shape": list(ds.values.shape), "dtype": str(ds.values.dtype), "count": ds.count,
            "height": ds.height, "width": ds.width, "channels": ds.channels, "hasLabels": ds.labels is not None,
            "numClasses": ds.num_classes, "classNames": ds.class_names, "featureNames": ds.feature_names,
            "testStart": ds.test_start, "skipped": ds.skipped, "notes": ds.notes}

def load_cases(cases, base):
    out = []
    for case in cases:
        try:
            ds = load_dataset(case["spec"], base, builtin_dir=case.get("builtinDir"), label_column=case.get("labelColumn"), shape=case.get("shape"), resize=case.get("resize"))
            out.append(dump(ds, case["prefix"]))
        except DatasetError as err:
            out.append({"error": str(err)})
    return out
`;

/** Runs `body` with latent_data imported and `args` as ARGS; returns RESULT (JSON). */
function py<T>(body: string, args: unknown = {}): T {
  const script = [`import sys`, `sys.path.insert(0, ${JSON.stringify(dir)})`, `from latent_data import *`, PRELUDE, 'ARGS = json.loads(sys.stdin.read())', 'RESULT = None', body, 'print(json.dumps(RESULT))'].join('\n');
  const out = execFileSync(python!, ['-c', script], { input: JSON.stringify(args), maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  return JSON.parse(out) as T;
}

/** it() that skips, naming why, without a usable Python. */
function pyIt(name: string, fn: (t: TestContext) => Promise<void> | void): void {
  it(name, async (t) => {
    if (!python) return t.skip(skipReason);
    await fn(t);
  });
}

const hashOf = (a: Uint8Array | Uint32Array | Float32Array): string => createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const bytesOf = (a: Uint8Array | Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const u32 = (a: ArrayLike<number>): Uint32Array => Uint32Array.from(a);

async function tsError(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
}

interface PyDataset {
  readonly error?: string;
  readonly source: string;
  readonly kind: string;
  readonly shape: number[];
  readonly dtype: string;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly hasLabels: boolean;
  readonly numClasses: number;
  readonly classNames: string[] | null;
  readonly featureNames: string[] | null;
  readonly testStart: number | null;
  readonly skipped: number;
  readonly notes: string[];
}

interface LoadCase {
  readonly spec: string;
  readonly labelColumn?: string;
  readonly shape?: number[];
  readonly resize?: 'fit' | 'crop';
  readonly builtinDir?: string;
}

/** The case as src/data loads it: loadForInput with a shape, else loadDataset. */
function tsLoad(c: LoadCase, base: string): Promise<Dataset> {
  const spec = parseDataSpec(c.spec, base);
  const settings: DataSettings = { ...(c.resize ? { resize: c.resize } : {}), ...(c.labelColumn ? { labelColumn: c.labelColumn } : {}) };
  return c.shape ? loadForInput(spec, c.shape, settings, { cacheDir: null }) : loadDataset(spec, { cacheDir: null, labelColumn: c.labelColumn });
}

/** Loads every case in Python (one process) and in TypeScript; each must be the same dataset, or fail with the same sentence. */
async function assertSameLoads(cases: readonly LoadCase[], base: string, opts: { exactValues?: boolean } = {}): Promise<void> {
  const withPrefix = cases.map((c, i) => ({ ...c, prefix: path.join(dir, `load-${process.hrtime.bigint()}-${i}`) }));
  const results = py<PyDataset[]>('RESULT = load_cases(ARGS["cases"], ARGS["base"])', { cases: withPrefix, base });
  for (const [i, c] of withPrefix.entries()) {
    const p = results[i]!;
    const what = c.spec + (c.shape ? ` as ${c.shape.join('x')}` : '');
    let ts: Dataset;
    try {
      ts = await tsLoad(c, base);
    } catch (err) {
      assert.equal(p.error, (err as Error).message, `${what}: the same sentence`);
      continue;
    }
    assert.equal(p.error, undefined, `${what}: Python failed: ${p.error}`);
    assert.equal(p.source, ts.source, `${what}: source`);
    assert.equal(p.kind, ts.kind, `${what}: kind`);
    assert.deepEqual([p.count, p.height, p.width, p.channels], [ts.count, ts.height, ts.width, ts.channels], `${what}: shape`);
    assert.deepEqual(p.shape, ts.kind === 'table' ? [ts.count, ts.channels] : [ts.count, ts.height, ts.width, ts.channels], `${what}: array shape`);
    assert.equal(p.dtype, ts.values instanceof Float32Array ? 'float32' : 'uint8', `${what}: dtype`);
    assert.equal(p.numClasses, ts.numClasses, `${what}: numClasses`);
    assert.deepEqual(p.classNames, ts.classNames ? [...ts.classNames] : null, `${what}: classNames`);
    assert.deepEqual(p.featureNames, ts.featureNames ? [...ts.featureNames] : null, `${what}: featureNames`);
    assert.equal(p.testStart, ts.testStart ?? null, `${what}: testStart`);
    assert.equal(p.skipped, ts.skipped, `${what}: skipped`);
    assert.equal(p.hasLabels, ts.labels !== null, `${what}: labels`);
    if (ts.labels) assert.ok(fs.readFileSync(`${c.prefix}.labels`).equals(Buffer.from(ts.labels)), `${what}: the same labels`);
    const values = fs.readFileSync(`${c.prefix}.values`);
    const mine = bytesOf(ts.values as Uint8Array | Float32Array);
    if (opts.exactValues === false) {
      const diff = mine.reduce((s, v, k) => s + Math.abs(v - values[k]!), 0) / mine.length;
      assert.ok(values.length === mine.length && diff < 2, `${what}: resized values close (mean |diff| ${diff.toFixed(2)})`);
    } else {
      const at = mine.findIndex((v, k) => v !== values[k]);
      assert.ok(values.length === mine.length && at < 0, `${what}: the same values (first difference at byte ${at} of ${mine.length})`);
    }
  }
}

describe('train.py data: seeded randomness and the split', () => {
  const SEEDS = [0, 1, 42, 0x5eed, 2 ** 32 - 1, 2 ** 32 + 7, -1, -123456789, 3.9, -3.9, 1e10, 2 ** 53];

  pyIt('mulberry32 gives the same floats, one at a time and in bulk, and a restored state continues the sequence', () => {
    const ts = SEEDS.map((seed) => {
      const r = new Mulberry32(seed);
      const values = Array.from({ length: 300 }, () => r.next());
      return { values, state: r.state };
    });
    const got = py<{ single: number[]; bulk: number[]; state: number; resumed: number[] }[]>(
      String.raw`
RESULT = []
for seed in ARGS["seeds"]:
    r, b = mulberry32(seed), mulberry32(seed)
    single = [r() for _ in range(300)]
    bulk = b.draws(100).tolist() + b.draws(200).tolist()
    resumed = Mulberry32(0)
    resumed.state = b.state
    RESULT.append({"single": single, "bulk": bulk, "state": b.state, "resumed": [resumed() for _ in range(5)]})
`,
      { seeds: SEEDS },
    );
    for (const [i, seed] of SEEDS.entries()) {
      assert.deepEqual(got[i]!.single, ts[i]!.values, `seed ${seed}: one at a time`);
      assert.deepEqual(got[i]!.bulk, ts[i]!.values, `seed ${seed}: in bulk`);
      assert.equal(got[i]!.state, ts[i]!.state, `seed ${seed}: state`);
      const next = new Mulberry32(0);
      next.state = ts[i]!.state;
      assert.deepEqual(got[i]!.resumed, Array.from({ length: 5 }, () => next.next()), `seed ${seed}: resumed`);
    }
  });

  pyIt('shuffle_in_place swaps as shuffleInPlace (arrays and lists, fresh and resumed generators)', () => {
    const cases = [0, 1, 2, 5, 1000, 54321].flatMap((n) => [7, 0x5eed ^ 42].map((seed) => ({ n, seed })));
    const ts = cases.map(({ n, seed }) => {
      const rng = mulberry32(seed);
      rng(); // a generator that has already drawn
      const first = shuffleInPlace(Array.from({ length: n }, (_, i) => i * 3), rng);
      return { first, second: shuffleInPlace([...first], rng) };
    });
    const got = py<{ first: number[]; second: number[] }[]>(
      String.raw`
RESULT = []
for case in ARGS["cases"]:
    rng = mulberry32(case["seed"])
    rng()
    first = shuffle_in_place(np.arange(case["n"], dtype=np.int64) * 3, rng).tolist()
    RESULT.append({"first": first, "second": shuffle_in_place(list(first), rng)})
`,
      { cases },
    );
    for (const [i, c] of cases.entries()) {
      assert.deepEqual(got[i]!.first, ts[i]!.first, `n ${c.n}, seed ${c.seed}`);
      assert.deepEqual(got[i]!.second, ts[i]!.second, `n ${c.n}, seed ${c.seed}: second epoch`);
    }
  });

  pyIt('split_indices and split_dataset draw the identical train / validation / test indices', () => {
    const fractions = [
      [0.1, 0.1],
      [0.2, 0],
      [0, 0.3],
      [0.15, 0.05],
      [0.333, 0.333],
      [0.5, 0.25],
      [0.125, 0.375],
    ];
    const cases: { count: number; testStart: number | null; validation: number; test: number; seed: number }[] = [];
    for (const count of [0, 1, 2, 3, 10, 97, 1000, 12345, 70000])
      for (const [validation, test] of fractions) for (const seed of [0, 42, 2 ** 32 - 1, -7, 1.5]) cases.push({ count, testStart: null, validation: validation!, test: test!, seed });
    for (const [count, testStart] of [
      [100, 80],
      [70000, 60000],
      [10, 10],
      [5, 0],
    ])
      for (const seed of [1, 99]) cases.push({ count: count!, testStart: testStart!, validation: 0.15, test: 0.3, seed });
    const got = py<{ parts: { n: number; sha: string; head: number[] }[] }[]>(
      String.raw`
RESULT = []
for c in ARGS["cases"]:
    parts = split_dataset(c["count"], c["testStart"], c["validation"], c["test"], c["seed"])
    RESULT.append({"parts": [{"n": len(p), "sha": sha(p.astype("<u4")), "head": p[:5].tolist()} for p in parts]})
`,
      { cases },
    );
    for (const [i, c] of cases.entries()) {
      const s = splitDataset({ count: c.count, ...(c.testStart !== null ? { testStart: c.testStart } : {}) }, c, c.seed);
      const parts = [s.train, s.validation, s.test];
      const what = `count ${c.count}${c.testStart !== null ? ` (test from ${c.testStart})` : ''}, ${c.validation}/${c.test}, seed ${c.seed}`;
      assert.deepEqual(
        got[i]!.parts,
        parts.map((p) => ({ n: p.length, sha: hashOf(p), head: Array.from(p.subarray(0, 5)) })),
        what,
      );
    }
  });

  pyIt('bad fractions are refused with the same sentence', async () => {
    const cases = [
      [10, 0.6, 0.4],
      [10, 1, 0],
      [10, -0.1, 0.1],
      [10, 0.1, 0.2 + 0.7],
    ];
    const got = py<string[]>(
      String.raw`
RESULT = []
for count, v, t in ARGS["cases"]:
    try:
        split_indices(count, v, t, 1)
        RESULT.append("no error")
    except ValueError as err:
        RESULT.append(str(err))
`,
      { cases },
    );
    for (const [i, [count, validation, test]] of cases.entries()) {
      assert.equal(got[i], await tsError(() => splitIndices(count!, { validation: validation!, test: test! }, 1)));
    }
    assert.equal(got.filter((m) => m !== 'no error').length, 3, '0.1 + (0.2 + 0.7) is just below 1 in both');
  });
});

describe('train.py data: training.classes', () => {
  const count = 600;
  const labels = Uint8Array.from({ length: count }, (_, i) => (i * 7 + (i >> 3)) % 5);
  const named = { labels, numClasses: 5, classNames: ['cat', 'dog', 'Emu', 'fox', 'gnu'] };
  const numbered = { labels, numClasses: 5 };

  pyIt('resolve_classes and restrict_to_classes keep the same samples of each part, in order', () => {
    const split = splitIndices(count, { validation: 0.2, test: 0.2 }, 11);
    const cases = [
      { ds: named, classes: [1, 'Emu', 'FOX'] },
      { ds: named, classes: ['gnu'] },
      { ds: numbered, classes: [0, 3] },
      { ds: numbered, classes: ['4', 2] },
    ];
    const got = py<{ classes: number[]; parts: number[][] }[]>(
      String.raw`
labels = np.array(ARGS["labels"], dtype=np.uint8)
split = tuple(np.array(p, dtype=np.int64) for p in ARGS["split"])
RESULT = []
for c in ARGS["cases"]:
    classes = resolve_classes(c["classes"], c["names"], c["numClasses"])
    RESULT.append({"classes": classes, "parts": [p.tolist() for p in restrict_to_classes(split, labels, classes)]})
`,
      { labels: Array.from(labels), split: [split.train, split.validation, split.test].map((p) => Array.from(p)), cases: cases.map((c) => ({ classes: c.classes, names: 'classNames' in c.ds ? c.ds.classNames : null, numClasses: 5 })) },
    );
    for (const [i, c] of cases.entries()) {
      assert.deepEqual(got[i]!.classes, resolveClasses(c.ds, c.classes, 'the dataset'), `classes ${c.classes.join(', ')}`);
      const r = restrictSplit(split, c.ds, c.classes, 'the dataset');
      assert.deepEqual(got[i]!.parts, [r.train, r.validation, r.test].map((p) => Array.from(p)), `classes ${c.classes.join(', ')}`);
      assert.ok(got[i]!.parts[0]!.length > 0 && got[i]!.parts[0]!.length < split.train.length);
    }
  });

  pyIt('a class the dataset lacks, an index past its last class and a dataset without labels are the same sentences', async () => {
    const cases = [
      { classes: ['zebra'], names: named.classNames, numClasses: 5, hasLabels: true },
      { classes: [7], names: null, numClasses: 5, hasLabels: true },
      { classes: [1.5], names: null, numClasses: 5, hasLabels: true },
      { classes: [0, 'cat'], names: null, numClasses: 0, hasLabels: false },
    ];
    const got = py<string[]>(
      String.raw`
RESULT = []
for c in ARGS["cases"]:
    try:
        resolve_classes(c["classes"], c["names"], c["numClasses"], dataset_name="csv:pets.csv")
        RESULT.append("no error")
    except DatasetError as err:
        RESULT.append(str(err))
`,
      { cases },
    );
    for (const [i, c] of cases.entries()) {
      const ds = { labels: c.hasLabels ? labels : null, numClasses: c.numClasses, ...(c.names ? { classNames: c.names } : {}) };
      assert.equal(got[i], await tsError(() => resolveClasses(ds, c.classes, 'csv:pets.csv')));
    }
  });
});

describe('train.py data: normalisation', () => {
  type Raw = { name: string; kind: 'image' | 'table'; shape: [number, number, number, number]; values: Uint8Array | Float32Array };

  /** Generated datasets: byte images, grey float images of mixed magnitudes, float images (one constant channel, a large mean), a float table, a byte table. */
  function datasets(): Raw[] {
    const r = mulberry32(2024);
    const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    const floatImages = new Float32Array(150 * 4 * 4 * 2);
    for (let i = 0; i < floatImages.length; i++) floatImages[i] = i % 2 === 0 ? 1000 + r() * 3 - 1.5 : 7.25;
    // Columns: tiny, a large mean (cancellation), constant, wide, small integers, signs, and magnitudes 1e7 and 1e-7 mixed (whose sums round: the order of adding shows).
    const table = new Float32Array(400 * 7);
    for (let i = 0; i < 400; i++) {
      const row = [r() * 1e-3, 1e4 + r(), 42, (r() - 0.5) * 1e6, Math.floor(r() * 3), r() < 0.5 ? -1 : 1, r() < 0.5 ? r() * 1e7 : r() * 1e-7];
      table.set(row, i * 7);
    }
    const grey = Float32Array.from({ length: 120 * 9 }, () => (r() < 0.5 ? r() * 1e7 : r() * 1e-7));
    return [
      { name: 'byte images', kind: 'image', shape: [300, 5, 5, 3], values: bytes(300 * 75) },
      { name: 'grey float images', kind: 'image', shape: [120, 3, 3, 1], values: grey },
      { name: 'float images', kind: 'image', shape: [150, 4, 4, 2], values: floatImages },
      { name: 'float table', kind: 'table', shape: [400, 1, 1, 7], values: table },
      { name: 'byte table', kind: 'table', shape: [100, 1, 1, 7], values: bytes(700) },
    ];
  }

  const asDataset = (d: Raw): Dataset => ({ source: d.name, kind: d.kind, count: d.shape[0], height: d.shape[1], width: d.shape[2], channels: d.shape[3], values: d.values, labels: null, numClasses: 0, skipped: 0 });

  pyIt('compute_normalization gives the same statistics and normalize_batch the same float32 batches, bit for bit', () => {
    const cases = datasets().map((d, k) => {
      const file = path.join(dir, `norm-${k}.bin`);
      fs.writeFileSync(file, bytesOf(d.values));
      const split = splitIndices(d.shape[0], { validation: 0.2, test: 0.1 }, 5 + k);
      const batch = [...split.validation.subarray(0, 20), ...split.train.subarray(0, 10), d.shape[0] - 1];
      return { d, file, train: Array.from(split.train), batch };
    });
    const methods = ['unit', 'minmax', 'standard'] as const;
    const tsNorms = cases.map((c) => methods.map((m) => computeNormalization(asDataset(c.d), u32(c.train), m)));
    const got = py<{ norms: Normalization[]; batches: string[] }[]>(
      String.raw`
RESULT = []
for k, c in enumerate(ARGS["cases"]):
    values = np.fromfile(c["file"], dtype=np.uint8 if c["bytes"] else np.float32)
    n, h, w, ch = c["shape"]
    values = values.reshape((n, ch) if c["kind"] == "table" else (n, h, w, ch))
    norms = [compute_normalization(values, ch, c["train"], m, c["bytes"]) for m in ARGS["methods"]]
    batches = []
    for m, norm in enumerate(c["tsNorms"]):
        out = normalize_batch(values, c["batch"], norm, c["bytes"])
        assert out.dtype == np.float32 and out.shape == (len(c["batch"]),) + values.shape[1:]
        name = f"{c['file']}.{m}.batch"
        out.tofile(name)
        batches.append(name)
    RESULT.append({"norms": norms, "batches": batches})
`,
      {
        methods,
        cases: cases.map((c, k) => ({ file: c.file, bytes: c.d.values instanceof Uint8Array, shape: c.d.shape, kind: c.d.kind, train: c.train, batch: c.batch, tsNorms: tsNorms[k] })),
      },
    );
    for (const [k, c] of cases.entries()) {
      const ds = asDataset(c.d);
      for (const [m, method] of methods.entries()) {
        const want = tsNorms[k]![m]!;
        const have = got[k]!.norms[m]!;
        const what = `${c.d.name}, ${method}`;
        assert.equal(have.method, method, what);
        for (const key of ['shift', 'div'] as const) {
          assert.equal(have[key].length, want[key].length, `${what}: ${key}`);
          for (const [i, v] of want[key].entries()) {
            const p = have[key][i]!;
            // The sums are added in the same order: bit for bit, well inside the 1e-6 the engines must agree to.
            assert.equal(p, v, `${what}: ${key}[${i}]`);
          }
        }
        if (method === 'standard' && c.d.name === 'float images') assert.equal(want.div[1], 1, 'a constant channel divides by 1');
        const batch = batchToFloat(ds, c.batch, 0, c.batch.length, undefined, want);
        assert.ok(fs.readFileSync(got[k]!.batches[m]!).equals(bytesOf(batch)), `${what}: the same batch`);
      }
    }
  });

  pyIt('minmax and standard on an empty training split are the same sentence', async () => {
    const got = py<string>(
      String.raw`
try:
    compute_normalization(np.zeros((3, 2), np.float32), 2, [], "minmax", False)
except DatasetError as err:
    RESULT = str(err)
`,
    );
    const ds = asDataset({ name: 't', kind: 'table', shape: [3, 1, 1, 2], values: new Float32Array(6) });
    assert.equal(got, await tsError(() => computeNormalization(ds, new Uint32Array(0), 'minmax')));
  });
});

describe('train.py data: loaders', () => {
  let data: string;
  before(() => {
    if (!python) return;
    data = path.join(dir, 'data');
    fs.mkdirSync(data);
  });

  pyIt('NPZ (Keras layout, x / y, compressed, one-hot, strings, flat byte images) and NPY files load the same', async () => {
    py(
      String.raw`
os.chdir(ARGS["dir"])
rng = np.random.default_rng(3)
u8 = lambda *s: rng.integers(0, 256, s, dtype=np.uint8)
np.savez("keras.npz", x_train=u8(40, 6, 6), y_train=rng.integers(0, 4, 40).astype(np.uint8), x_test=u8(10, 6, 6), y_test=rng.integers(0, 4, 10).astype(np.uint8))
onehot = lambda n: np.eye(5, dtype=np.float32)[rng.integers(0, 5, n)]
np.savez_compressed("float_onehot.npz", x_train=rng.normal(size=(30, 4, 4, 3)).astype(np.float32), y_train=onehot(30), x_test=rng.normal(size=(8, 4, 4, 3)).astype(np.float32), y_test=onehot(8))
words = np.array(["cat", "dog", "bird", "Zebra", "ant"])
np.savez("names.npz", x=rng.normal(size=(20, 9)), y=words[rng.integers(0, 4, 20)])
np.savez("keras_names.npz", x_train=u8(12, 4, 4), y_train=words[rng.integers(0, 3, 12)], x_test=u8(5, 4, 4), y_test=words[rng.integers(2, 5, 5)])
np.savez("flat.npz", x=u8(15, 16))
np.savez_compressed("ints.npz", x=rng.integers(-300, 300, (10, 3, 3)).astype(np.int16), y=rng.integers(0, 7, 10).astype(np.int64))
np.savez("single.npz", images=u8(6, 5, 5, 3))
np.save("table_u1.npy", u8(25, 7))
np.save("table_labels.npy", rng.integers(0, 3, (25, 1)).astype(np.int32))
np.save("x.npy", rng.normal(size=(12, 5, 5, 1)).astype(np.float32))
np.save("y.npy", rng.integers(0, 2, 12).astype(np.uint8))
np.save("f16.npy", rng.normal(size=(9, 2, 2)).astype(np.float16))
`,
      { dir: data },
    );
    await assertSameLoads(
      [
        { spec: 'npz:keras.npz' },
        { spec: 'npz:float_onehot.npz' },
        { spec: 'npz:names.npz' },
        { spec: 'npz:keras_names.npz' },
        { spec: 'npz:flat.npz' },
        { spec: 'npz:ints.npz' },
        { spec: 'npz:single.npz' },
        { spec: 'npy:table_u1.npy,table_labels.npy' },
        { spec: `npy:${path.join(data, 'x.npy')}, y.npy` },
        { spec: 'npy:f16.npy' },
        { spec: 'npz:keras.npz', shape: [6, 6, 3] },
        { spec: 'npz:float_onehot.npz', shape: [4, 4, 1] },
        { spec: 'npz:single.npz', shape: [5, 5, 4] },
        { spec: 'npz:single.npz', shape: [5, 5, 1] },
      ],
      data,
    );
  });

  pyIt('bad NumPy files are the same sentences: truncated, missing arrays, wrong shapes, mismatched lengths, strings, a missing file', async () => {
    py(
      String.raw`
os.chdir(ARGS["dir"])
np.save("whole.npy", np.arange(160, dtype=np.uint8).reshape(10, 4, 4))
raw = open("whole.npy", "rb").read()
open("truncated.npy", "wb").write(raw[:-60])
open("header_cut.npy", "wb").write(raw[:40])
open("not_npy.npy", "wb").write(b"hello world, not numpy")
np.save("labels_only.npy", np.arange(10))
np.save("y_short.npy", np.zeros(9, np.uint8))
np.save("y_bad.npy", np.array([0, 1, 2.5, 3, 0, 0, 0, 0, 0, 0]))
np.save("strings.npy", np.array([["a", "b"], ["c", "d"]]))
np.save("nan.npy", np.array([[1.0, 2.0], [np.nan, 4.0]], np.float32))
np.save("big_endian.npy", np.zeros((3, 2), ">f4"))
np.save("fortran.npy", np.asfortranarray(np.zeros((3, 2), np.float32)))
np.savez("nothing.npz", a=np.zeros(3), b=np.zeros(3))
np.savez("half.npz", x_train=np.zeros((2, 2, 2), np.uint8), x_test=np.zeros((1, 2, 2), np.uint8), y_train=np.zeros(2, np.uint8))
np.savez("mismatch.npz", x_train=np.zeros((2, 2, 2), np.uint8), x_test=np.zeros((1, 3, 3), np.uint8))
`,
      { dir: data },
    );
    await assertSameLoads(
      [
        'npy:truncated.npy',
        'npy:header_cut.npy',
        'npy:not_npy.npy',
        'npy:labels_only.npy',
        'npy:whole.npy,y_short.npy',
        'npy:whole.npy,y_bad.npy',
        'npy:strings.npy',
        'npy:nan.npy',
        'npy:big_endian.npy',
        'npy:fortran.npy',
        'npy:missing.npy',
        'npz:nothing.npz',
        'npz:half.npz',
        'npz:mismatch.npz',
        'npz:missing.npz',
      ].map((spec) => ({ spec })),
      data,
    );
    const truncated = py<string>('try:\n    load_npy(ARGS["file"])\nexcept DatasetError as err:\n    RESULT = str(err)', { file: path.join(data, 'truncated.npy') });
    assert.match(truncated, /^truncated\.npy: truncated: its header announces shape \(10, 4, 4\) \(160 bytes of data\), the file holds 100$/);
  });

  pyIt('CSV tables (word labels, quotes, BOM, CRLF, blank lines, headerless, a named label column) and pixel CSVs load the same', async () => {
    const w = (name: string, text: string): void => fs.writeFileSync(path.join(data, name), text);
    w('species.csv', '\ufeffsepal length,sepal width,"petal, length",class\r\n5.1,3.5,1.4,setosa\r\n\r\n4.9, 3.0 ,1.4e-1,versicolor\r\n+6.2,.5,2.,"virginica"\r\n7,3.2,4.7,setosa\r\n');
    w('numeric_labels.csv', 'a,b,c,label\n1,2,3,0\n4,5,6,2\n7,8,9.5,1\n\n');
    w('target.csv', 'x1,x2,Target\n0.1,0.2,yes\n0.3,0.4,no\n0.5,0.6,yes\n');
    w('headerless.csv', '1.5,2,3,4,5,6\n7,8,9,10,11,12.25\n');
    w('headerless_label.csv', '1,2,0,4,5,6\n7,8,1,10,11,12\n1,1,1,1,1,3\n');
    const digits = Array.from({ length: 6 }, (_, r) => [r % 3, ...Array.from({ length: 16 }, (_, p) => (r * 37 + p * 11) % 256)]);
    w('kaggle.csv', `label,${Array.from({ length: 16 }, (_, p) => `pixel${p}`).join(',')}\r\n${digits.map((row) => row.join(',')).join('\r\n')}\r\n\r\n`);
    w('pixels_noheader.csv', `${digits.map((row) => row.join(',')).join('\n')}`);
    w('pixels_unlabelled.csv', `${digits.map((row) => row.slice(1).join(',')).join('\n')}\n`);
    const unit = ['0', '0.5', '1', '0.25', '1e-1', ' 0.75 ', '.3', '0.0039215686', '0.998', '0.50196', '0.001960784313725490', '1.0'];
    w('unit.csv', `label,${Array.from({ length: 9 }, (_, p) => `p${p}`).join(',')}\n${Array.from({ length: 5 }, (_, r) => [r, ...Array.from({ length: 9 }, (_, p) => unit[(r + p * 5) % unit.length])].join(',')).join('\n')}\n`);
    w('rgb.csv', `${Array.from({ length: 4 }, (_, r) => [r, ...Array.from({ length: 12 }, (_, p) => (r * 13 + p * 29) % 256)].join(',')).join('\n')}\n`);
    w('pandas.csv', `${Array.from({ length: 17 }, (_, i) => i).join(',')}\n${digits.map((row) => row.join(',')).join('\n')}\n`);
    await assertSameLoads(
      [
        { spec: 'csv:species.csv' },
        { spec: 'csv:numeric_labels.csv' },
        { spec: 'csv:target.csv' },
        { spec: 'csv:target.csv', labelColumn: 'x2' },
        { spec: 'csv:headerless.csv' },
        { spec: 'csv:headerless_label.csv', labelColumn: '3' },
        { spec: 'csv:kaggle.csv' },
        { spec: 'csv:kaggle.csv', shape: [4, 4, 3] },
        { spec: 'csv:pixels_noheader.csv' },
        { spec: 'csv:pixels_unlabelled.csv' },
        { spec: 'csv:unit.csv' },
        { spec: 'csv:rgb.csv' },
        { spec: 'csv:pandas.csv' },
      ],
      data,
    );
  });

  pyIt('bad CSV files are the same sentences, naming the row and the column', async () => {
    const w = (name: string, text: string): void => fs.writeFileSync(path.join(data, name), text);
    w('table_bad_cell.csv', 'a,b,label\n1,2,x\n3,abc,y\n');
    w('table_empty_cell.csv', 'a,b,label\n1,2,x\n3,,y\n');
    w('table_empty_label.csv', 'a,b,label\n1,2,x\n3,4,\n');
    w('table_ragged.csv', 'a,b,label\n1,2,x\n3,4\n');
    w('table_no_rows.csv', 'a,b,label\n');
    w('table_no_label.csv', 'a,b,species\n1,2,x\n');
    w('table_label_only.csv', 'label\ncat\n');
    w('empty.csv', '\n  \n');
    const row = (r: number): string => [r % 2, ...Array.from({ length: 16 }, (_, p) => (r + p) % 256)].join(',');
    w('pixels_bad_cell.csv', `${row(0)}\n${row(1)}\n${row(2).replace(/,\d+,/, ',1x5,')}\n`);
    w('pixels_empty_cell.csv', `${row(0)}\n\n${row(1).replace(/,\d+$/, ',')}\n`);
    w('pixels_range.csv', `${row(0)}\n${row(1).replace(/,\d+,/, ',256,')}\n`);
    w('pixels_label.csv', `${row(0)}\n${row(1).replace(/^\d+,/, '2.5,')}\n`);
    w('pixels_ragged.csv', `${row(0)}\n${row(1)},7\n`);
    w('pixels_short.csv', `${row(0)}\n${row(1).replace(/,\d+$/, '')}\n`);
    w('pixels_not_square.csv', 'label,pixel0,pixel1,pixel2,pixel3,pixel4\n1,2,3,4,5,6\n');
    w('no_label_col.csv', 'a,b,c\n1,2,3\n');
    await assertSameLoads(
      [
        { spec: 'csv:table_bad_cell.csv' },
        { spec: 'csv:table_empty_cell.csv' },
        { spec: 'csv:table_empty_label.csv' },
        { spec: 'csv:table_ragged.csv' },
        { spec: 'csv:table_no_rows.csv' },
        { spec: 'csv:table_no_label.csv' },
        { spec: 'csv:table_label_only.csv' },
        { spec: 'csv:empty.csv' },
        { spec: 'csv:pixels_bad_cell.csv' },
        { spec: 'csv:pixels_empty_cell.csv' },
        { spec: 'csv:pixels_range.csv' },
        { spec: 'csv:pixels_label.csv' },
        { spec: 'csv:pixels_ragged.csv' },
        { spec: 'csv:pixels_short.csv' },
        { spec: 'csv:pixels_not_square.csv' },
        { spec: 'csv:no_label_col.csv', labelColumn: 'kind' },
        { spec: 'csv:missing.csv' },
      ],
      data,
    );
    const got = py<string>('try:\n    load_csv(ARGS["file"])\nexcept DatasetError as err:\n    RESULT = str(err)', { file: path.join(data, 'table_bad_cell.csv') });
    assert.equal(got, `${path.join(data, 'table_bad_cell.csv')}: non-numeric value "abc" at row 3, column 2 ("b"); feature columns must hold numbers`);
  });

  pyIt('IDX files (plain and gzipped) load the same, and bad ones are the same sentences', async () => {
    const idx = (magic: number, dims: number[], body: Uint8Array): Buffer => {
      const head = Buffer.alloc(4 + 4 * dims.length);
      head.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
      return Buffer.concat([head, body]);
    };
    const pixels = Uint8Array.from({ length: 12 * 5 * 4 }, (_, i) => (i * 31) % 256);
    const labels = Uint8Array.from({ length: 12 }, (_, i) => (i * 5) % 7);
    const w = (name: string, bytes: Uint8Array): void => fs.writeFileSync(path.join(data, name), bytes);
    w('train-images-idx3-ubyte', idx(0x803, [12, 5, 4], pixels));
    w('train-labels-idx1-ubyte.gz', gzipSync(idx(0x801, [12], labels)));
    w('short-images-idx3-ubyte', idx(0x803, [12, 5, 4], pixels.subarray(0, 200)));
    w('long-labels-idx1-ubyte', idx(0x801, [12], Uint8Array.from([...labels, 1, 2])));
    w('few-labels-idx1-ubyte', idx(0x801, [11], labels.subarray(0, 11)));
    w('labels-255-idx1-ubyte', idx(0x801, [3], Uint8Array.of(1, 255, 2)));
    w('float-idx3-ubyte', idx(0x00000d03, [1, 1, 1], new Uint8Array(4)));
    w('broken.gz', Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0));
    await assertSameLoads(
      [
        'idx:train-images-idx3-ubyte,train-labels-idx1-ubyte.gz',
        'idx:train-images-idx3-ubyte',
        'idx:short-images-idx3-ubyte',
        'idx:train-images-idx3-ubyte,long-labels-idx1-ubyte',
        'idx:train-images-idx3-ubyte,few-labels-idx1-ubyte',
        'idx:train-images-idx3-ubyte,labels-255-idx1-ubyte',
        'idx:float-idx3-ubyte',
        'idx:train-labels-idx1-ubyte.gz',
        'idx:missing-idx3-ubyte',
      ].map((spec) => ({ spec })),
      data,
    );
    const broken = py<string>('try:\n    load_idx(ARGS["file"])\nexcept DatasetError as err:\n    RESULT = str(err)', { file: path.join(data, 'broken.gz') });
    assert.match(broken, /broken\.gz: looks gzip-compressed but does not decompress \(.+\); is the download complete\?$/);
  });

  pyIt('PNG folders (RGB, RGBA, grey, grey + alpha, palettes, 16-bit grey, nested, hidden and other files) decode to the same bytes', async () => {
    const pets = path.join(data, 'pets');
    py(
      String.raw`
from PIL import Image
root = ARGS["root"]
rng = np.random.default_rng(8)
def save(rel, array, mode, **kw):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, mode).save(path, **kw)
u8 = lambda *s: rng.integers(0, 256, s, dtype=np.uint8)
save("cat/a.png", u8(5, 6, 3), "RGB")
save("cat/sub/b.png", u8(5, 6, 4), "RGBA")
save("cat/Z.png", np.full((5, 6, 3), 200, np.uint8), "RGB")
save("dog/c.png", u8(5, 6), "L")
save("dog/d.png", u8(5, 6, 2), "LA")
Image.fromarray(u8(5, 6, 3), "RGB").quantize(7).save(os.path.join(root, "dog/e.png"))
palette = Image.fromarray(u8(5, 6, 3), "RGB").quantize(5)
palette.save(os.path.join(root, "dog/f.png"), transparency=2)
save("emu/g.png", (rng.integers(0, 65536, (5, 6))).astype(np.uint16), "I;16")
Image.fromarray(u8(5, 6), "L").convert("1").save(os.path.join(root, "emu/h.png"))
open(os.path.join(root, "dog/notes.txt"), "w").write("not an image")
save("loose.png", u8(5, 6, 3), "RGB")
save(".hidden/x.png", u8(5, 6, 3), "RGB")
save("emu/.DS_Store.png", u8(2, 2, 3), "RGB")
flat = os.path.join(os.path.dirname(root), "flat")
for i in range(3):
    os.makedirs(flat, exist_ok=True)
    Image.fromarray(u8(4, 4), "L").save(os.path.join(flat, f"img{2 - i}.png"))
mixed = os.path.join(os.path.dirname(root), "mixed")
os.makedirs(os.path.join(mixed, "a"), exist_ok=True)
Image.fromarray(u8(4, 4), "L").save(os.path.join(mixed, "a", "1.png"))
Image.fromarray(u8(6, 5), "L").save(os.path.join(mixed, "a", "2.png"))
smooth = os.path.join(os.path.dirname(root), "smooth")
yy, xx = np.mgrid[0:10, 0:12]
for k in range(3):
    os.makedirs(os.path.join(smooth, f"k{k}"), exist_ok=True)
    img = np.stack([xx * 20 + k * 5, yy * 25, (xx + yy) * 10 + 3 * k], -1).clip(0, 255).astype(np.uint8)
    Image.fromarray(img, "RGB").save(os.path.join(smooth, f"k{k}", "g.png"))
single = os.path.join(os.path.dirname(root), "single")
os.makedirs(single, exist_ok=True)
Image.fromarray(u8(4, 4), "L").save(os.path.join(single, "only.png"))
`,
      { root: pets },
    );
    fs.mkdirSync(path.join(data, 'corrupt'));
    fs.writeFileSync(path.join(data, 'corrupt', 'bad.png'), 'not a png at all');
    await assertSameLoads(
      [
        { spec: 'folder:pets' },
        { spec: 'folder:pets', shape: [5, 6, 1] },
        { spec: 'folder:pets', shape: [5, 6, 3] },
        { spec: 'folder:pets', shape: [5, 6, 4] },
        { spec: 'folder:pets', shape: [5, 6, 2] },
        { spec: 'folder:single', shape: [5, 4, 1] },
        { spec: 'folder:flat' },
        { spec: 'folder:flat', shape: [4, 4, 3] },
        { spec: 'folder:mixed' },
        { spec: 'folder:missing' },
        { spec: 'folder:pets/loose.png' },
      ],
      data,
    );
    // A damaged image: the same file named (the decoder's own words in brackets differ).
    const bad = py<string>('try:\n    load_folder(ARGS["dir"])\nexcept DatasetError as err:\n    RESULT = str(err)', { dir: path.join(data, 'corrupt') });
    const ts = await tsError(() => loadDataset(parseDataSpec('folder:corrupt', data), { cacheDir: null }));
    assert.equal(bad.split(' (')[0], ts.split(' (')[0]);
    assert.match(bad, /bad\.png: not a readable image, corrupt or truncated \(.+\)$/);
    // Resizing is Pillow's Lanczos, not sharp's: the same shape and labels, close values.
    await assertSameLoads(
      [
        { spec: 'folder:smooth', shape: [5, 6, 3], resize: 'fit' },
        { spec: 'folder:smooth', shape: [4, 7, 1], resize: 'fit' },
        { spec: 'folder:smooth', shape: [6, 6, 3], resize: 'crop' },
      ],
      data,
      { exactValues: false },
    );
  });

  pyIt('every colour of an RGB image turns grey as sharp turns it (libvips tables, 2^24 colours)', async () => {
    const file = path.join(data, 'all-colours', 'c', 'all.png');
    py(
      String.raw`
from PIL import Image
c = np.arange(1 << 24, dtype=np.uint32)
rgb = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)
os.makedirs(os.path.dirname(ARGS["file"]), exist_ok=True)
Image.fromarray(rgb, "RGB").save(ARGS["file"], compress_level=1)
`,
      { file },
    );
    await assertSameLoads([{ spec: `folder:${path.dirname(path.dirname(file))}`, shape: [4096, 4096, 1] }], data);
  });

  pyIt('training.dataset strings resolve to the same files, and bad ones are the same sentence', async () => {
    const specs = ['npz:data/x.npz', ' NPY: a.npy , ../b.npy ', 'idx:imgs-idx3-ubyte', 'folder:~/pictures', 'csv:/abs/t.csv', 'Fashion_MNIST', 'MNIST', 'folder:~'];
    const bad = ['t.csv', 'train-images-idx3-ubyte.gz', 'x.NPZ', 'x.npy', 'npy:', 'npy:a.npy,', 'idx: ,b', '', 'imagenet', 'folder:', 'csv:'];
    const got = py<{ ok: unknown[]; bad: string[] }>(
      String.raw`
RESULT = {"ok": [list(parse_data_spec(s, ARGS["base"])) for s in ARGS["specs"]], "bad": []}
for s in ARGS["bad"]:
    try:
        parse_data_spec(s, ARGS["base"])
        RESULT["bad"].append("no error")
    except DatasetError as err:
        RESULT["bad"].append(str(err))
`,
      { specs, bad, base: data },
    );
    for (const [i, s] of specs.entries()) {
      const ts = parseDataSpec(s, data);
      const paths = ts.kind === 'idx' ? [ts.images, ts.labels] : ts.kind === 'npy' ? [ts.x, ts.y] : ts.kind === 'mnist' || ts.kind === 'fashion-mnist' ? [] : [ts.kind === 'folder' ? ts.dir : ts.file];
      assert.deepEqual(got.ok[i], [ts.kind, paths], s);
    }
    for (const [i, s] of bad.entries()) assert.equal(got.bad[i], await tsError(() => parseDataSpec(s, data)), JSON.stringify(s));
  });
});

describe('train.py data: the built-in datasets', () => {
  pyIt('writeBuiltinNpz writes the embedded MNIST that train.py reads back identically (first and last images, every byte, labels, names)', async () => {
    const out = path.join(dir, 'builtin');
    await writeBuiltinNpz('mnist', path.join(out, 'mnist.npz'), { cacheDir: null });
    const ts = await loadMnist({ cacheDir: null });
    const size = ts.height * ts.width;
    const got = py<{ ds: PyDataset; first: number[]; last: number[]; sha: string; labelsSha: string; numpy: { x: number[]; y: number[]; same: boolean }; missing: string }>(
      String.raw`
ds = load_dataset("mnist", "/nowhere", builtin_dir=ARGS["dir"])
archive = np.load(os.path.join(ARGS["dir"], "mnist.npz"))  # numpy's own reader takes the file too
RESULT = {"ds": dump(ds, os.path.join(ARGS["dir"], "mnist")), "first": ds.values[0].ravel().tolist(), "last": ds.values[-1].ravel().tolist(),
          "sha": sha(ds.values), "labelsSha": sha(ds.labels),
          "numpy": {"x": list(archive["x"].shape), "y": list(archive["y"].shape), "same": bool((archive["x"][..., None] == ds.values).all() and (archive["y"] == ds.labels).all())}}
try:
    load_dataset("fashion-mnist", "/nowhere", builtin_dir=ARGS["dir"])
except DatasetError as err:
    RESULT["missing"] = str(err)
`,
      { dir: out },
    );
    assert.equal(got.ds.source, ts.source);
    assert.deepEqual([got.ds.count, got.ds.height, got.ds.width, got.ds.channels, got.ds.dtype], [ts.count, 28, 28, 1, 'uint8']);
    assert.deepEqual(got.first, Array.from(ts.values.subarray(0, size)));
    assert.deepEqual(got.last, Array.from(ts.values.subarray((ts.count - 1) * size)));
    assert.ok(got.first.some((v) => v > 0) && got.last.some((v) => v > 0), 'real digits');
    assert.equal(got.sha, hashOf(ts.values));
    assert.equal(got.labelsSha, hashOf(ts.labels!));
    assert.deepEqual([got.ds.numClasses, got.ds.classNames, got.ds.skipped], [ts.numClasses, [...ts.classNames!], ts.skipped]);
    assert.deepEqual(got.numpy, { x: [ts.count, 28, 28], y: [ts.count], same: true });
    assert.match(got.missing, /fashion-mnist\.npz: file not found/);
    // The same dataset always gives the same file (export folders stay unchanged on re-export).
    assert.ok(fs.readFileSync(path.join(out, 'mnist.npz')).equals(Buffer.from(await builtinNpz('mnist', { cacheDir: null }))));
  });

  it('npyBytes writes a format 1.0 header numpy accepts, padded so the data starts 64-byte aligned', () => {
    for (const shape of [[3], [2, 5], [10000, 28, 28], [0]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const bytes = npyBytes({ descr: '|u1', data: new Uint8Array(n).fill(7) }, shape);
      const headerLength = bytes[8]! | (bytes[9]! << 8);
      assert.equal((10 + headerLength) % 64, 0);
      const header = Buffer.from(bytes.subarray(10, 10 + headerLength)).toString('latin1');
      assert.match(header, new RegExp(`^\\{'descr': '\\|u1', 'fortran_order': False, 'shape': \\(${shape.length === 1 ? `${shape[0]},` : shape.join(', ')}\\), \\} *\\n$`));
      assert.equal(bytes.length, 10 + headerLength + n);
    }
    assert.throws(() => npyBytes({ descr: '|u1', data: new Uint8Array(5) }, [2, 2]), /holds 4 values/);
  });
});

describe('train.py data: the bad-file corpus', () => {
  pyIt('every dataset file of test/fixtures/bad-files is the same sentence in Python as in src/data', async () => {
    const corpusDir = path.join(__dirname, '..', 'fixtures', 'bad-files');
    const corpus = JSON.parse(fs.readFileSync(path.join(corpusDir, 'corpus.json'), 'utf8')) as { data: { graph: 'simple' | 'table'; data: string }[] };
    // A corrupt image's detail is the decoder's own words (sharp's or Pillow's): compared up to it, below.
    const corrupt = 'folder:folder-corrupt-png';
    await assertSameLoads(
      corpus.data.filter((d) => d.data !== corrupt).map((d) => ({ spec: d.data, shape: d.graph === 'simple' ? [784] : [2] })),
      path.join(corpusDir, 'data'),
    );
    const dirOf = path.join(corpusDir, 'data', 'folder-corrupt-png');
    const ts = await tsError(() => loadForInput(parseDataSpec(corrupt, path.join(corpusDir, 'data')), [784], {}, { cacheDir: null }));
    const python = py<string>('try:\n    load_folder(ARGS["dir"])\nexcept DatasetError as err:\n    RESULT = str(err)', { dir: dirOf });
    assert.match(ts, /broken\.png: not a readable image, corrupt or truncated \(/);
    assert.equal(python.split(' (')[0], ts.split(' (')[0]);
  });
});
