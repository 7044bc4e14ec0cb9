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
import { ZERO_USAGE, type Proposal, type ProposeRequest, type Proposer } from '../types.js';

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
    const call = {
      provider: 'replay' as const, model: recorded.model, requestHash: hash, usage: { ...ZERO_USAGE }, usd: 0, priceTable: null,
      latencyMs: performance.now() - started, stopReason: recorded.stopReason, outcome: recorded.outcome, error: recorded.error, response: recorded.response,
    };
    if (recorded.outcome !== 'ok') return { kind: 'failed', reason: recorded.error ?? `recorded ${recorded.outcome} answer`, call };
    let json: unknown;
    try {
      json = JSON.parse(recorded.response);
    } catch {
      return { kind: 'failed', reason: 'the recorded answer is not JSON', call: { ...call, outcome: 'invalid' } };
    }
    const parsed = parseAnswer(json, { task: request.context.task });
    if (!parsed.ok) return { kind: 'failed', reason: parsed.reason, call: { ...call, outcome: 'invalid' } };
    return { kind: 'answer', answer: parsed.answer, call };
  }
}
