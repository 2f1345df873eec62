/**
 * The user's own data at scale (`npm run bench -- --own-data`, also part of the full run): a
 * generated folder of 20 000 PNG files of 64x64x3 (Fashion-MNIST photographs, coloured and resized)
 * and a 60 000 x 64 x 64 x 3 uint8 NPZ. One JSON line per case, each in its own process (peak RSS
 * is per process):
 *
 * - folder-decode: decoding the folder into the decode cache (images/s), cold;
 * - <data>-epoch-memory / <data>-epoch-streamed: one epoch of a small dense autoencoder over the
 *   whole training split, the values held in memory or streamed from disk (LATENT_MEMORY_BUDGET_MB
 *   64), samples/s of the second epoch (the first warms up), and the ratio streamed / memory
 *   (target ≥ 0.9);
 * - npz-load: reading the NPZ into memory (MB/s); peak RSS against the dataset's bytes (target:
 *   its size plus under 1 GiB).
 *
 * Generated data is kept in .cache/bench-data between runs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Zip, ZipPassThrough } from 'fflate';
import { dump } from 'npyjs';
import { TrainRequestSchema } from '../src/core/protocol';
import { loadFolder, loadNpz } from '../src/data/index';
import { train } from '../src/train/trainer';
import { writeColourFashion } from '../scripts/image-folder';

const ROOT = path.join(__dirname, '..');
const DATA = path.join(ROOT, '.cache', 'bench-data');
const FOLDER = path.join(DATA, 'folder-20000-64');
const NPZ = path.join(DATA, 'images-60000-64.npz');
const SIDE = 64;
const SAMPLE = SIDE * SIDE * 3;
const FOLDER_PER_CLASS = 2000;
const NPZ_COUNT = 60_000;
const STREAM_BUDGET_MB = 64;

export type OwnDataCase = 'folder-decode' | 'folder-epoch-memory' | 'folder-epoch-streamed' | 'npz-load' | 'npz-epoch-memory' | 'npz-epoch-streamed';
export const OWN_DATA_CASES: readonly OwnDataCase[] = ['folder-decode', 'folder-epoch-memory', 'folder-epoch-streamed', 'npz-load', 'npz-epoch-memory', 'npz-epoch-streamed'];

const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d;
const rssMB = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

/** The folder and the NPZ, generated once. */
async function ensureData(log: (line: string) => void): Promise<void> {
  const marker = path.join(FOLDER, '.complete');
  if (!fs.existsSync(marker)) {
    log(`generating ${FOLDER_PER_CLASS * 10} PNG files of ${SIDE}x${SIDE}x3 in ${path.relative(ROOT, FOLDER)}…`);
    fs.rmSync(FOLDER, { recursive: true, force: true });
    await writeColourFashion(FOLDER, FOLDER_PER_CLASS, 11, SIDE);
    fs.writeFileSync(marker, '');
  }
  if (!fs.existsSync(NPZ)) {
    log(`generating ${path.relative(ROOT, NPZ)} (${NPZ_COUNT} x ${SIDE}x${SIDE}x3 uint8, ${round((NPZ_COUNT * SAMPLE) / 1e6)} MB)…`);
    const images = await loadFolder(FOLDER, { cacheDir: null });
    await writeNpz(NPZ, images.values as Uint8Array, images.count, images.labels!);
  }
}

/** An NPZ of x (the folder's images repeated to NPZ_COUNT) and y, written as a stream (stored, as np.savez does). */
async function writeNpz(file: string, pixels: Uint8Array, count: number, labels: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  const out = fs.createWriteStream(tmp);
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  const zip = new Zip((err, chunk, final) => {
    if (err) throw err;
    out.write(chunk);
    if (final) out.end();
  });
  const x = new ZipPassThrough('x.npy');
  zip.add(x);
  const header = new Uint8Array(dump(new Uint8Array(0), [NPZ_COUNT, SIDE, SIDE, 3], { dtype: 'u1' }));
  // dump's header declares the shape; the data follows in pieces (a 0-element array has no data bytes).
  x.push(header);
  for (let i = 0; i < NPZ_COUNT; i += 1000) {
    const n = Math.min(1000, NPZ_COUNT - i);
    const part = new Uint8Array(n * SAMPLE);
    for (let k = 0; k < n; k++) part.set(pixels.subarray(((i + k) % count) * SAMPLE, ((i + k) % count + 1) * SAMPLE), k * SAMPLE);
    x.push(part);
    await new Promise((r) => setImmediate(r));
  }
  x.push(new Uint8Array(0), true);
  const y = new ZipPassThrough('y.npy');
  zip.add(y);
  y.push(new Uint8Array(dump(Uint8Array.from({ length: NPZ_COUNT }, (_, i) => labels[i % count]!), [NPZ_COUNT], { dtype: 'u1' })), true);
  zip.end();
  await done;
  fs.renameSync(tmp, file);
}

/** A small dense autoencoder on 64x64x3 inputs, so the epoch measures the data path as much as the model. */
function graphFor(dataset: string): string {
  return JSON.stringify({
    formatVersion: 1,
    name: 'own data bench',
    nodes: [
      { id: 'input', type: 'Input', params: { shape: [SIDE, SIDE, 3] } },
      { id: 'flat', type: 'Flatten', params: {} },
      { id: 'code', type: 'Dense', params: { units: 16, activation: 'relu' } },
      { id: 'out', type: 'Dense', params: { units: SAMPLE, activation: 'sigmoid' } },
      { id: 'shape', type: 'Reshape', params: { targetShape: [SIDE, SIDE, 3] } },
      { id: 'reconstruction', type: 'Output', params: { target: 'input' } },
    ],
    edges: [
      { from: 'input', to: 'flat' },
      { from: 'flat', to: 'code' },
      { from: 'code', to: 'out' },
      { from: 'out', to: 'shape' },
      { from: 'shape', to: 'reconstruction' },
    ],
    training: { dataset, split: { validation: 0.05, test: 0.05 }, loss: 'meanSquaredError', optimizer: 'adam', epochs: 2, batchSize: 256 },
  });
}

async function epochCase(data: 'folder' | 'npz', streamed: boolean): Promise<Record<string, unknown>> {
  const dataset = data === 'folder' ? `folder:${FOLDER}` : `npz:${NPZ}`;
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-bench-own-'));
  const records: { samplesPerSec: number; seconds: number }[] = [];
  let train0 = 0;
  let source = '';
  const t0 = performance.now();
  let loadSeconds = 0;
  try {
    const request = TrainRequestSchema.parse({ graphText: graphFor(dataset), graphPath: path.join(DATA, 'bench.latent.json'), runsDir, backend: 'wasm', batchProgressMs: 1e9, limitValidation: 256, cacheDir: path.join(DATA, 'decode-cache') });
    await train(
      request,
      (m) => {
        if (m.type === 'started') {
          train0 = m.dataset.train;
          source = m.dataset.source;
          loadSeconds = (performance.now() - t0) / 1000;
        } else if (m.type === 'epoch' && m.record.epoch > 0) records.push({ samplesPerSec: m.record.samplesPerSec, seconds: m.record.seconds });
      },
      { cancelled: false },
    );
  } finally {
    fs.rmSync(runsDir, { recursive: true, force: true });
  }
  const measured = records.at(-1)!;
  return {
    bench: `own-data-${data}-epoch-${streamed ? 'streamed' : 'memory'}`,
    dataset: source,
    trainSamples: train0,
    samplesPerSec: Math.round(measured.samplesPerSec),
    epochSeconds: round(measured.seconds, 1),
    warmupSamplesPerSec: Math.round(records[0]!.samplesPerSec),
    loadSeconds: round(loadSeconds, 1),
    datasetMB: round((data === 'folder' ? FOLDER_PER_CLASS * 10 : NPZ_COUNT) * SAMPLE / 2 ** 20),
    peakRssMB: rssMB(),
    ...(streamed ? { memoryBudgetMB: STREAM_BUDGET_MB } : {}),
  };
}

/** One case, in this process. */
export async function runOwnDataCase(which: OwnDataCase): Promise<Record<string, unknown>> {
  switch (which) {
    case 'folder-decode': {
      const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-bench-decode-'));
      try {
        const t0 = performance.now();
        const ds = await loadFolder(FOLDER, { cacheDir });
        const seconds = (performance.now() - t0) / 1000;
        return { bench: 'own-data-folder-decode', images: ds.count, shape: [SIDE, SIDE, 3], seconds: round(seconds, 1), imagesPerSec: Math.round(ds.count / seconds), peakRssMB: rssMB(), datasetMB: round((ds.count * SAMPLE) / 2 ** 20) };
      } finally {
        fs.rmSync(cacheDir, { recursive: true, force: true });
      }
    }
    case 'npz-load': {
      const t0 = performance.now();
      const ds = await loadNpz(NPZ);
      const seconds = (performance.now() - t0) / 1000;
      const mb = (ds.count * SAMPLE) / 2 ** 20;
      return { bench: 'own-data-npz-load', samples: ds.count, seconds: round(seconds, 1), mbPerSec: Math.round(mb / seconds), datasetMB: round(mb), peakRssMB: rssMB(), rssOverDatasetMB: Math.round(rssMB() - mb) };
    }
    case 'folder-epoch-memory':
      return epochCase('folder', false);
    case 'folder-epoch-streamed':
      return epochCase('folder', true);
    case 'npz-epoch-memory':
      return epochCase('npz', false);
    case 'npz-epoch-streamed':
      return epochCase('npz', true);
  }
}

/** Epoch cases run this many times, memory and streamed interleaved; each line keeps its fastest run (the machine's noise is ±5 %). */
const EPOCH_REPEATS = 2;

function runCase(script: string, which: OwnDataCase): Record<string, unknown> {
  const env = { ...process.env, LATENT_MEMORY_BUDGET_MB: which.endsWith('streamed') ? String(STREAM_BUDGET_MB) : '4096' };
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--own-data-case', which], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    return { bench: `own-data-${which}`, error: (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ') };
  }
}

/** Every case, each in a child process (`--own-data-case`); the streamed/memory ratios last. */
export async function benchOwnData(script: string, emit: (line: object) => void, log: (line: string) => void): Promise<Record<string, unknown>[]> {
  await ensureData(log);
  const lines: Record<string, unknown>[] = [];
  const order: OwnDataCase[][] = [['folder-decode'], ['folder-epoch-memory', 'folder-epoch-streamed'], ['npz-load'], ['npz-epoch-memory', 'npz-epoch-streamed']];
  for (const group of order) {
    const runs = new Map<OwnDataCase, Record<string, unknown>[]>();
    for (let k = 0; k < (group.length > 1 ? EPOCH_REPEATS : 1); k++) for (const which of group) runs.set(which, [...(runs.get(which) ?? []), runCase(script, which)]);
    for (const which of group) {
      const all = runs.get(which)!;
      const ok = all.filter((l) => typeof l.samplesPerSec === 'number');
      const best = ok.length ? ok.reduce((a, b) => ((b.samplesPerSec as number) > (a.samplesPerSec as number) ? b : a)) : all[0]!;
      const line = ok.length > 1 ? { ...best, runs: ok.length, samplesPerSecRuns: ok.map((l) => l.samplesPerSec) } : best;
      lines.push(line);
      emit(line);
    }
  }
  for (const data of ['folder', 'npz']) {
    const mem = lines.find((l) => l.bench === `own-data-${data}-epoch-memory`)?.samplesPerSec;
    const str = lines.find((l) => l.bench === `own-data-${data}-epoch-streamed`)?.samplesPerSec;
    if (typeof mem === 'number' && typeof str === 'number') {
      const ratio = { bench: `own-data-${data}-streamed-vs-memory`, ratio: round(str / mem, 3), target: 0.9 };
      lines.push(ratio);
      emit(ratio);
    }
  }
  return lines;
}
