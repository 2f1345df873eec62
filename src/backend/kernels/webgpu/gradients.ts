/**
 * Activation gradients as one dispatch each on the webgpu backend (@tensorflow/tfjs-backend-webgpu
 * 4.22), used through src/backend/kernels/activationGrads.ts when training there.
 *
 * Why: tfjs-core writes Relu's gradient as mul(dy, cast(step(x))) — two dispatches — and Sigmoid's as
 * mul(dy, mul(y, sub(1, y))) — three; every relu layer of every step pays them, and on webgpu each
 * dispatch costs ~0.1 ms of host time whatever the GPU. The same arithmetic in one pass each
 * (NaN in x still gives NaN, as step's does); test/backend/webgpuKernels.test.ts compares them with
 * tfjs' formulas on the webgpu backend.
 */
import type * as tf from '../../tf';
import { type WebGpuKernelArgs, ensureWebgpuKernel, runProgram } from './program';

const KERNELS = {
  // NaN tested on the bits: compilers may fold x != x to false.
  LatentReluGrad: `let d = A[index]; let x = B[index];
          let nan = (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
          setOutputAtIndex(index, select(select(0.0, d, x > 0.0), x, nan));`,
  LatentSigmoidGrad: `let d = A[index]; let y = B[index];
          setOutputAtIndex(index, d * (y * (1.0 - y)));`,
} as const;

export type ActivationGradName = keyof typeof KERNELS;

function kernelFor(name: ActivationGradName): (args: WebGpuKernelArgs) => tf.TensorInfo {
  return (args) => {
    const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    return runProgram(args.backend, { key: name, outputShape: x.shape, variableNames: ['A', 'B'], body: KERNELS[name] }, [dy, x]);
  };
}

/** The webgpu kernel of `LatentReluGrad` / `LatentSigmoidGrad`, registered on first use by activationGrads.ts. */
export function registerWebgpuActivationGrad(name: ActivationGradName): void {
  ensureWebgpuKernel(name, kernelFor(name));
}
