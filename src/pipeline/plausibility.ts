/**
 * The plausibility bound of a comparison: `suspicious` when B measures more than
 * 5x the best built-in recorded on this machine for the same workload and
 * parameters (the store's bench runs). A speedup that large is more often a
 * harness bug or a cheat than a win, so it is flagged for review and never
 * silently accepted (the optimization loop does not promote it).
 */
import { METRICS } from '../families/queue.js';
import { builtinVariantSource } from '../native/sources.js';
import { median } from '../stats/summary.js';
import { plausibility, plausibilityBound } from '../stats/verdict.js';
import type { Store } from '../store/index.js';
import type { CompareReport } from './compare.js';

export function plausibilityFlags(r: CompareReport, store: Store): string[] {
  if (r.ratio === null) return [];
  const b = r.runs.filter((x) => x.arm === 'b' && !x.discarded).map((x) => x.value);
  if (b.length === 0) return [];
  const spec = METRICS[r.metric]!;
  const same = (p: Record<string, number | string>) => Object.entries(r.params).every(([k, v]) => p[k] === v);
  const rows = store.runs({ family: r.family, workload: r.workload, metric: r.metric, source: 'bench' }).filter((x) => builtinVariantSource(r.family, x.variant) && same(x.params));
  if (rows.length === 0) return [];
  const best = rows.reduce((m, x) => (spec.higher_is_better ? (x.median > m.median ? x : m) : x.median < m.median ? x : m));
  const vsBest = spec.higher_is_better ? median(b) / best.median : best.median / median(b);
  const flags = plausibility(vsBest, plausibilityBound(1));
  return flags.map((f) => `${f}: ${r.b} measures ${vsBest.toFixed(1)}x the best built-in recorded here (${best.variant}, ${best.createdAt})`);
}
