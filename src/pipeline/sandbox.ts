/**
 * The sandbox every run of variant code goes through (DESIGN.md, "Sandbox").
 *
 * One run is one chain of small exec()s, set up by root and ending in the
 * runner as an unprivileged user:
 *
 *   sh (prelude: core 0, enter the run's cgroup(s))
 *    -> unshare --pid --net --ipc --mount --fork --kill-child --mount-proc
 *        -> sh (inner, root inside the new namespaces: loopback up, private
 *              tmpfs on /tmp, /var/tmp, /dev/shm, /run/lock, an empty
 *              read-only tmpfs over the repo, the state dir, the harness's cwd
 *              and home, a size-bounded tmpfs scratch dir with copies of the
 *              runner and the variant)
 *            -> setpriv --reuid/--regid 65534 --clear-groups --no-new-privs
 *                       --inh-caps=-all --bounding-set=-all
 *                -> prlimit --nproc --nofile --fsize --cpu --core=0
 *                    -> [wrapper...] runner (PID 1 of its namespace)
 *
 * The result fd (3) passes through every link. The environment is clean:
 * PATH, LANG, HOME/TMPDIR = scratch, sanitizer *_OPTIONS and what the caller
 * passes explicitly. The memory bound is a cgroup (v2, else v1 memory + pids)
 * when one can be created, else an RSS watchdog polling /proc; sanitizer runs
 * get the sanitizer allocator's own RSS limit (no RLIMIT_AS: it breaks
 * sanitizers) with the cgroup/watchdog as a looser backstop. Whatever this
 * machine cannot enforce is listed in the run's report (`notEnforced`) and by
 * `perflab doctor`, never skipped silently.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { basename, delimiter, isAbsolute, join, resolve, sep } from 'node:path';
import { packageRoot, stateDir } from '../paths.js';

/** Limits and knobs of one sandboxed run. Every field has a default. */
export interface SandboxOptions {
  /** Memory bound of the whole sandbox (RSS + tmpfs), MiB. Default 2048. */
  memoryMiB?: number;
  /** Tasks (processes + threads) in the sandbox: the pids cgroup, and RLIMIT_NPROC. Default 512. */
  pids?: number;
  /** RLIMIT_NOFILE. Default 256. */
  nofile?: number;
  /** RLIMIT_FSIZE, MiB. Default 64. */
  fsizeMiB?: number;
  /** RLIMIT_CPU, seconds (all threads together). Default: the wall-clock timeout x CPUs + 10. */
  cpuSeconds?: number;
  /** Size of each private tmpfs (scratch, /tmp, /var/tmp, /dev/shm, /run/lock), MiB. Default 64. */
  tmpfsMiB?: number;
  /** The unprivileged user and group. Default 65534 (nobody/nogroup). */
  uid?: number;
  gid?: number;
  /** A sanitizer build runs: its allocator's RSS limit is the memory bound (no RLIMIT_AS). */
  sanitizer?: 'thread' | 'address';
  /** Extra environment variables, passed explicitly (the environment is otherwise clean). */
  env?: Record<string, string>;
  /** How memory is bounded: a cgroup when possible (default), or force the RSS watchdog. */
  memory?: 'auto' | 'watchdog';
  /** Refuse to run (a failed outcome) rather than run with any protection missing. */
  strict?: boolean;
  /** Extra host directories to hide from the sandbox (an empty read-only tmpfs over each). */
  hide?: string[];
}

/** What one sandboxed run had, for the record. */
export interface SandboxReport {
  /** Protections in force, one phrase each. */
  enforced: string[];
  /** Protections this machine could not give; empty when fully sandboxed. */
  notEnforced: string[];
  /** How the memory bound is held: "cgroup v2", "cgroup v1", "RSS watchdog", plus the sanitizer allocator. */
  memory: string;
  limits: { memoryMiB: number; pids: number; nofile: number; fsizeMiB: number; cpuSeconds: number; tmpfsMiB: number; uid: number; gid: number };
  /** The run's scratch directory (the same path inside the sandbox). */
  scratch: string;
  /** Peak memory of the sandbox (cgroup peak or largest RSS sum seen), MiB; null when unknown. */
  peakMiB: number | null;
}

// ---------------------------------------------------------------------------
// What the machine can do (probed once per process; `perflab doctor` shows it)

export interface CgroupSupport {
  kind: 'v2' | 'v1' | null;
  /** Parent directories the run's cgroups are created under. */
  memoryParent: string | null;
  pidsParent: string | null;
  detail: string;
}

export interface SandboxCapabilities {
  root: boolean;
  tools: Record<'sh' | 'unshare' | 'setpriv' | 'prlimit' | 'ip' | 'cp' | 'mount', string | null>;
  /** New PID/net/IPC/mount namespaces: as root, in a user namespace, or not at all. */
  namespaces: { mode: 'root' | 'userns' | null; detail: string };
  /** A private tmpfs can be mounted inside the namespace (filesystem isolation). */
  mounts: { ok: boolean; detail: string };
  loopback: { ok: boolean; detail: string };
  uidSwitch: { ok: boolean; detail: string };
  noNewPrivs: { ok: boolean; detail: string };
  rlimits: { ok: boolean; detail: string };
  cgroup: CgroupSupport;
  /** The RSS watchdog can see processes (/proc readable). */
  watchdog: { ok: boolean; detail: string };
}

const SEARCH_PATH = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];
const CLEAN_PATH = '/usr/bin:/bin';

function which(name: string): string | null {
  const dirs = [...SEARCH_PATH, ...(process.env.PATH ?? '').split(delimiter).filter((d) => isAbsolute(d))];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

function run(cmd: string, args: string[], timeoutMs = 10_000): { ok: boolean; out: string; status: number | null } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, env: { PATH: CLEAN_PATH, LANG: 'C' } });
  return { ok: r.status === 0, status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || (r.error?.message ?? '') };
}

const firstLine = (s: string) => s.split('\n').find((l) => l.trim())?.trim() ?? '';

let cached: SandboxCapabilities | undefined;

/** What the sandbox can enforce on this machine. Probed once per process unless `fresh`. */
export function sandboxCapabilities(fresh = false): SandboxCapabilities {
  if (cached && !fresh) return cached;
  const root = process.getuid?.() === 0;
  const tools = {
    sh: which('sh'), unshare: which('unshare'), setpriv: which('setpriv'), prlimit: which('prlimit'),
    ip: which('ip'), cp: which('cp'), mount: which('mount'),
  };
  const caps: SandboxCapabilities = {
    root, tools,
    namespaces: { mode: null, detail: '' },
    mounts: { ok: false, detail: '' },
    loopback: { ok: false, detail: '' },
    uidSwitch: { ok: false, detail: '' },
    noNewPrivs: { ok: false, detail: '' },
    rlimits: { ok: false, detail: '' },
    cgroup: { kind: null, memoryParent: null, pidsParent: null, detail: '' },
    watchdog: { ok: false, detail: '' },
  };

  // PERFLAB_SANDBOX_WITHOUT=namespaces,mounts,uid,cgroup: act as if the machine lacked them
  // (to test the fallbacks, or to get around a machine where one misbehaves).
  const without = new Set((process.env.PERFLAB_SANDBOX_WITHOUT ?? '').split(',').map((w) => w.trim()).filter(Boolean));
  const off = 'disabled by PERFLAB_SANDBOX_WITHOUT';

  // Namespaces: one throw-away namespace that also tries the mounts and the loopback.
  if (without.has('namespaces')) {
    caps.namespaces.detail = off;
  } else if (!tools.unshare || !tools.sh) {
    caps.namespaces.detail = 'unshare (util-linux) not found';
  } else {
    const script = `mount -t tmpfs -o size=1m perflab-probe /tmp && echo mount=ok; ${tools.ip ? `${tools.ip} link set lo up && ${tools.ip} -o link show lo | grep -q 'state UNKNOWN\\|,UP' && echo lo=up` : 'echo lo=no-ip'}; exit 0`;
    const nsArgs = ['--pid', '--net', '--ipc', '--mount', '--fork', '--kill-child', '--mount-proc', '--', tools.sh, '-c', script];
    const tries: ['root' | 'userns', string[]][] = root ? [['root', nsArgs]] : [];
    tries.push(['userns', ['--user', '--map-root-user', ...nsArgs]]);
    const errors: string[] = [];
    for (const [mode, args] of tries) {
      const r = run(tools.unshare, args);
      if (!r.ok) {
        errors.push(`${mode === 'userns' ? 'unshare --user' : 'unshare'}: ${firstLine(r.out)}`);
        continue;
      }
      caps.namespaces = { mode, detail: mode === 'root' ? 'new PID, network, IPC and mount namespaces (unshare as root)' : 'new PID, network, IPC and mount namespaces inside a user namespace (not root)' };
      caps.mounts = /mount=ok/.test(r.out) ? { ok: true, detail: 'private tmpfs for scratch, /tmp, /var/tmp, /dev/shm; the repo, state dir, cwd and home hidden' } : { ok: false, detail: `cannot mount a tmpfs inside the namespace: ${firstLine(r.out)}` };
      caps.loopback = /lo=up/.test(r.out) ? { ok: true, detail: 'loopback up inside the network namespace' } : { ok: false, detail: tools.ip ? 'loopback could not be brought up (ip link set lo up failed): the namespace has no network at all' : 'iproute2 (ip) not found: loopback stays down, the namespace has no network at all' };
      break;
    }
    if (!caps.namespaces.mode) caps.namespaces.detail = errors.join('; ');
    if (without.has('mounts')) caps.mounts = { ok: false, detail: off };
  }

  if (!tools.setpriv) {
    caps.uidSwitch.detail = 'setpriv (util-linux) not found';
    caps.noNewPrivs.detail = 'setpriv (util-linux) not found';
  } else {
    const nnp = run(tools.setpriv, ['--no-new-privs', '--inh-caps=-all', '--', 'true']);
    caps.noNewPrivs = nnp.ok ? { ok: true, detail: 'no_new_privs set, capabilities dropped' } : { ok: false, detail: `setpriv --no-new-privs fails: ${firstLine(nnp.out)}` };
    if (root && without.has('uid')) {
      caps.uidSwitch = { ok: false, detail: off };
    } else if (root) {
      const u = run(tools.setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--', 'id', '-u']);
      caps.uidSwitch = u.ok && u.out.trim() === '65534' ? { ok: true, detail: 'runs as uid/gid 65534 with no_new_privs, no capabilities' } : { ok: false, detail: `setpriv cannot switch to uid 65534: ${firstLine(u.out)}` };
    } else {
      caps.uidSwitch = { ok: true, detail: `not root: runs as this user (uid ${process.getuid?.()}), where rlimits bind, with no_new_privs` };
    }
  }

  if (!tools.prlimit) caps.rlimits.detail = 'prlimit (util-linux) not found';
  else {
    const p = run(tools.prlimit, ['--nproc=4096', '--nofile=256', '--fsize=1048576', '--cpu=60', '--core=0', '--', 'true']);
    caps.rlimits = p.ok ? { ok: true, detail: root && !caps.uidSwitch.ok ? 'set, but the runner stays root, where NPROC/NOFILE limits do not bind' : 'CPU, file size, open files, processes, no core dumps' } : { ok: false, detail: `prlimit fails: ${firstLine(p.out)}` };
    if (root && !caps.uidSwitch.ok) caps.rlimits.ok = false;
  }

  caps.cgroup = without.has('cgroup') ? { kind: null, memoryParent: null, pidsParent: null, detail: off } : probeCgroup();
  caps.watchdog = existsSync('/proc/self/status') ? { ok: true, detail: 'polls /proc every 100 ms and kills the sandbox over the bound (overshoots by what is allocated in 100 ms)' } : { ok: false, detail: '/proc is not mounted' };
  cached = caps;
  return caps;
}

// ---------------------------------------------------------------------------
// cgroups: v2 (memory.max, memory.swap.max, pids.max) or v1 (memory + pids)

interface Mount { point: string; root: string; fstype: string; opts: string[] }

function cgroupMounts(): Mount[] {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
      const [pre, post] = line.split(' - ');
      if (!pre || !post) return [];
      const f = pre.split(' ');
      const [fstype, , superOpts] = post.split(' ');
      if (fstype !== 'cgroup' && fstype !== 'cgroup2') return [];
      const unesc = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      return [{ point: unesc(f[4] ?? ''), root: unesc(f[3] ?? '/'), fstype, opts: (superOpts ?? '').split(',') }];
    });
  } catch {
    return [];
  }
}

/** Our own cgroup path per hierarchy: "" for v2's unified, else the controller name. */
function ownCgroups(): Map<string, string> {
  const m = new Map<string, string>();
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, ctrls, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
      if (path === undefined) continue;
      if (ctrls === '') m.set('', path);
      else for (const c of ctrls!.split(',')) m.set(c, path);
    }
  } catch {
    /* no /proc */
  }
  return m;
}

function hostDir(mount: Mount, path: string): string {
  const rel = mount.root !== '/' && path.startsWith(mount.root) ? path.slice(mount.root.length) : path;
  return join(mount.point, rel);
}

const tryWrite = (file: string, text: string): string | null => {
  try {
    writeFileSync(file, text);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
};

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

let seq = 0;
const cgName = () => `perflab-${process.pid}-${Date.now().toString(36)}-${seq++}`;

/** Removes empty cgroups left by perflab processes that are gone. */
function sweepStale(parent: string): void {
  try {
    for (const name of readdirSync(parent)) {
      const m = /^perflab-(\d+)-/.exec(name);
      if (!m || Number(m[1]) === process.pid || existsSync(`/proc/${m[1]}`)) continue;
      try {
        rmdirSync(join(parent, name));
      } catch {
        /* still busy or not ours */
      }
    }
  } catch {
    /* unreadable */
  }
}

function probeCgroup(): CgroupSupport {
  const mounts = cgroupMounts();
  const own = ownCgroups();
  const problems: string[] = [];

  // cgroup v2 with the memory and pids controllers.
  const v2 = mounts.find((m) => m.fstype === 'cgroup2');
  if (v2) {
    const ctl = (dir: string) => {
      try {
        return readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
      } catch {
        return [];
      }
    };
    if (!ctl(v2.point).includes('memory')) problems.push(`cgroup v2 at ${v2.point} has no memory controller (bound to v1)`);
    else {
      const self = hostDir(v2, own.get('') ?? '/');
      // A parent where children get memory+pids: our own cgroup when it can delegate, else the root.
      for (const parent of [...new Set([self, v2.point])]) {
        const sub = () => {
          try {
            return readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/);
          } catch {
            return [];
          }
        };
        if (!(sub().includes('memory') && sub().includes('pids'))) tryWrite(join(parent, 'cgroup.subtree_control'), '+memory +pids');
        if (!(sub().includes('memory') && sub().includes('pids'))) {
          problems.push(`cannot enable memory+pids for children of ${parent}`);
          continue;
        }
        const probe = join(parent, cgName());
        try {
          mkdirSync(probe);
          const e = tryWrite(join(probe, 'memory.max'), String(64 << 20)) ?? tryWrite(join(probe, 'pids.max'), '64');
          rmdirSync(probe);
          if (e) throw new Error(e);
          sweepStale(parent);
          return { kind: 'v2', memoryParent: parent, pidsParent: parent, detail: `cgroup v2 under ${parent}: memory.max, memory.swap.max=0, pids.max` };
        } catch (err) {
          problems.push(`cannot create a cgroup under ${parent} (${errCode(err)})`);
          try {
            rmdirSync(probe);
          } catch {
            /* not created */
          }
        }
      }
    }
  }

  // cgroup v1: separate memory and pids hierarchies.
  const v1 = (ctrl: string): string | null => {
    const m = mounts.find((x) => x.fstype === 'cgroup' && x.opts.includes(ctrl));
    if (!m) {
      problems.push(`no cgroup v1 ${ctrl} hierarchy mounted`);
      return null;
    }
    const parent = hostDir(m, own.get(ctrl) ?? '/');
    const probe = join(parent, cgName());
    try {
      mkdirSync(probe);
      const e = tryWrite(join(probe, ctrl === 'memory' ? 'memory.limit_in_bytes' : 'pids.max'), ctrl === 'memory' ? String(64 << 20) : '64');
      rmdirSync(probe);
      if (e) throw new Error(e);
      sweepStale(parent);
      return parent;
    } catch (err) {
      problems.push(`cannot create a v1 ${ctrl} cgroup under ${parent} (${errCode(err)})`);
      try {
        rmdirSync(probe);
      } catch {
        /* not created */
      }
      return null;
    }
  };
  const mem = v1('memory');
  const pids = v1('pids');
  if (mem || pids) {
    const what = [mem ? `memory (${mem})` : null, pids ? `pids (${pids})` : null].filter(Boolean).join(', ');
    return { kind: 'v1', memoryParent: mem, pidsParent: pids, detail: `cgroup v1: ${what}${problems.length && !(mem && pids) ? `; ${problems.at(-1)}` : ''}` };
  }
  return { kind: null, memoryParent: null, pidsParent: null, detail: problems.join('; ') || 'no cgroup hierarchy found' };
}

/** One run's cgroup(s). */
class RunCgroup {
  readonly dirs: string[] = [];
  private memDir: string | null = null;
  private pidsDir: string | null = null;

  /** memoryBytes null: no memory limit here (the RSS watchdog holds it). */
  constructor(private readonly kind: 'v1' | 'v2', memoryParent: string | null, pidsParent: string | null, memoryBytes: number | null, pids: number) {
    const name = cgName();
    try {
      if (kind === 'v2') {
        const dir = join(memoryParent!, name);
        mkdirSync(dir);
        this.dirs.push(dir);
        this.pidsDir = dir;
        if (memoryBytes !== null) {
          this.memDir = dir;
          this.must(join(dir, 'memory.max'), String(memoryBytes));
          tryWrite(join(dir, 'memory.swap.max'), '0'); // absent without swap accounting
          tryWrite(join(dir, 'memory.oom.group'), '1'); // an OOM kill takes the whole sandbox
        }
        this.must(join(dir, 'pids.max'), String(pids));
      } else {
        if (memoryParent && memoryBytes !== null) {
          const dir = join(memoryParent, name);
          mkdirSync(dir);
          this.dirs.push(dir);
          this.memDir = dir;
          this.must(join(dir, 'memory.limit_in_bytes'), String(memoryBytes));
          tryWrite(join(dir, 'memory.memsw.limit_in_bytes'), String(memoryBytes)); // no swap either (when accounted)
          tryWrite(join(dir, 'memory.swappiness'), '0');
        }
        if (pidsParent) {
          const dir = join(pidsParent, name);
          mkdirSync(dir);
          this.dirs.push(dir);
          this.pidsDir = dir;
          this.must(join(dir, 'pids.max'), String(pids));
        }
      }
    } catch (err) {
      this.removeSync();
      throw err;
    }
  }

  private must(file: string, text: string): void {
    const e = tryWrite(file, text);
    if (e) throw new Error(`cannot write ${file}: ${e}`);
  }

  get hasMemory(): boolean {
    return this.memDir !== null;
  }
  get hasPids(): boolean {
    return this.pidsDir !== null;
  }

  /** The files the prelude writes its pid to. */
  procsFiles(): string[] {
    return this.dirs.map((d) => join(d, 'cgroup.procs'));
  }

  private static field(text: string, key: string): number {
    const m = new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  }

  /** OOM kills and fork refusals so far. */
  async events(): Promise<{ oomKills: number; pidsMax: number }> {
    const read = async (f: string) => {
      try {
        return await readFile(f, 'utf8');
      } catch {
        return '';
      }
    };
    let oomKills = 0;
    if (this.memDir) {
      const t = await read(join(this.memDir, this.kind === 'v2' ? 'memory.events' : 'memory.oom_control'));
      oomKills = RunCgroup.field(t, 'oom_kill');
      if (this.kind === 'v2') oomKills = Math.max(oomKills, RunCgroup.field(t, 'oom_group_kill'));
    }
    const pidsMax = this.pidsDir ? RunCgroup.field(await read(join(this.pidsDir, 'pids.events')), 'max') : 0;
    return { oomKills, pidsMax };
  }

  peakBytes(): number | null {
    if (!this.memDir) return null;
    for (const f of this.kind === 'v2' ? ['memory.peak'] : ['memory.max_usage_in_bytes']) {
      try {
        const n = Number(readFileSync(join(this.memDir, f), 'utf8').trim());
        if (Number.isFinite(n)) return n;
      } catch {
        /* older kernel */
      }
    }
    return null;
  }

  private pids(): number[] {
    const out = new Set<number>();
    for (const d of this.dirs) {
      try {
        for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) out.add(Number(l));
      } catch {
        /* gone */
      }
    }
    return [...out];
  }

  /** SIGKILLs everything in the cgroup(s); returns how many were still there. */
  killAll(): number {
    if (this.kind === 'v2' && this.dirs[0] && tryWrite(join(this.dirs[0], 'cgroup.kill'), '1') === null) return this.pids().length;
    const pids = this.pids();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    return pids.length;
  }

  /** Kills what is left, waits for the cgroups to empty and removes them. */
  async remove(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if (this.pids().length === 0) break;
      this.killAll();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.removeSync();
  }

  removeSync(): void {
    for (const d of this.dirs.splice(0).reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* busy: swept when our pid is gone */
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The RSS watchdog: the sum of VmRSS of every process descending from the sandbox

async function descendants(rootPid: number): Promise<number[]> {
  const parent = new Map<number, number[]>();
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [rootPid];
  }
  await Promise.all(
    names.map(async (n) => {
      if (!/^\d+$/.test(n)) return;
      try {
        const stat = await readFile(`/proc/${n}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const list = parent.get(ppid) ?? [];
        list.push(Number(n));
        parent.set(ppid, list);
      } catch {
        /* exited */
      }
    }),
  );
  const out: number[] = [];
  const stack = [rootPid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    for (const c of parent.get(p) ?? []) stack.push(c);
  }
  return out;
}

async function rssBytes(pids: number[]): Promise<number> {
  let total = 0;
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
        if (m) total += Number(m[1]) * 1024;
      } catch {
        /* exited */
      }
    }),
  );
  return total;
}

// ---------------------------------------------------------------------------
// Preparing one run

export interface PrepareInput {
  /** The runner executable on the host. */
  runner: string;
  /** Its arguments; the value after --variant is a host path, copied into scratch. */
  args: string[];
  /** A command prefix (e.g. valgrind); resolved on the host, run inside. */
  wrapper?: string[];
  timeoutMs: number;
  /** The caller's environment: only *SAN_OPTIONS variables are carried over. */
  env?: NodeJS.ProcessEnv;
  options: SandboxOptions;
}

/** What the sandbox saw at the end of a run: the reasons it imposes, if any. */
export interface SandboxVerdict {
  /** The sandbox itself killed the run or saw a bound hit: this is the reason. */
  reason: string | null;
  /** The chain could not be set up (exit 125 from the helper): what failed. */
  setupError: string | null;
  report: SandboxReport;
}

export interface PreparedSandbox {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  report: SandboxReport;
  /** The run has its own PID namespace: nothing of it outlives its first process. */
  pidNamespace: boolean;
  /** Refuses the run (strict mode with something missing): the reason. */
  refused: string | null;
  /** Starts the watchdog for the spawned chain; `kill` ends the whole sandbox. */
  watch(pid: number, kill: (why: string) => void): void;
  /** Kills what is left, reads the bounds' counters, removes cgroup and scratch. */
  finish(exitCode: number | null, signal: NodeJS.Signals | null, stderr: string): Promise<SandboxVerdict>;
  /** Synchronous best-effort cleanup (harness interrupted). */
  abort(): void;
}

const SETUP_EXIT = 125;
const SETUP_TAG = 'perflab-sandbox:';

/** The prelude: no core dumps, enter the run's cgroup(s), exec the rest. */
const PRELUDE = `ulimit -c 0 2>/dev/null
n=$1; shift
while [ "$n" -gt 0 ]; do
  echo $$ > "$1" || { echo "${SETUP_TAG} cannot enter the cgroup $1" >&2; exit ${SETUP_EXIT}; }
  shift; n=$((n - 1))
done
unset OLDPWD PWD
exec "$@"`;

/**
 * Inside the new namespaces, still root (of the namespace): loopback up, private
 * tmpfs over the world-writable places, hidden host directories, a bounded tmpfs
 * scratch dir with copies of the staged files; then exec the rest (setpriv ...).
 * $1 scratch  $2 tmpfs bytes  $3 uid  $4 gid  $5 ip path or ""  $6 hidden dirs (newline separated)
 */
const INNER = `fail() { echo "${SETUP_TAG} $*" >&2; exit ${SETUP_EXIT}; }
S=$1; SZ=$2; U=$3; G=$4; IP=$5; HIDE=$6; shift 6
if [ -n "$IP" ]; then "$IP" link set lo up 2>/dev/null || echo "${SETUP_TAG} note: loopback could not be brought up" >&2; fi
cd "$S" || fail "cannot enter the scratch dir $S"
IFS='
'
for d in $HIDE; do
  [ -d "$d" ] || continue
  mount -t tmpfs -o ro,size=4k,mode=0755,nosuid,nodev,noexec perflab-hidden "$d" || fail "cannot hide $d"
done
unset IFS
for d in /tmp /var/tmp /dev/shm /run/lock; do
  [ -d "$d" ] || continue
  mount -t tmpfs -o "size=$SZ,mode=1777,nosuid,nodev" perflab-tmp "$d" || fail "cannot mount a private tmpfs on $d"
done
mkdir -p "$S" || fail "cannot create $S"
mount -t tmpfs -o "size=$SZ,mode=0700,uid=$U,gid=$G,nosuid,nodev" perflab-scratch "$S" || fail "cannot mount the scratch tmpfs on $S"
cp ./* "$S"/ || fail "cannot copy the runner into the scratch dir"
cd "$S" || fail "cannot enter the scratch tmpfs"
unset OLDPWD PWD
exec "$@"`;

const PROTECTED = ['/', '/usr', '/lib', '/lib32', '/lib64', '/libx32', '/bin', '/sbin', '/etc', '/proc', '/sys', '/dev', '/tmp', '/var', '/run', '/opt', '/srv', '/boot', '/var/tmp', '/dev/shm', '/run/lock'];

/** Host directories hidden from variant code: the repo, the state dir, the harness's cwd and home. */
function hiddenDirs(scratch: string, extra: string[]): string[] {
  const candidates = [packageRoot(), stateDir(), process.cwd(), homedir(), '/root', '/home', ...extra];
  const out = new Set<string>();
  const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  for (const raw of candidates) {
    if (!raw || !isAbsolute(raw)) continue;
    const d = resolve(raw);
    if (d.includes('\n')) continue;
    // Never a system directory, or one holding them, or one the chain itself needs.
    if (PROTECTED.some((p) => under(p, d))) continue;
    if (under(scratch, d)) continue;
    try {
      if (!statSync(d).isDirectory()) continue;
    } catch {
      continue;
    }
    out.add(d);
  }
  // Outer ones first: an inner one is then no longer visible and is skipped.
  return [...out].sort((a, b) => a.length - b.length);
}

const SAN_OPTIONS = /^[A-Z]+SAN_OPTIONS$/;

/** Appends the allocator limits to a sanitizer's options (later settings win). */
function withAllocatorLimit(existing: string | undefined, mib: number): string {
  const extra = `hard_rss_limit_mb=${mib} max_allocation_size_mb=${mib} allocator_may_return_null=1`;
  return existing && existing.trim() ? `${existing.trim()} ${extra}` : extra;
}

/** Memory bound of a sanitizer run's cgroup/watchdog backstop: shadow memory and quarantine on top. */
export const sanitizerBackstopMiB = (mib: number) => mib * 4 + 1024;

/** How sanitizer runs are bounded, for `perflab doctor`. */
export const sandboxBackstopNote =
  'sanitizer runs: no RLIMIT_AS (it breaks sanitizers); ASan by its allocator (hard_rss_limit_mb), TSan (no hard limit of its own) by the cgroup/watchdog at 4x + 1 GiB';

let warned = '';

/**
 * Sets up one run: scratch dir with the runner and variant, the run's cgroup,
 * the exec chain and its clean environment. Throws only when the machine
 * fails mid-setup (e.g. the disk is full); a missing capability is a note.
 */
export function prepareSandbox(input: PrepareInput): PreparedSandbox {
  const caps = sandboxCapabilities();
  const o = input.options;
  const limits = {
    memoryMiB: o.memoryMiB ?? 2048,
    pids: o.pids ?? 512,
    nofile: o.nofile ?? 256,
    fsizeMiB: o.fsizeMiB ?? 64,
    cpuSeconds: o.cpuSeconds ?? Math.ceil(input.timeoutMs / 1000) * availableParallelism() + 10,
    tmpfsMiB: o.tmpfsMiB ?? 64,
    uid: o.uid ?? 65534,
    gid: o.gid ?? 65534,
  };
  const enforced: string[] = [];
  const notEnforced: string[] = [];
  const t = caps.tools;

  // Scratch: the runner and the variant, readable by the sandbox user.
  const scratch = mkdtempSync(join(tmpdir(), 'perflab-sandbox-'));
  let cgroup: RunCgroup | null = null;
  try {
    const runnerName = 'perflab-runner';
    copyFileSync(input.runner, join(scratch, runnerName));
    chmodSync(join(scratch, runnerName), 0o755);
    const args = [...input.args];
    const vi = args.indexOf('--variant');
    if (vi >= 0 && args[vi + 1]) {
      const variantHost = resolve(args[vi + 1]!);
      const name = `variant-${basename(variantHost).replace(/[^A-Za-z0-9._-]/g, '_')}`;
      copyFileSync(variantHost, join(scratch, name));
      chmodSync(join(scratch, name), 0o644);
      args[vi + 1] = join(scratch, name);
    }
    const root = caps.root;
    if (root) chownSync(scratch, limits.uid, limits.gid);
    chmodSync(scratch, 0o700);

    // Memory: the sanitizer's allocator limit for sanitizer runs; a cgroup or the watchdog for all.
    const boundMiB = o.sanitizer ? sanitizerBackstopMiB(limits.memoryMiB) : limits.memoryMiB;
    let memory: string;
    const forcedWatchdog = o.memory === 'watchdog';
    if (caps.cgroup.kind !== null) {
      cgroup = new RunCgroup(caps.cgroup.kind, caps.cgroup.memoryParent, caps.cgroup.pidsParent, forcedWatchdog ? null : boundMiB * 1024 * 1024, limits.pids);
      if (cgroup.dirs.length === 0) cgroup = null;
    }
    const useWatchdog = !cgroup?.hasMemory;
    if (cgroup?.hasMemory) memory = `cgroup ${caps.cgroup.kind}`;
    else if (useWatchdog && caps.watchdog.ok) memory = 'RSS watchdog';
    else memory = 'none';
    if (o.sanitizer) {
      // No RLIMIT_AS: sanitizers reserve terabytes of address space. ASan's background thread
      // enforces hard_rss_limit_mb; TSan parses it but does not act on it, so for TSan the
      // cgroup/watchdog (sized for the shadow memory) is the bound.
      if (o.sanitizer === 'address') enforced.push(`memory: the ASan allocator's RSS limit of ${limits.memoryMiB} MiB (hard_rss_limit_mb; no RLIMIT_AS), ${memory} backstop at ${boundMiB} MiB`);
      else enforced.push(`memory: ${memory} at ${boundMiB} MiB (${limits.memoryMiB} MiB plus TSan's shadow memory; TSan has no hard RSS limit of its own, no RLIMIT_AS); single allocations over ${limits.memoryMiB} MiB fail`);
      memory = o.sanitizer === 'address' ? `ASan allocator + ${memory}` : memory;
    } else if (memory !== 'none') enforced.push(`memory: ${memory} at ${limits.memoryMiB} MiB`);
    if (memory === 'none') notEnforced.push('memory: no cgroup and no /proc for the RSS watchdog');
    if (memory.includes('RSS watchdog') && !forcedWatchdog) notEnforced.push('memory: no writable memory cgroup; an RSS watchdog polls every 100 ms instead, so a fast allocation can overshoot briefly');
    if (cgroup?.hasPids) enforced.push(`processes: pids cgroup at ${limits.pids} tasks`);
    else notEnforced.push(`processes: no pids cgroup; only RLIMIT_NPROC, which counts every process of uid ${root ? limits.uid : process.getuid?.()} on the machine`);

    // The namespaces.
    const ns = caps.namespaces.mode;
    const mounts = ns !== null && caps.mounts.ok && t.cp !== null && t.mount !== null;
    if (ns) enforced.push('namespaces: new PID, network, IPC and mount namespaces; the whole namespace dies with the run');
    else notEnforced.push(`namespaces: ${caps.namespaces.detail || 'unavailable'} (no network isolation; a descendant that leaves the process group can outlive the run)`);
    if (ns && caps.loopback.ok && t.ip) enforced.push('network: loopback only');
    else if (ns) enforced.push(`network: none (${caps.loopback.detail || 'loopback down'})`);
    if (mounts) enforced.push(`filesystem: private ${limits.tmpfsMiB} MiB tmpfs scratch, /tmp, /var/tmp, /dev/shm; the repo, state dir, cwd and home hidden`);
    else notEnforced.push(`filesystem: ${ns ? caps.mounts.detail : 'no mount namespace'}: variant code can write wherever uid ${root ? limits.uid : process.getuid?.()} can (e.g. /tmp) and read the repo`);

    // The user and its limits.
    const setpriv: string[] = [];
    if (t.setpriv) {
      setpriv.push(t.setpriv);
      if (root && caps.uidSwitch.ok && ns !== 'userns') {
        setpriv.push(`--reuid=${limits.uid}`, `--regid=${limits.gid}`, '--clear-groups');
        enforced.push(`user: uid ${limits.uid}/gid ${limits.gid}, no supplementary groups, no_new_privs, no capabilities`);
      } else if (root) {
        notEnforced.push(`user: variant code runs as root (${caps.uidSwitch.detail}); rlimits on processes and files do not bind root`);
      } else {
        enforced.push(`user: this non-root user (uid ${process.getuid?.()}), no_new_privs, no capabilities`);
      }
      setpriv.push('--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--');
    } else {
      notEnforced.push(`user: setpriv not found: no uid switch and no no_new_privs${root ? ': variant code runs as root' : ''}`);
    }
    const prlimit: string[] = [];
    if (t.prlimit) {
      // RLIMIT_NPROC counts every task of the uid, machine-wide: with a pids cgroup it is only a loose backstop.
      const nproc = cgroup?.hasPids ? Math.max(4096, limits.pids * 8) : limits.pids;
      prlimit.push(t.prlimit, `--nproc=${nproc}`, `--nofile=${limits.nofile}`, `--fsize=${limits.fsizeMiB * 1024 * 1024}`, `--cpu=${limits.cpuSeconds}`, '--core=0', '--');
      enforced.push(`rlimits: CPU ${limits.cpuSeconds} s, file size ${limits.fsizeMiB} MiB, ${limits.nofile} open files, ${nproc} processes of the uid, no core dumps`);
    } else notEnforced.push('rlimits: prlimit not found: no CPU, file-size, open-file or process limits');
    enforced.push(`time: wall-clock timeout ${input.timeoutMs / 1000} s kills the whole ${ns ? 'namespace' : 'process group'}`);
    enforced.push('environment: clean (PATH, LANG, HOME/TMPDIR = scratch, sanitizer options only)');

    const wrapper = (input.wrapper ?? []).map((w, i) => (i === 0 && !w.includes('/') ? (which(w) ?? w) : w));
    const runCmd = [...setpriv, ...prlimit, ...wrapper, join(scratch, runnerName), ...args];

    let argv: string[];
    const shPath = t.sh ?? '/bin/sh';
    const procs = cgroup ? cgroup.procsFiles() : [];
    const prelude = [shPath, '-c', PRELUDE, 'perflab-sandbox', String(procs.length), ...procs];
    if (ns && t.unshare) {
      const unshare = [t.unshare, ...(ns === 'userns' ? ['--user', '--map-root-user'] : []), '--pid', '--net', '--ipc', '--mount', '--fork', '--kill-child', '--mount-proc', '--'];
      const hide = mounts ? hiddenDirs(scratch, o.hide ?? []).join('\n') : '';
      if (mounts) {
        // In a user namespace only its root (= this user outside) is mapped: the scratch belongs to it.
        const [su, sg] = ns === 'userns' ? ['0', '0'] : [String(limits.uid), String(limits.gid)];
        argv = [...prelude, ...unshare, shPath, '-c', INNER, 'perflab-sandbox-init', scratch, String(limits.tmpfsMiB * 1024 * 1024), su, sg, caps.loopback.ok && t.ip ? t.ip : '', hide, ...runCmd];
      } else {
        // No mounts: bring the loopback up if we can, run from the host scratch dir.
        const lo = caps.loopback.ok && t.ip ? `"${t.ip}" link set lo up 2>/dev/null; ` : '';
        argv = [...prelude, ...unshare, shPath, '-c', `${lo}unset OLDPWD PWD; exec "$@"`, 'perflab-sandbox-init', ...runCmd];
      }
    } else {
      argv = [...prelude, ...runCmd];
    }

    // The clean environment.
    const env: NodeJS.ProcessEnv = { PATH: CLEAN_PATH, LANG: 'C', HOME: scratch, TMPDIR: scratch };
    for (const [k, v] of Object.entries(input.env ?? {})) if (SAN_OPTIONS.test(k) && v !== undefined) env[k] = v;
    if (o.sanitizer === 'address') env.ASAN_OPTIONS = withAllocatorLimit(env.ASAN_OPTIONS, limits.memoryMiB);
    if (o.sanitizer === 'thread') env.TSAN_OPTIONS = withAllocatorLimit(env.TSAN_OPTIONS, limits.memoryMiB);
    Object.assign(env, o.env ?? {});

    const report: SandboxReport = { enforced, notEnforced, memory, limits, scratch, peakMiB: null };
    const refused = o.strict && notEnforced.length > 0 ? `sandbox: strict mode and this machine cannot enforce: ${notEnforced.join('; ')}` : null;
    if (notEnforced.length > 0 && !refused) {
      const msg = notEnforced.join('; ');
      if (msg !== warned) {
        warned = msg;
        process.emitWarning(`the sandbox cannot enforce on this machine: ${msg} (see: perflab doctor)`, { code: 'PERFLAB_SANDBOX' });
      }
    }

    // The watchdog: bounds' counters (cgroup) or the RSS sum (no memory cgroup).
    let timer: NodeJS.Timeout | undefined;
    let tripped: string | null = null;
    let peakRss = 0;
    let killer: ((why: string) => void) | undefined;
    const trip = (why: string) => {
      if (tripped) return;
      tripped = why;
      killer?.(why);
      cgroup?.killAll();
    };
    const memoryReason = (how: string) => `memory: exceeded ${boundMiB} MiB${o.sanitizer ? ' (sanitizer backstop)' : ''} (${how})`;
    const pidsReason = () => `processes: hit the limit of ${limits.pids} tasks (fork bomb?)`;
    const check = async (rootPid: number) => {
      if (cgroup) {
        const ev = await cgroup.events();
        if (ev.oomKills > 0) trip(memoryReason(`cgroup ${caps.cgroup.kind}, OOM kill`));
        else if (ev.pidsMax > 0) trip(pidsReason());
      }
      if (useWatchdog && !tripped) {
        const rss = await rssBytes(await descendants(rootPid));
        peakRss = Math.max(peakRss, rss);
        if (rss > boundMiB * 1024 * 1024) trip(memoryReason(`RSS watchdog saw ${Math.round(rss / 1048576)} MiB`));
      }
    };

    let finished = false;
    const cleanupSync = () => {
      cgroup?.killAll();
      cgroup?.removeSync();
      rmSync(scratch, { recursive: true, force: true });
    };

    return {
      argv, env, cwd: scratch, report, refused, pidNamespace: ns !== null && t.unshare !== null,
      watch(pid, kill) {
        killer = kill;
        let busy = false;
        const tick = () => {
          if (busy || finished) return;
          busy = true;
          check(pid).finally(() => {
            busy = false;
          });
        };
        tick();
        timer = setInterval(tick, 100);
        timer.unref();
      },
      async finish(exitCode, signal, stderr) {
        finished = true;
        if (timer) clearInterval(timer);
        let setupError: string | null = null;
        if (exitCode === SETUP_EXIT) {
          const line = stderr.split('\n').find((l) => l.startsWith(SETUP_TAG) && !l.startsWith(`${SETUP_TAG} note:`));
          if (line) setupError = line.slice(SETUP_TAG.length).trim();
        }
        let reason = tripped;
        if (cgroup && !reason) {
          const ev = await cgroup.events();
          if (ev.oomKills > 0) reason = memoryReason(`cgroup ${caps.cgroup.kind}, OOM kill`);
          else if (ev.pidsMax > 0) reason = pidsReason();
        }
        if (!reason && o.sanitizer && /hard rss limit exhausted|allocation-size-too-big|requested allocation size .* exceeds|out of memory|allocator is out of memory/i.test(stderr)) {
          reason = `memory: exceeded ${limits.memoryMiB} MiB (the ${o.sanitizer === 'thread' ? 'TSan' : 'ASan'} allocator's limit)`;
        }
        if (!reason && signal === 'SIGXCPU') reason = `cpu: exceeded the limit of ${limits.cpuSeconds} s of CPU time (SIGXCPU)`;
        if (!reason && signal === 'SIGXFSZ') reason = `file size: a file exceeded ${limits.fsizeMiB} MiB (SIGXFSZ)`;
        const peak = cgroup?.peakBytes() ?? (peakRss || null);
        report.peakMiB = peak === null ? null : Math.round((peak / 1048576) * 10) / 10;
        await cgroup?.remove();
        rmSync(scratch, { recursive: true, force: true });
        return { reason, setupError, report };
      },
      abort() {
        finished = true;
        if (timer) clearInterval(timer);
        cleanupSync();
      },
    };
  } catch (err) {
    cgroup?.removeSync();
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
}
