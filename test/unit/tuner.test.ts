/** Knob declarations, the tuner's search order, and answers turned into candidates. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { materialize } from '../../src/agent/candidate.js';
import { parseKnobs, validateKnobs } from '../../src/agent/knobs.js';
import { limitReached } from '../../src/agent/loop.js';
import { nextSetting, settingKey, TunerProposer } from '../../src/agent/proposers/tuner.js';
import type { AgentAnswer, AttemptSummary, PromptContext } from '../../src/agent/types.js';
import { builtinVariantSource } from '../../src/native/sources.js';
import type { ExperimentOptions } from '../../src/store/experiments.js';
import { variantHash } from '../../src/store/store.js';

const naive = readFileSync(builtinVariantSource('spsc', 'naive')!, 'utf8');

const attempt = (iteration: number, knobs: Record<string, string>, ratio: number | null): AttemptSummary => ({
  iteration, hash: null, note: '', stage: ratio === null ? 'compile' : 'compare', verdict: ratio === null ? 'fail' : 'pass', ratio, ci95: ratio === null ? null : [ratio * 0.9, ratio * 1.1], compare: null, reason: '', log: '', knobs,
});

describe('knobs', () => {
  it('naive declares its knobs, defaults first', () => {
    expect(parseKnobs(naive)).toEqual([
      { name: 'NAIVE_CACHE', values: ['0', '1'] },
      { name: 'NAIVE_PAD', values: ['0', '1'] },
      { name: 'NAIVE_ORDER', values: ['0', '1'] },
    ]);
  });

  it('malformed declarations and settings are refused with the reason', () => {
    expect(() => parseKnobs('/* perflab:knob X=1 */')).toThrow(/two or more values/);
    expect(() => parseKnobs('/* perflab:knob X=1|1 */')).toThrow(/twice/);
    expect(() => parseKnobs('/* perflab:knob X=1|$(rm) */')).toThrow(/number or identifier/);
    const space = parseKnobs(naive);
    expect(validateKnobs(space, { NOPE: '1' })).toMatchObject({ ok: false, reason: expect.stringMatching(/not declared/) });
    expect(validateKnobs(space, { NAIVE_PAD: '7' })).toMatchObject({ ok: false, reason: expect.stringMatching(/not one of/) });
    // defaults are dropped: the same build as no -D at all, so the same hash
    expect(validateKnobs(space, { NAIVE_PAD: '0', NAIVE_ORDER: '1' })).toEqual({ ok: true, knobs: { NAIVE_ORDER: '1' } });
  });
});

describe('the tuner', () => {
  const space = parseKnobs(naive);

  it('walks every setting once, one knob away from the best first, then says it is exhausted', async () => {
    const attempts: AttemptSummary[] = [];
    let best: Record<string, string> = {};
    const ratios: Record<string, number> = { 'NAIVE_ORDER=1': 3, 'NAIVE_CACHE=1 NAIVE_ORDER=1': 4 };
    const seen: string[] = [];
    for (let i = 1; i <= 20; i++) {
      const next = nextSetting(space, best, attempts);
      if (!next) break;
      const key = settingKey(space, next.knobs);
      expect(seen).not.toContain(key);
      seen.push(key);
      const r = ratios[key] ?? 0.9;
      attempts.push(attempt(i, next.knobs, r));
      if (r > (ratios[settingKey(space, best)] ?? 1)) best = next.knobs;
    }
    expect(seen.length).toBe(7); // 2^3 settings, less the start
    expect(seen.slice(0, 3)).toEqual(['NAIVE_CACHE=1', 'NAIVE_PAD=1', 'NAIVE_ORDER=1']);
    expect(seen[3]).toBe('NAIVE_CACHE=1 NAIVE_ORDER=1'); // one away from the new best
  });

  it('answers with every knob set, so nothing is inherited from the parent by omission', async () => {
    const ctx = {
      task: 'optimize', family: 'spsc', experimentId: 'x', iteration: 2, from: { name: 'naive', hash: 'h' },
      parent: { name: 'best', hash: 'b', source: naive, language: 'c', knobs: { NAIVE_CACHE: '1', NAIVE_ORDER: '1' } },
      knobSpace: space, metrics: [], target: { metric: 'items_per_s', ratio: 2.5 }, attempts: [attempt(1, { NAIVE_CACHE: '1', NAIVE_ORDER: '1' }, 4)], profile: null, env: {},
    } as PromptContext;
    const p = await new TunerProposer().propose({ prompt: { persona: 'p', personaHash: 'h', system: 's', user: 'u' }, context: ctx });
    expect(p.kind).toBe('answer');
    if (p.kind !== 'answer') return;
    expect(Object.keys(p.answer.implementation.knobs!).sort()).toEqual(['NAIVE_CACHE', 'NAIVE_ORDER', 'NAIVE_PAD']);
    const m = materialize(p.answer, { source: naive, language: 'c', knobs: ctx.parent.knobs });
    expect(m.ok && settingKey(space, m.knobs)).toBe('NAIVE_ORDER=1'); // CACHE flipped back to its default
    expect(p.call.usage.input_tokens).toBe(0);
  });

  it('is exhausted at once on a variant without knobs', async () => {
    const ctx = { parent: { name: 'cached-index', knobs: {} }, knobSpace: [], attempts: [] } as unknown as PromptContext;
    const p = await new TunerProposer().propose({ prompt: { persona: 'p', personaHash: 'h', system: 's', user: 'u' }, context: ctx });
    expect(p).toMatchObject({ kind: 'exhausted', reason: expect.stringMatching(/declares no knobs/) });
  });
});

describe('answers become candidates', () => {
  const answer = (implementation: AgentAnswer['implementation']): AgentAnswer => ({ analysis: { summary: 's', bottlenecks: [] }, optimizations: [{ title: 't', rationale: 'r', expected_gain: 'g', risk: 'k' }], implementation });
  const parent = { source: naive, language: 'c' as const, knobs: { NAIVE_ORDER: '1' } };

  it('edits apply in order to the parent; knobs carry over; the hash covers source and knobs', () => {
    const m = materialize(answer({ edits: [{ search: '#define NAIVE_LINE 64', replace: '#define NAIVE_LINE 64 /* one line */' }] }), parent);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.source).toContain('/* one line */');
    expect(m.knobs).toEqual({ NAIVE_ORDER: '1' });
    expect(m.hash).toBe(variantHash(m.source, { NAIVE_ORDER: '1' }));
  });

  it('bad answers fail with the reason, before anything is built', () => {
    const bad: [AgentAnswer['implementation'], RegExp][] = [
      [{ edits: [{ search: 'not in the source', replace: 'x' }] }, /does not occur/],
      [{ edits: [{ search: 'q->', replace: 'x' }] }, /more than once/],
      [{ files: [{ path: 'a.c', content: 'x' }, { path: 'b.c', content: 'y' }] }, /exactly one/],
      [{ files: [{ path: 'a.py', content: 'x' }] }, /not a \.c or \.cc/],
      [{ files: [{ path: 'a.c', content: '  ' }] }, /empty/],
      [{ knobs: { NAIVE_PAD: '9' } }, /not one of/],
    ];
    for (const [impl, reason] of bad) {
      const m = materialize(answer(impl), parent);
      expect(m.ok).toBe(false);
      if (!m.ok) expect(m.reason).toMatch(reason);
    }
  });
});

describe('limits', () => {
  const o = { iterations: 5, maxUsd: 1, maxTokens: 10_000, maxMinutes: 2 } as ExperimentOptions;
  const spend = { tokens: 0, usd: 0, maxCallTokens: 0, maxCallUsd: 0 };
  it('each limit stops the loop before the call that could pass it', () => {
    expect(limitReached(o, 0, 0, spend)).toBeNull();
    expect(limitReached(o, 5, 0, spend)).toBe('iterations');
    expect(limitReached(o, 1, 2, spend)).toBe('minutes');
    expect(limitReached(o, 1, 0, { ...spend, tokens: 6000, maxCallTokens: 5000 })).toBe('tokens');
    expect(limitReached(o, 1, 0, { ...spend, tokens: 4000, maxCallTokens: 5000 })).toBeNull();
    expect(limitReached(o, 1, 0, { ...spend, usd: 0.6, maxCallUsd: 0.5 })).toBe('usd');
    expect(limitReached({ ...o, maxUsd: null, maxTokens: null, maxMinutes: null }, 1, 99, { tokens: 1e9, usd: 1e9, maxCallTokens: 1e9, maxCallUsd: 1e9 })).toBeNull();
  });
});
