import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { BASELINE, QUEUE_FAMILIES, QUEUE_WORKLOADS, type QueueFamily, type QueueWorkload } from '../families/queue.js';
import { benchQueueFamily, resolveVariantRef } from '../pipeline/bench-queue.js';
import { benchJsFamily, JS_WORKLOADS } from '../pipeline/bench-js.js';
import type { BenchDocument, BenchResult, BenchSkip } from '../pipeline/bench-types.js';
import { envFingerprint } from '../pipeline/env.js';
import { acquireMeasureLock } from '../pipeline/lock.js';
import { stderrProgress } from '../report/progress.js';
import { renderBench } from '../report/table.js';
import { openStore, type VariantHashes } from '../store/index.js';
import { emit } from './output.js';

const FAMILIES = [...QUEUE_FAMILIES, 'js'] as const;
type BenchFamily = (typeof FAMILIES)[number];

interface BenchFlags {
  family?: string;
  workload?: string;
  variant?: string[];
  quick?: boolean;
  json?: boolean;
  samples?: string;
  store?: string;
}

/** Sample plan: the default run takes a few minutes here; --quick about one. */
export function benchPlan(quick: boolean, samples?: number) {
  return quick
    ? { samples: samples ?? 3, warmup: false, durationMs: 120, opCostOps: 20_000, jsDurationMs: 400 }
    : { samples: samples ?? 7, warmup: true, durationMs: 300, opCostOps: 100_000, jsDurationMs: 1000 };
}

function parseFlags(flags: BenchFlags) {
  if (flags.family !== undefined && !FAMILIES.includes(flags.family as BenchFamily)) {
    throw new UsageError(`--family must be one of ${FAMILIES.join(', ')}, not "${flags.family}"`);
  }
  const families: BenchFamily[] = flags.family ? [flags.family as BenchFamily] : [...FAMILIES];
  if (flags.workload !== undefined) {
    const valid: string[] = families.flatMap((f) => (f === 'js' ? [...JS_WORKLOADS] : [...QUEUE_WORKLOADS]));
    if (!valid.includes(flags.workload)) throw new UsageError(`--workload must be one of ${[...new Set(valid)].join(', ')} for ${families.join('/')}, not "${flags.workload}"`);
  }
  if (flags.variant && flags.variant.length > 0) {
    if (!flags.family || flags.family === 'js') throw new UsageError('--variant needs --family spsc or --family mpmc');
    for (const v of flags.variant) resolveVariantRef(flags.family as QueueFamily, v); // validates before any work
  }
  let samples: number | undefined;
  if (flags.samples !== undefined) {
    samples = Number(flags.samples);
    if (!Number.isInteger(samples) || samples < 3 || samples > 100) throw new UsageError(`--samples must be an integer from 3 to 100 (a median and its interval need at least 3), not "${flags.samples}"`);
  }
  return { families, workload: flags.workload, variants: flags.variant, samples };
}

export async function runBench(flags: BenchFlags): Promise<number> {
  const { families, workload, variants, samples } = parseFlags(flags);
  const quick = flags.quick === true;
  const plan = benchPlan(quick, samples);
  const progress = stderrProgress();
  const started = new Date();
  const lock = await acquireMeasureLock(`perflab bench (pid ${process.pid})`, (m) => progress.log(`perflab: ${m}`));
  const results: BenchResult[] = [];
  const skipped: BenchSkip[] = [];
  const failures: BenchSkip[] = [];
  try {
    for (const family of families) {
      // With --workload and no --family, a family without that workload is left out.
      const ownWorkloads: readonly string[] = family === 'js' ? JS_WORKLOADS : QUEUE_WORKLOADS;
      if (workload && !ownWorkloads.includes(workload)) continue;
      if (family === 'js') {
        const r = await benchJsFamily({ workloads: workload ? [workload] : JS_WORKLOADS, samples: plan.samples, warmup: plan.warmup, durationMs: plan.jsDurationMs, quick, progress });
        results.push(...r.results);
        skipped.push(...r.skipped);
        failures.push(...r.failures);
        continue;
      }
      const chosen = variants ? [...new Set([BASELINE[family], ...variants])] : undefined;
      const r = await benchQueueFamily({
        family,
        variants: chosen,
        workloads: workload ? [workload as QueueWorkload] : QUEUE_WORKLOADS,
        samples: plan.samples,
        warmup: plan.warmup,
        timing: { durationMs: plan.durationMs, opCostOps: plan.opCostOps },
        progress,
      });
      results.push(...r.results);
      skipped.push(...r.skipped);
      failures.push(...r.failures);
    }
  } finally {
    lock.release();
  }
  const doc: BenchDocument = {
    schema_version: 1,
    env: envFingerprint(),
    results,
    skipped,
    failures,
    timing: { started: started.toISOString(), seconds: (Date.now() - started.getTime()) / 1000, samples_per_cell: plan.samples, sample_ms: plan.durationMs, js_sample_ms: plan.jsDurationMs, quick },
  };
  emit(flags.json === true, doc, () => renderBench(doc));
  recordInStore(doc, flags);
  return failures.length > 0 ? 1 : 0;
}

/**
 * Keeps the document in the store (after it was printed): the variants given as
 * files are stored by content hash, then the runs. A store failure only warns;
 * the printed results stand.
 */
function recordInStore(doc: BenchDocument, flags: BenchFlags): void {
  try {
    const store = openStore(flags.store);
    try {
      const hashes: VariantHashes = {};
      const family = flags.family;
      if (family === 'spsc' || family === 'mpmc') {
        for (const ref of flags.variant ?? []) {
          if (store.builtinHash(family, ref)) continue;
          const { name, source } = resolveVariantRef(family, ref);
          const v = store.upsertVariant({ name, family, origin: 'file', source: readFileSync(source, 'utf8'), sourcePath: source });
          (hashes[family] ??= {})[name] = v.hash;
        }
      }
      store.recordBench(doc, hashes);
    } finally {
      store.close();
    }
  } catch (err) {
    process.stderr.write(`perflab: warning: the results were not recorded in the store: ${(err as Error).message} (the printed results are complete)\n`);
  }
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run the benchmark suite: every built-in variant on every workload, several samples per cell in separate processes')
    .option('--family <family>', `one family: ${FAMILIES.join(', ')} (default: all)`)
    .option('--workload <workload>', `one workload: ${[...QUEUE_WORKLOADS, ...JS_WORKLOADS].join(', ')}`)
    .option('--variant <variant...>', 'variants to run (built-in names or .c/.cc paths); the baseline is always added')
    .option('--samples <n>', 'samples per cell (default 7, --quick 3)')
    .option('--quick', 'a smoke run: fewer, shorter samples (about a minute)')
    .option('--json', 'print one JSON document on stdout (progress stays on stderr)')
    .option('--store <path>', 'record the results in this store (default: $PERFLAB_STORE, else ./.perflab/perflab.db)')
    .action(async (flags: BenchFlags) => {
      process.exitCode = await runBench(flags);
    });
}
