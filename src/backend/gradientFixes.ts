/**
 * Our replacements for tfjs-core gradients that upload fresh data to the device on every training
 * step, or take several dispatches where one does. On CPU backends an upload is a copy; on webgpu
 * each is a staging buffer, a copy command and ~0.9 ms (measured through Dawn on an H100), and each
 * dispatch ~0.1 ms, which dominated small training steps. Same arithmetic in the same order, so on
 * CPU backends gradients are bit-identical to tfjs' (test/backend/webgpuKernels.test.ts).
 *
 * The gradient registry is global (not per backend); `applyGradientFixes()` registers these once.
 */
import * as tf from './tf';
import { constant } from './constants';
import { fusedActivationGrad } from './kernels/activationGrads';

/**
 * tfjs-core 4.22 Mean_grad: `div(mul(reshape(dy), ones(x.shape)), reduceSize)` builds `ones` on the
 * CPU (a tensor of x's size, uploaded every step: 256×784 floats for the dense seed model's loss)
 * and `reduceSize` as a fresh scalar. Here `fill` makes the ones on the device (one dispatch, no
 * upload) and the divisor is a cached device constant.
 */
const meanGrad: tf.GradConfig = {
  kernelName: 'Mean',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap | undefined) => {
    const [x] = saved as [tf.Tensor];
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const reduceSize = axes.reduce((n, a) => n * x.shape[a]!, 1);
    return {
      x: () => {
        const expandedDyShape = x.shape.slice();
        for (const a of axes) expandedDyShape[a] = 1;
        const expandedDy = tf.reshape(dy as tf.Tensor, expandedDyShape);
        return tf.div(tf.mul(expandedDy, tf.fill(x.shape, 1, 'float32')), constant(reduceSize));
      },
    };
  },
};

/**
 * tfjs-core 4.22 Sigmoid_grad: `mul(dy, mul(y, sub(scalar(1), y)))`, a fresh scalar 1 per step.
 * On webgpu and wasm the whole product is one kernel (kernels/activationGrads.ts).
 */
const sigmoidGrad: tf.GradConfig = {
  kernelName: 'Sigmoid',
  outputsToSave: [true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [y] = saved as [tf.Tensor];
    return { x: () => fusedActivationGrad('LatentSigmoidGrad', dy as tf.Tensor, y) ?? tf.mul(dy as tf.Tensor, tf.mul(y, tf.sub(constant(1), y))) };
  },
};

/**
 * tfjs-core 4.22 Relu_grad: `mul(dy, cast(step(x), 'float32'))`, unchanged here except that on
 * webgpu and wasm it is one kernel instead of two (kernels/activationGrads.ts).
 */
const reluGrad: tf.GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [x] = saved as [tf.Tensor];
    return { x: () => fusedActivationGrad('LatentReluGrad', dy as tf.Tensor, x) ?? tf.mul(dy as tf.Tensor, tf.cast(tf.step(x), 'float32')) };
  },
};

let applied = false;

export function applyGradientFixes(): void {
  if (applied) return;
  applied = true;
  tf.registerGradient(meanGrad);
  tf.registerGradient(sigmoidGrad);
  tf.registerGradient(reluGrad);
}
