import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The perflab package root (the folder holding its package.json and native/). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'native', 'sources.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('perflab: cannot find the package root (native/sources.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  root = dir;
  return dir;
}

/** Which native build to use: `PERFLAB_BUILD=gyp|cmake` (default gyp, falling back to cmake). */
export type NativeBuild = 'gyp' | 'cmake';

export function buildDir(build: NativeBuild): string {
  return join(packageRoot(), build === 'gyp' ? 'build' : 'build-cmake', 'Release');
}

/** The store folder: `--store PATH`'s folder, else PERFLAB_STORE's, else ./.perflab. */
export function stateDir(storePath?: string): string {
  const store = storePath ?? process.env.PERFLAB_STORE;
  return store ? dirname(resolve(store)) : resolve('.perflab');
}
