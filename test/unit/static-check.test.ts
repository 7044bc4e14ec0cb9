/**
 * The `static` stage: built objects are inspected for the contract's symbols,
 * public symbols that interpose libc/timers/runtime or go beyond the contract,
 * and imports outside the family's allow-list. Fixtures are compiled exactly as
 * the pipeline compiles variants (buildVariant, fixed flags).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildVariant } from '../../src/pipeline/build.js';
import {
  IMPORT_ALLOWLISTS,
  type DynSymbol,
  importAllowed,
  inReservedNamespace,
  isTemplateInstantiation,
  judgeSymbols,
  parseDynSyms,
  staticCheck,
  summarizeProblems,
} from '../../src/pipeline/static-check.js';
import { builtinVariantSource, readSources } from '../../src/native/sources.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'perflab-static-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const adversarial = join(import.meta.dirname, '..', 'adversarial', 'variants');
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'variants');

async function checkSource(path: string, family: 'spsc' | 'mpmc' = 'spsc') {
  const build = await buildVariant(path, { family, cacheDir });
  return staticCheck(build.path, family);
}

describe('static stage on built objects', () => {
  for (const family of ['spsc', 'mpmc'] as const) {
    for (const name of Object.keys(readSources().variants[family])) {
      it(`built-in ${family}/${name} passes`, async () => {
        const r = await checkSource(builtinVariantSource(family, name)!, family);
        expect(r.reason).toBe('');
        expect(r.ok).toBe(true);
        expect(r.defined).toEqual(expect.arrayContaining(['perflab_queue_create', 'perflab_queue_destroy', 'perflab_queue_try_push', 'perflab_queue_try_pop']));
        expect(r.imported).toContain('free');
      });
    }
  }

  it('a correct C++ variant (std::atomic, new/delete) passes', async () => {
    const r = await checkSource(join(fixtures, 'spsc_cxx_atomic.cc'));
    expect(r.reason).toBe('');
    expect(r.ok).toBe(true);
    expect(r.imported.some((n) => n.startsWith('_Znw'))).toBe(true);
  });

  it('exports_libc.c fails, naming what it interposes', async () => {
    const r = await checkSource(join(adversarial, 'exports_libc.c'));
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/interpose/);
    for (const n of ['clock_gettime', 'malloc', 'free', 'pthread_create']) expect(r.reason).toContain(n);
    expect(r.log).toMatch(/defines `clock_gettime`, which libc\.so\.6 exports: it would interpose/);
  });

  it('calls_socket.c fails, naming socket and open', async () => {
    const r = await checkSource(join(adversarial, 'calls_socket.c'));
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/imports outside the allow-list: .*socket/);
    expect(r.reason).toMatch(/\bopen\b/);
    expect(r.log).toMatch(/imports `socket` \(network\)/);
    expect(r.log).toMatch(/imports `open` \(files and I\/O\)/);
  });

  it('an extra public helper function fails, naming it', async () => {
    const r = await checkSource(join(adversarial, 'extra_public_helper.c'));
    expect(r.ok).toBe(false);
    expect(r.reason).toBe('defines public symbols outside the contract: perflab_round_up_pow2');
    expect(r.log).toMatch(/make it static/);
  });

  it('half of the optional bulk pair fails', async () => {
    const r = await checkSource(join(adversarial, 'half_bulk.c'));
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/half of an optional pair: perflab_queue_try_pop_bulk/);
  });

  it('a C++ variant replacing global operator new/delete fails', async () => {
    const r = await checkSource(join(adversarial, 'cxx_replaces_new.cc'));
    expect(r.ok).toBe(false);
    expect(r.reason).toBe('defines symbols that interpose libc or the runtime: _Znwm, _ZdlPv, _ZdlPvm');
    expect(r.log).toMatch(/operator new\(unsigned long\)/);
  });

  it('a file that is not an ELF shared object fails with a reason', async () => {
    const r = await staticCheck(join(adversarial, 'calls_socket.c'), 'spsc');
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/not a readable ELF shared object/);
  });
});

const fn = (name: string, bind = 'GLOBAL'): DynSymbol => ({ name, type: 'FUNC', bind, defined: true });
const obj = (name: string, bind = 'GLOBAL'): DynSymbol => ({ name, type: 'OBJECT', bind, defined: true });
const imp = (name: string, bind = 'GLOBAL'): DynSymbol => ({ name, type: 'FUNC', bind, defined: false });
const contract = ['perflab_queue_create', 'perflab_queue_destroy', 'perflab_queue_try_push', 'perflab_queue_try_pop'].map((n) => fn(n));

describe('static rules on synthetic symbol tables', () => {
  it('parses readelf output, dropping versions and LOCAL entries', () => {
    const text = [
      "Symbol table '.dynsym' contains 4 entries:",
      '   Num:    Value          Size Type    Bind   Vis      Ndx Name',
      '     0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND ',
      '     1: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND free@GLIBC_2.2.5 (2)',
      '     2: 0000000000000000     0 NOTYPE  WEAK   DEFAULT  UND __gmon_start__',
      '     3: 0000000000001130   120 FUNC    GLOBAL DEFAULT   12 perflab_queue_create',
      '     4: 0000000000001130   120 FUNC    GLOBAL DEFAULT   12 clock_gettime@@GLIBC_2.17',
    ].join('\n');
    expect(parseDynSyms(text)).toEqual([
      { name: 'free', version: 'GLIBC_2.2.5', type: 'FUNC', bind: 'GLOBAL', defined: false },
      { name: '__gmon_start__', type: 'NOTYPE', bind: 'WEAK', defined: false },
      { name: 'perflab_queue_create', type: 'FUNC', bind: 'GLOBAL', defined: true },
      { name: 'clock_gettime', version: 'GLIBC_2.17', type: 'FUNC', bind: 'GLOBAL', defined: true },
    ]);
  });

  it('the contract alone, with allowed imports, passes; linker markers are fine', () => {
    const syms = [...contract, fn('_init'), fn('_fini'), { ...obj('_end'), type: 'NOTYPE' }, imp('malloc'), imp('pthread_mutex_lock'), imp('sched_yield'), imp('__cxa_finalize', 'WEAK')];
    expect(judgeSymbols('mpmc', syms)).toEqual([]);
  });

  it('a missing contract function, or one defined as data, fails', () => {
    const p = judgeSymbols('spsc', [...contract.slice(0, 3), obj('perflab_queue_try_pop')]);
    expect(p.map((x) => x.kind)).toEqual(['not-a-function']);
    const q = judgeSymbols('spsc', contract.slice(1));
    expect(summarizeProblems(q)).toBe('missing contract functions: perflab_queue_create');
  });

  it('the bulk pair: both or neither', () => {
    expect(judgeSymbols('spsc', [...contract, fn('perflab_queue_try_push_bulk'), fn('perflab_queue_try_pop_bulk')])).toEqual([]);
    expect(judgeSymbols('spsc', [...contract, fn('perflab_queue_try_pop_bulk')]).map((x) => x.name)).toEqual(['perflab_queue_try_push_bulk']);
  });

  it('interposing names fail, also weak ones, also without the runtime libraries at hand', () => {
    const runtime = new Map([['nanosleep', 'libc.so.6']]);
    const p = judgeSymbols('spsc', [...contract, fn('nanosleep', 'WEAK'), fn('pthread_mutex_lock'), obj('__vdso_clock_gettime'), fn('gettimeofday')], runtime);
    expect(p.map((x) => [x.kind, x.name])).toEqual([
      ['interposes', 'nanosleep'],
      ['interposes', 'pthread_mutex_lock'],
      ['interposes', '__vdso_clock_gettime'],
      ['interposes', 'gettimeofday'],
    ]);
    expect(p[0]!.detail).toMatch(/libc\.so\.6 exports/);
    expect(p[3]!.detail).toMatch(/clocks and timers/);
  });

  it('extra public C symbols fail, functions and objects', () => {
    const p = judgeSymbols('spsc', [...contract, fn('helper'), obj('global_counter'), fn('perflab_queue_size')]);
    expect(p.map((x) => [x.kind, x.name])).toEqual([
      ['extra-public', 'helper'],
      ['extra-public', 'global_counter'],
      ['extra-public', 'perflab_queue_size'],
    ]);
  });

  it('C++: weak instantiations and artefacts pass; strong helpers, std definitions and operator new fail', () => {
    const demangled = new Map([
      ['_ZNSt6vectorImSaImEE17_M_realloc_insertIJRKmEEEvN9__gnu_cxx17__normal_iteratorIPmS1_EEDpOT_', 'void std::vector<unsigned long>::_M_realloc_insert<unsigned long const&>(...)'],
      ['_Z5twiceImET_S0_', 'unsigned long twice<unsigned long>(unsigned long)'],
      ['_ZNSt5mutex4lockEv', 'std::mutex::lock()'],
      ['_ZNSt6chrono3_V212steady_clock3nowEv', 'std::chrono::_V2::steady_clock::now()'],
      ['_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE12_M_constructIPKcEEvT_S8_St20forward_iterator_tag', 'void std::__cxx11::basic_string<char>::_M_construct<char const*>(char const*, char const*, std::forward_iterator_tag)'],
    ]);
    const runtime = new Map([
      ['_ZNSt6chrono3_V212steady_clock3nowEv', 'libstdc++.so.6'],
      ['_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE12_M_constructIPKcEEvT_S8_St20forward_iterator_tag', 'libstdc++.so.6'],
      ['_Znwm', 'libstdc++.so.6'],
    ]);
    const ok = [
      fn('_ZNSt6vectorImSaImEE17_M_realloc_insertIJRKmEEEvN9__gnu_cxx17__normal_iteratorIPmS1_EEDpOT_', 'WEAK'), // std template instantiation
      fn('_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE12_M_constructIPKcEEvT_S8_St20forward_iterator_tag', 'WEAK'), // same code libstdc++ exports
      fn('_Z5twiceImET_S0_', 'WEAK'), // user template
      fn('_ZNSt5mutex4lockEv', 'WEAK'), // inline std function emitted out of line (not exported by libstdc++)
      fn('_ZN4Ring4pushEm', 'WEAK'), // inline member
      obj('_ZTV4Ring'), obj('_ZTI4Ring'), obj('_ZTS4Ring'), // strong vtable/typeinfo of a user type
      obj('_ZGVZ7counterE1c', 'UNIQUE'), // guard variable
    ];
    expect(judgeSymbols('spsc', [...contract, ...ok], runtime, demangled)).toEqual([]);
    const bad = judgeSymbols('spsc', [...contract, fn('_Z6helperi'), fn('_ZN4Ring4pushEm'), fn('_ZNSt6chrono3_V212steady_clock3nowEv', 'WEAK'), fn('_ZNSt6vectorIiSaIiEE9push_backERKi'), fn('_Znwm'), fn('_ZTISt9bad_alloc')], runtime, demangled);
    expect(bad.map((x) => [x.kind, x.name])).toEqual([
      ['extra-public', '_Z6helperi'],
      ['extra-public', '_ZN4Ring4pushEm'],
      ['interposes', '_ZNSt6chrono3_V212steady_clock3nowEv'],
      ['reserved-namespace', '_ZNSt6vectorIiSaIiEE9push_backERKi'],
      ['interposes', '_Znwm'],
      ['reserved-namespace', '_ZTISt9bad_alloc'],
    ]);
    expect(bad[1]!.detail).toMatch(/anonymous namespace/);
  });

  it('helpers that classify C++ names', () => {
    expect(inReservedNamespace('_ZNSt6vectorIiSaIiEE9push_backERKi')).toBe(true);
    expect(inReservedNamespace('_ZNKSt9exception4whatEv')).toBe(true);
    expect(inReservedNamespace('_ZSt9terminatev')).toBe(true);
    expect(inReservedNamespace('_ZTVN10__cxxabiv117__class_type_infoE')).toBe(true);
    expect(inReservedNamespace('_ZN9__gnu_cxx13new_allocatorImE8allocateEmPKv')).toBe(true);
    expect(inReservedNamespace('_ZNSaImE8allocateEm')).toBe(true);
    expect(inReservedNamespace('_ZN4Ring4pushEm')).toBe(false);
    expect(inReservedNamespace('_ZTI4Ring')).toBe(false);
    expect(inReservedNamespace('_Z6helperi')).toBe(false);
    expect(isTemplateInstantiation('unsigned long twice<unsigned long>(unsigned long)')).toBe(true);
    expect(isTemplateInstantiation('std::mutex::lock()')).toBe(false);
    expect(isTemplateInstantiation('operator<(Ring const&, Ring const&)')).toBe(false);
    expect(isTemplateInstantiation('operator<<(Ring&, int)')).toBe(false);
  });

  it('imports: the allow-list admits the queue runtime and rejects every escape hatch by name', () => {
    const allowed = [
      'malloc', 'calloc', 'realloc', 'free', 'aligned_alloc', 'posix_memalign', 'memalign', 'memcpy', 'memmove', 'memset', 'memcmp',
      '__memcpy_chk', '__stack_chk_fail', 'pthread_mutex_lock', 'pthread_cond_wait', 'pthread_spin_lock', 'sched_yield', 'abort',
      '__assert_fail', '__errno_location', '__tls_get_addr', '__cxa_guard_acquire', '__cxa_atexit', '__cxa_throw', '__gxx_personality_v0',
      '_Unwind_Resume', '_Znwm', '_ZdlPvm', '_ZnwmSt11align_val_t', '_ZdlPvSt11align_val_t', '_ZnamRKSt9nothrow_t', '_ZSt7nothrow',
      '_ZSt17__throw_bad_allocv', '_ZSt20__throw_length_errorPKc', '_ZSt24__throw_out_of_range_fmtPKcz', '_ZTISt9exception',
      '_ZTVN10__cxxabiv117__class_type_infoE', '_ZTVSt9bad_alloc', '_ZNSt9bad_allocD1Ev', '_ITM_registerTMCloneTable', '__gmon_start__', '__cxa_finalize',
    ];
    for (const n of allowed) expect(importAllowed('spsc', n), n).toBe(true);
    const rejected = [
      'socket', 'connect', 'fork', 'vfork', 'clone', 'execve', 'system', 'popen', 'dlopen', 'dlsym', 'open', 'openat', 'fopen', 'read',
      'write', 'mmap', 'mprotect', 'clock_gettime', 'gettimeofday', 'time', 'nanosleep', 'usleep', 'setitimer', 'alarm', 'signal',
      'sigaction', 'kill', 'ptrace', 'syscall', 'prctl', 'setrlimit', 'getenv', 'pthread_create', 'strlen', 'strcmp', 'printf',
      'sched_setaffinity', '_ZNSt6chrono3_V212steady_clock3nowEv', '_ZNSt6thread15_M_start_threadESt10unique_ptrINS_6_StateESt14default_deleteIS1_EEPFvvE',
      '_ZTVSt13basic_filebufIcSt11char_traitsIcEE',
    ];
    for (const n of rejected) expect(importAllowed('mpmc', n), n).toBe(false);
    const p = judgeSymbols('spsc', [...contract, imp('syscall'), imp('getenv', 'WEAK'), imp('_ZNSt6chrono3_V212steady_clock3nowEv')]);
    expect(p.map((x) => x.detail)).toEqual([
      'imports `syscall` (raw system calls and process control), which is not on the spsc allow-list',
      'imports `getenv` (the environment), which is not on the spsc allow-list',
      'imports `_ZNSt6chrono3_V212steady_clock3nowEv` (clocks and timers (std::chrono)), which is not on the spsc allow-list',
    ]);
    expect(IMPORT_ALLOWLISTS.spsc).toBe(IMPORT_ALLOWLISTS.mpmc);
  });

  it('an import of an undefined contract function is reported as missing, not as an import', () => {
    const p = judgeSymbols('spsc', [...contract.slice(0, 3), imp('perflab_queue_try_pop')]);
    expect(p.map((x) => x.kind)).toEqual(['missing']);
  });
});
