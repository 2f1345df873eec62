/**
 * Training on the user's own data, on real data where learning is claimed: the shipped Breast
 * Cancer Wisconsin table (an autoencoder trained on benign samples scores malignant ones higher:
 * ROC AUC), a folder of real colour images (Fashion-MNIST photographs, coloured), MNIST as a Keras
 * NPZ (its own test arrays are the test split). Bad data stops before any run folder exists.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { zipSync } from 'fflate';
import { dump } from 'npyjs';
import { InspectRequestSchema, type ScoreResult } from '../../src/core/inspect';
import { ExportRequestSchema, type FromWorker, type TrainRequest, TrainRequestSchema } from '../../src/core/protocol';
import { type EpochRecord, RUN_FILES, parseRunJson } from '../../src/core/runFormat';
import { loadMnist } from '../../src/data/index';
import { runExport } from '../../src/train/jobs/export';
import { runInspect } from '../../src/train/jobs/inspect/index';
import { decodePng } from '../../src/train/png';
import { train } from '../../src/train/trainer';
import { writeColourFashion } from '../../scripts/image-folder';
import { SAMPLES_DIR, chainGraph, sampleText } from '../helpers/samples';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-own-train-'));
const runsDir = path.join(tmp, 'runs');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Trained {
  runDir: string;
  epochs: EpochRecord[];
  logs: string[];
}

async function run(graphText: string, graphPath: string, extra: Partial<TrainRequest> = {}): Promise<Trained> {
  const messages: FromWorker[] = [];
  const request = TrainRequestSchema.parse({ graphText, graphPath, runsDir, backend: 'wasm', batchProgressMs: 60_000, cacheDir: path.join(tmp, 'cache'), ...extra });
  const result = await train(request, (m) => messages.push(m), { cancelled: false });
  return { runDir: result.runDir, epochs: messages.flatMap((m) => (m.type === 'epoch' ? [m.record] : [])), logs: messages.flatMap((m) => (m.type === 'log' ? [m.message] : [])) };
}

async function score(runDir: string): Promise<ScoreResult> {
  const result = await runInspect(InspectRequestSchema.parse({ kind: 'score', runDir, backend: 'wasm', split: 'test', worst: 8, cacheDir: path.join(tmp, 'cache') }));
  assert.equal(result.kind, 'score');
  return result as ScoreResult;
}

/** ROC AUC of `positive` scores against `negative` ones (ties count half). */
function rocAuc(positive: readonly number[], negative: readonly number[]): number {
  let wins = 0;
  for (const p of positive) for (const n of negative) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (positive.length * negative.length);
}

test('tabular sample: an autoencoder trained on benign samples scores malignant ones higher (ROC AUC), naming the features', async (t) => {
  const graphPath = path.join(SAMPLES_DIR, 'tabular-anomaly.latent.json');
  const trained = await run(sampleText('tabular-anomaly'), graphPath, { epochs: 80 });
  const norm = parseRunJson('normalization', fs.readFileSync(path.join(trained.runDir, RUN_FILES.normalization), 'utf8'), 'normalization.json');
  assert.ok(norm.ok && norm.value.method === 'standard' && norm.value.shift.length === 30);
  const config = parseRunJson('config', fs.readFileSync(path.join(trained.runDir, RUN_FILES.config), 'utf8'), 'config.json');
  assert.ok(config.ok);
  assert.equal(config.value.dataset.kind, 'table');
  assert.deepEqual(config.value.dataset.classNames, ['benign', 'malignant']);
  assert.equal(config.value.dataset.featureNames?.[0], 'mean radius');

  const result = await score(trained.runDir);
  const names = result.classNames!;
  assert.deepEqual(result.trainedClasses, [names.indexOf('benign')]);
  const byClass = (name: string): number[] => result.scores.filter((_, i) => names[result.labels![i]!] === name);
  const auc = rocAuc(byClass('malignant'), byClass('benign'));
  t.diagnostic(`ROC AUC malignant vs benign on the test split: ${auc.toFixed(3)} (${byClass('malignant').length} malignant, ${byClass('benign').length} benign)`);
  assert.ok(auc > 0.85, `ROC AUC ${auc}`);
  assert.match(result.thresholdRule, /of the trained classes \(benign\)/);
  const explained = result.worst[0]!.features!;
  assert.equal(explained.length, 3);
  assert.ok(explained.every((f) => config.value.dataset.featureNames!.includes(f.name)));
  assert.ok(explained[0]!.share >= explained[1]!.share && explained[1]!.share >= explained[2]!.share);

  // The pictures of a table: bars of inputs (blue) and reconstructions (orange), not an image grid.
  const png = decodePng(fs.readFileSync(path.join(trained.runDir, RUN_FILES.reconstructions)));
  let blue = 0;
  let orange = 0;
  for (let i = 0; i < png.width * png.height; i++) {
    const [r, g, b] = [png.data[i * 4]!, png.data[i * 4 + 1]!, png.data[i * 4 + 2]!];
    if (b > 200 && r < 100 && g > 90) blue++;
    if (r > 200 && b < 100 && g > 90) orange++;
  }
  assert.ok(blue > 100 && orange > 100, `bars in reconstructions.png (${blue} blue, ${orange} orange pixels)`);

  // Export writes the run's normalisation beside the models.
  const out = path.join(tmp, 'exported');
  await runExport(ExportRequestSchema.parse({ runDir: trained.runDir, outDir: out }));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'normalization.json'), 'utf8')), norm.value);
});

test('image folder: a conv autoencoder on real colour images learns, and its reconstructions are in colour', async (t) => {
  const folder = await writeColourFashion(path.join(tmp, 'colour'), 100);
  const graphPath = path.join(tmp, 'folder.latent.json');
  const graph = JSON.parse(sampleText('image-folder-autoencoder')) as { training: Record<string, unknown> };
  graph.training.dataset = `folder:${path.relative(tmp, folder.dir)}`;
  const trained = await run(JSON.stringify(graph), graphPath, { epochs: 12 });
  const first = trained.epochs[0]!.valLoss!;
  const last = trained.epochs.at(-1)!.valLoss!;
  t.diagnostic(`validation loss ${first.toFixed(4)} → ${last.toFixed(4)} over ${trained.epochs.length - 1} epochs; MSE ${trained.epochs[0]!.metrics.valMeanSquaredError?.toFixed(4)} → ${trained.epochs.at(-1)!.metrics.valMeanSquaredError?.toFixed(4)}`);
  assert.ok(trained.logs.some((l) => /resized 1[ ,]?000 images to 32x32 \(fit\)/.test(l)), trained.logs.join('\n'));
  assert.ok(last < first * (2 / 3), `validation loss ${first} → ${last}: did not drop by a third`);
  // The bottom row of reconstructions.png: colour, i.e. channels that differ.
  const png = decodePng(fs.readFileSync(path.join(trained.runDir, RUN_FILES.reconstructions)));
  let coloured = 0;
  for (let y = Math.floor(png.height / 2); y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const o = (y * png.width + x) * 4;
      if (Math.abs(png.data[o]! - png.data[o + 1]!) > 40 || Math.abs(png.data[o + 1]! - png.data[o + 2]!) > 40) coloured++;
    }
  }
  assert.ok(coloured > png.width * 4, `only ${coloured} coloured pixels among the reconstructions`);
});

test("Keras NPZ layout: MNIST's own test arrays are the test split of training, evaluation and scores", async () => {
  const mnist = await loadMnist();
  const size = 784;
  const trainN = 1500;
  const testN = 300;
  const pick = (from: number, n: number): Uint8Array => Uint8Array.from(mnist.values.subarray(from * size, (from + n) * size) as Uint8Array);
  // The digits are grouped by class: take them strided so both parts hold every class.
  const order = Array.from({ length: trainN + testN }, (_, i) => (i * 37) % mnist.count);
  const x = new Uint8Array((trainN + testN) * size);
  order.forEach((src, i) => x.set(pick(src, 1), i * size));
  const y = Uint8Array.from(order, (i) => mnist.labels![i]!);
  const npz = path.join(tmp, 'mnist.npz');
  const arr = (data: Uint8Array, shape: number[]): Uint8Array => new Uint8Array(dump(data, shape, { dtype: 'u1' }));
  fs.writeFileSync(
    npz,
    zipSync({
      'x_train.npy': arr(x.subarray(0, trainN * size), [trainN, 28, 28]),
      'y_train.npy': arr(y.subarray(0, trainN), [trainN]),
      'x_test.npy': arr(x.subarray(trainN * size), [testN, 28, 28]),
      'y_test.npy': arr(y.subarray(trainN), [testN]),
    }),
  );
  const graph = chainGraph([{ id: 'enc', type: 'Dense', params: { units: 32, activation: 'relu' } }, { id: 'dec', type: 'Dense', params: { units: 784, activation: 'sigmoid' } }], {
    training: { dataset: `npz:${npz}`, epochs: 2, split: { validation: 0.1, test: 0.3 } },
  });
  const trained = await run(JSON.stringify(graph), path.join(tmp, 'npz.latent.json'));
  assert.ok(trained.logs.some((l) => /brings its own test split \(300 samples\); validation is drawn from the other 1500/.test(l)), trained.logs.join('\n'));
  const config = parseRunJson('config', fs.readFileSync(path.join(trained.runDir, RUN_FILES.config), 'utf8'), 'config.json');
  assert.ok(config.ok);
  assert.deepEqual(config.value.split, { train: 1350, validation: 150, test: 300 });
  const result = await score(trained.runDir);
  assert.equal(result.indices.length, testN);
  assert.ok(result.indices.every((i) => i >= trainN), 'every scored test sample comes from x_test');
});

test('bad data stops the run before any run folder exists, with the sentence naming the file', async () => {
  const cases: { name: string; dataset: string; input: number[]; training?: Record<string, unknown>; make: () => void; re: RegExp }[] = [
    { name: 'empty folder', dataset: 'folder:empty', input: [8, 8, 3], make: () => fs.mkdirSync(path.join(tmp, 'bad', 'empty'), { recursive: true }), re: /empty: an empty folder: no images/ },
    {
      name: 'mixed sizes',
      dataset: 'folder:mixed',
      input: [8, 8, 3],
      make: () => {
        fs.mkdirSync(path.join(tmp, 'bad', 'mixed', 'a'), { recursive: true });
        fs.copyFileSync(path.join(SAMPLES_DIR, 'data', 'fashion-colour', 'Bag', '0000.png'), path.join(tmp, 'bad', 'mixed', 'a', 'x.png'));
      },
      re: /x\.png is 28x28 but the Input takes 8x8 images: set training\.resize/,
    },
    { name: 'npz without arrays', dataset: 'npz:bad.npz', input: [4], make: () => fs.writeFileSync(path.join(tmp, 'bad', 'bad.npz'), zipSync({ 'q.npy': new Uint8Array(dump(new Float32Array(8), [2, 4])), 'r.npy': new Uint8Array(dump(new Float32Array(2), [2])) })), re: /bad\.npz: missing its arrays/ },
    { name: 'csv cell', dataset: 'csv:cells.csv', input: [2], make: () => fs.writeFileSync(path.join(tmp, 'bad', 'cells.csv'), 'a,b\n1,2\n3,?\n'), re: /cells\.csv: non-numeric value "\?" at row 3, column 2 \("b"\)/ },
    { name: 'label column', dataset: 'csv:cells2.csv', input: [2], training: { labelColumn: 'kind' }, make: () => fs.writeFileSync(path.join(tmp, 'bad', 'cells2.csv'), 'a,b\n1,2\n'), re: /cells2\.csv: has no label column "kind"/ },
    { name: 'class name', dataset: 'csv:named.csv', input: [1], training: { classes: ['ok'] }, make: () => fs.writeFileSync(path.join(tmp, 'bad', 'named.csv'), 'a,label\n1,good\n2,bad\n'), re: /training\.classes names class "ok", which csv:named\.csv lacks: its classes are "bad", "good"/ },
    { name: 'bce on z-scores', dataset: 'csv:zs.csv', input: [2], training: { loss: 'binaryCrossentropy' }, make: () => fs.writeFileSync(path.join(tmp, 'bad', 'zs.csv'), 'a,b\n1,2\n3,5\n4,4\n'), re: /reconstructs its input with binaryCrossentropy, which needs targets in \[0, 1\], but normalize is "standard"/ },
    { name: 'table vs Input', dataset: 'csv:wide.csv', input: [3], make: () => fs.writeFileSync(path.join(tmp, 'bad', 'wide.csv'), 'a,b\n1,2\n'), re: /holds 2 features \(2 values each\) but the Input expects 3 \(3 values\): set the Input's shape to \[2\]\./ },
  ];
  for (const c of cases) {
    fs.mkdirSync(path.join(tmp, 'bad'), { recursive: true });
    c.make();
    const graph = chainGraph([{ id: 'd', type: 'Dense', params: { units: c.input.length === 1 ? c.input[0]! : 4, activation: 'linear' } }], {
      input: c.input,
      training: { dataset: c.dataset, loss: 'meanSquaredError', epochs: 1, ...c.training },
    });
    const before = fs.existsSync(runsDir) ? fs.readdirSync(runsDir).length : 0;
    await assert.rejects(run(JSON.stringify(c.input.length === 3 ? convGraph(c.input, c.dataset) : graph), path.join(tmp, 'bad', 'g.latent.json')), (e: unknown) => {
      assert.ok(e instanceof Error && c.re.test(e.message), `${c.name}: ${e instanceof Error ? e.message : String(e)}`);
      return true;
    });
    assert.equal(fs.existsSync(runsDir) ? fs.readdirSync(runsDir).length : 0, before, `${c.name}: no run folder is made`);
  }
});

/** A small conv autoencoder for an image Input. */
function convGraph(input: number[], dataset: string): Record<string, unknown> {
  return chainGraph([{ id: 'c', type: 'Conv2D', params: { filters: input[2]!, kernelSize: 3, padding: 'same', activation: 'sigmoid' } }], { input, training: { dataset, loss: 'meanSquaredError', epochs: 1 } });
}

before(() => fs.mkdirSync(runsDir, { recursive: true }));
