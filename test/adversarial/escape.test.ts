/**
 * A variant that leaves a grandchild holding the runner's pipes must not hang
 * the harness: the result is taken when the runner exits, not when the pipes close.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildVariant } from '../../src/pipeline/build.js';
import { runRunner } from '../../src/native/runner.js';

const pidfile = join(mkdtempSync(join(tmpdir(), 'perflab-escape-')), 'pid');

describe('a grandchild that escapes the process group', () => {
  afterAll(() => {
    try {
      const pid = Number(readFileSync(pidfile, 'utf8'));
      if (pid > 1) process.kill(pid, 'SIGKILL'); // the one process this test started
    } catch {
      /* never started, or gone */
    }
  });

  it('does not keep runRunner waiting for its pipes', { timeout: 30_000 }, async () => {
    const build = await buildVariant(join(import.meta.dirname, 'variants', 'escapes_group.c'), { family: 'spsc' });
    const out = await runRunner(['--variant', build.path, '--family', 'spsc', '--workload', 'throughput', '--duration-ms', '50'], {
      timeoutMs: 20_000,
      env: { ...process.env, PERFLAB_TEST_PIDFILE: pidfile },
    });
    expect(out.kind, out.kind === 'failed' ? out.reason : '').toBe('result');
    if (out.kind === 'result') expect(out.result.ok).toBe(true);
  });
});
