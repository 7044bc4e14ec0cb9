/**
 * The `js` family of `perflab bench`: the TypeScript-facing queues against what a
 * Node user would pick instead. Cross-worker items/s are timed by the harness
 * (one child process per sample, scenarios interleaved, order rotated); per-call
 * costs are timed by tinybench, one child process per sample too.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchResult, BenchSkip, Progress } from './bench-types.js';
import { pairedRatio, summariseSamples } from '../stats/summary.js';

export const JS_WORKLOADS = ['cross_worker', 'per_call'] as const;

/** Cross-worker scenarios, grouped like with like; the first of each group is its baseline. */
export const JS_GROUPS: { name: string; batch: number; scenarios: string[] }[] = [
  { name: 'items', batch: 1, scenarios: ['postmessage', 'js-atomics-ring', 'spsc-native', 'mpmc-native'] },
  { name: 'batches', batch: 256, scenarios: ['postmessage-batch', 'spsc-native-bulk'] },
];

export interface JsBenchOptions {
  workloads: readonly string[];
  samples: number;
  warmup: boolean;
  durationMs: number;
  quick: boolean;
  progress: Progress;
}

interface ChildOutcome {
  ok: boolean;
  value?: unknown;
  reason?: string;
}

/** Runs a compiled dist/ script in a fresh Node process; its stdout is one JSON line. */
function runChild(script: string, args: string[], timeoutMs: number): Promise<ChildOutcome> {
  const path = fileURLToPath(new URL(`../families/js/${script}`, import.meta.url));
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 16_384) err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line) {
        resolvePromise({ ok: false, reason: `${script} ${args.join(' ')} ended with ${signal ?? `code ${code}`}: ${err.trim().split('\n').slice(-3).join(' | ')}` });
        return;
      }
      try {
        resolvePromise({ ok: true, value: JSON.parse(line) });
      } catch {
        resolvePromise({ ok: false, reason: `${script} printed no JSON: ${line.slice(0, 200)}` });
      }
    });
  });
}

function summarise(family: string, variant: string, workload: string, params: Record<string, number | string>, metric: string, unit: string, higher: boolean, samples: number[]): BenchResult {
  return { family, variant, workload, params, metric, unit, higher_is_better: higher, ...summariseSamples(samples), samples };
}

export async function benchJsFamily(opts: JsBenchOptions): Promise<{ results: BenchResult[]; skipped: BenchSkip[]; failures: BenchSkip[] }> {
  const results: BenchResult[] = [];
  const skipped: BenchSkip[] = [];
  const failures: BenchSkip[] = [];
  const rounds = opts.samples + (opts.warmup ? 1 : 0);
  const cross = opts.workloads.includes('cross_worker');
  const perCall = opts.workloads.includes('per_call');
  const total = (cross ? JS_GROUPS.reduce((n, g) => n + g.scenarios.length, 0) * rounds : 0) + (perCall ? opts.samples : 0);
  opts.progress.start(total, 'js');
  if (cross) {
    for (const group of JS_GROUPS) {
      const values = new Map<string, number[]>(group.scenarios.map((s) => [s, []]));
      const failed = new Map<string, string>();
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < group.scenarios.length; k++) {
          const scenario = group.scenarios[(k + round) % group.scenarios.length]!;
          const discard = opts.warmup && round === 0;
          opts.progress.tick(`js cross_worker ${scenario} ${discard ? 'warm-up' : `sample ${round + (opts.warmup ? 0 : 1)}/${opts.samples}`}`);
          if (failed.has(scenario)) continue;
          const r = await runChild('sample-child.js', ['--scenario', scenario, '--duration-ms', String(opts.durationMs)], 60_000 + opts.durationMs * 4);
          const v = r.value as { valid?: boolean; items_per_s?: number; reason?: string } | undefined;
          if (!r.ok || !v) failed.set(scenario, r.reason ?? 'no result');
          else if (!v.valid) failed.set(scenario, `invalid: ${v.reason ?? 'validation failed'}`);
          else if (typeof v.items_per_s !== 'number' || !(v.items_per_s > 0)) failed.set(scenario, 'no items moved');
          else if (!discard) values.get(scenario)!.push(v.items_per_s);
        }
      }
      const base = group.scenarios[0]!;
      for (const scenario of group.scenarios) {
        const f = failed.get(scenario);
        if (f) {
          failures.push({ family: 'js', variant: scenario, workload: 'cross_worker', reason: f });
          continue;
        }
        const row = summarise('js', scenario, 'cross_worker', { batch: group.batch }, 'items_per_s', 'items/s', true, values.get(scenario)!);
        if (!failed.has(base)) {
          row.vs_baseline = { variant: base, ...pairedRatio(values.get(base)!, row.samples, true) };
        }
        results.push(row);
      }
    }
  }
  if (perCall) {
    const perOp = new Map<string, number[]>();
    let failure: string | undefined;
    for (let i = 0; i < opts.samples; i++) {
      opts.progress.tick(`js per_call sample ${i + 1}/${opts.samples}`);
      if (failure) continue;
      const r = await runChild('percall-child.js', ['--time-ms', String(opts.quick ? 100 : 300)], 120_000);
      const rows = r.value as { name: string; ns_per_op: number }[] | undefined;
      if (!r.ok || !Array.isArray(rows)) {
        failure = r.reason ?? 'no result';
        continue;
      }
      for (const row of rows) perOp.set(row.name, [...(perOp.get(row.name) ?? []), row.ns_per_op]);
    }
    if (failure) failures.push({ family: 'js', variant: '*', workload: 'per_call', reason: failure });
    else for (const [name, samples] of perOp) results.push(summarise('js', name, 'per_call', {}, 'ns_per_call', 'ns', false, samples));
  }
  opts.progress.done();
  return { results, skipped, failures };
}
