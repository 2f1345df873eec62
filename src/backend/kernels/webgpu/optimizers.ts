/**
 * One-dispatch optimizer updates for the webgpu backend (@tensorflow/tfjs-backend-webgpu 4.22).
 *
 * Why: tfjs runs an optimizer as ~13 elementwise ops per variable (Adadelta: mul, square, add, sqrt,
 * div, ... then three assigns), and every op on webgpu is a separate dispatch with its own bind
 * group, uniform upload and output buffer. Profiled through Dawn (lavapipe, dense seed model, 14
 * variables): 332 dispatches per training step, ~190 of them the optimizer, at ~0.13 ms of host time
 * each — the per-step overhead that kept webgpu far below PyTorch however fast the GPU.
 *
 * What: one compute shader per optimizer that updates a variable and its slots in place (all bound
 * read_write) from the gradient: one dispatch per variable, no new buffers, no uniform upload per
 * step (hyper-parameters sit in a uniform buffer written once per optimizer). Same formulas in the
 * same order as src/train/optimizers.ts (tfjs' own), so results agree to float32 rounding
 * (test/train/webgpuOptimizers.test.ts compares them on the webgpu backend over several steps).
 *
 * Safety: an in-place write is only done on tensors whose data nothing else shares (backend
 * refCount 1 — a `tf.clone` of a weight shares it, so a snapshot keeps its values) and that are
 * float32; otherwise the caller falls back to tfjs ops, whose `assign` gives the variable fresh data,
 * so the next step is fused again. A value cached on the CPU by an earlier read is dropped after
 * the write. Dispatches go into tfjs' own command encoder and compute pass, in order with its ops.
 * The backend internals used are checked once; if any is missing (another tfjs version), every call
 * returns false and training runs on tfjs ops as before.
 */
import * as tf from '../../tf';

interface TensorData {
  dtype: tf.DataType;
  shape: number[];
  refCount: number;
  values: unknown;
  resource?: unknown;
}

/** The parts of tfjs-backend-webgpu's WebGPUBackend used here (public or plain JS fields in 4.22). */
interface WebGpuInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: object): TensorData | undefined };
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  activeTimers?: unknown;
}

function internals(): WebGpuInternals | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const b = tf.backend() as unknown as Partial<Record<keyof WebGpuInternals, unknown>>;
  const ok =
    typeof b.device === 'object' && b.device !== null &&
    typeof b.tensorMap === 'object' && b.tensorMap !== null &&
    typeof b.uploadToGPU === 'function' &&
    typeof b.ensureCommandEncoderReady === 'function' &&
    typeof b.endComputePassEncoder === 'function' &&
    typeof b.submitQueue === 'function' &&
    'commandEncoder' in b && 'computePassEncoder' in b &&
    typeof b.dispatchCountInPass === 'number' &&
    b.commandQueueOwnedIds instanceof WeakSet;
  return ok ? (b as unknown as WebGpuInternals) : null;
}

export type FusedKind = 'sgd' | 'adadelta' | 'adam' | 'rmsprop' | 'rmspropCentered';

interface KindSpec {
  /** Tensors written in place, the variable first. */
  written: readonly string[];
  /** Read-only tensors after the gradient (Adam: the scalar beta powers). */
  read: readonly string[];
  params: readonly string[];
  /** WGSL computing the new values at index i (names as above, `g` the gradient, `p.<param>`). */
  body: string;
}

// Each body is the formula of the matching class in src/train/optimizers.ts (tfjs' own), op by op.
const KINDS: Record<FusedKind, KindSpec> = {
  sgd: {
    written: ['w'],
    read: [],
    params: ['negLr'],
    body: `w[i] = g[i] * p.negLr + w[i];`,
  },
  adadelta: {
    written: ['w', 'accGrad', 'accUpdate'],
    read: [],
    params: ['rho', 'oneMinusRho', 'eps', 'negLr'],
    body: `
      let gi = g[i];
      let ag = accGrad[i];
      let au = accUpdate[i];
      let update = (sqrt(au + p.eps) / sqrt(ag + p.eps)) * gi;
      accGrad[i] = ag * p.rho + (gi * gi) * p.oneMinusRho;
      accUpdate[i] = au * p.rho + (update * update) * p.oneMinusRho;
      w[i] = update * p.negLr + w[i];`,
  },
  adam: {
    written: ['w', 'm', 'v'],
    read: ['accBeta1', 'accBeta2'],
    params: ['beta1', 'beta2', 'oneMinusBeta1', 'oneMinusBeta2', 'eps', 'negLr'],
    body: `
      let gi = g[i];
      let m1 = m[i] * p.beta1 + gi * p.oneMinusBeta1;
      let v1 = v[i] * p.beta2 + (gi * gi) * p.oneMinusBeta2;
      m[i] = m1;
      v[i] = v1;
      let mHat = m1 / (1.0 - accBeta1[0]);
      let vHat = v1 / (1.0 - accBeta2[0]);
      w[i] = (mHat / (sqrt(vHat) + p.eps)) * p.negLr + w[i];`,
  },
  rmsprop: {
    written: ['w', 'meanSquare', 'moments'],
    read: [],
    params: ['decay', 'oneMinusDecay', 'momentum', 'eps', 'lr'],
    body: `
      let gi = g[i];
      let ms = meanSquare[i] * p.decay + (gi * gi) * p.oneMinusDecay;
      let mo = moments[i] * p.momentum + (gi * p.lr) / sqrt(ms + p.eps);
      meanSquare[i] = ms;
      moments[i] = mo;
      w[i] = w[i] - mo;`,
  },
  rmspropCentered: {
    written: ['w', 'meanSquare', 'moments', 'meanGrad'],
    read: [],
    params: ['decay', 'oneMinusDecay', 'momentum', 'eps', 'lr'],
    body: `
      let gi = g[i];
      let ms = meanSquare[i] * p.decay + (gi * gi) * p.oneMinusDecay;
      let mg = meanGrad[i] * p.decay + gi * p.oneMinusDecay;
      let mo = moments[i] * p.momentum + (gi * p.lr) / sqrt(ms - (mg * mg + p.eps));
      meanSquare[i] = ms;
      meanGrad[i] = mg;
      moments[i] = mo;
      w[i] = w[i] - mo;`,
  },
};

const WORKGROUP = 64;
/** Dispatch limit per dimension (WebGPU's default maxComputeWorkgroupsPerDimension). */
const MAX_WORKGROUPS = 65535;

function shaderCode(spec: KindSpec): string {
  const lines: string[] = [];
  let binding = 0;
  for (const name of spec.written) lines.push(`@group(0) @binding(${binding++}) var<storage, read_write> ${name}: array<f32>;`);
  lines.push(`@group(0) @binding(${binding++}) var<storage, read> g: array<f32>;`);
  for (const name of spec.read) lines.push(`@group(0) @binding(${binding++}) var<storage, read> ${name}: array<f32>;`);
  // A uniform struct's size must be a multiple of 16 bytes: pad the f32 fields.
  const padded = [...spec.params, ...Array.from({ length: (4 - (spec.params.length % 4)) % 4 }, (_, i) => `pad${i}`)];
  lines.push(`struct Params { ${padded.map((n) => `${n}: f32,`).join(' ')} }`);
  lines.push(`@group(0) @binding(${binding}) var<uniform> p: Params;`);
  lines.push(`
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = arrayLength(&g);
  let stride = groups.x * ${WORKGROUP}u;
  for (var i = gid.x; i < n; i = i + stride) {${spec.body}
  }
}`);
  return lines.join('\n');
}

const pipelines = new WeakMap<GPUDevice, Map<FusedKind, GPUComputePipeline>>();

function pipeline(device: GPUDevice, kind: FusedKind): GPUComputePipeline {
  let byKind = pipelines.get(device);
  if (!byKind) pipelines.set(device, (byKind = new Map()));
  let p = byKind.get(kind);
  if (!p) {
    const module = device.createShaderModule({ code: shaderCode(KINDS[kind]), label: `latent-studio fused ${kind}` });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: `latent-studio fused ${kind}` });
    byKind.set(kind, p);
  }
  return p;
}

/**
 * The hyper-parameters of one optimizer as a uniform buffer, written once; a changed backend
 * (device) gets a new one.
 */
export class FusedParams {
  private buffer: GPUBuffer | null = null;
  private device: GPUDevice | null = null;

  constructor(
    readonly kind: FusedKind,
    readonly values: Readonly<Record<string, number>>,
  ) {
    for (const name of KINDS[kind].params) {
      if (!Number.isFinite(values[name])) throw new Error(`fused ${kind}: parameter ${name} is ${values[name]}`);
    }
  }

  bufferFor(device: GPUDevice): GPUBuffer {
    if (this.buffer && this.device === device) return this.buffer;
    const names = KINDS[this.kind].params;
    const data = new Float32Array(Math.ceil(names.length / 4) * 4);
    names.forEach((n, i) => (data[i] = this.values[n]!));
    this.buffer = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: `latent-studio ${this.kind} params` });
    device.queue.writeBuffer(this.buffer, 0, data);
    this.device = device;
    return this.buffer;
  }

  /**
   * Drops the buffer without destroy(): tfjs may not have submitted the commands that use it yet,
   * and a destroyed buffer fails the whole submit. Dawn frees it once unreferenced (a few bytes).
   */
  dispose(): void {
    this.buffer = null;
    this.device = null;
  }
}

/** Why the fused path is off for this process (null while it is on or not yet tried). */
let disabledReason: string | null = null;
export function fusedOptimizerStatus(): string | null {
  return disabledReason;
}

/** Set LATENT_WEBGPU_FUSED_OPTIMIZER=0 to train with tfjs' ops instead (for comparisons). */
const enabled = (): boolean => process.env.LATENT_WEBGPU_FUSED_OPTIMIZER !== '0';

/** Counts of fused updates and fallbacks, for tests and profiling. */
export const fusedCounters = { fused: 0, fallback: 0 };

/**
 * Update `written` (the variable, then its slots in KINDS[kind].written order) in place from
 * `gradient` in one dispatch. Returns false — and changes nothing — when the backend is not webgpu,
 * the tensors are not all float32 of the same size, or a written tensor's data is shared; the
 * caller then runs its tfjs ops.
 */
export function fusedUpdate(params: FusedParams, written: readonly tf.Tensor[], gradient: tf.Tensor, read: readonly tf.Tensor[] = []): boolean {
  if (!enabled()) return false;
  const b = internals();
  if (!b) {
    if (tf.getBackend() === 'webgpu' && disabledReason === null) disabledReason = 'tfjs-backend-webgpu internals not found (another version?)';
    return false;
  }
  if (b.activeTimers !== null && b.activeTimers !== undefined) return false; // tf.time() / tf.profile(): let tfjs time its own ops
  const spec = KINDS[params.kind];
  if (written.length !== spec.written.length || read.length !== spec.read.length) throw new Error(`fused ${params.kind}: expected ${spec.written.length} written and ${spec.read.length} read tensors`);
  const size = gradient.size;
  if (size === 0) return false;
  for (const t of [...written, gradient, ...read]) {
    const d = b.tensorMap.get(t.dataId);
    if (!d || d.dtype !== 'float32') return countFallback();
  }
  for (const t of written) {
    const d = b.tensorMap.get(t.dataId)!;
    if (t.size !== size || d.refCount !== 1) return countFallback();
  }

  for (const t of [...written, gradient, ...read]) b.uploadToGPU(t.dataId);
  const resources = [...written, gradient, ...read].map((t) => b.tensorMap.get(t.dataId)!.resource);
  if (!resources.every((r): r is GPUBuffer => r instanceof GPUBuffer)) return countFallback();

  const device = b.device;
  const pipe = pipeline(device, params.kind);
  const entries: GPUBindGroupEntry[] = resources.map((buffer, i) => ({ binding: i, resource: { buffer, offset: 0, size: (i < written.length + 1 ? size : 1) * 4 } }));
  entries.push({ binding: resources.length, resource: { buffer: params.bufferFor(device) } });
  const bindGroup = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });

  b.ensureCommandEncoderReady();
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  const pass = b.computePassEncoder;
  pass.setPipeline(pipe);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.min(MAX_WORKGROUPS, Math.ceil(size / WORKGROUP)));
  for (const t of [...written, gradient, ...read]) b.commandQueueOwnedIds.add(t.dataId);
  b.dispatchCountInPass++;
  if (b.dispatchCountInPass >= Number(tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE'))) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  // A value an earlier read cached on the CPU is stale now.
  for (const t of written) b.tensorMap.get(t.dataId)!.values = null;
  fusedCounters.fused++;
  return true;
}

function countFallback(): false {
  fusedCounters.fallback++;
  return false;
}
