import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The machine-wide measurement lock (INTERFACES.md: one measurement at a time). */
export function measureLockPath(): string {
  return process.env.PERFLAB_LOCK ?? join(tmpdir(), 'perflab', 'measure.lock');
}

function holder(path: string): { pid: number; what: string } | undefined {
  try {
    const [pid, ...rest] = readFileSync(path, 'utf8').split('\n');
    return { pid: Number(pid), what: rest.join(' ').trim() };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LockHandle {
  release(): void;
}

/**
 * Takes the measurement lock, waiting while another live process holds it and
 * saying so through `onWait` (once). A lock left by a dead process is taken over.
 */
export async function acquireMeasureLock(what: string, onWait: (msg: string) => void, pollMs = 500): Promise<LockHandle> {
  const path = measureLockPath();
  mkdirSync(join(path, '..'), { recursive: true });
  let told = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n${what}\n`);
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        try {
          if (holder(path)?.pid === process.pid) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
      process.on('exit', release);
      return { release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const h = holder(path);
    if (h && !alive(h.pid)) {
      try {
        unlinkSync(path); // stale: its owner is gone
      } catch {
        /* someone else took it over first */
      }
      continue;
    }
    if (!told) {
      onWait(`waiting for another measurement to finish (pid ${h?.pid ?? '?'}: ${h?.what ?? 'unknown'}; lock ${path})`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
