/**
 * Chooses the TensorFlow.js backend for a training run and says why.
 *
 * auto tries, best first: tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu. A backend wins when it
 * loads AND registers every kernel the model needs AND has no known defect in one of those
 * kernels; every better backend passed over is reported with a precise reason. Right after a
 * backend loads, src/backend/kernelFixes.ts registers our replacements for its missing, defective
 * or slow kernels (wasm: Conv2DBackpropFilter, MaxPoolGrad and the kernels in src/backend/kernels/;
 * cpu: ResizeNearestNeighborGrad), so those count as present and defect-free. wasm runs its
 * multithreaded build when cores are idle (src/backend/kernels/wasm/threads.ts).
 *
 * Switching tfjs backends is process-global state: selectBackend calls are serialized, and each
 * backend is loaded at most once per process (a failed native load is never retried, because a
 * half-loaded package cannot be cleanly loaded again).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from './tf';
import type * as WasmBackendModule from '@tensorflow/tfjs-backend-wasm';
import { BACKEND_NAMES, type BackendInfo, type BackendName, type SkippedBackend, parseBackendName } from '../core/backends';
import { runtimeRequire } from '../platform/runtimeRequire';
import { selfCheck } from './selfCheck';
import { applyGradientFixes } from './gradientFixes';
import { applyKernelFixes, isKernelFixed } from './kernelFixes';
import { setSimdWorkers } from './kernels/wasm/simd';
import { THREADED_FILES, type ThreadedWasm, registerThreadedWasm, wasmThreadsWanted } from './kernels/wasm/threads';

/** A kernel the model needs, with the reason shown when a backend lacks it. */
export interface KernelNeed {
  kernel: string;
  why: string;
}

export interface SelectBackendOptions {
  /** 'auto' (default) walks BACKEND_NAMES; a name loads exactly that backend or throws. */
  prefer?: BackendName | 'auto';
  needs?: readonly KernelNeed[];
  log?: (line: string) => void;
}

/**
 * A kernel bug in a specific backend that makes it unusable for models needing that kernel, unless
 * src/backend/kernelFixes.ts has replaced that kernel (then the backend is used, with our kernel).
 */
export interface KnownDefect {
  backend: BackendName;
  kernel: string;
  /** npm package whose version decides whether the defect applies. */
  pkg: string;
  /** Last version known to have the defect; newer versions are trusted again. */
  throughVersion: string;
  what: string;
}

// Each defect here is characterised against the raw upstream kernel in test/backend/backend.test.ts
// (which fails once upstream fixes it) and our replacement is checked in test/backend/gradients.test.ts.
export const KNOWN_DEFECTS: readonly KnownDefect[] = [
  {
    // MaxPoolGrad.cc seeds the running max with std::numeric_limits<float>::min() (1.2e-38, the
    // smallest positive float), so in a window with no positive value nothing beats the seed and
    // the gradient goes to flat offset 0 instead of the window's max. ReLU before MaxPooling makes
    // all-zero windows common. Replaced by maxPoolGradWasm in kernelFixes.ts.
    backend: 'wasm',
    kernel: 'MaxPoolGrad',
    pkg: '@tensorflow/tfjs-backend-wasm',
    throughVersion: '4.22.0',
    what:
      'MaxPoolGrad starts its running max at the smallest positive float instead of -Infinity, ' +
      'so a pooling window with no positive value (common after ReLU) gets a wrong gradient',
  },
  {
    // Offsets dy by the input's batch stride instead of dy's. Replaced by
    // resizeNearestNeighborGradCpu in kernelFixes.ts.
    backend: 'cpu',
    kernel: 'ResizeNearestNeighborGrad',
    pkg: '@tensorflow/tfjs-backend-cpu',
    throughVersion: '4.22.0',
    what: 'ResizeNearestNeighborGrad reads the wrong image of dy for every image after the first in a batch',
  },
];

const NPM_PACKAGE: Record<BackendName, string | null> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  webgpu: 'webgpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: null,
};

const TF_BACKEND: Record<BackendName, string> = {
  'tfjs-node-gpu': 'tensorflow',
  'tfjs-node': 'tensorflow',
  webgpu: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
};

type LoadResult =
  | { ok: true; detail: string; version: string | null; note?: string }
  // fullError: the whole multi-line message (native load errors), logged; reason keeps line one.
  | { ok: false; reason: string; fullError?: string };
type Verdict = { ok: true; detail: string } | { ok: false; reason: string };

/** "backend: wasm (SIMD on, threads off)" then one "skipped X: reason" line per skipped backend. */
export function describeBackendInfo(r: BackendInfo): string[] {
  const head = `backend: ${r.name}${r.detail ? ` (${r.detail})` : ''}`;
  return [head, ...r.skipped.map((s) => `skipped ${s.name}: ${s.reason}${installHint(s)}`)];
}

function installHint(s: SkippedBackend): string {
  const pkg = NPM_PACKAGE[s.name];
  return s.reason === 'not installed' && pkg !== null ? ` (npm install ${pkg})` : '';
}

// Backend switches are global, so overlapping selections would interleave; run them one by one.
let queue: Promise<unknown> = Promise.resolve();

export function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendInfo> {
  const run = queue.then(() => select(opts));
  queue = run.catch(() => undefined);
  return run;
}

async function select(opts: SelectBackendOptions): Promise<BackendInfo> {
  // Validated again here for plain-JS callers (CLI flags, settings) that bypass the type.
  const prefer = opts.prefer === undefined || opts.prefer === 'auto' ? 'auto' : parseBackendName(opts.prefer);
  const needs = opts.needs ?? [];
  const log = opts.log ?? ((): void => undefined);

  if (prefer !== 'auto') {
    const verdict = await evaluate(prefer, needs, log);
    if (verdict.ok) return finish(prefer, verdict.detail, [], log);
    throw new Error(await explainUnusable(prefer, verdict.reason, needs));
  }

  const skipped: SkippedBackend[] = [];
  for (const name of BACKEND_NAMES) {
    const verdict = await evaluate(name, needs, log);
    if (verdict.ok) return finish(name, verdict.detail, skipped, log);
    skipped.push({ name, reason: verdict.reason });
    log(`skipped ${name}: ${verdict.reason}`);
  }
  throw new Error(
    `No TensorFlow.js backend can run this model: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
  );
}

async function finish(name: BackendName, detail: string, skipped: SkippedBackend[], log: (line: string) => void): Promise<BackendInfo> {
  const failure = await activate(TF_BACKEND[name]);
  if (failure !== null) throw new Error(`Backend ${name} loaded but could not be re-activated: ${failure}`);
  const report: BackendInfo = { name, tfBackend: tf.getBackend(), detail, skipped };
  log(describeBackendInfo(report)[0] ?? `backend: ${name}`);
  return report;
}

/** The message for prefer=<name> failing: why, plus what would work here instead. */
async function explainUnusable(name: BackendName, reason: string, needs: readonly KernelNeed[]): Promise<string> {
  const previous = currentBackend();
  const usable: BackendName[] = [];
  const unusable: string[] = [];
  for (const other of BACKEND_NAMES) {
    if (other === name) continue;
    const verdict = await evaluate(other, needs, () => undefined);
    if (verdict.ok) usable.push(other);
    else unusable.push(`${other}: ${verdict.reason}`);
  }
  // Probing switched the global backend; put back whatever the caller had.
  if (previous !== null) await activate(previous);
  const hint = installHint({ name, reason });
  return (
    `Backend ${name} is not usable: ${reason}${hint}. ` +
    `Usable here: ${usable.length > 0 ? usable.join(', ') : 'none'}` +
    (unusable.length > 0 ? ` (not usable: ${unusable.join('; ')})` : '') +
    '.'
  );
}

async function evaluate(name: BackendName, needs: readonly KernelNeed[], log: (line: string) => void): Promise<Verdict> {
  log(`trying ${name}`);
  const loaded = await load(name);
  if (!loaded.ok) {
    if (loaded.fullError !== undefined) log(`${name}: ${loaded.fullError}`);
    return { ok: false, reason: loaded.reason };
  }
  if (loaded.note !== undefined) log(`${name}: ${loaded.note}`);
  // Our replacements for missing or defective kernels (idempotent; registered only now that the
  // backend's own kernels are, since a later registration replaces an earlier one).
  applyKernelFixes(TF_BACKEND[name]);
  applyGradientFixes();
  // Every kernel problem at once, so one run tells the user all that stands in the way.
  const problems = [missingKernels(TF_BACKEND[name], needs), knownDefect(name, loaded.version, needs)].filter((p) => p !== null);
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  // cpu is the reference; every other backend proves one training step right before it trains.
  if (name !== 'cpu') {
    const started = performance.now();
    const wrong = await selfCheck(TF_BACKEND[name]);
    if (wrong !== null) return { ok: false, reason: wrong };
    log(`${name}: self-check passed (${Math.round(performance.now() - started)} ms)`);
  }
  return { ok: true, detail: loaded.detail };
}

function missingKernels(tfBackend: string, needs: readonly KernelNeed[]): string | null {
  const whys = new Map<string, string[]>();
  for (const need of needs) {
    if (tf.getKernel(need.kernel, tfBackend) !== undefined) continue;
    whys.set(need.kernel, [...(whys.get(need.kernel) ?? []), need.why]);
  }
  if (whys.size === 0) return null;
  return [...whys].map(([kernel, list]) => `lacks kernel ${kernel} (${summarizeWhys(list)})`).join('; ');
}

function knownDefect(name: BackendName, version: string | null, needs: readonly KernelNeed[]): string | null {
  for (const d of KNOWN_DEFECTS) {
    if (d.backend !== name) continue;
    if (isKernelFixed(d.kernel, TF_BACKEND[name])) continue;
    // An unknown version is treated as affected: better a slower backend than wrong gradients.
    if (version !== null && compareVersions(version, d.throughVersion) > 0) continue;
    const hit = needs.filter((n) => n.kernel === d.kernel).map((n) => n.why);
    if (hit.length === 0) continue;
    return `known defect: ${d.pkg} ${version ?? '(unknown version)'} ${d.what} (${summarizeWhys(hit)})`;
  }
  return null;
}

function summarizeWhys(list: readonly string[]): string {
  const unique = [...new Set(list)];
  return unique.length > 1 ? `${unique[0]}, and ${unique.length - 1} more` : (unique[0] ?? '');
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Loading. Each result is memoized: a backend that failed once will fail again in this process.

const loads = new Map<BackendName, Promise<LoadResult>>();

function load(name: BackendName): Promise<LoadResult> {
  let pending = loads.get(name);
  if (pending === undefined) {
    pending = loadOnce(name).catch((e: unknown): LoadResult => loadFailure(e));
    loads.set(name, pending);
  }
  return pending;
}

function loadOnce(name: BackendName): Promise<LoadResult> {
  switch (name) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      return loadTfjsNode(name);
    case 'webgpu':
      return loadWebgpu();
    case 'wasm':
      return loadWasm();
    case 'cpu':
      return loadCpu();
  }
}

/** Node's "Cannot find module" for `pkg` itself (not for something it imports). */
function isNotInstalled(e: unknown, pkg: string): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  return e.message.includes(`'${pkg}'`) || e.message.includes(`"${pkg}"`) || e.message.includes(`package '${pkg}'`);
}

async function loadTfjsNode(name: 'tfjs-node-gpu' | 'tfjs-node'): Promise<LoadResult> {
  const pkg = NPM_PACKAGE[name] ?? name;
  const req = runtimeRequire();
  try {
    req.resolve(pkg);
  } catch (e) {
    return isNotInstalled(e, pkg) ? { ok: false, reason: 'not installed' } : { ok: false, reason: `failed to load: ${errorLine(e)}` };
  }
  const other: BackendName = name === 'tfjs-node' ? 'tfjs-node-gpu' : 'tfjs-node';
  const otherLoad = loads.get(other);
  if (otherLoad !== undefined && (await otherLoad).ok) {
    // Both packages register the same 'tensorflow' backend; loading the second would clash.
    return { ok: false, reason: `failed to load: the "tensorflow" backend is already provided by ${NPM_PACKAGE[other] ?? other}` };
  }
  const alreadyRegistered = tf.findBackendFactory('tensorflow') !== null;
  try {
    req(pkg);
  } catch (e) {
    // The package registers its kernels before loading its native addon; drop what it left behind
    // so the next package (tfjs-node after tfjs-node-gpu) registers its own, not a dead copy.
    if (!alreadyRegistered) forgetBackend('tensorflow');
    return loadFailure(e);
  }
  if (tf.findBackendFactory('tensorflow') === null) {
    forgetBackend('tensorflow');
    return {
      ok: false,
      reason: `failed to load: ${pkg} did not register the "tensorflow" backend with this @tensorflow/tfjs (version mismatch?)`,
    };
  }
  const failure = await activate('tensorflow');
  if (failure !== null) {
    forgetBackend('tensorflow');
    return { ok: false, reason: `failed to load: ${failure}` };
  }
  const version = packageVersion(req, pkg);
  return { ok: true, detail: tensorflowDetail(pkg, version), version };
}

/** Whether the TensorFlow C library behind tfjs-node-gpu actually found a CUDA device. */
function tensorflowDetail(pkg: string, version: string | null): string {
  const backend: unknown = tf.engine().backend;
  const usingGpu =
    typeof backend === 'object' && backend !== null && 'isUsingGpuDevice' in backend ? backend.isUsingGpuDevice : undefined;
  const where = usingGpu === true ? 'CUDA GPU in use' : usingGpu === false ? 'no CUDA GPU found, TensorFlow runs on the CPU' : '';
  return [`${pkg}${version !== null ? ` ${version}` : ''}`, where].filter((s) => s !== '').join(', ');
}

function packageVersion(req: NodeRequire, pkg: string): string | null {
  try {
    const json: unknown = req(`${pkg}/package.json`);
    return typeof json === 'object' && json !== null && 'version' in json && typeof json.version === 'string' ? json.version : null;
  } catch {
    return null;
  }
}

/** Remove a backend's factory, instance and kernels so a later registration starts clean. */
function forgetBackend(tfBackend: string): void {
  for (const k of tf.getKernelsForBackend(tfBackend)) tf.unregisterKernel(k.kernelName, tfBackend);
  if (tf.findBackendFactory(tfBackend) !== null) tf.removeBackend(tfBackend);
}

interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** Dawn finds GPUs through Vulkan on Linux; without the loader it can only print a warning and fail. */
function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu',
    '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib',
  ];
  return !dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

async function loadWebgpu(): Promise<LoadResult> {
  if (vulkanLoaderMissing()) return { ok: false, reason: 'no GPU adapter (no Vulkan loader libvulkan.so.1: install libvulkan1 and the GPU driver)' };
  let dawn: typeof import('webgpu');
  try {
    // Literal specifier: the webpack config maps it to a native `import('webgpu')` (ESM + addon).
    dawn = await import('webgpu');
  } catch (e) {
    return isNotInstalled(e, 'webgpu') ? { ok: false, reason: 'not installed' } : { ok: false, reason: `failed to load: ${errorLine(e)}` };
  }
  // tfjs-backend-webgpu reads GPUBufferUsage & co. as globals and navigator.gpu at module load.
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  installNavigatorGpu(gpu);

  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) return { ok: false, reason: 'no GPU adapter' };
  const info = await adapterInfo(adapter);
  const software = softwareAdapter(adapter, info);
  if (software !== null && process.env.LATENT_WEBGPU_SOFTWARE !== '1') {
    return { ok: false, reason: `fallback (software) adapter${software ? ` (${software})` : ''}` };
  }

  try {
    // Eager: bundle it into this file instead of a separate webpack chunk next to dist/worker.js.
    await import(/* webpackMode: "eager" */ '@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return { ok: false, reason: `failed to load: ${errorLine(e)}` };
  }
  if (tf.findBackendFactory('webgpu') === null) {
    return { ok: false, reason: 'failed to load: @tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed' };
  }
  const failure = await activate('webgpu');
  if (failure !== null) return { ok: false, reason: `failed to load: ${failure}` };
  watchGpuErrors();
  const detail = [info.vendor, info.architecture, info.description || info.device].filter((s) => !!s).join(' / ');
  return { ok: true, detail: detail || 'GPU adapter', version: null };
}

let gpuError: string | null = null;

/**
 * WebGPU reports an invalid command (a binding over a device limit, say) only as an event, and the
 * ops involved then return garbage: remember the first error so the trainer can stop (takeGpuError).
 */
function watchGpuErrors(): void {
  const device = (tf.findBackend('webgpu') as unknown as { device?: GPUDevice } | null)?.device;
  if (!device) return;
  device.onuncapturederror = (e: GPUUncapturedErrorEvent) => {
    gpuError ??= e.error.message.split('\n')[0] ?? 'unknown error';
  };
}

/** The first error the WebGPU device reported since the last call, or null; clears it. */
export function takeGpuError(): string | null {
  const e = gpuError;
  gpuError = null;
  return e;
}

/** Sets navigator.gpu, keeping an existing navigator (Node 21+ has one) and its other fields. */
function installNavigatorGpu(gpu: GPU): void {
  const holder = globalThis as { navigator?: object };
  const existing = holder.navigator;
  if (existing !== undefined) {
    try {
      Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true, writable: true });
      return;
    } catch {
      // A frozen navigator: fall through and replace it with a plain merged copy.
    }
  }
  const merged: Record<string, unknown> = { ...(existing ?? {}), gpu };
  Object.defineProperty(globalThis, 'navigator', { value: merged, configurable: true, writable: true });
}

async function adapterInfo(adapter: GPUAdapter): Promise<AdapterInfoLike> {
  // Current spec: adapter.info; older Dawn builds: adapter.requestAdapterInfo().
  const legacy = adapter as GPUAdapter & { requestAdapterInfo?: () => Promise<AdapterInfoLike> };
  const info: AdapterInfoLike | undefined =
    'info' in adapter ? adapter.info : typeof legacy.requestAdapterInfo === 'function' ? await legacy.requestAdapterInfo() : undefined;
  return info ?? {};
}

/** null for a hardware adapter; otherwise a short label ('' when only the flag says so). */
function softwareAdapter(adapter: GPUAdapter, info: AdapterInfoLike): string | null {
  const text = [info.vendor, info.architecture, info.device, info.description].filter((s) => !!s).join(' ');
  const named = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bcpu\b/i.exec(text);
  if (named !== null) return named[0];
  const legacyFlag = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  if (info.isFallbackAdapter === true || legacyFlag === true) return text;
  return null;
}

let wasmPathsSet = false;

async function loadWasm(): Promise<LoadResult> {
  let wasm: typeof WasmBackendModule;
  try {
    // Eager: keep it in the main bundle (no extra chunk); the .wasm binaries stay separate files.
    wasm = await import(/* webpackMode: "eager" */ '@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return isNotInstalled(e, '@tensorflow/tfjs-backend-wasm')
      ? { ok: false, reason: 'not installed' }
      : { ok: false, reason: `failed to load: ${errorLine(e)}` };
  }
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  // tfjs-backend-wasm itself never uses threads in Node; src/backend/kernels/wasm/threads.ts starts its
  // threaded build here when there is more than one core to use (LATENT_WASM_THREADS=1: never).
  const wanted = simd ? await wasmThreadsWanted() : { threads: 1 };
  const candidates = wasmDirCandidates();
  const notes: string[] = [];
  let threadsOff = wanted.why !== undefined ? `threads off (${wanted.why})` : 'threads off';
  if (wanted.threads > 1) {
    const threaded = await startThreadedWasm(wasm, candidates, wanted.threads);
    if (threaded.ok) {
      notes.push(`threaded build from ${threaded.dir}`);
      return { ok: true, detail: `SIMD on, threads on (${threaded.threads})`, version: wasm.version_wasm, note: notes.join('; ') };
    }
    notes.push(`threads off: ${threaded.reason}`);
    threadsOff = `threads off (${threaded.missing ? 'threaded build not found' : 'the threaded build did not start'})`;
  }
  const binary = simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
  const dir = candidates.find((d) => fs.existsSync(path.join(d, binary)));
  if (dir === undefined) {
    return { ok: false, reason: `failed to load: ${binary} not found in ${candidates.join(' or ') || '(no candidate folder)'}` };
  }
  if (!wasmPathsSet) {
    // A prefix, not a folder: the backend appends the file name to it.
    wasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
    wasmPathsSet = true;
  }
  const before = processHandlers();
  const failure = await activate('wasm');
  // Emscripten's Node glue adds uncaughtException / unhandledRejection handlers that only rethrow,
  // which makes any later crash print a minified wasm-glue source line instead of the real error.
  dropHandlersAddedSince(before);
  if (failure !== null) return { ok: false, reason: `failed to load: ${failure}` };
  notes.unshift(`binaries from ${dir}`);
  return { ok: true, detail: `SIMD ${simd ? 'on' : 'off'}, ${threadsOff}`, version: wasm.version_wasm, note: notes.join('; ') };
}

/**
 * The threaded build, registered and activated as 'wasm' and checked (thread count, a matmul that
 * runs on the pool against plain JS); on any failure the package's own factory is back in place.
 */
async function startThreadedWasm(
  wasm: typeof WasmBackendModule,
  candidates: readonly string[],
  threads: number,
): Promise<{ ok: true; threads: number; dir: string } | { ok: false; reason: string; missing?: true }> {
  // All three from one place (one package version): next to the bundle (dist/wasm), or the
  // package's dist (binary) and wasm-out (glue and worker code) folders.
  const locate = (d: string, name: string): string | undefined => [path.join(d, name), path.join(d, '..', 'wasm-out', name)].find((f) => fs.existsSync(f));
  const found = candidates
    .map((d) => ({ glue: locate(d, THREADED_FILES.glue), worker: locate(d, THREADED_FILES.worker), binary: locate(d, THREADED_FILES.binary) }))
    .find((f) => f.glue !== undefined && f.worker !== undefined && f.binary !== undefined);
  if (found === undefined) {
    return { ok: false, missing: true, reason: `${Object.values(THREADED_FILES).join(', ')} not all found in ${candidates.join(' or ') || '(no candidate folder)'}` };
  }
  const files = found as { glue: string; worker: string; binary: string };
  const before = processHandlers();
  let started: ThreadedWasm | undefined;
  try {
    started = await registerThreadedWasm(wasm, files, threads);
    const failure = await activate('wasm');
    if (failure !== null) throw new Error(failure);
    const actual = wasm.getThreadsCount();
    if (actual !== threads) throw new Error(`its pool has ${actual} thread(s), not ${threads}`);
    const wrong = threadedMatMulProblem();
    if (wrong !== null) throw new Error(wrong);
    // Our own SIMD kernels (src/backend/kernels/wasm/simd.ts) get as many threads, on the shared heap.
    setSimdWorkers(actual - 1);
    return { ok: true, threads: actual, dir: path.dirname(files.binary) };
  } catch (e) {
    started?.dispose();
    wasm.setThreadsCount(-1);
    setSimdWorkers(0);
    return { ok: false, reason: `the threaded build did not start: ${errorLine(e)}` };
  } finally {
    dropHandlersAddedSince(before);
  }
}

/** null when a 96 x 64 x 80 matmul (split across the pool's threads) agrees with plain JS. */
function threadedMatMulProblem(): string | null {
  const [m, k, n] = [96, 64, 80];
  const a = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
  const b = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 11) / 11 - 0.5);
  const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])).dataSync());
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let want = 0;
      for (let p = 0; p < k; p++) want += a[i * k + p]! * b[p * n + j]!;
      if (!(Math.abs(got[i * n + j]! - want) <= 1e-4)) return `a test matmul came out wrong (${got[i * n + j]} instead of ${want})`;
    }
  }
  return null;
}

type ProcessHandler = (...args: unknown[]) => void;
const CRASH_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
// The plain EventEmitter view: process's typed overloads reject a union of event names.
const processEvents: NodeJS.EventEmitter = process;

function processHandlers(): Map<string, ProcessHandler[]> {
  return new Map(CRASH_EVENTS.map((ev) => [ev, processEvents.listeners(ev) as ProcessHandler[]]));
}

function dropHandlersAddedSince(before: Map<string, ProcessHandler[]>): void {
  for (const ev of CRASH_EVENTS) {
    const old = before.get(ev) ?? [];
    for (const h of processEvents.listeners(ev) as ProcessHandler[]) if (!old.includes(h)) processEvents.removeListener(ev, h);
  }
}

/** dist/wasm next to the bundle first (the webpack build copies them there), then the package. */
function wasmDirCandidates(): string[] {
  const dirs: string[] = [];
  if (typeof __dirname === 'string') dirs.push(path.join(__dirname, 'wasm'));
  try {
    dirs.push(path.dirname(runtimeRequire().resolve('@tensorflow/tfjs-backend-wasm')));
  } catch {
    // Not resolvable from disk (e.g. a bundle shipped without node_modules): dist/wasm only.
  }
  return dirs;
}

async function loadCpu(): Promise<LoadResult> {
  const failure = await activate('cpu');
  const version = (tf.version as Record<string, string | undefined>)['tfjs-backend-cpu'] ?? null;
  return failure === null ? { ok: true, detail: 'plain JavaScript', version } : { ok: false, reason: `failed to load: ${failure}` };
}

function currentBackend(): string | null {
  // engine().backendName is null until something picks a backend; tf.getBackend() would pick one.
  const name: unknown = tf.engine().backendName;
  return typeof name === 'string' ? name : null;
}

/**
 * tf.setBackend + tf.ready; null on success, else the failure text. tfjs reports init failures
 * only through console.warn, so warnings are captured while it runs and replayed on success.
 */
async function activate(tfBackend: string): Promise<string | null> {
  const warnings: unknown[][] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]): void => {
    warnings.push(args);
  };
  let failure: string | null = null;
  try {
    if (!(await tf.setBackend(tfBackend))) failure = `tf.setBackend('${tfBackend}') returned false`;
    else await tf.ready();
  } catch (e) {
    failure = errorLine(e);
  } finally {
    console.warn = original;
  }
  if (failure === null) {
    for (const args of warnings) original.apply(console, args);
    return null;
  }
  const said = warnings
    .map((args) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '))
    .filter((w) => !w.startsWith('Initialization of backend'))
    .map((w) => w.split('\n')[0] ?? '')
    .filter((w) => w.trim() !== '');
  return said.length > 0 ? said.join('; ') : failure;
}

function loadFailure(e: unknown): LoadResult {
  const full = e instanceof Error ? e.message : String(e);
  return { ok: false, reason: `failed to load: ${errorLine(e)}`, ...(full.includes('\n') ? { fullError: full } : {}) };
}

/** First line of an error's message (native load errors run to many lines). */
function errorLine(e: unknown): string {
  const text = e instanceof Error ? e.message : typeof e === 'object' && e !== null && 'message' in e ? String(e.message) : String(e);
  const line = (text.split('\n').find((l) => l.trim() !== '') ?? text).trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
