/**
 * `npm run bench`: training speed of the seed 000 dense and seed 003 conv autoencoders on every
 * backend, through the real training loop. Prints one JSON line per (model, backend):
 * {model, backend, batchSize, samplesPerSec, epochSeconds, peakRssMB, measuredSamples}; a backend
 * that cannot run here gets samplesPerSec null and the reason.
 *
 * Each pair runs in its own process: a tfjs backend is process-global and RSS must be per run.
 * Then one `panel-streaming` line (bench/streaming.ts): the live panel's cost and latency.
 * `npm run bench -- --streaming` runs that line alone.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BACKEND_NAMES, type BackendPreference, TrainRequestSchema } from '../src/core/protocol';
import { train } from '../src/train/trainer';
import { benchStreaming } from './streaming';

const MODELS = [
  { model: 'dense-autoencoder', batchSize: 256, batches: 16 },
  // Few batches: on the plain-JS cpu backend one conv batch takes tens of seconds.
  { model: 'fashion-conv-autoencoder', batchSize: 128, batches: 2 },
] as const;

interface BenchLine {
  model: string;
  backend: string;
  batchSize: number;
  samplesPerSec: number | null;
  epochSeconds: number | null;
  peakRssMB: number | null;
  measuredSamples: number;
  skipped?: string;
}

async function one(model: string, backend: BackendPreference, batchSize: number, batches: number): Promise<void> {
  const graphPath = path.join(__dirname, '..', 'samples', `${model}.latent.json`);
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-bench-'));
  let trainCount = 0;
  let samplesPerSec = 0;
  const request = TrainRequestSchema.parse({
    graphText: fs.readFileSync(graphPath, 'utf8'),
    graphPath,
    runsDir,
    epochs: 1,
    batchSize,
    backend,
    limitSamples: batchSize * batches,
    limitValidation: 64,
    batchProgressMs: 1_000_000,
  });
  try {
    await train(
      request,
      (m) => {
        if (m.type === 'epoch' && m.record.epoch === 1) samplesPerSec = m.record.samplesPerSec;
        if (m.type === 'started') trainCount = Number((JSON.parse(fs.readFileSync(path.join(m.runDir, 'config.json'), 'utf8')) as { split: { train: number } }).split.train);
      },
      { cancelled: false },
    );
    // The full epoch the sample would train: its train split without the benchmark's cap.
    const fullTrain = fullTrainCount(model);
    const line: BenchLine = {
      model,
      backend,
      batchSize,
      samplesPerSec: Math.round(samplesPerSec),
      epochSeconds: Math.round((fullTrain / samplesPerSec) * 10) / 10,
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      measuredSamples: trainCount,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  } finally {
    fs.rmSync(runsDir, { recursive: true, force: true });
  }
}

function fullTrainCount(model: string): number {
  const doc = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'samples', `${model}.latent.json`), 'utf8')) as { training: { dataset: string; split: { validation: number; test: number } } };
  const total = doc.training.dataset === 'fashion-mnist' ? 70_000 : 10_000;
  const { validation, test } = doc.training.split;
  return total - Math.round(total * validation) - Math.round(total * test);
}

async function main(): Promise<void> {
  const [flag, model, backend, batchSize, batches] = process.argv.slice(2);
  if (flag === '--streaming') {
    process.stdout.write(`${JSON.stringify(await benchStreaming())}\n`);
    return;
  }
  if (flag === '--one') {
    one(model!, backend as BackendPreference, Number(batchSize), Number(batches)).catch((e: unknown) => {
      process.stderr.write(`BENCH_SKIP ${(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ')}\n`);
      process.exit(2);
    });
    return;
  }
  for (const m of MODELS) {
    for (const b of BACKEND_NAMES) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--one', m.model, b, String(m.batchSize), String(m.batches)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const line = r.stdout.trim().split('\n').find((l) => l.startsWith('{'));
      if (r.status === 0 && line) {
        process.stdout.write(`${line}\n`);
      } else {
        const reason = /^BENCH_SKIP (.*)$/m.exec(r.stderr)?.[1] ?? `exit ${r.status}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
        const skipped: BenchLine = { model: m.model, backend: b, batchSize: m.batchSize, samplesPerSec: null, epochSeconds: null, peakRssMB: null, measuredSamples: 0, skipped: reason };
        process.stdout.write(`${JSON.stringify(skipped)}\n`);
      }
    }
  }
  // What the live panel costs the training, and how fast an epoch reaches it.
  process.stdout.write(`${JSON.stringify(await benchStreaming())}\n`);
}

void main();
