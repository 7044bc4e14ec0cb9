import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import pc from 'picocolors';
import { UsageError } from '../errors.js';
import { QUEUE_WORKLOADS, type QueueWorkload } from '../families/queue.js';
import { resolveVariantRef } from '../pipeline/bench-queue.js';
import { compareVariants, recordCompareReport, type CompareReport } from '../pipeline/compare.js';
import { plausibilityFlags } from '../pipeline/plausibility.js';
import { acquireMeasureLock } from '../pipeline/lock.js';
import { stderrProgress } from '../report/progress.js';
import { parseFamily } from './check.js';
import { builtinVariantSource } from '../native/sources.js';
import { openStore } from '../store/index.js';
import { emit } from './output.js';
import { intOption } from './options.js';

interface CompareFlags {
  family?: string;
  screenOnly?: boolean;
  workload?: string;
  rounds?: string;
  maxSeconds?: string;
  sandbox?: boolean;
  json?: boolean;
  store?: string;
}

function renderCompare(r: CompareReport): string {
  const lines = [`perflab compare ${r.family} ${r.a} -> ${r.b}, ${r.workload} (${r.metric}), ${r.rounds} rounds of a/b/a2`];
  if (r.failure) lines.push(pc.red(`could not compare (${r.stage}): ${r.failure}`));
  if (r.screen) lines.push(`  screen (one short sample each): ${r.screen.ratio.toFixed(2)}x`);
  if (r.ratio !== null && r.ci95 && r.noise_floor) {
    lines.push(`  ${r.b} vs ${r.a}: ${r.ratio.toFixed(3)}x [${r.ci95[0].toFixed(3)}, ${r.ci95[1].toFixed(3)}] (95% CI; > 1 means ${r.b} is better), Mann-Whitney p = ${r.p_value!.toPrecision(2)}`);
    lines.push(`  noise floor (${r.a} vs itself): [${r.noise_floor[0].toFixed(3)}, ${r.noise_floor[1].toFixed(3)}]; minimum effect ${((r.min_effect ?? 0) * 100).toFixed(1)}%`);
  }
  const colour = r.verdict === 'faster' ? pc.green : r.verdict === 'slower' ? pc.red : pc.yellow;
  lines.push(`  verdict: ${colour(r.verdict)}`);
  if (r.flags.length) lines.push(pc.yellow(`  flags: ${r.flags.join('; ')}`));
  return lines.join('\n');
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('interleaved A/B of two variants with an A/A noise floor: ratio, 95% CI, p-value, verdict')
    .argument('<a>', 'variant A (the reference): a built-in name or a .c/.cc path')
    .argument('<b>', 'variant B (the candidate)')
    .option('--family <family>', 'spsc or mpmc')
    .option('--workload <workload>', `${QUEUE_WORKLOADS.join(', ')} (default throughput)`)
    .option('--rounds <n>', 'measured rounds of a, b, a2 (default 10)')
    .option('--max-seconds <n>', 'stop sampling after this long and say so (default 120)')
    .option('--screen-only', 'stop after the screen (one short sample of each arm)')
    .option('--no-sandbox', 'run variant code without the sandbox (trusted code only)')
    .option('--store <path>', 'the store (default ./.perflab/perflab.db or PERFLAB_STORE)')
    .option('--json', 'print one JSON document on stdout')
    .action(async (aRef: string, bRef: string, flags: CompareFlags) => {
      const family = parseFamily(flags.family);
      const workload = (flags.workload ?? 'throughput') as QueueWorkload;
      if (!QUEUE_WORKLOADS.includes(workload)) throw new UsageError(`--workload must be one of ${QUEUE_WORKLOADS.join(', ')}, not "${flags.workload}"`);
      const rounds = intOption('rounds', flags.rounds, 3, 200, 10);
      const maxSeconds = intOption('max-seconds', flags.maxSeconds, 1, 86_400, 120);
      const a = resolveVariantRef(family, aRef);
      const b = resolveVariantRef(family, bRef);
      const progress = stderrProgress();
      const lock = await acquireMeasureLock(`perflab compare ${aRef} ${bRef} (pid ${process.pid})`, (m) => progress.log(`perflab: ${m}`));
      let report: CompareReport;
      try {
        report = await compareVariants({ family, a, b, workload, rounds, maxSeconds, durationMs: 300, runner: { sandbox: flags.sandbox === false ? false : {} }, progress, screenOnly: flags.screenOnly === true });
      } finally {
        lock.release();
      }
      report.flags.push(...plausibilityFlagsOf(report, flags.store));
      recordComparison(report, a.source, b.source, flags.store);
      emit(flags.json === true, report, () => renderCompare(report));
      process.exitCode = report.failure ? 1 : 0;
    });
}

/** Stores a finished comparison (with both variants by content hash); a store problem only warns. */
function recordComparison(r: CompareReport, aSource: string, bSource: string, storePath?: string): void {
  if (r.ratio === null || r.ci95 === null) return; // nothing was measured: nothing to record
  try {
    using store = openStore(storePath);
    const hash = (name: string, source: string) =>
      store.upsertVariant({ name, family: r.family, origin: builtinVariantSource(r.family, name) === source ? 'builtin' : 'file', source: readFileSync(source, 'utf8'), sourcePath: source }).hash;
    recordCompareReport(store, r, hash(r.a, aSource), hash(r.b, bSource));
  } catch (err) {
    process.stderr.write(`perflab: warning: the comparison was not recorded in the store: ${(err as Error).message}\n`);
  }
}

/** The plausibility flags (src/pipeline/plausibility.ts); a store that cannot be read only warns. */
function plausibilityFlagsOf(r: CompareReport, storePath?: string): string[] {
  try {
    using store = openStore(storePath);
    return plausibilityFlags(r, store);
  } catch (err) {
    process.stderr.write(`perflab: warning: no plausibility check (store unreadable): ${(err as Error).message}\n`);
    return [];
  }
}
