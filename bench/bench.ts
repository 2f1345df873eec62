/**
 * `npm run bench`: training speed of the seed 000 dense and seed 003 conv autoencoders on every
 * backend, through the real training loop (src/train/trainer.ts train()). Prints one JSON line per
 * (model, backend): {model, backend, batchSize, samplesPerSec, epochSeconds, peakRssMB, ...}; a
 * backend that cannot run here gets samplesPerSec null and the reason.
 *
 * Each pair runs in its own process: a tfjs backend is process-global and RSS must be per run.
 * Epoch 1 of each run is warm-up (wasm compile, first use of every kernel, dataset paging in) and is
 * not measured; samplesPerSec is over the epochs after it (see docs/benchmarks.md, "Method").
 *
 * `--compare-pytorch` also runs bench/pytorch_bench.py (the same two models in PyTorch eager) when
 * `import torch` works, and prints {model, backend, ratioToPytorch} per backend that ran.
 * Then one `panel-streaming` line (bench/streaming.ts): the live panel's cost and latency, and the
 * own-data lines (bench/ownData.ts: an image folder and an NPZ, decoded, loaded, trained in memory
 * and streamed from disk; `--own-data` runs them alone, `--skip-own-data` leaves them out).
 * Finally docs/benchmarks.md is rewritten with the machine, date, table and targets (`--no-docs`
 * leaves it alone). `npm run bench -- --streaming` runs the streaming line alone; `--help` lists
 * the rest.
 */
import { benchPytorchEngine, pytorchEngineSection } from './pytorchEngine';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TrainRequestSchema } from '../src/core/protocol';
import { BACKEND_NAMES } from '../src/core/backends';
import { train } from '../src/train/trainer';
import { OWN_DATA_CASES, type OwnDataCase, benchOwnData, runOwnDataCase } from './ownData';
import { benchStreaming } from './streaming';
import { type ProductPathLine, benchProductPath, productPathSection } from './productPath';
import { type DatasetCacheLine, benchDatasetCache, datasetCacheSection } from './datasetCache';
import { type EditorLine, benchEditor, editorSection } from './editor';
import { type StartupLine, benchStartup, readStartupBaseline, startupSection } from './startup';

type Backend = (typeof BACKEND_NAMES)[number];

interface ModelSpec {
  model: string;
  seed: string;
  batchSize: number;
  /** Batches per epoch (limitSamples = batchSize × batches); the run is 1 warm-up + `--epochs` epochs. */
  batches: number;
}

export const MODELS: readonly ModelSpec[] = [
  { model: 'dense-autoencoder', seed: '000', batchSize: 256, batches: 24 },
  { model: 'fashion-conv-autoencoder', seed: '003', batchSize: 128, batches: 16 },
];
const GPU_BACKENDS: readonly Backend[] = ['tfjs-node-gpu', 'webgpu'];
const ROOT = path.join(__dirname, '..');
const DEFAULT_DOCS = path.join(ROOT, 'docs', 'benchmarks.md');
/** The issue's targets: tfjs samples/s as a fraction of PyTorch eager's on the same machine. */
const TARGET_CPU = 1 / 2;
const TARGET_GPU = 1 / 3;
/** The issue's reference: PyTorch eager, 2 threads, on a 2-core CPU (samples/s). */
const ISSUE_PYTORCH: Record<string, number> = { 'dense-autoencoder': 3052, 'fashion-conv-autoencoder': 3569 };

interface BenchLine {
  model: string;
  backend: Backend;
  batchSize: number;
  samplesPerSec: number | null;
  epochSeconds: number | null;
  peakRssMB: number | null;
  /** The sample's whole training split, which epochSeconds is for. */
  epochSamples?: number;
  /** Samples trained in the measured epochs (warm-up excluded). */
  measuredSamples: number;
  measuredEpochs?: number;
  /** Samples/s of the unmeasured warm-up epoch, to show what it would have cost the number. */
  warmupSamplesPerSec?: number;
  backendDetail?: string;
  skipped?: string;
}

interface PytorchLine {
  model: string;
  engine: 'pytorch';
  device: string;
  threads: number;
  batchSize: number;
  samplesPerSec: number;
  torchVersion?: string;
  blas?: string;
}

interface RatioLine {
  model: string;
  backend: Backend;
  ratioToPytorch: number;
  pytorchDevice: string;
}

interface ChildSpec {
  model: string;
  backend: Backend;
  batchSize: number;
  batches: number;
  epochs: number;
  maxBatchSeconds: number;
}

const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;
const emit = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

// ---------------------------------------------------------------------------------------------
// One (model, backend) pair, in its own process.

class Skip extends Error {}

async function one(spec: ChildSpec): Promise<BenchLine> {
  const graphPath = path.join(ROOT, 'samples', `${spec.model}.latent.json`);
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-bench-'));
  const maxBatchMs = spec.maxBatchSeconds * 1000;
  const cancel = { cancelled: false };
  let trainCount = 0;
  let fullTrain = 0;
  let backendDetail = '';
  let epochStart = 0;
  let tooSlow: string | undefined;
  let warmup: number | undefined;
  const measured: { samples: number; seconds: number }[] = [];
  const slow = (perBatchMs: number): void => {
    if (maxBatchMs <= 0 || perBatchMs <= maxBatchMs) return;
    tooSlow =
      `one batch of ${spec.batchSize} takes ${round(perBatchMs / 1000, 1)} s on ${spec.backend} (over --max-batch-seconds ${spec.maxBatchSeconds}; ` +
      `a full epoch would take ~${round((fullTrain / spec.batchSize) * (perBatchMs / 3_600_000), 1)} h): pass --max-batch-seconds 0 to measure it anyway`;
    cancel.cancelled = true;
  };
  const request = TrainRequestSchema.parse({
    graphText: fs.readFileSync(graphPath, 'utf8'),
    graphPath,
    runsDir,
    epochs: 1 + spec.epochs,
    batchSize: spec.batchSize,
    backend: spec.backend,
    limitSamples: spec.batchSize * spec.batches,
    limitValidation: 64,
    // A loss read-back at most every max-batch-seconds (none otherwise until the epoch's end): it
    // tells the probe below how far the warm-up epoch got, and costs nothing measurable.
    batchProgressMs: maxBatchMs > 0 ? maxBatchMs : 1_000_000_000,
  });
  try {
    await train(
      request,
      (m) => {
        if (m.type === 'started') {
          trainCount = m.dataset.train;
          fullTrain = fullTrainCount(m.runDir, request.graphText);
          backendDetail = m.backend.tfBackend === m.backend.name ? m.backend.detail : `${m.backend.tfBackend}: ${m.backend.detail}`;
        } else if (m.type === 'batch' && m.epoch === 1) {
          // Probe: a pair whose batches take longer than the limit is stopped and skipped.
          slow((performance.now() - epochStart) / m.batch);
        } else if (m.type === 'epoch') {
          const r = m.record;
          if (r.epoch === 0) epochStart = performance.now();
          else if (r.epoch === 1) {
            warmup = r.samplesPerSec;
            slow((r.seconds * 1000) / Math.ceil(trainCount / spec.batchSize));
          } else measured.push({ samples: r.samplesPerSec * r.seconds, seconds: r.seconds });
        }
      },
      cancel,
    );
  } finally {
    fs.rmSync(runsDir, { recursive: true, force: true });
  }
  if (tooSlow) throw new Skip(tooSlow);
  const samples = measured.reduce((a, e) => a + e.samples, 0);
  const seconds = measured.reduce((a, e) => a + e.seconds, 0);
  if (!(seconds > 0)) throw new Error('no measured epoch completed');
  const samplesPerSec = samples / seconds;
  return {
    model: spec.model,
    backend: spec.backend,
    batchSize: spec.batchSize,
    samplesPerSec: Math.round(samplesPerSec),
    // The full epoch the sample would train: its train split without the benchmark's cap.
    epochSeconds: round(fullTrain / samplesPerSec, 1),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    epochSamples: fullTrain,
    measuredSamples: Math.round(samples),
    measuredEpochs: measured.length,
    warmupSamplesPerSec: warmup === undefined ? undefined : Math.round(warmup),
    backendDetail,
  };
}

/** The sample's whole training split: the run's dataset size less the graph's validation and test fractions. */
function fullTrainCount(runDir: string, graphText: string): number {
  const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { dataset: { count: number } };
  const { validation, test } = (JSON.parse(graphText) as { training: { split: { validation: number; test: number } } }).training.split;
  const { count } = config.dataset;
  return count - Math.round(count * validation) - Math.round(count * test);
}

function runChild(spec: ChildSpec): BenchLine {
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', JSON.stringify(spec)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = r.stdout.trim().split('\n').find((l) => l.startsWith('{'));
  if (r.status === 0 && line) return JSON.parse(line) as BenchLine;
  const reason = /^BENCH_SKIP (.*)$/m.exec(r.stderr)?.[1] ?? `exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
  return { model: spec.model, backend: spec.backend, batchSize: spec.batchSize, samplesPerSec: null, epochSeconds: null, peakRssMB: null, measuredSamples: 0, skipped: reason };
}

// ---------------------------------------------------------------------------------------------
// PyTorch.

/** Debian's python3-torch installs into /usr/bin/python3, which need not be the python3 on PATH. */
const PYTHONS = ['/usr/bin/python3', 'python3'];

function findTorchPython(pythons: readonly string[]): { python: string; version: string } | { reason: string } {
  const tried: string[] = [];
  for (const python of pythons) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
    const why = r.error ? (r.error as NodeJS.ErrnoException).code ?? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    tried.push(`${python}: ${why}`);
  }
  return { reason: `import torch failed (${tried.join('; ')}); on Debian: apt-get install python3-torch` };
}

function runPytorch(python: string, models: readonly string[], device: string, threads: number | undefined): { lines: PytorchLine[]; error?: string } {
  const args = [path.join(__dirname, 'pytorch_bench.py'), '--device', device, ...models.flatMap((m) => ['--model', m])];
  if (threads) args.push('--threads', String(threads));
  const r = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as PytorchLine);
  return r.status === 0 ? { lines } : { lines, error: `${python} bench/pytorch_bench.py exited ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').pop() ?? ''}` };
}

/** The PyTorch line a backend is compared with: CUDA for GPU backends when it ran, else CPU. */
function pytorchFor(lines: readonly PytorchLine[], model: string, backend: Backend): PytorchLine | undefined {
  const cuda = lines.find((l) => l.model === model && l.device === 'cuda');
  const cpu = lines.find((l) => l.model === model && l.device === 'cpu');
  return GPU_BACKENDS.includes(backend) ? (cuda ?? cpu) : cpu;
}

// ---------------------------------------------------------------------------------------------
// docs/benchmarks.md

interface Machine {
  cpu: string;
  cores: number;
  ramGB: number;
  os: string;
  node: string;
  tfjs: string;
  torch?: string;
  blas?: string;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
}

function machine(): Machine {
  let distro = '';
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    // Not Linux: os.type() and release say enough.
  }
  let cpu = os.cpus()[0]?.model.trim() ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // Not Linux: os.cpus() has it.
  }
  const tfjsPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'package.json'), 'utf8')) as { version: string };
  return {
    cpu,
    cores: os.availableParallelism(),
    ramGB: round(os.totalmem() / 2 ** 30, 1),
    os: `${distro ? `${distro}, ` : ''}${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    tfjs: tfjsPkg.version,
    loadAvgStart: os.loadavg().map((x) => round(x, 2)),
  };
}

const fmt = (x: number | null | undefined, digits = 0): string =>
  x === null || x === undefined ? '—' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function targetRows(results: readonly BenchLine[], ratios: readonly RatioLine[], pytorch: readonly PytorchLine[], models: readonly string[], compared: boolean): string[] {
  const rows: string[] = [];
  for (const [label, backends, target, device] of [
    ['CPU', BACKEND_NAMES.filter((b) => !GPU_BACKENDS.includes(b)), TARGET_CPU, 'cpu'],
    ['GPU (H100)', GPU_BACKENDS, TARGET_GPU, 'cuda'],
  ] as const) {
    for (const model of models) {
      const ran = results.filter((r) => r.model === model && (backends as readonly Backend[]).includes(r.backend) && r.samplesPerSec !== null);
      const best = ran
        .map((r) => ({ r, ratio: ratios.find((x) => x.model === model && x.backend === r.backend && x.pytorchDevice === device) }))
        .filter((x) => x.ratio !== undefined)
        .sort((a, b) => b.ratio!.ratioToPytorch - a.ratio!.ratioToPytorch)[0];
      const goal = `≥ ${target === TARGET_CPU ? '1/2' : '1/3'} of PyTorch eager`;
      let verdict: string;
      if (best) verdict = `${best.ratio!.ratioToPytorch >= target ? '**met**' : '**not met**'}: ${best.r.backend} ${fmt(best.r.samplesPerSec)} vs PyTorch ${fmt(pytorchFor(pytorch, model, best.r.backend)?.samplesPerSec)} samples/s = ${fmt(best.ratio!.ratioToPytorch, 2)}`;
      else if (!compared) verdict = 'not measured: run with `--compare-pytorch`';
      else if (ran.length === 0) verdict = `not measured: no ${label === 'CPU' ? 'CPU' : 'GPU'} backend ran here`;
      else verdict = `not measured: no PyTorch ${device} result on this machine`;
      rows.push(`| ${label} | ${model} | ${goal} | ${verdict} |`);
    }
  }
  return rows;
}

/** The own-data lines as a section (bench/ownData.ts). */
function ownDataSection(lines: readonly Record<string, unknown>[] | undefined): string[] {
  if (!lines) return ['## Your own data', '', 'Not measured in this run (`--skip-own-data`).', ''];
  const by = (name: string): Record<string, unknown> | undefined => lines.find((l) => l.bench === name);
  const n = (v: unknown, d = 0): string => (typeof v === 'number' ? fmt(v, d) : '—');
  const L = ['## Your own data', '', 'bench/ownData.ts: a generated folder of 20,000 PNG files of 64×64×3 and a 60,000×64×64×3 uint8 NPZ; one epoch of a small dense autoencoder (Flatten, Dense 16, Dense 12,288) on wasm over the training split, its values in memory or streamed from disk with a 64 MB budget (second epoch; the first warms up). Each line is its own process.', ''];
  const decode = by('own-data-folder-decode');
  const load = by('own-data-npz-load');
  if (decode) L.push(`- Folder decode (sharp, into the decode cache): ${n(decode.images)} images in ${n(decode.seconds, 1)} s = **${n(decode.imagesPerSec)} images/s**, peak RSS ${n(decode.peakRssMB)} MB for ${n(decode.datasetMB)} MB of images.`);
  if (load) L.push(`- NPZ load into memory: ${n(load.datasetMB)} MB in ${n(load.seconds, 1)} s = ${n(load.mbPerSec)} MB/s; peak RSS ${n(load.peakRssMB)} MB = the dataset + ${n(load.rssOverDatasetMB)} MB (target: under 1,024 MB over: ${typeof load.rssOverDatasetMB === 'number' ? (load.rssOverDatasetMB < 1024 ? 'met' : 'not met') : '—'}).`);
  L.push('', '| Data | Values | Train samples | Samples/s | Epoch s | Peak RSS MB | Dataset MB |', '|---|---|---:|---:|---:|---:|---:|');
  for (const data of ['folder', 'npz']) {
    for (const mode of ['memory', 'streamed']) {
      const l = by(`own-data-${data}-epoch-${mode}`);
      if (!l) continue;
      L.push(`| ${data} | ${mode === 'memory' ? 'in memory' : `streamed (${n(l.memoryBudgetMB)} MB budget)`} | ${n(l.trainSamples)} | ${l.error ? `error: ${String(l.error)}` : n(l.samplesPerSec)} | ${n(l.epochSeconds, 1)} | ${n(l.peakRssMB)} | ${n(l.datasetMB)} |`);
    }
  }
  L.push('');
  for (const data of ['folder', 'npz']) {
    const r = by(`own-data-${data}-streamed-vs-memory`);
    if (r) L.push(`- ${data}: streamed / in memory = ${n(r.ratio, 3)} (target ≥ 0.9: ${typeof r.ratio === 'number' && r.ratio >= 0.9 ? 'met' : 'not met'}).`);
  }
  L.push('');
  return L;
}

/** Replaces one `## ` section of the report (or adds it before Method), leaving the rest as the last full run wrote it. */
function updateSection(file: string, section: readonly string[]): void {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const title = section[0]!;
  const lines = text.split('\n');
  const start = lines.indexOf(title);
  const next = (from: number): number => {
    const i = lines.findIndex((l, k) => k > from && l.startsWith('## '));
    return i < 0 ? lines.length : i;
  };
  if (start >= 0) lines.splice(start, next(start) - start, ...section);
  else {
    const method = lines.indexOf('## Method');
    lines.splice(method < 0 ? lines.length : method, 0, ...section);
  }
  fs.writeFileSync(file, lines.join('\n'));
}

function writeDocs(file: string, m: Machine, command: string, results: readonly BenchLine[], pytorch: readonly PytorchLine[], ratios: readonly RatioLine[], pytorchNote: string | undefined, streaming: Record<string, unknown> | undefined, opts: { epochs: number; maxBatchSeconds: number; models: readonly ModelSpec[] }, ownData?: readonly Record<string, unknown>[], productPath?: readonly ProductPathLine[]): void {
  const now = new Date();
  const models = [...new Set(results.map((r) => r.model))];
  const L: string[] = [];
  L.push('# Benchmarks', '');
  L.push(`Written by \`${command}\` on ${now.toISOString().slice(0, 10)} (${now.toISOString()}); rerun it to regenerate this file.`, '');
  L.push('## Machine', '');
  L.push('| | |', '|---|---|');
  L.push(`| CPU | ${m.cpu} |`, `| Cores | ${m.cores} |`, `| RAM | ${fmt(m.ramGB, 1)} GiB |`, `| OS | ${m.os} |`, `| Node | ${m.node} |`, `| TensorFlow.js | ${m.tfjs} |`);
  if (m.torch) L.push(`| PyTorch | ${m.torch}${m.blas ? ` (BLAS: ${m.blas})` : ''} |`);
  L.push(`| Load average (1/5/15 min) at start / end | ${m.loadAvgStart.join(' ')} / ${m.loadAvgEnd?.join(' ') ?? '—'} (the end includes this benchmark's own threads) |`, '');
  // Only the start says whether other work was running: by the end the benchmark's own threads are in the average.
  const busy = m.loadAvgStart[0] ?? 0;
  if (busy > m.cores / 2) L.push(`**Busy machine:** a 1-minute load average of ${fmt(busy, 1)} on ${m.cores} cores before the benchmark started; other work shared the CPU, so treat every number below as rough.`, '');
  L.push('## Training speed', '');
  const epochSizes = models.map((x) => ({ x, n: results.find((r) => r.model === x && r.epochSamples)?.epochSamples })).filter((e) => e.n);
  L.push(`Samples per second of the training loop, warm-up excluded (see Method). Epoch s: one full epoch of the sample's training split${epochSizes.length ? ` (${epochSizes.map((e) => `${e.x}: ${fmt(e.n)} samples`).join(', ')})` : ''} at that speed.`, '');
  L.push('| Model | Backend | Batch | Samples/s | Epoch s | Peak RSS MB | PyTorch samples/s | Ratio to PyTorch |', '|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const ratio = ratios.find((x) => x.model === r.model && x.backend === r.backend);
    const pt = pytorchFor(pytorch, r.model, r.backend);
    if (r.samplesPerSec === null) {
      L.push(`| ${r.model} | ${r.backend} | ${r.batchSize} | skipped: ${(r.skipped ?? '').replace(/\. Usable here:.*$/, '.').replace(/\|/g, '\\|')} | | | ${pt ? fmt(pt.samplesPerSec) : '—'} | |`);
    } else {
      const pyCell = pt ? `${fmt(pt.samplesPerSec)}${pt.device === 'cuda' ? ' (CUDA)' : ''}` : '—';
      L.push(`| ${r.model} | ${r.backend} | ${r.batchSize} | ${fmt(r.samplesPerSec)} | ${fmt(r.epochSeconds, 1)} | ${fmt(r.peakRssMB)} | ${pyCell} | ${ratio ? fmt(ratio.ratioToPytorch, 2) : '—'} |`);
    }
  }
  L.push('');
  const details = results.filter((r) => r.backendDetail).map((r) => `${r.backend}: ${r.backendDetail}`);
  if (details.length) L.push(`Backends: ${[...new Set(details)].join('; ')}.`, '');
  if (pytorch.length) {
    L.push(`PyTorch: ${pytorch.map((p) => `${p.model} ${fmt(p.samplesPerSec)} samples/s (${p.device}, ${p.threads} thread${p.threads === 1 ? '' : 's'})`).join('; ')}.`, '');
  } else if (pytorchNote) {
    L.push(`PyTorch: ${pytorchNote}.`, '');
  }
  L.push('## Targets', '');
  L.push('From the issue: on a CPU, tfjs at least half as fast as PyTorch eager on both models; on an H100, at least a third. Each row takes the fastest backend of its kind that ran.', '');
  L.push('| Hardware | Model | Target | Result |', '|---|---|---|---|');
  L.push(...targetRows(results, ratios, pytorch, models, pytorch.length > 0 || pytorchNote !== undefined));
  L.push('');
  const vsReference = models
    .filter((x) => ISSUE_PYTORCH[x] !== undefined)
    .map((x) => ({ x, best: results.filter((r) => r.model === x && !GPU_BACKENDS.includes(r.backend) && r.samplesPerSec !== null).sort((a, b) => b.samplesPerSec! - a.samplesPerSec!)[0] }))
    .filter((e) => e.best)
    .map((e) => `${e.x} ${e.best!.backend} ${fmt(e.best!.samplesPerSec)} / ${fmt(ISSUE_PYTORCH[e.x])} = ${fmt(e.best!.samplesPerSec! / ISSUE_PYTORCH[e.x]!, 2)}`);
  L.push(
    `The issue's reference numbers (2-core CPU, PyTorch eager, 2 threads): dense ${fmt(ISSUE_PYTORCH['dense-autoencoder'])} and conv ${fmt(ISSUE_PYTORCH['fashion-conv-autoencoder'])} samples/s` +
      (vsReference.length ? `; the fastest CPU backend here against them: ${vsReference.join('; ')}.` : '.'),
    '',
  );
  L.push('## Live panel', '');
  if (streaming) {
    const s = streaming as { tfjsBackend?: string; backend: string; samplesPerSecWithoutPanel: number; samplesPerSecWithPanel: number; overheadPct: number; overheadTargetPct: number; epochToPanelMsMedian: number; epochToPanelMsMax: number; latencyTargetMs: number; epochs: number; stopMs?: number; batchesAfterStop?: number; stopTargetMs?: number };
    L.push(
      `Dense sample through the real worker on ${s.tfjsBackend ?? s.backend}, ${s.epochs} measured epochs each way: ${fmt(s.samplesPerSecWithoutPanel)} samples/s without the panel's batch updates, ` +
        `${fmt(s.samplesPerSecWithPanel)} with them: overhead ${fmt(s.overheadPct, 1)} % (target < ${s.overheadTargetPct} %: ${s.overheadPct < s.overheadTargetPct ? 'met' : 'not met'}). ` +
        `Epoch record to panel state: median ${fmt(s.epochToPanelMsMedian, 1)} ms, max ${fmt(s.epochToPanelMsMax, 1)} ms (target ≤ ${s.latencyTargetMs} ms: ${s.epochToPanelMsMax <= s.latencyTargetMs ? 'met' : 'not met'}).` +
        (s.stopMs !== undefined ? ` Stop mid-epoch to the run's end: ${fmt(s.stopMs)} ms, ${s.batchesAfterStop} batch(es) after the Stop (target < ${s.stopTargetMs} ms: ${s.stopMs < (s.stopTargetMs ?? 2000) ? 'met' : 'not met'}).` : ''),
      '',
    );
  } else {
    L.push('Not measured in this run (`--skip-streaming`).', '');
  }
  L.push(...ownDataSection(ownData));
  L.push(...productPathSection(productPath, results.filter((r) => r.backend === 'wasm')));
  L.push('## Method', '');
  const spec = (name: string): ModelSpec => opts.models.find((x) => x.model === name)!;
  L.push(
    '- **Models.** `samples/dense-autoencoder.latent.json` reproduces seed 000 (Keras: Dense 128-64-32-16-64-128 ReLU, Dense 784 sigmoid; adadelta, binary cross-entropy, batch 256) and `samples/fashion-conv-autoencoder.latent.json` seed 003 (Conv2D 16/8/4 + MaxPooling2D "same" to 4×4×4, Conv2D 8/8 + UpSampling2D, Conv2D 16 "valid" + UpSampling2D, Conv2D 1 sigmoid; adam, MSE, batch 128). ' +
      'Differences: the seed\'s `adadelta` is Keras 2\'s (learning rate 1.0, rho 0.95), which the sample states explicitly; the samples train on the bundled datasets (`mnist`: 10,000 digits, 7,000 after the 0.1/0.2 validation/test split, where seed 000 trains on 60,000; `fashion-mnist`: 70,000 images, 52,500 for training, where seed 003 trains on 60,000), which changes epoch seconds but not samples/s.',
    `- **tfjs.** Each (model, backend) pair runs in its own Node process (a backend is process-global; peak RSS is that process's \`maxRSS\`, dataset included) through \`train()\` of src/train/trainer.ts, the loop the extension's worker runs, with \`limitSamples\` = batch × ${opts.models.map((x) => `${x.batches} (${x.model})`).join(', ')} batches and ${1 + opts.epochs} epochs. ` +
      `Epoch 1 is warm-up and not counted (wasm compilation, each kernel's first use, the dataset paging in); samples/s is the samples of epochs 2–${1 + opts.epochs} over their seconds. ` +
      'The trainer times an epoch with `performance.now()` from the shuffle to the end-of-epoch loss read-back: per batch, building the batch tensor from the dataset, forward, loss, backward, the optimizer step, and one `setImmediate` yield (so a Stop can get in); the epoch\'s `samplesPerSec` is its samples over those seconds. Validation, previews and the checkpoint written after each epoch are outside that time. ' +
      `Batch progress reads the loss back at most every ${opts.maxBatchSeconds > 0 ? `${opts.maxBatchSeconds} s` : 'epoch'}. A pair whose warm-up batches take over ${opts.maxBatchSeconds > 0 ? `${opts.maxBatchSeconds} s` : '(no limit)'} each is stopped and skipped (\`--max-batch-seconds\`; the plain-JS cpu backend on the conv model takes tens of seconds per batch). Epoch seconds = the sample's full training split / samples/s.`,
    `- **PyTorch** (\`--compare-pytorch\`, bench/pytorch_bench.py): the same layers, activations, losses, optimizers (Adadelta lr 1.0 rho 0.95 eps 1e-7; Adam lr 1e-3 eps 1e-7) and batch sizes (PyTorch's default weight initialisers, which do not change the speed), eager mode, \`torch.set_num_threads(os.cpu_count())\`, on random float32 data in [0, 1) (speed does not depend on pixel values; ${fmt(8192)} samples in memory, a shuffled batch gathered per step like the tfjs feeder). NCHW layout for the conv model (PyTorch's native one; Keras and tfjs use NHWC); Keras' "same" 7→4 pooling is \`MaxPool2d(ceil_mode=True)\`. 10 untimed warm-up steps, then about 5 s of timed steps with the loss read back once at the end. Run on CUDA too when \`torch.cuda.is_available()\`; GPU backends are compared with the CUDA number, CPU backends with the CPU one. ` +
      'Debian\'s python3-torch multiplies dense layers with whatever `libblas.so.3` resolves to (the reference BLAS unless OpenBLAS is installed, e.g. `apt-get install libopenblas0-pthread`), conv layers with oneDNN: the dense model\'s PyTorch number depends on it several-fold, so the BLAS in use is shown under Machine.',
    `- **Ratio** = tfjs samples/s / PyTorch samples/s, same model, same machine, same run (PyTorch runs right after that model's tfjs runs). Models here: ${models.map((x) => `${x} (seed ${spec(x).seed}, batch ${spec(x).batchSize})`).join(', ')}.`,
    '- **Noise.** Numbers on a shared or busy machine move by tens of percent; the load average above shows how quiet it was. A busy machine also skews the ratio: PyTorch\'s OpenMP threads wait on each other at every step, so other work on the cores can slow it far more than a single-threaded backend (thread counts are under Backends above).',
    '- **Live panel** (bench/streaming.ts): the dense sample trained through the real worker process with the panel\'s batch updates (a loss read-back every 250 ms, forwarded, validated and reduced as in the panel) versus without, runs interleaved; latency from the worker making an epoch record to the panel state holding it.',
    '',
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${L.join('\n')}`);
}

// ---------------------------------------------------------------------------------------------

function listOf<T extends string>(allowed: readonly T[], what: string) {
  return (value: string, previous: T[] | undefined): T[] => {
    const out = [...(previous ?? [])];
    for (const v of value.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!allowed.includes(v as T)) throw new InvalidArgumentError(`unknown ${what} "${v}" (one of: ${allowed.join(', ')})`);
      out.push(v as T);
    }
    return out;
  };
}

function positive(name: string, { allowZero = false, integer = false } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0) || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} ${integer ? 'whole number' : 'number'}`);
    }
    return n;
  };
}

interface Options {
  model?: string[];
  backend?: Backend[];
  epochs: number;
  batches?: number;
  maxBatchSeconds: number;
  comparePytorch?: boolean;
  engine?: 'pytorch';
  pytorchThreads?: number;
  python?: string;
  streaming?: boolean;
  skipStreaming?: boolean;
  ownData?: boolean;
  skipOwnData?: boolean;
  productPath?: boolean;
  skipProductPath?: boolean;
  datasetCache?: boolean;
  startup?: boolean;
  editor?: boolean;
  skipEditor?: boolean;
  ownDataCase?: OwnDataCase;
  docs: string | false;
  child?: string;
}

async function main(): Promise<void> {
  const program = new Command('bench')
    .description('Training speed of the seed 000 dense and seed 003 conv autoencoders on every tfjs backend, as JSON lines; writes docs/benchmarks.md.')
    .option('--model <names>', `models, comma-separated or repeated (default: all): ${MODELS.map((m) => m.model).join(', ')}`, listOf(MODELS.map((m) => m.model), 'model'))
    .option('--backend <names>', `backends, comma-separated or repeated (default: all): ${BACKEND_NAMES.join(', ')}`, listOf(BACKEND_NAMES, 'backend'))
    .option('--epochs <n>', 'measured epochs after the warm-up epoch', positive('--epochs', { integer: true }), 2)
    .option('--batches <n>', `batches per epoch (default: ${MODELS.map((m) => `${m.batches} for ${m.model}`).join(', ')})`, positive('--batches', { integer: true }))
    .option('--max-batch-seconds <s>', 'skip a pair whose warm-up batches take longer than this each (0: no limit)', positive('--max-batch-seconds', { allowZero: true }), 20)
    .option('--compare-pytorch', 'also run bench/pytorch_bench.py (PyTorch eager, same models) and print ratios')
    .option('--pytorch-threads <n>', 'torch.set_num_threads for --compare-pytorch (default: all cores)', positive('--pytorch-threads', { integer: true }))
    .option('--python <path>', `Python for --compare-pytorch (default: the first of ${PYTHONS.join(', ')} that can import torch)`)
    .option('--streaming', 'run only the panel-streaming line')
    .option('--skip-streaming', 'leave out the panel-streaming line')
    .addOption(new Option('--engine <name>', 'pytorch: run only the PyTorch engine lines (generated train.py against plain eager)').choices(['pytorch']))
    .option('--own-data', 'run only the own-data lines (image folder, NPZ: decode, load, epochs in memory and streamed)')
    .option('--skip-own-data', 'leave out the own-data lines')
    .option('--product-path', 'run only the product-path lines (the dense sample trained from VS Code, in code-server)')
    .option('--skip-product-path', 'leave out the product-path lines')
    .option('--dataset-cache', 'run only the dataset-cache line (Fashion-MNIST loaded from the decode cache)')
    .option('--startup', 'run only the startup line (bundle sizes, worker and CLI start-up times; needs npm run build)')
    .option('--editor', 'run only the editor-300 line (a 300-block graph edited in the graph editor, in code-server)')
    .option('--skip-editor', 'leave out the editor-300 line')
    .addOption(new Option('--own-data-case <name>').choices([...OWN_DATA_CASES]).hideHelp())
    .addOption(new Option('--docs <file>', 'where to write the report').default(DEFAULT_DOCS, 'docs/benchmarks.md'))
    .option('--no-docs', 'do not write the report')
    .addOption(new Option('--child <json>').hideHelp());
  program.parse();
  const opts = program.opts<Options>();

  if (opts.child !== undefined) {
    try {
      emit(await one(JSON.parse(opts.child) as ChildSpec));
    } catch (e) {
      const msg = e instanceof Skip ? e.message : e instanceof Error ? e.message : String(e);
      process.stderr.write(`BENCH_SKIP ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
      process.exit(2);
    }
    return;
  }
  if (opts.streaming) {
    emit(await benchStreaming());
    return;
  }
  if (opts.ownDataCase !== undefined) {
    emit(await runOwnDataCase(opts.ownDataCase));
    return;
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  if (opts.engine === 'pytorch') {
    const torch = findTorchPython(opts.python ? [opts.python] : PYTHONS);
    if ('reason' in torch) {
      emit({ bench: 'pytorch-engine', skipped: torch.reason });
      return;
    }
    const cuda = spawnSync(torch.python, ['-c', 'import torch; print(torch.cuda.is_available())'], { encoding: 'utf8' }).stdout.trim() === 'True';
    const lines = await benchPytorchEngine(torch.python, cuda ? ['cuda', 'cpu'] : ['cpu'], emit);
    if (opts.docs !== false) {
      const blas = runPytorch(torch.python, ['dense-autoencoder'], 'cpu', 1).lines.find((p) => p.blas)?.blas;
      updateSection(path.resolve(opts.docs), pytorchEngineSection(lines, torch.version, blas));
      log(`Updated the PyTorch engine section of ${path.resolve(opts.docs)}`);
    }
    return;
  }
  if (opts.productPath) {
    const lines = await benchProductPath(emit);
    if (opts.docs !== false) {
      updateSection(path.resolve(opts.docs), productPathSection(lines));
      log(`Updated the product-path section of ${path.resolve(opts.docs)}`);
    }
    return;
  }
  if (opts.editor) {
    const line = await benchEditor(emit);
    if (opts.docs !== false) updateSection(path.resolve(opts.docs), editorSection(line));
    return;
  }
  if (opts.startup) {
    const line = await benchStartup();
    emit(line);
    if (opts.docs !== false) updateSection(path.resolve(opts.docs), startupSection(line, readStartupBaseline()));
    return;
  }
  if (opts.datasetCache) {
    const line = await benchDatasetCache();
    emit(line);
    if (opts.docs !== false) updateSection(path.resolve(opts.docs), datasetCacheSection(line));
    return;
  }
  if (opts.ownData) {
    const lines = await benchOwnData(__filename, emit, log);
    if (opts.docs !== false) {
      updateSection(path.resolve(opts.docs), ownDataSection(lines));
      log(`Updated the own-data section of ${path.resolve(opts.docs)}`);
    }
    return;
  }

  const mach = machine();
  const backends = opts.backend ? BACKEND_NAMES.filter((b) => opts.backend!.includes(b)) : [...BACKEND_NAMES];
  const models = MODELS.filter((m) => !opts.model || opts.model.includes(m.model)).map((m) => ({ ...m, batches: opts.batches ?? m.batches }));
  const results: BenchLine[] = [];
  const pytorch: PytorchLine[] = [];
  const ratios: RatioLine[] = [];
  let pytorchNote: string | undefined;
  let torch: ReturnType<typeof findTorchPython> | undefined;
  if (opts.comparePytorch) {
    torch = findTorchPython(opts.python ? [opts.python] : PYTHONS);
    if ('reason' in torch) {
      pytorchNote = `not compared: ${torch.reason}`;
      emit({ bench: 'pytorch', skipped: torch.reason });
    } else {
      mach.torch = torch.version;
    }
  }
  for (const m of models) {
    for (const backend of backends) {
      const line = runChild({ model: m.model, backend, batchSize: m.batchSize, batches: m.batches, epochs: opts.epochs, maxBatchSeconds: opts.maxBatchSeconds });
      results.push(line);
      emit(line);
    }
    // PyTorch right after the model's tfjs runs, so each ratio compares numbers taken close together.
    if (torch && 'python' in torch) {
      const ran = results.filter((r) => r.model === m.model && r.samplesPerSec !== null);
      const wantsGpu = ran.some((r) => GPU_BACKENDS.includes(r.backend));
      const run = runPytorch(torch.python, [m.model], wantsGpu ? 'auto' : 'cpu', opts.pytorchThreads);
      pytorch.push(...run.lines);
      mach.blas ??= run.lines.find((p) => p.blas)?.blas;
      for (const p of run.lines) emit(p);
      if (run.error) {
        pytorchNote = run.error;
        emit({ bench: 'pytorch', model: m.model, error: run.error });
      }
      for (const r of ran) {
        const p = pytorchFor(pytorch, r.model, r.backend);
        if (r.samplesPerSec === null || !p) continue;
        const ratio: RatioLine = { model: r.model, backend: r.backend, ratioToPytorch: round(r.samplesPerSec / p.samplesPerSec, 3), pytorchDevice: p.device };
        ratios.push(ratio);
        emit(ratio);
      }
    }
  }

  // What the live panel costs the training, and how fast an epoch reaches it.
  let streaming: Record<string, unknown> | undefined;
  if (!opts.skipStreaming) {
    streaming = await benchStreaming();
    emit(streaming);
  }

  let ownData: Record<string, unknown>[] | undefined;
  if (!opts.skipOwnData) ownData = await benchOwnData(__filename, emit, log);

  let productPath: ProductPathLine[] | undefined;
  if (!opts.skipProductPath) productPath = await benchProductPath(emit);

  const datasetCache: DatasetCacheLine = await benchDatasetCache();
  emit(datasetCache);
  const startup: StartupLine = await benchStartup();
  emit(startup);
  const editor: EditorLine | undefined = opts.skipEditor ? undefined : await benchEditor(emit);

  if (opts.docs !== false) {
    mach.loadAvgEnd = os.loadavg().map((x) => round(x, 2));
    const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
    const file = path.resolve(opts.docs);
    writeDocs(file, mach, command, results, pytorch, ratios, pytorchNote, streaming, { epochs: opts.epochs, maxBatchSeconds: opts.maxBatchSeconds, models }, ownData, productPath);
    updateSection(file, datasetCacheSection(datasetCache));
    updateSection(file, startupSection(startup, readStartupBaseline()));
    if (editor) updateSection(file, editorSection(editor));
    process.stderr.write(`Wrote ${file}\n`);
  }
}

if (require.main === module) void main();
