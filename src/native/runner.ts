import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PerflabError } from '../errors.js';
import { buildDir, type NativeBuild } from '../paths.js';

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
  | { kind: 'result'; result: RunnerResult; exitCode: number; stderr: string; wallMs: number }
  | { kind: 'failed'; reason: string; exitCode: number | null; signal: NodeJS.Signals | null; stderr: string; wallMs: number };

export interface RunnerOptions {
  /** Kill the runner after this long (default 60 s). */
  timeoutMs?: number;
  /** Which build's runner (default: PERFLAB_BUILD, else gyp, else cmake). */
  build?: NativeBuild;
  /** Run the runner under this command prefix (e.g. valgrind ...). */
  wrapper?: string[];
  /** Use this runner executable instead of a build's (sanitizer builds). */
  runnerPath?: string;
  env?: NodeJS.ProcessEnv;
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

/** Kills every runner still running (its whole process group). Used on SIGINT/SIGTERM. */
export function killActiveRunners(): void {
  for (const pid of active) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  active.clear();
}

/**
 * Runs the native runner in a child process and returns its result. The result
 * comes back on a private descriptor (fd 3) carrying a per-run nonce, so text a
 * variant prints on stdout can never pass for a result. A crash, a timeout or a
 * missing/garbled result is a `failed` outcome with the reason, never a throw.
 */
export async function runRunner(args: string[], options: RunnerOptions = {}): Promise<RunnerOutcome> {
  const exe = options.runnerPath ?? runnerPath(options.build);
  const nonce = randomBytes(12).toString('hex');
  const fullArgs = [...args, '--result-fd', '3', '--nonce', nonce];
  const argv = options.wrapper && options.wrapper.length > 0 ? [...options.wrapper, exe, ...fullArgs] : [exe, ...fullArgs];
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = performance.now();
  return await new Promise<RunnerOutcome>((resolvePromise) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      detached: true, // its own process group: a timeout kills the runner and anything it started
    });
    if (child.pid !== undefined) active.add(child.pid);
    let resultText = '';
    let stderr = '';
    let timedOut = false;
    child.stdio[3]!.on('data', (d: Buffer) => {
      if (resultText.length < 1 << 20) resultText += d.toString('utf8');
    });
    child.stdout!.resume(); // a variant's prints are ignored: results only come on fd 3
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < MAX_STDERR) stderr += d.toString('utf8');
    });
    let settled = false;
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
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      const wallMs = performance.now() - started;
      const fail = (reason: string) => settle({ kind: 'failed', reason, exitCode, signal, stderr: stderr.slice(-4000), wallMs });
      if (timedOut) return fail(`timed out after ${Math.round(timeoutMs / 1000)} s and was killed`);
      if (signal) return fail(`the runner died of ${signal}`);
      const line = resultText.trim();
      if (!line) return fail(`the runner exited with code ${exitCode} and handed back no result`);
      let result: RunnerResult;
      try {
        result = JSON.parse(line) as RunnerResult;
      } catch {
        return fail(`the runner's result is not JSON: ${line.slice(0, 200)}`);
      }
      if (result.nonce !== nonce) return fail("the result does not carry this run's nonce");
      settle({ kind: 'result', result, exitCode: exitCode ?? -1, stderr: stderr.slice(-4000), wallMs });
    };
    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      // If the kill does not end it (or a grandchild keeps the pipes), give up anyway.
      grace = setTimeout(() => finish(null, 'SIGKILL'), 2000);
    }, timeoutMs);
    child.on('error', (err) =>
      settle({ kind: 'failed', reason: `cannot start the runner: ${err.message}`, exitCode: null, signal: null, stderr, wallMs: performance.now() - started }),
    );
    // 'close' waits for every pipe; 'exit' does not. After exit, allow a moment
    // for the pipes to drain, then settle with whatever fd 3 carried.
    child.on('exit', (exitCode, signal) => {
      clearTimeout(grace);
      grace = setTimeout(() => finish(exitCode, signal), 1000);
    });
    child.on('close', (exitCode, signal) => finish(exitCode, signal));
  });
}
