/**
 * Restricting a split to some classes (`training.classes`): anomaly detection trains, validates and
 * evaluates on the "normal" classes only, and the other classes are the anomalies. The split is
 * drawn first over the whole dataset and filtered after, so every image stays in the part it was
 * in (a held-out test digit is never a training digit of another run with other classes).
 */
import { DatasetError, type Dataset, type DatasetSplit } from './types';

/** "0-9" for 10 classes, "0" for one. */
const classRange = (numClasses: number): string => (numClasses === 1 ? '0' : `0-${numClasses - 1}`);

/** A class as `training.classes` may name it: an index, or a name of the dataset's classes. */
export type ClassRef = number | string;

const listNames = (names: readonly string[]): string => {
  const shown = names.slice(0, 12).map((n) => JSON.stringify(n)).join(', ');
  return names.length > 12 ? `${shown}, …` : shown;
};

/**
 * The class indices `classes` names, or a sentence: a dataset without labels, an index past its
 * last class, a name it lacks. Names match exactly, else ignoring case. `datasetName` is how the
 * user wrote the dataset ("mnist", "csv:digits.csv").
 */
export function resolveClasses(ds: Pick<Dataset, 'labels' | 'numClasses' | 'classNames'>, classes: readonly ClassRef[], datasetName: string): number[] {
  if (!ds.labels) {
    throw new DatasetError(`training.classes picks classes ${classes.join(', ')}, but ${datasetName} has no labels: remove training.classes or use a dataset with labels.`);
  }
  const names = ds.classNames ?? Array.from({ length: ds.numClasses }, (_, i) => String(i));
  return classes.map((c) => {
    if (typeof c === 'number') {
      if (!Number.isInteger(c) || c < 0 || c >= ds.numClasses) {
        throw new DatasetError(`training.classes names class ${c}, but ${datasetName} has ${ds.numClasses} classes (${classRange(ds.numClasses)}).`);
      }
      return c;
    }
    const exact = names.indexOf(c);
    const found = exact >= 0 ? exact : names.findIndex((n) => n.toLowerCase() === c.toLowerCase());
    if (found < 0) throw new DatasetError(`training.classes names class "${c}", which ${datasetName} lacks: its classes are ${listNames(names)}.`);
    return found;
  });
}

/** Refuse classes the dataset cannot provide (see resolveClasses). */
export function checkClasses(ds: Pick<Dataset, 'labels' | 'numClasses' | 'classNames'>, classes: readonly ClassRef[], datasetName: string): void {
  resolveClasses(ds, classes, datasetName);
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
export function restrictSplit(split: DatasetSplit, ds: Pick<Dataset, 'labels' | 'numClasses' | 'classNames'>, classes: readonly ClassRef[] | undefined, datasetName: string): DatasetSplit {
  if (classes === undefined) return split;
  const indices = resolveClasses(ds, classes, datasetName);
  const labels = ds.labels!;
  return {
    train: filterByClasses(split.train, labels, indices),
    validation: filterByClasses(split.validation, labels, indices),
    test: filterByClasses(split.test, labels, indices),
  };
}
