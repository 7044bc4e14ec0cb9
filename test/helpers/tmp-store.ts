/** Temporary stores for tests: fresh folders, every store closed after each test, the folders removed at the end. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import type { Store } from '../../src/store/index.js';

export function tmpStores(prefix: string, sub = '') {
  const dirs: string[] = [];
  const open: Store[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    /** Folders to remove at the end (tests may add their own). */
    dirs,
    /** A store path in a fresh folder (under `sub` when given, so the store must create it). */
    tmpStore(): string {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return sub ? join(dir, sub, 'perflab.db') : join(dir, 'perflab.db');
    },
    /** Closes `s` after the test. */
    track(s: Store): Store {
      open.push(s);
      return s;
    },
  };
}
