import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';

/** native/sources.json: the one source list both native builds and the variant builder read. */
export interface Sources {
  include_dirs: string[];
  probe: string[];
  shm: string[];
  drivers: string[];
  runner: string[];
  addon: string[];
  tests: Record<string, string[]>;
  variants: Record<'spsc' | 'mpmc', Record<string, string>>;
  variant_flags: { c: string[]; cxx: string[]; link: string[]; contract: Record<'spsc' | 'mpmc', string> };
}

let cached: Sources | undefined;

export function readSources(): Sources {
  cached ??= JSON.parse(readFileSync(join(packageRoot(), 'native', 'sources.json'), 'utf8')) as Sources;
  return cached;
}

/** Absolute path of a built-in variant's source, or undefined when there is no such built-in. */
export function builtinVariantSource(family: 'spsc' | 'mpmc', name: string): string | undefined {
  const rel = readSources().variants[family][name];
  return rel ? join(packageRoot(), rel) : undefined;
}

/** Built-in variant names of a family, in the order of native/sources.json (baseline first). */
export function builtinVariantNames(family: 'spsc' | 'mpmc'): string[] {
  return Object.keys(readSources().variants[family]);
}
