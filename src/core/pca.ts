/**
 * The first two principal components of a set of codes, for the latent-space scatter. Plain float64
 * TypeScript: codes are at most a few hundred (rarely a few thousand) numbers wide and there are at
 * most ten thousand of them, so one symmetric matrix and a subspace iteration are quick enough.
 *
 * The points are centred, and the top two eigenvectors of their scatter matrix XᵀX found by subspace
 * iteration with Rayleigh–Ritz: first through products with X alone, then, if that converges slowly,
 * on the smaller of XᵀX (d×d) and the Gram matrix XXᵀ (n×n, same non-zero eigenvalues), formed once.
 * Each direction's sign is fixed so its largest-magnitude entry is positive (a repeatable picture).
 */

export interface Pca2 {
  /** Each point's coordinate along the first and second principal direction. */
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** The unit directions in code space (length d each; the second is zeros when d = 1 or nothing varies). */
  readonly components: readonly [Float64Array, Float64Array];
  /** The share of the total variance each direction explains, in [0, 1], descending (0 when nothing varies). */
  readonly explained: readonly [number, number];
  /** The variances along the two directions (eigenvalues of the covariance, divided by n). */
  readonly variances: readonly [number, number];
}

const MAX_ITERATIONS = 500;
/** Ritz pairs count as converged when |A x - λ x| ≤ TOLERANCE · λ₁. */
const TOLERANCE = 1e-10;
/** Extra vectors in the iterated block: the top two converge at the rate λ(k+1)/λ2 instead of λ2/λ1. */
const EXTRA = 4;

/** A small pseudo-random generator for start vectors (repeatable, no dependency). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
}

/**
 * Orthonormalize the columns of `q` in place (modified Gram–Schmidt, twice); a column that
 * vanishes (the span is smaller than the block) is replaced by a fresh random one.
 */
function orthonormalize(q: Float64Array[], random: () => number): void {
  const m = q[0]!.length;
  for (let j = 0; j < q.length; j++) {
    const v = q[j]!;
    const before = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    for (let attempt = 0; attempt < 3; attempt++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < j; i++) {
          const u = q[i]!;
          let dot = 0;
          for (let r = 0; r < m; r++) dot += v[r]! * u[r]!;
          for (let r = 0; r < m; r++) v[r]! -= dot * u[r]!;
        }
      }
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      if (norm > 1e-10 * Math.max(before, 1e-300)) {
        for (let r = 0; r < m; r++) v[r]! /= norm;
        break;
      }
      for (let r = 0; r < m; r++) v[r] = random();
    }
  }
}

/** Eigen-decomposition of a small symmetric k×k matrix (cyclic Jacobi): values descending, vectors as columns of `vectors[row][col]`. */
function jacobi(h: number[][]): { values: number[]; vectors: number[][] } {
  const k = h.length;
  const a = h.map((row) => [...row]);
  const v = Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j): number => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += a[p]![q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        if (a[p]![q] === 0) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          const [arp, arq] = [a[r]![p]!, a[r]![q]!];
          a[r]![p] = c * arp - s * arq;
          a[r]![q] = s * arp + c * arq;
        }
        for (let r = 0; r < k; r++) {
          const [apr, aqr] = [a[p]![r]!, a[q]![r]!];
          a[p]![r] = c * apr - s * aqr;
          a[q]![r] = s * apr + c * aqr;
        }
        for (let r = 0; r < k; r++) {
          const [vrp, vrq] = [v[r]![p]!, v[r]![q]!];
          v[r]![p] = c * vrp - s * vrq;
          v[r]![q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => a[y]![y]! - a[x]![x]!);
  return { values: order.map((i) => a[i]![i]!), vectors: v.map((row) => order.map((i) => row[i]!)) };
}

type Operator = (v: Float64Array) => Float64Array;

interface Subspace {
  /** Ritz vectors, best first (the whole block, so an unconverged run can continue from it). */
  readonly vectors: Float64Array[];
  readonly values: number[];
  readonly converged: boolean;
}

/**
 * The top eigenpairs of a symmetric positive semi-definite operator on R^m: subspace iteration on
 * the block `start` with Rayleigh–Ritz, one operator product per vector and step. Converged when the
 * top `count` Ritz pairs have |A x - λ x| ≤ TOLERANCE · λ₁, or after `maxIterations`.
 */
function subspaceIteration(op: Operator, m: number, start: Float64Array[], count: number, maxIterations: number, random: () => number): Subspace {
  const k = start.length;
  let q: Float64Array[] = start.map((v) => Float64Array.from(v));
  orthonormalize(q, random);
  const combine = (cols: Float64Array[], coef: number[][], j: number): Float64Array => {
    const out = new Float64Array(m);
    cols.forEach((c, i) => {
      const w = coef[i]![j]!;
      if (w !== 0) for (let r = 0; r < m; r++) out[r]! += w * c[r]!;
    });
    return out;
  };
  let ritz: Float64Array[] = q;
  let values: number[] = new Array<number>(k).fill(0);
  for (let iter = 0; iter < maxIterations; iter++) {
    const z = q.map(op);
    const h = q.map((qi) => z.map((zj) => qi.reduce((s, x, r) => s + x * zj[r]!, 0)));
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) h[i]![j] = h[j]![i] = (h[i]![j]! + h[j]![i]!) / 2;
    const eig = jacobi(h);
    values = eig.values;
    ritz = Array.from({ length: k }, (_, j) => combine(q, eig.vectors, j));
    const images = Array.from({ length: k }, (_, j) => combine(z, eig.vectors, j));
    const scale = Math.max(values[0]!, 0);
    let converged = true;
    for (let j = 0; j < Math.min(count, k); j++) {
      let residual = 0;
      for (let r = 0; r < m; r++) residual += (images[j]![r]! - values[j]! * ritz[j]![r]!) ** 2;
      if (Math.sqrt(residual) > TOLERANCE * scale) converged = false;
    }
    if (converged || scale === 0) return { vectors: ritz, values, converged: true };
    q = images;
    orthonormalize(q, random);
  }
  return { vectors: ritz, values, converged: false };
}

/** The matrix-vector product of a symmetric m×m matrix (row-major). */
const matrixOperator = (a: Float64Array, m: number): Operator => (v) => {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    const row = i * m;
    for (let j = 0; j < m; j++) s += a[row + j]! * v[j]!;
    out[i] = s;
  }
  return out;
};

/** X v (n numbers) for centred points X (n×d, row-major). */
function timesX(x: Float64Array, n: number, d: number, v: Float64Array): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const row = i * d;
    for (let j = 0; j < d; j++) s += x[row + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}

/** Xᵀ u (d numbers). */
function timesXt(x: Float64Array, n: number, d: number, u: Float64Array): Float64Array {
  const out = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const w = u[i]!;
    if (w === 0) continue;
    const row = i * d;
    for (let j = 0; j < d; j++) out[j]! += w * x[row + j]!;
  }
  return out;
}

/**
 * The top two eigenpairs of the scatter matrix XᵀX, as unit directions in code space. First without
 * forming any matrix (v ↦ Xᵀ(Xv), 2·n·d per product: codes usually have a clear leading pair and this
 * takes a few steps); when that is slow to converge, the smaller of XᵀX (d×d) and XXᵀ (n×n) is formed
 * once (n·d·min(n, d)/2) and the iteration continues on it.
 */
function principalPairs(x: Float64Array, n: number, d: number, matrixFreeSteps: number | undefined): { directions: Float64Array[]; values: number[] } {
  const random = lcg(0x5eed);
  const k = Math.min(d, 2 + EXTRA);
  const start = Array.from({ length: k }, () => Float64Array.from({ length: d }, random));
  // Matrix-free steps cost about as much as forming the matrix after min(n, d) / (4k) of them.
  const budget = matrixFreeSteps ?? Math.max(30, Math.ceil(Math.min(n, d) / (4 * k)));
  const free = subspaceIteration((v) => timesXt(x, n, d, timesX(x, n, d, v)), d, start, 2, budget, random);
  if (free.converged) return { directions: free.vectors.slice(0, 2), values: free.values.slice(0, 2) };
  if (d <= n) {
    const a = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      const row = i * d;
      for (let p = 0; p < d; p++) {
        const xp = x[row + p]!;
        if (xp === 0) continue;
        const base = p * d;
        for (let q = p; q < d; q++) a[base + q]! += xp * x[row + q]!;
      }
    }
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) a[q * d + p] = a[p * d + q]!;
    const r = subspaceIteration(matrixOperator(a, d), d, free.vectors, 2, MAX_ITERATIONS, random);
    return { directions: r.vectors.slice(0, 2), values: r.values.slice(0, 2) };
  }
  // Fewer points than numbers per code: the Gram matrix XXᵀ shares the non-zero eigenvalues; its
  // eigenvectors u map to directions Xᵀu / |Xᵀu|, and a direction v to X v.
  const g = new Float64Array(n * n);
  for (let p = 0; p < n; p++) {
    for (let q = p; q < n; q++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += x[p * d + j]! * x[q * d + j]!;
      g[p * n + q] = s;
      g[q * n + p] = s;
    }
  }
  const r = subspaceIteration(matrixOperator(g, n), n, free.vectors.slice(0, Math.min(k, n)).map((v) => timesX(x, n, d, v)), 2, MAX_ITERATIONS, random);
  const directions = r.vectors.slice(0, 2).map((u) => {
    const v = timesXt(x, n, d, u);
    const norm = Math.sqrt(v.reduce((s, t) => s + t * t, 0));
    return norm > 0 ? v.map((t) => t / norm) : v;
  });
  return { directions, values: r.values.slice(0, 2) };
}

/** Make the largest-magnitude entry positive. */
function fixSign(v: Float64Array): void {
  let at = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]!) > Math.abs(v[at]!)) at = i;
  if (v[at]! < 0) for (let i = 0; i < v.length; i++) v[i] = -v[i]!;
}

export interface PcaOptions {
  /** Steps tried without forming a matrix before forming one (default: about as many as forming costs; 0 forms it at once). */
  readonly matrixFreeSteps?: number;
}

/**
 * Principal component analysis of `n` points of width `d`, given row-major (`data[i * d + j]`).
 * Returns the projections on the first two principal directions and their share of the variance.
 */
export function pca2(data: ArrayLike<number>, n: number, d: number, opts: PcaOptions = {}): Pca2 {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 1 || d < 1) throw new RangeError(`pca2 needs at least one point of width ≥ 1, got ${n} points of width ${d}`);
  if (data.length !== n * d) throw new RangeError(`pca2: ${n} points of width ${d} need ${n * d} numbers, got ${data.length}`);
  // Centre.
  const x = new Float64Array(n * d);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += data[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const c = data[i * d + j]! - mean[j]!;
      x[i * d + j] = c;
      total += c * c;
    }
  }

  const top = principalPairs(x, n, d, opts.matrixFreeSteps);
  // Below this, an eigenvalue is rounding noise (its direction would be arbitrary): nothing varies along it.
  const negligible = total * 1e-12;
  const v1 = Math.max(0, top.values[0] ?? 0) > negligible ? top.values[0]! : 0;
  const v2 = d > 1 && Math.max(0, top.values[1] ?? 0) > negligible ? top.values[1]! : 0;
  const c1 = v1 > 0 ? Float64Array.from(top.directions[0]!) : new Float64Array(d);
  const c2 = v2 > 0 ? Float64Array.from(top.directions[1]!) : new Float64Array(d);
  fixSign(c1);
  fixSign(c2);
  const px = new Float64Array(n);
  const py = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < d; j++) {
      s1 += x[i * d + j]! * c1[j]!;
      s2 += x[i * d + j]! * c2[j]!;
    }
    px[i] = s1;
    py[i] = s2;
  }
  const share = (value: number): number => (total > 0 ? Math.min(1, Math.max(0, value / total)) : 0);
  return {
    x: px,
    y: py,
    components: [c1, c2],
    explained: [share(v1), share(v2)],
    variances: [v1 / n, v2 / n],
  };
}
