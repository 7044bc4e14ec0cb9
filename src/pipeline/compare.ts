/**
 * `perflab compare`: an interleaved A/B with an A/A noise floor. Arms a, b and
 * a2 (a second copy of A) are sampled round by round, one process per sample,
 * the order rotated every round and the first round thrown away. B's speedup
 * is the ratio of medians with a round-resampling bootstrap interval; the
 * p-value is Mann-Whitney's; the verdict follows INTERFACES.md.
 */
import type { QueueFamily, QueueWorkload } from '../families/queue.js';
import { METRICS, sampleQueueCell, variantHasBulk, type QueueCell } from '../families/queue.js';
import type { RunnerOptions } from '../native/runner.js';
import { mannWhitney } from '../stats/mann-whitney.js';
import { ratioOfMediansByRound } from '../stats/summary.js';
import { compareVerdict, type Verdict } from '../stats/verdict.js';
import { conformanceVerdict } from './bench-queue.js';
import type { Progress } from './bench-types.js';
import { buildVariant } from './build.js';
import { envFingerprint } from './env.js';
import type { Store } from '../store/store.js';

export type Arm = 'a' | 'b' | 'a2';

/** The `perflab compare --json` document (INTERFACES.md) plus what was compared and why it stopped. */
export interface CompareReport {
  schema_version: 1;
  family: QueueFamily;
  a: string;
  b: string;
  workload: QueueWorkload;
  metric: string;
  params: Record<string, number>;
  ratio: number | null;
  ci95: [number, number] | null;
  p_value: number | null;
  noise_floor: [number, number] | null;
  min_effect: number | null;
  verdict: Verdict;
  flags: string[];
  rounds: number;
  stopped_by: 'rounds' | 'max-seconds';
  runs: { arm: Arm; order: number; value: number; round: number; discarded: boolean }[];
  /** The quick screen before the measurement: one short sample of each arm. */
  screen: { a: number; b: number; ratio: number } | null;
  /** The stage a failure happened in (`screen`: the short samples; `measure`: the interleaved rounds). */
  stage: 'screen' | 'measure';
  failure?: string;
}

export interface CompareArm {
  name: string;
  source: string;
  knobs?: Record<string, string>;
}

export interface CompareOptions {
  family: QueueFamily;
  /** The arms; `knobs` are -D values the arm is built with (the tuner's candidates). */
  a: CompareArm;
  b: CompareArm;
  workload: QueueWorkload;
  rounds: number;
  maxSeconds: number;
  durationMs: number;
  runner?: Pick<RunnerOptions, 'sandbox'>;
  progress: Progress;
  /** Stop after the screen (the optimization loop's quick filter). */
  screenOnly?: boolean;
  /** Throughput threads (default spsc 1x1, mpmc 2x2). */
  threads?: { producers: number; consumers: number };
}

const METRIC_OF: Record<QueueWorkload, string> = { throughput: 'items_per_s', latency: 'rtt_ns_p50', op_cost: 'instructions_per_op' };

export async function compareVariants(o: CompareOptions): Promise<CompareReport> {
  const metric = METRIC_OF[o.workload];
  const spec = METRICS[metric]!;
  const params: Record<string, number> =
    o.workload === 'throughput'
      ? { producers: o.threads?.producers ?? (o.family === 'spsc' ? 1 : 2), consumers: o.threads?.consumers ?? (o.family === 'spsc' ? 1 : 2), capacity: 1024, batch: 1 }
      : o.workload === 'latency'
        ? { capacity: 1024 }
        : { capacity: 1024, ops: 100_000 };
  const report: CompareReport = {
    schema_version: 1, family: o.family, a: o.a.name, b: o.b.name, workload: o.workload, metric, params,
    ratio: null, ci95: null, p_value: null, noise_floor: null, min_effect: null, verdict: 'inconclusive', flags: [], rounds: 0, stopped_by: 'rounds', runs: [],
    screen: null, stage: 'screen',
  };
  const started = Date.now();
  // Both arms run the same way (sandboxed unless the caller says otherwise), so the comparison is like with like.
  const runner: Pick<RunnerOptions, 'sandbox'> = { sandbox: o.runner?.sandbox ?? {} };
  const paths: Record<Arm, string> = { a: '', b: '', a2: '' };
  for (const [arm, v] of [['a', o.a], ['b', o.b]] as const) {
    const build = await buildVariant(v.source, { family: o.family, knobs: v.knobs });
    const bad = await conformanceVerdict(o.family, build.path, runner);
    if (bad) {
      report.failure = `${arm} (${v.name}) fails conformance: ${bad}`;
      report.flags.push('failed-conformance');
      return report;
    }
    paths[arm] = build.path;
    await variantHasBulk(o.family, build.path); // loads it once outside the measured rounds
  }
  paths.a2 = paths.a;
  const cell = (arm: Arm): QueueCell => ({ family: o.family, variant: arm, path: paths[arm], workload: o.workload, params, metrics: [metric], group: 'compare' });
  // Screen: one short sample of each arm catches a crash, a validation failure
  // or an unsupported workload in a second, before minutes of measurement.
  const screened: Partial<Record<Arm, number>> = {};
  for (const arm of ['a', 'b'] as const) {
    const s = await sampleQueueCell(cell(arm), { durationMs: Math.max(50, Math.round(o.durationMs / 3)), opCostOps: 10_000 }, runner);
    if (!s.ok) {
      report.failure = `${arm} (${arm === 'b' ? o.b.name : o.a.name}) ${s.kind}: ${s.reason}`;
      report.flags.push(s.kind === 'unsupported' ? 'unsupported' : 'failed-run');
      return report;
    }
    screened[arm] = s.values[metric]!;
  }
  report.screen = { a: screened.a!, b: screened.b!, ratio: spec.higher_is_better ? screened.b! / screened.a! : screened.a! / screened.b! };
  if (o.screenOnly) return report;
  report.stage = 'measure';
  const values: Record<Arm, number[]> = { a: [], b: [], a2: [] };
  const arms: Arm[] = ['a', 'b', 'a2'];
  const deterministic = o.workload === 'op_cost';
  const total = o.rounds + (deterministic ? 0 : 1);
  o.progress.start(total * arms.length, `compare ${o.a.name} vs ${o.b.name}`);
  let order = 0;
  for (let round = 0; round < total; round++) {
    if ((Date.now() - started) / 1000 > o.maxSeconds) {
      report.stopped_by = 'max-seconds';
      report.flags.push(`time-bound: stopped after ${round} of ${total} rounds (--max-seconds ${o.maxSeconds})`);
      break;
    }
    const discarded = !deterministic && round === 0;
    const sampled: Partial<Record<Arm, number>> = {};
    for (let k = 0; k < arms.length; k++) {
      const arm = arms[(k + round) % arms.length]!;
      o.progress.tick(`round ${round + 1}/${total} ${arm}${discarded ? ' (warm-up)' : ''}`);
      const s = await sampleQueueCell(cell(arm), { durationMs: o.durationMs, opCostOps: params.ops ?? 100_000 }, runner);
      if (!s.ok) {
        o.progress.done();
        report.failure = `${arm} (${arm === 'b' ? o.b.name : o.a.name}) ${s.kind}: ${s.reason}`;
        report.flags.push(s.kind === 'unsupported' ? 'unsupported' : 'failed-run');
        return report;
      }
      const value = s.values[metric]!;
      report.runs.push({ arm, order: order++, value, round, discarded });
      sampled[arm] = value;
    }
    if (!discarded) for (const arm of arms) values[arm].push(sampled[arm]!);
  }
  o.progress.done();
  report.rounds = values.a.length;
  if (report.rounds < 3) {
    report.flags.push('too-few-rounds');
    return report;
  }
  const ab = ratioOfMediansByRound(values.a, values.b, spec.higher_is_better);
  const aa = ratioOfMediansByRound(values.a, values.a2, spec.higher_is_better);
  report.ratio = ab.ratio;
  report.ci95 = ab.ci95;
  report.noise_floor = aa.ci95;
  report.p_value = mannWhitney(values.a, values.b).p;
  const v = compareVerdict(ab.ci95, aa.ci95);
  report.verdict = v.verdict;
  report.min_effect = v.minEffect;
  return report;
}

/** Records a measured comparison (nothing when nothing was measured) under the two variants' hashes. */
export function recordCompareReport(store: Store, r: CompareReport, aHash: string, bHash: string): void {
  if (r.ratio === null || r.ci95 === null) return;
  const env = envFingerprint();
  store.recordComparison({
    family: r.family, aName: r.a, aHash, bName: r.b, bHash, workload: r.workload, metric: r.metric, ratio: r.ratio, ci95: r.ci95, pValue: r.p_value,
    noiseFloor: r.noise_floor, verdict: r.verdict, flags: r.flags, runs: r.runs.map(({ arm, order, value }) => ({ arm, order, value })), env, gitSha: env.git_sha,
  });
}
