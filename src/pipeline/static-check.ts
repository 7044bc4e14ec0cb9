/**
 * The `static` stage of `perflab check` (INTERFACES.md): inspects a variant's
 * built shared object, before anything of it runs.
 *
 * - The contract's symbols are defined (as functions); the bulk pair is optional
 *   but comes as a pair.
 * - Nothing is defined that interposes libc, the timers or the runtime, and
 *   nothing public is defined beyond the contract (helpers must be `static`, or
 *   in an anonymous namespace in C++), except what the linker and the C++
 *   compiler emit on their own (see `judgeDefined`).
 * - Every import is on the family's allow-list (`IMPORT_ALLOWLISTS`).
 * - Only the C/C++ runtime libraries are DT_NEEDED.
 *
 * What this stage cannot see: an inline `syscall` instruction, code that finds
 * libc functions through a pointer it was legitimately given, constructors that
 * run at load time. The sandbox (and the measured run) is the real barrier; this
 * stage is cheap early rejection with a reason that names the offending symbol.
 *
 * Tools: `readelf` (binutils) for the ELF header, dynamic section and dynamic
 * symbol table; `c++filt` (binutils, optional) to read C++ names. The runtime
 * libraries' own exports (libc, libm, libstdc++, libgcc_s, the dynamic loader)
 * are read once per process, so "interposes" means exactly "defines a name one
 * of those libraries exports"; a built-in list stands in when they cannot be found.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { promisify } from 'node:util';
import { PerflabError } from '../errors.js';

const run = promisify(execFile);

export type StaticFamily = 'spsc' | 'mpmc';

export interface StaticCheckResult {
  ok: boolean;
  /** Short text naming what failed (empty when ok). */
  reason: string;
  /** Trimmed evidence: the object's public and imported symbols, and each problem. */
  log: string;
  /** Defined dynamic symbols (global and weak), version suffix stripped. */
  defined: string[];
  /** Undefined dynamic symbols (imports, strong and weak), version suffix stripped. */
  imported: string[];
}

/** One entry of `.dynsym` as readelf prints it. */
export interface DynSymbol {
  /** Without the `@VERSION` / `@@VERSION` suffix. */
  name: string;
  version?: string;
  /** FUNC, OBJECT, NOTYPE, IFUNC, TLS, ... */
  type: string;
  /** GLOBAL, WEAK, UNIQUE (LOCAL entries are dropped). */
  bind: string;
  defined: boolean;
}

// ---------------------------------------------------------------------------
// Per-family tables. A later family adds its entry to each.

export interface ContractSymbols {
  /** Every one must be defined, as a function. */
  required: readonly string[];
  /** Optional groups: all of a group or none of it. */
  optionalGroups: readonly (readonly string[])[];
}

const QUEUE_CONTRACT: ContractSymbols = {
  required: ['perflab_queue_create', 'perflab_queue_destroy', 'perflab_queue_try_push', 'perflab_queue_try_pop'],
  optionalGroups: [['perflab_queue_try_push_bulk', 'perflab_queue_try_pop_bulk']],
};

/** The contract's functions per family (native/include/perflab/queue.h for the queue families). */
export const CONTRACT_SYMBOLS: Record<StaticFamily, ContractSymbols> = {
  spsc: QUEUE_CONTRACT,
  mpmc: QUEUE_CONTRACT,
};

export interface ImportAllowList {
  /** Exact (unversioned) import names allowed. */
  names: ReadonlySet<string>;
  /** Name patterns allowed, each with why. */
  patterns: readonly { re: RegExp; why: string }[];
}

/** Global operator new/delete in every form (plain, sized, aligned, nothrow) for a size_t mangling (`m` LP64, `j` ILP32). */
function newDeleteNames(size: 'm' | 'j'): string[] {
  const nothrow = 'RKSt9nothrow_t';
  const align = 'St11align_val_t';
  const out: string[] = [];
  for (const op of ['_Znw', '_Zna']) {
    out.push(`${op}${size}`, `${op}${size}${nothrow}`, `${op}${size}${align}`, `${op}${size}${align}${nothrow}`);
  }
  for (const op of ['_ZdlPv', '_ZdaPv']) {
    out.push(op, `${op}${size}`, `${op}${align}`, `${op}${size}${align}`, `${op}${nothrow}`, `${op}${align}${nothrow}`);
  }
  return out;
}

/**
 * What a queue variant may import. Principle: only what an in-process, bounded
 * queue of uint64_t needs — memory, memory ops, in-process blocking primitives,
 * a yield, and what the C/C++ compilers emit on their own. Nothing that reaches
 * the network, other processes, files, the loader, clocks/timers, signals or raw
 * system calls. Decisions:
 * - malloc family incl. the obsolete memalign/valloc/pvalloc: all just allocate.
 * - mem* and their _FORTIFY_SOURCE `__*_chk` forms: GCC turns copy/clear loops
 *   into memcpy/memmove/memset on its own, and some distributions enable
 *   _FORTIFY_SOURCE and -fstack-protector by default (so `__stack_chk_fail`,
 *   `__chk_fail`). `bcmp`: clang emits it for `memcmp(...) == 0`.
 * - `abort`, `__assert_fail`: they only end the process (assert() in a variant is fine).
 * - `__errno_location`: the address of a thread-local int; needed to read errno.
 * - `__tls_get_addr`: a `_Thread_local`/`thread_local` in a -fPIC object is reached
 *   through it (per-thread caches are a legitimate queue technique).
 * - pthread mutex/cond/spin (+ attr): in-process blocking; the timed waits take an
 *   absolute deadline but give the variant no clock. rwlock, barriers, once and
 *   pthread_create are NOT here: a queue needs none, and a thread of its own would
 *   do work off the measured threads.
 * - strlen/strcmp & co. are NOT here: a uint64_t queue handles no strings and the
 *   compiler never synthesizes str* calls from loops (only mem*); C++'s throw
 *   helpers take their message as a pointer and do their string work inside libstdc++.
 * - mmap/munmap/mprotect/madvise are NOT here: the malloc family covers all memory
 *   a queue needs (libc uses mmap for large blocks itself), while mmap can map
 *   files or shared memory visible to other processes, and mprotect can make
 *   memory executable (self-modifying code).
 * - getenv is NOT here: a variant must not behave differently by environment;
 *   tuning reaches it as -D knobs.
 * - sched_yield only from sched_* (no affinity or scheduler changes: placement is
 *   the harness's).
 * - The C++ runtime: __cxa_* for static-local guards, atexit/finalize, exceptions
 *   and pure/deleted virtuals; the personality routine and _Unwind_Resume; global
 *   operator new/delete (all forms) and `std::nothrow`; std::__throw_* (what
 *   containers call on errors) and std::terminate; std::exception/bad_alloc/bad_array_new_length's
 *   destructors, what() and vtables; typeinfo (`_ZTI`/`_ZTS`: data) and the ABI's
 *   type_info vtables (every polymorphic class's typeinfo points at one).
 * - Link-time weak references every object carries: __gmon_start__,
 *   _ITM_(de)registerTMCloneTable, __cxa_finalize (and the old _Jv_RegisterClasses).
 */
export const QUEUE_IMPORTS: ImportAllowList = {
  names: new Set([
    // link-time weak references of every shared object
    '__gmon_start__', '_ITM_registerTMCloneTable', '_ITM_deregisterTMCloneTable', '__cxa_finalize', '_Jv_RegisterClasses',
    // the malloc family
    'malloc', 'calloc', 'realloc', 'reallocarray', 'free', 'aligned_alloc', 'posix_memalign', 'memalign', 'valloc', 'pvalloc',
    // memory ops (and their fortified forms)
    'memcpy', 'memmove', 'memset', 'memcmp', 'memchr', 'mempcpy', 'bcmp',
    '__memcpy_chk', '__memmove_chk', '__memset_chk', '__mempcpy_chk',
    // stack protector / fortify failure, assertions, abort, errno, TLS
    '__stack_chk_fail', '__stack_chk_fail_local', '__chk_fail', '__assert_fail', 'abort', '__errno_location', '__tls_get_addr',
    // pthread mutex
    'pthread_mutex_init', 'pthread_mutex_destroy', 'pthread_mutex_lock', 'pthread_mutex_trylock', 'pthread_mutex_unlock',
    'pthread_mutex_timedlock', 'pthread_mutex_clocklock', 'pthread_mutex_consistent',
    'pthread_mutexattr_init', 'pthread_mutexattr_destroy', 'pthread_mutexattr_settype', 'pthread_mutexattr_gettype',
    'pthread_mutexattr_setpshared', 'pthread_mutexattr_getpshared', 'pthread_mutexattr_setprotocol', 'pthread_mutexattr_getprotocol',
    'pthread_mutexattr_setrobust', 'pthread_mutexattr_getrobust',
    // pthread cond
    'pthread_cond_init', 'pthread_cond_destroy', 'pthread_cond_signal', 'pthread_cond_broadcast', 'pthread_cond_wait',
    'pthread_cond_timedwait', 'pthread_cond_clockwait',
    'pthread_condattr_init', 'pthread_condattr_destroy', 'pthread_condattr_setpshared', 'pthread_condattr_getpshared',
    'pthread_condattr_setclock', 'pthread_condattr_getclock',
    // pthread spin
    'pthread_spin_init', 'pthread_spin_destroy', 'pthread_spin_lock', 'pthread_spin_trylock', 'pthread_spin_unlock',
    'sched_yield',
    // C++ runtime (libsupc++ / libgcc_s)
    '__cxa_atexit', '__cxa_thread_atexit', '__cxa_thread_atexit_impl',
    '__cxa_guard_acquire', '__cxa_guard_release', '__cxa_guard_abort',
    '__cxa_allocate_exception', '__cxa_free_exception', '__cxa_throw', '__cxa_rethrow', '__cxa_begin_catch', '__cxa_end_catch',
    '__cxa_get_exception_ptr', '__cxa_call_unexpected', '__cxa_call_terminate', '__cxa_end_cleanup',
    '__cxa_pure_virtual', '__cxa_deleted_virtual', '__cxa_bad_cast', '__cxa_bad_typeid', '__cxa_throw_bad_array_new_length',
    '__gxx_personality_v0', '_Unwind_Resume',
    ...newDeleteNames('m'), ...newDeleteNames('j'),
    '_ZSt7nothrow', // std::nothrow
    '_ZSt9terminatev', // std::terminate()
    '_ZNSt9exceptionD0Ev', '_ZNSt9exceptionD1Ev', '_ZNSt9exceptionD2Ev', '_ZNKSt9exception4whatEv',
    '_ZNSt9bad_allocD0Ev', '_ZNSt9bad_allocD1Ev', '_ZNSt9bad_allocD2Ev', '_ZNKSt9bad_alloc4whatEv',
    '_ZNSt20bad_array_new_lengthD0Ev', '_ZNSt20bad_array_new_lengthD1Ev', '_ZNSt20bad_array_new_lengthD2Ev', '_ZNKSt20bad_array_new_length4whatEv',
    // their vtables (`throw std::bad_alloc()` constructs one; the slots are the destructors and what())
    '_ZTVSt9exception', '_ZTVSt9bad_alloc', '_ZTVSt20bad_array_new_length',
  ]),
  patterns: [
    { re: /^_ZSt\d+__throw_[a-z_]+[A-Za-z0-9_]*$/, why: 'std::__throw_* (how containers raise their errors)' },
    { re: /^_ZT[IS]/, why: 'typeinfo and typeinfo names (data)' },
    { re: /^_ZTVN10__cxxabiv1\d+__[a-z_]+_type_infoE$/, why: "the C++ ABI's type_info vtables" },
  ],
};

/** The import allow-list of each family. */
export const IMPORT_ALLOWLISTS: Record<StaticFamily, ImportAllowList> = {
  spsc: QUEUE_IMPORTS,
  mpmc: QUEUE_IMPORTS,
};

/**
 * Names the static linker itself may put in .dynsym (older binutils export
 * these; they are section-boundary markers and the init/fini entry points).
 */
export const LINKER_SYMBOLS: ReadonlySet<string> = new Set([
  '_init', '_fini', '__bss_start', '_edata', '_end', '__bss_start__', '__bss_end__', '_bss_end__', '__end__',
]);

/** Libraries a variant may need (DT_NEEDED): the C and C++ runtimes and the loader. */
export const ALLOWED_NEEDED: readonly RegExp[] = [
  /^libc\.so\.\d+$/, /^libm\.so\.\d+$/, /^libstdc\+\+\.so\.\d+$/, /^libgcc_s\.so\.\d+$/, /^libpthread\.so\.\d+$/,
  /^ld-linux[-\w.]*\.so\.\d+$/, /^ld64\.so\.\d+$/,
];

// ---------------------------------------------------------------------------
// Why a name is bad: categories for the reason text (the allow-list decides; this only explains).

const HINTS: readonly [RegExp, string][] = [
  [/^(socket|socketpair|connect|bind|listen|accept4?|send(to|msg|mmsg)?|recv(from|msg|mmsg)?|shutdown|[gs]etsockopt|getaddrinfo|freeaddrinfo|gethostby\w+|getpeername|getsockname|inet_\w+)$/, 'network'],
  [/^(fork|vfork|_Fork|clone3?|exit|_exit|_Exit|quick_exit|getpid|getppid|gettid|getuid|geteuid|getgid|getegid|execv?[elp]*|fexecve|system|popen|pclose|posix_spawnp?|pthread_create|pthread_detach|pthread_join|kill|tgkill|tkill|killpg|wait|waitpid|waitid|wait[34]|daemon|setsid|thrd_create)$/, 'processes and threads'],
  [/^(dlopen|dlmopen|dlsym|dlvsym|dladdr1?|dlinfo|dlclose|dlerror|dl_iterate_phdr)$/, 'dynamic loading'],
  [/^(open|open64|openat|openat64|creat|creat64|fopen|fopen64|freopen|fdopen|read|write|pread|pread64|pwrite|pwrite64|readv|writev|close|unlink|unlinkat|rename|ioctl|fcntl|fcntl64|dup[23]?|pipe2?|f?stat|f?stat64|lstat|fstatat|statx|access|printf|fprintf|dprintf|puts|fputs|putchar|fputc|fwrite|fread|fgets|fflush|fclose|perror|sendfile|splice|tee|io_uring_\w+|epoll_\w+|eventfd|inotify_\w+|mkfifo|mknod|chdir|opendir|readdir|truncate|ftruncate)$/, 'files and I/O'],
  [/^(mmap|mmap64|munmap|mremap|mprotect|madvise|mlock|mlockall|shm_open|shm_unlink|shmget|shmat|shmdt|memfd_create|pkey_\w+)$/, 'memory mapping'],
  [/^(clock_gettime|clock_getres|clock_settime|gettimeofday|settimeofday|time|clock|times|ftime|nanosleep|clock_nanosleep|usleep|sleep|setitimer|getitimer|alarm|ualarm|timer_\w+|timerfd_\w+|__vdso_\w+|__clock_gettime\w*|__gettimeofday\w*)$/, 'clocks and timers'],
  [/^(signal|sigaction|__sysv_signal|bsd_signal|sigset|raise|sigprocmask|pthread_sigmask|pthread_kill|sigaltstack|sigqueue|sigwait\w*|sigsuspend|pause|setjmp|longjmp|_setjmp|__longjmp_chk|siglongjmp|__sigsetjmp)$/, 'signals and non-local jumps'],
  [/^(syscall|ptrace|prctl|arch_prctl|seccomp|setrlimit|getrlimit|prlimit|prlimit64|setpriority|nice|personality|sched_setaffinity|sched_getaffinity|pthread_setaffinity_np|sched_setscheduler|sched_setparam|sched_getcpu|getcpu|setuid|setgid|seteuid|setresuid|capset|unshare|setns|chroot|mount|umount2?|reboot|ioperm|iopl)$/, 'raw system calls and process control'],
  [/^(getenv|secure_getenv|setenv|unsetenv|putenv|clearenv|__environ|environ)$/, 'the environment'],
  [/^(str(len|nlen|cmp|ncmp|cpy|ncpy|cat|ncat|chr|rchr|str|dup|ndup|tok|tok_r|spn|cspn|pbrk|coll|xfrm|error|error_r|casecmp|ncasecmp|lcpy|lcat|sep|signal|tol|toul|toll|toull|tod|tof)|wcs\w+|sprintf|snprintf|vsnprintf|vsprintf|__\w*printf_chk|__str\w*_chk|__stp\w*_chk|stpcpy|atoi|atol|atoll|atof)$/, 'strings (a uint64_t queue needs none)'],
  [/^(rand|random|srand|srandom|rand_r|drand48|lrand48|getrandom|arc4random\w*)$/, 'randomness'],
  [/^_ZNSt6chrono/, 'clocks and timers (std::chrono)'],
  [/^_ZNSt6thread|^_ZNSt10this_thread|^_ZSt18__this_thread/, 'processes and threads (std::thread)'],
  [/^_ZN[K]?S[iod]|^_ZSt[0-9]+(cout|cerr|clog|cin)|^_ZNSt\d+basic_(i|o|io|if|of|f|string)stream|^_ZNSt8ios_base|^_ZNSt13basic_filebuf/, 'files and I/O (iostreams)'],
];

function hintFor(name: string): string | undefined {
  for (const [re, what] of HINTS) if (re.test(name)) return what;
  return undefined;
}

/** Prefixes of libc/loader/C++-runtime names, for when the real libraries cannot be read. */
const BUILTIN_RUNTIME_C = /^(pthread_|sched_|clock_|timer_|__libc_|__vdso_|_dl_|__cxa_|_Unwind_|__gxx_|__stack_chk_|__tls_|__errno|__assert_|__memcpy|__memset|__memmove)/;
/** Global operator new/delete: replacing them replaces the C++ runtime's allocator. */
const GLOBAL_NEW_DELETE = /^_Z(nw|na|dl|da)/;

function isBuiltinRuntimeName(name: string, allow: ImportAllowList): boolean {
  if (name.startsWith('_Z')) return GLOBAL_NEW_DELETE.test(name) || allow.names.has(name) || /^_ZSt\d+__throw_/.test(name);
  return allow.names.has(name) || hintFor(name) !== undefined || BUILTIN_RUNTIME_C.test(name);
}

// ---------------------------------------------------------------------------
// Reading the object.

/** Parses readelf's `--dyn-syms -W` table (LOCAL entries dropped). */
export function parseDynSyms(text: string): DynSymbol[] {
  const out: DynSymbol[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (/^Symbol table '\.dynsym'/.test(line)) {
      inTable = true;
      continue;
    }
    if (!inTable) continue;
    if (/^Symbol table /.test(line)) {
      inTable = false; // another table (.symtab with --syms): not ours
      continue;
    }
    // Num: Value Size Type Bind Vis [other] Ndx Name
    const m = /^\s*\d+:\s+[0-9a-fA-F]+\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S.*)$/.exec(line);
    if (!m) continue;
    const [, type, bind, , ndx, rawName] = m as unknown as [string, string, string, string, string, string];
    if (bind === 'LOCAL') continue;
    const nameField = rawName.replace(/\s+\(\d+\)\s*$/, '').trim();
    const at = nameField.indexOf('@');
    const name = at >= 0 ? nameField.slice(0, at) : nameField;
    if (!name) continue;
    const sym: DynSymbol = { name, type, bind, defined: ndx !== 'UND' };
    if (at >= 0) sym.version = nameField.slice(at).replace(/^@+/, '');
    out.push(sym);
  }
  return out;
}

/** The DT_NEEDED entries in readelf's `-d` output. */
export function parseNeeded(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)) out.push(m[1]!);
  return out;
}

async function readelf(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(process.env.READELF ?? 'readelf', ['-W', ...args], { maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new PerflabError('ERR_PERFLAB_ENVIRONMENT', 'the static check needs readelf, which is not installed; install binutils (apt-get install binutils)');
    }
    throw Object.assign(new Error((e.stderr ?? '').trim() || e.message), { readelfFailed: true });
  }
}

/** Demangles C++ names with c++filt; names it cannot read (or no c++filt) map to themselves. */
export async function demangle(names: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const cxx = [...new Set(names.filter((n) => n.startsWith('_Z')))];
  for (let i = 0; i < cxx.length; i += 400) {
    const chunk = cxx.slice(i, i + 400);
    try {
      const { stdout } = await run(process.env.CXXFILT ?? 'c++filt', chunk, { maxBuffer: 16 << 20 });
      const lines = stdout.split('\n');
      chunk.forEach((n, j) => out.set(n, lines[j]?.trim() || n));
    } catch {
      chunk.forEach((n) => out.set(n, n));
    }
  }
  return out;
}

/** Which runtime library exports each name: name -> library file name. */
export type RuntimeExports = ReadonlyMap<string, string>;

let runtimeExportsPromise: Promise<Map<string, string>> | undefined;

/**
 * The names the runtime libraries export (libc, libm, libpthread, librt, libdl,
 * libstdc++, libgcc_s, the dynamic loader), as the system compiler finds them.
 * Read once per process; libraries that cannot be found are skipped (the
 * built-in list then stands in for them).
 */
export function runtimeExports(): Promise<RuntimeExports> {
  runtimeExportsPromise ??= (async () => {
    const cc = process.env.CC ?? 'gcc';
    const sonames = ['libc.so.6', 'libm.so.6', 'libpthread.so.0', 'librt.so.1', 'libdl.so.2', 'libstdc++.so.6', 'libgcc_s.so.1'];
    const paths = await Promise.all(
      sonames.map(async (so) => {
        try {
          const { stdout } = await run(cc, [`-print-file-name=${so}`]);
          const p = stdout.trim();
          return isAbsolute(p) && existsSync(p) ? p : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    try {
      const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(await readelf(['-l', process.execPath]))?.[1];
      if (interp && existsSync(interp)) paths.push(interp);
    } catch {
      /* no interpreter found: the built-in list covers the loader's names */
    }
    const map = new Map<string, string>();
    for (const p of paths) {
      if (!p) continue;
      try {
        for (const s of parseDynSyms(await readelf(['--dyn-syms', p]))) {
          if (s.defined && !map.has(s.name)) map.set(s.name, basename(p));
        }
      } catch {
        /* unreadable: skipped */
      }
    }
    return map;
  })();
  return runtimeExportsPromise;
}

// ---------------------------------------------------------------------------
// Judging.

export interface StaticProblem {
  kind: 'missing' | 'not-a-function' | 'half-optional' | 'interposes' | 'extra-public' | 'reserved-namespace' | 'import' | 'needed' | 'not-shared-object';
  /** The offending symbol or library. */
  name: string;
  /** One line. */
  detail: string;
}

/** C++ special names: typeinfo, typeinfo name, vtable, VTT, construction vtable, guard variable, TLS init/wrapper. */
const CXX_ARTEFACT = /^_Z(TI|TS|TV|TT|TC|GV|TH|TW)/;

/** Is the entity of a mangled C++ name in a namespace the implementation owns (std, __gnu_cxx, __cxxabiv1)? */
export function inReservedNamespace(mangled: string): boolean {
  let s = mangled.replace(/^_Z/, '').replace(/^(TI|TS|TV|TT|TC|GV|TH|TW)/, '').replace(/^L/, '');
  // nested name, its cv/ref qualifiers
  s = s.replace(/^Z/, '').replace(/^N[rVKRO]*/, ''); // a local entity's enclosing function; a nested name and its qualifiers
  if (/^S[tabsiod]/.test(s)) return true; // St = std::, Sa/Sb/Ss/Si/So/Sd = std abbreviations
  return /^(9__gnu_cxx|10__cxxabiv1|11__gnu_debug)/.test(s);
}

/** Does a demangled name carry template arguments (a template instantiation)? */
export function isTemplateInstantiation(demangled: string): boolean {
  return /</.test(demangled.replace(/operator(<=>|<<=|<<|<=|<)/g, 'operator'));
}

function isFunctionType(type: string): boolean {
  return type === 'FUNC' || type === 'IFUNC' || type === 'GNU_IFUNC';
}

function isWeakish(bind: string): boolean {
  return bind === 'WEAK' || bind === 'UNIQUE' || bind === 'GNU_UNIQUE';
}

/**
 * Rules for one defined dynamic symbol, in order:
 * 1. A contract function: allowed (must be a function).
 * 2. A linker-provided marker (`LINKER_SYMBOLS`): allowed.
 * 3. A name a runtime library exports (or, without those, a known libc/pthread/
 *    clock/C++-runtime name): it interposes that library — fails. The one exception
 *    is a weak (or GNU-unique) C++ template instantiation: the compiler emits such
 *    COMDAT copies of std templates from the system headers for any use of them
 *    (e.g. a std::basic_string member template libstdc++ also exports), they are the
 *    same code, and the dynamic loader binds every caller to the first definition in
 *    scope, which is the runtime's own since the variant is loaded RTLD_LOCAL after it.
 *    Global operator new/delete are never template instantiations, so replacing the
 *    allocator always fails here.
 * 4. Any other C (unmangled) name: an extra public symbol — fails (make it static).
 * 5. A C++ (`_Z`) name:
 *    - a strong definition in std/__gnu_cxx/__cxxabiv1 fails: no ordinary
 *      translation unit defines a non-inline runtime entity (an explicit
 *      specialization of a std template for std types, or a redefinition, lands here);
 *    - weak/unique definitions pass: inline functions and template instantiations the
 *      compiler emitted out of line, typeinfo/vtables of inline-keyed classes, guard
 *      variables of static locals, TLS wrappers — none of them can interpose the
 *      runtime (rule 3 already caught those that collide with a runtime export);
 *    - strong typeinfo/typeinfo-name/vtable/VTT/guard/TLS-wrapper (`_ZTI _ZTS _ZTV _ZTT
 *      _ZTC _ZGV _ZTH _ZTW`) of the variant's own types pass (data the compiler emits);
 *    - any other strong C++ function or object (a free function, an out-of-line member
 *      of a class at namespace scope) fails as an extra public symbol: put it in an
 *      anonymous namespace or make it static.
 */
export function judgeDefined(family: StaticFamily, sym: DynSymbol, runtime: RuntimeExports, demangled: ReadonlyMap<string, string>): StaticProblem | undefined {
  const contract = CONTRACT_SYMBOLS[family];
  const all = [...contract.required, ...contract.optionalGroups.flat()];
  const name = sym.name;
  const pretty = demangled.get(name) ?? name;
  const shown = pretty === name ? `\`${name}\`` : `\`${name}\` (${pretty})`;
  if (all.includes(name)) {
    return isFunctionType(sym.type) ? undefined : { kind: 'not-a-function', name, detail: `${shown} is defined as ${sym.type}, not a function` };
  }
  if (LINKER_SYMBOLS.has(name)) return undefined;
  const cxx = name.startsWith('_Z');
  const lib = runtime.get(name);
  const weakTemplate = cxx && isWeakish(sym.bind) && isTemplateInstantiation(pretty) && !GLOBAL_NEW_DELETE.test(name);
  if (!weakTemplate) {
    if (lib) return { kind: 'interposes', name, detail: `defines ${shown}, which ${lib} exports: it would interpose the runtime's (only the contract's functions may be public)` };
    if (isBuiltinRuntimeName(name, IMPORT_ALLOWLISTS[family])) {
      const what = hintFor(name);
      return { kind: 'interposes', name, detail: `defines ${shown}, which interposes the C library or runtime${what ? ` (${what})` : ''}` };
    }
  }
  if (!cxx) {
    return { kind: 'extra-public', name, detail: `defines ${shown} (${sym.type}), which is not part of the ${family} contract: make it static` };
  }
  if (inReservedNamespace(name) && !isWeakish(sym.bind)) {
    return { kind: 'reserved-namespace', name, detail: `defines ${shown} as a strong symbol in the runtime's namespace (std/__gnu_cxx/__cxxabiv1)` };
  }
  if (isWeakish(sym.bind)) return undefined;
  if (CXX_ARTEFACT.test(name)) return undefined;
  return {
    kind: 'extra-public',
    name,
    detail: `defines ${shown} (${sym.type}), which is not part of the ${family} contract: make it static or put it in an anonymous namespace`,
  };
}

/** Is an import on the family's allow-list? */
export function importAllowed(family: StaticFamily, name: string): boolean {
  const allow = IMPORT_ALLOWLISTS[family];
  return allow.names.has(name) || allow.patterns.some((p) => p.re.test(name));
}

/** All the problems of a symbol table (pure: the tests feed it synthetic tables). */
export function judgeSymbols(
  family: StaticFamily,
  symbols: readonly DynSymbol[],
  runtime: RuntimeExports = new Map(),
  demangled: ReadonlyMap<string, string> = new Map(),
): StaticProblem[] {
  const problems: StaticProblem[] = [];
  const defined = symbols.filter((s) => s.defined);
  const definedNames = new Set(defined.map((s) => s.name));
  const contract = CONTRACT_SYMBOLS[family];
  for (const req of contract.required) {
    if (!definedNames.has(req)) problems.push({ kind: 'missing', name: req, detail: `does not define \`${req}\`` });
  }
  for (const group of contract.optionalGroups) {
    const have = group.filter((n) => definedNames.has(n));
    if (have.length > 0 && have.length < group.length) {
      const lacking = group.filter((n) => !definedNames.has(n));
      problems.push({ kind: 'half-optional', name: lacking[0]!, detail: `defines ${have.map((n) => `\`${n}\``).join(', ')} without ${lacking.map((n) => `\`${n}\``).join(', ')} (both or neither)` });
    }
  }
  const seen = new Set<string>();
  for (const s of defined) {
    if (seen.has(s.name)) continue; // versioned duplicates
    seen.add(s.name);
    const p = judgeDefined(family, s, runtime, demangled);
    if (p) problems.push(p);
  }
  const seenImports = new Set<string>();
  for (const s of symbols) {
    if (s.defined || seenImports.has(s.name)) continue;
    seenImports.add(s.name);
    if (definedNames.has(s.name)) continue;
    if (importAllowed(family, s.name)) continue;
    const pretty = demangled.get(s.name) ?? s.name;
    const shown = pretty === s.name ? `\`${s.name}\`` : `\`${s.name}\` (${pretty})`;
    const isContract = [...contract.required, ...contract.optionalGroups.flat()].includes(s.name);
    if (isContract) continue; // reported as missing
    const what = hintFor(s.name);
    problems.push({ kind: 'import', name: s.name, detail: `imports ${shown}${what ? ` (${what})` : ''}, which is not on the ${family} allow-list` });
  }
  return problems;
}

/** One short line from the problems, grouped by kind, naming every offender (up to a few per group). */
export function summarizeProblems(problems: readonly StaticProblem[]): string {
  const order: StaticProblem['kind'][] = ['not-shared-object', 'missing', 'not-a-function', 'half-optional', 'interposes', 'reserved-namespace', 'extra-public', 'import', 'needed'];
  const label: Record<StaticProblem['kind'], string> = {
    'not-shared-object': 'not a shared object',
    missing: 'missing contract functions',
    'not-a-function': 'contract symbols that are not functions',
    'half-optional': 'half of an optional pair',
    interposes: 'defines symbols that interpose libc or the runtime',
    'reserved-namespace': "defines symbols in the C++ runtime's namespace",
    'extra-public': 'defines public symbols outside the contract',
    import: 'imports outside the allow-list',
    needed: 'links libraries outside the C/C++ runtime',
  };
  const parts: string[] = [];
  for (const kind of order) {
    const names = problems.filter((p) => p.kind === kind).map((p) => p.name);
    if (names.length === 0) continue;
    const shown = names.slice(0, 6).join(', ') + (names.length > 6 ? `, +${names.length - 6} more` : '');
    parts.push(`${label[kind]}: ${shown}`);
  }
  return parts.join('; ');
}

function trimList(names: readonly string[], demangled: ReadonlyMap<string, string>, max = 60): string {
  const shown = names.slice(0, max).map((n) => {
    const d = demangled.get(n);
    return d && d !== n ? `${n} (${d})` : n;
  });
  return shown.join('\n  ') + (names.length > max ? `\n  ... ${names.length - max} more` : '');
}

/**
 * The static stage on a built variant. Environment trouble (no readelf) throws
 * ERR_PERFLAB_ENVIRONMENT; everything about the object itself is a result.
 */
export async function staticCheck(soPath: string, family: StaticFamily): Promise<StaticCheckResult> {
  if (!(family in CONTRACT_SYMBOLS)) throw new PerflabError('ERR_PERFLAB_USAGE', `no static-check rules for family "${family}"; known: ${Object.keys(CONTRACT_SYMBOLS).join(', ')}`);
  let text: string;
  try {
    text = await readelf(['-h', '-d', '--dyn-syms', soPath]);
  } catch (err) {
    if (err instanceof PerflabError) throw err;
    const msg = (err as Error).message;
    return { ok: false, reason: `not a readable ELF shared object: ${soPath}`, log: msg.slice(0, 2000), defined: [], imported: [] };
  }
  const elfType = /^\s*Type:\s+(\S+)/m.exec(text)?.[1];
  const symbols = parseDynSyms(text);
  const needed = parseNeeded(text);
  const defined = [...new Set(symbols.filter((s) => s.defined).map((s) => s.name))];
  const imported = [...new Set(symbols.filter((s) => !s.defined).map((s) => s.name))];
  const [runtime, demangled] = await Promise.all([runtimeExports(), demangle(symbols.map((s) => s.name))]);

  const problems: StaticProblem[] = [];
  if (elfType !== 'DYN') problems.push({ kind: 'not-shared-object', name: soPath, detail: `ELF type is ${elfType ?? 'unknown'}, not DYN (a shared object)` });
  problems.push(...judgeSymbols(family, symbols, runtime, demangled));
  for (const lib of needed) {
    if (!ALLOWED_NEEDED.some((re) => re.test(lib))) problems.push({ kind: 'needed', name: lib, detail: `needs ${lib}, which is not part of the C/C++ runtime` });
  }

  const log = [
    `static check (${family}) of ${soPath}`,
    `needed: ${needed.join(', ') || '(none)'}`,
    `defined (${defined.length}):\n  ${trimList(defined, demangled)}`,
    `imported (${imported.length}):\n  ${trimList(imported, demangled)}`,
    problems.length ? `problems (${problems.length}):\n  ${problems.slice(0, 40).map((p) => p.detail).join('\n  ')}${problems.length > 40 ? `\n  ... ${problems.length - 40} more` : ''}` : 'problems: none',
  ].join('\n');
  return { ok: problems.length === 0, reason: summarizeProblems(problems), log, defined, imported };
}
