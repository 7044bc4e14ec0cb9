/**
 * The conformance suite against every built-in queue variant, through the
 * runner in a child process (the same path `perflab bench` and `perflab check`
 * take), on the build selected by PERFLAB_BUILD (npm test runs both builds).
 */
import { describe, expect, it } from 'vitest';
import { buildVariant } from '../../src/pipeline/build.js';
import { builtinVariantNames, builtinVariantSource } from '../../src/native/sources.js';
import { runRunner } from '../../src/native/runner.js';
import type { QueueFamily } from '../../src/families/queue.js';

const families: QueueFamily[] = ['spsc', 'mpmc'];

for (const family of families) {
  describe(`${family} built-in variants`, () => {
    for (const name of builtinVariantNames(family)) {
      it(`${name}: passes the conformance suite (two seeds) and validated short runs`, async () => {
        const build = await buildVariant(builtinVariantSource(family, name)!, { family });
        for (const seed of [1, 20261122]) {
          const out = await runRunner(['--variant', build.path, '--family', family, '--workload', 'conformance', '--seed', String(seed)], { timeoutMs: 120_000 });
          expect(out.kind, out.kind === 'failed' ? out.reason : '').toBe('result');
          if (out.kind !== 'result') return;
          expect(out.result.ok, JSON.stringify(out.result.metrics)).toBe(true);
          expect(out.result.metrics.passed).toBe(true);
          expect(out.result.metrics.checks_run as number).toBeGreaterThan(5);
        }
        const mixes = family === 'spsc' ? [[1, 1]] : [[1, 1], [2, 2], [4, 4]];
        for (const [p, c] of mixes) {
          const out = await runRunner(['--variant', build.path, '--family', family, '--workload', 'throughput', '--producers', String(p), '--consumers', String(c), '--duration-ms', '100'], { timeoutMs: 60_000 });
          expect(out.kind, out.kind === 'failed' ? out.reason : '').toBe('result');
          if (out.kind !== 'result') return;
          expect(out.result.ok, out.result.error?.message).toBe(true);
          expect(out.result.metrics.items as number).toBeGreaterThan(0);
        }
        const lat = await runRunner(['--variant', build.path, '--family', family, '--workload', 'latency', '--duration-ms', '100'], { timeoutMs: 60_000 });
        expect(lat.kind === 'result' && lat.result.ok, lat.kind === 'failed' ? lat.reason : JSON.stringify(lat.kind === 'result' ? lat.result.error : null)).toBe(true);
      });
    }
  });
}
