import { describe, expect, it } from 'vitest';
import { median, medianCI, pairedRatio, prng, quantile, ratioOfMedians, relativeSpread } from '../../src/stats/summary.js';

describe('stats on synthetic samples', () => {
  it('median and quantiles interpolate between order statistics', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0)).toBe(10);
    expect(quantile([10, 20, 30, 40, 50], 1)).toBe(50);
    expect(quantile([10, 20, 30, 40, 50], 0.25)).toBe(20);
    expect(() => median([])).toThrow(RangeError);
    expect(() => quantile([1], 1.5)).toThrow(/\[0, 1\]/);
  });

  it('the bootstrap is seeded: same samples, same interval', () => {
    const s = [100, 104, 98, 101, 99, 103, 97];
    expect(medianCI(s)).toEqual(medianCI(s));
    const [lo, hi] = medianCI(s);
    expect(lo).toBeLessThanOrEqual(median(s));
    expect(hi).toBeGreaterThanOrEqual(median(s));
    expect(medianCI([5])).toEqual([5, 5]);
  });

  it('a clear 2x difference gives a ratio near 2 whose interval excludes 1', () => {
    const rand = prng(7);
    const a = Array.from({ length: 9 }, () => 100 * (0.95 + 0.1 * rand()));
    const b = Array.from({ length: 9 }, () => 200 * (0.95 + 0.1 * rand()));
    const up = ratioOfMedians(a, b, true);
    expect(up.ratio).toBeGreaterThan(1.8);
    expect(up.ratio).toBeLessThan(2.2);
    expect(up.ci95[0]).toBeGreaterThan(1);
    // lower-is-better metrics invert, so > 1 still means b is better
    const down = ratioOfMedians(b, a, false);
    expect(down.ratio).toBeGreaterThan(1.8);
  });

  it('identical distributions give an interval that contains 1', () => {
    const rand = prng(11);
    const a = Array.from({ length: 9 }, () => 100 + 10 * rand());
    const b = Array.from({ length: 9 }, () => 100 + 10 * rand());
    const r = ratioOfMedians(a, b, true);
    expect(r.ci95[0]).toBeLessThan(1);
    expect(r.ci95[1]).toBeGreaterThan(1);
  });

  it('relative spread flags noisy samples', () => {
    expect(relativeSpread([100, 100, 100])).toBe(0);
    expect(relativeSpread([50, 100, 150])).toBe(1);
  });

  it('paired rounds cancel a machine phase that swamps the ratio of medians', () => {
    // rounds 1-2 in a 4x slower phase for both arms; b is 1.25x better throughout
    const phase = [4, 4, 1, 1, 1, 1, 1];
    const a = phase.map((p, i) => 100 / p + (i % 3));
    const b = phase.map((p, i) => (125 / p) * (1 + 0.01 * (i % 2)));
    const paired = pairedRatio(a, b, true);
    expect(paired.method).toBe('paired-rounds');
    expect(paired.ratio).toBeGreaterThan(1.2);
    expect(paired.ratio).toBeLessThan(1.3);
    expect(paired.ci95[0]).toBeGreaterThan(1.15);
    expect(paired.ci95[1] - paired.ci95[0]).toBeLessThan(ratioOfMedians(a, b, true).ci95[1] - ratioOfMedians(a, b, true).ci95[0]);
    // lower is better: a/b per round
    expect(pairedRatio([200, 50], [100, 25], false).ratio).toBe(2);
    // unequal lengths cannot be paired
    expect(pairedRatio([1, 2, 3], [1, 2], true).method).toBe('ratio-of-medians');
  });
});
