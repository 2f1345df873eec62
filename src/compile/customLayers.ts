/**
 * The two layers Latent Studio needs that tfjs-layers lacks, registered with tfjs' serialization
 * (`LatentStudio>MaskingNoise`, `LatentStudio>Sampling`) so saved and exported models load back with
 * tf.loadLayersModel once this module has been imported:
 *
 * - MaskingNoise: a denoising autoencoder's masking corruption. While training each value is set
 *   to 0 with probability `rate` (no rescaling: the corrupted input is what the model must repair);
 *   at inference it passes its input through.
 * - Sampling: a VAE's reparameterisation. Takes [z_mean, z_log_var] and gives
 *   z = z_mean + exp(z_log_var / 2) * eps, eps ~ N(0, 1), while training; at inference z = z_mean
 *   (deterministic, so previews, validation and evaluation are stable; Generate samples the prior
 *   through the decoder instead). Its loss term, the KL divergence of N(z_mean, exp(z_log_var)) from
 *   N(0, 1), is `klWeight * KL / valuesPerSample` with KL = -1/2 · mean over the batch of the sum
 *   over latent dimensions of (1 + z_log_var - z_mean² - exp(z_log_var)). Dividing by the values per
 *   sample of the reconstruction puts it on the scale of our per-value mean losses: the Keras VAE's
 *   loss (reconstruction summed over pixels + KL) divided by the pixel count.
 *
 * Extra loss terms reach the training loop through `collectExtraLosses`: a Sampling layer called
 * inside it hands its KL term to the collector (outside, it computes none).
 */
import * as tf from '../backend/tf';
import { constant } from '../backend/constants';

type Kwargs = Record<string, unknown>;

/** The collector of the forward pass running inside collectExtraLosses, if any. */
let collector: tf.Scalar[] | undefined;

export interface WithExtraLosses<T> {
  readonly value: T;
  /** The sum of the loss terms layers added during `f` (a VAE's KL), or undefined when none did. */
  readonly extraLoss: tf.Scalar | undefined;
}

/**
 * Runs a forward pass (`f`, e.g. `() => model.apply(x, {training: true})`) and returns what it
 * returns with the loss terms its layers added. Call it inside the same tidy / gradient scope as
 * the loss it feeds: the terms are ordinary tensors of that scope.
 */
export function collectExtraLosses<T>(f: () => T): WithExtraLosses<T> {
  const outer = collector;
  const mine: tf.Scalar[] = [];
  collector = mine;
  try {
    const value = f();
    // The layers' terms are kept (a model's own tidy would dispose them); hand back one tensor of
    // the caller's scope instead. Gradients flow through clone / addN as through any op.
    const extraLoss = mine.length === 0 ? undefined : mine.length === 1 ? tf.clone(mine[0]!) : (tf.addN(mine) as tf.Scalar);
    return { value, extraLoss };
  } finally {
    collector = outer;
    tf.dispose(mine);
  }
}

/** Whether a model holds a layer that adds a loss term (a variational Bottleneck's Sampling). */
export function hasExtraLosses(model: tf.LayersModel): boolean {
  return model.layers.some((l) => l instanceof Sampling);
}

const one = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0]! : inputs);

export interface MaskingNoiseArgs {
  rate: number;
  name?: string;
  trainable?: boolean;
}

export class MaskingNoise extends tf.layers.Layer {
  static readonly className = 'MaskingNoise';
  readonly rate: number;

  constructor(args: MaskingNoiseArgs) {
    super(args);
    this.rate = args.rate;
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = one(inputs);
      if (kwargs['training'] !== true || this.rate <= 0) return tf.clone(x);
      // Keep a value where a uniform draw in [0, 1) is at or above the rate: kept with probability 1 - rate.
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32'), constant(this.rate)), x.dtype);
      return tf.mul(x, keep);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}

export interface SamplingArgs {
  klWeight: number;
  /** Values per sample of the reconstruction the KL term is added to (the Input's size). */
  valuesPerSample: number;
  name?: string;
  trainable?: boolean;
}

export class Sampling extends tf.layers.Layer {
  static readonly className = 'Sampling';
  readonly klWeight: number;
  readonly valuesPerSample: number;

  constructor(args: SamplingArgs) {
    super(args);
    this.klWeight = args.klWeight;
    this.valuesPerSample = args.valuesPerSample;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    // [z_mean, z_log_var] shapes are equal; z has that shape.
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error(`Sampling "${this.name}" takes [z_mean, z_log_var]`);
    const [mean, logVar] = inputs as [tf.Tensor, tf.Tensor];
    const training = kwargs['training'] === true;
    const wantLoss = collector !== undefined && this.klWeight > 0;
    const [z, kl] = tf.tidy(() => {
      const half = constant(0.5);
      const z = training ? tf.add(mean, tf.mul(tf.exp(tf.mul(logVar, half)), tf.randomNormal(mean.shape, 0, 1, 'float32'))) : tf.clone(mean);
      if (!wantLoss) return [z];
      // KL(N(mu, sigma²) || N(0, 1)) summed over the code, averaged over the batch, then weighted and scaled.
      const perValue = tf.sub(tf.sub(tf.add(constant(1), logVar), tf.square(mean)), tf.exp(logVar));
      const perSample = tf.sum(tf.reshape(perValue, [mean.shape[0]!, -1]), -1);
      const kl = tf.mul(tf.mean(perSample), constant((-0.5 * this.klWeight) / this.valuesPerSample)) as tf.Scalar;
      return [z, kl];
    });
    // Kept: the enclosing model's tidy would dispose it before collectExtraLosses returns.
    if (kl) collector?.push(tf.keep(kl as tf.Scalar));
    return z!;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), klWeight: this.klWeight, valuesPerSample: this.valuesPerSample };
  }
}

tf.serialization.registerClass(MaskingNoise, 'LatentStudio');
tf.serialization.registerClass(Sampling, 'LatentStudio');
