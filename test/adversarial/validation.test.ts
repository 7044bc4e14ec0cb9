/**
 * Variants that lose or duplicate items get a failed result with the reason,
 * never a number: from the runner, from the conformance suite, and in the bench.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildVariant } from '../../src/pipeline/build.js';
import { runRunner } from '../../src/native/runner.js';
import { benchQueueFamily } from '../../src/pipeline/bench-queue.js';
import { silentProgress } from '../../src/pipeline/bench-types.js';

const dir = join(import.meta.dirname, 'variants');

describe('validation catches cheating variants', () => {
  for (const [file, word] of [['drops_items.c', /lost|missing|never delivered|expected/i], ['duplicates.c', /duplicate|twice|expected|out of order/i]] as const) {
    it(`${file}: throughput run is invalid with a reason`, async () => {
      const build = await buildVariant(join(dir, file), { family: 'spsc' });
      const out = await runRunner(['--variant', build.path, '--family', 'spsc', '--workload', 'throughput', '--duration-ms', '100'], { timeoutMs: 60_000 });
      expect(out.kind).toBe('result');
      if (out.kind !== 'result') return;
      expect(out.result.ok).toBe(false);
      expect(out.exitCode).toBe(1);
      expect(out.result.error?.kind).toBe('invalid');
      expect(out.result.error?.message).toMatch(word);
      expect(out.result.metrics.items_per_s).toBeUndefined();
    });

    it(`${file}: fails the conformance suite`, async () => {
      const build = await buildVariant(join(dir, file), { family: 'spsc' });
      const out = await runRunner(['--variant', build.path, '--family', 'spsc', '--workload', 'conformance', '--seed', '3'], { timeoutMs: 120_000 });
      expect(out.kind).toBe('result');
      if (out.kind !== 'result') return;
      expect(out.result.ok).toBe(false);
      expect(out.result.metrics.passed).toBe(false);
      expect(String(out.result.metrics.reason).length).toBeGreaterThan(0);
    });
  }

  it('the bench gates on conformance: a lossy variant is under failures, with no number', async () => {
    const r = await benchQueueFamily({
      family: 'spsc', variants: ['naive', join(dir, 'drops_items.c')], workloads: ['throughput'], samples: 1, warmup: false,
      timing: { durationMs: 80, opCostOps: 1000 }, progress: silentProgress,
    });
    expect(r.results.some((x) => x.variant === 'drops_items.c')).toBe(false);
    // caught by the conformance gate before any sample is taken
    expect(r.failures.find((f) => f.variant === 'drops_items.c')?.reason).toMatch(/^conformance: /);
    expect(r.results.some((x) => x.variant === 'naive' && x.median > 0)).toBe(true);
  });
});
