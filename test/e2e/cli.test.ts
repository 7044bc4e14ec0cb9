/** The `perflab` CLI as a user runs it: the compiled bin, real child processes. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';

const run = promisify(execFile);
const bin = join(packageRoot(), 'bin', 'perflab.js');

async function perflab(args: string[], timeout = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args], { timeout, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('perflab CLI', () => {
  it('--help lists the commands', async () => {
    const r = await perflab(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/bench/);
    expect(r.stdout).toMatch(/doctor/);
  });

  it('bad usage exits 2 with a message that says what to fix', async () => {
    const a = await perflab(['bench', '--family', 'nope']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--family must be one of spsc, mpmc, js/);
    const b = await perflab(['bench', '--family', 'spsc', '--variant', 'no-such-variant']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/unknown spsc variant "no-such-variant"/);
    const c = await perflab(['bench', '--family', 'spsc', '--workload', 'teleport']);
    expect(c.code).toBe(2);
    const e = await perflab(['bench', '--samples', '2']);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/--samples must be an integer from 3/);
    const d = await perflab(['frobnicate']);
    expect(d.code).toBe(2);
  });

  it('doctor --json reports the machine', async () => {
    const r = await perflab(['doctor', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema_version).toBe(1);
    const names = doc.checks.map((c: { name: string }) => c.name);
    for (const n of ['io_uring', 'TSan', 'ASan/UBSan', 'callgrind', 'pinning', 'sandbox: user', 'sandbox: namespaces', 'sandbox: memory', 'sandbox: processes']) expect(names).toContain(n);
    for (const c of doc.checks) if (!c.ok) expect(c.remedy, c.name).toBeTruthy();
  });

  it('bench --json prints exactly one document of the INTERFACES.md shape', async () => {
    const r = await perflab(['bench', '--family', 'spsc', '--workload', 'throughput', '--quick', '--samples', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout); // stdout holds the document and nothing else
    expect(doc.schema_version).toBe(1);
    for (const k of ['cpu_model', 'cores', 'kernel', 'node', 'compiler', 'cflags', 'liburing', 'git_sha', 'io_uring', 'affinity']) expect(doc.env).toHaveProperty(k);
    expect(doc.env.io_uring).toHaveProperty('supported');
    expect(Array.isArray(doc.skipped)).toBe(true);
    const variants = new Set(doc.results.map((x: { variant: string }) => x.variant));
    for (const v of ['naive', 'padded', 'cached-index', 'bulk']) expect(variants).toContain(v);
    for (const row of doc.results) {
      expect(row.family).toBe('spsc');
      expect(row.workload).toBe('throughput');
      expect(row.metric).toBe('items_per_s');
      expect(row.unit).toBe('items/s');
      expect(row.higher_is_better).toBe(true);
      expect(row.samples.length).toBe(3);
      expect(row.median).toBeGreaterThan(0);
      expect(row.ci95[0]).toBeLessThanOrEqual(row.median);
      expect(row.ci95[1]).toBeGreaterThanOrEqual(row.median);
      expect(row.params).toMatchObject({ producers: 1, consumers: 1, capacity: 1024 });
    }
    expect(doc.results.find((x: { variant: string; params: { batch: number } }) => x.variant === 'bulk' && x.params.batch > 1)).toBeTruthy();
  });

  it('op_cost instruction counts are identical run to run (callgrind)', async () => {
    const r = await perflab(['bench', '--family', 'spsc', '--workload', 'op_cost', '--variant', 'cached-index', '--quick', '--samples', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const rows = doc.results.filter((x: { metric: string }) => x.metric === 'instructions_per_op');
    if (rows.length === 0) {
      // only acceptable when the machine has no valgrind, and then it must say so
      expect(doc.skipped.map((s: { reason: string }) => s.reason).join(' ')).toMatch(/valgrind/);
      return;
    }
    for (const row of rows) {
      expect(new Set(row.samples).size, `${row.variant}: ${row.samples}`).toBe(1);
      expect(row.median).toBeGreaterThan(1);
    }
  });
});
