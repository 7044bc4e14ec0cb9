// The `js` bench family's measurement code: every cross-worker scenario runs a
// short sample that validates (no assertion on speed), the child entry prints
// exactly one JSON line, and the per-call measurement returns tinybench
// statistics. Producers run from dist/: run `npx tsc -p tsconfig.json` first.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCrossWorkerSample } from '../../src/families/js/cross-worker.js';
import { measurePerCall } from '../../src/families/js/per-call.js';
import { CROSS_WORKER_SCENARIOS, type CrossWorkerScenario } from '../../src/families/js/scenarios.js';

describe('cross-worker samples', () => {
  it.each(CROSS_WORKER_SCENARIOS)('%s: a short sample is valid and moves items', async (scenario) => {
    const sample = await runCrossWorkerSample(scenario, { durationMs: 150 });
    expect(sample.reason).toBeUndefined();
    expect(sample.valid).toBe(true);
    expect(sample.scenario).toBe(scenario);
    expect(sample.items).toBeGreaterThan(0);
    expect(sample.elapsed_ns).toBeGreaterThan(0);
    expect(sample.items_per_s).toBeGreaterThan(0);
    expect(sample.batch).toBe(scenario.endsWith('batch') || scenario.endsWith('bulk') ? 256 : 1);
  });

  it('rejects an unknown scenario and a bad duration', async () => {
    await expect(runCrossWorkerSample('carrier-pigeon' as CrossWorkerScenario, { durationMs: 10 })).rejects.toThrow(RangeError);
    await expect(runCrossWorkerSample('spsc-native', { durationMs: 0 })).rejects.toThrow(/durationMs must be a number in \(0, 600000\]/);
  });

  it('sample-child prints exactly one JSON line', () => {
    const child = fileURLToPath(new URL('../../dist/families/js/sample-child.js', import.meta.url));
    const run = spawnSync(process.execPath, [child, '--scenario', 'spsc-native', '--duration-ms', '100'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    const lines = run.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0]!);
    expect(doc).toMatchObject({ schema_version: 1, scenario: 'spsc-native', valid: true });
    const bad = spawnSync(process.execPath, [child, '--scenario', 'nope'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/unknown scenario 'nope'/);
  });
});

describe('per-call costs', () => {
  it('reports tinybench statistics per operation for every case', async () => {
    const rows = await measurePerCall({ timeMs: 20 });
    expect(rows.map((r) => r.name)).toEqual([
      'napi-noop',
      'spsc-native-pair',
      'spsc-native-pair-bigint',
      'spsc-native-bulk-per-item',
      'mpmc-native-pair',
      'js-atomics-ring-pair',
    ]);
    for (const r of rows) {
      expect(Number.isFinite(r.ns_per_op)).toBe(true);
      expect(r.ns_per_op).toBeGreaterThan(0);
      expect(r.stats.samples).toBeGreaterThan(0);
      expect(r.stats.p99).toBeGreaterThanOrEqual(r.stats.median);
    }
  });
});
