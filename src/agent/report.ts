/**
 * The `perflab optimize --json` document (INTERFACES.md) built from the store,
 * so a finished, interrupted or resumed experiment reports the same way, and
 * the human rendering: one table row per attempt as it lands (the live table)
 * and a summary.
 */
import pc from 'picocolors';
import { Experiments, type Promoted, type StoppedBy } from '../store/experiments.js';
import type { Store } from '../store/store.js';
import { describeKnobs } from './knobs.js';
import type { AttemptSummary } from './types.js';

export interface ReportAttempt {
  iteration: number;
  hash: string | null;
  stage: string;
  verdict: 'pass' | 'fail';
  ratio: number | null;
  ci95: [number, number] | null;
  reason: string;
  note: string;
  compare: string | null;
  best: boolean;
  knobs: Record<string, string>;
  flags: string[];
}

export interface OptimizeReport {
  schema_version: 1;
  experiment_id: string;
  family: string;
  from: string;
  task: string;
  proposer: string;
  model: string | null;
  persona: string;
  persona_hash: string;
  attempts: ReportAttempt[];
  best: { name: string; hash: string; ratio: number | null; ci95: [number, number] | null } | null;
  promoted: Promoted | null;
  /** The fresh comparison the best went through before promotion (this session), if any. */
  confirmation: { ratio: number | null; ci95: [number, number] | null; verdict: string; flags: string[]; failure: string | null } | null;
  stopped_by: StoppedBy | null;
  status: string;
  usage: { input_tokens: number; output_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number; usd: number; unpriced_calls: number };
  calls: number;
  replay: { of: string; diverged_at: number | null } | null;
  notes: string[];
}

export function experimentReport(store: Store, id: string): OptimizeReport {
  const exps = new Experiments(store);
  const e = exps.get(id);
  if (!e) throw new Error(`no experiment ${id}`);
  const attempts = exps.attempts(id);
  const bestAttempt = attempts.find((a) => a.isBest);
  const bestVariant = bestAttempt?.hash ? store.variantByHash(bestAttempt.hash) : undefined;
  return {
    schema_version: 1,
    experiment_id: e.id,
    family: e.family,
    from: e.fromName,
    task: e.task,
    proposer: e.proposer,
    model: e.model,
    persona: e.persona,
    persona_hash: e.personaHash,
    attempts: attempts.map((a) => ({ iteration: a.iteration, hash: a.hash, stage: a.stage, verdict: a.verdict, ratio: a.ratio, ci95: a.ci95, reason: a.reason, note: a.note, compare: a.compare, best: a.isBest, knobs: a.knobs, flags: a.flags })),
    best: bestAttempt && bestVariant ? { name: bestVariant.name, hash: bestVariant.hash, ratio: bestAttempt.ratio, ci95: bestAttempt.ci95 } : null,
    promoted: e.promoted,
    confirmation: null,
    stopped_by: e.stoppedBy,
    status: e.status,
    usage: exps.usage(id),
    calls: exps.calls(id).length,
    replay: e.options.replayOf ? { of: e.options.replayOf, diverged_at: null } : null,
    notes: [],
  };
}

const HEAD = `${'#'.padStart(3)}  ${'candidate'.padEnd(36)} ${'stage'.padEnd(11)} ${'result'.padEnd(28)} reason`;

/** The live table's header. */
export function attemptTableHeader(): string {
  return pc.bold(HEAD);
}

/** One attempt as a table row (the live table prints each as it lands). */
export function attemptRow(a: AttemptSummary & { best: boolean }): string {
  const what = (a.note || describeKnobs(a.knobs)).slice(0, 36).padEnd(36);
  const result = a.ratio !== null && a.ci95 ? `${a.ratio.toFixed(2)}x [${a.ci95[0].toFixed(2)}, ${a.ci95[1].toFixed(2)}] ${a.compare ?? ''}` : a.verdict;
  const colour = a.best ? pc.green : a.verdict === 'fail' ? pc.red : (s: string) => s;
  const reason = a.reason.replace(/\s+/g, ' ').slice(0, 90);
  return colour(`${String(a.iteration).padStart(3)}  ${what} ${a.stage.padEnd(11)} ${result.padEnd(28)} ${a.best ? '* best ' : ''}${reason}`);
}

export function renderReport(r: OptimizeReport): string {
  const lines = [`perflab optimize ${r.family} from ${r.from}: experiment ${r.experiment_id} (${r.proposer}${r.model ? `, ${r.model}` : ''}; persona ${r.persona})`, attemptTableHeader()];
  for (const a of r.attempts) lines.push(attemptRow({ ...a, log: '' }));
  lines.push(`stopped by: ${r.stopped_by ?? 'still running'}; ${r.attempts.length} attempts, ${r.calls} proposer calls`);
  const u = r.usage;
  if (r.proposer === 'anthropic' || r.proposer === 'openai-compatible') {
    lines.push(`usage: ${u.input_tokens} input, ${u.output_tokens} output, ${u.cache_creation_input_tokens} cache-write, ${u.cache_read_input_tokens} cache-read tokens; $${u.usd.toFixed(4)}${u.unpriced_calls ? ` (+${u.unpriced_calls} unpriced calls)` : ''}`);
  }
  if (r.best) lines.push(`best: ${r.best.name} ${r.best.ratio?.toFixed(3)}x [${r.best.ci95?.[0].toFixed(3)}, ${r.best.ci95?.[1].toFixed(3)}] over ${r.from}`);
  if (r.confirmation) lines.push(`re-confirmation: ${r.confirmation.failure ?? `${r.confirmation.ratio?.toFixed(3)}x [${r.confirmation.ci95?.[0].toFixed(3)}, ${r.confirmation.ci95?.[1].toFixed(3)}] ${r.confirmation.verdict}`}`);
  lines.push(r.promoted ? pc.green(`promoted: ${r.promoted.name} (${r.promoted.hash}) ${r.promoted.ratio.toFixed(3)}x [${r.promoted.ci95[0].toFixed(3)}, ${r.promoted.ci95[1].toFixed(3)}]`) : 'promoted: nothing');
  if (r.replay) lines.push(`replay of ${r.replay.of}: ${r.replay.diverged_at === null ? 'every request matched the recorded one' : `requests diverge from iteration ${r.replay.diverged_at} (the measured numbers fed back differ)`}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  if (r.stopped_by === 'interrupt') lines.push(`resume with: perflab optimize --family ${r.family} --from ${r.from} --proposer ${r.proposer} --resume ${r.experiment_id}`);
  return lines.join('\n');
}
