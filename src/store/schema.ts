/**
 * The store's schema, versioned with PRAGMA user_version: an ordered list of
 * migrations, each applied once in its own transaction. A database written by a
 * newer perflab (user_version above the last migration here) is refused rather
 * than misread.
 */
import { PerflabError } from '../errors.js';
import type { Database } from './sqlite.js';

export interface Migration {
  version: number;
  description: string;
  up: string;
}

/** Version 1: variants, builds, checks, runs (with their batch), comparisons. */
const V1 = `
CREATE TABLE variants (
  hash        TEXT PRIMARY KEY,           -- contentHash(source bytes): sha256, first 16 hex
  name        TEXT NOT NULL,
  family      TEXT NOT NULL,
  origin      TEXT NOT NULL CHECK (origin IN ('builtin', 'tuner', 'anthropic', 'openai-compatible', 'replay', 'file')),
  parent      TEXT,                       -- hash of the variant it was derived from
  source      TEXT NOT NULL,
  source_path TEXT,                       -- where it was read from (built-ins: relative to the package root)
  knobs       TEXT NOT NULL DEFAULT '{}', -- JSON: knob name -> value
  status      TEXT NOT NULL,
  created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX variants_family_name ON variants (family, name);
CREATE INDEX variants_parent ON variants (parent);

CREATE TABLE builds (
  id              INTEGER PRIMARY KEY,
  variant_hash    TEXT NOT NULL REFERENCES variants (hash),
  build_hash      TEXT,                   -- VariantBuild.hash (null when the compile failed before one existed)
  sanitizer       TEXT NOT NULL CHECK (sanitizer IN ('none', 'thread', 'address')),
  compiler        TEXT NOT NULL,
  flags           TEXT NOT NULL,          -- JSON string[]
  ok              INTEGER NOT NULL CHECK (ok IN (0, 1)),
  compiler_output TEXT NOT NULL,
  created_at      TEXT NOT NULL
) STRICT;
CREATE INDEX builds_variant ON builds (variant_hash);
CREATE INDEX builds_hash ON builds (build_hash);

CREATE TABLE checks (
  id           INTEGER PRIMARY KEY,
  variant_hash TEXT NOT NULL REFERENCES variants (hash),
  build_hash   TEXT,
  stage        TEXT NOT NULL,
  verdict      TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
  reason       TEXT NOT NULL,
  log          TEXT NOT NULL,
  seed         INTEGER,
  flags        TEXT NOT NULL,             -- JSON string[]
  duration_ms  REAL,
  created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX checks_variant ON checks (variant_hash, created_at);

-- One measuring command (a bench, a compare, a check's timed run): what its rows share.
CREATE TABLE batches (
  id         TEXT PRIMARY KEY,
  source     TEXT NOT NULL CHECK (source IN ('bench', 'compare', 'check')),
  started_at TEXT NOT NULL,
  seconds    REAL,
  env        TEXT NOT NULL,               -- JSON EnvFingerprint (secret-looking keys redacted)
  git_sha    TEXT,
  meta       TEXT NOT NULL,               -- JSON: timing, skipped and failed cells, ...
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE runs (
  id               INTEGER PRIMARY KEY,
  batch_id         TEXT REFERENCES batches (id),
  variant_hash     TEXT REFERENCES variants (hash),  -- null for js scenarios
  family           TEXT NOT NULL,
  variant          TEXT NOT NULL,
  workload         TEXT NOT NULL,
  params           TEXT NOT NULL,         -- JSON
  metric           TEXT NOT NULL,
  unit             TEXT NOT NULL,
  higher_is_better INTEGER NOT NULL CHECK (higher_is_better IN (0, 1)),
  median           REAL NOT NULL,
  ci_lo            REAL NOT NULL,
  ci_hi            REAL NOT NULL,
  samples          TEXT NOT NULL,         -- JSON number[] (raw samples)
  rusage           TEXT,                  -- JSON, per sample
  vs_baseline      TEXT,                  -- JSON
  flags            TEXT NOT NULL,         -- JSON string[]
  env              TEXT NOT NULL,         -- JSON EnvFingerprint
  source           TEXT NOT NULL CHECK (source IN ('bench', 'compare', 'check')),
  git_sha          TEXT,
  created_at       TEXT NOT NULL
) STRICT;
CREATE INDEX runs_family_variant ON runs (family, variant, workload, metric);
CREATE INDEX runs_variant_hash ON runs (variant_hash);
CREATE INDEX runs_batch ON runs (batch_id);

CREATE TABLE comparisons (
  id         INTEGER PRIMARY KEY,
  family     TEXT NOT NULL,
  a_hash     TEXT REFERENCES variants (hash),
  a_name     TEXT NOT NULL,
  b_hash     TEXT REFERENCES variants (hash),
  b_name     TEXT NOT NULL,
  workload   TEXT NOT NULL,
  metric     TEXT NOT NULL,
  ratio      REAL NOT NULL,
  ci_lo      REAL NOT NULL,
  ci_hi      REAL NOT NULL,
  p_value    REAL,
  noise_lo   REAL,
  noise_hi   REAL,
  verdict    TEXT NOT NULL CHECK (verdict IN ('faster', 'slower', 'same', 'inconclusive')),
  flags      TEXT NOT NULL,               -- JSON string[]
  runs       TEXT NOT NULL,               -- JSON [{ arm, order, value }]
  env        TEXT,                        -- JSON EnvFingerprint
  git_sha    TEXT,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX comparisons_family ON comparisons (family, created_at);
CREATE INDEX comparisons_a ON comparisons (a_hash);
CREATE INDEX comparisons_b ON comparisons (b_hash);
`;

/**
 * Version 2: the optimization loop. An experiment, every proposer call it made
 * (tokens, cost, latency, the answer replay gives back; never a key) and every
 * attempt (one candidate evaluated: the stage it reached, its ratio or its
 * failure's evidence).
 */
const V2 = `
CREATE TABLE experiments (
  id            TEXT PRIMARY KEY,
  family        TEXT NOT NULL,
  task          TEXT NOT NULL CHECK (task IN ('optimize', 'lock-free', 'profile')),
  from_name     TEXT NOT NULL,
  from_hash     TEXT NOT NULL REFERENCES variants (hash),
  proposer      TEXT NOT NULL CHECK (proposer IN ('anthropic', 'openai-compatible', 'replay', 'tuner')),
  model         TEXT,
  persona       TEXT NOT NULL,
  persona_hash  TEXT NOT NULL,
  system_prompt TEXT NOT NULL,            -- the byte-stable prefix as sent; a resumed experiment reuses it
  options       TEXT NOT NULL,            -- JSON: limits, rounds, seed, replay_of, structure
  status        TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'done')),
  stopped_by    TEXT,
  best_hash     TEXT REFERENCES variants (hash),
  promoted      TEXT,                     -- JSON { name, hash, ratio, ci95 } or null
  pid           INTEGER,                  -- the process running it (status running)
  env           TEXT NOT NULL,            -- JSON EnvFingerprint
  git_sha       TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
) STRICT;
CREATE INDEX experiments_family ON experiments (family, created_at);

CREATE TABLE proposer_calls (
  id                          INTEGER PRIMARY KEY,
  experiment_id               TEXT NOT NULL REFERENCES experiments (id),
  iteration                   INTEGER NOT NULL,
  provider                    TEXT NOT NULL,
  model                       TEXT,
  persona                     TEXT NOT NULL,
  persona_hash                TEXT NOT NULL,
  request_hash                TEXT NOT NULL,
  input_tokens                INTEGER NOT NULL,
  output_tokens               INTEGER NOT NULL,
  cache_creation_input_tokens INTEGER NOT NULL,
  cache_read_input_tokens     INTEGER NOT NULL,
  usd                         REAL,
  price_table                 TEXT,
  latency_ms                  REAL NOT NULL,
  stop_reason                 TEXT,
  outcome                     TEXT NOT NULL CHECK (outcome IN ('ok', 'invalid', 'refused', 'error')),
  error                       TEXT,
  response                    TEXT NOT NULL,
  created_at                  TEXT NOT NULL,
  UNIQUE (experiment_id, iteration)
) STRICT;

CREATE TABLE attempts (
  id              INTEGER PRIMARY KEY,
  experiment_id   TEXT NOT NULL REFERENCES experiments (id),
  iteration       INTEGER NOT NULL,
  variant_hash    TEXT REFERENCES variants (hash),
  parent_hash     TEXT,
  note            TEXT NOT NULL,
  stage           TEXT NOT NULL,
  verdict         TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
  ratio           REAL,
  ci_lo           REAL,
  ci_hi           REAL,
  compare_verdict TEXT,
  is_best         INTEGER NOT NULL DEFAULT 0 CHECK (is_best IN (0, 1)),
  reason          TEXT NOT NULL,
  log             TEXT NOT NULL,
  seed            INTEGER,
  knobs           TEXT NOT NULL,          -- JSON
  flags           TEXT NOT NULL,          -- JSON string[]
  duration_ms     REAL,
  created_at      TEXT NOT NULL,
  UNIQUE (experiment_id, iteration)
) STRICT;
`;

/** Every migration, in order; append only (a shipped migration never changes). */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'variants, builds, checks, batches, runs, comparisons', up: V1 },
  { version: 2, description: 'experiments, proposer calls, attempts', up: V2 },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export function userVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` up to the last migration. Each step runs in an IMMEDIATE
 * transaction that re-reads user_version, so two processes opening a fresh store
 * at once apply each migration exactly once. Returns the versions applied.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, where = db.name): number[] {
  for (let i = 0; i < migrations.length; i++) {
    if (migrations[i]!.version !== i + 1) throw new Error(`store migrations must be numbered 1, 2, 3, ... in order (entry ${i} is version ${migrations[i]!.version})`);
  }
  const latest = migrations.length;
  const applied: number[] = [];
  const current = userVersion(db);
  if (current > latest) throw newerStore(where, current, latest);
  for (const m of migrations) {
    if (m.version <= current) continue;
    const step = db.transaction(() => {
      const now = userVersion(db);
      if (now > latest) throw newerStore(where, now, latest);
      if (now >= m.version) return false; // another process got there first
      db.exec(m.up);
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    if (step.immediate()) applied.push(m.version);
  }
  return applied;
}

function newerStore(where: string, found: number, known: number): PerflabError {
  return new PerflabError(
    'ERR_PERFLAB_STORE',
    `the store ${where} has schema version ${found}, newer than this perflab knows (${known}); upgrade perflab, or point --store / PERFLAB_STORE at another file`,
    { exitCode: 3 },
  );
}
