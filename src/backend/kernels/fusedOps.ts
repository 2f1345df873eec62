/**
 * The fused kernels our Dense and Conv2D layers train with (src/compile/fusedLayers.ts), recorded
 * for gradients: `_FusedMatMul` and `FusedConv2D` (matmul/conv + bias + ReLU in one kernel), whose
 * gradients tfjs-core 4.22 does not register. Ours are lazy per input (no input gradient for a first
 * layer) and take ReLU's derivative from the saved output (y > 0 ⇔ x > 0, NaN passes through).
 * Checked against numerical gradients on every backend in test/backend/gradients.test.ts; the
 * backend self-check (selfCheck.ts) runs them too.
 */
import * as tf from '../tf';
import { fusedActivationGrad } from './activationGrads';

/** The activations the fused kernels apply themselves; any other runs as its own op afterwards. */
export type FusedActivation = 'relu' | 'linear';

/** dL/dz for z the pre-activation, from dL/dy and the saved output y of a fused kernel. */
function preActivationGrad(dy: tf.Tensor, y: tf.Tensor, activation: unknown, kernelName: string): tf.Tensor {
  if (activation === 'linear' || activation == null) return dy;
  if (activation === 'relu') return fusedActivationGrad('LatentReluGrad', dy, y) ?? tf.mul(dy, tf.step(y));
  throw new Error(`${kernelName}: no gradient for the fused activation "${String(activation)}" (only relu and linear are recorded for training).`);
}

/** The gradient of a 1-D bias (the only kind these kernels are given here): dz summed over every axis but the last. */
const biasGrad = (dz: tf.Tensor): tf.Tensor => tf.sum(dz, [...Array(dz.rank - 1).keys()]);

// A gradient function is asked only for the inputs a kernel was given (no bias: no `bias` entry used),
// and may save only inputs that are always there: so the bias is not saved, its gradient needs none.

/** Inputs: a [1, m, k], b [1, k, n], bias [n] (optional); no transposes (this module only records those). */
const fusedMatMulGrad: tf.GradConfig = {
  kernelName: '_FusedMatMul',
  inputsToSave: ['a', 'b'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [a, b, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const at = attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string };
    if (at.transposeA === true || at.transposeB === true) throw new Error('_FusedMatMul: the recorded gradient covers untransposed operands only.');
    const dz = preActivationGrad(dy as tf.Tensor, y, at.activation, '_FusedMatMul');
    return {
      a: () => tf.matMul(dz, b, false, true),
      b: () => tf.matMul(a, dz, true, false),
      bias: () => biasGrad(dz),
    };
  },
};

const fusedConv2DGrad: tf.GradConfig = {
  kernelName: 'FusedConv2D',
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const at = attrs as unknown as tf.FusedConv2DAttrs;
    if (at.dataFormat !== 'NHWC' || !(at.dilations === 1 || (Array.isArray(at.dilations) && at.dilations.every((d) => d === 1)))) {
      throw new Error('FusedConv2D: the recorded gradient covers NHWC without dilation only.');
    }
    const dz = preActivationGrad(dy as tf.Tensor, y, at.activation, 'FusedConv2D');
    const conv = { strides: at.strides, pad: at.pad, dataFormat: at.dataFormat, dimRoundingMode: at.dimRoundingMode };
    return {
      x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, { ...conv, inputShape: x.shape } as unknown as tf.NamedAttrMap),
      filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz }, { ...conv, filterShape: filter.shape } as unknown as tf.NamedAttrMap),
      bias: () => biasGrad(dz),
    };
  },
};

let gradientsRegistered = false;
function registerGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  tf.registerGradient(fusedMatMulGrad);
  tf.registerGradient(fusedConv2DGrad);
}

/** x [batch, k] · kernel [k, n] + bias, activation fused; one kernel, recorded for gradients. */
export function denseBiasActivation(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D | null, activation: FusedActivation): tf.Tensor2D {
  registerGradients();
  return tf.tidy(() => {
    // The kernels take rank-3 operands (tfjs-core's fused.matMul reshapes the same way).
    const a = tf.reshape(x, [1, ...x.shape]);
    const b = tf.reshape(kernel, [1, ...kernel.shape]);
    const inputs: tf.NamedTensorMap = bias === null ? { a, b } : { a, b, bias };
    const y = tf.engine().runKernel('_FusedMatMul', inputs, { transposeA: false, transposeB: false, activation }) as tf.Tensor3D;
    return tf.reshape(y, [x.shape[0], kernel.shape[1]]);
  });
}

/** conv2d(x, filter) + bias, activation fused; one kernel, recorded for gradients. NHWC, no dilation. */
export function conv2dBiasActivation(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  strides: [number, number],
  pad: 'same' | 'valid',
  activation: FusedActivation,
): tf.Tensor4D {
  registerGradients();
  const inputs: tf.NamedTensorMap = bias === null ? { x, filter } : { x, filter, bias };
  const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], activation };
  return tf.engine().runKernel('FusedConv2D', inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
