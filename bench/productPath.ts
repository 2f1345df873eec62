/**
 * The product path: the dense sample trained the way a user trains it, from "Latent Studio: Train
 * Model" in a real VS Code (code-server, with its Chromium window and the training panel open on
 * this machine), the worker started by the extension as it always is. One line per thread setting:
 * `auto` (what users get) and, to show what that choice is worth, threads forced off (1) and forced
 * to every core. Each line: samples/s (median over the epochs after the first), the threads the
 * worker used and the backend detail it reported, read back from the run folder.
 *
 * Needs code-server and Chromium (scripts/setup-e2e.sh) and a built extension (npm run build);
 * without them the line says `skipped` and why.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CODE_SERVER_ENTRY, type VSCodeSession, startTour, waitUntil } from '../test/e2e/harness';

const ROOT = path.join(__dirname, '..');
/** The two samples of the main bench; epochs: 1 warm-up + the measured ones (an epoch: ~0.7 s dense, ~15 s conv here). */
const MODELS = [
  { model: 'dense-autoencoder', sample: 'samples/dense-autoencoder.latent.json', epochs: 12 },
  { model: 'fashion-conv-autoencoder', sample: 'samples/fashion-conv-autoencoder.latent.json', epochs: 3 },
] as const;
type Model = (typeof MODELS)[number];

export interface ProductPathLine {
  bench: 'product-path';
  model: Model['model'];
  /** LATENT_WASM_THREADS as set for VS Code: "auto" = unset (the extension's latentStudio.trainingThreads 0). */
  threadsSetting: string;
  threadsUsed: number | null;
  backend: string | null;
  backendDetail: string | null;
  samplesPerSec: number | null;
  /** Per measured epoch, in order. */
  epochSamplesPerSec?: number[];
  cores: number;
  skipped?: string;
  error?: string;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The threads a backend detail names: "SIMD on, threads on (2)" → 2; threads off → 1. */
export function threadsOf(detail: string | undefined): number | null {
  if (detail === undefined) return null;
  const on = /threads on \((\d+)\)/.exec(detail);
  if (on) return Number(on[1]);
  return /threads off/.test(detail) ? 1 : null;
}

async function trainInVSCode(m: Model, setting: string, outDir: string): Promise<ProductPathLine> {
  const { epochs } = m;
  const base: ProductPathLine = { bench: 'product-path', model: m.model, threadsSetting: setting, threadsUsed: null, backend: null, backendDetail: null, samplesPerSec: null, cores: os.availableParallelism() };
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-bench-product-'));
  const previous = process.env.LATENT_WASM_THREADS;
  let session: VSCodeSession | undefined;
  try {
    fs.cpSync(path.join(ROOT, 'samples'), path.join(workspace, 'samples'), { recursive: true });
    const graph = path.join(workspace, m.sample);
    fs.writeFileSync(graph, fs.readFileSync(graph, 'utf8').replace(/"epochs": \d+/, `"epochs": ${epochs}`));
    // code-server passes its environment on to the extension host, which passes it to the worker.
    if (setting === 'auto') delete process.env.LATENT_WASM_THREADS;
    else process.env.LATENT_WASM_THREADS = setting;
    session = await startTour(workspace, path.join(outDir, `${m.model}-threads-${setting}`));
    await session.openFile(m.sample);
    await session.runCommand('Latent Studio: Train Model');
    const runsDir = path.join(workspace, '.latent', 'runs');
    const runDir = await waitUntil(
      async () => {
        const runs = fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
        const dir = runs[0] === undefined ? undefined : path.join(runsDir, runs[0]);
        if (dir === undefined || !fs.existsSync(path.join(dir, 'run.json'))) return undefined;
        const status = (JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { status?: string }).status;
        return status === 'running' ? undefined : { dir, status };
      },
      (r) => r !== undefined,
      'the run to end',
      epochs * 60_000,
    );
    if (runDir!.status !== 'completed') return { ...base, error: `the run ended ${runDir!.status}` };
    const config = JSON.parse(fs.readFileSync(path.join(runDir!.dir, 'config.json'), 'utf8')) as { backend: { name: string; detail?: string } };
    const records = fs
      .readFileSync(path.join(runDir!.dir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { epoch: number; samplesPerSec: number });
    // Epoch 0 is the evaluation before training, epoch 1 the warm-up (as in the main bench).
    const measured = records.filter((r) => r.epoch >= 2).map((r) => Math.round(r.samplesPerSec));
    return {
      ...base,
      backend: config.backend.name,
      backendDetail: config.backend.detail ?? null,
      threadsUsed: threadsOf(config.backend.detail),
      samplesPerSec: measured.length > 0 ? Math.round(median(measured)) : null,
      epochSamplesPerSec: measured,
    };
  } catch (e) {
    return { ...base, error: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
  } finally {
    if (previous === undefined) delete process.env.LATENT_WASM_THREADS;
    else process.env.LATENT_WASM_THREADS = previous;
    await session?.close();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

/**
 * The product-path lines of both samples, `auto` first, then threads forced off and on; skipped
 * (with the reason) where VS Code cannot run here.
 */
export async function benchProductPath(emit: (line: object) => void): Promise<ProductPathLine[]> {
  const cores = os.availableParallelism();
  const settings = cores > 1 ? ['auto', '1', String(Math.min(cores, 8))] : ['auto'];
  const missing = !fs.existsSync(CODE_SERVER_ENTRY)
    ? `code-server is not installed (${path.relative(ROOT, CODE_SERVER_ENTRY)}): run scripts/setup-e2e.sh`
    : !fs.existsSync(path.join(ROOT, 'dist', 'extension.js'))
      ? 'the extension is not built (dist/extension.js): run npm run build'
      : undefined;
  if (missing !== undefined) {
    const line: ProductPathLine = { bench: 'product-path', model: 'dense-autoencoder', threadsSetting: 'auto', threadsUsed: null, backend: null, backendDetail: null, samplesPerSec: null, cores, skipped: missing };
    emit(line);
    return [line];
  }
  const outDir = path.join(ROOT, '.test-output', 'bench', 'product-path');
  const lines: ProductPathLine[] = [];
  fs.rmSync(outDir, { recursive: true, force: true });
  for (const m of MODELS) {
    for (const setting of settings) {
      const line = await trainInVSCode(m, setting, outDir);
      lines.push(line);
      emit(line);
    }
  }
  return lines;
}

/**
 * The product-path lines as a report section; `benchmarked` are the main bench's wasm lines of the
 * same run (the speed the benchmark promises), when they ran.
 */
export function productPathSection(lines: readonly ProductPathLine[] | undefined, benchmarked: readonly { model: string; samplesPerSec: number | null; backendDetail?: string }[] = []): string[] {
  const title = '## In VS Code (the product path)';
  if (!lines) return [title, '', 'Not measured in this run (`--skip-product-path`).', ''];
  const skipped = lines.find((l) => l.skipped !== undefined);
  if (skipped) return [title, '', `Skipped: ${skipped.skipped}.`, ''];
  const fmt = (x: number | null | undefined): string => (typeof x === 'number' ? Math.round(x).toLocaleString('en-US') : '—');
  const L = [
    title,
    '',
    'bench/productPath.ts: each sample trained as a user trains it, "Latent Studio: Train Model" in code-server with its Chromium window and the training panel open on this machine (as with VS Code on the desktop); the worker is started by the extension. Samples/s: the median of the epochs after the first, read from the run folder. `auto` is what users get (`latentStudio.trainingThreads` 0: the idle cores less one kept for VS Code); the other rows force `LATENT_WASM_THREADS` to show what that choice is worth.',
    '',
    '| Model | Threads setting | Threads used | Samples/s | Per epoch | Backend |',
    '|---|---|---:|---:|---|---|',
  ];
  for (const l of lines) {
    L.push(`| ${l.model} | ${l.threadsSetting} | ${l.threadsUsed ?? '—'} | ${l.error ? `error: ${l.error.replace(/\|/g, '\\|')}` : fmt(l.samplesPerSec)} | ${(l.epochSamplesPerSec ?? []).map(fmt).join(', ')} | ${l.backend ?? '—'}${l.backendDetail ? ` (${l.backendDetail})` : ''} |`);
  }
  L.push('');
  for (const model of [...new Set(lines.map((l) => l.model))]) {
    const auto = lines.find((l) => l.model === model && l.threadsSetting === 'auto');
    const best = lines.filter((l) => l.model === model && l.samplesPerSec !== null).sort((a, b) => b.samplesPerSec! - a.samplesPerSec!)[0];
    const bench = benchmarked.find((b) => b.model === model);
    if (!auto?.samplesPerSec || !best) continue;
    const parts = [`- ${model}: auto ${fmt(auto.samplesPerSec)} samples/s = ${(auto.samplesPerSec / best.samplesPerSec!).toFixed(2)} of the fastest setting here (${best.threadsSetting})`];
    if (bench?.samplesPerSec) parts.push(`${(auto.samplesPerSec / bench.samplesPerSec).toFixed(2)} of the main benchmark's wasm line (${fmt(bench.samplesPerSec)}, ${bench.backendDetail ?? 'wasm'}, no VS Code)`);
    L.push(`${parts.join('; ')}.`);
  }
  L.push('');
  return L;
}
