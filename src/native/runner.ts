import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PerflabError } from '../errors.js';
import { buildDir, type NativeBuild } from '../paths.js';
import { prepareSandbox, type PreparedSandbox, type SandboxOptions, type SandboxReport } from '../pipeline/sandbox.js';

export type { SandboxOptions, SandboxReport } from '../pipeline/sandbox.js';

/** The runner's result document (native/runner/runner.c), one per run. */
export interface RunnerResult {
  schema_version: 1;
  nonce: string;
  ok: boolean;
  family: string;
  workload: string;
  variant: string;
  params: Record<string, number | boolean>;
  error: null | { kind: 'load' | 'usage' | 'invalid' | 'run'; message: string };
  metrics: Record<string, number | string | boolean>;
  rusage?: { user_s: number; sys_s: number; voluntary_ctx: number; involuntary_ctx: number };
  affinity?: string;
  has_bulk?: boolean;
}

/** How one runner process ended: a result handed back, or the reason there is none. */
export type RunnerOutcome =
  | { kind: 'result'; result: RunnerResult; exitCode: number; stderr: string; wallMs: number; sandbox?: SandboxReport }
  | { kind: 'failed'; reason: string; exitCode: number | null; signal: NodeJS.Signals | null; stderr: string; wallMs: number; sandbox?: SandboxReport };

export interface RunnerOptions {
  /** Kill the runner after this long (default 60 s). */
  timeoutMs?: number;
  /** Which build's runner (default: PERFLAB_BUILD, else gyp, else cmake). */
  build?: NativeBuild;
  /** Run the runner under this command prefix (e.g. valgrind ...). */
  wrapper?: string[];
  /** Use this runner executable instead of a build's (sanitizer builds). */
  runnerPath?: string;
  /** The runner's environment. In the sandbox only its *SAN_OPTIONS variables pass (add others with sandbox.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Run inside the sandbox (src/pipeline/sandbox.ts): unprivileged user, new
   * PID/net/IPC/mount namespaces, rlimits, a memory bound, scratch dir, clean
   * environment. `{}` takes the defaults; `false` or absent runs unsandboxed
   * (trusted, built-in code only). The outcome's `sandbox` says what held.
   */
  sandbox?: SandboxOptions | false;
  /**
   * Host file descriptors handed to the runner as its fds 4, 5, ... (after the
   * result fd 3); they pass through the sandbox like fd 3. E.g. a file a wrapper
   * writes to by /dev/fd/4 (valgrind --callgrind-out-file). Variant code can
   * write to them too: whatever comes back on them is untrusted.
   */
  extraFds?: number[];
}

/** The native build in use: PERFLAB_BUILD when set, else gyp's if built, else cmake's. */
export function selectedBuild(): NativeBuild {
  const env = process.env.PERFLAB_BUILD;
  if (env === 'gyp' || env === 'cmake') return env;
  if (env) throw new PerflabError('ERR_PERFLAB_USAGE', `PERFLAB_BUILD must be "gyp" or "cmake", not "${env}"`);
  return existsSync(join(buildDir('gyp'), 'perflab-runner')) ? 'gyp' : 'cmake';
}

/** Path of the runner executable of a build; throws ERR_PERFLAB_NOT_BUILT with the fix when missing. */
export function runnerPath(build: NativeBuild = selectedBuild()): string {
  const path = join(buildDir(build), 'perflab-runner');
  if (!existsSync(path)) {
    throw new PerflabError('ERR_PERFLAB_NOT_BUILT', `the ${build} build has no runner at ${path}; run: bash scripts/setup.sh`);
  }
  return path;
}

const MAX_STDERR = 64 * 1024;

/** Process groups of the runners in flight, so an interrupted harness can end them. */
const active = new Set<number>();
/** Sandboxes in flight: their cgroups and scratch dirs go with them. */
const activeSandboxes = new Set<PreparedSandbox>();

/** Kills every runner still running (its whole process group, its sandbox). Used on SIGINT/SIGTERM. */
export function killActiveRunners(): void {
  for (const pid of active) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  active.clear();
  for (const sb of activeSandboxes) sb.abort();
  activeSandboxes.clear();
}

const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP', 'SIGSYS']);

/** The reason of a runner that died of a signal. */
function signalReason(signal: NodeJS.Signals): string {
  if (CRASH_SIGNALS.has(signal)) return `crashed: ${signal}`;
  if (signal === 'SIGXCPU') return 'cpu: exceeded its CPU-time limit (SIGXCPU)';
  if (signal === 'SIGXFSZ') return 'file size: exceeded its file-size limit (SIGXFSZ)';
  return `killed: ${signal}`;
}

/**
 * Runs the native runner in a child process and returns its result. The result
 * comes back on a private descriptor (fd 3) carrying a per-run nonce, so text a
 * variant prints on stdout can never pass for a result. A crash, a timeout or a
 * missing/garbled result is a `failed` outcome with the reason, never a throw:
 * "crashed: SIGSEGV", "hang: timed out after N s", "memory: exceeded N MiB",
 * "processes: hit the limit of N tasks", "... handed back no result", "... nonce".
 * With `sandbox`, the run goes through src/pipeline/sandbox.ts.
 */
export async function runRunner(args: string[], options: RunnerOptions = {}): Promise<RunnerOutcome> {
  const exe = options.runnerPath ?? runnerPath(options.build);
  const nonce = randomBytes(12).toString('hex');
  const fullArgs = [...args, '--result-fd', '3', '--nonce', nonce];
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = performance.now();
  let sandbox: PreparedSandbox | undefined;
  if (options.sandbox) {
    try {
      sandbox = prepareSandbox({ runner: exe, args: fullArgs, wrapper: options.wrapper, timeoutMs, env: options.env, options: options.sandbox });
    } catch (err) {
      return { kind: 'failed', reason: `sandbox: cannot set up the run: ${(err as Error).message}`, exitCode: null, signal: null, stderr: '', wallMs: performance.now() - started };
    }
    if (sandbox.refused) {
      const report = sandbox.report;
      sandbox.abort();
      return { kind: 'failed', reason: sandbox.refused, exitCode: null, signal: null, stderr: '', wallMs: performance.now() - started, sandbox: report };
    }
  }
  const argv = sandbox ? sandbox.argv : options.wrapper && options.wrapper.length > 0 ? [...options.wrapper, exe, ...fullArgs] : [exe, ...fullArgs];
  const variantArg = args[args.indexOf('--variant') + 1];
  return await new Promise<RunnerOutcome>((resolvePromise) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...(options.extraFds ?? [])],
      env: sandbox ? sandbox.env : (options.env ?? process.env),
      ...(sandbox ? { cwd: sandbox.cwd } : {}),
      detached: true, // its own process group: a timeout kills the runner and anything it started
    });
    if (child.pid !== undefined) active.add(child.pid);
    if (sandbox) activeSandboxes.add(sandbox);
    let resultText = '';
    let stderr = '';
    let timedOut = false;
    child.stdio[3]!.on('data', (d: Buffer) => {
      if (resultText.length < 1 << 20) resultText += d.toString('utf8');
    });
    child.stdout!.resume(); // a variant's prints are ignored: results only come on fd 3
    // The start and the end of stderr are kept: what comes last (a sanitizer
    // report, callgrind's exit summary) is written after any variant code ran,
    // so a variant flooding stderr cannot push it out and forge what is read.
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      if (stderr.length > MAX_STDERR) {
        stderr = stderr.slice(0, MAX_STDERR / 2) + stderr.slice(-MAX_STDERR / 2);
      }
    });
    let settled = false;
    let finishing = false;
    const settle = (outcome: RunnerOutcome) => {
      if (settled) return;
      settled = true;
      if (child.pid !== undefined) active.delete(child.pid);
      clearTimeout(timer);
      clearTimeout(grace);
      // A descendant that escaped the process group may still hold our pipes:
      // never wait for them to close.
      for (const s of child.stdio) s?.destroy();
      resolvePromise(outcome);
    };
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const finish = async (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled || finishing) return;
      finishing = true;
      clearTimeout(timer);
      clearTimeout(grace);
      const wallMs = performance.now() - started;
      let imposed: string | null = null;
      let setupError: string | null = null;
      let report: SandboxReport | undefined;
      if (sandbox) {
        // Without a PID namespace, what is left of the process group goes now (with one, it is gone already).
        if (!sandbox.pidNamespace) killGroup();
        const v = await sandbox.finish(exitCode, signal, stderr);
        activeSandboxes.delete(sandbox);
        imposed = v.reason;
        setupError = v.setupError;
        report = v.report;
      }
      const extra = report ? { sandbox: report } : {};
      const fail = (reason: string) => settle({ kind: 'failed', reason, exitCode, signal, stderr: stderr.slice(-4000), wallMs, ...extra });
      if (imposed) return fail(imposed); // a bound the sandbox holds was hit: memory, processes
      if (timedOut) return fail(`hang: timed out after ${timeoutMs % 1000 === 0 ? timeoutMs / 1000 : (timeoutMs / 1000).toFixed(1)} s`);
      if (setupError) return fail(`sandbox: ${setupError}`);
      if (signal) return fail(signalReason(signal));
      const line = resultText.trim();
      if (!line) return fail(`the runner exited with code ${exitCode} and handed back no result`);
      let result: RunnerResult;
      try {
        result = JSON.parse(line) as RunnerResult;
      } catch {
        return fail(`the runner's result is not JSON: ${line.slice(0, 200)}`);
      }
      if (result.nonce !== nonce) return fail("the result does not carry this run's nonce");
      if (sandbox && variantArg !== undefined) result.variant = variantArg; // the host path, not the scratch copy
      settle({ kind: 'result', result, exitCode: exitCode ?? -1, stderr: stderr.slice(-4000), wallMs, ...extra });
    };
    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(); // in the sandbox: unshare dies, --kill-child takes the namespace with it
      // If the kill does not end it (or a grandchild keeps the pipes), give up anyway.
      grace = setTimeout(() => void finish(null, 'SIGKILL'), 2000);
    }, timeoutMs);
    if (sandbox && child.pid !== undefined) sandbox.watch(child.pid, () => killGroup());
    child.on('error', (err) => {
      if (sandbox) {
        sandbox.abort();
        activeSandboxes.delete(sandbox);
      }
      settle({ kind: 'failed', reason: `cannot start the runner: ${err.message}`, exitCode: null, signal: null, stderr, wallMs: performance.now() - started });
    });
    // 'close' waits for every pipe; 'exit' does not. After exit, allow a moment
    // for the pipes to drain, then settle with whatever fd 3 carried.
    child.on('exit', (exitCode, signal) => {
      clearTimeout(grace);
      grace = setTimeout(() => void finish(exitCode, signal), 1000);
    });
    child.on('close', (exitCode, signal) => void finish(exitCode, signal));
  });
}
