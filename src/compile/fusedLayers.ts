/**
 * Dense and Conv2D layers whose forward pass is one fused kernel (matmul/conv + bias + ReLU) also
 * while training, with a gradient that computes only what backprop asks for.
 *
 * Why: tfjs-core 4.22 fuses bias and activation into `_FusedMatMul` / `FusedConv2D` only outside
 * gradient recording, or for a linear activation (`shouldFuse` in ops/fused_util). While training,
 * a ReLU layer runs as three kernels forward (matmul/conv, Add, Relu) and its gradient as two (Step,
 * Multiply): on CPU backends two extra passes over the activations forward and one backward, on
 * webgpu two extra dispatches per layer and step (~0.1 ms of host time each). Its linear path uses
 * `customGrad`, which computes every gradient eagerly, including the input gradient of a first
 * layer that nobody needs. Here the fused kernels run under gradient recording too, and their
 * gradients come from the global registry (`_FusedMatMul` / `FusedConv2D` have none upstream):
 * lazy per input, ReLU's derivative from the saved output (y > 0 ⇔ x > 0, NaN passes through).
 *
 * The subclasses keep the tfjs class names (`Dense`, `Conv2D`), configs and weights: saved and
 * exported models are the same files and load as stock layers. Other activations (sigmoid, tanh,
 * softmax, elu, selu) run the linear fused kernel and then the activation op, as tfjs' own
 * layers do. Gradients are checked against numerical ones on every backend in
 * test/backend/gradients.test.ts, and the layers against the stock ones in
 * test/compile/fusedLayers.test.ts.
 */
import * as tf from '../backend/tf';
import { type FusedActivation, conv2dBiasActivation, denseBiasActivation } from '../backend/kernels/fusedOps';

type Kwargs = Parameters<tf.layers.Layer['call']>[1];
type DenseArgs = Parameters<typeof tf.layers.dense>[0];
type Conv2DArgs = Parameters<typeof tf.layers.conv2d>[0];
type DenseLayer = ReturnType<typeof tf.layers.dense>;
type Conv2DLayer = ReturnType<typeof tf.layers.conv2d>;

/** Activations of Latent Studio's layers and the tfjs-core op each applies (tfjs-layers' Activation classes). */
const ACTIVATION_OPS: Readonly<Record<string, ((x: tf.Tensor) => tf.Tensor) | undefined>> = {
  relu: (x) => tf.relu(x),
  linear: (x) => x,
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
  softmax: (x) => tf.softmax(x, -1),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
};

const fusedActivationOf = (name: string): FusedActivation => (name === 'relu' ? 'relu' : 'linear');

/** LATENT_FUSED_LAYERS=0: the stock tfjs-layers forward pass (for comparisons). */
const fusedLayersOff = (): boolean => process.env.LATENT_FUSED_LAYERS === '0';

/** The class of a layer that tfjs-layers only exposes through its factory. */
function classOf<L extends tf.layers.Layer>(sample: L): abstract new (...args: never[]) => L {
  return Object.getPrototypeOf(sample).constructor as abstract new (...args: never[]) => L;
}

const DenseBase = classOf(tf.layers.dense({ units: 1, name: 'latent_class_probe_dense' })) as unknown as new (args: DenseArgs) => DenseLayer;
const Conv2DBase = classOf(tf.layers.conv2d({ filters: 1, kernelSize: 1, name: 'latent_class_probe_conv' })) as unknown as new (args: Conv2DArgs) => Conv2DLayer;

/**
 * The `apply` kwarg that asks one Dense layer (its value: that layer) for its pre-activation, the
 * logits, instead of its output; every other layer ignores it. A loss computed from the logits of
 * a softmax output (scoring.ts predictForLoss) does not lose its gradient where a probability
 * underflows, as the clipped probability formula does (tf.keras and PyTorch compute it the same way).
 */
export const LOGITS_OF = 'latentLogitsOf';

/** tfjs-layers' Dense (same class name, config and weights) with the fused forward pass above. */
class FusedDense extends DenseBase {
  readonly activationName: string;

  constructor(args: DenseArgs) {
    super(args);
    this.activationName = typeof args.activation === 'string' ? args.activation : 'linear';
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const after = ACTIVATION_OPS[this.activationName];
    // Dense's [kernel, bias] in the order build() added them (frozen or not).
    const [kernel, bias] = this.weights;
    if ((kwargs as Record<string, unknown> | undefined)?.[LOGITS_OF] === this) {
      if (x === undefined || (Array.isArray(inputs) && inputs.length !== 1) || x.rank !== 2 || kernel === undefined) {
        throw new Error(`${this.name}: logits are given for one rank-2 input only`);
      }
      const b = bias === undefined ? null : (bias.read() as tf.Tensor1D);
      // The pre-activation as this layer computes it: its fused kernel, or tfjs-layers' own (K.dot) with fused layers off.
      if (fusedLayersOff()) return tf.tidy(() => tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel.read() as tf.Tensor2D, bias: b ?? undefined }));
      return denseBiasActivation(x as tf.Tensor2D, kernel.read() as tf.Tensor2D, b, 'linear');
    }
    if (fusedLayersOff() || x === undefined || (Array.isArray(inputs) && inputs.length !== 1) || x.rank !== 2 || after === undefined || kernel === undefined) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const fused = fusedActivationOf(this.activationName);
      const z = denseBiasActivation(x as tf.Tensor2D, kernel.read() as tf.Tensor2D, bias === undefined ? null : (bias.read() as tf.Tensor1D), fused);
      return fused === 'linear' ? after(z) : z;
    });
  }
}

/**
 * `layer` when it is one of these Dense layers with a softmax activation (a ClassifierHead's last
 * layer), so that `apply(x, { [LOGITS_OF]: layer })` through it gives the logits; else undefined.
 */
export function softmaxDense(layer: tf.layers.Layer | undefined): tf.layers.Layer | undefined {
  return layer instanceof FusedDense && layer.activationName === 'softmax' ? layer : undefined;
}

/** tfjs-layers' Conv2D (same class name, config and weights) with the fused forward pass above. */
class FusedConv2D extends Conv2DBase {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const name = this.activation.getClassName();
    const after = ACTIVATION_OPS[name];
    const plain =
      !fusedLayersOff() &&
      x !== undefined &&
      !(Array.isArray(inputs) && inputs.length !== 1) &&
      x.rank === 4 &&
      this.rank === 2 &&
      this.dataFormat === 'channelsLast' &&
      this.dilationRate.every((d) => d === 1) &&
      (this.padding === 'same' || this.padding === 'valid') &&
      after !== undefined;
    if (!plain) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const fused = fusedActivationOf(name);
      const strides: [number, number] = [this.strides[0]!, this.strides[1]!];
      const bias = this.bias == null ? null : (this.bias.read() as tf.Tensor1D);
      const z = conv2dBiasActivation(x as tf.Tensor4D, this.kernel.read() as tf.Tensor4D, bias, strides, this.padding as 'same' | 'valid', fused);
      return fused === 'linear' ? after(z) : z;
    });
  }
}

/** `tf.layers.dense(args)` with a fused training forward pass. */
export function fusedDense(args: DenseArgs): DenseLayer {
  return new FusedDense(args);
}

/** `tf.layers.conv2d(args)` with a fused training forward pass. */
export function fusedConv2d(args: Conv2DArgs): Conv2DLayer {
  return new FusedConv2D(args);
}
