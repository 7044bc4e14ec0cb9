/**
 * Profile of a queue variant for the optimization loop's prompt: instructions
 * per push+pop and the functions they go to (ProfileData, src/agent/types.ts).
 *
 * The op_cost workload runs under callgrind exactly as the op_cost bench runs
 * it (collection toggled on perflab_op_cost_loop alone, clean environment), so
 * instructions_per_op is the bench's figure and the same run to run.
 *
 * Getting the profile out, also from inside the sandbox (private tmpfs on /tmp,
 * the host's files hidden): the harness creates an empty file in a private
 * host directory and hands it to the runner as its fd 4 (runRunner's
 * `extraFds`); callgrind writes its dump to /dev/fd/4, which reopens that very
 * file whatever the sandbox mounted over its path. callgrind opens it with
 * O_TRUNC when it dumps, after the variant's code has run for the last time, so
 * nothing a variant printed (on stdout, which is not this file at all, or even
 * written to fd 4 itself) survives in front of the dump. The dump is then
 * parsed defensively: only the last dump in the file counts, its self costs must
 * add up to its own totals, and those must agree with callgrind's exit summary
 * on stderr when that is there; otherwise the profile is `unavailable`.
 */
import { accessSync, chmodSync, closeSync, constants, existsSync, fchmodSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, extname, isAbsolute, join, resolve } from 'node:path';
import type { ProfileData } from '../agent/types.js';
import { PerflabError } from '../errors.js';
import { callgrindTotal } from '../families/queue.js';
import { runRunner, type SandboxOptions } from '../native/runner.js';
import { buildVariant } from './build.js';

export interface ProfileOptions {
  /** Knob values the variant is built with (-DNAME=VALUE). */
  knobs?: Record<string, string>;
  /** Run inside the sandbox (`{}` for the defaults); `false` or absent: unsandboxed (trusted code only). */
  sandbox?: SandboxOptions | false;
  /** push+pop pairs of the measured loop (default 100000). */
  ops?: number;
  /** How many hot functions to list (default 8). */
  top?: number;
  /** Where built objects are cached (default: buildVariant's, <state dir>/cache/builds). */
  cacheDir?: string;
}

/** One function's self cost in a callgrind dump. */
export interface CallgrindFunction {
  fn: string;
  ir: number;
}

/** What parseCallgrind makes of a dump. */
export interface CallgrindProfile {
  /** Self instructions per function (cleaned names), largest first. */
  functions: CallgrindFunction[];
  /** Sum of all self costs. */
  selfTotal: number;
  /** The dump's own `totals:` (else `summary:`) figure, when it has one. */
  declaredTotal: number | null;
  /** The `pid:` of the dump, when given. */
  pid: number | null;
}

const DEFAULT_OPS = 100_000;
const DEFAULT_TOP = 8;
/** A dump bigger than this is not read (a normal one is a few KiB). */
const MAX_DUMP_BYTES = 32 << 20;
const MAX_NAME = 160;
const HEADER = '# callgrind format\n';

/**
 * Profiles a variant: builds it (with `knobs`), runs the op_cost workload
 * (`--capacity 1024 --ops N`) under callgrind and returns instructions per
 * push+pop and the top functions by self instructions. A variant that does not
 * build or run, or a machine without valgrind, gives `unavailable` with the
 * reason; only a usage error (no such source, bad option) throws.
 */
export async function profileVariant(family: 'spsc' | 'mpmc', sourcePath: string, options: ProfileOptions = {}): Promise<ProfileData> {
  const ops = options.ops ?? DEFAULT_OPS;
  const top = options.top ?? DEFAULT_TOP;
  if (family !== 'spsc' && family !== 'mpmc') throw new PerflabError('ERR_PERFLAB_USAGE', `a queue family is spsc or mpmc, not "${String(family)}"`);
  if (!Number.isSafeInteger(ops) || ops < 1) throw new PerflabError('ERR_PERFLAB_USAGE', `ops must be a positive integer, not ${ops}`);
  if (!Number.isSafeInteger(top) || top < 1) throw new PerflabError('ERR_PERFLAB_USAGE', `top must be a positive integer, not ${top}`);
  const source = resolve(sourcePath);
  if (!existsSync(source)) throw new PerflabError('ERR_PERFLAB_USAGE', `no variant source at ${source}`);
  if (!['.c', '.cc', '.cpp', '.cxx'].includes(extname(source))) throw new PerflabError('ERR_PERFLAB_USAGE', `a variant is a .c or .cc file, not ${source}`);

  const valgrind = findExecutable('valgrind');
  if (!valgrind) return unavailable('valgrind is not installed (apt-get install valgrind): the profile counts instructions under callgrind');

  let built: string;
  try {
    built = (await buildVariant(source, { family, knobs: options.knobs ?? {}, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) })).path;
  } catch (err) {
    if (err instanceof PerflabError && err.code === 'ERR_PERFLAB_USAGE') throw err;
    return unavailable(`the variant does not build: ${firstLines((err as Error).message, 6)}`);
  }

  // The file callgrind writes to: in a private directory of ours, writable by
  // the sandbox's user only through the descriptor it inherits.
  const dir = mkdtempSync(join(tmpdir(), 'perflab-profile-'));
  let fd: number | undefined;
  try {
    chmodSync(dir, 0o700);
    fd = openSync(join(dir, 'callgrind.out'), 'w+', 0o600);
    fchmodSync(fd, 0o666); // the sandbox user reopens it by /dev/fd/4 (the directory keeps others out)
    const wrapper = [valgrind, '--tool=callgrind', '--callgrind-out-file=/dev/fd/4', '--collect-atstart=no', '--toggle-collect=perflab_op_cost_loop', '--dump-instr=no', '--compress-strings=yes'];
    const args = ['--variant', built, '--family', family, '--workload', 'op_cost', '--capacity', '1024', '--ops', String(ops)];
    let outcome;
    try {
      outcome = await runRunner(args, { wrapper, timeoutMs: 120_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, sandbox: options.sandbox ?? false, extraFds: [fd] });
    } catch (err) {
      // runRunner throws only for the harness's own state (e.g. no runner built).
      return unavailable(`the runner cannot start: ${(err as Error).message}`);
    }
    if (outcome.kind === 'failed') {
      const tail = outcome.stderr.trim().split('\n').slice(-3).join(' | ');
      return unavailable(`the op_cost run failed: ${outcome.reason}${tail ? ` (stderr: ${tail.slice(0, 500)})` : ''}`);
    }
    if (!outcome.result.ok) return unavailable(`the op_cost run failed: ${outcome.result.error?.kind ?? 'error'}: ${outcome.result.error?.message ?? 'no message'}`);

    const size = fstatSync(fd).size;
    if (size === 0) return unavailable('callgrind wrote no profile');
    if (size > MAX_DUMP_BYTES) return unavailable(`callgrind's profile is ${size} bytes, more than the ${MAX_DUMP_BYTES} read`);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n <= 0) break;
      got += n;
    }
    const text = buf.subarray(0, got).toString('utf8');
    let profile: CallgrindProfile;
    try {
      profile = parseCallgrind(text);
    } catch (err) {
      return unavailable(`callgrind's profile cannot be read: ${(err as Error).message}`);
    }
    if (profile.declaredTotal !== null && profile.declaredTotal !== profile.selfTotal) {
      return unavailable(`callgrind's profile does not add up (self costs ${profile.selfTotal}, totals ${profile.declaredTotal})`);
    }
    const summary = callgrindTotal(outcome.stderr);
    if (summary !== undefined && summary !== profile.selfTotal) {
      return unavailable(`callgrind's profile (${profile.selfTotal} instructions) and its exit summary (${summary}) disagree`);
    }
    if (!(profile.selfTotal > 0)) return unavailable('callgrind counted no instruction in the measured loop');
    return profileData(profile, ops, top);
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ProfileData of a parsed dump: instructions per op and the top functions by self cost. */
export function profileData(profile: CallgrindProfile, ops: number, top: number = DEFAULT_TOP): ProfileData {
  const total = profile.selfTotal;
  const hot = profile.functions
    .filter((f) => f.ir > 0)
    .slice(0, top)
    // Rounded down to 0.1%, so the listed shares never add up to more than 100.
    .map((f) => ({ fn: f.fn, ir: f.ir, pct: Math.floor((f.ir / total) * 1000) / 10 }));
  return { instructions_per_op: total / ops, hot, unavailable: null };
}

function unavailable(why: string): ProfileData {
  return { instructions_per_op: null, hot: [], unavailable: why };
}

function firstLines(text: string, n: number): string {
  const lines = text.trim().split('\n');
  return lines.slice(0, n).join('\n') + (lines.length > n ? '\n...' : '');
}

/** An executable on this process's PATH (absolute), or null. */
function findExecutable(name: string): string | null {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d || !isAbsolute(d)) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// The callgrind format (valgrind docs, "Callgrind Format Specification")

/**
 * Parses a callgrind dump (the last one, when the text holds several) into self
 * instructions per function. `fn=` (with `(id) name` compression, shared with
 * `cfn=`/`jfn=`) sets the function that following cost lines belong to; `fl=`,
 * `fi=`, `fe=` only change the file (code inlined from another file stays with
 * the function callgrind puts it in); the cost line after `calls=` is the
 * inclusive cost of a call and is not self cost. Throws on a malformed dump.
 */
export function parseCallgrind(text: string): CallgrindProfile {
  // Only the last dump counts: anything before it is not what callgrind wrote last.
  const start = text.lastIndexOf(HEADER);
  const body = start >= 0 ? text.slice(start) : text;
  const lines = body.split('\n');
  const fnNames = new Map<string, string>();
  const objNames = new Map<string, string>();
  let positions = 1;
  let irIndex: number | null = null;
  let sawEvents = false;
  let fnName = '???';
  let obj = '';
  let inCall = false;
  let declaredTotal: number | null = null;
  let summary: number | null = null;
  let pid: number | null = null;
  let sawCost = false;
  const self = new Map<string, number>();

  /** Resolves a compressed name: "(id) name" defines, "(id)" refers, "name" is plain. */
  const name = (table: Map<string, string>, spec: string): string => {
    const m = /^\((\d+)\)(?:\s(.*))?$/.exec(spec);
    if (!m) return spec;
    if (m[2] !== undefined) {
      table.set(m[1]!, m[2]);
      return m[2];
    }
    const known = table.get(m[1]!);
    if (known === undefined) throw new Error(`name (${m[1]}) is used before it is defined`);
    return known;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const c = line.charCodeAt(0);
    // Cost lines: positions then event counts.
    if ((c >= 48 && c <= 57) || c === 43 /* + */ || c === 45 /* - */ || c === 42 /* * */) {
      if (!sawEvents || irIndex === null) throw new Error(`line ${i + 1}: a cost line before an "events: ... Ir ..." line`);
      const parts = line.trim().split(/\s+/);
      if (parts.length > positions + 64) throw new Error(`line ${i + 1}: too many columns`);
      const raw = parts[positions + irIndex];
      let ir = 0;
      if (raw !== undefined) {
        if (!/^\d+$/.test(raw)) throw new Error(`line ${i + 1}: "${raw.slice(0, 40)}" is not a count`);
        ir = Number(raw);
        if (!Number.isSafeInteger(ir)) throw new Error(`line ${i + 1}: count out of range`);
      }
      if (inCall) inCall = false; // the inclusive cost of the call just announced
      else {
        const key = fnName;
        self.set(key, (self.get(key) ?? 0) + ir);
        sawCost = true;
      }
      continue;
    }
    const spec = /^([a-z]+)=(.*)$/.exec(line);
    if (spec) {
      const [, key, value] = spec as unknown as [string, string, string];
      switch (key) {
        case 'fn':
          fnName = cleanName(name(fnNames, value), obj);
          inCall = false;
          break;
        case 'cfn':
        case 'jfn':
          name(fnNames, value);
          break;
        case 'ob':
          obj = name(objNames, value);
          break;
        case 'cob':
          name(objNames, value);
          break;
        case 'fl':
        case 'fi':
        case 'fe':
        case 'cfi':
        case 'cfl':
        case 'jfi':
          break; // files: not needed for self cost per function (their ids are a separate space)
        case 'calls':
          inCall = true;
          break;
        case 'jump':
        case 'jcnd':
          break; // jump counts (--collect-jumps): the position line after them has no cost
        default:
          break; // a specification a later callgrind may add: no self cost in it
      }
      continue;
    }
    const header = /^([A-Za-z][A-Za-z0-9_ ]*):\s*(.*)$/.exec(line);
    if (header) {
      const [, key, value] = header as unknown as [string, string, string];
      if (key === 'positions') {
        const p = value.trim().split(/\s+/).filter(Boolean);
        if (p.length < 1 || p.length > 3 || !p.every((x) => x === 'instr' || x === 'line')) throw new Error(`line ${i + 1}: positions "${value.slice(0, 40)}"`);
        positions = p.length;
      } else if (key === 'events') {
        const ev = value.trim().split(/\s+/);
        const k = ev.indexOf('Ir');
        if (k < 0) throw new Error('the dump counts no Ir event');
        irIndex = k;
        sawEvents = true;
      } else if (key === 'totals' || key === 'summary') {
        if (irIndex === null) throw new Error(`line ${i + 1}: ${key} before events`);
        const v = value.trim().split(/\s+/)[irIndex];
        if (v === undefined || !/^\d+$/.test(v)) throw new Error(`line ${i + 1}: ${key} "${value.slice(0, 40)}"`);
        const n = Number(v);
        // Several parts (one per dump) add up.
        if (key === 'totals') declaredTotal = (declaredTotal ?? 0) + n;
        else summary = (summary ?? 0) + n;
      } else if (key === 'pid') {
        const n = Number(value.trim());
        if (Number.isSafeInteger(n) && n > 0) pid = n;
      }
      // version, creator, cmd, part, desc, thread, event, ...: nothing to take
      continue;
    }
    throw new Error(`line ${i + 1}: not callgrind format: "${line.slice(0, 60)}"`);
  }
  if (!sawEvents) throw new Error('no "events:" line: not a callgrind dump');
  if (inCall) throw new Error('the dump ends inside a call record');
  let selfTotal = 0;
  for (const v of self.values()) selfTotal += v;
  if (!sawCost && (declaredTotal ?? summary ?? 0) > 0) throw new Error('the dump has totals but no cost lines');
  const functions = [...self.entries()].map(([fn, ir]) => ({ fn, ir })).sort((a, b) => b.ir - a.ir || (a.fn < b.fn ? -1 : a.fn > b.fn ? 1 : 0));
  return { functions, selfTotal, declaredTotal: declaredTotal ?? summary, pid };
}

/**
 * A function name as a prompt shows it: callgrind's own (demangled by callgrind),
 * without control characters or runs of blanks, the recursion-depth suffix ('2)
 * or the symbol version (@@GLIBC_2.2.5), at most MAX_NAME characters; an
 * address without a symbol names its object.
 */
export function cleanName(raw: string, object = ''): string {
  let s = raw
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/'\d+$/, '')
    .replace(/@@?[A-Za-z_][A-Za-z0-9_.]*$/, '');
  if (!s) s = '???';
  if (/^0x[0-9a-fA-F]+$/.test(s) && object) s = `${s} [${basename(object)}]`;
  if (s.length > MAX_NAME) s = `${s.slice(0, MAX_NAME - 3)}...`;
  return s;
}
