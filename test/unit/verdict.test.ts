/**
 * Statistics behind `perflab compare`: the Mann-Whitney U test (against SciPy
 * 1.17 reference values and brute-force enumeration) and the verdict rules of
 * INTERFACES.md on synthetic intervals, every branch.
 */
import { describe, expect, it } from 'vitest';
import { erfc, exactUDistribution, mannWhitney } from '../../src/stats/mann-whitney.js';
import { compareVerdict, minimumEffect, noiseHalfWidth, plausibility, plausibilityBound, MIN_EFFECT_FLOOR } from '../../src/stats/verdict.js';

/** Every split of the pooled values: the exact two-sided p-value by brute force. */
function bruteForceP(a: number[], b: number[]): number {
  const pooled = [...a, ...b];
  const n1 = a.length;
  const uOf = (xs: number[], ys: number[]) => xs.reduce((s, x) => s + ys.reduce((t, y) => t + (x > y ? 1 : x === y ? 0.5 : 0), 0), 0);
  const u = uOf(a, b);
  let below = 0, above = 0, total = 0;
  const pick = (start: number, chosen: number[]) => {
    if (chosen.length === n1) {
      const xs = chosen.map((i) => pooled[i]!);
      const ys = pooled.filter((_, i) => !chosen.includes(i));
      const v = uOf(xs, ys);
      total++;
      if (v <= u) below++;
      if (v >= u) above++;
      return;
    }
    for (let i = start; i < pooled.length; i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  return Math.min(1, (2 * Math.min(below, above)) / total);
}

describe('Mann-Whitney U', () => {
  it('identical samples: p = 1', () => {
    const r = mannWhitney([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]);
    expect(r).toEqual({ u: 12.5, p: 1, method: 'normal' });
    expect(mannWhitney([7, 7, 7], [7, 7, 7, 7]).p).toBe(1); // all tied: no variance
  });

  it('fully separated 5 vs 5: exact p = 2/252', () => {
    const r = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(r.method).toBe('exact');
    expect(r.u).toBe(0);
    expect(r.p).toBeCloseTo(2 / 252, 15);
    expect(mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])).toMatchObject({ u: 25, p: 2 / 252 });
  });

  it('exact p-values match SciPy and brute-force enumeration', () => {
    const a = [1.1, 2.3, 3.5, 4.2, 5.9, 6.1];
    const b = [2.0, 3.0, 7.2, 8.4, 9.9];
    const r = mannWhitney(a, b);
    expect(r.u).toBe(9);
    expect(r.p).toBeCloseTo(0.32900432900432897, 12); // scipy.stats.mannwhitneyu(method='exact')
    expect(r.p).toBeCloseTo(bruteForceP(a, b), 12);
    const a2 = [0.0, 7.1, 14.2, 21.3, 5.4, 12.5, 19.6, 3.7, 10.8, 17.9, 2.0, 9.1];
    const b2 = [0.01, 5.14, 10.27, 15.4, 1.53, 6.66, 11.79, 16.92, 3.05, 8.18, 13.31, 18.44, 4.57, 9.7, 14.83];
    const r2 = mannWhitney(a2, b2);
    expect(r2).toMatchObject({ u: 97, method: 'exact' });
    expect(r2.p).toBeCloseTo(0.7551246961261768, 12);
  });

  it('the exact distribution is the q-binomial: sums to C(m+n, m), symmetric', () => {
    const d = exactUDistribution(4, 6);
    expect(d.length).toBe(25);
    expect(d.reduce((s, x) => s + x, 0)).toBe(210);
    for (let k = 0; k < d.length; k++) expect(d[k]).toBe(d[d.length - 1 - k]);
    expect([...exactUDistribution(2, 2)]).toEqual([1, 1, 2, 1, 1]);
  });

  it('exact at the 50-sample limit agrees with SciPy', () => {
    const a = Array.from({ length: 40 }, (_, i) => ((i * 37) % 97) + 0.25);
    const b = Array.from({ length: 45 }, (_, i) => ((i * 41) % 89) + 0.5 + 0.001 * i);
    const r = mannWhitney(a, b);
    expect(r).toMatchObject({ u: 924, method: 'exact' });
    expect(r.p).toBeCloseTo(0.8369358666965165, 10);
  });

  it('normal approximation with tie and continuity corrections matches SciPy', () => {
    const r = mannWhitney([1, 2, 2, 3, 4, 5, 5, 6], [3, 4, 4, 5, 6, 7, 8, 8, 9]);
    expect(r).toMatchObject({ u: 14, method: 'normal' });
    expect(r.p).toBeCloseTo(0.03714012623439529, 6);
    // no ties but larger than the exact limit
    const a = Array.from({ length: 60 }, (_, i) => ((i * 37) % 101) + 0.5);
    const b = Array.from({ length: 60 }, (_, i) => ((i * 53) % 103) + 7.25);
    const big = mannWhitney(a, b);
    expect(big).toMatchObject({ u: 1640, method: 'normal' });
    expect(big.p).toBeCloseTo(0.40250382378200333, 6);
    // forced normal on a small sample agrees with SciPy's asymptotic value
    const a2 = [0.0, 7.1, 14.2, 21.3, 5.4, 12.5, 19.6, 3.7, 10.8, 17.9, 2.0, 9.1];
    const b2 = [0.01, 5.14, 10.27, 15.4, 1.53, 6.66, 11.79, 16.92, 3.05, 8.18, 13.31, 18.44, 4.57, 9.7, 14.83];
    expect(mannWhitney(a2, b2, { method: 'normal' }).p).toBeCloseTo(0.7511164910310382, 6);
  });

  it('erfc is accurate in the tails', () => {
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(erfc(1)).toBeCloseTo(0.15729920705028513, 7);
    expect(erfc(-1)).toBeCloseTo(1.8427007929497148, 7);
    expect(erfc(4) / 1.541725790028002e-8).toBeCloseTo(1, 6);
  });

  it('rejects empty samples, non-finite values and exact-with-ties', () => {
    expect(() => mannWhitney([], [1])).toThrow(RangeError);
    expect(() => mannWhitney([1, Number.NaN], [1])).toThrow(RangeError);
    expect(() => mannWhitney([1, 2], [2, 3], { method: 'exact' })).toThrow(/ties/);
  });
});

describe('compare verdict (INTERFACES.md)', () => {
  it('m = max(2%, the noise floor half-width measured from 1)', () => {
    expect(minimumEffect([0.99, 1.01])).toBe(MIN_EFFECT_FLOOR); // narrow noise: the 2% floor
    expect(minimumEffect([0.97, 1.05])).toBeCloseTo(0.05, 12); // the upper side dominates
    expect(minimumEffect([0.9, 1.02])).toBeCloseTo(1 / 0.9 - 1, 12); // the lower side, in ratio terms (11.1%)
    expect(noiseHalfWidth([1.03, 1.05])).toBeCloseTo(0.05, 12); // off-centre noise counts in full
    expect(noiseHalfWidth([1, 1])).toBe(0);
    // never below the plain half-width (nhi - nlo) / 2
    for (const [lo, hi] of [[0.9, 1.1], [0.5, 1.5], [1.03, 1.05], [0.8, 0.95]] as const) {
      expect(noiseHalfWidth([lo, hi])).toBeGreaterThanOrEqual((hi - lo) / 2);
    }
    expect(minimumEffect([0.99, 1.01], 0.05)).toBe(0.05);
  });

  it('the noise floor itself is always judged same', () => {
    for (const nf of [[0.99, 1.01], [0.9, 1.02], [0.97, 1.2], [1.03, 1.05], [0.8, 0.95]] as const) {
      expect(compareVerdict(nf, nf).verdict).toBe('same');
    }
  });

  it('faster: the lower bound above 1 + m', () => {
    const v = compareVerdict([1.05, 1.2], [0.99, 1.01]);
    expect(v).toEqual({ verdict: 'faster', minEffect: 0.02, band: [1 / 1.02, 1.02] });
    // the same interval is not faster when the noise is wider than the effect
    expect(compareVerdict([1.05, 1.2], [0.95, 1.06]).verdict).toBe('inconclusive');
  });

  it('slower: the upper bound below 1/(1 + m)', () => {
    expect(compareVerdict([0.5, 0.97], [0.99, 1.01]).verdict).toBe('slower');
    expect(compareVerdict([0.5, 0.9], [0.95, 1.05]).verdict).toBe('slower'); // m = 1/0.95 - 1 ≈ 5.3%: 0.9 < 0.95
    expect(compareVerdict([0.5, 0.97], [0.95, 1.05]).verdict).toBe('inconclusive');
  });

  it('same: the interval inside [1/(1 + m), 1 + m], edges included', () => {
    expect(compareVerdict([0.99, 1.015], [0.99, 1.01]).verdict).toBe('same');
    const { band } = compareVerdict([1, 1], [0.99, 1.01]);
    expect(compareVerdict(band, [0.99, 1.01]).verdict).toBe('same');
    expect(compareVerdict([0.96, 1.04], [0.95, 1.05]).verdict).toBe('same');
  });

  it('inconclusive: straddling an edge, or wider than the band', () => {
    const { band } = compareVerdict([1, 1], [0.99, 1.01]);
    expect(compareVerdict([1.01, 1.05], [0.99, 1.01]).verdict).toBe('inconclusive'); // straddles 1 + m
    expect(compareVerdict([0.95, 0.99], [0.99, 1.01]).verdict).toBe('inconclusive'); // straddles 1/(1 + m)
    expect(compareVerdict([0.9, 1.1], [0.99, 1.01]).verdict).toBe('inconclusive'); // covers the whole band
    expect(compareVerdict([band[1], 1.3], [0.99, 1.01]).verdict).toBe('inconclusive'); // lo = 1 + m is not > 1 + m
    expect(compareVerdict([0.7, band[0]], [0.99, 1.01]).verdict).toBe('inconclusive'); // hi = 1/(1 + m) is not <
  });

  it('rejects malformed intervals', () => {
    expect(() => compareVerdict([1.1, 1.0], [0.99, 1.01])).toThrow(/lo ≤ hi/);
    expect(() => compareVerdict([0, 1.0], [0.99, 1.01])).toThrow(RangeError);
    expect(() => compareVerdict([1, 1.1], [Number.NaN, 1.01])).toThrow(RangeError);
    expect(() => compareVerdict([1, Number.POSITIVE_INFINITY], [0.99, 1.01])).toThrow(RangeError);
  });
});

describe('plausibility', () => {
  it('flags a ratio beyond the bound as suspicious', () => {
    const bound = plausibilityBound(2.7); // 5x the current best
    expect(bound).toBeCloseTo(13.5, 12);
    expect(plausibility(20, bound)).toEqual(['suspicious']);
    expect(plausibility(13.5, 13.5)).toEqual([]);
    expect(plausibility(3, bound)).toEqual([]);
    expect(plausibility(Number.NaN, bound)).toEqual(['suspicious']);
    expect(plausibility(Number.POSITIVE_INFINITY, bound)).toEqual(['suspicious']);
    expect(plausibilityBound(2, 3)).toBe(6);
    expect(() => plausibility(1, Number.NaN)).toThrow(RangeError);
  });
});
