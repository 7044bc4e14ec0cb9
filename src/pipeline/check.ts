/**
 * `perflab check`: the evaluation cascade every candidate goes through, built-in,
 * tuner or LLM alike: compile -> static -> sanitize -> conformance. Each stage
 * is named; a failure names its stage and carries its evidence. Variant code
 * only ever runs in runner child processes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PerflabError } from '../errors.js';
import type { QueueFamily } from '../families/queue.js';
import { runRunner, type RunnerOptions, type RunnerOutcome } from '../native/runner.js';
import { packageRoot } from '../paths.js';
import { prng } from '../stats/summary.js';
import { buildVariant, type Sanitizer, type VariantBuild } from './build.js';
import { staticCheck } from './static-check.js';
import type { Store } from '../store/store.js';

export type CheckStage = 'compile' | 'static' | 'sanitize' | 'conformance';
export const CHECK_STAGES: readonly CheckStage[] = ['compile', 'static', 'sanitize', 'conformance'];

/** The `perflab check --json` document (INTERFACES.md), with the per-stage record. */
export interface CheckReport {
  schema_version: 1;
  verdict: 'pass' | 'fail';
  stage: CheckStage;
  reason: string;
  log: string;
  seed: number;
  flags: string[];
  family: QueueFamily;
  variant: { name: string; source: string; build_hash: string | null };
  stages: { stage: CheckStage; verdict: 'pass' | 'fail'; ms: number; reason: string }[];
  duration_ms: number;
}

export interface CheckOptions {
  seed?: number;
  /** Runner options for every run of variant code (the sandbox goes here). */
  runner?: Pick<RunnerOptions, 'sandbox'>;
  onStage?: (stage: CheckStage, status: 'start' | 'pass' | 'fail', detail?: string) => void;
  /** Time box of the full-length run (ms); the bench's sample length by default. */
  fullRunMs?: number;
  /** Knob values (-DNAME=VALUE) the variant is built with, in every build of the cascade. */
  knobs?: Record<string, string>;
}

const LOG_MAX = 4000;

/** Keeps the end of long evidence, where sanitizers and compilers put what matters. */
export function trimLog(text: string, max = LOG_MAX): string {
  const t = text.trim();
  return t.length <= max ? t : `[... ${t.length - max} chars trimmed]\n${t.slice(-max)}`;
}

class StageFailure extends Error {
  constructor(readonly stage: CheckStage, readonly reason: string, readonly log: string) {
    super(reason);
  }
}

/** The sanitizer runner of a CMake sanitizer build (scripts/build-native.sh sanitize). */
function sanitizerRunner(san: Exclude<Sanitizer, 'none'>): string {
  const path = join(packageRoot(), san === 'thread' ? 'build-tsan' : 'build-asan', 'Release', 'perflab-runner');
  if (!existsSync(path)) throw new PerflabError('ERR_PERFLAB_NOT_BUILT', `no ${san} sanitizer runner at ${path}; run: bash scripts/build-native.sh sanitize`);
  return path;
}

const SANITIZER_ENV: Record<Exclude<Sanitizer, 'none'>, Record<string, string>> = {
  // report_thread_leaks=0: a driver gives up on a thread stuck in a hanging variant on purpose; the hang itself is judged by conformance.
  thread: { TSAN_OPTIONS: 'halt_on_error=1 exitcode=66 report_signal_unsafe=0 second_deadlock_stack=1 report_thread_leaks=0' },
  address: {
    ASAN_OPTIONS: 'halt_on_error=1 exitcode=67 detect_leaks=1 allocator_may_return_null=1 hard_rss_limit_mb=2048 max_allocation_size_mb=1024',
    UBSAN_OPTIONS: 'halt_on_error=1 print_stacktrace=1 exitcode=68',
  },
};

const SANITIZER_REPORT = /ThreadSanitizer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/;

function describe(outcome: RunnerOutcome): string {
  if (outcome.kind === 'failed') return outcome.reason;
  return outcome.result.ok ? 'ok' : `${outcome.result.error?.kind ?? 'error'}: ${outcome.result.error?.message ?? ''}`;
}

/** Hidden workload parameters, drawn from the recorded seed (different every check, reproducible from the seed). */
export function hiddenWorkloads(family: QueueFamily, seed: number, hasBulk: boolean): string[][] {
  const rand = prng(seed ^ 0x9e3779b9);
  const pick = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const runs: string[][] = [];
  for (let i = 0; i < 2; i++) {
    const capacity = [1, 2, 3, pick(4, 100), pick(100, 5000), 1 << pick(4, 14)][pick(0, 5)]!;
    const producers = family === 'spsc' ? 1 : pick(1, 4);
    const consumers = family === 'spsc' ? 1 : pick(1, 4);
    const batch = hasBulk && rand() < 0.5 ? pick(2, 128) : 1;
    runs.push(['--workload', 'throughput', '--producers', String(producers), '--consumers', String(consumers), '--capacity', String(capacity), '--batch', String(batch), '--duration-ms', String(pick(50, 150))]);
  }
  runs.push(['--workload', 'latency', '--capacity', String(pick(1, 64)), '--duration-ms', '50']);
  return runs;
}

/**
 * Runs the cascade on one variant source. Never throws for a bad variant (that
 * is a `fail` report); throws PerflabError only when the machine cannot run a
 * stage (e.g. sanitizer runners not built).
 */
export async function checkVariant(family: QueueFamily, name: string, source: string, options: CheckOptions = {}): Promise<CheckReport> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const started = performance.now();
  const stages: CheckReport['stages'] = [];
  const flags: string[] = [];
  let build: VariantBuild | undefined;
  // Variant code always runs sandboxed unless the caller explicitly says false;
  // a queue needs little memory, so the plain runs get a tighter bound.
  const requested = options.runner?.sandbox;
  const sandbox = requested === false ? false : { memoryMiB: 1024, ...(requested ?? {}) };
  const base = ['--family', family];

  const stage = async (s: CheckStage, body: () => Promise<void>) => {
    const t0 = performance.now();
    options.onStage?.(s, 'start');
    try {
      await body();
      stages.push({ stage: s, verdict: 'pass', ms: Math.round(performance.now() - t0), reason: '' });
      options.onStage?.(s, 'pass');
    } catch (err) {
      if (!(err instanceof StageFailure)) throw err;
      stages.push({ stage: s, verdict: 'fail', ms: Math.round(performance.now() - t0), reason: err.reason });
      options.onStage?.(s, 'fail', err.reason);
      throw err;
    }
  };

  const report = (verdict: 'pass' | 'fail', s: CheckStage, reason: string, log: string): CheckReport => ({
    schema_version: 1, verdict, stage: s, reason, log: trimLog(log), seed, flags, family,
    variant: { name, source, build_hash: build?.hash ?? null }, stages, duration_ms: Math.round(performance.now() - started),
  });

  try {
    await stage('compile', async () => {
      try {
        build = await buildVariant(source, { family, knobs: options.knobs });
      } catch (err) {
        if (err instanceof PerflabError && err.code === 'ERR_PERFLAB_COMPILE') throw new StageFailure('compile', 'does not compile with the fixed flags (warnings are errors)', err.message);
        throw err;
      }
    });
    await stage('static', async () => {
      const s = await staticCheck(build!.path, family);
      if (!s.ok) throw new StageFailure('static', s.reason, s.log);
    });
    let hasBulk = false;
    await stage('sanitize', async () => {
      for (const san of ['thread', 'address'] as const) {
        const runnerPath = sanitizerRunner(san);
        let sanBuild: VariantBuild;
        try {
          sanBuild = await buildVariant(source, { family, sanitize: san, knobs: options.knobs });
        } catch (err) {
          throw new StageFailure('sanitize', `does not build with -fsanitize=${san}`, (err as Error).message);
        }
        const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...SANITIZER_ENV[san] };
        const threads = family === 'spsc' ? ['--producers', '1', '--consumers', '1'] : ['--producers', '2', '--consumers', '2'];
        const runs = [
          ['--workload', 'conformance', '--seed', String(seed), '--max-items', '20000'],
          ['--workload', 'throughput', ...threads, '--duration-ms', '150'],
        ];
        for (const args of runs) {
          const out = await runRunner(['--variant', sanBuild.path, ...base, ...args], { runnerPath, env, timeoutMs: 120_000, sandbox: sandbox === false ? false : { ...sandbox, memoryMiB: 2048, sanitizer: san } });
          const evidence = out.stderr;
          if (SANITIZER_REPORT.test(evidence) || (out.kind === 'result' && [66, 67, 68].includes(out.exitCode))) {
            const kind = /ThreadSanitizer: ([^\n]*)/.exec(evidence)?.[1] ?? /(AddressSanitizer|LeakSanitizer): ([^\n]*)/.exec(evidence)?.[0] ?? /runtime error: ([^\n]*)/.exec(evidence)?.[0] ?? 'a sanitizer report';
            throw new StageFailure('sanitize', `${san === 'thread' ? 'TSan' : 'ASan/UBSan'} (${args[1]}): ${kind.trim()}`, evidence);
          }
          // Other failures (crash without a report, lost items, hang) are judged by conformance, on the plain build.
          if (out.kind === 'result' && args[1] === 'conformance') hasBulk = out.result.has_bulk === true;
        }
      }
    });
    await stage('conformance', async () => {
      const run = async (args: string[], what: string, timeoutMs = 120_000) => {
        const out = await runRunner(['--variant', build!.path, ...base, ...args], { timeoutMs, sandbox });
        if (out.kind === 'failed' || !out.result.ok) throw new StageFailure('conformance', `${what}: ${describe(out)}`, out.stderr);
        return out;
      };
      const suite = await run(['--workload', 'conformance', '--seed', String(seed)], 'the conformance suite');
      hasBulk = suite.result.has_bulk === true;
      for (const args of hiddenWorkloads(family, seed, hasBulk)) await run(args, `hidden workload (${args.slice(1).join(' ')})`, 60_000);
      const full = options.fullRunMs ?? 300;
      const threads = family === 'spsc' ? [['1', '1']] : [['1', '1'], ['4', '4']];
      for (const [p, c] of threads) {
        await run(['--workload', 'throughput', '--producers', p!, '--consumers', c!, '--duration-ms', String(full)], `full-length throughput ${p}x${c}`, 60_000);
        if (hasBulk) await run(['--workload', 'throughput', '--producers', p!, '--consumers', c!, '--batch', '64', '--duration-ms', String(full)], `full-length bulk throughput ${p}x${c}`, 60_000);
      }
    });
    return report('pass', 'conformance', 'passed every stage', '');
  } catch (err) {
    if (err instanceof StageFailure) return report('fail', err.stage, err.reason, err.log);
    throw err;
  }
}

/** Records one check row per stage that ran, the failing one with the trimmed evidence. */
export function recordCheckReport(store: Store, variantHash: string, report: CheckReport): void {
  for (const s of report.stages) {
    store.recordCheck({
      variantHash, buildHash: report.variant.build_hash, stage: s.stage, verdict: s.verdict, reason: s.reason,
      log: s.verdict === 'fail' ? report.log : '', seed: report.seed, flags: report.flags, durationMs: s.ms,
    });
  }
}
