/**
 * The perflab store: one SQLite file (better-sqlite3, WAL) holding variants by
 * content hash, builds, checks, measured runs with their raw samples, and A/B
 * comparisons. Every record call is its own transaction, so a process killed
 * halfway loses nothing it had already recorded. Nothing that looks like an API
 * key is ever written (see guard.ts).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PerflabError, UsageError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { readSources } from '../native/sources.js';
import type { BenchDocument } from '../pipeline/bench-types.js';
import type { Sanitizer } from '../pipeline/build.js';
import { assertNoSecrets, toJson } from './guard.js';
import { contentHash } from './hash.js';
import { migrate, userVersion } from './schema.js';
import { now, optNum, optStr, parse, str, type Row } from './row.js';
import { openDatabase, type Database, type RunResult, type SqlValue, type Statement } from './sqlite.js';

export const VARIANT_ORIGINS = ['builtin', 'tuner', 'anthropic', 'openai-compatible', 'replay', 'file'] as const;
export type VariantOrigin = (typeof VARIANT_ORIGINS)[number];

/**
 * Lifecycle of a stored variant: built-ins are `active` (or `superseded` once
 * their source changed); others start as `candidate` and move on through
 * setVariantStatus (`passed`/`failed` after check, `promoted` by optimize).
 */
export type VariantStatus = 'active' | 'superseded' | 'candidate' | 'passed' | 'failed' | 'promoted';

export type RunSource = 'bench' | 'compare' | 'check';
export type CompareVerdict = 'faster' | 'slower' | 'same' | 'inconclusive';

export interface VariantInput {
  name: string;
  family: string;
  origin: VariantOrigin;
  source: string;
  parent?: string | null;
  knobs?: Record<string, string>;
  /** Default: `active` for built-ins, else `candidate`. */
  status?: VariantStatus;
  sourcePath?: string | null;
}

export interface StoredVariant {
  hash: string;
  name: string;
  family: string;
  origin: VariantOrigin;
  parent: string | null;
  source: string;
  sourcePath: string | null;
  knobs: Record<string, string>;
  status: VariantStatus;
  createdAt: string;
}

export interface BuildRecord {
  variantHash: string;
  /** VariantBuild.hash; null when the compile failed before a build existed. */
  buildHash?: string | null;
  sanitizer: Sanitizer;
  compiler: string;
  flags: string[];
  ok: boolean;
  /** What the compiler printed. */
  output: string;
}

export interface StoredBuild extends Required<BuildRecord> {
  id: number;
  createdAt: string;
}

export interface CheckRecord {
  variantHash: string;
  buildHash?: string | null;
  stage: string;
  verdict: 'pass' | 'fail';
  reason: string;
  log: string;
  seed?: number | null;
  flags?: string[];
  durationMs?: number | null;
}

export interface StoredCheck extends Required<CheckRecord> {
  id: number;
  createdAt: string;
}

export interface RunRecord {
  /** Null for js scenarios (no stored variant). */
  variantHash?: string | null;
  family: string;
  variant: string;
  workload: string;
  params: Record<string, number | string>;
  metric: string;
  unit: string;
  higherIsBetter: boolean;
  median: number;
  ci95: [number, number];
  samples: number[];
  rusage?: unknown;
  vsBaseline?: unknown;
  flags?: string[];
  env: object;
  source: RunSource;
  gitSha?: string | null;
  batchId?: string | null;
}

export interface StoredRun extends Omit<Required<RunRecord>, 'env'> {
  id: number;
  env: Record<string, unknown>;
  createdAt: string;
}

/** What the runs of one measuring command share. */
export interface BatchRecord {
  source: RunSource;
  startedAt: string;
  seconds?: number | null;
  env: object;
  gitSha?: string | null;
  meta?: Record<string, unknown>;
}

export interface StoredBatch extends Required<BatchRecord> {
  id: string;
  createdAt: string;
}

export interface ComparisonRecord {
  family: string;
  aName: string;
  aHash?: string | null;
  bName: string;
  bHash?: string | null;
  workload: string;
  metric: string;
  /** B's speedup over A (> 1: B better), INTERFACES.md. */
  ratio: number;
  ci95: [number, number];
  pValue?: number | null;
  noiseFloor?: [number, number] | null;
  verdict: CompareVerdict;
  flags?: string[];
  runs: { arm: string; order: number; value: number }[];
  env?: object | null;
  gitSha?: string | null;
}

export interface StoredComparison extends Required<ComparisonRecord> {
  id: number;
  createdAt: string;
}

export interface RunFilter {
  family?: string;
  variant?: string;
  variantHash?: string;
  workload?: string;
  metric?: string;
  batchId?: string;
  source?: RunSource;
}

/** Hashes of non-built-in variants in a bench document: family -> variant name -> hash. */
export type VariantHashes = Record<string, Record<string, string>>;

/** The store file: the argument (--store), else PERFLAB_STORE, else ./.perflab/perflab.db. */
export function storePath(path?: string): string {
  const given = path || process.env.PERFLAB_STORE;
  if (given === ':memory:') return given;
  return given ? resolve(given) : resolve('.perflab', 'perflab.db');
}

/** Opens (creating when needed) the store and brings its schema up to date. */
export function openStore(path?: string): Store {
  return new Store(storePath(path));
}


function storeError(message: string, cause?: unknown): PerflabError {
  return new PerflabError('ERR_PERFLAB_STORE', message, { cause, exitCode: 3 });
}


export class Store {
  /** Absolute path of the database file (or ':memory:'). */
  readonly path: string;
  private readonly db: Database;
  private readonly statements = new Map<string, Statement>();
  /** Current built-in hashes: `family/name` -> hash. */
  private builtins = new Map<string, string>();

  constructor(path: string) {
    this.path = path;
    let db: Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = openDatabase(path, { timeout: 5000 });
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db, undefined, path);
    } catch (err) {
      db?.close();
      if (err instanceof PerflabError) throw err;
      throw storeError(`cannot open the store ${path}: ${(err as Error).message} (point --store or PERFLAB_STORE at a writable perflab store file)`, err);
    }
    this.db = db;
    try {
      this.registerBuiltins();
    } catch (err) {
      db.close();
      if (err instanceof PerflabError) throw err;
      throw storeError(`cannot register the built-in variants in the store ${path}: ${(err as Error).message}`, err);
    }
  }

  /** The schema version of the open file (PRAGMA user_version). */
  get schemaVersion(): number {
    return userVersion(this.live());
  }

  /** The connection's settings (journal mode 'wal' for files, 'memory' for ':memory:'). */
  settings(): { journalMode: string; synchronous: 'off' | 'normal' | 'full' | 'extra'; foreignKeys: boolean; busyTimeoutMs: number; schemaVersion: number } {
    const db = this.live();
    const p = (name: string) => db.pragma(name, { simple: true });
    return {
      journalMode: String(p('journal_mode')),
      synchronous: (['off', 'normal', 'full', 'extra'] as const)[Number(p('synchronous'))] ?? 'full',
      foreignKeys: Number(p('foreign_keys')) === 1,
      busyTimeoutMs: Number(p('busy_timeout')),
      schemaVersion: userVersion(db),
    };
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- variants --------------------------------------------------------------

  /**
   * Stores a variant under its content hash and returns the stored row. A variant
   * already stored under that hash is left as it is (change its status with
   * setVariantStatus).
   */
  upsertVariant(input: VariantInput): StoredVariant {
    if (!VARIANT_ORIGINS.includes(input.origin)) throw new UsageError(`variant origin must be one of ${VARIANT_ORIGINS.join(', ')}, not "${input.origin}"`);
    const hash = variantHash(input.source, input.knobs);
    this.transaction(() => {
      if (this.stmt('SELECT 1 FROM variants WHERE hash = ?').get([hash])) return;
      this.write(`variant ${input.family}/${input.name}`, 'INSERT INTO variants (hash, name, family, origin, parent, source, source_path, knobs, status, created_at) VALUES (@hash, @name, @family, @origin, @parent, @source, @source_path, @knobs, @status, @created_at)', {
        hash,
        name: input.name,
        family: input.family,
        origin: input.origin,
        parent: input.parent ?? null,
        source: input.source,
        source_path: input.sourcePath ?? null,
        knobs: toJson(input.knobs ?? {}),
        status: input.status ?? (input.origin === 'builtin' ? 'active' : 'candidate'),
        created_at: now(),
      });
    });
    return this.variantByHash(hash)!;
  }

  setVariantStatus(hash: string, status: VariantStatus): void {
    this.transaction(() => {
      const r = this.write(`status of variant ${hash}`, 'UPDATE variants SET status = @status WHERE hash = @hash', { hash, status });
      if (r.changes === 0) throw new UsageError(`no stored variant with hash ${hash}`);
    });
  }

  variantByHash(hash: string): StoredVariant | undefined {
    const row = this.stmt('SELECT * FROM variants WHERE hash = ?').get([hash]);
    return row ? toVariant(row) : undefined;
  }

  /** Stored variants (built-ins included), by family, built-ins first in native/sources.json order. */
  listVariants(family?: string): StoredVariant[] {
    const rows = family === undefined
      ? this.stmt("SELECT * FROM variants ORDER BY family, origin <> 'builtin', created_at, rowid").all()
      : this.stmt("SELECT * FROM variants WHERE family = ? ORDER BY origin <> 'builtin', created_at, rowid").all([family]);
    return rows.map(toVariant);
  }

  /**
   * A variant of `family` by name (the current one when several share it: not
   * superseded, built-ins first, newest) or by hash prefix (at least 4 hex
   * digits). Undefined when nothing matches; UsageError when a prefix is ambiguous.
   */
  findVariant(ref: string, family: string): StoredVariant | undefined {
    const byName = this.stmt(
      "SELECT * FROM variants WHERE family = ? AND name = ? ORDER BY status = 'superseded', origin <> 'builtin', created_at DESC, rowid DESC LIMIT 1",
    ).get([family, ref]);
    if (byName) return toVariant(byName);
    if (!/^[0-9a-f]{4,16}$/i.test(ref)) return undefined;
    const rows = this.stmt('SELECT * FROM variants WHERE family = ? AND substr(hash, 1, length(?)) = ? ORDER BY created_at').all([family, ref, ref.toLowerCase()]);
    if (rows.length > 1) {
      throw new UsageError(`hash prefix "${ref}" matches ${rows.length} ${family} variants (${rows.map((r) => `${str(r.hash)} ${str(r.name)}`).join(', ')}); give more digits`);
    }
    return rows[0] ? toVariant(rows[0]) : undefined;
  }

  /** Hash of the current source of a built-in variant, if `name` is one. */
  builtinHash(family: string, name: string): string | undefined {
    return this.builtins.get(`${family}/${name}`);
  }

  // ---- builds and checks -----------------------------------------------------

  /** Records a build; a successful build already recorded (same build hash) is not duplicated. Returns its id. */
  recordBuild(b: BuildRecord): number {
    return this.transaction(() => {
      if (b.ok && b.buildHash) {
        const seen = this.stmt<{ id: number }>('SELECT id FROM builds WHERE build_hash = ? AND ok = 1 LIMIT 1').get([b.buildHash]);
        if (seen) return seen.id;
      }
      const r = this.write(`build of ${b.variantHash}`, 'INSERT INTO builds (variant_hash, build_hash, sanitizer, compiler, flags, ok, compiler_output, created_at) VALUES (@variant_hash, @build_hash, @sanitizer, @compiler, @flags, @ok, @compiler_output, @created_at)', {
        variant_hash: b.variantHash,
        build_hash: b.buildHash ?? null,
        sanitizer: b.sanitizer,
        compiler: b.compiler,
        flags: toJson(b.flags),
        ok: b.ok ? 1 : 0,
        compiler_output: b.output,
        created_at: now(),
      });
      return Number(r.lastInsertRowid);
    });
  }

  builds(variantHash: string): StoredBuild[] {
    return this.stmt('SELECT * FROM builds WHERE variant_hash = ? ORDER BY id').all([variantHash]).map((r) => ({
      id: Number(r.id),
      variantHash: str(r.variant_hash),
      buildHash: optStr(r.build_hash),
      sanitizer: str(r.sanitizer) as Sanitizer,
      compiler: str(r.compiler),
      flags: parse<string[]>(r.flags, []),
      ok: Number(r.ok) === 1,
      output: str(r.compiler_output),
      createdAt: str(r.created_at),
    }));
  }

  recordCheck(c: CheckRecord): number {
    return this.transaction(() => {
      const r = this.write(`check of ${c.variantHash}`, 'INSERT INTO checks (variant_hash, build_hash, stage, verdict, reason, log, seed, flags, duration_ms, created_at) VALUES (@variant_hash, @build_hash, @stage, @verdict, @reason, @log, @seed, @flags, @duration_ms, @created_at)', {
        variant_hash: c.variantHash,
        build_hash: c.buildHash ?? null,
        stage: c.stage,
        verdict: c.verdict,
        reason: c.reason,
        log: c.log,
        seed: c.seed ?? null,
        flags: toJson(c.flags ?? []),
        duration_ms: c.durationMs ?? null,
        created_at: now(),
      });
      return Number(r.lastInsertRowid);
    });
  }

  checks(variantHash: string): StoredCheck[] {
    return this.stmt('SELECT * FROM checks WHERE variant_hash = ? ORDER BY id').all([variantHash]).map((r) => ({
      id: Number(r.id),
      variantHash: str(r.variant_hash),
      buildHash: optStr(r.build_hash),
      stage: str(r.stage),
      verdict: str(r.verdict) as 'pass' | 'fail',
      reason: str(r.reason),
      log: str(r.log),
      seed: optNum(r.seed),
      flags: parse<string[]>(r.flags, []),
      durationMs: optNum(r.duration_ms),
      createdAt: str(r.created_at),
    }));
  }

  // ---- runs ------------------------------------------------------------------

  recordRun(run: RunRecord): number {
    return this.recordRuns([run])[0]!;
  }

  /** Records several runs in one transaction (all or none). Returns their ids. */
  recordRuns(runs: RunRecord[]): number[] {
    return this.transaction(() => runs.map((r) => this.insertRun(r)));
  }

  /** Records a batch and its runs in one transaction. Returns the batch id. */
  recordBatch(batch: BatchRecord, runs: Omit<RunRecord, 'batchId'>[]): string {
    return this.transaction(() => {
      const id = randomUUID();
      this.write(`batch (${batch.source})`, 'INSERT INTO batches (id, source, started_at, seconds, env, git_sha, meta, created_at) VALUES (@id, @source, @started_at, @seconds, @env, @git_sha, @meta, @created_at)', {
        id,
        source: batch.source,
        started_at: batch.startedAt,
        seconds: batch.seconds ?? null,
        env: toJson(batch.env),
        git_sha: batch.gitSha ?? null,
        meta: toJson(batch.meta ?? {}),
        created_at: now(),
      });
      for (const r of runs) this.insertRun({ ...r, batchId: id });
      return id;
    });
  }

  /**
   * Records a `perflab bench` document: one batch (env, timing, skipped and
   * failed cells) and one run per result row. Built-in variants get the hash of
   * their current source; others the hash in `variantHashes` (which must be
   * stored variants), else none (js scenarios).
   */
  recordBench(doc: BenchDocument, variantHashes: VariantHashes = {}): { batchId: string; runs: number } {
    const runs = doc.results.map((r): RunRecord => ({
      variantHash: variantHashes[r.family]?.[r.variant] ?? this.builtinHash(r.family, r.variant) ?? null,
      family: r.family,
      variant: r.variant,
      workload: r.workload,
      params: r.params,
      metric: r.metric,
      unit: r.unit,
      higherIsBetter: r.higher_is_better,
      median: r.median,
      ci95: r.ci95,
      samples: r.samples,
      rusage: r.rusage ?? null,
      vsBaseline: r.vs_baseline ?? null,
      flags: [...(r.flags ?? []), ...(r.affinity ? [`affinity:${r.affinity}`] : [])],
      env: doc.env,
      source: 'bench',
      gitSha: doc.env.git_sha,
    }));
    const batchId = this.recordBatch(
      { source: 'bench', startedAt: doc.timing.started, seconds: doc.timing.seconds, env: doc.env, gitSha: doc.env.git_sha, meta: { timing: doc.timing, skipped: doc.skipped, failures: doc.failures } },
      runs,
    );
    return { batchId, runs: runs.length };
  }

  runs(filter: RunFilter = {}): StoredRun[] {
    const cols: Record<keyof RunFilter, string> = { family: 'family', variant: 'variant', variantHash: 'variant_hash', workload: 'workload', metric: 'metric', batchId: 'batch_id', source: 'source' };
    const where: string[] = [];
    const params: SqlValue[] = [];
    for (const [k, col] of Object.entries(cols) as [keyof RunFilter, string][]) {
      const v = filter[k];
      if (v === undefined) continue;
      where.push(`${col} = ?`);
      params.push(v);
    }
    const sql = `SELECT * FROM runs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return this.stmt(sql).all(params).map((r) => ({
      id: Number(r.id),
      batchId: optStr(r.batch_id),
      variantHash: optStr(r.variant_hash),
      family: str(r.family),
      variant: str(r.variant),
      workload: str(r.workload),
      params: parse<Record<string, number | string>>(r.params, {}),
      metric: str(r.metric),
      unit: str(r.unit),
      higherIsBetter: Number(r.higher_is_better) === 1,
      median: Number(r.median),
      ci95: [Number(r.ci_lo), Number(r.ci_hi)] as [number, number],
      samples: parse<number[]>(r.samples, []),
      rusage: parse<unknown>(r.rusage, null),
      vsBaseline: parse<unknown>(r.vs_baseline, null),
      flags: parse<string[]>(r.flags, []),
      env: parse<Record<string, unknown>>(r.env, {}),
      source: str(r.source) as RunSource,
      gitSha: optStr(r.git_sha),
      createdAt: str(r.created_at),
    }));
  }

  batch(id: string): StoredBatch | undefined {
    const r = this.stmt('SELECT * FROM batches WHERE id = ?').get([id]);
    if (!r) return undefined;
    return {
      id: str(r.id),
      source: str(r.source) as RunSource,
      startedAt: str(r.started_at),
      seconds: optNum(r.seconds),
      env: parse<object>(r.env, {}),
      gitSha: optStr(r.git_sha),
      meta: parse<Record<string, unknown>>(r.meta, {}),
      createdAt: str(r.created_at),
    };
  }

  // ---- comparisons -----------------------------------------------------------

  recordComparison(c: ComparisonRecord): number {
    return this.transaction(() => {
      const r = this.write(`comparison ${c.aName} vs ${c.bName}`, 'INSERT INTO comparisons (family, a_hash, a_name, b_hash, b_name, workload, metric, ratio, ci_lo, ci_hi, p_value, noise_lo, noise_hi, verdict, flags, runs, env, git_sha, created_at) VALUES (@family, @a_hash, @a_name, @b_hash, @b_name, @workload, @metric, @ratio, @ci_lo, @ci_hi, @p_value, @noise_lo, @noise_hi, @verdict, @flags, @runs, @env, @git_sha, @created_at)', {
        family: c.family,
        a_hash: c.aHash ?? null,
        a_name: c.aName,
        b_hash: c.bHash ?? null,
        b_name: c.bName,
        workload: c.workload,
        metric: c.metric,
        ratio: c.ratio,
        ci_lo: c.ci95[0],
        ci_hi: c.ci95[1],
        p_value: c.pValue ?? null,
        noise_lo: c.noiseFloor?.[0] ?? null,
        noise_hi: c.noiseFloor?.[1] ?? null,
        verdict: c.verdict,
        flags: toJson(c.flags ?? []),
        runs: toJson(c.runs),
        env: c.env ? toJson(c.env) : null,
        git_sha: c.gitSha ?? null,
        created_at: now(),
      });
      return Number(r.lastInsertRowid);
    });
  }

  comparisons(filter: { family?: string } = {}): StoredComparison[] {
    const rows = filter.family === undefined ? this.stmt('SELECT * FROM comparisons ORDER BY id').all() : this.stmt('SELECT * FROM comparisons WHERE family = ? ORDER BY id').all([filter.family]);
    return rows.map((r) => ({
      id: Number(r.id),
      family: str(r.family),
      aName: str(r.a_name),
      aHash: optStr(r.a_hash),
      bName: str(r.b_name),
      bHash: optStr(r.b_hash),
      workload: str(r.workload),
      metric: str(r.metric),
      ratio: Number(r.ratio),
      ci95: [Number(r.ci_lo), Number(r.ci_hi)] as [number, number],
      pValue: optNum(r.p_value),
      noiseFloor: r.noise_lo === null ? null : ([Number(r.noise_lo), Number(r.noise_hi)] as [number, number]),
      verdict: str(r.verdict) as CompareVerdict,
      flags: parse<string[]>(r.flags, []),
      runs: parse<ComparisonRecord['runs']>(r.runs, []),
      env: parse<object | null>(r.env, null),
      gitSha: optStr(r.git_sha),
      createdAt: str(r.created_at),
    }));
  }

  // ---- internals -------------------------------------------------------------

  private insertRun(r: RunRecord): number {
    const res = this.write(`run ${r.family}/${r.variant}/${r.workload}`, 'INSERT INTO runs (batch_id, variant_hash, family, variant, workload, params, metric, unit, higher_is_better, median, ci_lo, ci_hi, samples, rusage, vs_baseline, flags, env, source, git_sha, created_at) VALUES (@batch_id, @variant_hash, @family, @variant, @workload, @params, @metric, @unit, @higher_is_better, @median, @ci_lo, @ci_hi, @samples, @rusage, @vs_baseline, @flags, @env, @source, @git_sha, @created_at)', {
      batch_id: r.batchId ?? null,
      variant_hash: r.variantHash ?? null,
      family: r.family,
      variant: r.variant,
      workload: r.workload,
      params: toJson(r.params),
      metric: r.metric,
      unit: r.unit,
      higher_is_better: r.higherIsBetter ? 1 : 0,
      median: r.median,
      ci_lo: r.ci95[0],
      ci_hi: r.ci95[1],
      samples: toJson(r.samples),
      rusage: r.rusage === undefined || r.rusage === null ? null : toJson(r.rusage),
      vs_baseline: r.vsBaseline === undefined || r.vsBaseline === null ? null : toJson(r.vsBaseline),
      flags: toJson(r.flags ?? []),
      env: toJson(r.env),
      source: r.source,
      git_sha: r.gitSha ?? null,
      created_at: now(),
    });
    return Number(res.lastInsertRowid);
  }

  /**
   * Registers the built-in variants of native/sources.json with their current
   * source (origin `builtin`, status `active`); a built-in whose source changed
   * keeps its old row, now `superseded`. Writes only when something changed.
   */
  private registerBuiltins(): void {
    const found: { family: string; name: string; rel: string; source: string; hash: string }[] = [];
    const variants = readSources().variants as Record<string, Record<string, string>>;
    for (const [family, names] of Object.entries(variants)) {
      for (const [name, rel] of Object.entries(names)) {
        const file = join(packageRoot(), rel);
        if (!existsSync(file)) continue;
        const bytes = readFileSync(file);
        found.push({ family, name, rel, source: bytes.toString('utf8'), hash: contentHash(bytes) });
      }
    }
    this.builtins = new Map(found.map((b) => [`${b.family}/${b.name}`, b.hash]));
    const stale = (b: (typeof found)[number]) => {
      const row = this.stmt('SELECT name, family, origin, status FROM variants WHERE hash = ?').get([b.hash]);
      if (!row || row.origin !== 'builtin' || row.status !== 'active' || row.name !== b.name || row.family !== b.family) return true;
      return this.stmt("SELECT 1 FROM variants WHERE family = ? AND name = ? AND origin = 'builtin' AND hash <> ? AND status <> 'superseded' LIMIT 1").get([b.family, b.name, b.hash]) !== undefined;
    };
    const todo = found.filter(stale);
    if (todo.length === 0) return;
    this.transaction(() => {
      const at = now();
      for (const b of todo) {
        this.write(`built-in variant ${b.family}/${b.name}`, "UPDATE variants SET status = 'superseded' WHERE family = @family AND name = @name AND origin = 'builtin' AND hash <> @hash", { family: b.family, name: b.name, hash: b.hash });
        if (this.stmt('SELECT 1 FROM variants WHERE hash = ?').get([b.hash])) {
          // Built-in wins over another record of the same source (or a reverted edit).
          this.write(`built-in variant ${b.family}/${b.name}`, "UPDATE variants SET name = @name, family = @family, origin = 'builtin', status = 'active' WHERE hash = @hash", { family: b.family, name: b.name, hash: b.hash });
        } else {
          this.write(`built-in variant ${b.family}/${b.name}`, "INSERT INTO variants (hash, name, family, origin, parent, source, source_path, knobs, status, created_at) VALUES (@hash, @name, @family, 'builtin', NULL, @source, @source_path, '{}', 'active', @created_at)", {
            hash: b.hash,
            name: b.name,
            family: b.family,
            source: b.source,
            source_path: b.rel,
            created_at: at,
          });
        }
      }
    });
  }

  private live(): Database {
    if (!this.db.open) throw new PerflabError('ERR_PERFLAB_DISPOSED', `the store ${this.path} is closed`);
    return this.db;
  }

  /** @internal For the store's own modules (experiments.ts): a cached prepared statement. */
  stmt<R = Row>(sql: string): Statement<R> {
    const db = this.live();
    let s = this.statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s as unknown as Statement<R>;
  }

  /** @internal The one way anything is written: the secret guard sees every field first. */
  write(what: string, sql: string, fields: Record<string, SqlValue>): RunResult {
    assertNoSecrets(fields, what);
    return this.stmt(sql).run(fields);
  }

  /** @internal Runs `fn` in an IMMEDIATE transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    const db = this.live();
    if (db.inTransaction) return fn();
    try {
      return db.transaction(fn).immediate();
    } catch (err) {
      if (err instanceof PerflabError) throw err;
      throw storeError(`store write failed (${this.path}): ${(err as Error).message}`, err);
    }
  }
}

/** A variant's hash: contentHash of its source; with knobs, of the source and the sorted knob values. */
export function variantHash(source: string, knobs?: Record<string, string>): string {
  const entries = Object.entries(knobs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return contentHash(source);
  return contentHash(`${source}\0knobs:${JSON.stringify(entries)}`);
}

function toVariant(r: Row): StoredVariant {
  return {
    hash: str(r.hash),
    name: str(r.name),
    family: str(r.family),
    origin: str(r.origin) as VariantOrigin,
    parent: optStr(r.parent),
    source: str(r.source),
    sourcePath: optStr(r.source_path),
    knobs: parse<Record<string, string>>(r.knobs, {}),
    status: str(r.status) as VariantStatus,
    createdAt: str(r.created_at),
  };
}
