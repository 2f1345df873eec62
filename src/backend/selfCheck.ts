/**
 * Trust, but verify: before a backend trains, one forward and backward pass of a small network
 * that uses every kernel family our blocks need (conv and dense with fused bias and ReLU, transposed
 * conv, max-pooling, nearest upsampling, batch moments, ReLU, sigmoid, the losses) runs on it and on the cpu backend (with
 * our kernel fixes), and every gradient must agree. A GPU driver or a backend release that
 * computes something wrong is then skipped with the reason, instead of training garbage.
 */
import * as tf from './tf';
import { conv2dBiasActivation, denseBiasActivation } from './kernels/fusedOps';
import { applyKernelFixes } from './kernelFixes';

/** Max abs error allowed, relative to max(1, the largest reference value): float32 GPUs reorder sums. */
export const SELF_CHECK_TOLERANCE = 1e-3;

/** Deterministic values without ties (max-pooling windows must have one clear maximum). */
function values(n: number, seed: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => scale * Math.sin(seed * 12.9898 + i * 78.233 + i * i * 0.0137));
}

const SHAPES = {
  x: [2, 8, 8, 1],
  k1: [3, 3, 1, 4],
  b1: [4],
  k2: [3, 3, 2, 4], // conv2dTranspose: [h, w, outChannels, inChannels]
  w3: [8 * 8 * 2, 3],
  b3: [3],
  target: [2, 3],
} as const;

type Named = Record<keyof typeof SHAPES, Float32Array>;

const INPUTS: Named = {
  x: values(2 * 8 * 8, 1),
  k1: values(3 * 3 * 4, 2, 0.5),
  b1: values(4, 3, 0.1),
  k2: values(3 * 3 * 2 * 4, 4, 0.5),
  w3: values(128 * 3, 5, 0.2),
  b3: values(3, 6, 0.1),
  target: Float32Array.from(values(6, 7), (v) => (v + 1) / 2),
};

const PARAMS = ['x', 'k1', 'b1', 'k2', 'w3', 'b3'] as const;

/** Loss and the gradient of every input, on the current backend. */
async function pass(): Promise<{ loss: number; grads: Float32Array[] }> {
  const t = Object.fromEntries(Object.entries(INPUTS).map(([k, v]) => [k, tf.tensor(v, [...SHAPES[k as keyof typeof SHAPES]])])) as Record<keyof typeof SHAPES, tf.Tensor>;
  const f = (x: tf.Tensor, k1: tf.Tensor, b1: tf.Tensor, k2: tf.Tensor, w3: tf.Tensor, b3: tf.Tensor): tf.Scalar => {
    // The fused kernels and gradients our Conv2D / Dense layers train with (kernels/fusedOps.ts).
    let h = conv2dBiasActivation(x as tf.Tensor4D, k1 as tf.Tensor4D, b1 as tf.Tensor1D, [1, 1], 'same', 'relu');
    h = tf.maxPool(h, 2, 2, 'valid'); // [2, 4, 4, 4]
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    h = tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-3))) as tf.Tensor4D;
    h = tf.relu(tf.conv2dTranspose(h, k2 as tf.Tensor4D, [2, 8, 8, 2], 2, 'same')); // [2, 8, 8, 2]
    h = tf.image.resizeNearestNeighbor(tf.maxPool(h, 2, 2, 'same'), [8, 8]);
    const out = tf.sigmoid(denseBiasActivation(tf.reshape(h, [2, 128]), w3 as tf.Tensor2D, b3 as tf.Tensor1D, 'linear'));
    const y = t.target;
    const bce = tf.neg(tf.mean(tf.add(tf.mul(y, tf.log(out)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, out))))));
    return tf.add(bce, tf.mean(tf.square(tf.sub(out, y))));
  };
  const { value, grads } = tf.valueAndGrads(f as (...args: tf.Tensor[]) => tf.Scalar)(PARAMS.map((p) => t[p]));
  const arrays = await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>));
  const loss = (await value.data())[0]!;
  tf.dispose([value, ...grads, ...Object.values(t)]);
  return { loss, grads: arrays };
}

/**
 * Run the check on `tfBackend` (registered and initialised) against cpu. Returns null when every
 * gradient agrees, else a sentence naming the first that does not. Leaves `tfBackend` active.
 */
export async function selfCheck(tfBackend: string): Promise<string | null> {
  const previous = tf.getBackend();
  try {
    if (!(await tf.setBackend(tfBackend))) return `self-check: backend ${tfBackend} did not initialise`;
    let got: Awaited<ReturnType<typeof pass>>;
    try {
      got = await pass();
    } catch (e) {
      return `self-check failed: one training step threw ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    }
    if (!(await tf.setBackend('cpu'))) return null; // no reference to compare with
    applyKernelFixes('cpu'); // the reference must not carry cpu's own upstream defects
    const want = await pass();
    const bad: string[] = [];
    if (!Number.isFinite(got.loss) || Math.abs(got.loss - want.loss) > SELF_CHECK_TOLERANCE * Math.max(1, Math.abs(want.loss))) {
      bad.push(`loss ${got.loss} instead of ${want.loss}`);
    }
    PARAMS.forEach((name, i) => {
      const g = got.grads[i]!;
      const w = want.grads[i]!;
      let worst = 0;
      let at = 0;
      let scale = 1;
      for (let j = 0; j < w.length; j++) {
        scale = Math.max(scale, Math.abs(w[j]!));
        const err = Number.isFinite(g[j]!) ? Math.abs(g[j]! - w[j]!) : Infinity;
        if (err > worst) [worst, at] = [err, j];
      }
      if (worst > SELF_CHECK_TOLERANCE * scale) bad.push(`gradient of ${name}[${at}] is ${g[at]} instead of ${w[at]}`);
    });
    return bad.length ? `self-check failed: one training step computes wrong values (${bad.slice(0, 3).join('; ')})` : null;
  } finally {
    await tf.setBackend(tfBackend).catch(() => tf.setBackend(previous));
  }
}
