/**
 * The optimizers the trainer uses: tfjs' own classes with `applyGradients` rewritten to take their
 * hyper-parameters from device-resident constants (constants.ts) instead of uploading a fresh
 * scalar per variable per step. Same formulas, same op order, so results are bit-identical to
 * tfjs' (test/train/optimizers.test.ts), and getWeights/setWeights (checkpoints) are inherited.
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerName } from '../core/format';
import { constant } from './constants';

type Grads = tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[];
interface Slot {
  originalName: string;
  variable: tf.Variable;
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
  override applyGradients(variableGradients: Grads): void {
    const self = this as unknown as AdadeltaFields;
    const rho = constant(self.rho);
    const oneMinusRho = constant(1 - self.rho);
    const eps = constant(self.epsilon);
    const negLr = constant(-self.learningRate);
    entries(variableGradients).forEach(({ name, gradient }, i) => {
      const value = variableOf(name);
      const accumulatedGrad = slot(self.accumulatedGrads, i, name, 'accum_grad', value);
      const accumulatedUpdate = slot(self.accumulatedUpdates, i, name, 'accum_var', value);
      if (gradient == null) return;
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
  override applyGradients(variableGradients: Grads): void {
    const self = this as unknown as AdamFields;
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
  override applyGradients(variableGradients: Grads): void {
    const self = this as unknown as RMSPropFields;
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
}

/** The optimizer of a stage, with Keras' defaults (epsilon 1e-7). SGD already keeps its one constant. */
export function makeOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  switch (name) {
    case 'adadelta':
      return new ConstantAdadelta(learningRate, 0.95, 1e-7);
    case 'adam':
      return new ConstantAdam(learningRate, 0.9, 0.999, 1e-7);
    case 'rmsprop':
      return new ConstantRMSProp(learningRate, 0.9, 0, 1e-7);
    case 'sgd':
      return tf.train.sgd(learningRate);
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
