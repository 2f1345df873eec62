/**
 * The training backends, best first, what a user may ask for, and what a worker reports about the
 * one it chose: the one definition every protocol, the CLI options and the backend choice share.
 */
import { z } from 'zod';

/** Best first: the order `auto` tries them in. */
export const BACKEND_NAMES = ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export const BackendPreferenceSchema = z.enum([...BACKEND_NAMES, 'auto']);
export type BackendPreference = z.infer<typeof BackendPreferenceSchema>;

const SkippedBackendSchema = z.object({ name: z.enum(BACKEND_NAMES), reason: z.string() }).strict();
export type SkippedBackend = z.infer<typeof SkippedBackendSchema>;

/** The backend a worker chose, and why each better one was passed over (config.json, `started`, Show Backend Info). */
export const BackendInfoSchema = z
  .object({
    name: z.enum(BACKEND_NAMES),
    /** tf.getBackend() after selection ('tensorflow' for both tfjs-node packages). */
    tfBackend: z.string(),
    /** e.g. "SIMD on, threads off" or the GPU adapter's vendor / architecture. */
    detail: z.string(),
    /** Better backends that were passed over, best first. */
    skipped: z.array(SkippedBackendSchema),
  })
  .strict();
export type BackendInfo = z.infer<typeof BackendInfoSchema>;

export function parseBackendName(s: string): BackendName {
  const wanted = s.trim().toLowerCase();
  const hit = BACKEND_NAMES.find((n) => n === wanted);
  if (hit === undefined) throw new Error(`Unknown backend "${s}". Valid names: ${BACKEND_NAMES.join(', ')}.`);
  return hit;
}

/** Like parseBackendName but also accepts "auto", for a --backend option. */
export function parseBackendPreference(s: string): BackendPreference {
  if (s.trim().toLowerCase() === 'auto') return 'auto';
  try {
    return parseBackendName(s);
  } catch {
    throw new Error(`Unknown backend "${s}". Valid names: auto, ${BACKEND_NAMES.join(', ')}.`);
  }
}

/** What ran a run: a tfjs backend, or the PyTorch engine ("pytorch", torch's version in tfBackend, the device in detail). */
export const RunBackendInfoSchema = BackendInfoSchema.extend({ name: z.enum([...BACKEND_NAMES, 'pytorch']) });
export type RunBackendInfo = z.infer<typeof RunBackendInfoSchema>;
