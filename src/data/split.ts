import { mulberry32, shuffleInPlace } from './random';
import { DatasetError, type DatasetSplit } from './types';

/** Fractions of the whole dataset held out; the rest is training data. */
export interface SplitFractions {
  readonly validation: number;
  readonly test: number;
}

/** Seeded shuffle of 0..count-1; round(count*fraction) each for validation and test, the rest trains. */
export function splitIndices(count: number, fractions: SplitFractions, seed: number): DatasetSplit {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`Dataset size must be a whole number ≥ 0, got ${count}`);
  }
  checkFraction('validation', fractions.validation);
  checkFraction('test', fractions.test);
  if (fractions.validation + fractions.test >= 1) {
    throw new DatasetError(
      `validation (${fractions.validation}) + test (${fractions.test}) = ${fractions.validation + fractions.test} leaves no training data; their sum must be below 1`,
    );
  }
  if (!Number.isFinite(seed)) throw new RangeError(`Split seed must be a finite number, got ${seed}`);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  shuffleInPlace(order, mulberry32(seed));
  // Sum of the two rounded parts never exceeds count because the fractions sum below 1.
  const nVal = Math.round(count * fractions.validation);
  const nTest = Math.round(count * fractions.test);
  return {
    validation: order.slice(0, nVal),
    test: order.slice(nVal, nVal + nTest),
    train: order.slice(nVal + nTest),
  };
}

/**
 * The split of a dataset: splitIndices over every sample, or, where the file brings its own test
 * split (`testStart`: an NPZ's x_test), validation drawn from the samples before it (the
 * validation fraction of those, seeded the same way) and the file's test samples as the test split.
 */
export function splitDataset(ds: { readonly count: number; readonly testStart?: number }, fractions: SplitFractions, seed: number): DatasetSplit {
  if (ds.testStart === undefined) return splitIndices(ds.count, fractions, seed);
  const own = splitIndices(ds.testStart, { validation: fractions.validation, test: 0 }, seed);
  const test = new Uint32Array(ds.count - ds.testStart);
  for (let i = 0; i < test.length; i++) test[i] = ds.testStart + i;
  return { train: own.train, validation: own.validation, test };
}

function checkFraction(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 1) {
    throw new DatasetError(`The ${name} fraction must be a number in [0, 1) (e.g. 0.1 for 10%), got ${value}`);
  }
}
