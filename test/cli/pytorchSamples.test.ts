/**
 * Every sample through the PyTorch engine as a user runs it: `latent-studio export --format
 * pytorch`, the generated `train.py --epochs 1 --limit …` on the sample's own data, the run folder
 * read back with our schemas, and `latent-studio evaluate --run` on it (the tfjs side reading the
 * PyTorch run). Needs the built CLI and a Python with torch (skipped with the reason without one).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunConfigSchema, RunStatusSchema, parseMetricsText } from '../../src/core/runFormat';
import { runCommand, torchPython } from '../helpers/pytorch';
import { ROOT, SAMPLES_DIR, SAMPLE_NAMES } from '../helpers/samples';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-pytorch-samples-'));
let python: string | undefined;
let skipReason: string | undefined;

before(async () => {
  ({ python, skipReason } = await torchPython());
});

const run = (command: string, args: string[]) => runCommand(command, args, tmp);

describe('every sample through the PyTorch engine', () => {
  for (const name of SAMPLE_NAMES) {
    it(`${name}: export, train.py --epochs 1, the run in our format, latent-studio evaluate on it`, (t) => {
      if (!python) return t.skip(skipReason);
      const out = path.join(tmp, name);
      const exported = run(process.execPath, [CLI, 'export', path.join(SAMPLES_DIR, `${name}.latent.json`), '--format', 'pytorch', '--out', out]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.ok(fs.existsSync(path.join(out, 'tfjs-models.json')), 'the models described by tfjs go along');
      const trained = run(python, [path.join(out, 'train.py'), '--epochs', '1', '--limit', '256', '--out', path.join(out, 'runs'), '--device', 'cpu', '--json']);
      assert.equal(trained.code, 0, trained.stderr + trained.stdout.slice(-2000));
      const events = trained.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; runDir?: string });
      const runDir = events.find((e) => e.event === 'done')?.runDir;
      assert.ok(runDir, 'train.py says where the run is');
      const config = RunConfigSchema.parse(JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')));
      const status = RunStatusSchema.parse(JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')));
      const metrics = parseMetricsText(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8'), 'metrics.jsonl');
      assert.deepEqual(metrics.bad, []);
      assert.equal(config.engine, 'pytorch');
      assert.equal(status.status, 'completed');
      assert.ok(metrics.records.some((r) => r.epoch >= 1 && r.loss !== null && Number.isFinite(r.loss)), 'a trained epoch with a finite loss');
      assert.ok(fs.existsSync(path.join(runDir, 'model', 'model.json')), 'model/ in the tfjs layers format');
      const evaluated = run(process.execPath, [CLI, 'evaluate', '--run', runDir, '--limit', '200', '--json']);
      assert.equal(evaluated.code, 0, evaluated.stderr);
      const e = JSON.parse(evaluated.stdout) as { loss: number; samples: number };
      assert.ok(Number.isFinite(e.loss) && e.samples > 0, `evaluate: ${evaluated.stdout}`);
    });
  }
});
