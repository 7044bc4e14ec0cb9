import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireMeasureLock } from '../../src/pipeline/lock.js';

describe('the machine-wide measurement lock', () => {
  const saved = process.env.PERFLAB_LOCK;
  afterEach(() => {
    if (saved === undefined) delete process.env.PERFLAB_LOCK;
    else process.env.PERFLAB_LOCK = saved;
  });

  it('a second taker waits, says so, and gets the lock once it is released', async () => {
    process.env.PERFLAB_LOCK = join(mkdtempSync(join(tmpdir(), 'perflab-lock-')), 'measure.lock');
    const first = await acquireMeasureLock('first', () => {});
    const messages: string[] = [];
    let got = false;
    const second = acquireMeasureLock('second', (m) => messages.push(m), 20).then((h) => {
      got = true;
      return h;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(got).toBe(false);
    expect(messages.length).toBe(1);
    expect(messages[0]).toMatch(/waiting for another measurement.*first/);
    first.release();
    const h = await second;
    expect(got).toBe(true);
    h.release();
    expect(existsSync(process.env.PERFLAB_LOCK)).toBe(false);
  });

  it('a lock left by a dead process is taken over', async () => {
    process.env.PERFLAB_LOCK = join(mkdtempSync(join(tmpdir(), 'perflab-lock-')), 'measure.lock');
    writeFileSync(process.env.PERFLAB_LOCK, '999999999\nlong gone\n');
    const messages: string[] = [];
    const h = await acquireMeasureLock('me', (m) => messages.push(m), 20);
    expect(messages).toEqual([]);
    h.release();
  });
});
