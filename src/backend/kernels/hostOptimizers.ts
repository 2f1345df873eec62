/**
 * One-call optimizer updates on the CPU backends (wasm, cpu) for small variables.
 *
 * Why: tfjs runs an optimizer as ~13 elementwise ops per variable; for a variable of a few hundred
 * values (a conv filter, a bias) each op is mostly tfjs engine bookkeeping, ~180 ops per step of the
 * seed conv model. Here the update is one loop over copies of the variable and its slots, which
 * they are then assigned.
 *
 * Bit-identical to the ops it replaces (test/train/optimizers.test.ts): every operation is rounded to
 * float32 (Math.fround) in the same order as src/train/optimizers.ts, as the cpu backend rounds each
 * op's result and wasm computes each op in float32 (+, −, ×, ÷ and √ are correctly rounded either
 * way). Large variables stay with tfjs' ops, whose vectorised, threaded kernels win there
 * (HOST_FUSED_MAX_SIZE).
 */
import * as tf from '../tf';
import type { FusedKind } from './webgpu/optimizers';

/** Variables up to this many values are updated here; larger ones by tfjs ops. LATENT_HOST_FUSED_MAX overrides (0: never). */
const HOST_FUSED_MAX_SIZE = 16384;

const fr = Math.fround;

/** How many updates ran here (tests). */
export const hostFusedCounters = { fused: 0 };

type Update = (written: Float32Array[], g: Float32Array, read: number[], p: Readonly<Record<string, number>>) => void;

// Each is the matching class in src/train/optimizers.ts, op by op, with the constants as float32.
const UPDATES: Record<FusedKind, Update> = {
  sgd: ([w], g, _r, p) => {
    const c = fr(p.negLr!);
    for (let i = 0; i < g.length; i++) w![i] = fr(c * g[i]!) + w![i]!;
  },
  adadelta: ([w, accGrad, accUpdate], g, _r, p) => {
    const [rho, omr, eps, negLr] = [fr(p.rho!), fr(p.oneMinusRho!), fr(p.eps!), fr(p.negLr!)];
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const ag = accGrad![i]!;
      const au = accUpdate![i]!;
      accGrad![i] = fr(ag * rho) + fr(fr(gi * gi) * omr);
      const update = fr(fr(fr(Math.sqrt(fr(au + eps))) / fr(Math.sqrt(fr(ag + eps)))) * gi);
      accUpdate![i] = fr(au * rho) + fr(fr(update * update) * omr);
      w![i] = fr(update * negLr) + w![i]!;
    }
  },
  adam: ([w, m, v], g, [accBeta1, accBeta2], p) => {
    const [b1, b2, omb1, omb2, eps, negLr] = [fr(p.beta1!), fr(p.beta2!), fr(p.oneMinusBeta1!), fr(p.oneMinusBeta2!), fr(p.eps!), fr(p.negLr!)];
    const oma1 = fr(1 - accBeta1!);
    const oma2 = fr(1 - accBeta2!);
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const m1 = fr(fr(m![i]! * b1) + fr(gi * omb1));
      const v1 = fr(fr(v![i]! * b2) + fr(fr(gi * gi) * omb2));
      m![i] = m1;
      v![i] = v1;
      const mHat = fr(m1 / oma1);
      const vHat = fr(v1 / oma2);
      w![i] = fr(fr(mHat / fr(fr(Math.sqrt(vHat)) + eps)) * negLr) + w![i]!;
    }
  },
  rmsprop: ([w, meanSquare, moments], g, _r, p) => {
    const [decay, omd, mu, eps, lr] = [fr(p.decay!), fr(p.oneMinusDecay!), fr(p.momentum!), fr(p.eps!), fr(p.lr!)];
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const ms = fr(fr(meanSquare![i]! * decay) + fr(fr(gi * gi) * omd));
      const mo = fr(fr(moments![i]! * mu) + fr(fr(gi * lr) / fr(Math.sqrt(fr(ms + eps)))));
      meanSquare![i] = ms;
      moments![i] = mo;
      w![i] = w![i]! - mo;
    }
  },
  rmspropCentered: ([w, meanSquare, moments, meanGrad], g, _r, p) => {
    const [decay, omd, mu, eps, lr] = [fr(p.decay!), fr(p.oneMinusDecay!), fr(p.momentum!), fr(p.eps!), fr(p.lr!)];
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const ms = fr(fr(meanSquare![i]! * decay) + fr(fr(gi * gi) * omd));
      const mg = fr(fr(meanGrad![i]! * decay) + fr(gi * omd));
      const contribution = fr(fr(gi * lr) / fr(Math.sqrt(fr(ms - fr(fr(mg * mg) + eps)))));
      const mo = fr(fr(moments![i]! * mu) + contribution);
      meanSquare![i] = ms;
      meanGrad![i] = mg;
      moments![i] = mo;
      w![i] = w![i]! - mo;
    }
  },
};

/** The slices of tfjs-backend-cpu's and tfjs-backend-wasm's backends used here (4.22). */
interface HostBackend {
  /** wasm: a view of the tensor's bytes in the heap. */
  typedArrayFromHeap?(info: tf.TensorInfo): Float32Array;
  /** cpu: the tensor's array. */
  data?: { get(dataId: object): { values?: unknown } | undefined };
}

function view(b: HostBackend, t: tf.Tensor): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  if (tf.getBackend() === 'wasm' && b.typedArrayFromHeap) return b.typedArrayFromHeap(t);
  const values = b.data?.get(t.dataId)?.values;
  return values instanceof Float32Array ? values : null;
}

/**
 * Update `written` (the variable, then its slots) from `gradient` with the formulas of `kind`;
 * false — nothing changed — where this does not apply (another backend, a large or shared
 * variable), and the caller runs its tfjs ops.
 *
 * The new values go into new tensors that the variables are assigned, not into the old memory:
 * tfjs-backend-wasm caches XNNPACK operators with their weights packed, keyed by the tensor, so a
 * weight changed in place would keep multiplying with its old values.
 */
export function hostFusedUpdate(kind: FusedKind, params: Readonly<Record<string, number>>, written: readonly tf.Variable[], gradient: tf.Tensor, read: readonly tf.Tensor[] = []): boolean {
  const backendName = tf.getBackend();
  if (backendName !== 'wasm' && backendName !== 'cpu') return false;
  const max = process.env.LATENT_HOST_FUSED_MAX !== undefined ? Number(process.env.LATENT_HOST_FUSED_MAX) : HOST_FUSED_MAX_SIZE;
  const size = gradient.size;
  if (!(size > 0 && size <= max)) return false;
  if (written.some((t) => t.size !== size)) return false;
  const b = tf.backend() as unknown as HostBackend;
  // Copies, taken before anything allocates (an allocation can move the wasm heap under a view).
  const copies = written.map((t) => view(b, t)?.slice() ?? null);
  const g = view(b, gradient)?.slice() ?? null;
  const scalars = read.map((t) => view(b, t)?.[0]);
  if (g === null || g.length !== size || copies.some((a) => a === null || a.length !== size) || scalars.some((s) => s === undefined)) return false;
  UPDATES[kind](copies as Float32Array[], g, scalars as number[], params);
  tf.tidy(() => written.forEach((v, i) => v.assign(tf.tensor(copies[i]!, v.shape, 'float32'))));
  hostFusedCounters.fused++;
  return true;
}
