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
import * as tf from '@tensorflow/tfjs';
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
 * Threads for the wasm backend: LATENT_WASM_THREADS when set (1 = off); else as many cores as are
 * idle right now (at most 8, the workers the build pre-creates). XNNPACK's pool and our kernels
 * split each operation across their threads and wait for the slowest: a thread with no free core
 * to run on stalls every operation (measured on 2 cores beside two other busy processes: threads
 * cut a conv autoencoder's training speed by a quarter to a half). So the idle share of every
 * core is sampled over `sampleMs` (os.cpus() times; this process has not started training yet),
 * and threads = the idle cores, rounded (at least 1).
 */
export async function wasmThreadsWanted(env: NodeJS.ProcessEnv = process.env, sampleMs = 200): Promise<ThreadsChoice> {
  const set = env.LATENT_WASM_THREADS?.trim();
  if (set !== undefined && set !== '') {
    const n = Number.parseInt(set, 10);
    if (Number.isFinite(n) && n >= 1) return { threads: Math.min(n, 8), why: n === 1 ? 'LATENT_WASM_THREADS=1' : undefined };
  }
  const os = runtimeRequire()('os') as typeof import('node:os');
  const cores = Math.max(1, Math.min(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length, 8));
  if (cores === 1) return { threads: 1 };
  const idle = await idleCores(os, sampleMs);
  if (idle === null) return { threads: cores };
  const threads = Math.max(1, Math.min(cores, Math.floor(idle + 0.35)));
  return threads > 1 ? { threads } : { threads: 1, why: `busy machine: ${idle.toFixed(1)} of ${cores} cores idle` };
}

/** Idle cores over the next `ms` (sum over cores of each core's idle share), or null if unknown. */
async function idleCores(os: typeof import('node:os'), ms: number): Promise<number | null> {
  const sample = (): { idle: number; total: number }[] =>
    os.cpus().map((c) => ({ idle: c.times.idle, total: c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq }));
  const before = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = sample();
  if (before.length === 0 || before.length !== after.length) return null;
  let idle = 0;
  for (let i = 0; i < after.length; i++) {
    const total = after[i]!.total - before[i]!.total;
    if (total <= 0) return null;
    idle += (after[i]!.idle - before[i]!.idle) / total;
  }
  return idle;
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
