import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PerflabError } from '../errors.js';
import { packageRoot, stateDir } from '../paths.js';
import { readSources } from '../native/sources.js';

const run = promisify(execFile);

/** A sanitizer build of a variant (the runner must come from the same sanitizer build). */
export type Sanitizer = 'none' | 'thread' | 'address';

export interface VariantBuild {
  /** Content hash of source + compiler + flags + knobs: a build's identity. */
  hash: string;
  /** The shared object. */
  path: string;
  compiler: string;
  flags: string[];
  /** What the compiler printed (warnings are errors, so empty on success). */
  output: string;
  cached: boolean;
}

export interface BuildOptions {
  family: 'spsc' | 'mpmc';
  sanitize?: Sanitizer;
  /** Knob values, passed as -DNAME=VALUE (INTERFACES.md: `perflab:knob` comments). */
  knobs?: Record<string, string>;
  /** Where built objects are kept (default: <state dir>/cache/builds). */
  cacheDir?: string;
}

const SANITIZER_FLAGS: Record<Sanitizer, string[]> = {
  none: [],
  thread: ['-fsanitize=thread', '-g', '-O1'],
  address: ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer', '-g', '-O1'],
};

let compilerIds: Map<string, string> | undefined;
async function compilerId(cc: string): Promise<string> {
  compilerIds ??= new Map();
  let id = compilerIds.get(cc);
  if (!id) {
    try {
      const { stdout } = await run(cc, ['--version']);
      id = stdout.split('\n')[0]!.trim();
    } catch (err) {
      throw new PerflabError('ERR_PERFLAB_ENVIRONMENT', `no working compiler "${cc}": ${(err as Error).message}; install g++ (apt-get install g++)`);
    }
    compilerIds.set(cc, id);
  }
  return id;
}

/** The fixed flags of INTERFACES.md for a source file, with the contract force-included. */
export function variantFlags(family: 'spsc' | 'mpmc', source: string, sanitize: Sanitizer = 'none', knobs: Record<string, string> = {}): { cc: string; flags: string[] } {
  const sources = readSources();
  const cxx = ['.cc', '.cpp', '.cxx'].includes(extname(source));
  const contract = join(packageRoot(), sources.variant_flags.contract[family]);
  const knobFlags = Object.entries(knobs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `-D${k}=${v}`);
  return {
    cc: cxx ? (process.env.CXX ?? 'g++') : (process.env.CC ?? 'gcc'),
    flags: [...(cxx ? sources.variant_flags.cxx : sources.variant_flags.c), '-include', contract, ...knobFlags, ...SANITIZER_FLAGS[sanitize], ...sources.variant_flags.link],
  };
}

/**
 * Compiles one variant source into a shared object with the fixed flags, warnings
 * as errors. Builds are cached by hash, so a variant is compiled once per
 * (source, compiler, flags). A compile error throws ERR_PERFLAB_COMPILE with the
 * compiler's output.
 */
export async function buildVariant(sourcePath: string, options: BuildOptions): Promise<VariantBuild> {
  const source = resolve(sourcePath);
  if (!existsSync(source)) throw new PerflabError('ERR_PERFLAB_USAGE', `no variant source at ${source}`);
  const ext = extname(source);
  if (!['.c', '.cc', '.cpp', '.cxx'].includes(ext)) throw new PerflabError('ERR_PERFLAB_USAGE', `a variant is a .c or .cc file, not ${source}`);
  const { cc, flags } = variantFlags(options.family, source, options.sanitize ?? 'none', options.knobs ?? {});
  const compiler = await compilerId(cc);
  const text = readFileSync(source);
  const contractText = readFileSync(flags[flags.indexOf('-include') + 1]!);
  const hash = createHash('sha256').update(text).update('\0').update(contractText).update('\0').update(compiler).update('\0').update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = join(options.cacheDir ?? join(stateDir(), 'cache', 'builds'), hash);
  const out = join(dir, 'variant.so');
  if (existsSync(out)) {
    return { hash, path: out, compiler, flags, output: readCached(join(dir, 'compiler.txt')), cached: true };
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  // The source is compiled from its own path so diagnostics name the real file.
  const args = [...flags, '-o', tmp, source];
  let output = '';
  try {
    const r = await run(cc, args, { maxBuffer: 16 << 20 });
    output = (r.stdout + r.stderr).trim();
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    const text = ((e.stdout ?? '') + (e.stderr ?? '')).trim() || e.message;
    throw new PerflabError('ERR_PERFLAB_COMPILE', `compile failed: ${cc} ${args.join(' ')}\n${text}`);
  }
  writeFileSync(join(dir, 'compiler.txt'), output);
  renameSync(tmp, out); // atomic: a concurrent reader never sees half an object
  return { hash, path: out, compiler, flags, output, cached: false };
}

function readCached(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
