/**
 * Small, exact statistics for benchmark samples: medians, quantiles and
 * percentile-bootstrap 95% intervals (of a median, and of a ratio of medians).
 * The bootstrap is seeded, so the same samples always give the same interval.
 */

/** A seeded PRNG (mulberry32): uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Quantile q in [0, 1] by linear interpolation between order statistics (type 7). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('quantile of no values');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in [0, 1], got ${q}`);
  const sorted = [...values].sort((x, y) => x - y);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

function resample(values: readonly number[], rand: () => number): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[Math.floor(rand() * values.length)]!;
  return out;
}

export interface BootstrapOptions {
  iterations?: number;
  seed?: number;
  /** Coverage, default 0.95. */
  level?: number;
}

/** Percentile-bootstrap interval of the median. With one sample the interval is that sample. */
export function medianCI(values: readonly number[], options: BootstrapOptions = {}): [number, number] {
  if (values.length === 0) throw new RangeError('medianCI of no values');
  if (values.length === 1) return [values[0]!, values[0]!];
  const rand = prng(options.seed ?? 0x5eed);
  const n = options.iterations ?? 2000;
  const alpha = (1 - (options.level ?? 0.95)) / 2;
  const meds = new Array<number>(n);
  for (let i = 0; i < n; i++) meds[i] = median(resample(values, rand));
  return [quantile(meds, alpha), quantile(meds, 1 - alpha)];
}

/**
 * Ratio of medians, `median(b) / median(a)` (or its inverse when lower is better,
 * so a ratio > 1 always means b is better), with a percentile-bootstrap interval
 * that resamples both arms independently.
 */
export function ratioOfMedians(
  a: readonly number[],
  b: readonly number[],
  higherIsBetter: boolean,
  options: BootstrapOptions = {},
): { ratio: number; ci95: [number, number] } {
  if (a.length === 0 || b.length === 0) throw new RangeError('ratioOfMedians needs samples in both arms');
  const r = (ma: number, mb: number) => (higherIsBetter ? mb / ma : ma / mb);
  const ratio = r(median(a), median(b));
  const rand = prng(options.seed ?? 0x5eed);
  const n = options.iterations ?? 2000;
  const alpha = (1 - (options.level ?? 0.95)) / 2;
  const ratios = new Array<number>(n);
  for (let i = 0; i < n; i++) ratios[i] = r(median(resample(a, rand)), median(resample(b, rand)));
  return { ratio, ci95: [quantile(ratios, alpha), quantile(ratios, 1 - alpha)] };
}

/** Relative spread of samples: (max - min) / median; a cheap "is this noisy" flag. */
export function relativeSpread(values: readonly number[]): number {
  const m = median(values);
  if (m === 0) return 0;
  return (Math.max(...values) - Math.min(...values)) / Math.abs(m);
}

/**
 * Paired ratio over interleaved rounds: sample i of `a` and of `b` were taken in
 * the same round, minutes apart at most, so each round's ratio cancels the
 * machine's phase. Returns the median of the per-round ratios (> 1: b is
 * better, whatever the metric's direction) with a bootstrap interval over
 * rounds. Falls back to the ratio of medians when the rounds do not line up.
 */
export function pairedRatio(
  a: readonly number[],
  b: readonly number[],
  higherIsBetter: boolean,
  options: BootstrapOptions = {},
): { ratio: number; ci95: [number, number]; method: 'paired-rounds' | 'ratio-of-medians' } {
  if (a.length !== b.length || a.length < 2) return { ...ratioOfMedians(a, b, higherIsBetter, options), method: 'ratio-of-medians' };
  const per = a.map((ai, i) => (higherIsBetter ? b[i]! / ai : ai / b[i]!));
  return { ratio: median(per), ci95: medianCI(per, options), method: 'paired-rounds' };
}

/**
 * Ratio of medians, `median(b) / median(a)` (inverted when lower is better, so
 * > 1 means b is better), with a bootstrap interval that resamples whole
 * rounds: a_i and b_i were measured back to back in round i, so a round that
 * fell in a slow phase of the machine moves both arms together and the
 * interval reflects the difference, not the phases. Needs equal-length arms.
 */
export function ratioOfMediansByRound(
  a: readonly number[],
  b: readonly number[],
  higherIsBetter: boolean,
  options: BootstrapOptions = {},
): { ratio: number; ci95: [number, number] } {
  if (a.length !== b.length || a.length === 0) throw new RangeError('ratioOfMediansByRound needs arms of the same, non-zero length');
  const r = (ma: number, mb: number) => (higherIsBetter ? mb / ma : ma / mb);
  const ratio = r(median(a), median(b));
  if (a.length === 1) return { ratio, ci95: [ratio, ratio] };
  const rand = prng(options.seed ?? 0x5eed);
  const n = options.iterations ?? 2000;
  const alpha = (1 - (options.level ?? 0.95)) / 2;
  const ratios = new Array<number>(n);
  const ra = new Array<number>(a.length);
  const rb = new Array<number>(a.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < a.length; j++) {
      const k = Math.floor(rand() * a.length);
      ra[j] = a[k]!;
      rb[j] = b[k]!;
    }
    ratios[i] = r(median(ra), median(rb));
  }
  return { ratio, ci95: [quantile(ratios, alpha), quantile(ratios, 1 - alpha)] };
}

/**
 * What every result row reports about its samples: the median, its bootstrap
 * 95% interval, and flags that make the number less certain (`few-samples`
 * under 3; `wide-spread` when max - min exceeds half the median).
 */
export function summariseSamples(samples: readonly number[]): { median: number; ci95: [number, number]; flags?: string[] } {
  const flags: string[] = [];
  if (samples.length < 3) flags.push('few-samples');
  else if (relativeSpread(samples) > 0.5) flags.push('wide-spread');
  return { median: median(samples), ci95: medianCI(samples), ...(flags.length ? { flags } : {}) };
}
