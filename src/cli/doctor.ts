import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { loadBinding } from '../native/binding.js';
import { buildDir } from '../paths.js';
import { sandboxBackstopNote, sandboxCapabilities } from '../pipeline/sandbox.js';
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

/**
 * What the sandbox (src/pipeline/sandbox.ts) can enforce here, one check per
 * protection; a missing one says what variant code can then do, and the fix.
 */
export function sandboxChecks(): DoctorCheck[] {
  const c = sandboxCapabilities(true);
  const checks: DoctorCheck[] = [];
  const who = c.root ? 'root' : `uid ${process.getuid?.()}`;
  checks.push(
    c.uidSwitch.ok && c.noNewPrivs.ok
      ? { name: 'sandbox: user', ok: true, detail: c.uidSwitch.detail }
      : {
          name: 'sandbox: user', ok: false,
          detail: `${c.uidSwitch.ok ? c.noNewPrivs.detail : c.uidSwitch.detail}: NOT ENFORCED${c.root ? ' - variant code runs as root, where rlimits on processes and files do not bind' : ' - no no_new_privs'}`,
          remedy: 'install util-linux (setpriv) and run perflab as root, or as an unprivileged user',
        },
  );
  checks.push(
    c.namespaces.mode
      ? { name: 'sandbox: namespaces', ok: true, detail: `${c.namespaces.detail}; a timeout kills the whole namespace` }
      : {
          name: 'sandbox: namespaces', ok: false,
          detail: `${c.namespaces.detail}: NOT ENFORCED - variant code shares the network, and a descendant that leaves the process group can outlive its run`,
          remedy: c.root ? 'install util-linux (unshare); a seccomp/container policy may forbid unshare(2)' : 'run as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0)',
        },
  );
  if (c.namespaces.mode) {
    checks.push(
      c.loopback.ok
        ? { name: 'sandbox: network', ok: true, detail: 'loopback only (a fresh network namespace)' }
        : { name: 'sandbox: network', ok: false, detail: `${c.loopback.detail} (isolated, but variants that use loopback fail)`, remedy: 'apt-get install iproute2' },
    );
  }
  checks.push(
    c.mounts.ok && c.namespaces.mode
      ? { name: 'sandbox: filesystem', ok: true, detail: c.mounts.detail }
      : {
          name: 'sandbox: filesystem', ok: false,
          detail: `${c.namespaces.mode ? c.mounts.detail : 'no mount namespace'}: NOT ENFORCED - variant code can write wherever ${who === 'root' ? 'uid 65534' : who} can (e.g. /tmp) and read the repo`,
          remedy: 'allow mount namespaces (unshare --mount) and tmpfs mounts inside them',
        },
  );
  const cg = c.cgroup;
  checks.push(
    cg.memoryParent
      ? { name: 'sandbox: memory', ok: true, detail: `memory bound by ${cg.detail.split(':')[0]} (${cg.memoryParent}); ${sandboxBackstopNote}` }
      : c.watchdog.ok
        ? {
            name: 'sandbox: memory', ok: false,
            detail: `no writable memory cgroup (${cg.detail}); FALLBACK: an RSS watchdog ${c.watchdog.detail}; ${sandboxBackstopNote}`,
            remedy: 'run as root with a writable cgroup v2 (memory and pids controllers) or v1 memory hierarchy for a hard bound',
          }
        : { name: 'sandbox: memory', ok: false, detail: `no memory cgroup and ${c.watchdog.detail}: NOT ENFORCED - a memory hog can take the machine`, remedy: 'mount /proc, or give perflab a writable cgroup' },
  );
  checks.push(
    cg.pidsParent
      ? { name: 'sandbox: processes', ok: true, detail: `pids cgroup (${cg.pidsParent}): a fork bomb is stopped at the run's task limit` }
      : {
          name: 'sandbox: processes', ok: false,
          detail: `no writable pids cgroup; FALLBACK: RLIMIT_NPROC only${c.rlimits.ok ? '' : ' - and that is not set either'}, which counts every process of the sandbox uid machine-wide`,
          remedy: 'run as root with a writable cgroup (pids controller)',
        },
  );
  checks.push(
    c.rlimits.ok
      ? { name: 'sandbox: rlimits', ok: true, detail: c.rlimits.detail }
      : { name: 'sandbox: rlimits', ok: false, detail: `${c.rlimits.detail}: NOT ENFORCED`, remedy: 'install util-linux (prlimit) and let variant code run as an unprivileged user' },
  );
  return checks;
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
  checks.push(...sandboxChecks());
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
