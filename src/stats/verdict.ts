/**
 * The verdict of `perflab compare` (INTERFACES.md), from B's speedup over A:
 * `ci95` = [lo, hi] is the interval of the ratio (> 1 means B is better, whatever
 * the metric's direction) and `noiseFloor` = [nlo, nhi] the interval of A against
 * a second copy of A interleaved in the same run.
 *
 * - m, the minimum effect, = max(2%, the noise floor's half-width), where the
 *   half-width is measured from 1 (no effect) in the same multiplicative terms as
 *   the verdict band: max(nhi − 1, 1/nlo − 1). That is the smallest m for which the
 *   whole A-vs-A interval lies inside the `same` band [1/(1 + m), 1 + m], so a copy
 *   of A compared with itself can never come out faster or slower. It is at least
 *   the interval's plain half-width (nhi − nlo)/2 (their sum is ≥ nhi − nlo since
 *   1/nlo ≥ 2 − nlo), and it also absorbs a noise floor that is off-centre (an
 *   order or drift bias shows up as an A-vs-A interval that misses 1).
 * - `faster`: lo > 1 + m; `slower`: hi < 1/(1 + m); `same`: 1/(1 + m) ≤ lo and
 *   hi ≤ 1 + m (the band's edges belong to it); otherwise `inconclusive`.
 */

export type Verdict = 'faster' | 'slower' | 'same' | 'inconclusive';

/** The smallest minimum effect, whatever the noise: 2%. */
export const MIN_EFFECT_FLOOR = 0.02;

/** A ratio this many times the current best is flagged `suspicious`. */
export const SUSPICIOUS_FACTOR = 5;

export interface VerdictResult {
  verdict: Verdict;
  /** m, the minimum effect used. */
  minEffect: number;
  /** The `same` band [1/(1 + m), 1 + m]. */
  band: [number, number];
}

function checkInterval(what: string, iv: readonly [number, number]): void {
  const [lo, hi] = iv;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo <= 0 || hi <= 0) throw new RangeError(`${what} must be a finite positive interval, got [${lo}, ${hi}]`);
  if (lo > hi) throw new RangeError(`${what} must have lo ≤ hi, got [${lo}, ${hi}]`);
}

/** The noise floor's half-width, from 1: max(nhi − 1, 1/nlo − 1, 0). */
export function noiseHalfWidth(noiseFloor: readonly [number, number]): number {
  checkInterval('the noise floor', noiseFloor);
  const [nlo, nhi] = noiseFloor;
  return Math.max(0, nhi - 1, 1 / nlo - 1);
}

/** m = max(floor (2%), the noise floor's half-width). */
export function minimumEffect(noiseFloor: readonly [number, number], floor: number = MIN_EFFECT_FLOOR): number {
  if (!(floor >= 0) || !Number.isFinite(floor)) throw new RangeError(`the minimum effect floor must be a finite number ≥ 0, got ${floor}`);
  return Math.max(floor, noiseHalfWidth(noiseFloor));
}

/** The compare verdict of INTERFACES.md. */
export function compareVerdict(ci95: readonly [number, number], noiseFloor: readonly [number, number], options: { floor?: number } = {}): VerdictResult {
  checkInterval('the ratio interval', ci95);
  const m = minimumEffect(noiseFloor, options.floor ?? MIN_EFFECT_FLOOR);
  const up = 1 + m;
  const down = 1 / (1 + m);
  const [lo, hi] = ci95;
  let verdict: Verdict;
  if (lo > up) verdict = 'faster';
  else if (hi < down) verdict = 'slower';
  else if (lo >= down && hi <= up) verdict = 'same';
  else verdict = 'inconclusive';
  return { verdict, minEffect: m, band: [down, up] };
}

/** The plausibility bound from the current best ratio: `factor` times it (default 5×). */
export function plausibilityBound(currentBest: number, factor: number = SUSPICIOUS_FACTOR): number {
  return currentBest * factor;
}

/**
 * Flags for a ratio: ['suspicious'] when it exceeds the bound (e.g. 5× the current
 * best) or is not a number at all; [] otherwise. A suspicious result is reported,
 * never silently promoted.
 */
export function plausibility(ratio: number, bound: number): string[] {
  if (Number.isNaN(bound)) throw new RangeError('the plausibility bound is not a number');
  return ratio <= bound ? [] : ['suspicious'];
}
