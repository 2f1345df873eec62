/**
 * The optimizers the trainer uses: tfjs' own classes with `applyGradients` rewritten to take their
 * hyper-parameters from device-resident constants (constants.ts) instead of uploading a fresh
 * scalar per variable per step. Same formulas, same op order, so results are bit-identical to
 * tfjs' (test/train/optimizers.test.ts), and getWeights/setWeights (checkpoints) are inherited.
 *
 * On the webgpu backend each variable's whole update is one in-place dispatch instead
 * (kernels/webgpuOptimizers.ts: same formulas, float32 rounding apart), and on wasm and cpu small
 * variables are updated by one loop (kernels/hostOptimizers.ts: bit-identical); where that cannot
 * be done safely (shared data) the tfjs ops below run.
 */
import * as tf from '../backend/tf';
import type { OptimizerName } from '../core/format';
import { constant } from '../backend/constants';
import { hostFusedUpdate } from '../backend/kernels/hostOptimizers';
import { FusedParams, fusedUpdate } from '../backend/kernels/webgpu/optimizers';

type Grads = tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[];
interface Slot {
  originalName: string;
  variable: tf.Variable;
}

/** One pass over a variable and its slots where the backend allows (webgpu: a dispatch; wasm/cpu: a loop over small variables); false: use tfjs ops. */
function updateInOnePass(params: FusedParams, written: readonly tf.Variable[], gradient: tf.Tensor, read: readonly tf.Tensor[] = []): boolean {
  return fusedUpdate(params, written, gradient, read) || hostFusedUpdate(params.kind, params.values, written, gradient, read);
}

function variableOf(name: string): tf.Variable {
  const v = (tf.engine().registeredVariables as Record<string, tf.Variable | undefined>)[name];
  if (!v) throw new Error(`optimizer: no variable named ${name}`);
  return v;
}

function entries(grads: Grads): { name: string; gradient: tf.Tensor | undefined }[] {
  return Array.isArray(grads) ? grads.map((g) => ({ name: g.name, gradient: g.tensor })) : Object.keys(grads).map((name) => ({ name, gradient: grads[name] }));
}

function slot(slots: Slot[], i: number, name: string, suffix: string, like: tf.Variable): tf.Variable {
  slots[i] ??= { originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(like).variable(false)) };
  return slots[i].variable;
}

/** The protected fields of tfjs' optimizers this module reads (they are plain JS properties). */
interface AdadeltaFields {
  accumulatedGrads: Slot[];
  accumulatedUpdates: Slot[];
  rho: number;
  epsilon: number;
  learningRate: number;
  incrementIterations(): void;
}

export class ConstantAdadelta extends tf.AdadeltaOptimizer {
  private fused?: FusedParams;

  override applyGradients(variableGradients: Grads): void {
    const self = this as unknown as AdadeltaFields;
    this.fused ??= new FusedParams('adadelta', { rho: self.rho, oneMinusRho: 1 - self.rho, eps: self.epsilon, negLr: -self.learningRate });
    const rho = constant(self.rho);
    const oneMinusRho = constant(1 - self.rho);
    const eps = constant(self.epsilon);
    const negLr = constant(-self.learningRate);
    entries(variableGradients).forEach(({ name, gradient }, i) => {
      const value = variableOf(name);
      const accumulatedGrad = slot(self.accumulatedGrads, i, name, 'accum_grad', value);
      const accumulatedUpdate = slot(self.accumulatedUpdates, i, name, 'accum_var', value);
      if (gradient == null) return;
      if (updateInOnePass(this.fused!, [value, accumulatedGrad, accumulatedUpdate], gradient)) return;
      tf.tidy(() => {
        const newAccumulatedGrad = tf.add(tf.mul(accumulatedGrad, rho), tf.mul(tf.square(gradient), oneMinusRho));
        const updates = tf.mul(tf.div(tf.sqrt(tf.add(accumulatedUpdate, eps)), tf.sqrt(tf.add(accumulatedGrad, eps))), gradient);
        const newAccumulatedUpdate = tf.add(tf.mul(accumulatedUpdate, rho), tf.mul(tf.square(updates), oneMinusRho));
        accumulatedGrad.assign(newAccumulatedGrad);
        accumulatedUpdate.assign(newAccumulatedUpdate);
        value.assign(tf.add(tf.mul(updates, negLr), value));
      });
    });
    self.incrementIterations();
  }

  override dispose(): void {
    super.dispose();
    this.fused?.dispose();
  }
}

interface AdamFields {
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  incrementIterations(): void;
}

export class ConstantAdam extends tf.AdamOptimizer {
  private fused?: FusedParams;

  override applyGradients(variableGradients: Grads): void {
    const self = this as unknown as AdamFields;
    this.fused ??= new FusedParams('adam', {
      beta1: self.beta1,
      beta2: self.beta2,
      oneMinusBeta1: 1 - self.beta1,
      oneMinusBeta2: 1 - self.beta2,
      eps: self.epsilon,
      negLr: -self.learningRate,
    });
    const one = constant(1);
    const beta1 = constant(self.beta1);
    const beta2 = constant(self.beta2);
    const oneMinusBeta1 = constant(1 - self.beta1);
    const oneMinusBeta2 = constant(1 - self.beta2);
    const eps = constant(self.epsilon);
    const negLr = constant(-self.learningRate);
    tf.tidy(() => {
      const oneMinusAccBeta1 = tf.sub(one, self.accBeta1);
      const oneMinusAccBeta2 = tf.sub(one, self.accBeta2);
      entries(variableGradients).forEach(({ name, gradient }, i) => {
        const value = variableOf(name);
        const firstMoment = slot(self.accumulatedFirstMoment, i, name, 'm', value);
        const secondMoment = slot(self.accumulatedSecondMoment, i, name, 'v', value);
        if (gradient == null) return;
        if (updateInOnePass(this.fused!, [value, firstMoment, secondMoment], gradient, [self.accBeta1, self.accBeta2])) return;
        const newFirstMoment = tf.add(tf.mul(firstMoment, beta1), tf.mul(gradient, oneMinusBeta1));
        const newSecondMoment = tf.add(tf.mul(secondMoment, beta2), tf.mul(tf.square(gradient), oneMinusBeta2));
        const biasCorrectedFirstMoment = tf.div(newFirstMoment, oneMinusAccBeta1);
        const biasCorrectedSecondMoment = tf.div(newSecondMoment, oneMinusAccBeta2);
        firstMoment.assign(newFirstMoment);
        secondMoment.assign(newSecondMoment);
        value.assign(tf.add(tf.mul(tf.div(biasCorrectedFirstMoment, tf.add(tf.sqrt(biasCorrectedSecondMoment), eps)), negLr), value));
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, beta2));
    });
    self.incrementIterations();
  }

  override dispose(): void {
    super.dispose();
    this.fused?.dispose();
  }
}

interface RMSPropFields {
  accumulatedMeanSquares: Slot[];
  accumulatedMoments: Slot[];
  accumulatedMeanGrads: Slot[];
  centered: boolean;
  decay: number;
  momentum: number;
  epsilon: number;
  learningRate: number;
  incrementIterations(): void;
}

export class ConstantRMSProp extends tf.RMSPropOptimizer {
  private fused?: FusedParams;

  override applyGradients(variableGradients: Grads): void {
    const self = this as unknown as RMSPropFields;
    this.fused ??= new FusedParams(self.centered ? 'rmspropCentered' : 'rmsprop', {
      decay: self.decay,
      oneMinusDecay: 1 - self.decay,
      momentum: self.momentum,
      eps: self.epsilon,
      lr: self.learningRate,
    });
    const decay = constant(self.decay);
    const oneMinusDecay = constant(1 - self.decay);
    const momentum = constant(self.momentum);
    const eps = constant(self.epsilon);
    const lr = constant(self.learningRate);
    entries(variableGradients).forEach(({ name, gradient }, i) => {
      const value = variableOf(name);
      const meanSquare = slot(self.accumulatedMeanSquares, i, name, 'rms', value);
      const moments = slot(self.accumulatedMoments, i, name, 'momentum', value);
      const meanGrad = self.centered ? slot(self.accumulatedMeanGrads, i, name, 'mg', value) : undefined;
      if (gradient == null) return;
      if (updateInOnePass(this.fused!, meanGrad ? [value, meanSquare, moments, meanGrad] : [value, meanSquare, moments], gradient)) return;
      tf.tidy(() => {
        const newMeanSquare = tf.add(tf.mul(meanSquare, decay), tf.mul(tf.square(gradient), oneMinusDecay));
        let newMoments: tf.Tensor;
        if (meanGrad) {
          const newMeanGrad = tf.add(tf.mul(meanGrad, decay), tf.mul(gradient, oneMinusDecay));
          const contribution = tf.div(tf.mul(gradient, lr), tf.sqrt(tf.sub(newMeanSquare, tf.add(tf.square(newMeanGrad), eps))));
          newMoments = tf.add(tf.mul(moments, momentum), contribution);
          meanGrad.assign(newMeanGrad);
        } else {
          newMoments = tf.add(tf.mul(moments, momentum), tf.div(tf.mul(gradient, lr), tf.sqrt(tf.add(newMeanSquare, eps))));
        }
        meanSquare.assign(newMeanSquare);
        moments.assign(newMoments);
        value.assign(tf.sub(value, newMoments));
      });
    });
    self.incrementIterations();
  }

  override dispose(): void {
    super.dispose();
    this.fused?.dispose();
  }
}

interface SGDFields {
  c: tf.Scalar;
  learningRate: number;
  incrementIterations(): void;
}

/** tfjs' SGD (which already keeps its one constant on the device), fused on webgpu like the others. */
export class FusedSGD extends tf.SGDOptimizer {
  private fused?: FusedParams;

  override applyGradients(variableGradients: Grads): void {
    const self = this as unknown as SGDFields;
    this.fused ??= new FusedParams('sgd', { negLr: -self.learningRate });
    entries(variableGradients).forEach(({ name, gradient }) => {
      if (gradient == null) return;
      const value = variableOf(name);
      if (updateInOnePass(this.fused!, [value], gradient)) return;
      tf.tidy(() => {
        value.assign(tf.add(tf.mul(self.c, gradient), value));
      });
    });
    self.incrementIterations();
  }

  override dispose(): void {
    super.dispose();
    this.fused?.dispose();
  }
}

/** The optimizer of a stage, with Keras' defaults (epsilon 1e-7). */
export function makeOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  switch (name) {
    case 'adadelta':
      return new ConstantAdadelta(learningRate, 0.95, 1e-7);
    case 'adam':
      return new ConstantAdam(learningRate, 0.9, 0.999, 1e-7);
    case 'rmsprop':
      return new ConstantRMSProp(learningRate, 0.9, 0, 1e-7);
    case 'sgd':
      return new FusedSGD(learningRate);
  }
}

/** tfjs' stock optimizer of the same settings (the reference the tests compare against). */
export function stockOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  switch (name) {
    case 'adadelta':
      return tf.train.adadelta(learningRate, 0.95, 1e-7);
    case 'adam':
      return tf.train.adam(learningRate, 0.9, 0.999, 1e-7);
    case 'rmsprop':
      return tf.train.rmsprop(learningRate, 0.9, 0, 1e-7);
    case 'sgd':
      return tf.train.sgd(learningRate);
  }
}

/**
 * `optimizer.minimize(f, true, varList)` with the seed gradient dy = 1 taken from the device:
 * tfjs' own creates `ones()` on the CPU for it, one upload per training step on a GPU backend.
 * Same gradients and update otherwise (Optimizer.minimize / variableGrads, tfjs-core 4.22).
 */
export function minimizeStep(optimizer: tf.Optimizer, f: () => tf.Scalar, variables: readonly tf.Variable[]): tf.Scalar {
  // Like variableGrads: variables marked not trainable (a frozen layer's) are left out.
  const varList = variables.filter((v) => v.trainable);
  if (varList.length === 0) throw new Error('None of the variables to train is trainable.');
  const { value, grads } = tf.engine().gradients(f, varList, constant(1), true);
  if (!grads.some((g) => g != null)) {
    tf.dispose(value);
    throw new Error('Cannot find a connection between any variable and the result of the loss function y=f(x).');
  }
  if (value.rank !== 0) throw new Error(`The loss must be a scalar, but its shape is [${value.shape.join(', ')}].`);
  const named: tf.NamedTensorMap = {};
  varList.forEach((v, i) => {
    const g = grads[i];
    if (g != null) named[v.name] = g;
  });
  optimizer.applyGradients(named);
  tf.dispose(grads.filter((g): g is tf.Tensor => g != null));
  return value as tf.Scalar;
}
