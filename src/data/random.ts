/** A seeded generator of floats in [0, 1). */
export type Rng = () => number;

/** Anything indexable and writable: plain arrays and typed arrays alike. */
export interface MutableArrayLike<T> {
  readonly length: number;
  [index: number]: T;
}

/** mulberry32: tiny, fast, and good enough to shuffle datasets reproducibly. */
export function mulberry32(seed: number): Rng {
  return new Mulberry32(seed).next;
}

/**
 * mulberry32 whose state can be read and put back, so a resumed training run shuffles exactly as
 * an uninterrupted one would. `next` yields the same sequence as `mulberry32(seed)`.
 */
export class Mulberry32 {
  private a: number;

  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** The whole state: one unsigned 32-bit integer. */
  get state(): number {
    return this.a;
  }

  set state(value: number) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`mulberry32 state must be an unsigned 32-bit integer, got ${value}`);
    this.a = value;
  }

  readonly next: Rng = () => {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle; returns the same array for chaining. */
export function shuffleInPlace<T, A extends MutableArrayLike<T>>(arr: A, rng: Rng): A {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = arr[i] as T;
    arr[i] = arr[j] as T;
    arr[j] = tmp;
  }
  return arr;
}
