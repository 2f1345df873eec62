/**
 * The PyTorch engine from the command line, as a user runs it: export a sample as PyTorch, run the
 * generated train.py (alone, and under torchrun with 2 processes), read the run folder back in our
 * run format, evaluate it with `latent-studio evaluate` and with `train.py --evaluate` (the same
 * numbers), export a trained run's weights and evaluate those, and `latent-studio train --engine
 * pytorch`. Real MNIST throughout. Needs the built CLI (dist/cli.js) and a Python with torch
 * (skipped with the reason without one).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfusionFileSchema, PretrainingSchema, RunConfigSchema, RunStatusSchema, parseMetricsText } from '../../src/core/runFormat';
import { PytorchSession } from '../../src/run/pytorchEngine';
import { exportPytorch } from '../../src/run/pytorchExport';
import { snapshotFromRunFolder } from '../../src/run/panelSnapshot';
import type { FromWorker } from '../../src/core/protocol';
import { decodePng } from '../../src/train/png';
import * as tf from '../../src/backend/tf';
import { analyzeGraph } from '../../src/core/analyze';
import { compileGraph } from '../../src/compile/compile';
import { applyLayerWeights, loadCheckpoint } from '../../src/train/checkpoint';
import { loadModel } from '../../src/train/modelFiles';
import { runCommand, torchPython } from '../helpers/pytorch';
import { OVERFLOW_SENTENCE, writeOverflowingGraph } from '../helpers/overflow';
import { ROOT, SAMPLES_DIR } from '../helpers/samples';
import { ctrlCAtEpoch } from '../helpers/terminal';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-pytorch-cli-'));
let python: string | undefined;
let skipReason: string | undefined;

before(async () => {
  ({ python, skipReason } = await torchPython());
});

const run = (command: string, args: string[], cwd = tmp, timeout = 300_000) => runCommand(command, args, cwd, timeout);
const cli = (args: string[]) => run(process.execPath, [CLI, ...args]);
const py = (args: string[], cwd = tmp) => run(python!, args, cwd);
const sample = (name: string): string => path.join(SAMPLES_DIR, `${name}.latent.json`);

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** The run folder train.py wrote, read with our own schemas: what every reader of runs reads. */
function readRun(runDir: string) {
  const config = RunConfigSchema.parse(readJson(path.join(runDir, 'config.json')));
  const status = RunStatusSchema.parse(readJson(path.join(runDir, 'run.json')));
  const metrics = parseMetricsText(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8'), 'metrics.jsonl');
  assert.deepEqual(metrics.bad, [], 'every line of metrics.jsonl is an epoch record');
  return { config, status, epochs: metrics.records };
}

const relative = (a: number, b: number): number => Math.abs(a - b) / Math.max(1e-12, Math.abs(b));

describe('PyTorch engine from the command line', () => {
  let exportDir: string;
  let runDir: string;

  it('export --format pytorch writes model.py, train.py and the built-in dataset; train.py trains MNIST into a run folder in our format', (t) => {
    if (!python) return t.skip(skipReason);
    exportDir = path.join(tmp, 'dense');
    const exported = cli(['export', sample('dense-autoencoder'), '--format', 'pytorch', '--out', exportDir, '--json']);
    assert.equal(exported.code, 0, exported.stderr);
    const done = JSON.parse(exported.stdout) as { files: string[]; models: string[] };
    assert.deepEqual(done.files.map((f) => path.basename(f)).sort(), ['mnist.npz', 'model.py', 'tfjs-models.json', 'train.py']);
    assert.deepEqual(done.models, ['autoencoder', 'encoder', 'decoder']);
    assert.match(fs.readFileSync(path.join(exportDir, 'train.py'), 'utf8'), /written by Latent Studio \d+\.\d+\.\d+ from dense-autoencoder\.latent\.json/);

    const trained = py([path.join(exportDir, 'train.py'), '--epochs', '2', '--limit', '3000', '--out', path.join(tmp, 'runs'), '--device', 'cpu']);
    assert.equal(trained.code, 0, trained.stderr + trained.stdout);
    runDir = fs.readdirSync(path.join(tmp, 'runs')).map((d) => path.join(tmp, 'runs', d))[0]!;
    const { config, status, epochs } = readRun(runDir);
    assert.equal(config.engine, 'pytorch');
    assert.equal(config.worldSize, 1);
    assert.equal(config.device, 'cpu');
    assert.equal(config.backend.name, 'pytorch');
    assert.deepEqual(config.split, { train: 3000, validation: 1000, test: 2000 });
    assert.equal(status.status, 'completed');
    assert.deepEqual(epochs.map((e) => e.epoch), [0, 1, 2]);
    assert.ok(epochs[2]!.valLoss! < epochs[0]!.valLoss!, `validation loss did not drop: ${epochs.map((e) => e.valLoss).join(', ')}`);
    for (const f of ['graph.latent.json', 'normalization.json', 'reconstructions.png', 'model.pt', 'model/model.json', 'model/weights.bin', 'checkpoint/checkpoint.json']) assert.ok(fs.existsSync(path.join(runDir, f)), f);
  });

  it('latent-studio evaluate reads the PyTorch run, and train.py --evaluate gives the same test loss', (t) => {
    if (!python || !runDir) return t.skip(skipReason ?? 'no run');
    const ours = cli(['evaluate', '--run', runDir, '--json']);
    assert.equal(ours.code, 0, ours.stderr);
    const e = JSON.parse(ours.stdout) as { loss: number; samples: number; split: string };
    const theirs = py([path.join(exportDir, 'train.py'), '--evaluate', '--run', runDir, '--device', 'cpu']);
    assert.equal(theirs.code, 0, theirs.stderr);
    const p = JSON.parse(theirs.stdout.trim().split('\n').at(-1)!) as { loss: number; samples: number; split: string };
    assert.deepEqual([p.samples, p.split], [e.samples, e.split]);
    assert.ok(relative(p.loss, e.loss) <= 1e-4, `test loss: PyTorch ${p.loss}, tfjs ${e.loss}`);
  });

  it("model/ is the trained autoencoder in the TensorFlow.js layers format: it loads in tfjs and gives the checkpoint's outputs", async (t) => {
    if (!python || !runDir) return t.skip(skipReason ?? 'no run');
    await tf.setBackend('cpu');
    const loaded = await loadModel(path.join(runDir, 'model'));
    const analysis = analyzeGraph(JSON.parse(fs.readFileSync(path.join(runDir, 'graph.latent.json'), 'utf8')));
    const compiled = compileGraph(analysis);
    const ckpt = loadCheckpoint(runDir);
    try {
      applyLayerWeights(compiled, ckpt);
      const reference = compiled.models.get('autoencoder')!;
      assert.deepEqual(loaded.layers.map((l) => l.name), reference.layers.map((l) => l.name));
      assert.equal(loaded.countParams(), reference.countParams());
      const x = tf.tidy(() => tf.randomUniform([6, 784], 0, 1, 'float32', 3));
      const [a, b] = [loaded, reference].map((m) => (m.predict(x) as tf.Tensor).dataSync() as Float32Array);
      x.dispose();
      let worst = 0;
      for (let i = 0; i < a!.length; i++) worst = Math.max(worst, Math.abs(a![i]! - b![i]!));
      assert.equal(worst, 0, `model/ and the checkpoint differ by up to ${worst}`);
      // Not the untrained graph: the weights are the run's.
      const fresh = compileGraph(analysis, { seed: 1234 });
      assert.notDeepEqual(Array.from((fresh.models.get('autoencoder')!.getWeights()[0]!).dataSync().slice(0, 8)), Array.from(loaded.getWeights()[0]!.dataSync().slice(0, 8)));
      fresh.dispose();
    } finally {
      ckpt.dispose();
      compiled.dispose();
      loaded.dispose();
    }
  });

  it('Detect Anomalies, Predict, the inspect views and Export (tfjs) read the PyTorch run like any run', (t) => {
    if (!python || !runDir) return t.skip(skipReason ?? 'no run');
    const score = cli(['score', '--run', runDir, '--limit', '400', '--json']);
    assert.equal(score.code, 0, score.stderr);
    const scored = JSON.parse(score.stdout) as { samples: number; threshold: number };
    assert.equal(scored.samples, 400);
    assert.ok(scored.threshold > 0);
    for (const f of ['anomaly.json', 'scores.csv', 'worst.png']) assert.ok(fs.existsSync(path.join(runDir, f)), f);
    const predict = cli(['predict', '--run', runDir, '--count', '3', '--json']);
    assert.equal(predict.code, 0, predict.stderr);
    assert.match(predict.stdout, /"position":\s*2/);
    for (const what of ['weights', 'latent']) {
      const r = cli(['inspect', what, '--run', runDir, '--json', ...(what === 'latent' ? ['--limit', '200'] : [])]);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    }
    assert.ok(fs.existsSync(path.join(runDir, 'weights.png')) && fs.existsSync(path.join(runDir, 'latent.csv')));
    const exported = cli(['export', '--run', runDir, '--out', path.join(tmp, 'dense-tfjs'), '--json']);
    assert.equal(exported.code, 0, exported.stderr);
    assert.deepEqual((JSON.parse(exported.stdout) as { models: { name: string }[] }).models.map((m) => m.name), ['autoencoder', 'encoder', 'decoder']);
  });

  it('export --run carries the trained weights: the exported train.py --evaluate gives the run\'s test loss', (t) => {
    if (!python || !runDir) return t.skip(skipReason ?? 'no run');
    const out = path.join(tmp, 'with-weights');
    const exported = cli(['export', '--run', runDir, '--format', 'pytorch', '--out', out, '--json']);
    assert.equal(exported.code, 0, exported.stderr);
    assert.ok(fs.existsSync(path.join(out, 'weights.json')) && fs.existsSync(path.join(out, 'weights.bin')));
    const ours = JSON.parse(cli(['evaluate', '--run', runDir, '--json']).stdout) as { loss: number };
    const theirs = py([path.join(out, 'train.py'), '--evaluate', '--device', 'cpu']);
    assert.equal(theirs.code, 0, theirs.stderr);
    const p = JSON.parse(theirs.stdout.trim().split('\n').at(-1)!) as { loss: number };
    assert.ok(relative(p.loss, ours.loss) <= 1e-4, `test loss: exported ${p.loss}, run ${ours.loss}`);
    const again = cli(['export', '--run', runDir, '--format', 'pytorch', '--out', out]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exist/);
  });

  it('a table with standard normalisation: train.py and latent-studio evaluate agree on the test loss', (t) => {
    if (!python) return t.skip(skipReason);
    const out = path.join(tmp, 'tabular');
    assert.equal(cli(['export', sample('tabular-anomaly'), '--format', 'pytorch', '--out', out]).code, 0);
    const runs = path.join(tmp, 'tabular-runs');
    // --limit: the statistics come from 150 training rows, not from all of them.
    const trained = py([path.join(out, 'train.py'), '--epochs', '3', '--limit', '150', '--out', runs, '--device', 'cpu']);
    assert.equal(trained.code, 0, trained.stderr);
    const dir = path.join(runs, fs.readdirSync(runs)[0]!);
    const norm = readJson(path.join(dir, 'normalization.json')) as { method: string };
    assert.equal(norm.method, 'standard');
    const ours = cli(['evaluate', '--run', dir, '--json']);
    assert.equal(ours.code, 0, ours.stderr);
    const e = JSON.parse(ours.stdout) as { loss: number; metrics: Record<string, number> };
    const p = JSON.parse(py([path.join(out, 'train.py'), '--evaluate', '--run', dir, '--device', 'cpu']).stdout.trim().split('\n').at(-1)!) as { loss: number; metrics: Record<string, number> };
    assert.ok(relative(p.loss, e.loss) <= 1e-4, `test loss: PyTorch ${p.loss}, tfjs ${e.loss}`);
    assert.ok(relative(p.metrics.meanAbsoluteError!, e.metrics.meanAbsoluteError!) <= 1e-4, 'mean absolute error');
    // Exported with its weights, the script normalises with the run's statistics (normalization.json beside it).
    const withWeights = path.join(tmp, 'tabular-weights');
    assert.equal(cli(['export', '--run', dir, '--format', 'pytorch', '--out', withWeights]).code, 0);
    const q = JSON.parse(py([path.join(withWeights, 'train.py'), '--evaluate', '--device', 'cpu']).stdout.trim().split('\n').at(-1)!) as { loss: number };
    assert.ok(relative(q.loss, e.loss) <= 1e-4, `exported: ${q.loss}, run: ${e.loss}`);
  });

  it('Stop (SIGINT) ends after the running batch and keeps the last epoch; --resume continues with the run\'s own settings', async (t) => {
    if (!python || !exportDir) return t.skip(skipReason ?? 'no export');
    const runs = path.join(tmp, 'stop-runs');
    const { spawn } = await import('node:child_process');
    const child = spawn(python, [path.join(exportDir, 'train.py'), '--epochs', '3', '--limit', '2000', '--batch-size', '16', '--out', runs, '--device', 'cpu', '--json'], { cwd: tmp });
    let stdout = '';
    const ended = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/"event": "epoch".*"epoch": 1,/.test(stdout) && !child.killed) child.kill('SIGINT');
    });
    assert.equal(await ended, 0, stdout);
    const dir = path.join(runs, fs.readdirSync(runs)[0]!);
    const stopped = readRun(dir);
    assert.equal(stopped.status.status, 'stopped');
    const kept = stopped.status.epochsCompleted;
    assert.ok(kept >= 1 && kept < 3, `stopped after ${kept} epochs`);
    // Two resumes started together: one continues the run, the other says it is busy (the run folder's .lock).
    const resume = (): Promise<{ code: number; stderr: string }> =>
      new Promise((resolve) => {
        const c = spawn(python!, [path.join(exportDir!, 'train.py'), '--resume', dir, '--device', 'cpu'], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('close', (code) => resolve({ code: code ?? -1, stderr }));
      });
    const both = await Promise.all([resume(), resume()]);
    assert.deepEqual(both.map((r) => r.code).sort(), [0, 1], both.map((r) => r.stderr).join('\n'));
    assert.match(both.find((r) => r.code === 1)!.stderr, new RegExp(`${path.basename(dir)} is busy: resuming in process \\d+ since .*\\. Wait for it to end, or stop it`));
    assert.equal(fs.existsSync(path.join(dir, '.lock')), false, 'the claim is given back');
    const done = readRun(dir);
    assert.equal(done.status.status, 'completed');
    assert.deepEqual(done.epochs.map((e) => e.epoch), [0, 1, 2, 3], 'each epoch once, the resumed ones after the kept ones');
    assert.equal(done.config.resumes?.length, 1);
    assert.equal(done.config.overrides.batchSize, 16, 'the run kept its batch size');
    const again = py([path.join(exportDir, 'train.py'), '--resume', dir, '--device', 'cpu']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /finished all 3 epochs; nothing to resume/);
  });

  it('a loss that becomes NaN fails the run with the sentence, and run.json says so', (t) => {
    if (!python) return t.skip(skipReason);
    const graph = JSON.parse(fs.readFileSync(sample('dense-autoencoder'), 'utf8')) as { nodes: { id: string; params?: Record<string, unknown> }[]; training: Record<string, unknown> };
    for (const n of graph.nodes) if (n.params && 'stages' in n.params) (n.params.stages as Record<string, unknown>[]).forEach((s) => (s.activation = 'linear'));
    Object.assign(graph.training, { loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 100 });
    const file = path.join(tmp, 'exploding.latent.json');
    fs.writeFileSync(file, JSON.stringify(graph));
    const out = path.join(tmp, 'exploding');
    assert.equal(cli(['export', file, '--format', 'pytorch', '--out', out]).code, 0);
    const runs = path.join(tmp, 'nan-runs');
    const r = py([path.join(out, 'train.py'), '--epochs', '2', '--limit', '2000', '--out', runs, '--device', 'cpu']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The loss became (nan|inf|-inf) in stage "train", epoch 1.*lower the learning rate \(now 100\)/);
    const status = readRun(path.join(runs, fs.readdirSync(runs)[0]!)).status;
    assert.equal(status.status, 'failed');
    assert.match(status.error ?? '', /The loss became/);
  });

  it('a validation loss that is not finite fails before anything is recorded, with the tfjs engine\'s sentence', (t) => {
    if (!python) return t.skip(skipReason);
    const file = writeOverflowingGraph(tmp);
    const out = path.join(tmp, 'overflows');
    assert.equal(cli(['export', file, '--format', 'pytorch', '--out', out]).code, 0);
    const runs = path.join(tmp, 'overflow-runs');
    const r = py([path.join(out, 'train.py'), '--out', runs, '--device', 'cpu']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, OVERFLOW_SENTENCE);
    const dir = path.join(runs, fs.readdirSync(runs)[0]!);
    const status = RunStatusSchema.parse(readJson(path.join(dir, 'run.json')));
    assert.equal(status.status, 'failed');
    assert.match(status.error ?? '', /The validation loss is Infinity/);
    const metrics = path.join(dir, 'metrics.jsonl');
    assert.equal(fs.existsSync(metrics) ? fs.readFileSync(metrics, 'utf8').trim() : '', '', 'no epoch was recorded');
    assert.equal(fs.existsSync(path.join(dir, 'checkpoint')), false, 'nothing was checkpointed');
  });

  it("a denoising autoencoder's preview is noisy, reconstructed, clean (three rows, as the tfjs engine draws it)", (t) => {
    if (!python) return t.skip(skipReason);
    const out = path.join(tmp, 'denoising');
    assert.equal(cli(['export', sample('denoising-autoencoder'), '--format', 'pytorch', '--out', out]).code, 0);
    const runs = path.join(tmp, 'denoising-runs');
    const r = py([path.join(out, 'train.py'), '--epochs', '1', '--limit', '500', '--out', runs, '--device', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    const png = fs.readFileSync(path.join(runs, fs.readdirSync(runs)[0]!, 'reconstructions.png'));
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [10 * 56 + 11 * 2, 3 * 56 + 4 * 2]);
  });

  it('torchrun --nproc_per_node 2 (Gloo): the run completes, config.json records world size 2, the loss drops', (t) => {
    if (!python || !exportDir) return t.skip(skipReason ?? 'no export');
    const runs = path.join(tmp, 'ddp-runs');
    // --redirects/--tee 2: Debian's torch 1.13 on Python 3.11 fails with torchrun's default (see src/run/pytorchEngine.ts).
    const r = py(['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '--redirects', '2', '--tee', '2', path.join(exportDir, 'train.py'), '--epochs', '2', '--limit', '2000', '--out', runs, '--device', 'cpu']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const dirs = fs.readdirSync(runs);
    assert.equal(dirs.length, 1, 'rank 0 alone writes one run folder');
    const { config, status, epochs } = readRun(path.join(runs, dirs[0]!));
    assert.equal(config.worldSize, 2);
    assert.equal(status.status, 'completed');
    assert.deepEqual(epochs.map((e) => e.epoch), [0, 1, 2]);
    assert.ok(epochs[2]!.loss! < epochs[1]!.loss!, `training loss did not drop: ${epochs.map((e) => e.loss).join(', ')}`);
  });

  it('the stacked sample\'s layer-wise pipeline on real MNIST: the same steps as the tfjs engine, the same test accuracy band before and after fine-tuning', (t) => {
    if (!python) return t.skip(skipReason);
    // test/train/layerwise.test.ts' protocol, 5 epochs per step: 7 200 training images (800 held
    // out for validation), 2 000 test images, batch 32. Measured: 86.3 % / 94.3 % (PyTorch) and
    // 86.3 % / 93.2 % (tfjs, wasm) before / after fine-tuning.
    const dir = path.join(tmp, 'stacked');
    fs.mkdirSync(dir, { recursive: true });
    const graph = path.join(dir, 'stacked.latent.json');
    const text = fs.readFileSync(sample('stacked-autoencoder'), 'utf8').replace('"split": {"validation": 0.1, "test": 0.2}', '"split": {"validation": 0.08, "test": 0.2}');
    assert.match(text, /"validation": 0\.08/);
    fs.writeFileSync(graph, text);
    const exported = cli(['export', graph, '--format', 'pytorch', '--out', path.join(dir, 'code')]);
    assert.equal(exported.code, 0, exported.stderr);
    const args = ['--epochs', '5', '--batch-size', '32'];
    const pt = py([path.join(dir, 'code', 'train.py'), ...args, '--out', path.join(dir, 'pt'), '--device', 'cpu', '--json']);
    assert.equal(pt.code, 0, pt.stderr + pt.stdout);
    const tf = cli(['train', graph, ...args, '--out', path.join(dir, 'tf'), '--backend', 'wasm']);
    assert.equal(tf.code, 0, tf.stderr);
    const started = pt.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; stages?: { name: string; kind: string; epochs: number }[] }).find((e) => e.event === 'started');
    assert.deepEqual(started?.stages?.map((s) => [s.name, s.kind, s.epochs]), [['pretrain', 'layerwise', 15], ['fine-tune', 'fit', 5]], 'a layer-wise stage announces 5 epochs for each of its 3 steps');

    const engines = ['pt', 'tf'].map((name) => {
      const runDir = path.join(dir, name, fs.readdirSync(path.join(dir, name))[0]!);
      const { status, epochs } = readRun(runDir);
      const pretraining = PretrainingSchema.parse(readJson(path.join(runDir, 'pretraining.json')));
      return { name, runDir, status, epochs, pretraining };
    });
    const [p, f] = engines as [(typeof engines)[0], (typeof engines)[0]];
    // The same timeline: each step's label and epoch numbers, then fine-tuning from epoch 0.
    const steps = (e: typeof p) => e.epochs.map((r) => [r.stageIndex, r.stage, r.epoch]);
    assert.deepEqual(steps(p), steps(f));
    assert.deepEqual([...new Set(p.epochs.filter((r) => r.stageIndex === 0).map((r) => r.stage))], ['pretrain · layer 1 (784→128)', 'pretrain · layer 2 (128→64)', 'pretrain · softmax']);
    for (const e of engines) {
      assert.equal(e.status.status, 'completed', e.name);
      assert.equal(e.status.epochsCompleted, 20, e.name);
      for (const step of new Set(e.epochs.filter((r) => r.stageIndex === 0).map((r) => r.stage))) {
        const rs = e.epochs.filter((r) => r.stage === step);
        assert.ok(rs.at(-1)!.valLoss! < rs[0]!.valLoss!, `${e.name} ${step}: validation loss ${rs[0]!.valLoss} -> ${rs.at(-1)!.valLoss}`);
      }
      // Fine-tuning starts from the pretrained stack: its epoch 0 scores the softmax step's last epoch.
      const last = e.epochs.filter((r) => r.stage === 'pretrain · softmax').at(-1)!;
      const tune0 = e.epochs.find((r) => r.stageIndex === 1 && r.epoch === 0)!;
      assert.ok(Math.abs(tune0.metrics.valAccuracy! - last.metrics.valAccuracy!) < 1e-6, `${e.name}: fine-tuning starts from the pretrained weights`);
      const { before: b, after: a } = e.pretraining;
      assert.ok(a && a.testAccuracy! > b.testAccuracy!, `${e.name}: fine-tuning improves ${b.testAccuracy} -> ${a?.testAccuracy}`);
      assert.ok(b.testAccuracy! >= 0.8 && a.testAccuracy! >= 0.92, `${e.name}: test accuracy ${b.testAccuracy} before, ${a.testAccuracy} after fine-tuning`);
    }
    // One band: the engines start from different random weights, so within a few points, not equal.
    assert.ok(Math.abs(p.pretraining.before.testAccuracy! - f.pretraining.before.testAccuracy!) <= 0.04, `before fine-tuning: PyTorch ${p.pretraining.before.testAccuracy}, tfjs ${f.pretraining.before.testAccuracy}`);
    assert.ok(Math.abs(p.pretraining.after!.testAccuracy! - f.pretraining.after!.testAccuracy!) <= 0.02, `after fine-tuning: PyTorch ${p.pretraining.after!.testAccuracy}, tfjs ${f.pretraining.after!.testAccuracy}`);
    const classifierJson = readJson(path.join(p.runDir, 'model', 'model.json')) as { modelTopology: { config: { name: string } } };
    assert.equal(classifierJson.modelTopology.config.name, 'classifier', "model/ is the fine-tuned classifier, as the tfjs engine's");
    // The tfjs side reads the PyTorch run: evaluate gives the accuracy train.py recorded after fine-tuning.
    const ev = cli(['evaluate', '--run', p.runDir, '--json']);
    assert.equal(ev.code, 0, ev.stderr);
    const evaluation = JSON.parse(ev.stdout) as { metrics: { accuracy: number }; samples: number };
    assert.equal(evaluation.samples, 2000);
    assert.ok(Math.abs(evaluation.metrics.accuracy - p.pretraining.after!.testAccuracy!) < 1e-9, `evaluate: ${evaluation.metrics.accuracy}, train.py: ${p.pretraining.after!.testAccuracy}`);
  });

  it("a classifier stage's pictures: confusion.json and predictions.png as the tfjs engine writes them, the panel's classifier message live and from the folder", async (t) => {
    if (!python) return t.skip(skipReason);
    const graph = sample('autoencoder-classifier');
    const messages: FromWorker[] = [];
    const session = new PytorchSession({ graphText: fs.readFileSync(graph, 'utf8'), graphPath: graph, runsDir: path.join(tmp, 'classifier-pt'), epochs: 1, limitSamples: 1000, device: 'cpu', cacheDir: path.join(tmp, 'cache'), python: { option: python } }, { onMessage: (m) => messages.push(m) });
    const done = await session.result;
    const tf = cli(['train', graph, '--epochs', '1', '--limit', '1000', '--out', path.join(tmp, 'classifier-tf'), '--backend', 'wasm']);
    assert.equal(tf.code, 0, tf.stderr);
    const tfRun = path.join(tmp, 'classifier-tf', fs.readdirSync(path.join(tmp, 'classifier-tf'))[0]!);

    const [mine, theirs] = [done.runDir, tfRun].map((d) => ConfusionFileSchema.parse(readJson(path.join(d, 'confusion.json'))));
    assert.deepEqual([mine!.stage, mine!.stageIndex, mine!.epoch, mine!.outputId, mine!.samples], [theirs!.stage, theirs!.stageIndex, theirs!.epoch, theirs!.outputId, theirs!.samples]);
    assert.deepEqual(mine!.classNames, theirs!.classNames);
    assert.deepEqual(mine!.labels, theirs!.labels, 'the same preview images (the same split)');
    assert.equal(mine!.confusion.flat().reduce((a, b) => a + b, 0), mine!.samples, 'every validation sample is counted once');
    for (let r = 0; r < 10; r++) assert.equal(mine!.confusion[r]!.reduce((a, b) => a + b, 0), theirs!.confusion[r]!.reduce((a, b) => a + b, 0), `class ${r}: as many validation samples in both engines`);
    const diagonal = mine!.confusion.reduce((a, row, i) => a + row[i]!, 0);
    const record = readRun(done.runDir).epochs.find((r) => r.stageIndex === 1 && r.epoch === 1)!;
    assert.ok(Math.abs(diagonal / mine!.samples - record.metrics.valAccuracy!) < 1e-6, `the matrix's diagonal (${diagonal} of ${mine!.samples}) is the epoch's validation accuracy ${record.metrics.valAccuracy}`);
    assert.ok(mine!.confidence.every((c, i) => c > 0 && c <= 1 && Number.isInteger(mine!.predicted[i])));
    const [a, b] = [done.runDir, tfRun].map((d) => decodePng(fs.readFileSync(path.join(d, 'predictions.png'))));
    assert.deepEqual([a!.width, a!.height], [b!.width, b!.height], 'predictions.png: the same strip');

    // Live: the panel's classifier message, the strip that was written; after a reload: the same from the folder.
    const live = messages.filter((m) => m.type === 'classifier');
    assert.equal(live.length, 1);
    assert.ok(live[0]!.type === 'classifier');
    assert.deepEqual([live[0]!.stageIndex, live[0]!.epoch, live[0]!.outputId], [1, 1, 'classes']);
    assert.equal(live[0]!.preview.stripPngBase64, fs.readFileSync(path.join(done.runDir, 'predictions.png')).toString('base64'));
    assert.deepEqual(live[0]!.preview.confusion, mine!.confusion);
    const snapshot = snapshotFromRunFolder(done.runDir);
    assert.deepEqual(snapshot.classifier?.preview.labels, mine!.labels);
  });

  it('--stage and --init-from: an autoencoder stage alone, then the classifier from its run (the frozen encoder keeps its weights), as the tfjs engine runs them', (t) => {
    if (!python) return t.skip(skipReason);
    const graph = sample('autoencoder-classifier');
    const common = ['--epochs', '1', '--limit', '1000'];
    const train = (engine: 'pytorch' | 'tfjs', out: string, more: string[]) => {
      const r = cli(['train', graph, ...common, '--out', path.join(tmp, out), '--json', ...more, ...(engine === 'pytorch' ? ['--engine', 'pytorch', '--python', python!, '--device', 'cpu'] : ['--backend', 'wasm'])]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { runDir: string }).runDir;
    };
    const runs = (['pytorch', 'tfjs'] as const).map((engine) => {
      const first = train(engine, `stage-${engine}`, ['--stage', 'autoencoder']);
      const second = train(engine, `init-${engine}`, ['--stage', 'classifier', '--init-from', first]);
      return { engine, first: readRun(first), second: readRun(second), firstDir: first, secondDir: second };
    });
    const [pt, tf] = runs as [(typeof runs)[0], (typeof runs)[0]];
    const skips = (c: typeof pt.first.config) => c.stages.map((s) => [s.name, s.skipped ?? null]);
    assert.deepEqual(skips(pt.first.config), [['autoencoder', null], ['classifier', 'not selected with --stage']]);
    assert.deepEqual(skips(pt.first.config), skips(tf.first.config));
    assert.deepEqual(skips(pt.second.config), skips(tf.second.config));
    assert.deepEqual(pt.first.config.overrides.stages, ['autoencoder']);
    assert.equal(pt.second.config.initFrom, pt.firstDir);
    for (const r of runs) {
      assert.deepEqual([...new Set(r.first.epochs.map((e) => e.stage))], ['autoencoder'], `${r.engine}: the first run trains the autoencoder alone`);
      assert.deepEqual([...new Set(r.second.epochs.map((e) => e.stage))], ['classifier'], `${r.engine}: the second run trains the classifier alone`);
      // The classifier stage freezes encoder and bottleneck: they end as the first run left them.
      const weights = (dir: string) => {
        const meta = readJson(path.join(dir, 'checkpoint', 'checkpoint.json')) as { weightsFile: string; weights: { name: string; shape: number[] }[] };
        const bytes = fs.readFileSync(path.join(dir, 'checkpoint', meta.weightsFile));
        const out = new Map<string, string>();
        let offset = 0;
        for (const w of meta.weights) {
          const size = w.shape.reduce((a, b) => a * b, 1) * 4;
          out.set(w.name, bytes.subarray(offset, offset + size).toString('base64'));
          offset += size;
        }
        return out;
      };
      const [a, b] = [weights(r.firstDir), weights(r.secondDir)];
      const encoder = [...a.keys()].filter((k) => /^layer\/(encoder|bottleneck)/.test(k));
      assert.ok(encoder.length >= 2, `${r.engine}: the encoder has weights (${[...a.keys()].join(', ')})`);
      for (const k of encoder) assert.equal(b.get(k), a.get(k), `${r.engine}: ${k} started from the first run and stayed frozen`);
      const head = [...b.keys()].filter((k) => /^layer\/head/.test(k));
      assert.ok(head.length > 0 && head.some((k) => b.get(k) !== a.get(k)), `${r.engine}: the classifier head trained`);
    }
    const refused = cli(['train', graph, '--engine', 'pytorch', '--python', python!, '--stage', 'nope', ...common, '--out', path.join(tmp, 'stage-bad')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /has no stage "nope": its stages are "autoencoder", "classifier"/);
  });

  it('a train.py without tfjs-models.json beside it (code written without tfjs) trains, says why there is no model/, and writes none', async (t) => {
    if (!python) return t.skip(skipReason);
    const dir = path.join(tmp, 'no-topology');
    const done = await exportPytorch({ graphFile: sample('simple-autoencoder'), outDir: dir });
    assert.deepEqual(done.warnings, []);
    assert.ok(!fs.existsSync(path.join(dir, 'tfjs-models.json')));
    const r = py([path.join(dir, 'train.py'), '--epochs', '1', '--limit', '300', '--out', path.join(dir, 'runs'), '--device', 'cpu', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const logs = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; message?: string; runDir?: string });
    assert.ok(logs.some((e) => e.event === 'log' && /model\/ \(the TensorFlow\.js layers format\) is not written: tfjs-models\.json is not beside train\.py/.test(e.message ?? '')), 'the run says why');
    const runDir = logs.find((e) => e.event === 'done')!.runDir!;
    assert.equal(readRun(runDir).status.status, 'completed');
    assert.ok(fs.existsSync(path.join(runDir, 'model.pt')) && !fs.existsSync(path.join(runDir, 'model')));
    // A tfjs-models.json that does not fit the trained weights: the run still completes, and says why model/ is missing.
    const models = { format: 1, models: { autoencoder: { modelTopology: {}, weights: [{ name: 'x/kernel', key: 'layer/nope/0', shape: [1], dtype: 'float32' }] } } };
    fs.writeFileSync(path.join(dir, 'tfjs-models.json'), JSON.stringify(models));
    const bad = py([path.join(dir, 'train.py'), '--epochs', '1', '--limit', '300', '--out', path.join(dir, 'runs-bad'), '--device', 'cpu', '--json']);
    assert.equal(bad.code, 0, bad.stderr);
    assert.match(bad.stdout, /model\/ \(the TensorFlow\.js layers format\) was not written: .*x\/kernel/);
    const badRun = path.join(dir, 'runs-bad', fs.readdirSync(path.join(dir, 'runs-bad'))[0]!);
    assert.equal(readRun(badRun).status.status, 'completed');
    assert.ok(!fs.existsSync(path.join(badRun, 'model', 'model.json')));
    // A describe that fails is a warning, not a failed export.
    const warned = await exportPytorch({ graphFile: sample('simple-autoencoder'), outDir: path.join(tmp, 'warned'), describeModels: () => Promise.reject(new Error('the worker exited')) });
    assert.match(warned.warnings.join('\n'), /tfjs-models\.json was not written, so train\.py writes no model\/ .*: the worker exited/);
  });

  it('latent-studio train --engine pytorch: epochs as JSON lines, then the run folder', (t) => {
    if (!python) return t.skip(skipReason);
    const r = cli(['train', sample('dense-autoencoder'), '--engine', 'pytorch', '--python', python, '--device', 'cpu', '--epochs', '1', '--limit', '1000', '--out', path.join(tmp, 'engine-runs'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.slice(0, -1).map((l) => l.epoch), [0, 1]);
    assert.equal(lines[1]!.backend, 'pytorch');
    const last = lines.at(-1)!;
    assert.deepEqual([last.backend, last.stopped, last.epochsCompleted], ['pytorch', false, 1]);
    assert.ok(fs.existsSync(path.join(last.runDir as string, 'pytorch', 'train.py')), 'the code it trained with is in the run folder');
    const modelJson = readJson(path.join(last.runDir as string, 'model', 'model.json')) as { modelTopology: { config: { name: string } }; weightsManifest: { weights: unknown[] }[] };
    assert.equal(modelJson.modelTopology.config.name, 'autoencoder', 'model/ is the model the run trained, in the tfjs layers format');
    const bad = cli(['train', sample('dense-autoencoder'), '--engine', 'pytorch', '--python', path.join(tmp, 'no-python'), '--epochs', '1']);
    assert.equal(bad.code, 1);
  });

  it('Ctrl-C in a terminal reaches train.py and latent-studio both: once stops after the batch (one press, not two), twice aborts with exit 130 and a stopped run that resumes', async (t) => {
    if (!python) return t.skip(skipReason);
    const runs = path.join(tmp, 'terminal-runs');
    const args = ['train', sample('dense-autoencoder'), '--engine', 'pytorch', '--python', python, '--device', 'cpu', '--epochs', '3', '--limit', '2000', '--batch-size', '16', '--out', runs, '--json'];
    const slow = ['train', sample('conv-autoencoder'), '--engine', 'pytorch', '--python', python, '--device', 'cpu', '--epochs', '3', '--limit', '3000', '--batch-size', '500', '--out', runs, '--json'];
    const once = await ctrlCAtEpoch(args, tmp, 1, 1);
    assert.equal(once.code, 0, once.stderr);
    const onceDone = JSON.parse(once.stdout.trim().split('\n').at(-1)!) as { stopped: boolean; epochsCompleted: number };
    assert.equal(onceDone.stopped, true);
    assert.ok(onceDone.epochsCompleted >= 1 && onceDone.epochsCompleted < 3, `stopped after ${onceDone.epochsCompleted} epochs`);

    // Twice, 100 ms apart, while a long batch runs (conv, 500 samples a batch), just after epoch 2 is recorded:
    // its checkpoint may or may not be written yet; run.json then counts the one that is.
    const twice = await ctrlCAtEpoch(slow, tmp, 2, 2);
    assert.equal(twice.code, 130, twice.stderr);
    const last = twice.stderr.trim().split('\n').at(-1)!;
    assert.match(last, /^latent-studio: Aborted by the user before finishing: the run keeps its last completed epoch, and Resume continues from there\. \(latent-studio train --resume (.+)\)$/);
    const runDir = /--resume (.+)\)$/.exec(last)![1]!;
    const stopped = readRun(runDir);
    assert.equal(stopped.status.status, 'stopped');
    const checkpoint = readJson(path.join(runDir, 'checkpoint', 'checkpoint.json')) as { epochsCompleted: number };
    assert.equal(stopped.status.epochsCompleted, checkpoint.epochsCompleted, 'run.json counts the epochs its checkpoint holds');
    const resumed = cli(['train', '--resume', runDir, '--engine', 'pytorch', '--python', python, '--device', 'cpu', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout.trim().split('\n').at(-1)!) as { epochsCompleted: number }).epochsCompleted, 3);
  });
});
