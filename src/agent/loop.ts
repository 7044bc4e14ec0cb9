/**
 * The optimization loop (`perflab optimize`, `perflab agent optimize|lock-free`).
 * An iteration is one proposal evaluated: limits are checked, the prompt is
 * built (task, parent code, every attempt so far, the parent's profile, the
 * environment), the proposer answers, the answer becomes a candidate
 * (deduplicated by content hash), the pipeline judges it, and the attempt is
 * recorded and fed into the next prompt. At the end the best is re-confirmed in
 * a fresh comparison before it is promoted. State lives in the store, so an
 * interrupted experiment resumes (`--resume ID`) where it stopped.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { PerflabError, UsageError } from '../errors.js';
import { METRICS, type QueueFamily } from '../families/queue.js';
import { builtinVariantSource } from '../native/sources.js';
import type { Progress } from '../pipeline/bench-types.js';
import { resolveVariantRef } from '../pipeline/bench-queue.js';
import { envFingerprint } from '../pipeline/env.js';
import { profileVariant } from '../pipeline/profile.js';
import { stateDir } from '../paths.js';
import { Experiments, type ExperimentOptions, type ExperimentRecord, type StoppedBy } from '../store/experiments.js';
import type { Store } from '../store/store.js';
import { materialize } from './candidate.js';
import { evaluateCandidate, measure, type Best, type EvaluateContext } from './evaluate.js';
import { parseKnobs } from './knobs.js';
import { defaultPersona, loadPersona, type Persona } from './personas.js';
import { systemPrefix, userMessage } from './prompt.js';
import { renderPerformanceReference } from './reference.js';
import { experimentReport, type OptimizeReport } from './report.js';
import { proposalFromCall, ReplayProposer } from './proposers/replay.js';
import type { AgentTask, AttemptSummary, ProfileData, PromptContext, Proposal, Proposer, ProposerCall } from './types.js';

export interface OptimizeOptions {
  store: Store;
  family: QueueFamily;
  task: Exclude<AgentTask, 'profile'>;
  /** The starting variant: built-in name, stored name or hash, or a .c/.cc path (ignored on resume). */
  from: string;
  proposer: Proposer;
  persona?: string;
  resume?: string;
  /** Limits and measurement settings; on resume, given values override the stored ones. */
  limits: Partial<Pick<ExperimentOptions, 'iterations' | 'maxUsd' | 'maxTokens' | 'maxMinutes'>>;
  rounds?: number;
  sampleMs?: number;
  sandbox?: boolean;
  seed?: number;
  replayOf?: string | null;
  baseUrl?: string | null;
  structure?: ExperimentOptions['structure'];
  /** The system prefix to send instead of rendering it now (a replay sends the original's, byte for byte). */
  systemPrompt?: string;
  progress: Progress;
  log: (line: string) => void;
  /** Called with each attempt as it is recorded (the live table). */
  onAttempt?: (a: AttemptSummary & { best: boolean }, experimentId: string) => void;
  /** Called once the experiment exists (the CLI's interrupt hook needs its id). */
  onStart?: (experiment: ExperimentRecord) => void;
  signal?: AbortSignal;
}

const DEFAULTS = { iterations: 10, rounds: 8, sampleMs: 300 };

function languageOf(path: string): 'c' | 'cc' {
  return extname(path) === '.c' ? 'c' : 'cc';
}

/** The starting variant as a Best: a built-in, a stored variant (by name or hash) or a file. */
export function resolveStart(store: Store, family: QueueFamily, ref: string, dir: string): Best {
  let path: string;
  let knobs: Record<string, string> = {};
  let name: string;
  const builtin = builtinVariantSource(family, ref);
  const stored = builtin ? undefined : /\.(c|cc|cpp|cxx)$/.test(ref) ? undefined : store.findVariant(ref, family);
  if (stored) {
    name = stored.name;
    knobs = stored.knobs;
    path = stored.sourcePath && existsSync(stored.sourcePath) && readFileSync(stored.sourcePath, 'utf8') === stored.source ? stored.sourcePath : join(dir, `${stored.hash}${stored.sourcePath ? extname(stored.sourcePath) : '.c'}`);
    if (!existsSync(path)) {
      // The stored text is the truth; write it where the pipeline can build it.
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, stored.source);
    }
  } else {
    const r = resolveVariantRef(family, ref);
    name = r.name;
    path = r.source;
  }
  const source = readFileSync(path, 'utf8');
  const v = store.upsertVariant({ name, family, origin: builtin ? 'builtin' : stored ? stored.origin : 'file', source, knobs, sourcePath: path });
  return { name, hash: v.hash, path, source, language: languageOf(path), knobs, ratio: null, ci95: null, iteration: null };
}

/**
 * Records a call. The store refuses text that looks like an API key; a model
 * can write such text, so then the call is recorded with its answer withheld
 * and counts as an invalid answer (it is never evaluated).
 */
function recordCall(exps: Experiments, id: string, iteration: number, persona: Persona, proposal: Exclude<Proposal, { kind: 'exhausted' }>): Exclude<Proposal, { kind: 'exhausted' }> {
  try {
    exps.recordCall(id, iteration, persona, proposal.call);
    return proposal;
  } catch (err) {
    if (!(err instanceof PerflabError) || err.code !== 'ERR_PERFLAB_STORE') throw err;
    const reason = 'the answer contains text that looks like an API key; it was withheld from the store and not evaluated';
    const call = { ...proposal.call, outcome: 'invalid' as const, error: reason, response: '[withheld]' };
    exps.recordCall(id, iteration, persona, call);
    return { kind: 'failed', reason, call };
  }
}

function seedFor(base: number, iteration: number): number {
  return (base + iteration * 7919) % 2 ** 31;
}

/** Which limit stops the loop before the next call, if any. Spending is checked with one more call of the largest size seen. */
export function limitReached(o: ExperimentOptions, done: number, minutes: number, usage: { tokens: number; usd: number; maxCallTokens: number; maxCallUsd: number }): StoppedBy | null {
  if (done >= o.iterations) return 'iterations';
  if (o.maxMinutes !== null && minutes >= o.maxMinutes) return 'minutes';
  if (o.maxTokens !== null && usage.tokens + usage.maxCallTokens > o.maxTokens) return 'tokens';
  if (o.maxUsd !== null && usage.usd + usage.maxCallUsd > o.maxUsd) return 'usd';
  return null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function optimize(o: OptimizeOptions): Promise<OptimizeReport> {
  const exps = new Experiments(o.store);
  const started = Date.now();
  let exp: ExperimentRecord;
  let persona: Persona;
  let from: Best;
  let best: Best;

  if (o.resume) {
    const found = exps.get(o.resume);
    if (!found) throw new UsageError(`no experiment "${o.resume}" in the store ${o.store.path} (list them with perflab optimize --list)`);
    if (found.status === 'running' && found.pid !== null && found.pid !== process.pid && pidAlive(found.pid)) {
      throw new UsageError(`experiment ${found.id} is running in process ${found.pid}; stop it first (Ctrl-C there) or wait`);
    }
    if (found.family !== o.family) throw new UsageError(`experiment ${found.id} is a ${found.family} experiment, not ${o.family}`);
    if (found.proposer !== o.proposer.name) throw new UsageError(`experiment ${found.id} was run with the ${found.proposer} proposer; resume it with --proposer ${found.proposer}`);
    persona = loadPersona(found.persona);
    if (persona.hash !== found.personaHash) o.log(`perflab: note: prompts/${found.persona}.md changed since the experiment started; the recorded system prompt is reused as it was`);
    const options: ExperimentOptions = { ...found.options };
    for (const k of ['iterations', 'maxUsd', 'maxTokens', 'maxMinutes'] as const) if (o.limits[k] !== undefined) (options[k] as number | null) = o.limits[k]!;
    exps.update(found.id, { status: 'running', stoppedBy: null, pid: process.pid, options });
    exp = exps.get(found.id)!;
    const dir = join(stateDir(o.store.path), 'experiments', exp.id);
    // By hash: the stored text is the truth (a start given as a path may not be where it was).
    if (!o.store.variantByHash(exp.fromHash)) throw new UsageError(`experiment ${exp.id} started from ${exp.fromName} (${exp.fromHash}), which is no longer in the store`);
    from = resolveStart(o.store, o.family, exp.fromHash, dir);
    best = from;
    const bestAttempt = exps.attempts(exp.id).find((a) => a.isBest);
    if (bestAttempt?.hash) best = { ...resolveStart(o.store, o.family, bestAttempt.hash, dir), ratio: bestAttempt.ratio, ci95: bestAttempt.ci95, iteration: bestAttempt.iteration };
    o.log(`perflab: resuming ${exp.id} after ${exps.attempts(exp.id).length} attempts`);
  } else {
    const env = envFingerprint();
    persona = loadPersona(o.persona ?? defaultPersona(o.task, o.family));
    const reference = renderPerformanceReference(persona.name, o.store, env, new Date());
    const system = o.systemPrompt ?? systemPrefix(persona, reference, o.family);
    const options: ExperimentOptions = {
      iterations: o.limits.iterations ?? DEFAULTS.iterations, maxUsd: o.limits.maxUsd ?? null, maxTokens: o.limits.maxTokens ?? null, maxMinutes: o.limits.maxMinutes ?? null,
      rounds: o.rounds ?? DEFAULTS.rounds, sampleMs: o.sampleMs ?? DEFAULTS.sampleMs, workload: 'throughput', seed: o.seed ?? Math.floor(Math.random() * 2 ** 31),
      replayOf: o.replayOf ?? null, baseUrl: o.baseUrl ?? null, structure: o.structure ?? null, sandbox: o.sandbox ?? true, minutesSpent: 0,
    };
    const tmpFrom = resolveStart(o.store, o.family, o.from, join(stateDir(o.store.path), 'experiments', 'start'));
    exp = exps.create({
      family: o.family, task: o.task, fromName: tmpFrom.name, fromHash: tmpFrom.hash, proposer: o.proposer.name, model: o.proposer.model, persona: persona.name, personaHash: persona.hash,
      systemPrompt: system, options, pid: process.pid, env, gitSha: env.git_sha,
    });
    from = tmpFrom;
    best = from;
  }
  o.onStart?.(exp);
  const options = exp.options;
  const dir = join(stateDir(o.store.path), 'experiments', exp.id);
  const ctx: EvaluateContext = {
    store: o.store, family: o.family, experimentId: exp.id, dir, from, best, workload: options.workload, rounds: options.rounds, sampleMs: options.sampleMs,
    sandbox: options.sandbox, threads: options.structure ? { producers: options.structure.producers, consumers: options.structure.consumers } : undefined, progress: o.progress, log: o.log,
  };
  const profiles = new Map<string, ProfileData>();
  const profileOf = async (b: Best): Promise<ProfileData> => {
    let p = profiles.get(b.hash);
    if (!p) {
      o.log(`perflab: profiling ${b.name} (callgrind)`);
      p = await profileVariant(o.family, b.path, { knobs: b.knobs, sandbox: options.sandbox && o.store.builtinHash(o.family, b.name) !== b.hash ? {} : false });
      profiles.set(b.hash, p);
    }
    return p;
  };

  let stoppedBy: StoppedBy | null = null;
  let note: string | null = null;
  const minutesSpent = () => options.minutesSpent + (Date.now() - started) / 60_000;
  const fromValue = benchMedian(o.store, o.family, from.name, options.structure);
  const originalAttempts = options.replayOf ? exps.attempts(options.replayOf) : [];
  try {
    for (;;) {
      const attempts = exps.attempts(exp.id);
      const calls = exps.calls(exp.id);
      const tokensOf = (c: ProposerCall) => c.usage.input_tokens + c.usage.output_tokens + c.usage.cache_creation_input_tokens + c.usage.cache_read_input_tokens;
      const spend = {
        tokens: calls.reduce((t, c) => t + tokensOf(c), 0),
        usd: calls.reduce((t, c) => t + (c.usd ?? 0), 0),
        maxCallTokens: Math.max(0, ...calls.map(tokensOf)),
        maxCallUsd: Math.max(0, ...calls.map((c) => c.usd ?? 0)),
      };
      stoppedBy = limitReached(options, attempts.length, minutesSpent(), spend);
      if (stoppedBy) break;
      if (o.signal?.aborted) {
        stoppedBy = 'interrupt';
        break;
      }
      const iteration = (attempts[attempts.length - 1]?.iteration ?? 0) + 1;
      const context = buildContext(o, exp, from, fromValue, best, iteration, attempts, await profileOf(best));
      const prompt = { persona: persona.name, personaHash: persona.hash, system: exp.systemPrompt, user: userMessage(context, persona.name) };
      o.progress.log(`perflab: #${iteration} asking ${o.proposer.name}${o.proposer.model ? ` (${o.proposer.model})` : ''}`);
      // A call recorded without its attempt (killed mid-evaluation) is reused, never paid for twice.
      const recorded = exps.call(exp.id, iteration);
      let proposal: Proposal;
      if (recorded) {
        proposal = proposalFromCall(recorded, o.task);
      } else {
        proposal = await o.proposer.propose({ prompt, context, signal: o.signal });
        if (proposal.kind === 'exhausted') {
          stoppedBy = 'done';
          note = proposal.reason;
          o.log(`perflab: ${o.proposer.name} has nothing more to propose: ${proposal.reason}`);
          break;
        }
        if (o.signal?.aborted && proposal.kind === 'failed') {
          stoppedBy = 'interrupt'; // the call was cut short: nothing to record, resume asks again
          break;
        }
        proposal = recordCall(exps, exp.id, iteration, persona, proposal);
        if (o.signal?.aborted) {
          stoppedBy = 'interrupt'; // the answer is recorded: resume evaluates it without paying again
          break;
        }
      }
      const t0 = Date.now();
      const seed = seedFor(options.seed, iteration);
      let attempt: Omit<AttemptSummary, 'iteration'> & { flags: string[]; isBest: boolean; parentHash: string | null; seed: number | null };
      const base = { parentHash: best.hash, seed: null as number | null, flags: [] as string[], isBest: false, ratio: null, ci95: null, compare: null, log: '' };
      if (proposal.kind === 'failed') {
        attempt = { ...base, hash: null, note: `${proposal.call.outcome} answer`, stage: 'propose', verdict: 'fail', reason: proposal.reason, knobs: {} };
      } else {
        // A replay applies each answer to the parent the original applied it to, so edits land on
        // the same code whatever the replay's own measurements made the best.
        const original = originalAttempts.find((a) => a.iteration === iteration);
        const parent = original?.parentHash && original.parentHash !== best.hash && o.store.variantByHash(original.parentHash) ? resolveStart(o.store, o.family, original.parentHash, dir) : best;
        const m = materialize(proposal.answer, parent);
        base.parentHash = parent.hash;
        if (!m.ok) {
          attempt = { ...base, hash: null, note: m.note, stage: 'propose', verdict: 'fail', reason: m.reason, knobs: {} };
        } else {
          const seen = attempts.find((a) => a.hash === m.hash);
          if (m.hash === from.hash || seen) {
            const what = m.hash === from.hash ? `the starting variant ${from.name}` : `iteration ${seen!.iteration} (${seen!.stage} ${seen!.verdict}${seen!.ratio !== null ? `, ${seen!.ratio.toFixed(2)}x` : ''})`;
            attempt = { ...base, hash: m.hash, note: m.note, stage: 'dedupe', verdict: 'fail', reason: `a repeat of ${what}: not evaluated again`, knobs: m.knobs };
          } else {
            ctx.best = best;
            const ev = await evaluateCandidate(ctx, { iteration, origin: o.proposer.name, source: m.source, language: m.language, knobs: m.knobs, hash: m.hash, note: m.note, seed });
            attempt = { ...base, hash: m.hash, note: m.note, stage: ev.stage, verdict: ev.verdict, ratio: ev.ratio, ci95: ev.ci95, compare: ev.compare, reason: ev.reason, log: ev.log, flags: ev.flags, knobs: m.knobs, seed, isBest: ev.best !== undefined };
            if (ev.best) best = ev.best;
          }
        }
      }
      exps.recordAttempt({ experimentId: exp.id, iteration, ...attempt, durationMs: Date.now() - t0 });
      // Best and time spent after every attempt, so an interrupt or a kill loses at most the iteration in flight.
      exps.update(exp.id, { bestHash: best.hash === from.hash ? null : best.hash, options: { ...options, minutesSpent: minutesSpent() } });
      o.onAttempt?.({ iteration, ...attempt, best: attempt.isBest }, exp.id);
    }
  } catch (err) {
    exps.update(exp.id, { status: 'stopped', stoppedBy: 'error', pid: null, options: { ...options, minutesSpent: minutesSpent() } });
    throw err;
  }

  let promoted = exps.get(exp.id)!.promoted;
  let confirmation: OptimizeReport['confirmation'] = null;
  if (stoppedBy !== 'interrupt' && best.hash !== from.hash && best.hash !== promoted?.hash) {
    // The best is re-confirmed in a fresh comparison before it is promoted.
    const r = await measure(ctx, from, best, 'confirm');
    const suspicious = r.flags.some((f) => f.startsWith('suspicious'));
    confirmation = { ratio: r.ratio, ci95: r.ci95, verdict: r.verdict, flags: r.flags, failure: r.failure ?? null };
    if (r.verdict === 'faster' && !suspicious && r.ratio !== null && r.ci95 !== null) {
      promoted = { name: best.name, hash: best.hash, ratio: r.ratio, ci95: r.ci95 };
      o.store.setVariantStatus(best.hash, 'promoted');
      o.log(`perflab: promoted ${best.name}: ${r.ratio.toFixed(3)}x [${r.ci95[0].toFixed(3)}, ${r.ci95[1].toFixed(3)}] over ${from.name}, confirmed`);
    } else {
      o.log(`perflab: the best (${best.name}) did not re-confirm (${r.failure ?? `${r.verdict}${suspicious ? ', suspicious' : ''}`}): not promoted`);
    }
  }
  exps.update(exp.id, { status: stoppedBy === 'interrupt' ? 'stopped' : 'done', stoppedBy, promoted, pid: null, options: { ...options, minutesSpent: minutesSpent() } });
  const report = experimentReport(o.store, exp.id);
  report.confirmation = confirmation;
  if (note) report.notes.push(note);
  if (options.replayOf) report.replay = { of: options.replayOf, diverged_at: o.proposer instanceof ReplayProposer ? o.proposer.divergedAt : null };
  return report;
}

/** The latest bench median of a variant's single-call throughput at the loop's thread counts, or null. */
function benchMedian(store: Store, family: QueueFamily, name: string, structure: ExperimentOptions['structure']): number | null {
  const params = family === 'spsc' ? { producers: 1, consumers: 1 } : { producers: structure?.producers ?? 2, consumers: structure?.consumers ?? 2 };
  const bench = store.runs({ family, workload: 'throughput', metric: 'items_per_s', source: 'bench' }).filter((r) => r.variant === name && r.params.producers === params.producers && r.params.consumers === params.consumers && (r.params.batch ?? 1) === 1);
  return bench.length ? bench[bench.length - 1]!.median : null;
}

/** The machine as a prompt shows it (a subset of the env fingerprint that does not change between calls). */
export function promptEnv(): Record<string, unknown> {
  const env = envFingerprint();
  return { cpu_model: env.cpu_model, cores: env.cores, kernel: env.kernel, compiler: env.compiler, cflags: env.cflags, valgrind: env.valgrind };
}

function buildContext(o: OptimizeOptions, exp: ExperimentRecord, from: Best, fromValue: number | null, best: Best, iteration: number, attempts: AttemptSummary[], profile: ProfileData): PromptContext {
  const metric = 'items_per_s';
  const spec = METRICS[metric]!;
  let knobSpace: PromptContext['knobSpace'] = [];
  try {
    knobSpace = parseKnobs(best.source);
  } catch {
    knobSpace = [];
  }
  return {
    task: exp.task === 'lock-free' ? 'lock-free' : 'optimize',
    family: o.family,
    experimentId: exp.id,
    iteration,
    from: { name: from.name, hash: from.hash },
    parent: { name: best.name, hash: best.hash, source: best.source, language: best.language, knobs: best.knobs },
    knobSpace,
    metrics: [{ metric, unit: spec.unit, from: fromValue, parent: fromValue !== null && best.ratio !== null ? fromValue * best.ratio : fromValue !== null && best.hash === from.hash ? fromValue : null, parentRatio: best.hash === from.hash ? 1 : best.ratio, parentCi95: best.ci95 }],
    target: { metric, ratio: 2.5 },
    attempts: attempts.map((a) => ({ iteration: a.iteration, hash: a.hash, note: a.note, stage: a.stage, verdict: a.verdict, ratio: a.ratio, ci95: a.ci95, compare: a.compare, reason: a.reason, log: a.log, knobs: a.knobs })),
    profile,
    env: promptEnv(),
    ...(exp.options.structure ? { structure: exp.options.structure } : {}),
  };
}
