/**
 * One candidate through the pipeline: check (compile -> static -> sanitize ->
 * conformance, sandboxed, the iteration's seed) -> screen -> interleaved A/B
 * against the starting variant -> (when it beats the current best on that
 * ratio) a head-to-head against the current best. Every outcome is recorded
 * in the store; "better" is only ever the pipeline's verdict.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QueueFamily, QueueWorkload } from '../families/queue.js';
import type { Progress } from '../pipeline/bench-types.js';
import { checkVariant, recordCheckReport, trimLog } from '../pipeline/check.js';
import { compareVariants, recordCompareReport, type CompareArm, type CompareReport } from '../pipeline/compare.js';
import { plausibilityFlags } from '../pipeline/plausibility.js';
import type { Store } from '../store/store.js';
import type { AttemptSummary, ProposerName } from './types.js';

/** The current best (the starting variant at first): the parent of the next prompt. */
export interface Best {
  name: string;
  hash: string;
  /** Source file (built-in path or the experiment's copy) and its text. */
  path: string;
  source: string;
  language: 'c' | 'cc';
  knobs: Record<string, string>;
  /** Speedup over `from` with its CI (null for `from` itself). */
  ratio: number | null;
  ci95: [number, number] | null;
  iteration: number | null;
}

export interface EvaluateContext {
  store: Store;
  family: QueueFamily;
  experimentId: string;
  /** Where the experiment's candidate sources are written. */
  dir: string;
  from: Best;
  best: Best;
  workload: QueueWorkload;
  rounds: number;
  sampleMs: number;
  sandbox: boolean;
  threads?: { producers: number; consumers: number };
  progress: Progress;
  log: (line: string) => void;
}

export interface Candidate {
  iteration: number;
  origin: ProposerName;
  source: string;
  language: 'c' | 'cc';
  knobs: Record<string, string>;
  hash: string;
  note: string;
  seed: number;
}

/** What an evaluation found; becomes the attempt row. */
export interface Evaluation extends Pick<AttemptSummary, 'stage' | 'verdict' | 'ratio' | 'ci95' | 'compare' | 'reason' | 'log'> {
  flags: string[];
  /** Set when the candidate is the new best. */
  best?: Best;
}

const arm = (b: Best): CompareArm => ({ name: b.name, source: b.path, knobs: b.knobs });

/** An interleaved comparison of two arms, recorded, with the plausibility flags. */
export async function measure(ctx: EvaluateContext, a: Best, b: Best, label: string): Promise<CompareReport> {
  ctx.log(`perflab: ${label}: ${b.name} vs ${a.name}, ${ctx.rounds} rounds of a/b/a2`);
  const r = await compareVariants({
    family: ctx.family, a: arm(a), b: arm(b), workload: ctx.workload, rounds: ctx.rounds, maxSeconds: 600, durationMs: ctx.sampleMs,
    runner: { sandbox: ctx.sandbox ? {} : false }, progress: ctx.progress, threads: ctx.threads,
  });
  r.flags.push(...plausibilityFlags(r, ctx.store));
  recordCompareReport(ctx.store, r, a.hash, b.hash);
  return r;
}

const fmt = (r: CompareReport) => (r.ratio === null ? 'not measured' : `${r.ratio.toFixed(3)}x [${r.ci95![0].toFixed(3)}, ${r.ci95![1].toFixed(3)}] ${r.verdict}`);

export async function evaluateCandidate(ctx: EvaluateContext, c: Candidate): Promise<Evaluation> {
  mkdirSync(ctx.dir, { recursive: true });
  const path = join(ctx.dir, `${c.hash}.${c.language}`);
  writeFileSync(path, c.source);
  const name = `${ctx.from.name}-${c.origin}-${c.hash.slice(0, 8)}`;
  const stored = ctx.store.upsertVariant({ name, family: ctx.family, origin: c.origin, source: c.source, knobs: c.knobs, parent: ctx.best.hash, sourcePath: path });
  const fail = (stage: string, reason: string, log = '', flags: string[] = []): Evaluation => ({ stage, verdict: 'fail', ratio: null, ci95: null, compare: null, reason, log: trimLog(log, 1500), flags });

  ctx.log(`perflab: #${c.iteration} check ${stored.name} (${c.note})`);
  const check = await checkVariant(ctx.family, stored.name, path, {
    seed: c.seed, knobs: c.knobs, runner: { sandbox: ctx.sandbox ? {} : false },
    onStage: (stage, status, detail) => { if (status !== 'start') ctx.log(`perflab: #${c.iteration}   ${stage}: ${status}${detail ? ` (${detail})` : ''}`); },
  });
  recordCheckReport(ctx.store, stored.hash, check);
  // A candidate's status moves on; a built-in or a promoted variant that happens to have the same text keeps its own.
  if (['candidate', 'passed', 'failed'].includes(stored.status)) ctx.store.setVariantStatus(stored.hash, check.verdict === 'pass' ? 'passed' : 'failed');
  if (check.verdict === 'fail') return fail(check.stage, check.reason, check.log, check.flags);

  const candidate: Best = { name: stored.name, hash: stored.hash, path, source: c.source, language: c.language, knobs: c.knobs, ratio: null, ci95: null, iteration: c.iteration };
  const vsFrom = await measure(ctx, ctx.from, candidate, `#${c.iteration} compare`);
  if (vsFrom.failure) return fail(vsFrom.stage === 'screen' ? 'screen' : 'compare', vsFrom.failure, '', vsFrom.flags);
  if (vsFrom.ratio === null || vsFrom.ci95 === null) return fail('compare', `not measured: ${vsFrom.flags.join('; ') || 'too few rounds'}`, '', vsFrom.flags);
  candidate.ratio = vsFrom.ratio;
  candidate.ci95 = vsFrom.ci95;
  const out: Evaluation = { stage: 'compare', verdict: 'pass', ratio: vsFrom.ratio, ci95: vsFrom.ci95, compare: vsFrom.verdict, reason: `vs ${ctx.from.name}: ${fmt(vsFrom)}`, log: '', flags: vsFrom.flags };
  const suspicious = vsFrom.flags.some((f) => f.startsWith('suspicious'));
  if (suspicious) {
    out.reason += '; flagged suspicious (beyond the plausibility bound): kept for review, never promoted';
    return out;
  }
  if (vsFrom.verdict !== 'faster') return out;
  if (ctx.best.hash === ctx.from.hash) {
    out.reason += '; the first candidate faster than the start: new best';
    out.best = candidate;
    return out;
  }
  if (ctx.best.ratio !== null && vsFrom.ratio <= ctx.best.ratio) {
    out.reason += `; not above the current best's ${ctx.best.ratio.toFixed(3)}x (#${ctx.best.iteration})`;
    return out;
  }
  // Its ratio over `from` beats the best's, measured minutes apart: only a head-to-head in the same minutes decides.
  const vsBest = await measure(ctx, ctx.best, candidate, `#${c.iteration} head-to-head`);
  out.flags.push(...vsBest.flags.map((f) => `head-to-head: ${f}`));
  if (vsBest.failure || vsBest.ratio === null) {
    out.reason += `; head-to-head with the best failed: ${vsBest.failure ?? 'not measured'}`;
    return out;
  }
  out.reason += `; vs best #${ctx.best.iteration}: ${fmt(vsBest)}`;
  if (vsBest.verdict === 'faster') {
    out.reason += ': new best';
    out.best = candidate;
  }
  return out;
}
