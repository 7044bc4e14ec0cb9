/**
 * The evaluation cascade against the adversarial corpus, in one run: each
 * variant is rejected at the right stage (or accepted), with evidence, and the
 * harness survives the whole corpus. Variant code runs in the sandbox.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkVariant, type CheckStage } from '../../src/pipeline/check.js';
import type { QueueFamily } from '../../src/families/queue.js';

const dir = join(import.meta.dirname, 'variants');

const corpus: { file: string; family: QueueFamily; verdict: 'pass' | 'fail'; stage: CheckStage; reason: RegExp }[] = [
  { file: 'loses_under_contention.c', family: 'mpmc', verdict: 'fail', stage: 'conformance', reason: /lost \d+ item/ },
  { file: 'racy_relaxed.c', family: 'spsc', verdict: 'fail', stage: 'sanitize', reason: /TSan.*data race/ },
  { file: 'segfaults.c', family: 'spsc', verdict: 'fail', stage: 'sanitize', reason: /SEGV/ },
  { file: 'hangs.c', family: 'spsc', verdict: 'fail', stage: 'static', reason: /clock_gettime/ },
  { file: 'hangs_silently.c', family: 'spsc', verdict: 'fail', stage: 'conformance', reason: /hang: a queue call did not return/ },
  { file: 'fork_bomb.c', family: 'spsc', verdict: 'fail', stage: 'static', reason: /fork/ },
  { file: 'memory_hog.c', family: 'spsc', verdict: 'fail', stage: 'conformance', reason: /memory: exceeded/ },
  { file: 'exports_libc.c', family: 'spsc', verdict: 'fail', stage: 'static', reason: /interpose.*clock_gettime/ },
  { file: 'calls_socket.c', family: 'spsc', verdict: 'fail', stage: 'static', reason: /socket/ },
  { file: 'cheats_on_long_runs.c', family: 'spsc', verdict: 'fail', stage: 'conformance', reason: /expected seq/ },
  { file: 'fake_result.c', family: 'spsc', verdict: 'fail', stage: 'static', reason: /write|_exit/ },
  { file: 'drops_items.c', family: 'spsc', verdict: 'fail', stage: 'conformance', reason: /conformance check \w+ failed/ },
  { file: 'slow_but_correct.c', family: 'spsc', verdict: 'pass', stage: 'conformance', reason: /passed/ },
  // correct and faster than naive: the built-in cached-index source, checked as a file like any candidate
  { file: '../../../native/variants/spsc/cached_index.c', family: 'spsc', verdict: 'pass', stage: 'conformance', reason: /passed/ },
];

describe('perflab check on the adversarial corpus', () => {
  for (const c of corpus) {
    it(`${c.file}: ${c.verdict} at ${c.stage}`, { timeout: 240_000 }, async () => {
      const r = await checkVariant(c.family, c.file, join(dir, c.file), { seed: 7 });
      expect({ verdict: r.verdict, stage: r.stage }, `${r.reason}\n${r.log}`).toEqual({ verdict: c.verdict, stage: c.stage });
      expect(r.reason).toMatch(c.reason);
      expect(r.seed).toBe(7);
      if (r.verdict === 'fail') expect(r.stages.at(-1)).toMatchObject({ stage: c.stage, verdict: 'fail' });
      else expect(r.stages.map((s) => s.stage)).toEqual(['compile', 'static', 'sanitize', 'conformance']);
    });
  }

  it('a built-in variant still passes after the whole corpus (the harness survived)', { timeout: 120_000 }, async () => {
    const r = await checkVariant('mpmc', 'vyukov', join(import.meta.dirname, '../../native/variants/mpmc/vyukov.c'), { seed: 11 });
    expect(r.verdict, r.reason).toBe('pass');
  });
});
