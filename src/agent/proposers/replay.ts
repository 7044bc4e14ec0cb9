/**
 * Replay: answers from the calls an earlier experiment recorded, by iteration,
 * offline. The same answers go through the same pipeline with the same seeds,
 * so the candidates and their stage outcomes come out the same; measured
 * ratios are measured anew. Each request is hashed as the original was: the
 * first iteration whose hash differs is where the replay diverges (usually
 * because measured numbers fed back into the prompt differ), and it is reported.
 */
import type { Experiments } from '../../store/experiments.js';
import { parseAnswer, requestHash } from '../schema.js';
import { ZERO_USAGE, type AgentTask, type Proposal, type ProposeRequest, type Proposer, type ProposerCall } from '../types.js';

/** A recorded call as the proposal it was: its answer again, or its failure (replay, and a resume reusing a paid call). */
export function proposalFromCall(call: ProposerCall, task: AgentTask): Exclude<Proposal, { kind: 'exhausted' }> {
  if (call.outcome !== 'ok') return { kind: 'failed', reason: call.error ?? `recorded ${call.outcome} answer`, call };
  const parsed = parseAnswer(call.response, { task });
  return parsed.ok ? { kind: 'answer', answer: parsed.answer, call } : { kind: 'failed', reason: parsed.reason, call: { ...call, outcome: 'invalid' } };
}

export class ReplayProposer implements Proposer {
  readonly name = 'replay' as const;
  readonly model: string | null;
  /** The first iteration whose request differed from the recorded one, if any. */
  divergedAt: number | null = null;

  constructor(private readonly experiments: Experiments, readonly of: string) {
    const original = experiments.get(of);
    this.model = original?.model ?? null;
  }

  async propose(request: ProposeRequest): Promise<Proposal> {
    const started = performance.now();
    const iteration = request.context.iteration;
    const recorded = this.experiments.call(this.of, iteration);
    if (!recorded) return { kind: 'exhausted', reason: `experiment ${this.of} recorded no call for iteration ${iteration}: the replay is complete` };
    const hash = requestHash(request.prompt.system, request.prompt.user);
    if (hash !== recorded.requestHash && this.divergedAt === null) this.divergedAt = iteration;
    return proposalFromCall({ ...recorded, provider: 'replay', requestHash: hash, usage: { ...ZERO_USAGE }, usd: 0, priceTable: null, latencyMs: performance.now() - started }, request.context.task);
  }
}
