/**
 * TensorFlow.js as this project uses it: tfjs-core (tensors, ops, kernels, io), tfjs-layers (the
 * Keras-style models src/compile builds) and the cpu backend, every package pinned to 4.22.0
 * because our kernels read backend internals. Not the `@tensorflow/tfjs` umbrella, which also
 * bundles the converter, tfjs-data and the WebGL backend (and their Node shims) that nothing here
 * uses: the worker's bundle and start-up are measured in docs/benchmarks.md ("Bundles and start-up").
 * The wasm and WebGPU backends are loaded by src/backend/select.ts when chosen.
 *
 * Every file under src/backend, src/compile and src/train imports TensorFlow.js from here (lint
 * refuses the umbrella), so `tf.` means one and the same set of packages everywhere.
 */
import { version_core } from '@tensorflow/tfjs-core';
// `tensor.div(b)` and the other chained ops, and every op's gradient: the umbrella imported these
// two side-effect modules of tfjs-core; its own entry point does not.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { version_layers } from '@tensorflow/tfjs-layers';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';

/** The versions of the packages above (what `tf.version` of the umbrella reported; `tfjs` is tfjs-core's). */
export const version = {
  tfjs: version_core,
  'tfjs-core': version_core,
  'tfjs-layers': version_layers,
  'tfjs-backend-cpu': version_cpu,
} as const;
