/**
 * The tuner: no LLM. It searches the knobs the parent's source declares
 * (`perflab:knob` comments: padding, cached indices, memory ordering, batch
 * sizes, backoff...). Coordinate search around the current best: every
 * setting one knob away from it, in declaration order; when none is left,
 * the untried settings ranked by what the measured neighbours suggest; then
 * it says it is exhausted. It only proposes; the pipeline's verdict decides
 * what is better, exactly as for an LLM's candidate. Its answers are
 * recorded like any call, so a tuner experiment replays too.
 */
import { describeKnobs, sortKnobs } from '../knobs.js';
import { requestHash } from '../schema.js';
import { ZERO_USAGE, type AgentAnswer, type AttemptSummary, type KnobSpec, type Proposal, type ProposeRequest, type Proposer } from '../types.js';

/** Settings of a space beyond this many are not enumerated (ranking only looks at neighbours). */
const ENUMERATE_MAX = 4096;

/** Canonical key of a setting: defaults dropped, sorted. */
export function settingKey(space: KnobSpec[], knobs: Record<string, string>): string {
  return describeKnobs(canonical(space, knobs));
}

function canonical(space: KnobSpec[], knobs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of space) {
    const v = knobs[k.name];
    if (v !== undefined && v !== k.values[0]) out[k.name] = v;
  }
  return sortKnobs(out);
}

function* allSettings(space: KnobSpec[]): Generator<Record<string, string>> {
  const idx = space.map(() => 0);
  for (;;) {
    yield canonical(space, Object.fromEntries(space.map((k, i) => [k.name, k.values[idx[i]!]!])));
    let i = space.length - 1;
    while (i >= 0 && ++idx[i]! === space[i]!.values.length) idx[i--] = 0;
    if (i < 0) return;
  }
}

/** log of the measured ratio of an attempt (0 for the starting variant, undefined when not measured). */
function score(a: AttemptSummary): number | undefined {
  return a.ratio !== null && a.ratio > 0 ? Math.log(a.ratio) : undefined;
}

/** The next setting to try, or undefined when the space is exhausted. */
export function nextSetting(space: KnobSpec[], best: Record<string, string>, attempts: AttemptSummary[]): { knobs: Record<string, string>; why: string } | undefined {
  const tried = new Set<string>([settingKey(space, {})]);
  for (const a of attempts) if (a.stage !== 'propose') tried.add(settingKey(space, a.knobs));
  const bestC = canonical(space, best);
  // 1. Every setting one knob away from the current best.
  for (const k of space) {
    for (const v of k.values) {
      if ((bestC[k.name] ?? k.values[0]) === v) continue;
      const s = canonical(space, { ...bestC, [k.name]: v });
      if (!tried.has(settingKey(space, s))) return { knobs: s, why: `${k.name}=${v}, one knob away from the current best (${describeKnobs(bestC)})` };
    }
  }
  // 2. The untried settings, ranked by the mean measured score of their tried neighbours.
  const size = space.reduce((n, k) => n * k.values.length, 1);
  if (size > ENUMERATE_MAX) return undefined;
  const measured = attempts.filter((a) => score(a) !== undefined).map((a) => ({ s: canonical(space, a.knobs), v: score(a)! }));
  measured.push({ s: {}, v: 0 });
  const distance = (x: Record<string, string>, y: Record<string, string>) => space.filter((k) => (x[k.name] ?? k.values[0]) !== (y[k.name] ?? k.values[0])).length;
  let pick: { knobs: Record<string, string>; rank: number; n: number } | undefined;
  for (const s of allSettings(space)) {
    if (tried.has(settingKey(space, s))) continue;
    const near = measured.filter((m) => distance(m.s, s) === 1);
    const rank = near.length ? near.reduce((t, m) => t + m.v, 0) / near.length : -Infinity;
    if (!pick || rank > pick.rank) pick = { knobs: s, rank, n: near.length };
  }
  if (!pick) return undefined;
  return { knobs: pick.knobs, why: pick.n ? `untried setting whose ${pick.n} measured neighbour(s) score best` : 'untried setting (no measured neighbour)' };
}

export class TunerProposer implements Proposer {
  readonly name = 'tuner' as const;
  readonly model = null;

  async propose(request: ProposeRequest): Promise<Proposal> {
    const started = performance.now();
    const { context } = request;
    const space = context.knobSpace;
    if (space.length === 0) {
      return { kind: 'exhausted', reason: `${context.parent.name} declares no knobs (perflab:knob comments), so the tuner has nothing to search; start from a variant with knobs (spsc naive) or use an LLM proposer` };
    }
    const next = nextSetting(space, context.parent.knobs, context.attempts);
    if (!next) return { kind: 'exhausted', reason: `every setting of the ${space.length} knobs (${space.map((k) => `${k.name}=${k.values.join('|')}`).join(', ')}) has been tried` };
    // Every knob is set, defaults included: knobs an answer leaves out are inherited from the parent.
    const full = Object.fromEntries(space.map((k) => [k.name, next.knobs[k.name] ?? k.values[0]!]));
    const answer: AgentAnswer = {
      analysis: { summary: `tuner: ${next.why}`, bottlenecks: [] },
      optimizations: [{ title: describeKnobs(next.knobs), rationale: next.why, expected_gain: 'unknown until measured', risk: 'none beyond the knob values the variant declares' }],
      implementation: { knobs: full },
    };
    return {
      kind: 'answer',
      answer,
      call: {
        provider: 'tuner', model: null, requestHash: requestHash(request.prompt.system, request.prompt.user),
        usage: { ...ZERO_USAGE }, usd: 0, priceTable: null, latencyMs: performance.now() - started, stopReason: 'tuner', outcome: 'ok', error: null,
        response: JSON.stringify(answer),
      },
    };
  }
}
