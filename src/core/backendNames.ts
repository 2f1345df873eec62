/** The training backends, best first, and what a user may ask for (shared by every protocol module). */
import { z } from 'zod';

export const BACKEND_NAMES = ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'] as const;
export const BackendPreferenceSchema = z.enum([...BACKEND_NAMES, 'auto']);
export type BackendPreference = z.infer<typeof BackendPreferenceSchema>;
