/**
 * Latent Studio's own WebAssembly SIMD kernels (src/backend/kernels/wasm/simd/kernels.c, built into
 * simdBinary.ts), instantiated on the tfjs wasm backend's own memory so they read and write its
 * tensors in place. One instance per backend module; null where it cannot be made (the callers
 * then use their other paths).
 *
 * With tfjs-backend-wasm's threaded build the heap is shared memory, and the kernels can also run
 * on worker threads of our own (one fewer than the backend's threads): a kernel over a batch is
 * split into parts by image, the calling thread runs the first part and each worker one other,
 * and the call returns when all are done. The workers sleep in Atomics.wait between calls (no
 * spinning), are unreferenced (a process still exits by itself), and a worker that fails or
 * stops answering turns the pool off for good (the kernels then run on the calling thread).
 */
import { Worker } from 'node:worker_threads';
import { SIMD_WASM_PLAIN, SIMD_WASM_SHARED } from './simdBinary';

/** The kernels' export names (kernels.c); arguments are heap byte offsets, sizes and flags. */
export const SIMD_KERNELS = [
  'conv2d_filter_grad_co',
  'conv2d_filter_grad_c',
  'conv2d_in1',
  'conv2d_out1',
  'conv2d_direct',
  'max_pool_grad',
  'max_pool_grad_tiled',
  'sum_rows',
  'add_bias',
  'upsample_nearest',
  'upsample_nearest_grad',
  'conv2d_input_grad',
  'compare',
  'logical_and',
  'select_where',
  'relu_grad',
  'sigmoid_grad',
  'loss_values',
  'loss_grad',
] as const;
export type SimdKernelName = (typeof SIMD_KERNELS)[number];

type KernelFn = (...args: number[]) => void;

export interface Simd {
  /** Threads a kernel call can use (1: this thread only). */
  readonly threads: number;
  /** Runs `name` on this thread. */
  call(name: SimdKernelName, ...args: number[]): void;
  /**
   * Runs `name` once per argument list, in parallel where the pool has workers (the first list on
   * this thread); returns when every run is done. At most `threads` lists.
   */
  runParts(name: SimdKernelName, argLists: readonly (readonly number[])[]): void;
  /** Splits a batch of n images into at most `threads` parts of at least `minPerPart` images: [first, count][]. */
  batchParts(n: number, minPerPart?: number): [number, number][];
}

interface EmscriptenModuleLike {
  wasmMemory?: unknown;
  asm?: Record<string, unknown>;
}

const instances = new WeakMap<object, Simd | null>();

/** How many worker threads our kernels may add; set by backend.ts from the backend's threads. */
let poolWorkers = 0;
export function setSimdWorkers(n: number): void {
  poolWorkers = Math.max(0, Math.min(7, Math.floor(n)));
}

/** The memory of a tfjs-backend-wasm module (threaded build: Module.wasmMemory; others: its export). */
function memoryOf(module: EmscriptenModuleLike): WebAssembly.Memory | null {
  if (module.wasmMemory instanceof WebAssembly.Memory) return module.wasmMemory;
  const exported = Object.values(module.asm ?? {}).find((v) => v instanceof WebAssembly.Memory);
  return exported instanceof WebAssembly.Memory ? exported : null;
}

/** Our kernels for this wasm backend, or null (no SIMD, no memory found). */
export function simdKernels(backend: object): Simd | null {
  const module = (backend as { wasm?: EmscriptenModuleLike }).wasm;
  if (module === undefined || module === null) return null;
  let simd = instances.get(module);
  if (simd !== undefined) return simd;
  simd = null;
  try {
    const memory = memoryOf(module);
    if (memory !== null) {
      const shared = typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer;
      const bytes = Buffer.from(shared ? SIMD_WASM_SHARED : SIMD_WASM_PLAIN, 'base64');
      const wasmModule = new WebAssembly.Module(bytes);
      const exports = new WebAssembly.Instance(wasmModule, { env: { memory } }).exports as Record<string, KernelFn | undefined>;
      const fns = SIMD_KERNELS.map((name) => exports[name]);
      if (fns.every((f): f is KernelFn => typeof f === 'function')) {
        const pool = shared && poolWorkers > 0 ? new Pool(memory, wasmModule, poolWorkers) : null;
        simd = makeSimd(fns, pool);
      }
    }
  } catch {
    simd = null; // e.g. a Node without wasm SIMD
  }
  instances.set(module, simd);
  return simd;
}

/** Heap offset of a tensor, for the kernels above. */
export function heapOffset(backend: object, t: { dataId: object }): number {
  return (backend as { getMemoryOffset(dataId: object): number }).getMemoryOffset(t.dataId);
}

function makeSimd(fns: KernelFn[], pool: Pool | null): Simd {
  const index = (name: SimdKernelName): number => SIMD_KERNELS.indexOf(name);
  return {
    get threads() {
      return pool?.usable === true ? pool.size + 1 : 1;
    },
    call: (name, ...args) => fns[index(name)]!(...args),
    runParts(name, argLists) {
      const fn = fns[index(name)]!;
      if (argLists.length === 0) return;
      if (argLists.length === 1 || pool === null || !pool.usable) {
        for (const args of argLists) fn(...args);
        return;
      }
      const started = pool.start(index(name), argLists.slice(1));
      try {
        fn(...argLists[0]!);
      } finally {
        pool.finish(started);
      }
    },
    batchParts(n, minPerPart = 1) {
      const parts = Math.max(1, Math.min(this.threads, Math.floor(n / Math.max(1, minPerPart))));
      const out: [number, number][] = [];
      for (let i = 0, first = 0; i < parts; i++) {
        const count = Math.floor(n / parts) + (i < n % parts ? 1 : 0);
        out.push([first, count]);
        first += count;
      }
      return out;
    },
  };
}

// Control block layout (Int32 slots, then Float64 arguments from byte 64).
const SEQ = 0; // job number, written by the caller
const DONE = 1; // last job number finished, written by the worker
const FN = 2; // kernel index
const ARGC = 3;
const STATUS = 4; // 0 ok, 1 the kernel threw
const READY = 5; // 1 once the worker waits for jobs
const STOP = -1;
const MAX_ARGS = 24;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, wasmModule, ctrl, names } = workerData;
const exports = new WebAssembly.Instance(wasmModule, { env: { memory } }).exports;
const fns = names.map((n) => exports[n]);
const i32 = new Int32Array(ctrl);
const f64 = new Float64Array(ctrl, 64);
Atomics.store(i32, ${READY}, 1);
let seen = 0;
for (;;) {
  Atomics.wait(i32, ${SEQ}, seen);
  seen = Atomics.load(i32, ${SEQ});
  const fn = Atomics.load(i32, ${FN});
  if (fn === ${STOP}) break;
  let status = 0;
  try {
    fns[fn](...f64.subarray(0, Atomics.load(i32, ${ARGC})));
  } catch {
    status = 1;
  }
  Atomics.store(i32, ${STATUS}, status);
  Atomics.store(i32, ${DONE}, seen);
  Atomics.notify(i32, ${DONE});
}
`;

/** Worker threads running our kernels on the shared heap, one job at a time each. */
class Pool {
  private readonly workers: { worker: Worker; i32: Int32Array; f64: Float64Array }[] = [];
  private broken = false;

  constructor(memory: WebAssembly.Memory, wasmModule: WebAssembly.Module, size: number) {
    for (let i = 0; i < size; i++) {
      const ctrl = new SharedArrayBuffer(64 + 8 * MAX_ARGS);
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, wasmModule, ctrl, names: [...SIMD_KERNELS] } });
      worker.unref();
      worker.on('error', () => {
        this.broken = true;
      });
      worker.on('exit', () => {
        this.broken = true;
      });
      this.workers.push({ worker, i32: new Int32Array(ctrl), f64: new Float64Array(ctrl, 64) });
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Every worker has started and none has failed. */
  get usable(): boolean {
    return !this.broken && this.workers.every((w) => Atomics.load(w.i32, READY) === 1);
  }

  /** Hands one argument list to each of the first argLists.length workers; returns their job numbers. */
  start(fn: number, argLists: readonly (readonly number[])[]): number[] {
    return argLists.map((args, i) => {
      const w = this.workers[i]!;
      if (args.length > MAX_ARGS) throw new Error(`too many kernel arguments (${args.length})`);
      w.f64.set(args);
      Atomics.store(w.i32, FN, fn);
      Atomics.store(w.i32, ARGC, args.length);
      const seq = Atomics.load(w.i32, SEQ) + 1;
      Atomics.store(w.i32, SEQ, seq);
      Atomics.notify(w.i32, SEQ);
      return seq;
    });
  }

  /** Waits for the jobs `start` handed out; a worker that fails or hangs turns the pool off and throws. */
  finish(jobs: readonly number[]): void {
    jobs.forEach((seq, i) => {
      const w = this.workers[i]!;
      for (let spin = 0; spin < 4000 && Atomics.load(w.i32, DONE) !== seq; spin++);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const done = Atomics.load(w.i32, DONE);
        if (done === seq) break;
        if (Date.now() > deadline) {
          this.broken = true;
          throw new Error("a worker thread of Latent Studio's wasm kernels stopped answering");
        }
        Atomics.wait(w.i32, DONE, done, 1000);
      }
      if (Atomics.load(w.i32, STATUS) !== 0) {
        this.broken = true;
        throw new Error("a worker thread of Latent Studio's wasm kernels failed");
      }
    });
  }
}

/**
 * Runs a kernel over a batch split by image across the pool: `args` are the whole batch's
 * arguments, `perImage` maps an argument's position to the bytes one image moves that pointer by,
 * and args[nAt] is the image count. Parts have at least `minPerPart` images.
 */
export function runBatch(simd: Simd, name: SimdKernelName, args: readonly number[], nAt: number, perImage: Readonly<Record<number, number>>, minPerPart = 4): void {
  const parts = simd.batchParts(args[nAt]!, minPerPart);
  simd.runParts(
    name,
    parts.map(([first, count]) => {
      const a = [...args];
      for (const [at, bytes] of Object.entries(perImage)) a[Number(at)]! += first * bytes;
      a[nAt] = count;
      return a;
    }),
  );
}
