/**
 * The queue families' part of `perflab bench`: build every variant, take the
 * samples of all cells of a group interleaved (round-robin, the order rotated
 * every round, one process per sample, a discarded warm-up round), then
 * summarise: median, bootstrap 95% interval, ratio to the baseline with its
 * interval. A sample that fails validation makes the cell a failure, never a number.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { runRunner, type RunnerOptions } from '../native/runner.js';
import { buildVariant } from './build.js';
import type { BenchResult, BenchSkip, Progress } from './bench-types.js';
import { builtinVariantNames, builtinVariantSource } from '../native/sources.js';
import { UsageError } from '../errors.js';
import { BASELINE, METRICS, planQueueCells, sampleQueueCell, variantHasBulk, type PlanVariant, type QueueCell, type QueueFamily, type QueueWorkload, type SampleTiming } from '../families/queue.js';
import { pairedRatio, summariseSamples } from '../stats/summary.js';

/** The seed of the conformance run that gates every benchmark (perflab check draws hidden ones). */
const CONFORMANCE_SEED = 1;

export interface QueueBenchOptions {
  family: QueueFamily;
  variants?: string[];
  workloads: readonly QueueWorkload[];
  samples: number;
  warmup: boolean;
  timing: SampleTiming;
  progress: Progress;
}

interface CellState {
  cell: QueueCell;
  values: Record<string, number[]>;
  rusage: NonNullable<BenchResult['rusage']>;
  affinity?: string;
  failure?: { kind: string; reason: string };
}

export async function benchQueueFamily(opts: QueueBenchOptions): Promise<{ results: BenchResult[]; skipped: BenchSkip[]; failures: BenchSkip[] }> {
  const { family, progress } = opts;
  const names = opts.variants ?? builtinVariantNames(family);
  const skipped: BenchSkip[] = [];
  const failures: BenchSkip[] = [];
  const planned: PlanVariant[] = [];
  for (const ref of names) {
    const { name, source } = resolveVariantRef(family, ref);
    try {
      const build = await buildVariant(source, { family });
      progress.log(`perflab: ${family} ${name}: conformance`);
      const verdict = await conformanceVerdict(family, build.path, sandboxFor(family, name));
      if (verdict) {
        failures.push({ family, variant: name, workload: '*', reason: `conformance: ${verdict}` });
        continue;
      }
      planned.push({ name, path: build.path, hasBulk: await variantHasBulk(family, build.path) });
    } catch (err) {
      failures.push({ family, variant: name, workload: '*', reason: `build: ${(err as Error).message.slice(0, 2000)}` });
    }
  }
  const cells = planQueueCells(family, planned, opts.workloads, opts.timing);
  const groups = new Map<string, CellState[]>();
  for (const cell of cells) {
    const list = groups.get(cell.group) ?? [];
    list.push({ cell, values: Object.fromEntries(cell.metrics.map((m) => [m, [] as number[]])), rusage: [] });
    groups.set(cell.group, list);
  }
  // op_cost is deterministic (instruction counts): no warm-up round needed.
  const rounds = (g: string) => opts.samples + (opts.warmup && g !== 'op_cost' ? 1 : 0);
  let total = 0;
  for (const [g, list] of groups) total += rounds(g) * list.length;
  progress.start(total, family);

  for (const [group, list] of groups) {
    const n = rounds(group);
    for (let round = 0; round < n; round++) {
      const warm = n > opts.samples;
      const discard = warm && round === 0;
      const label = discard ? 'warm-up' : `sample ${round + (warm ? 0 : 1)}/${opts.samples}`;
      for (let k = 0; k < list.length; k++) {
        const state = list[(k + round) % list.length]!; // rotate the order every round
        const c = state.cell;
        progress.tick(`${family} ${group} ${c.variant}${c.params.batch && c.params.batch > 1 ? ` batch ${c.params.batch}` : ''} ${label}`);
        if (state.failure) continue;
        const s = await sampleQueueCell(c, opts.timing, sandboxFor(family, c.variant));
        if (!s.ok) {
          state.failure = { kind: s.kind, reason: s.reason };
          continue;
        }
        if (discard) continue;
        for (const [m, v] of Object.entries(s.values)) state.values[m]!.push(v);
        if (s.rusage) state.rusage.push(s.rusage);
        state.affinity ??= s.affinity;
      }
    }
  }
  progress.done();

  const results: BenchResult[] = [];
  for (const list of groups.values()) {
    for (const state of list) {
      const c = state.cell;
      if (state.failure) {
        const row = { family, variant: c.variant, workload: c.workload, reason: `${state.failure.kind}: ${state.failure.reason}` };
        (state.failure.kind === 'invalid' || state.failure.kind === 'failed' ? failures : skipped).push(row);
        continue;
      }
      for (const metric of c.metrics) {
        const samples = state.values[metric]!;
        const spec = METRICS[metric]!;
        results.push({
          family, variant: c.variant, workload: c.workload, params: paramsOf(c), metric, unit: spec.unit, higher_is_better: spec.higher_is_better,
          ...summariseSamples(samples), samples, rusage: state.rusage.length ? state.rusage : undefined, affinity: state.affinity,
        });
      }
    }
  }
  attachBaselineRatios(results, family);
  return { results, skipped, failures };
}

/**
 * Runs the conformance suite once per build (the verdict is kept beside the
 * built object, keyed by the build's hash): nothing is benchmarked before it
 * passes. Returns undefined on pass, else the reason.
 */
/** Built-in variants are trusted; any other code runs only in the sandbox. */
function sandboxFor(family: QueueFamily, name: string): Pick<RunnerOptions, 'sandbox'> {
  return builtinVariantSource(family, name) ? {} : { sandbox: {} };
}

export async function conformanceVerdict(family: QueueFamily, soPath: string, runner: Pick<RunnerOptions, 'sandbox'> = {}): Promise<string | undefined> {
  const record = join(dirname(soPath), `conformance-seed${CONFORMANCE_SEED}.json`);
  if (existsSync(record)) {
    const kept = JSON.parse(readFileSync(record, 'utf8')) as { passed: boolean; reason: string };
    if (kept.passed) return undefined;
  }
  const out = await runRunner(['--variant', soPath, '--family', family, '--workload', 'conformance', '--seed', String(CONFORMANCE_SEED)], { timeoutMs: 180_000, sandbox: runner.sandbox });
  const reason = out.kind === 'failed' ? out.reason : out.result.ok ? undefined : (out.result.error?.message ?? 'failed');
  // Only a pass is remembered: a failure (perhaps a crash on a bad day) is re-run next time.
  if (!reason) writeFileSync(record, JSON.stringify({ passed: true, reason: '' }));
  return reason;
}

/**
 * A variant reference on the command line: a built-in name or a path to a .c/.cc
 * file (stored names and hashes come with the store). Throws UsageError otherwise.
 */
export function resolveVariantRef(family: QueueFamily, ref: string): { name: string; source: string } {
  const builtin = builtinVariantSource(family, ref);
  if (builtin) return { name: ref, source: builtin };
  if (/\.(c|cc|cpp|cxx)$/.test(ref)) {
    const path = resolve(ref);
    if (!existsSync(path)) throw new UsageError(`no variant source file at ${path}`);
    return { name: basename(ref), source: path };
  }
  throw new UsageError(`unknown ${family} variant "${ref}": give a built-in name (${builtinVariantNames(family).join(', ')}) or a path to a .c/.cc file`);
}

function paramsOf(c: QueueCell): Record<string, number> {
  return c.workload === 'op_cost' ? { ...c.params } : { ...c.params, ...(c.workload === 'throughput' ? {} : { producers: 1, consumers: 1 }) };
}

/** Adds `vs_baseline` to every row whose group has a baseline row (single calls, same threads). */
function attachBaselineRatios(results: BenchResult[], family: QueueFamily): void {
  const key = (r: BenchResult) => `${r.workload}|${r.metric}|${r.params.producers ?? ''}x${r.params.consumers ?? ''}`;
  const base = new Map<string, BenchResult>();
  for (const r of results) if (r.variant === BASELINE[family] && (r.params.batch ?? 1) === 1) base.set(key(r), r);
  for (const r of results) {
    const b = base.get(key(r));
    if (!b) {
      r.vs_baseline = null;
      continue;
    }
    r.vs_baseline = { variant: b.variant, ...pairedRatio(b.samples, r.samples, r.higher_is_better) };
  }
}
