import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import pc from 'picocolors';
import { UsageError } from '../errors.js';
import { QUEUE_FAMILIES, type QueueFamily } from '../families/queue.js';
import { resolveVariantRef } from '../pipeline/bench-queue.js';
import { checkVariant, recordCheckReport, type CheckReport } from '../pipeline/check.js';
import { acquireMeasureLock } from '../pipeline/lock.js';
import { builtinVariantSource } from '../native/sources.js';
import { openStore } from '../store/index.js';
import { emit } from './output.js';

interface CheckFlags {
  family?: string;
  seed?: string;
  json?: boolean;
  sandbox?: boolean;
  store?: string;
}

export function parseFamily(family: string | undefined): QueueFamily {
  if (!family) throw new UsageError(`--family is required: ${QUEUE_FAMILIES.join(' or ')}`);
  if (!QUEUE_FAMILIES.includes(family as QueueFamily)) throw new UsageError(`--family must be ${QUEUE_FAMILIES.join(' or ')}, not "${family}"`);
  return family as QueueFamily;
}

export function parseSeed(seed: string | undefined): number | undefined {
  if (seed === undefined) return undefined;
  const n = Number(seed);
  if (!/^\d+$/.test(seed) || !Number.isSafeInteger(n) || n > 2 ** 31 - 1) throw new UsageError(`--seed must be an integer from 0 to 2147483647, not "${seed}"`);
  return n;
}

function renderCheck(r: CheckReport): string {
  const lines = [`perflab check ${r.family} ${r.variant.name} (seed ${r.seed})`];
  for (const s of r.stages) lines.push(`  ${s.verdict === 'pass' ? pc.green('pass') : pc.red('FAIL')}  ${s.stage.padEnd(11)} ${String(s.ms).padStart(6)} ms${s.reason ? `  ${s.reason}` : ''}`);
  lines.push(r.verdict === 'pass' ? pc.green(`pass (${(r.duration_ms / 1000).toFixed(1)} s)`) : pc.red(`fail at ${r.stage}: ${r.reason}`));
  if (r.log) lines.push('', r.log);
  if (r.flags.length) lines.push(pc.yellow(`flags: ${r.flags.join(', ')}`));
  return lines.join('\n');
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('run a variant through the cascade: compile, static, sanitize, conformance')
    .argument('<variant>', 'a built-in name or a path to a .c/.cc file')
    .option('--family <family>', `the variant's family: ${QUEUE_FAMILIES.join(', ')}`)
    .option('--seed <n>', 'seed of the hidden workloads (default: drawn, and printed)')
    .option('--no-sandbox', 'run variant code without the sandbox (trusted code only)')
    .option('--store <path>', 'the store (default ./.perflab/perflab.db or PERFLAB_STORE)')
    .option('--json', 'print one JSON document on stdout')
    .action(async (ref: string, flags: CheckFlags) => {
      const family = parseFamily(flags.family);
      const seed = parseSeed(flags.seed);
      const { name, source } = resolveVariantRef(family, ref);
      const lock = await acquireMeasureLock(`perflab check ${ref} (pid ${process.pid})`, (m) => process.stderr.write(`perflab: ${m}\n`));
      let report: CheckReport;
      try {
        report = await checkVariant(family, name, source, {
          seed,
          runner: { sandbox: flags.sandbox === false ? false : {} },
          onStage: (s, status, detail) => {
            if (status === 'start') process.stderr.write(`perflab: ${s}...\n`);
            else if (status === 'fail') process.stderr.write(`perflab: ${s} failed: ${detail}\n`);
          },
        });
      } finally {
        lock.release();
      }
      storeCheckReport(report, source, flags.store);
      emit(flags.json === true, report, () => renderCheck(report));
      process.exitCode = report.verdict === 'pass' ? 0 : 1;
    });
}

/** Stores the variant (by content hash) and one check row per stage run; a store problem warns and never hides the verdict. */
function storeCheckReport(report: CheckReport, source: string, storePath?: string): void {
  try {
    using store = openStore(storePath);
    const builtin = builtinVariantSource(report.family, report.variant.name) === source;
    const v = store.upsertVariant({ name: report.variant.name, family: report.family, origin: builtin ? 'builtin' : 'file', source: readFileSync(source, 'utf8'), sourcePath: source });
    recordCheckReport(store, v.hash, report);
    if (!builtin) store.setVariantStatus(v.hash, report.verdict === 'pass' ? 'passed' : 'failed');
  } catch (err) {
    process.stderr.write(`perflab: warning: the check was not recorded in the store: ${(err as Error).message}\n`);
  }
}
