/**
 * `perflab agent profile --variant V`: the variant's profile (instructions per
 * push+pop and the hot functions, from callgrind) plus, when a model is
 * available, the persona's analysis of it in the seeds' answer schema. The
 * call is recorded (an experiment of task `profile`) like any other.
 */
import { join } from 'node:path';
import type { QueueFamily } from '../families/queue.js';
import { envFingerprint } from '../pipeline/env.js';
import { profileVariant } from '../pipeline/profile.js';
import { stateDir } from '../paths.js';
import { Experiments } from '../store/experiments.js';
import type { Store } from '../store/store.js';
import { parseKnobs } from './knobs.js';
import { promptEnv, resolveStart } from './loop.js';
import { defaultPersona, loadPersona } from './personas.js';
import { systemPrefix, userMessage } from './prompt.js';
import { renderPerformanceReference } from './reference.js';
import type { AgentAnswer, ProfileData, Proposer, PromptContext } from './types.js';

export interface ProfileTaskReport {
  schema_version: 1;
  family: QueueFamily;
  variant: string;
  hash: string;
  profile: ProfileData;
  persona: string | null;
  /** The persona's answer ({ analysis, optimizations, implementation }), or null without a model. */
  answer: AgentAnswer | null;
  call: { provider: string; model: string | null; outcome: string; input_tokens: number; output_tokens: number; cache_read_input_tokens: number; usd: number | null; latency_ms: number; stop_reason: string | null; error: string | null } | null;
  experiment_id: string | null;
  note: string | null;
}

export async function runProfileTask(o: { store: Store; family: QueueFamily; variant: string; proposer: Proposer; persona?: string; sandbox: boolean; log: (s: string) => void; signal?: AbortSignal }): Promise<ProfileTaskReport> {
  const v = resolveStart(o.store, o.family, o.variant, join(stateDir(o.store.path), 'experiments', 'start'));
  const builtin = o.store.builtinHash(o.family, v.name) === v.hash;
  o.log(`perflab: profiling ${v.name} under callgrind${builtin || !o.sandbox ? '' : ' (sandboxed)'}`);
  const profile = await profileVariant(o.family, v.path, { knobs: v.knobs, sandbox: builtin || !o.sandbox ? false : {} });
  const report: ProfileTaskReport = { schema_version: 1, family: o.family, variant: v.name, hash: v.hash, profile, persona: null, answer: null, call: null, experiment_id: null, note: null };
  if (o.proposer.name === 'tuner') {
    report.note = 'no analysis: the tuner uses no model (set ANTHROPIC_API_KEY, or --proposer openai-compatible --base-url URL)';
    return report;
  }
  const env = envFingerprint();
  const persona = loadPersona(o.persona ?? defaultPersona('profile', o.family));
  const system = systemPrefix(persona, renderPerformanceReference(persona.name, o.store, env, new Date()), o.family);
  const exps = new Experiments(o.store);
  const exp = exps.create({
    family: o.family, task: 'profile', fromName: v.name, fromHash: v.hash, proposer: o.proposer.name, model: o.proposer.model, persona: persona.name, personaHash: persona.hash, systemPrompt: system,
    options: { iterations: 1, maxUsd: null, maxTokens: null, maxMinutes: null, rounds: 0, sampleMs: 0, workload: 'op_cost', seed: 0, replayOf: null, baseUrl: null, structure: null, sandbox: o.sandbox, minutesSpent: 0 },
    pid: process.pid, env, gitSha: env.git_sha,
  });
  report.experiment_id = exp.id;
  report.persona = persona.name;
  let knobSpace: PromptContext['knobSpace'] = [];
  try {
    knobSpace = parseKnobs(v.source);
  } catch {
    /* an undeclarable knob is not the profile's business */
  }
  const context: PromptContext = {
    task: 'profile', family: o.family, experimentId: exp.id, iteration: 1, from: { name: v.name, hash: v.hash },
    parent: { name: v.name, hash: v.hash, source: v.source, language: v.language, knobs: v.knobs }, knobSpace,
    metrics: [{ metric: 'instructions_per_op', unit: 'instructions', from: profile.instructions_per_op, parent: profile.instructions_per_op, parentRatio: 1, parentCi95: null }],
    target: { metric: 'instructions_per_op', ratio: 1 }, attempts: [], profile,
    env: promptEnv(),
  };
  const prompt = { persona: persona.name, personaHash: persona.hash, system, user: userMessage(context, persona.name) };
  o.log(`perflab: asking ${o.proposer.name}${o.proposer.model ? ` (${o.proposer.model})` : ''} for the ${persona.name}'s analysis`);
  const proposal = await o.proposer.propose({ prompt, context, signal: o.signal });
  if (proposal.kind === 'exhausted') {
    report.note = proposal.reason;
  } else {
    exps.recordCall(exp.id, 1, persona, proposal.call);
    const c = proposal.call;
    report.call = { provider: c.provider, model: c.model, outcome: c.outcome, input_tokens: c.usage.input_tokens, output_tokens: c.usage.output_tokens, cache_read_input_tokens: c.usage.cache_read_input_tokens, usd: c.usd, latency_ms: Math.round(c.latencyMs), stop_reason: c.stopReason, error: c.error };
    if (proposal.kind === 'answer') {
      report.answer = proposal.answer;
    } else {
      report.note = `no analysis: ${proposal.reason}`;
    }
  }
  exps.update(exp.id, { status: 'done', stoppedBy: 'done', pid: null });
  return report;
}
