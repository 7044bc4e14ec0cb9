import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { loadBinding } from '../native/binding.js';
import { buildDir } from '../paths.js';
import { renderTable } from '../report/table.js';
import { emit } from './output.js';

/** One capability of this machine, with the remedy where it is missing. */
export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  remedy?: string;
}

function sh(cmd: string, args: string[], timeoutMs = 20_000): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || (r.error?.message ?? '') };
}

function sanitizerCheck(flag: string, label: string): DoctorCheck {
  const dir = mkdtempSync(join(tmpdir(), 'perflab-doctor-'));
  try {
    const src = join(dir, 't.c');
    writeFileSync(src, '#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); pthread_join(t, 0); return 0; }\n');
    const exe = join(dir, 't');
    const cc = sh('gcc', [flag, '-g', '-pthread', src, '-o', exe]);
    if (!cc.ok) return { name: label, ok: false, detail: `gcc ${flag} fails: ${cc.out.split('\n')[0]}`, remedy: 'install gcc with its sanitizer runtimes (apt-get install gcc)' };
    const run = sh(exe, []);
    return run.ok
      ? { name: label, ok: true, detail: `gcc ${flag} builds and runs` }
      : { name: label, ok: false, detail: `a ${flag} program does not run: ${run.out.split('\n')[0]}`, remedy: 'sanitizers need an unrestricted address space (no ulimit -v) and ASLR compatible with the runtime' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function runDoctorChecks(): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  try {
    const b = loadBinding();
    const p = b.ioUringProbe();
    checks.push(
      p.supported
        ? { name: 'io_uring', ok: true, detail: `supported; setup SINGLE_ISSUER ${p.singleIssuer ? 'yes' : 'no'}, DEFER_TASKRUN ${p.deferTaskrun ? 'yes' : 'no'}; features ${p.features.join(',')}` }
        : { name: 'io_uring', ok: false, detail: `refused by the kernel (errno ${-p.error})`, remedy: 'enable io_uring (sysctl kernel.io_uring_disabled=0, no seccomp filter on io_uring_setup); io_uring variants are skipped meanwhile' },
    );
    checks.push({ name: 'liburing', ok: true, detail: `version ${b.versions().liburing} (found by the build)` });
  } catch (err) {
    checks.push({ name: 'addon', ok: false, detail: (err as Error).message, remedy: 'run: bash scripts/setup.sh' });
  }
  checks.push({ name: 'node', ok: true, detail: `Node ${process.version}, N-API ${process.versions.napi}` });
  for (const [build, label] of [['gyp', 'node-gyp build'], ['cmake', 'cmake-js build']] as const) {
    const dir = buildDir(build);
    const have = ['perflab.node', 'perflab-runner'].filter((f) => existsSync(join(dir, f)));
    checks.push(have.length === 2 ? { name: label, ok: true, detail: `${dir}: addon and runner` } : { name: label, ok: false, detail: `${dir}: missing ${['perflab.node', 'perflab-runner'].filter((f) => !have.includes(f)).join(', ')}`, remedy: 'run: bash scripts/setup.sh' });
  }
  checks.push(sanitizerCheck('-fsanitize=thread', 'TSan'));
  checks.push(sanitizerCheck('-fsanitize=address,undefined', 'ASan/UBSan'));
  const vg = sh('valgrind', ['--version']);
  checks.push(vg.ok ? { name: 'callgrind', ok: true, detail: `${vg.out} (op_cost instruction counts)` } : { name: 'callgrind', ok: false, detail: 'valgrind not found', remedy: 'apt-get install valgrind (op_cost is skipped without it)' });
  const cores = spawnSync('nproc', [], { encoding: 'utf8' }).stdout?.trim() ?? '?';
  const pin = sh('taskset', ['-c', '0', 'true']);
  checks.push(pin.ok && Number(cores) >= 2 ? { name: 'pinning', ok: true, detail: `${cores} CPUs allowed; threads pinned apart` } : { name: 'pinning', ok: false, detail: `${cores} CPU(s) allowed${pin.ok ? '' : '; sched_setaffinity refused'}`, remedy: 'producer/consumer pairs share a CPU: throughput and latency figures are not comparable with 2+ CPU machines' });
  const ns = sh('unshare', ['--pid', '--net', '--fork', '--mount-proc', 'true']);
  checks.push(ns.ok ? { name: 'namespaces', ok: true, detail: 'new PID and network namespaces work (unshare)' } : { name: 'namespaces', ok: false, detail: `unshare --pid --net fails: ${ns.out.split('\n')[0]}`, remedy: 'run as root or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1); the sandbox (a later issue) needs them' });
  const uid = sh('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', 'true']);
  checks.push(uid.ok ? { name: 'uid switch', ok: true, detail: 'setpriv can drop to an unprivileged uid with no_new_privs' } : { name: 'uid switch', ok: false, detail: `setpriv fails: ${uid.out.split('\n')[0]}`, remedy: 'install util-linux and run as root so generated code can run as an unprivileged user' });
  return checks;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('what this machine can do: io_uring, sanitizers, sandbox, callgrind, pinning, builds')
    .option('--json', 'print one JSON document on stdout')
    .action((flags: { json?: boolean }) => {
      const checks = runDoctorChecks();
      emit(flags.json === true, { schema_version: 1, checks }, () =>
        renderTable(
          ['check', 'ok', 'detail'],
          checks.flatMap((c) => [[c.name, c.ok ? pc.green('yes') : pc.red('no'), c.detail], ...(c.remedy && !c.ok ? [['', '', pc.yellow(`fix: ${c.remedy}`)]] : [])]),
        ),
      );
    });
}
