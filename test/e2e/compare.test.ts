/** `perflab compare` and `perflab check` as a user runs them (compiled bin, real processes). */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';

const run = promisify(execFile);
const root = packageRoot();
const store = join(mkdtempSync(join(tmpdir(), 'perflab-cmp-')), 'perflab.db');

async function perflab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [join(root, 'bin', 'perflab.js'), ...args], { timeout: 300_000, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1', PERFLAB_STORE: store } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('perflab compare', () => {
  it('prints one document of the INTERFACES.md shape with interleaved a/b/a2 runs', { timeout: 300_000 }, async () => {
    const r = await perflab(['compare', '--family', 'spsc', 'naive', 'cached-index', '--rounds', '4', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schema_version: 1, a: 'naive', b: 'cached-index', workload: 'throughput', metric: 'items_per_s' });
    expect(['faster', 'slower', 'same', 'inconclusive']).toContain(doc.verdict);
    expect(doc.ci95[0]).toBeLessThanOrEqual(doc.ratio);
    expect(doc.ci95[1]).toBeGreaterThanOrEqual(doc.ratio);
    expect(doc.noise_floor).toHaveLength(2);
    expect(doc.p_value).toBeGreaterThan(0);
    expect(doc.p_value).toBeLessThanOrEqual(1);
    // 4 measured rounds + a discarded warm-up round, three arms each, order rotated
    expect(doc.runs).toHaveLength(15);
    const firstArms = [0, 1, 2].map((round) => doc.runs.find((x: { round: number }) => x.round === round).arm);
    expect(new Set(firstArms).size).toBe(3);
    expect(doc.runs.filter((x: { discarded: boolean }) => x.discarded)).toHaveLength(3);
    // recorded in the store
    const { openStore } = await import('../../src/store/index.js');
    using s = openStore(store);
    const rows = s.comparisons({ family: 'spsc' });
    expect(rows.some((c) => c.aName === 'naive' && c.bName === 'cached-index' && c.runs.length === 15)).toBe(true);
  });

  it('flags a speedup beyond 5x the best built-in recorded here as suspicious', { timeout: 300_000 }, async () => {
    const { openStore } = await import('../../src/store/index.js');
    {
      // a recorded bench where the best built-in did only 1000 items/s: any real queue is then "too good"
      using s = openStore(store);
      s.recordRun({
        family: 'spsc', variant: 'naive', workload: 'throughput', params: { producers: 1, consumers: 1, capacity: 1024, batch: 1 },
        metric: 'items_per_s', unit: 'items/s', higherIsBetter: true, median: 1000, ci95: [900, 1100], samples: [900, 1000, 1100], env: {}, source: 'bench',
      });
    }
    const r = await perflab(['compare', '--family', 'spsc', 'naive', 'padded', '--rounds', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.flags.join(' ')).toMatch(/^suspicious: padded measures [\d.]+x the best built-in recorded here \(naive/);
  });

  it('op_cost comparisons are exact: a variant against itself is "same" with a zero-width noise floor', { timeout: 300_000 }, async () => {
    const r = await perflab(['compare', '--family', 'mpmc', 'vyukov', 'vyukov', '--workload', 'op_cost', '--rounds', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.noise_floor).toEqual([1, 1]);
    expect(doc.ratio).toBe(1);
    expect(doc.verdict).toBe('same');
  });

  it('refuses to compare a variant that fails conformance', { timeout: 300_000 }, async () => {
    const r = await perflab(['compare', '--family', 'spsc', 'naive', join(root, 'test/adversarial/variants/drops_items.c'), '--rounds', '3', '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.flags).toContain('failed-conformance');
    expect(doc.ratio).toBeNull();
  });

  it('check --json: the INTERFACES.md document, recorded in the store; variants lists it', { timeout: 300_000 }, async () => {
    const r = await perflab(['check', '--family', 'spsc', join(root, 'test/adversarial/variants/exports_libc.c'), '--seed', '42', '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schema_version: 1, verdict: 'fail', stage: 'static', seed: 42 });
    expect(doc.reason).toMatch(/clock_gettime/);
    const v = await perflab(['variants', '--family', 'spsc', '--json']);
    expect(v.code, v.stderr).toBe(0);
    const listed = JSON.parse(v.stdout).variants.find((x: { name: string }) => x.name === 'exports_libc.c');
    expect(listed).toMatchObject({ family: 'spsc', origin: 'file', status: 'failed' });
    const bad = await perflab(['check', '--family', 'spsc', 'naive', '--seed', 'abc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--seed must be an integer/);
  });
});
