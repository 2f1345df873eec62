/** Names and constants the fused-loss kernels share (losses.ts, webgpu/losses.ts, wasm/losses.ts). */
export type FusedLossName = 'binaryCrossentropy' | 'meanSquaredError';

export const LOSS = 'LatentFusedLoss';
export const LOSS_GRAD = 'LatentFusedLossGrad';
/** Keras' clip of p for binary cross-entropy: [EPSILON, 1 - EPSILON]. */
export const EPSILON = 1e-7;
