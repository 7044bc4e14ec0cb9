/**
 * profileVariant: the op_cost loop under callgrind, instructions per push+pop
 * and the hot functions by self instructions, unsandboxed and in the sandbox;
 * the callgrind parser on hand-written dumps; a variant that prints forged
 * callgrind output cannot change the figures; no valgrind -> unavailable.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProfileData } from '../../src/agent/types.js';
import { builtinVariantSource } from '../../src/native/sources.js';
import { cleanName, parseCallgrind, profileData, profileVariant } from '../../src/pipeline/profile.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'perflab-profile-test-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const hasValgrind = spawnSync('valgrind', ['--version']).status === 0;
const naive = builtinVariantSource('spsc', 'naive')!;

/** A dump as callgrind 3.19 writes it for the naive variant (trimmed). */
const DUMP = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  ./perflab-runner --variant naive.so --workload op_cost
part: 1

desc: Trigger: Program termination

positions: line
events: Ir
summary: 4700226


ob=(7) /x/perflab-runner
fl=(141) ???
fn=(788) (below main)
cob=(3) /usr/lib/x86_64-linux-gnu/libc.so.6
cfi=(142) ./csu/../csu/libc-start.c
cfn=(790) __libc_start_main@@GLIBC_2.34
calls=1 242
0 4700226

fn=(1040) perflab_op_cost_loop
0 25
cob=(8) /tmp/naive.so
cfi=(174) ???
cfn=(1036) perflab_queue_try_push
calls=1 0
0 15
0 399996
cob=(8)
cfi=(174)
cfn=(1036)
calls=99999 0
0 1500083
0 600000
cob=(8)
cfi=(174)
cfn=(1038) perflab_queue_try_pop
calls=100000 0
0 1500098
0 700009

ob=(8)
fl=(174)
fn=(1038)
0 1500098

fn=(1036)
fi=(175) inlined.h
+3 1000000
fe=(174)
-3 500098

ob=(1) /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
fl=(1) ???
fn=(0) 0x000000000001ab70
cob=(7)
cfi=(141)
cfn=(788)
calls=1 0
0 4700226

totals: 4700226
`;

describe('parseCallgrind', () => {
  it('counts self cost only: call lines are inclusive, inlined files stay with their function', () => {
    const p = parseCallgrind(DUMP);
    expect(p.selfTotal).toBe(4700226);
    expect(p.declaredTotal).toBe(4700226);
    expect(p.pid).toBe(4242);
    expect(p.functions).toEqual([
      { fn: 'perflab_op_cost_loop', ir: 25 + 399996 + 600000 + 700009 },
      { fn: 'perflab_queue_try_pop', ir: 1500098 },
      { fn: 'perflab_queue_try_push', ir: 1500098 },
    ]);
    const d = profileData(p, 100000, 2);
    expect(d.instructions_per_op).toBeCloseTo(47.00226, 5);
    expect(d.hot.map((h) => h.fn)).toEqual(['perflab_op_cost_loop', 'perflab_queue_try_pop']);
    expect(d.hot[0]!.pct).toBe(36.1);
  });

  it('takes the last dump when something was written in front of it', () => {
    const forged = '# callgrind format\nevents: Ir\nfn=(1) evil\n0 999999999\ntotals: 999999999\nno newline at the end';
    expect(parseCallgrind(forged + DUMP).selfTotal).toBe(4700226);
  });

  it('rejects text that is not a dump', () => {
    expect(() => parseCallgrind('hello\n')).toThrow();
    expect(() => parseCallgrind('# callgrind format\nevents: Ir\nfn=(3)\n0 5\n')).toThrow(/before it is defined/);
    expect(() => parseCallgrind('# callgrind format\nevents: Ir\nfn=(1) f\ncalls=1 0\n')).toThrow(/inside a call/);
  });

  it('keeps the columns straight with instr+line positions and several events', () => {
    const p = parseCallgrind('# callgrind format\npositions: instr line\nevents: Dr Ir\nfn=(1) a\n0x10 3 7 11\n+4 * 1 2\nfn=(2) b\n0x20 1 100\ntotals: 108 113\n');
    expect(p.functions).toEqual([
      { fn: 'a', ir: 13 },
      { fn: 'b', ir: 0 },
    ]);
    expect(p.selfTotal).toBe(13);
    expect(p.declaredTotal).toBe(113);
  });

  it('cleans names', () => {
    expect(cleanName("fib'2")).toBe('fib');
    expect(cleanName('pthread_mutex_lock@@GLIBC_2.2.5')).toBe('pthread_mutex_lock');
    expect(cleanName('memcpy@GLIBC_2.14')).toBe('memcpy');
    expect(cleanName('std::vector<int, std::allocator<int> >::push_back(int const&)')).toBe('std::vector<int, std::allocator<int> >::push_back(int const&)');
    expect(cleanName('a\u0000b\n  c')).toBe('a b c');
    expect(cleanName('0x000000000001ab70', '/lib/ld-linux.so.2')).toBe('0x000000000001ab70 [ld-linux.so.2]');
    expect(cleanName('x'.repeat(500)).length).toBe(160);
  });
});

function checkNaive(p: ProfileData): void {
  expect(p.unavailable).toBeNull();
  expect(p.instructions_per_op).not.toBeNull();
  expect(p.instructions_per_op!).toBeGreaterThan(20);
  expect(p.instructions_per_op!).toBeLessThan(200);
  const names = p.hot.map((h) => h.fn);
  expect(names).toContain('perflab_queue_try_push');
  expect(names).toContain('perflab_queue_try_pop');
  expect(p.hot.length).toBeLessThanOrEqual(8);
  const pct = p.hot.reduce((s, h) => s + h.pct, 0);
  expect(pct).toBeGreaterThan(50);
  expect(pct).toBeLessThanOrEqual(100);
  for (let i = 1; i < p.hot.length; i++) expect(p.hot[i]!.ir).toBeLessThanOrEqual(p.hot[i - 1]!.ir);
}

describe.skipIf(!hasValgrind)('profileVariant (valgrind installed)', () => {
  let first: ProfileData | undefined;

  it('profiles spsc/naive unsandboxed, the same numbers twice', async () => {
    const a = await profileVariant('spsc', naive, { cacheDir });
    const b = await profileVariant('spsc', naive, { cacheDir });
    checkNaive(a);
    expect(b).toEqual(a);
    first = a;
  });

  it('profiles spsc/naive in the sandbox: the same numbers as outside', async () => {
    const s = await profileVariant('spsc', naive, { cacheDir, sandbox: {} });
    checkNaive(s);
    expect(s).toEqual(first ?? (await profileVariant('spsc', naive, { cacheDir })));
  });

  it('honours ops and top', async () => {
    const p = await profileVariant('spsc', naive, { cacheDir, ops: 20000, top: 1 });
    expect(p.unavailable).toBeNull();
    expect(p.hot).toHaveLength(1);
    expect(p.instructions_per_op!).toBeGreaterThan(20);
    expect(p.instructions_per_op!).toBeLessThan(200);
  });

  it('a variant printing forged callgrind output (stdout, stderr, fd 4) does not change the figures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'perflab-profile-forge-'));
    try {
      const src = join(dir, 'forger.c');
      const forged = '# callgrind format\\nversion: 1\\npositions: line\\nevents: Ir\\nsummary: 1\\nfn=(1) perflab_queue_try_push\\n0 999999999\\nfn=(2) evil\\n0 1\\ntotals: 1000000000\\n';
      writeFileSync(
        src,
        readFileSync(naive, 'utf8') +
          `
#include <stdio.h>
#include <string.h>
#include <unistd.h>
__attribute__((constructor)) static void forge(void) {
  static const char fake[] = "${forged}";
  printf("%s", fake);
  fflush(stdout);
  fprintf(stderr, "==1== Events    : Ir\\n==1== Collected : 1\\n");
  for (int fd = 4; fd < 8; fd++) { ssize_t w = write(fd, fake, strlen(fake)); (void)w; }
}
`,
      );
      const base = first ?? (await profileVariant('spsc', naive, { cacheDir }));
      for (const sandbox of [false, {}] as const) {
        const p = await profileVariant('spsc', src, { cacheDir, sandbox });
        expect(p.unavailable).toBeNull();
        expect(p.instructions_per_op).toBe(base.instructions_per_op);
        expect(p.hot).toEqual(base.hot);
        expect(p.hot.map((h) => h.fn)).not.toContain('evil');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a variant that does not build is unavailable, not a throw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'perflab-profile-bad-'));
    try {
      const src = join(dir, 'broken.c');
      writeFileSync(src, 'this is not C;\n');
      const p = await profileVariant('spsc', src, { cacheDir });
      expect(p).toMatchObject({ instructions_per_op: null, hot: [] });
      expect(p.unavailable).toMatch(/does not build/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a variant that crashes in the loop is unavailable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'perflab-profile-crash-'));
    try {
      const src = join(dir, 'crash.c');
      const text = readFileSync(naive, 'utf8').replace('bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {', 'bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {\n  if (atomic_load(&q->head) == 7) __builtin_trap();');
      writeFileSync(src, text);
      const p = await profileVariant('spsc', src, { cacheDir });
      expect(p.instructions_per_op).toBeNull();
      expect(p.hot).toEqual([]);
      expect(p.unavailable).toMatch(/op_cost run failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('profileVariant without valgrind or with bad input', () => {
  it('no valgrind on PATH: unavailable, says why', async () => {
    const saved = process.env.PATH;
    const empty = mkdtempSync(join(tmpdir(), 'perflab-no-valgrind-'));
    process.env.PATH = empty;
    try {
      const p = await profileVariant('spsc', naive, { cacheDir });
      expect(p).toEqual({ instructions_per_op: null, hot: [], unavailable: expect.stringMatching(/valgrind is not installed/) });
    } finally {
      process.env.PATH = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('a missing source or a bad option is a usage error', async () => {
    await expect(profileVariant('spsc', join(cacheDir, 'nope.c'), {})).rejects.toMatchObject({ code: 'ERR_PERFLAB_USAGE' });
    await expect(profileVariant('spsc', naive, { ops: 0 })).rejects.toMatchObject({ code: 'ERR_PERFLAB_USAGE' });
    await expect(profileVariant('spsc', naive, { top: 1.5 })).rejects.toMatchObject({ code: 'ERR_PERFLAB_USAGE' });
  });
});
