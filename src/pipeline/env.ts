import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { packageRoot } from '../paths.js';
import { readSources } from '../native/sources.js';
import { loadBinding } from '../native/binding.js';
import { selectedBuild } from '../native/runner.js';

/** The environment fingerprint stored with every result (INTERFACES.md `env`). */
export interface EnvFingerprint {
  cpu_model: string;
  cores: number;
  kernel: string;
  node: string;
  compiler: string;
  cflags: string;
  liburing: string;
  git_sha: string;
  io_uring: { supported: boolean; features: string[]; error?: string; single_issuer?: boolean; defer_taskrun?: boolean };
  affinity: string;
  build: string;
  load: [number, number, number];
  valgrind: string | null;
}

function quiet(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: packageRoot() }).trim();
  } catch {
    return undefined;
  }
}

function allowedCpus(): string {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return m[1]!;
  } catch {
    /* not Linux */
  }
  return 'unknown';
}

let cached: EnvFingerprint | undefined;

/** Collects the fingerprint once per process (the load average is refreshed each call). */
export function envFingerprint(): EnvFingerprint {
  if (!cached) {
    let io: EnvFingerprint['io_uring'];
    let liburing = quiet('pkg-config', ['--modversion', 'liburing']) ?? 'not found';
    try {
      const b = loadBinding();
      const p = b.ioUringProbe();
      io = { supported: p.supported, features: p.features, single_issuer: p.singleIssuer, defer_taskrun: p.deferTaskrun };
      if (!p.supported) io.error = `io_uring_queue_init: errno ${-p.error}`;
      liburing = b.versions().liburing;
    } catch (err) {
      io = { supported: false, features: [], error: `addon not loadable: ${(err as Error).message}` };
    }
    const flags = readSources().variant_flags;
    cached = {
      cpu_model: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      kernel: `${os.type()} ${os.release()}`,
      node: process.version,
      compiler: quiet(process.env.CC ?? 'gcc', ['--version'])?.split('\n')[0] ?? 'not found',
      cflags: [...flags.c, ...flags.link].join(' '),
      liburing,
      git_sha: quiet('git', ['rev-parse', '--short=12', 'HEAD']) ?? 'unknown',
      io_uring: io,
      affinity: `cpus ${allowedCpus()}`,
      build: safeBuild(),
      load: [0, 0, 0],
      valgrind: quiet('valgrind', ['--version']) ?? null,
    };
  }
  return { ...cached, load: os.loadavg().map((x) => Math.round(x * 100) / 100) as [number, number, number] };
}

function safeBuild(): string {
  try {
    return selectedBuild();
  } catch (err) {
    return `invalid (${(err as Error).message})`;
  }
}
