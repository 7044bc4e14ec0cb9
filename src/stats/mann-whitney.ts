/**
 * Two-sided Mann-Whitney U test (Wilcoxon rank-sum) of two independent samples.
 *
 * - `u` is the statistic of the first sample: the number of pairs (a_i, b_j)
 *   with a_i > b_j, ties counting one half (= rank sum of `a` − n1(n1+1)/2). The
 *   textbook tabulated value is min(u, n1·n2 − u).
 * - Exact p-value when there are no ties and both samples have at most
 *   `EXACT_MAX` values: the null distribution of U is counted exactly (every
 *   split of the pooled ranks equally likely), p = min(1, 2·min(P[U ≤ u], P[U ≥ u])).
 * - Otherwise the normal approximation with midranks, the tie correction of the
 *   variance and a continuity correction of 0.5:
 *   σ² = n1·n2/12 · ((N + 1) − Σ(t³ − t)/(N(N − 1))), z = max(0, |u − n1·n2/2| − 0.5)/σ,
 *   p = 2·(1 − Φ(z)). All values tied (σ = 0) gives p = 1.
 * Matches R's wilcox.test(correct = TRUE) and SciPy's mannwhitneyu(use_continuity=True).
 */

/** Exact distribution when both samples are at most this large and nothing is tied. */
export const EXACT_MAX = 50;

export interface MannWhitneyResult {
  /** U of the first sample (pairs a > b, ties half). */
  u: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
}

export interface MannWhitneyOptions {
  /** Force the method; default: exact when allowed (no ties, both ≤ EXACT_MAX). */
  method?: 'exact' | 'normal';
}

/** Midranks (1-based) of the pooled values and the tie-group sizes. */
function rank(pooled: readonly number[]): { ranks: number[]; ties: number[] } {
  const idx = pooled.map((_, i) => i).sort((x, y) => pooled[x]! - pooled[y]!);
  const ranks = new Array<number>(pooled.length);
  const ties: number[] = [];
  for (let i = 0; i < idx.length; ) {
    let j = i + 1;
    while (j < idx.length && pooled[idx[j]!] === pooled[idx[i]!]) j++;
    const mid = (i + 1 + j) / 2; // average of ranks i+1 .. j
    for (let k = i; k < j; k++) ranks[idx[k]!] = mid;
    if (j - i > 1) ties.push(j - i);
    i = j;
  }
  return { ranks, ties };
}

/**
 * The exact null distribution of U for sample sizes (m, n) without ties, as counts
 * of arrangements (index = U, total = C(m + n, m)). Recurrence on the largest pooled
 * value: it belongs to the first sample (adds n to U) or to the second (adds 0):
 * w(k; m, n) = w(k − n; m − 1, n) + w(k; m, n − 1). Sums of positive doubles only.
 */
export function exactUDistribution(m: number, n: number): Float64Array {
  // cnt[i] holds the distribution for (i, j) as j grows from 0 to n.
  const cnt: Float64Array[] = [];
  for (let i = 0; i <= m; i++) cnt.push(Float64Array.of(1)); // j = 0: U is 0
  for (let j = 1; j <= n; j++) {
    // i = 0: only U = 0, unchanged
    for (let i = 1; i <= m; i++) {
      const next = new Float64Array(i * j + 1);
      next.set(cnt[i]!); // w(k; i, j − 1), lengths i·(j − 1) + 1
      const lower = cnt[i - 1]!; // already for (i − 1, j)
      for (let k = 0; k < lower.length; k++) next[k + j]! += lower[k]!;
      cnt[i] = next;
    }
  }
  return cnt[m]!;
}

/** Complementary error function (Numerical Recipes' Chebyshev fit; relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export function mannWhitney(a: readonly number[], b: readonly number[], options: MannWhitneyOptions = {}): MannWhitneyResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitney needs at least one value in each sample');
  if (![...a, ...b].every(Number.isFinite)) throw new RangeError('mannWhitney needs finite values');
  const { ranks, ties } = rank([...a, ...b]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i]!;
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const exactAllowed = ties.length === 0 && n1 <= EXACT_MAX && n2 <= EXACT_MAX;
  if (options.method === 'exact' && ties.length > 0) throw new RangeError('the exact Mann-Whitney distribution needs samples without ties');
  const method = options.method ?? (exactAllowed ? 'exact' : 'normal');

  if (method === 'exact') {
    const dist = exactUDistribution(n1, n2);
    let total = 0;
    let below = 0; // P[U ≤ u]
    let above = 0; // P[U ≥ u]
    for (let k = 0; k < dist.length; k++) {
      const c = dist[k]!;
      total += c;
      if (k <= u) below += c;
      if (k >= u) above += c;
    }
    return { u, p: Math.min(1, (2 * Math.min(below, above)) / total), method };
  }

  const n = n1 + n2;
  const tieSum = ties.reduce((s, t) => s + (t * t * t - t), 0);
  const variance = ((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1)));
  if (!(variance > 0)) return { u, p: 1, method };
  const z = Math.max(0, Math.abs(u - (n1 * n2) / 2) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, erfc(z / Math.SQRT2)), method };
}

/** Alias of `mannWhitney`. */
export const mannWhitneyU = mannWhitney;
