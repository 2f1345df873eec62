/** The built `latent-studio` binary (dist/cli.js), run as a user would run it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, SAMPLES_DIR } from '../helpers/samples';
import { collect, ctrlCAtEpoch } from '../helpers/terminal';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-cli-'));

function cli(args: string[], cwd = tmp): { code: number; stdout: string; stderr: string } {
  assert.ok(fs.existsSync(CLI), 'dist/cli.js is missing: run `npm run build` first');
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const sample = (name: string): string => path.join(SAMPLES_DIR, `${name}.latent.json`);

test('summary prints a Keras-style table with totals', () => {
  const r = cli(['summary', sample('dense-autoencoder')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Model: "Dense autoencoder"/);
  assert.match(r.stdout, /bottleneck \(Dense\)\s+\(None, 16\)\s+528\s+yes/);
  assert.match(r.stdout, /Total params: 221,888\nTrainable params: 221,888\nNon-trainable params: 0/);
});

test('summary --json has layers, totalParams and trainableParams', () => {
  const r = cli(['summary', sample('fashion-conv-autoencoder'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { layers: { name: string; type: string; outputShape: (number | null)[]; params: number; trainable: boolean }[]; totalParams: number; trainableParams: number };
  assert.equal(s.totalParams, 3805);
  assert.equal(s.trainableParams, 3805);
  assert.deepEqual(s.layers.find((l) => l.name === 'encoder.5'), { name: 'encoder.5', type: 'MaxPooling2D', outputShape: [null, 4, 4, 4], params: 0, trainable: true });
  assert.deepEqual(Object.keys(s.layers[0]!), ['name', 'type', 'outputShape', 'params', 'trainable']);
});

test('summary --model --stage: one named model with the stage\'s trainable counts; --json lists every model', () => {
  const table = cli(['summary', sample('autoencoder-classifier'), '--model', 'classifier', '--stage', 'classifier']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^Model: "classifier" \(trainable as in stage "classifier"\)/);
  assert.match(table.stdout, /head \(Dense\)\s+\(None, 10\)\s+170\s+yes/);
  assert.match(table.stdout, /Total params: 111,514\nTrainable params: 170\nNon-trainable params: 111,344/);
  const json = cli(['summary', sample('autoencoder-classifier'), '--json']);
  const s = JSON.parse(json.stdout) as { totalParams: number; models: { name: string; totalParams: number; trainableParams: number }[] };
  assert.equal(s.totalParams, 222_058);
  assert.deepEqual(s.models.map((m) => [m.name, m.totalParams]), [['autoencoder', 221_888], ['encoder', 111_344], ['decoder', 110_544], ['classifier', 111_514]]);
  const bad = cli(['summary', sample('autoencoder-classifier'), '--model', 'decoderr']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /has no model "decoderr": its models are "autoencoder", "encoder", "decoder", "classifier"/);
});

test('validate: exit 0 without problems, exit 1 with every problem listed', () => {
  const ok = cli(['validate', sample('stacked-autoencoder')]);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /no problems \(109,386 parameters\)/);
  const file = path.join(tmp, 'broken.latent.json');
  fs.writeFileSync(file, JSON.stringify({ formatVersion: 1, name: 'b', nodes: [{ id: 'input', type: 'Input', params: { shape: [784] } }, { id: 'd', type: 'Dense', params: { units: 0 } }], edges: [{ from: 'input', to: 'd' }] }));
  const bad = cli(['validate', file]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /error: node "d": Dense "d": "units": must be at least 1\./);
  assert.match(bad.stdout, /no Output block/);
  const json = cli(['validate', file, '--json']);
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; problems: { nodeId?: string; path: unknown[] }[] };
  assert.equal(parsed.ok, false);
  assert.deepEqual(parsed.problems.find((p) => p.nodeId === 'd')!.path, ['nodes', 1, 'params', 'units']);
});

test('errors are one line on stderr with exit 1, no stack trace', () => {
  const file = path.join(tmp, 'syntax.latent.json');
  fs.writeFileSync(file, '{\n  "formatVersion": 1,\n  "name": \n}');
  for (const args of [['summary', file], ['summary', path.join(tmp, 'missing.latent.json')], ['train', sample('dense-autoencoder'), '--epochs', 'zero'], ['train', sample('dense-autoencoder'), '--backend', 'gpu'], ['frobnicate']]) {
    const r = cli(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')} printed:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  assert.match(cli(['summary', file]).stderr, /syntax\.latent\.json:4:1: invalid JSON: value expected/);
  assert.match(cli(['summary', path.join(tmp, 'missing.latent.json')]).stderr, /cannot read the graph file \(no such file\)/);
});

test('the variational sample summarizes like Keras (z_mean, z_log_var, z); generate errors are one line', () => {
  const r = cli(['summary', sample('variational-autoencoder')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /bottleneck\.z_mean \(Dense\)\s+\(None, 2\)\s+1,026\s+yes\nbottleneck\.z_log_var \(Dense\)\s+\(None, 2\)\s+1,026\s+yes\nbottleneck\.z \(Sampling\)\s+\(None, 2\)\s+0\s+yes/);
  assert.match(r.stdout, /Total params: 807,700/);
  assert.match(cli(['summary', sample('denoising-autoencoder')]).stdout, /noise \(GaussianNoise\)\s+\(None, 784\)\s+0/);
  for (const [args, message] of [
    [['generate', '--run', path.join(tmp, 'no-such-run')], /no-such-run: no such run folder/],
    [['generate', '--run', tmp, '--count', '500'], /--count must be at most 400/],
  ] as const) {
    const g = cli([...args]);
    assert.equal(g.code, 1, args.join(' '));
    assert.equal(g.stderr.trim().split('\n').length, 1, g.stderr);
    assert.match(g.stderr, message);
  }
});

test('train --json prints one object per epoch and a final {runDir, backend}; the run folder exists', () => {
  const r = cli(['train', sample('dense-autoencoder'), '--epochs', '2', '--limit', '600', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 4);
  for (const e of lines.slice(0, 3)) {
    for (const key of ['epoch', 'loss', 'valLoss', 'seconds', 'samplesPerSec', 'backend']) assert.ok(key in e, `missing ${key}`);
  }
  assert.deepEqual(lines.slice(0, 3).map((e) => e.epoch), [0, 1, 2]);
  const final = lines[3]!;
  assert.equal(final.backend, 'wasm');
  assert.equal(path.dirname(final.runDir as string), path.join(tmp, '.latent', 'runs'));
  for (const f of ['graph.latent.json', 'config.json', 'metrics.jsonl', 'run.json', 'reconstructions.png', 'model/model.json', 'model/weights.bin']) {
    assert.ok(fs.existsSync(path.join(final.runDir as string, f)), f);
  }
});

test('train refuses a backend that cannot load here, saying why', () => {
  const r = cli(['train', sample('dense-autoencoder'), '--epochs', '1', '--limit', '100', '--backend', 'tfjs-node']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /tfjs-node.*not installed/);
});

/** Run the CLI without waiting: `onLine` sees each stdout line as it comes (to send Ctrl-C mid-run). */
function cliAsync(args: string[], onLine: (line: string, child: ChildProcess) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, (line) => onLine(line, child), () => child.kill('SIGKILL'), 120_000);
}

test('two train --resume of one run started together: one resumes it, the other says it is busy; each epoch is recorded once', async () => {
  let interrupted = false;
  const first = await cliAsync(['train', sample('dense-autoencoder'), '--epochs', '4', '--limit', '500', '--json'], (line, child) => {
    if ((JSON.parse(line) as { epoch?: number }).epoch === 1 && !interrupted) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  assert.equal(first.code, 0, first.stderr);
  const runDir = (JSON.parse(first.stdout.trim().split('\n').at(-1)!) as { runDir: string }).runDir;
  const both = await Promise.all([0, 1].map(() => cliAsync(['train', '--resume', runDir, '--json'], () => undefined)));
  const winners = both.filter((r) => r.code === 0);
  assert.equal(winners.length, 1, both.map((r) => r.stderr).join('\n'));
  const loser = both.find((r) => r.code !== 0)!;
  assert.equal(loser.code, 1);
  assert.match(loser.stderr, new RegExp(`^latent-studio: ${path.basename(runDir)} is busy: resuming in process \\d+ since .*\\. Wait for it to end, or stop it\n$`));
  const epochs = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch);
  assert.deepEqual(epochs, [0, 1, 2, 3, 4], 'each epoch once');
  assert.equal(fs.existsSync(path.join(runDir, '.lock')), false, 'the claim is given back');
});

test('Ctrl-C, train --resume, evaluate and export: a classifier run from stop to exported models', async () => {
  // Ctrl-C once during the first stage's second epoch: stops there, keeping epoch 1.
  let interrupted = false;
  const first = await cliAsync(['train', sample('autoencoder-classifier'), '--epochs', '2', '--limit', '800', '--batch-size', '32', '--json'], (line, child) => {
    const r = JSON.parse(line) as { stage?: string; epoch?: number };
    if (r.stage === 'autoencoder' && r.epoch === 1 && !interrupted) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  assert.equal(first.code, 0, first.stderr);
  const firstLines = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const stopped = firstLines.at(-1)!;
  assert.deepEqual([stopped.stopped, stopped.epochsCompleted], [true, 1]);
  const runDir = stopped.runDir as string;

  // Resume with no graph argument: the run folder's snapshot; the rest of stage 1, then stage 2.
  const resumed = cli(['train', '--resume', runDir, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const lines = resumed.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.slice(0, -1).map((e) => [e.stage, e.epoch]), [['autoencoder', 2], ['classifier', 0], ['classifier', 1], ['classifier', 2]]);
  assert.deepEqual([lines.at(-1)!.runDir, lines.at(-1)!.stopped, lines.at(-1)!.epochsCompleted], [runDir, false, 4]);
  const again = cli(['train', '--resume', runDir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^latent-studio: .* finished all 4 epochs; nothing to resume\n$/);
  const noGraph = cli(['train', '--epochs', '1']);
  assert.equal(noGraph.code, 1);
  assert.match(noGraph.stderr, /train needs a graph file \(or --resume <runDir>/);

  const json = cli(['evaluate', '--run', runDir, '--limit', '400', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const e = JSON.parse(json.stdout) as { samples: number; loss: number; metrics: { accuracy: number }; split: string; classifier: { confusion: number[][]; stripPngBase64?: string }; file: string };
  assert.deepEqual([e.samples, e.split], [400, 'test']);
  assert.ok(Number.isFinite(e.loss));
  const diagonal = e.classifier.confusion.reduce((s, row, i) => s + row[i]!, 0);
  assert.equal(e.metrics.accuracy, diagonal / 400);
  assert.equal(e.classifier.stripPngBase64, undefined, 'pictures stay in evaluation.json');
  assert.equal(e.file, path.join(runDir, 'evaluation.json'));
  assert.ok(fs.existsSync(e.file));

  const text = cli(['evaluate', '--run', runDir, '--split', 'validation', '--limit', '300']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /validation split of MNIST.*: 300 samples/);
  assert.match(text.stdout, /loss \(categoricalCrossentropy\): \d+\.\d{6}/);
  assert.match(text.stdout, /accuracy: 0\.\d{6} \(\d+\.\d\d%\)/);
  assert.match(text.stdout, /confusion matrix \(rows: true class, columns: predicted\):\n\s+0\s+1\s+2\s+3\s+4\s+5\s+6\s+7\s+8\s+9\n\s+0(\s+\d+){10}\n/);
  const bad = cli(['evaluate', '--run', path.join(tmp, 'no-such-run')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no-such-run: no such run folder/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);

  const outDir = path.join(tmp, 'exported');
  const exported = cli(['export', '--run', runDir, '--out', outDir, '--json']);
  assert.equal(exported.code, 0, exported.stderr);
  const models = (JSON.parse(exported.stdout) as { models: { name: string; dir: string; outputShape: (number | null)[] }[] }).models;
  assert.deepEqual(models.map((m) => m.name), ['autoencoder', 'encoder', 'decoder', 'classifier']);
  assert.deepEqual(models.find((m) => m.name === 'encoder')!.outputShape, [null, 16]);
  for (const m of models) assert.ok(fs.existsSync(path.join(outDir, m.name, 'model.json')) && fs.existsSync(path.join(outDir, m.name, 'weights.bin')), m.name);
  const clash = cli(['export', '--run', runDir, '--out', outDir]);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /exported\/autoencoder already exists/);
  const overwrite = cli(['export', '--run', runDir, '--out', outDir, '--overwrite']);
  assert.equal(overwrite.code, 0, overwrite.stderr);
  assert.match(overwrite.stdout, /^encoder\s+\(None, 784\) -> \(None, 16\)\s+111,344 params/m);
});

test('score: anomaly scores of an autoencoder trained on two digits, per class; the graph\'s newest run is found without --run', () => {
  const graph = JSON.parse(fs.readFileSync(sample('dense-autoencoder'), 'utf8')) as { training: Record<string, unknown> };
  graph.training.classes = [0, 1];
  graph.training.optimizer = 'adam';
  graph.training.learningRate = 0.003;
  const file = path.join(tmp, 'zero-one.latent.json');
  fs.writeFileSync(file, JSON.stringify(graph));
  const trained = cli(['train', file, '--epochs', '2', '--limit', '1500', '--batch-size', '64', '--json']);
  assert.equal(trained.code, 0, trained.stderr);
  const runDir = (JSON.parse(trained.stdout.trim().split('\n').at(-1)!) as { runDir: string }).runDir;

  const r = cli(['score', file, '--worst', '8']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
  assert.match(r.stdout, /scored 2000 samples of the test split of MNIST/);
  assert.match(r.stdout, /threshold: \d\.\d+(e-\d+)? \(suggested: 99th percentile of the \d+ validation samples of the trained classes \(0, 1\)\)/);
  const flagged = /flagged: (\d+) of 2000 \(\d+\.\d%\) score above it/.exec(r.stdout);
  assert.ok(flagged, r.stdout);
  assert.match(r.stdout, /class\s+trained\s+samples\s+mean score\s+flagged\n\s+0\s+trained\s+\d+\s+\d\.\d{5}\s+\d+\.\d%\n\s+1\s+trained/);
  const rows = [...r.stdout.matchAll(/^\s+(\d)\s+(trained|held out)\s+(\d+)\s+(\d\.\d{5})\s+(\d+\.\d)%$/gm)].map((m) => ({ label: Number(m[1]), trained: m[2] === 'trained', samples: Number(m[3]), mean: Number(m[4]) }));
  assert.equal(rows.length, 10);
  assert.equal(rows.reduce((s, row) => s + row.samples, 0), 2000);
  assert.deepEqual(rows.filter((row) => row.trained).map((row) => row.label), [0, 1]);
  const heldOut = Math.min(...rows.filter((row) => !row.trained).map((row) => row.mean));
  assert.ok(rows.filter((row) => row.trained).every((row) => row.mean < heldOut), 'every held-out digit has a higher mean score than either trained digit');
  for (const f of ['scores.csv', 'anomaly.json', 'worst.png']) assert.match(r.stdout, new RegExp(`${f.replace('.', '\\.')}`));

  const json = cli(['score', '--run', runDir, '--split', 'validation', '--classes', 'trained', '--threshold', '0', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const j = JSON.parse(json.stdout) as { samples: number; threshold: number; suggestedThreshold: number; thresholdRule: string; flagged: number; perClass: { label: number; trained: boolean }[]; worst: unknown[]; files: Record<string, string> };
  assert.equal(j.threshold, 0);
  assert.equal(j.flagged, j.samples, 'every score is above 0');
  assert.equal(j.thresholdRule, 'given with --threshold');
  assert.ok(j.suggestedThreshold > 0);
  assert.deepEqual(j.perClass.map((c) => [c.label, c.trained]), [[0, true], [1, true]]);
  assert.equal(j.worst.length, 16);
  assert.deepEqual(Object.values(j.files), ['scores.csv', 'anomaly.json', 'worst.png'].map((f) => path.join(runDir, f)));

  for (const [args, message] of [
    [['score'], /score needs --run <dir> \(a run folder\), or a graph file/],
    [['score', sample('simple-autoencoder')], /simple-autoencoder\.latent\.json has no runs yet: train it first/],
    [['score', '--run', runDir, '--classes', 'some'], /--classes.*some.*(all|trained)/],
    [['score', '--run', runDir, '--worst', '500'], /--worst must be at most 100/],
  ] as const) {
    const bad = cli([...args]);
    assert.equal(bad.code, 1, args.join(' '));
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, message);
  }
});

test('train --stage and --init-from: the classifier trained on a frozen autoencoder run; predict and inspect it', () => {
  const first = cli(['train', sample('autoencoder-classifier'), '--stage', 'autoencoder', '--epochs', '1', '--limit', '600', '--json']);
  assert.equal(first.code, 0, first.stderr);
  const firstLines = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(firstLines.slice(0, -1).map((e) => [e.stage, e.epoch]), [['autoencoder', 0], ['autoencoder', 1]]);
  const aeRun = firstLines.at(-1)!.runDir as string;

  const second = cli(['train', sample('autoencoder-classifier'), '--stage', 'classifier', '--init-from', aeRun, '--epochs', '1', '--limit', '600']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /Stage "autoencoder" skipped: not selected with --stage\./);
  assert.match(second.stderr, /Started from .*: loaded 8 of 8 layers/);
  assert.match(second.stderr, /\[classifier\] epoch 1 /);
  assert.doesNotMatch(second.stderr, /\[autoencoder\] epoch/);
  const runDir = /Run folder: (.*)$/m.exec(second.stderr)![1]!;

  // `--stage all` (the README's form) trains every stage, as leaving the option out does.
  const all = cli(['train', sample('autoencoder-classifier'), '--stage', 'all', '--epochs', '1', '--limit', '300', '--json']);
  assert.equal(all.code, 0, all.stderr);
  const allLines = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(allLines.slice(0, -1).map((e) => [e.stage, e.epoch]), [['autoencoder', 0], ['autoencoder', 1], ['classifier', 0], ['classifier', 1]]);

  const bad = cli(['train', sample('autoencoder-classifier'), '--stage', 'decoder', '--epochs', '1']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /has no stage "decoder": its stages are "autoencoder", "classifier"/);

  const p = cli(['predict', '--run', runDir, '--positions', '0,5,17']);
  assert.equal(p.code, 0, p.stderr);
  const items = [...p.stdout.matchAll(/^\s+position (\d+) \(index \d+\): true (\d), predicted (\d)( \(wrong\))?\s+top 3: (\d) (0\.\d{3}), (\d) (0\.\d{3}), (\d) (0\.\d{3})$/gm)];
  assert.deepEqual(items.map((m) => Number(m[1])), [0, 5, 17], p.stdout);
  for (const m of items) {
    assert.equal(m[3], m[5], 'the predicted class is the most probable');
    assert.ok(Number(m[6]) >= Number(m[8]) && Number(m[8]) >= Number(m[10]));
  }
  assert.match(p.stdout, /\d+ of 3 right/);
  const outside = cli(['predict', '--run', runDir, '--positions', '0,2000']);
  assert.equal(outside.code, 1);
  assert.match(outside.stderr, /position 2000 is outside the test split \(2000 samples/);

  const w = cli(['inspect', 'weights', '--run', runDir]);
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /weights\.png: 128 of the 128 units of Dense layer "encoder\.0" as 28×28 tiles/);
  const l = cli(['inspect', 'latent', '--run', runDir, '--limit', '200', '--json']);
  assert.equal(l.code, 0, l.stderr);
  const latent = JSON.parse(l.stdout) as { codeSize: number; projection: string; explained: number[]; x: number[]; file: string; inputsBase64?: string };
  assert.deepEqual([latent.codeSize, latent.projection, latent.x.length, latent.inputsBase64], [16, 'pca', 200, undefined]);
  assert.ok(fs.existsSync(latent.file));
  const f = cli(['inspect', 'features', '--run', runDir]);
  assert.equal(f.code, 1);
  assert.match(f.stderr, /has no convolutional layers; feature maps need a Conv2D/);
  const what = cli(['inspect', 'biases', '--run', runDir]);
  assert.equal(what.code, 1);
  assert.match(what.stderr, /"biases" is not something to inspect: use weights, features or latent/);
});

test('train on bad own data exits 1 with the sentence naming the file, and writes no run folder', () => {
  const dir = path.join(tmp, 'own-data');
  fs.mkdirSync(path.join(dir, 'empty-folder'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'sensors.csv'), 'temperature,pressure,label\n20.5,101.3,normal\n21,,fault\n');
  const graph = path.join(dir, 'table.latent.json');
  fs.writeFileSync(
    graph,
    JSON.stringify({
      formatVersion: 1,
      name: 'table',
      nodes: [{ id: 'input', type: 'Input', params: { shape: [2] } }, { id: 'd', type: 'Dense', params: { units: 2, activation: 'linear' } }, { id: 'out', type: 'Output', params: { target: 'input' } }],
      edges: [{ from: 'input', to: 'd' }, { from: 'd', to: 'out' }],
      training: { dataset: 'csv:sensors.csv', loss: 'meanSquaredError', epochs: 1 },
    }),
  );
  const runs = path.join(dir, 'runs');
  for (const [args, message] of [
    [[], /sensors\.csv: empty value at row 3, column 2 \("pressure"\); fill it in or drop the row/],
    [['--data', 'folder:empty-folder'], /empty-folder: an empty folder: no images/],
    [['--label-column', 'outcome'], /sensors\.csv: has no label column "outcome" \(training\.labelColumn\)/],
    [['--data', 'npz:missing.npz'], /missing\.npz: file not found/],
  ] as const) {
    const r = cli(['train', graph, '--out', runs, ...args], dir);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim().split('\n').at(-1)!, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.ok(!fs.existsSync(runs) || fs.readdirSync(runs).length === 0, 'no run folder');
  }
});

test('the command line as a new user tries it: --version, paths against the current folder, one-line sentences', () => {
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const v = cli(['--version']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), version);

  // validate --json answers {ok: false, problems} for a file it cannot read or parse, so a script always gets JSON.
  const notJson = path.join(tmp, 'not-json.latent.json');
  fs.writeFileSync(notJson, '{"formatVersion": 1,');
  for (const [file, message] of [
    [path.join(tmp, 'absent.latent.json'), /^cannot read the graph file \(no such file\)$/],
    [notJson, /^invalid JSON at line 1, column 21: /],
  ] as const) {
    const r = cli(['validate', file, '--json']);
    assert.equal(r.code, 1);
    const parsed = JSON.parse(r.stdout) as { ok: boolean; problems: { severity: string; message: string; path: unknown[] }[] };
    assert.equal(parsed.ok, false);
    assert.equal(parsed.problems.length, 1);
    assert.equal(parsed.problems[0]!.severity, 'error');
    assert.match(parsed.problems[0]!.message, message);
  }

  // A relative --data path starts at the current folder, not at the graph's: the table sits here, the graph one folder down.
  const here = path.join(tmp, 'cwd-paths');
  fs.mkdirSync(path.join(here, 'graphs'), { recursive: true });
  const rows = ['a,b,label', ...Array.from({ length: 40 }, (_, i) => `${(i % 7) / 7},${(i % 5) / 5},${i % 2 ? 'x' : 'y'}`)];
  fs.writeFileSync(path.join(here, 'table.csv'), `${rows.join('\n')}\n`);
  const graph = path.join(here, 'graphs', 'table.latent.json');
  fs.writeFileSync(
    graph,
    JSON.stringify({
      formatVersion: 1,
      name: 'table',
      nodes: [{ id: 'input', type: 'Input', params: { shape: [2] } }, { id: 'd', type: 'Dense', params: { units: 2, activation: 'linear' } }, { id: 'out', type: 'Output', params: { target: 'input' } }],
      edges: [{ from: 'input', to: 'd' }, { from: 'd', to: 'out' }],
      training: { dataset: 'csv:table.csv', loss: 'meanSquaredError', epochs: 1 },
    }),
  );
  const runs = path.join(here, 'runs');
  const trained = cli(['train', 'graphs/table.latent.json', '--data', 'csv:table.csv', '--out', 'runs', '--json'], here);
  assert.equal(trained.code, 0, trained.stderr);
  const runDir = (JSON.parse(trained.stdout.trim().split('\n').at(-1)!) as { runDir: string }).runDir;
  assert.equal(path.dirname(runDir), runs, '--out is relative to the current folder too');
  const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { dataset?: unknown };
  assert.match(JSON.stringify(config), new RegExp(`csv:${path.join(here, 'table.csv').replace(/[/\\.]/g, '\\$&')}`));
  // The graph's own "csv:table.csv" starts at the graph's folder, where there is none.
  const own = cli(['train', 'graphs/table.latent.json', '--out', 'runs'], here);
  assert.equal(own.code, 1);
  assert.match(own.stderr, new RegExp(`${path.join(here, 'graphs', 'table.csv').replace(/[/\\.]/g, '\\$&')}: file not found`));
  const evaluated = cli(['evaluate', '--run', runDir, '--data', 'csv:missing.csv'], here);
  assert.equal(evaluated.code, 1);
  assert.match(evaluated.stderr, new RegExp(`${path.join(here, 'missing.csv').replace(/[/\\.]/g, '\\$&')}: file not found`));

  // Each of these is one line on stderr that names the cause.
  const severalErrors = path.join(tmp, 'several-errors.latent.json');
  fs.writeFileSync(severalErrors, JSON.stringify({ formatVersion: 1, name: 'b', nodes: [{ id: 'input', type: 'Input', params: { shape: [784] } }, { id: 'd', type: 'Dense', params: { units: 0 } }, { id: 'stray', type: 'Convolution', params: {} }], edges: [{ from: 'input', to: 'd' }] }));
  fs.mkdirSync(path.join(here, 'a-folder'), { recursive: true });
  fs.writeFileSync(path.join(here, 'a-file'), 'not a folder');
  const exportOut = path.join(here, 'export');
  assert.equal(cli(['export', sample('dense-autoencoder'), '--format', 'pytorch', '--out', exportOut]).code, 0);
  for (const [args, message] of [
    [['train', 'graphs/table.latent.json', '--data', 'cifar-10'], /--data.*Unknown dataset "cifar-10": not a built-in dataset, and no folder:, npz:, npy:, csv: or idx: prefix\. Use one of: mnist, fashion-mnist, folder:<dir>/],
    [['train', 'graphs/table.latent.json', '--data', 'csv:a-folder', '--out', 'runs'], /a-folder: is a folder, not a file$/],
    [['train', 'graphs/table.latent.json', '--data', 'npy:a-folder', '--out', 'runs'], /a-folder: is a folder, not a file$/],
    [['train', severalErrors], /several-errors\.latent\.json has 4 errors \(latent-studio validate .*several-errors\.latent\.json lists them all\); the first: node "d": .*Fix them before training\.$/],
    [['export', sample('dense-autoencoder'), '--format', 'pytorch', '--out', 'a-file/sub'], /a-file\/sub cannot be made: .*a-file is a file, not a folder: choose a folder to export into$/],
    [['train', 'graphs/table.latent.json', '--out', 'a-file/runs'], /--out: .*a-file is a file, not a folder/],
    [['export', sample('dense-autoencoder'), '--format', 'pytorch', '--out', exportOut], /model\.py, train\.py.* already exist in .*: choose another folder or add --overwrite to replace it$/],
    [['score', 'nowhere.latent.json'], /nowhere\.latent\.json: no such graph file/],
    [['predict', 'nowhere.latent.json'], /nowhere\.latent\.json: no such graph file/],
    [['inspect', 'weights', 'nowhere.latent.json'], /nowhere\.latent\.json: no such graph file/],
  ] as const) {
    const r = cli([...args], here);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => !/^Loading /.test(l));
    assert.equal(lines.length, 1, `${args.join(' ')} printed:\n${r.stderr}`);
    assert.match(lines[0]!, message, args.join(' '));
  }
  assert.ok(!fs.existsSync(path.join(here, 'a-file', 'runs')) && fs.readFileSync(path.join(here, 'a-file'), 'utf8') === 'not a folder', 'the file is untouched');
});

test('Ctrl-C in a terminal (the whole process group): once stops after the batch, twice aborts with exit 130; both leave a stopped run that resumes', async () => {
  const runs = path.join(tmp, 'terminal-runs');
  const args = ['train', sample('dense-autoencoder'), '--epochs', '3', '--limit', '2000', '--batch-size', '16', '--out', runs, '--json'];
  const slow = ['train', sample('conv-autoencoder'), '--epochs', '3', '--limit', '3000', '--batch-size', '500', '--out', runs, '--json'];
  const once = await ctrlCAtEpoch(args, tmp, 1, 1);
  assert.equal(once.code, 0, once.stderr);
  const onceDone = JSON.parse(once.stdout.trim().split('\n').at(-1)!) as { runDir: string; stopped: boolean; epochsCompleted: number };
  assert.deepEqual([onceDone.stopped, onceDone.epochsCompleted], [true, 1]);

  // Twice, 100 ms apart, while a long batch runs (conv, 500 samples a batch), just after epoch 2 is recorded:
  // its checkpoint may or may not be written yet; run.json then counts the one that is.
  const twice = await ctrlCAtEpoch(slow, tmp, 2, 2);
  assert.equal(twice.code, 130, twice.stderr);
  const last = twice.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^latent-studio: Aborted by the user before finishing: the run keeps its last completed epoch, and Resume continues from there\. \(latent-studio train --resume (.+)\)$/);
  const runDir = /--resume (.+)\)$/.exec(last)![1]!;
  const status = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { status: string; epochsCompleted: number; error?: string };
  assert.equal(status.status, 'stopped');
  const checkpoint = JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoint', 'checkpoint.json'), 'utf8')) as { epochsCompleted: number };
  assert.ok([1, 2].includes(checkpoint.epochsCompleted), `checkpoint after epoch ${checkpoint.epochsCompleted}`);
  assert.equal(status.epochsCompleted, checkpoint.epochsCompleted, 'run.json counts the epochs its checkpoint holds');
  assert.doesNotMatch(status.error ?? '', /vkCreateInstance|Vulkan/);
  const resumed = cli(['train', '--resume', runDir, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(JSON.parse(resumed.stdout.trim().split('\n').at(-1)!).epochsCompleted, 3);
});
