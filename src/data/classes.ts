/**
 * Restricting a split to some classes (`training.classes`): anomaly detection trains, validates and
 * evaluates on the "normal" classes only, and the other classes are the anomalies. The split is
 * drawn first over the whole dataset and filtered after, so every image stays in the part it was
 * in (a held-out test digit is never a training digit of another run with other classes).
 */
import { DatasetError, type DatasetSplit, type ImageDataset } from './types';

/** "0-9" for 10 classes, "0" for one. */
const classRange = (numClasses: number): string => (numClasses === 1 ? '0' : `0-${numClasses - 1}`);

/**
 * Refuse classes the dataset cannot provide: a dataset without labels, or a class index past its
 * last class. `datasetName` is how the user wrote the dataset ("mnist", "csv:digits.csv").
 */
export function checkClasses(ds: Pick<ImageDataset, 'labels' | 'numClasses'>, classes: readonly number[], datasetName: string): void {
  if (!ds.labels) {
    throw new DatasetError(`training.classes picks classes ${classes.join(', ')}, but ${datasetName} has no labels: remove training.classes or use a dataset with labels.`);
  }
  const outside = classes.find((c) => !Number.isInteger(c) || c < 0 || c >= ds.numClasses);
  if (outside !== undefined) {
    throw new DatasetError(`training.classes names class ${outside}, but ${datasetName} has ${ds.numClasses} classes (${classRange(ds.numClasses)}).`);
  }
}

/** The indices (in their order) whose label is one of `classes`. */
export function filterByClasses(indices: Uint32Array, labels: ArrayLike<number>, classes: readonly number[]): Uint32Array {
  const keep = new Set(classes);
  let n = 0;
  const out = new Uint32Array(indices.length);
  for (const i of indices) if (keep.has(labels[i]!)) out[n++] = i;
  return out.slice(0, n);
}

/**
 * The split restricted to `classes` (checked first); the split itself when `classes` is undefined.
 * Each part keeps its order, so "the first n of the test split" stays a prefix.
 */
export function restrictSplit(split: DatasetSplit, ds: Pick<ImageDataset, 'labels' | 'numClasses'>, classes: readonly number[] | undefined, datasetName: string): DatasetSplit {
  if (classes === undefined) return split;
  checkClasses(ds, classes, datasetName);
  const labels = ds.labels!;
  return {
    train: filterByClasses(split.train, labels, classes),
    validation: filterByClasses(split.validation, labels, classes),
    test: filterByClasses(split.test, labels, classes),
  };
}
