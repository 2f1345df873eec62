/**
 * tfjs-backend-wasm's multithreaded SIMD build, in Node.
 *
 * tfjs-backend-wasm 4.22 never uses threads in Node: its WASM_HAS_MULTITHREAD_SUPPORT flag answers
 * false there (tensorflow/tfjs#3830), and its loader could not start the build there anyway (it
 * hands Emscripten's pthread workers a blob: URL, which Node's Worker refuses, and a copy of the
 * glue code that only works inside its own bundle). The build itself supports Node: its Emscripten
 * glue runs pthreads on worker_threads. So we start it ourselves:
 *
 * - the glue (wasm-out/tfjs-backend-wasm-threaded-simd.js) is loaded from disk with Node's require,
 *   told where the .wasm binary is, and given a worker script: a data: URL module that evaluates
 *   the package's own worker code (wasm-out/tfjs-backend-wasm-threaded-simd.worker.js), which
 *   loads the same glue file in each worker;
 * - the backend's C code sizes its thread pool as min(requested, cores / 2) (it assumes two
 *   hyper-threads per core), reading the core count from os.cpus() once while it starts; for those
 *   few milliseconds os.cpus() answers twice the threads we want, so the pool gets them all;
 * - the backend is registered under the name 'wasm' with the package's own BackendWasm class and
 *   kernels, exactly as the package does, only with this module behind it;
 * - XNNPACK's pool threads are Node workers that Emscripten keeps referenced (they would keep the
 *   process alive after its work is done): we unreference them, so a process exits as before;
 * - Emscripten's heap view (Module.HEAPU8, which the backend reads tensors through) is refreshed
 *   whenever the shared memory has grown, whichever thread grew it.
 *
 * Everything that can fail here fails before the backend is used, and the caller then falls back
 * to the single-threaded build.
 */
import * as path from 'node:path';
import type * as WasmBackendModule from '@tensorflow/tfjs-backend-wasm';
import * as tf from '../../tf';
import { runtimeRequire } from '../../../platform/runtimeRequire';

export const THREADED_FILES = {
  glue: 'tfjs-backend-wasm-threaded-simd.js',
  worker: 'tfjs-backend-wasm-threaded-simd.worker.js',
  binary: 'tfjs-backend-wasm-threaded-simd.wasm',
} as const;

/** The Emscripten module object of the threaded build (only what we touch). */
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: unknown[]) => unknown;
  wasmMemory: WebAssembly.Memory;
  HEAPU8: Uint8Array;
  PThread?: { runningWorkers: { unref(): void }[]; unusedWorkers: { unref(): void }[]; terminateAllThreads(): void };
  tfjs?: Record<string, unknown>;
}

/** How many threads the wasm backend should use, and why. */
export interface ThreadsChoice {
  threads: number;
  /** Shown in the backend detail when threads stay off on a machine with more than one core. */
  why?: string;
}

/**
 * Threads for the wasm backend, decided once when the backend starts (XNNPACK's pool is created
 * with the backend, and swapping backends in the middle of a run would move every tensor, so the
 * count cannot follow the load epoch by epoch):
 *
 * - LATENT_WASM_THREADS when set (1 = off);
 * - else the idle cores, less LATENT_WASM_KEEP_CORES (what the extension keeps for VS Code: 1),
 *   at most 8 (the workers the build pre-creates), at least 1.
 *
 * Why not every core: XNNPACK's pool and our kernels split each operation across their threads
 * and wait for the slowest, so a thread that shares its core with another program stalls every
 * operation. Measured on 2 cores (docs/benchmarks.md, "In VS Code"): with VS Code's window drawing
 * the training panel beside the worker (about half a core), two threads were slower than one in 7
 * of 8 paired runs (dense 9-13 %, conv 11-41 %; one conv run went 12 % the other way); beside two
 * busy processes, threads cut the conv autoencoder's
 * speed by a quarter to a half. Idle cores are sampled over `sampleMs` (os.cpus() times, this
 * process's own CPU time counted as available: it is ours to use).
 */
export async function wasmThreadsWanted(env: NodeJS.ProcessEnv = process.env, sampleMs = 200): Promise<ThreadsChoice> {
  const forced = positiveInt(env.LATENT_WASM_THREADS);
  if (forced !== undefined) return chooseWasmThreads({ cores: 1, idle: null, forced });
  const os = runtimeRequire()('os') as typeof import('node:os');
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const keep = { cores: positiveInt(env.LATENT_WASM_KEEP_CORES) ?? 0, for: env.LATENT_WASM_KEEP_FOR?.trim() || undefined };
  if (Math.min(cores, 8) - keep.cores <= 1) return chooseWasmThreads({ cores, idle: null, keep });
  return chooseWasmThreads({ cores, idle: await idleCores(os, sampleMs), keep });
}

const positiveInt = (text: string | undefined): number | undefined => {
  const n = text === undefined || text.trim() === '' ? Number.NaN : Number(text.trim());
  return Number.isInteger(n) && n >= 1 ? n : undefined;
};

/**
 * The rule of wasmThreadsWanted, on what it measured: `idle` cores (null: unknown, all count),
 * `keep` cores left for other work (named in the reason), `forced` by LATENT_WASM_THREADS.
 */
export function chooseWasmThreads(m: { cores: number; idle: number | null; keep?: { cores: number; for?: string }; forced?: number }): ThreadsChoice {
  if (m.forced !== undefined) return { threads: Math.min(m.forced, 8), why: m.forced === 1 ? 'LATENT_WASM_THREADS=1' : undefined };
  const cores = Math.max(1, Math.min(m.cores, 8));
  if (cores === 1) return { threads: 1 };
  const keep = Math.max(0, m.keep?.cores ?? 0);
  const usable = Math.max(1, cores - keep);
  const idle = m.idle === null ? cores : Math.max(1, Math.min(cores, Math.floor(m.idle + 0.35)));
  const threads = Math.min(usable, idle);
  if (threads > 1) return { threads };
  const kept = `${keep} of ${m.cores} cores kept for ${m.keep?.for ?? 'other work'}`;
  if (usable === 1) return { threads: 1, why: kept };
  return { threads: 1, why: `busy machine: ${(m.idle ?? 0).toFixed(1)} of ${m.cores} cores idle` };
}

/**
 * Idle cores over the next `ms` (sum over cores of each core's idle share, plus the cores this
 * process kept busy meanwhile), or null if unknown.
 */
async function idleCores(os: typeof import('node:os'), ms: number): Promise<number | null> {
  const sample = (): { idle: number; total: number }[] =>
    os.cpus().map((c) => ({ idle: c.times.idle, total: c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq }));
  const before = sample();
  const ownBefore = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const own = process.cpuUsage(ownBefore);
  const wallUs = (performance.now() - t0) * 1000;
  const after = sample();
  if (before.length === 0 || before.length !== after.length || wallUs <= 0) return null;
  let idle = 0;
  for (let i = 0; i < after.length; i++) {
    const total = after[i]!.total - before[i]!.total;
    if (total <= 0) return null;
    idle += (after[i]!.idle - before[i]!.idle) / total;
  }
  return Math.min(after.length, idle + (own.user + own.system) / wallUs);
}

export interface ThreadedWasm {
  /** Threads in XNNPACK's pool (the calling thread included). */
  threads: number;
  /** Stops the pool's workers (used when a check fails after start). */
  dispose(): void;
}

/**
 * Starts the threaded build from the files in `dir` (glue + worker code) and `binaryDir` (.wasm),
 * and registers it as tfjs's 'wasm' backend (replacing the package's factory; its kernels stay).
 * Does not activate it. Throws with a one-line reason on any failure, leaving the package's own
 * factory registered.
 */
export async function registerThreadedWasm(
  wasm: typeof WasmBackendModule,
  files: { glue: string; worker: string; binary: string },
  threads: number,
  timeoutMs = 30_000,
): Promise<ThreadedWasm> {
  if (typeof SharedArrayBuffer !== 'function') throw new Error('no SharedArrayBuffer in this Node');
  const req = runtimeRequire();
  const factory = req(files.glue) as (config: object) => Promise<EmscriptenModule>;
  if (typeof factory !== 'function') throw new Error(`${path.basename(files.glue)} is not the Emscripten glue this expects`);

  // The worker: an ES module (data: URL) that gives the package's classic worker code the globals
  // it expects, then runs it. The worker code loads the glue with importScripts(mainScriptUrlOrBlob).
  const bootstrap = [
    `import { createRequire } from 'node:module';`,
    `const require = createRequire(${JSON.stringify(files.glue)});`,
    `globalThis.require = require;`,
    `globalThis.__filename = ${JSON.stringify(files.glue)};`,
    `const { wasmWorkerContents } = require(${JSON.stringify(files.worker)});`,
    // The code is a template literal whose "\n" escapes became real newlines inside its string
    // literals; tfjs-backend-wasm's own loader escapes them back the same way.
    `(0, eval)(wasmWorkerContents.replace(/\\n/g, '\\\\n'));`,
  ].join('\n');
  const workerUrl = new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);

  const config: Record<string, unknown> = {
    locateFile: (name: string, prefix: string): string | URL =>
      name.endsWith('.worker.js') ? workerUrl : name.endsWith('.wasm') ? files.binary : prefix + name,
    mainScriptUrlOrBlob: files.glue,
    print: (): void => undefined,
    printErr: (line: string): void => console.warn(`tfjs-backend-wasm (threaded): ${line}`),
  };

  const os = req('os') as typeof import('node:os');
  const realCpus = os.cpus;
  const doubled = (): ReturnType<typeof os.cpus> => {
    const one = realCpus.call(os);
    const cpu = one[0];
    return cpu === undefined ? one : Array.from({ length: 2 * threads }, () => cpu);
  };
  let timer: NodeJS.Timeout | undefined;
  let module: EmscriptenModule;
  os.cpus = doubled;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`its workers did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    module = await Promise.race([factory(config), timeout]);
  } catch (e) {
    (config as Partial<EmscriptenModule>).PThread?.terminateAllThreads();
    throw e;
  } finally {
    os.cpus = realCpus;
    clearTimeout(timer);
  }

  // The backend reads every tensor through Module.HEAPU8; keep it a view of the current memory.
  let heap = module.HEAPU8;
  Object.defineProperty(module, 'HEAPU8', {
    configurable: true,
    get: (): Uint8Array => {
      if (heap.buffer !== module.wasmMemory.buffer) heap = new Uint8Array(module.wasmMemory.buffer);
      return heap;
    },
    set: (v: Uint8Array): void => {
      heap = v;
    },
  });

  // What tfjs-backend-wasm's own init() adds to the module before constructing the backend.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };

  const pthreads = module.PThread;
  const unrefWorkers = (): void => {
    for (const w of pthreads?.runningWorkers ?? []) w.unref();
  };
  wasm.setThreadsCount(threads);
  const previous = tf.findBackendFactory('wasm');
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    () => {
      // The constructor creates XNNPACK's pool: its threads start (referenced) right here.
      const backend = new wasm.BackendWasm(module as unknown as ConstructorParameters<typeof wasm.BackendWasm>[0]);
      unrefWorkers();
      return backend;
    },
    2,
  );
  return {
    threads,
    dispose: (): void => {
      tf.removeBackend('wasm');
      pthreads?.terminateAllThreads();
      if (previous !== null) tf.registerBackend('wasm', previous, 2);
    },
  };
}
