/**
 * `startup` bench lines: what the bundles weigh and how long they take to start, the cost a user
 * pays before anything trains. The training worker (dist/worker.js, the only bundle with
 * TensorFlow.js in it) is forked the way src/run/client.ts forks it and timed to its `ready`
 * message (module load) and to the answer of a `probe` for the cpu and the wasm backends (backend
 * set up and self-checked); the CLI (dist/cli.js) is timed for `--version` and for `summary` of the
 * dense sample. Medians of `repeats` fresh processes. `npm run build` first: this measures dist/.
 *
 * bench/startup-baseline.json holds the same lines measured with the `@tensorflow/tfjs` umbrella
 * package (commit 4f9eff9, before issue 18 split it into tfjs-core, -layers and the backends), so the
 * report shows before and after side by side.
 */
import { fork, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
export const STARTUP_BASELINE = path.join(__dirname, 'startup-baseline.json');

export interface StartupLine {
  readonly bench: 'startup';
  readonly workerBundleKB: number;
  readonly cliBundleKB: number;
  readonly extensionBundleKB: number;
  /** Fork to the worker's `ready` message: loading dist/worker.js. */
  readonly workerReadyMs: number;
  /** Fork to the answer of a probe for the cpu backend (load + set-up + self-check). */
  readonly workerCpuProbeMs: number;
  /** Fork to the answer of a probe for the wasm backend (load + wasm compile + self-check). */
  readonly workerWasmProbeMs: number | null;
  readonly cliVersionMs: number;
  readonly cliSummaryMs: number;
  readonly repeats: number;
  readonly tfjsPackages: readonly string[];
  readonly commit?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]!);
};

const kb = (file: string): number => Math.round(fs.statSync(path.join(DIST, file)).size / 1024);

interface WorkerTimes {
  readyMs: number;
  probeMs: number | null;
}

/** One fresh worker: ms to `ready`, then (when `backend` is given) ms to its `probed` answer. */
function timeWorker(backend: 'cpu' | 'wasm' | null): Promise<WorkerTimes> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let readyMs = 0;
    const child = fork(path.join(DIST, 'worker.js'), [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the worker did not answer within 60 s${stderr ? `: ${stderr.trim()}` : ''}`));
    }, 60_000);
    const finish = (t: WorkerTimes): void => {
      clearTimeout(timer);
      child.kill();
      resolve(t);
    };
    child.on('message', (m: unknown) => {
      const type = typeof m === 'object' && m !== null && 'type' in m ? m.type : undefined;
      if (type === 'ready') {
        readyMs = performance.now() - t0;
        if (backend === null) finish({ readyMs, probeMs: null });
        else child.send({ type: 'probe', id: 1, backend });
      } else if (type === 'probed') {
        finish({ readyMs, probeMs: performance.now() - t0 });
      } else if (type === 'failed') {
        clearTimeout(timer);
        child.kill();
        reject(new Error(`probe for ${String(backend)} failed: ${JSON.stringify(m)}`));
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function timeCli(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`latent-studio ${args.join(' ')} exited ${String(r.status)}: ${r.stderr.trim()}`);
  return ms;
}

/** The @tensorflow packages the worker is built from (package.json's dependencies). */
function tfjsPackages(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@tensorflow/'));
}

export async function benchStartup(repeats = 7): Promise<StartupLine> {
  for (const f of ['worker.js', 'cli.js', 'extension.js']) {
    if (!fs.existsSync(path.join(DIST, f))) throw new Error(`dist/${f} is missing: run npm run build first`);
  }
  const ready: number[] = [];
  const cpu: number[] = [];
  const wasm: number[] = [];
  let wasmFailed = false;
  // One unmeasured round first: the OS file cache, not the bundle, would dominate a cold first start.
  await timeWorker('cpu');
  for (let i = 0; i < repeats; i++) {
    ready.push((await timeWorker(null)).readyMs);
    cpu.push((await timeWorker('cpu')).probeMs!);
    if (!wasmFailed) {
      try {
        wasm.push((await timeWorker('wasm')).probeMs!);
      } catch {
        wasmFailed = true;
      }
    }
  }
  const version: number[] = [];
  const summary: number[] = [];
  timeCli(['--version']);
  for (let i = 0; i < repeats; i++) {
    version.push(timeCli(['--version']));
    summary.push(timeCli(['summary', 'samples/dense-autoencoder.latent.json']));
  }
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  return {
    bench: 'startup',
    workerBundleKB: kb('worker.js'),
    cliBundleKB: kb('cli.js'),
    extensionBundleKB: kb('extension.js'),
    workerReadyMs: median(ready),
    workerCpuProbeMs: median(cpu),
    workerWasmProbeMs: wasmFailed || wasm.length === 0 ? null : median(wasm),
    cliVersionMs: median(version),
    cliSummaryMs: median(summary),
    repeats,
    tfjsPackages: tfjsPackages(),
    ...(commit ? { commit } : {}),
  };
}

export function readStartupBaseline(): StartupLine | undefined {
  if (!fs.existsSync(STARTUP_BASELINE)) return undefined;
  return JSON.parse(fs.readFileSync(STARTUP_BASELINE, 'utf8')) as StartupLine;
}

export function startupSection(line: StartupLine | undefined, before: StartupLine | undefined): string[] {
  const L = ['## Bundles and start-up', ''];
  if (!line) return [...L, 'Not measured in this run.', ''];
  L.push(
    `bench/startup.ts: production bundles in dist/, and medians of ${line.repeats} fresh processes. "Worker ready" is a fork of dist/worker.js to its first message (the bundle loaded); "probe" adds setting up the backend and its self-check. The CLI and the extension host carry no TensorFlow.js (the build refuses it), so only the worker changes with the tfjs packages.`,
    '',
  );
  const rows: [string, keyof StartupLine, string][] = [
    ['worker bundle (dist/worker.js)', 'workerBundleKB', 'KB'],
    ['CLI bundle (dist/cli.js)', 'cliBundleKB', 'KB'],
    ['extension bundle (dist/extension.js)', 'extensionBundleKB', 'KB'],
    ['worker ready', 'workerReadyMs', 'ms'],
    ['worker ready + cpu backend', 'workerCpuProbeMs', 'ms'],
    ['worker ready + wasm backend', 'workerWasmProbeMs', 'ms'],
    ['`latent-studio --version`', 'cliVersionMs', 'ms'],
    ['`latent-studio summary` (dense sample)', 'cliSummaryMs', 'ms'],
  ];
  const cell = (l: StartupLine | undefined, k: keyof StartupLine, unit: string): string => {
    const v = l?.[k];
    return typeof v === 'number' ? `${v.toLocaleString('en-US')} ${unit}` : '—';
  };
  if (before) {
    const names = (l: StartupLine): string => l.tfjsPackages.map((p) => p.replace('@tensorflow/', '')).join(', ');
    L.push(`| | before: ${names(before)} (${before.commit ?? 'baseline'}) | now: ${names(line)} |`, '| --- | ---: | ---: |');
    for (const [label, k, unit] of rows) L.push(`| ${label} | ${cell(before, k, unit)} | ${cell(line, k, unit)} |`);
  } else {
    L.push('| | now |', '| --- | ---: |');
    for (const [label, k, unit] of rows) L.push(`| ${label} | ${cell(line, k, unit)} |`);
  }
  L.push('');
  return L;
}
