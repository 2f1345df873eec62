/**
 * Device-resident numeric constants. tfjs turns every JS number handed to an op (`mul(x, 0.95)`)
 * into a fresh scalar tensor, i.e. one host→device upload per use: ~100 per training step in the
 * stock optimizers and losses. On CPU backends that is free; on GPU backends each upload is a
 * separate transfer (~0.9 ms measured through Dawn on an H100), which dominated the step. Ops in
 * the training step take their constants from here instead: uploaded once per backend and value.
 */
import * as tf from './tf';

const cache = new Map<string, Map<number, tf.Scalar>>();

/** A kept float32 scalar on the current backend; never dispose it. */
export function constant(value: number): tf.Scalar {
  const backend = tf.getBackend();
  let byValue = cache.get(backend);
  if (!byValue) cache.set(backend, (byValue = new Map()));
  let s = byValue.get(value);
  if (!s || s.isDisposed) {
    s = tf.keep(tf.scalar(value, 'float32'));
    byValue.set(value, s);
  }
  return s;
}

/** Drop every cached constant (tests that count tensors, or before a backend is removed). */
export function disposeConstants(): void {
  for (const byValue of cache.values()) for (const s of byValue.values()) s.dispose();
  cache.clear();
}
