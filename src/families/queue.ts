/**
 * The queue families (`spsc`, `mpmc`): their workloads, the cells a bench runs,
 * and how one sample of a cell is taken (one runner process per sample).
 */
import { spawnSync } from 'node:child_process';
import { runRunner, type RunnerOptions, type RunnerOutcome } from '../native/runner.js';

export type QueueFamily = 'spsc' | 'mpmc';
export const QUEUE_FAMILIES: readonly QueueFamily[] = ['spsc', 'mpmc'];
export type QueueWorkload = 'throughput' | 'latency' | 'op_cost';
export const QUEUE_WORKLOADS: readonly QueueWorkload[] = ['throughput', 'latency', 'op_cost'];

/** The baseline every ratio of a family is taken against. */
export const BASELINE: Record<QueueFamily, string> = { spsc: 'naive', mpmc: 'mutex' };

/** Batch size of the bulk calls in the throughput workload (variants that have them). */
export const BULK_BATCH = 64;

export interface MetricSpec {
  metric: string;
  unit: string;
  higher_is_better: boolean;
}

export const METRICS: Record<string, MetricSpec> = {
  items_per_s: { metric: 'items_per_s', unit: 'items/s', higher_is_better: true },
  rtt_ns_p50: { metric: 'rtt_ns_p50', unit: 'ns', higher_is_better: false },
  rtt_ns_p99: { metric: 'rtt_ns_p99', unit: 'ns', higher_is_better: false },
  instructions_per_op: { metric: 'instructions_per_op', unit: 'instructions', higher_is_better: false },
};

/** One (variant, workload, params) cell of a bench; several metrics may come from one sample. */
export interface QueueCell {
  family: QueueFamily;
  variant: string;
  /** The built variant's shared object. */
  path: string;
  workload: QueueWorkload;
  params: Record<string, number>;
  metrics: string[];
  /** Cells compared with each other share a group (same workload and thread counts). */
  group: string;
}

export interface SampleTiming {
  durationMs: number;
  opCostOps: number;
}

export interface PlanVariant {
  name: string;
  path: string;
  hasBulk: boolean;
}

/** Every workload cell for the given variants of a family. */
export function planQueueCells(family: QueueFamily, variants: PlanVariant[], workloads: readonly QueueWorkload[], timing: SampleTiming): QueueCell[] {
  const cells: QueueCell[] = [];
  const mixes = family === 'spsc' ? [[1, 1]] : [[1, 1], [2, 2], [4, 4]];
  for (const workload of workloads) {
    if (workload === 'throughput') {
      for (const [p, c] of mixes) {
        for (const v of variants) {
          for (const batch of v.hasBulk ? [1, BULK_BATCH] : [1]) {
            cells.push({ family, variant: v.name, path: v.path, workload, params: { producers: p!, consumers: c!, capacity: 1024, batch }, metrics: ['items_per_s'], group: `throughput ${p}x${c}` });
          }
        }
      }
    } else if (workload === 'latency') {
      for (const v of variants) {
        cells.push({ family, variant: v.name, path: v.path, workload, params: { capacity: 1024 }, metrics: ['rtt_ns_p50', 'rtt_ns_p99'], group: 'latency' });
      }
    } else {
      for (const v of variants) {
        cells.push({ family, variant: v.name, path: v.path, workload, params: { capacity: 1024, ops: timing.opCostOps }, metrics: ['instructions_per_op'], group: 'op_cost' });
      }
    }
  }
  return cells;
}

export type SampleOutcome =
  | { ok: true; values: Record<string, number>; rusage?: { user_s: number; sys_s: number; voluntary_ctx: number; involuntary_ctx: number }; affinity?: string }
  | { ok: false; reason: string; kind: 'invalid' | 'failed' | 'unsupported' };

function runnerArgs(cell: QueueCell, timing: SampleTiming): string[] {
  const args = ['--variant', cell.path, '--family', cell.family, '--workload', cell.workload];
  for (const [k, v] of Object.entries(cell.params)) args.push(`--${k.replace(/_/g, '-')}`, String(v));
  if (cell.workload !== 'op_cost') args.push('--duration-ms', String(timing.durationMs));
  return args;
}

function failure(outcome: RunnerOutcome): SampleOutcome | undefined {
  if (outcome.kind === 'failed') {
    const tail = outcome.stderr.trim().split('\n').slice(-3).join(' | ');
    return { ok: false, kind: 'failed', reason: outcome.reason + (tail ? ` (stderr: ${tail})` : '') };
  }
  const r = outcome.result;
  if (!r.ok) return { ok: false, kind: r.error?.kind === 'invalid' ? 'invalid' : 'failed', reason: `${r.error?.kind ?? 'error'}: ${r.error?.message ?? 'no message'}` };
  return undefined;
}

/** Whether the variant at `path` defines the bulk calls (asks the runner). */
export async function variantHasBulk(family: QueueFamily, path: string): Promise<boolean> {
  const outcome = await runRunner(['--variant', path, '--family', family, '--workload', 'describe'], { timeoutMs: 10_000 });
  if (outcome.kind === 'failed') throw new Error(`cannot describe variant ${path}: ${outcome.reason}`);
  if (!outcome.result.ok) throw new Error(`cannot describe variant ${path}: ${outcome.result.error?.message}`);
  return outcome.result.has_bulk === true;
}

/** Takes one sample of a cell in a fresh runner process. */
export async function sampleQueueCell(cell: QueueCell, timing: SampleTiming, runner: Pick<RunnerOptions, 'sandbox'> = {}): Promise<SampleOutcome> {
  if (cell.workload === 'op_cost') return await sampleOpCost(cell, timing, runner);
  const outcome = await runRunner(runnerArgs(cell, timing), { timeoutMs: 30_000 + timing.durationMs * 4, sandbox: runner.sandbox });
  const failed = failure(outcome);
  if (failed || outcome.kind !== 'result') return failed!;
  const m = outcome.result.metrics;
  const values: Record<string, number> = {};
  for (const metric of cell.metrics) {
    const v = m[metric];
    if (typeof v !== 'number' || !Number.isFinite(v)) return { ok: false, kind: 'failed', reason: `the runner reported no ${metric}` };
    if (!(v > 0)) return { ok: false, kind: 'invalid', reason: `${metric} is ${v}: nothing was measured` };
    values[metric] = v;
  }
  return { ok: true, values, rusage: outcome.result.rusage, affinity: outcome.result.affinity };
}

let valgrindChecked: string | null | undefined;
/** Why op_cost cannot run here (no valgrind), or null; asked once per process. */
function valgrindMissing(): string | null {
  if (valgrindChecked === undefined) {
    valgrindChecked = spawnSync('valgrind', ['--version']).status === 0 ? null : 'valgrind is not installed (apt-get install valgrind): op_cost counts instructions under callgrind';
  }
  return valgrindChecked;
}

/**
 * op_cost: the single-threaded push+pop loop under callgrind, collection toggled
 * on the measured loop alone, in a clean environment, so the count is the same
 * run to run. instructions_per_op = instructions of the loop / ops.
 */
async function sampleOpCost(cell: QueueCell, timing: SampleTiming, runner: Pick<RunnerOptions, 'sandbox'>): Promise<SampleOutcome> {
  const missing = valgrindMissing();
  if (missing) return { ok: false, kind: 'unsupported', reason: missing };
  // callgrind's own summary at exit ("==pid== Collected : N") goes to its log on
  // stderr after anything the variant printed, so this works inside the sandbox
  // too (no profile file to fetch); the last such line counts.
  const wrapper = ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null', '--collect-atstart=no', '--toggle-collect=perflab_op_cost_loop'];
  const outcome = await runRunner(runnerArgs(cell, timing), { wrapper, timeoutMs: 120_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, sandbox: runner.sandbox });
  const failed = failure(outcome);
  if (failed) return failed;
  const ir = callgrindTotal(outcome.stderr);
  if (ir === undefined) return { ok: false, kind: 'failed', reason: 'callgrind wrote no instruction total' };
  const ops = cell.params.ops!;
  if (!(ir > 0)) return { ok: false, kind: 'invalid', reason: 'callgrind counted no instruction in the measured loop' };
  return { ok: true, values: { instructions_per_op: ir / ops } };
}

/** The instruction count of callgrind's exit summary (`==pid== Collected : N`), the last one in `text`. */
export function callgrindTotal(text: string): number | undefined {
  const all = [...text.matchAll(/^==\d+== Collected : (\d+)$/gm)];
  const last = all[all.length - 1];
  return last ? Number(last[1]) : undefined;
}
