/** A tensor shape without the batch dimension, e.g. [784] or [28, 28, 1]. */
export type Shape = readonly number[];

/** "784" or "28x28x1": how shapes read in messages and in the editor. */
export function formatShape(shape: Shape): string {
  return shape.join('x');
}

export function shapeSize(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** "the 784-vector" / "the 28x28x1 image" — shapes as a person describes them. */
export function describeShape(shape: Shape): string {
  if (shape.length === 1) return `${shape[0]}-vector`;
  if (shape.length === 3) return `${formatShape(shape)} image`;
  return `${formatShape(shape)} tensor`;
}
