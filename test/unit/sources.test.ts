import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { readSources } from '../../src/native/sources.js';

const root = packageRoot();

describe('one source list for both builds', () => {
  const sources = readSources();

  it('every listed file exists', () => {
    const files = [
      ...sources.probe, ...sources.shm, ...sources.drivers, ...sources.runner, ...sources.addon,
      ...Object.values(sources.tests).flat(),
      ...Object.values(sources.variants.spsc), ...Object.values(sources.variants.mpmc),
      ...Object.values(sources.variant_flags.contract),
    ];
    for (const f of files) expect(existsSync(join(root, f)), f).toBe(true);
    for (const d of sources.include_dirs) expect(existsSync(join(root, d)), d).toBe(true);
  });

  it('binding.gyp takes its sources from native/sources.json through scripts/sources.mjs', () => {
    const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
    expect(gyp).toContain('node scripts/sources.mjs addon shm probe');
    expect(gyp).toContain('node scripts/sources.mjs runner drivers probe');
    const out = execFileSync(process.execPath, [join(root, 'scripts/sources.mjs'), 'addon', 'shm', 'probe'], { cwd: root, encoding: 'utf8' });
    expect(out.trim().split(' ')).toEqual([...sources.addon, ...sources.shm, ...sources.probe]);
  });

  it('CMakeLists.txt reads the same lists and has no globbing', () => {
    const cmake = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');
    expect(cmake).toContain('native/sources.json');
    for (const key of ['probe', 'shm', 'drivers', 'runner', 'addon']) expect(cmake).toMatch(new RegExp(`perflab_list\\(PERFLAB_\\w+_SOURCES ${key}\\)`));
    expect(cmake).not.toMatch(/file\s*\(\s*GLOB/i);
  });

  it('the built-in variant names are the ones INTERFACES.md fixes', () => {
    expect(Object.keys(sources.variants.spsc)).toEqual(['naive', 'padded', 'cached-index', 'bulk']);
    expect(Object.keys(sources.variants.mpmc).slice(0, 2)).toEqual(['mutex', 'vyukov']);
    expect(sources.variant_flags.c).toEqual(['-std=gnu17', '-O2', '-fPIC', '-Wall', '-Wextra', '-Werror']);
    expect(sources.variant_flags.cxx).toEqual(['-std=gnu++17', '-O2', '-fPIC', '-Wall', '-Wextra', '-Werror']);
  });
});
