/** Ctrl-C during a bench: exit 130, the runners it started are gone, the lock is free. */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';

describe('interrupting perflab bench', () => {
  it('SIGINT ends the runners, releases the lock and exits 130', { timeout: 120_000 }, async () => {
    const state = mkdtempSync(join(tmpdir(), 'perflab-int-'));
    const lock = join(state, 'measure.lock');
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'perflab.js'), 'bench', '--family', 'mpmc', '--workload', 'throughput'], {
      // a private store (so the variant cache path is unique to this test) and lock
      env: { ...process.env, PERFLAB_STORE: join(state, 'perflab.db'), PERFLAB_LOCK: lock, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // wait until samples are being taken
    for (let i = 0; i < 600 && !/mpmc \d+\/\d+/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/mpmc \d+\/\d+/);
    const runnersBefore = runnersIn(state);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted/);
    await new Promise((r) => setTimeout(r, 300));
    expect(runnersIn(state), `runners before the interrupt: ${runnersBefore.length}`).toEqual([]);
    expect(existsSync(lock)).toBe(false);
  });
});

/** perflab-runner processes whose command line names a variant under this test's state dir. */
function runnersIn(state: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes('perflab-runner') && l.includes(state));
}
