/** The SQLite store: schema and migrations, round trips, crash safety, the key guard, `perflab variants`. */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { registerVariants } from '../../src/cli/variants.js';
import { PerflabError, UsageError } from '../../src/errors.js';
import type { BenchDocument } from '../../src/pipeline/bench-types.js';
import type { EnvFingerprint } from '../../src/pipeline/env.js';
import { builtinVariantSource } from '../../src/native/sources.js';
import { packageRoot } from '../../src/paths.js';
import {
  contentHash,
  migrate,
  MIGRATIONS,
  openDatabase,
  openStore,
  REDACTED,
  SCHEMA_VERSION,
  storePath,
  userVersion,
  type RunRecord,
  type Store,
} from '../../src/store/index.js';
import { viaCommander as runCommand } from '../helpers/commander.js';
import { tmpStores } from '../helpers/tmp-store.js';

const run = promisify(execFile);
const distStore = join(packageRoot(), 'dist', 'store', 'index.js');
const bin = join(packageRoot(), 'bin', 'perflab.js');

const { dirs, tmpStore, track } = tmpStores('perflab-store-', 'sub');

/** An Anthropic-shaped key made up now; the repository never holds one. */
function canaryKey(): string {
  return [['sk', 'ant', 'api03'].join('-'), randomBytes(30).toString('base64url')].join('-');
}

function fakeEnv(extra: Record<string, unknown> = {}): EnvFingerprint {
  return {
    cpu_model: 'Test CPU',
    cores: 2,
    kernel: 'Linux 6.0',
    node: process.version,
    compiler: 'gcc 13',
    cflags: '-O2',
    liburing: '2.5',
    git_sha: 'abcdef123456',
    io_uring: { supported: false, features: [] },
    affinity: 'cpus 0-1',
    build: 'gyp',
    load: [0.1, 0.2, 0.3],
    valgrind: null,
    ...extra,
  } as EnvFingerprint;
}

function runRecord(i: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    family: 'js',
    variant: 'atomics-ring',
    workload: 'throughput',
    params: { producers: 1, consumers: 1, scenario: 'ring' },
    metric: 'items_per_s',
    unit: 'items/s',
    higherIsBetter: true,
    median: 1000 + i,
    ci95: [990 + i, 1010 + i],
    samples: [990 + i, 1000 + i, 1010 + i],
    env: fakeEnv(),
    source: 'bench',
    gitSha: 'abcdef123456',
    ...over,
  };
}

async function expectCode(fn: () => unknown, code: string): Promise<PerflabError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PerflabError);
    expect((err as PerflabError).code).toBe(code);
    return err as PerflabError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('store: schema, settings, migrations', () => {
  it('creates the folder and the schema; WAL, synchronous=NORMAL, foreign keys, busy timeout', () => {
    const path = tmpStore();
    const s = track(openStore(path));
    expect(s.path).toBe(resolve(path));
    expect(existsSync(path)).toBe(true);
    expect(s.settings()).toEqual({ journalMode: 'wal', synchronous: 'normal', foreignKeys: true, busyTimeoutMs: 5000, schemaVersion: SCHEMA_VERSION });
    expect(SCHEMA_VERSION).toBe(2);
    s.close();
    const db = openDatabase(path, { readonly: true });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(['attempts', 'batches', 'builds', 'checks', 'comparisons', 'experiments', 'proposer_calls', 'runs', 'variants']);
    const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((r) => r.name);
    expect(indexes).toEqual(expect.arrayContaining(['variants_family_name', 'runs_family_variant', 'runs_variant_hash', 'checks_variant', 'builds_variant', 'comparisons_family']));
    expect(userVersion(db)).toBe(2);
    db.close();
  });

  it('a version 1 store (issue 3) is migrated to version 2 with its data kept', () => {
    const path = tmpStore();
    mkdirSync(dirname(path), { recursive: true });
    const db1 = openDatabase(path);
    migrate(db1, MIGRATIONS.slice(0, 1));
    db1.prepare("INSERT INTO variants (hash, name, family, origin, source, knobs, status, created_at) VALUES ('00112233aabbccdd', 'old', 'spsc', 'file', 'x', '{}', 'candidate', 'then')").run();
    expect(userVersion(db1)).toBe(1);
    db1.close();
    const s = track(openStore(path));
    expect(s.schemaVersion).toBe(2);
    expect(s.variantByHash('00112233aabbccdd')?.name).toBe('old');
  });

  it('reopening keeps the data and the version, and registers nothing twice', () => {
    const path = tmpStore();
    const s = track(openStore(path));
    const n = s.listVariants().length;
    const id = s.recordRun(runRecord(1));
    s.close();
    const again = track(openStore(path));
    expect(again.settings().schemaVersion).toBe(2);
    expect(again.listVariants().length).toBe(n);
    expect(again.runs().map((r) => r.id)).toEqual([id]);
  });

  it('migrations are ordered and idempotent; a newer store is refused with a clear error', async () => {
    const path = tmpStore();
    track(openStore(path)).close();
    const db = openDatabase(path);
    expect(migrate(db)).toEqual([]); // already at the latest
    const v3 = [...MIGRATIONS, { version: 3, description: 'test', up: 'CREATE TABLE extra (x INTEGER) STRICT;' }];
    expect(migrate(db, v3)).toEqual([3]);
    expect(migrate(db, v3)).toEqual([]);
    expect(userVersion(db)).toBe(3);
    expect(() => migrate(db, [{ version: 2, description: 'gap', up: '' }])).toThrow(/numbered 1, 2, 3/);
    db.close();
    const err = await expectCode(() => openStore(path), 'ERR_PERFLAB_STORE');
    expect(err.message).toMatch(/schema version 3, newer than this perflab knows \(2\)/);
    expect(err.exitCode).toBe(3);
  });

  it('a file that is not a database is refused with ERR_PERFLAB_STORE', async () => {
    const path = tmpStore();
    track(openStore(path)).close();
    rmSync(path);
    writeFileSync(path, 'not a database, just text '.repeat(200));
    const err = await expectCode(() => openStore(path), 'ERR_PERFLAB_STORE');
    expect(err.message).toContain(path);
  });

  it('path: argument, else PERFLAB_STORE, else ./.perflab/perflab.db', async () => {
    const saved = process.env.PERFLAB_STORE;
    try {
      process.env.PERFLAB_STORE = '/tmp/x/env.db';
      expect(storePath('/tmp/y/arg.db')).toBe('/tmp/y/arg.db');
      expect(storePath()).toBe('/tmp/x/env.db');
      delete process.env.PERFLAB_STORE;
      expect(storePath()).toBe(resolve('.perflab', 'perflab.db'));
    } finally {
      if (saved === undefined) delete process.env.PERFLAB_STORE;
      else process.env.PERFLAB_STORE = saved;
    }
    // The default, for real, in a fresh working directory (a child: the test's cwd is the repository).
    expect(existsSync(distStore), 'dist/ is stale or missing: run node node_modules/typescript/bin/tsc -p tsconfig.json').toBe(true);
    const cwd = mkdtempSync(join(tmpdir(), 'perflab-cwd-'));
    dirs.push(cwd);
    const env = { ...process.env };
    delete env.PERFLAB_STORE;
    const code = `const m = await import(${JSON.stringify(pathToFileURL(distStore).href)}); const s = m.openStore(); process.stdout.write(s.path); s.close();`;
    const r = await run(process.execPath, ['--input-type=module', '-e', code], { cwd, env });
    expect(r.stdout).toBe(join(cwd, '.perflab', 'perflab.db'));
    expect(existsSync(join(cwd, '.perflab', 'perflab.db'))).toBe(true);
  });

  it('a closed store says so; Symbol.dispose closes it', async () => {
    const s = openStore(tmpStore());
    s[Symbol.dispose]();
    expect(s.isOpen).toBe(false);
    await expectCode(() => s.listVariants(), 'ERR_PERFLAB_DISPOSED');
    s.close(); // idempotent
  });
});

describe('store: variants', () => {
  it('registers the built-ins with the hash of their source file', () => {
    const s = track(openStore(tmpStore()));
    const spsc = s.listVariants('spsc');
    expect(spsc.map((v) => v.name)).toEqual(['naive', 'padded', 'cached-index', 'bulk']);
    for (const v of spsc) {
      const file = builtinVariantSource('spsc', v.name)!;
      expect(v.hash).toBe(contentHash(readFileSync(file)));
      expect(v.hash).toMatch(/^[0-9a-f]{16}$/);
      expect(v).toMatchObject({ family: 'spsc', origin: 'builtin', parent: null, status: 'active', source: readFileSync(file, 'utf8') });
    }
    expect(s.listVariants('mpmc').map((v) => v.name)).toEqual(expect.arrayContaining(['mutex', 'vyukov']));
    expect(s.listVariants().length).toBe(spsc.length + s.listVariants('mpmc').length);
  });

  it('upsert, find by name or hash prefix, lineage, status', async () => {
    const s = track(openStore(tmpStore()));
    const naive = s.findVariant('naive', 'spsc')!;
    const src = '/* tuned */\nint x;\n';
    const v = s.upsertVariant({ name: 'naive-t1', family: 'spsc', origin: 'tuner', source: src, parent: naive.hash, knobs: { PAD: '64' } });
    expect(v).toMatchObject({ name: 'naive-t1', origin: 'tuner', parent: naive.hash, status: 'candidate', knobs: { PAD: '64' } });
    expect(v.hash).not.toBe(contentHash(src)); // knobs are part of the identity
    const plain = s.upsertVariant({ name: 'plain', family: 'spsc', origin: 'anthropic', source: src });
    expect(plain.hash).toBe(contentHash(src));
    // Same content again: the stored row is kept.
    expect(s.upsertVariant({ name: 'other-name', family: 'spsc', origin: 'replay', source: src }).name).toBe('plain');
    expect(s.findVariant('naive-t1', 'spsc')!.hash).toBe(v.hash);
    expect(s.findVariant(v.hash.slice(0, 6), 'spsc')!.name).toBe('naive-t1');
    expect(s.findVariant(v.hash.slice(0, 6).toUpperCase(), 'spsc')!.name).toBe('naive-t1');
    expect(s.findVariant(v.hash, 'mpmc')).toBeUndefined();
    expect(s.findVariant('nope', 'spsc')).toBeUndefined();
    s.setVariantStatus(v.hash, 'promoted');
    expect(s.findVariant('naive-t1', 'spsc')!.status).toBe('promoted');
    expect(() => s.setVariantStatus('0000000000000000', 'failed')).toThrow(UsageError);
    expect(() => s.upsertVariant({ name: 'x', family: 'spsc', origin: 'martian' as 'file', source: 'x' })).toThrow(UsageError);
  });

  it('an ambiguous hash prefix is a usage error', () => {
    const s = track(openStore(tmpStore()));
    const seen = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const src = `/* ${i} */`;
      const p = contentHash(src).slice(0, 4);
      const before = seen.get(p);
      if (before) pair = [before, src];
      else seen.set(p, src);
    }
    s.upsertVariant({ name: 'a', family: 'mpmc', origin: 'file', source: pair[0] });
    s.upsertVariant({ name: 'b', family: 'mpmc', origin: 'file', source: pair[1] });
    expect(() => s.findVariant(contentHash(pair![0]).slice(0, 4), 'mpmc')).toThrow(/matches 2 mpmc variants.*give more digits/);
    expect(s.findVariant(contentHash(pair[1]).slice(0, 12), 'mpmc')!.name).toBe('b');
  });

  it('a built-in whose source changed keeps its old row as superseded; its name finds the current one', () => {
    const path = tmpStore();
    track(openStore(path)).close();
    const db = openDatabase(path);
    db.prepare("INSERT INTO variants (hash, name, family, origin, source, knobs, status, created_at) VALUES ('00000000deadbeef', 'naive', 'spsc', 'builtin', 'old', '{}', 'active', '2020-01-01T00:00:00.000Z')").run();
    db.close();
    const s = track(openStore(path));
    const rows = s.listVariants('spsc').filter((v) => v.name === 'naive');
    expect(rows.map((v) => [v.hash === '00000000deadbeef', v.status])).toEqual(
      expect.arrayContaining([
        [true, 'superseded'],
        [false, 'active'],
      ]),
    );
    expect(s.findVariant('naive', 'spsc')!.hash).toBe(contentHash(readFileSync(builtinVariantSource('spsc', 'naive')!)));
    expect(s.findVariant('00000000deadbeef', 'spsc')!.status).toBe('superseded');
  });
});

describe('store: records', () => {
  it('builds, checks, runs and comparisons round-trip', async () => {
    const s = track(openStore(tmpStore()));
    const a = s.findVariant('naive', 'spsc')!;
    const b = s.findVariant('cached-index', 'spsc')!;
    const build = { variantHash: b.hash, buildHash: 'b1b1b1b1b1b1b1b1', sanitizer: 'none' as const, compiler: 'gcc 13', flags: ['-O2', '-fPIC'], ok: true, output: '' };
    const id = s.recordBuild(build);
    expect(s.recordBuild(build)).toBe(id); // a cached build is not duplicated
    const failed = s.recordBuild({ ...build, buildHash: null, ok: false, output: 'error: x' });
    expect(s.builds(b.hash)).toEqual([
      expect.objectContaining({ id, ...build }),
      expect.objectContaining({ id: failed, ok: false, buildHash: null, output: 'error: x' }),
    ]);

    s.recordCheck({ variantHash: b.hash, buildHash: 'b1b1b1b1b1b1b1b1', stage: 'conformance', verdict: 'pass', reason: 'ok', log: 'all good', seed: 12345, flags: ['suspicious'], durationMs: 1234.5 });
    expect(s.checks(b.hash)).toEqual([
      expect.objectContaining({ variantHash: b.hash, stage: 'conformance', verdict: 'pass', reason: 'ok', log: 'all good', seed: 12345, flags: ['suspicious'], durationMs: 1234.5 }),
    ]);
    expect(s.checks(b.hash)[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const ids = s.recordRuns([runRecord(1), runRecord(2, { family: 'spsc', variant: 'naive', variantHash: a.hash, rusage: [{ user_s: 1 }], vsBaseline: { ratio: 1 } })]);
    expect(ids.length).toBe(2);
    const spscRuns = s.runs({ family: 'spsc' });
    expect(spscRuns).toEqual([
      expect.objectContaining({ variantHash: a.hash, variant: 'naive', median: 1002, ci95: [992, 1012], samples: [992, 1002, 1012], rusage: [{ user_s: 1 }], vsBaseline: { ratio: 1 }, higherIsBetter: true, batchId: null }),
    ]);
    expect(spscRuns[0]!.env).toMatchObject({ cpu_model: 'Test CPU', git_sha: 'abcdef123456' });
    expect(s.runs({ variantHash: a.hash }).length).toBe(1);
    expect(s.runs({ family: 'js', metric: 'items_per_s' })[0]).toMatchObject({ variantHash: null, params: { producers: 1, consumers: 1, scenario: 'ring' } });

    const cmp = {
      family: 'spsc',
      aName: 'naive',
      aHash: a.hash,
      bName: 'cached-index',
      bHash: b.hash,
      workload: 'throughput',
      metric: 'items_per_s',
      ratio: 2.5,
      ci95: [2.4, 2.6] as [number, number],
      pValue: 0.001,
      noiseFloor: [0.98, 1.02] as [number, number],
      verdict: 'faster' as const,
      flags: [],
      runs: [
        { arm: 'a', order: 0, value: 1 },
        { arm: 'b', order: 1, value: 2.5 },
        { arm: 'a2', order: 2, value: 1.01 },
      ],
      env: fakeEnv(),
      gitSha: 'abcdef123456',
    };
    s.recordComparison(cmp);
    expect(s.comparisons({ family: 'spsc' })).toEqual([expect.objectContaining({ ...cmp, env: expect.objectContaining({ cpu_model: 'Test CPU' }) })]);
    expect(s.comparisons({ family: 'mpmc' })).toEqual([]);
  });

  it('a record that breaks a constraint is refused whole (ERR_PERFLAB_STORE), and nothing of it is kept', async () => {
    const s = track(openStore(tmpStore()));
    await expectCode(() => s.recordCheck({ variantHash: 'ffffffffffffffff', stage: 'compile', verdict: 'fail', reason: 'x', log: '' }), 'ERR_PERFLAB_STORE');
    await expectCode(() => s.recordRuns([runRecord(1), runRecord(2, { variantHash: 'ffffffffffffffff' })]), 'ERR_PERFLAB_STORE');
    expect(s.runs()).toEqual([]);
  });

  it('recordBench stores a batch and one run per result with variant hashes', () => {
    const s = track(openStore(tmpStore()));
    const file = s.upsertVariant({ name: 'mine.c', family: 'spsc', origin: 'file', source: '/* mine */' });
    const row = (variant: string, family = 'spsc') => ({
      family,
      variant,
      workload: 'throughput',
      params: { producers: 1, consumers: 1, capacity: 1024, batch: 1 },
      metric: 'items_per_s',
      unit: 'items/s',
      higher_is_better: true,
      median: 5e7,
      ci95: [4.9e7, 5.1e7] as [number, number],
      samples: [4.9e7, 5e7, 5.1e7],
      vs_baseline: { variant: 'naive', ratio: 1.5, ci95: [1.4, 1.6] as [number, number], method: 'paired-rounds' as const },
      rusage: [{ user_s: 0.3, sys_s: 0.01, voluntary_ctx: 2, involuntary_ctx: 1 }],
      affinity: 'cpus 0,1',
      flags: ['wide-spread'],
    });
    const doc: BenchDocument = {
      schema_version: 1,
      env: fakeEnv(),
      results: [row('naive'), row('mine.c'), row('postMessage', 'js')],
      skipped: [{ family: 'spsc', variant: 'naive', workload: 'op_cost', reason: 'no valgrind' }],
      failures: [{ family: 'spsc', variant: 'broken.c', workload: '*', reason: 'conformance: lost items' }],
      timing: { started: '2025-01-01T00:00:00.000Z', seconds: 42, samples_per_cell: 3, sample_ms: 120, js_sample_ms: 400, quick: true },
    };
    const { batchId, runs } = s.recordBench(doc, { spsc: { 'mine.c': file.hash } });
    expect(runs).toBe(3);
    const stored = s.runs({ batchId });
    expect(stored.map((r) => [r.family, r.variant, r.variantHash])).toEqual([
      ['spsc', 'naive', contentHash(readFileSync(builtinVariantSource('spsc', 'naive')!))],
      ['spsc', 'mine.c', file.hash],
      ['js', 'postMessage', null],
    ]);
    expect(stored[0]).toMatchObject({ source: 'bench', gitSha: 'abcdef123456', median: 5e7, samples: [4.9e7, 5e7, 5.1e7], flags: ['wide-spread', 'affinity:cpus 0,1'], vsBaseline: { ratio: 1.5 } });
    const batch = s.batch(batchId)!;
    expect(batch).toMatchObject({ source: 'bench', startedAt: '2025-01-01T00:00:00.000Z', seconds: 42, gitSha: 'abcdef123456' });
    expect(batch.meta).toEqual({ timing: doc.timing, skipped: doc.skipped, failures: doc.failures });
  });
});

describe('store: crash safety', () => {
  it('a process killed with SIGKILL right after recording loses nothing it recorded', async () => {
    expect(existsSync(distStore), 'dist/ is stale or missing: run node node_modules/typescript/bin/tsc -p tsconfig.json').toBe(true);
    const path = tmpStore();
    track(openStore(path)).close();
    const script = join(mkdtempSync(join(tmpdir(), 'perflab-child-')), 'child.mjs');
    dirs.push(join(script, '..'));
    writeFileSync(
      script,
      `const { openStore } = await import(${JSON.stringify(pathToFileURL(distStore).href)});
const store = openStore(process.argv[2]);
const naive = store.findVariant('naive', 'spsc');
store.recordCheck({ variantHash: naive.hash, stage: 'conformance', verdict: 'pass', reason: 'child', log: '', seed: 7 });
process.stdout.write('recorded\\n');
const run = (i) => ({ family: 'js', variant: 'child', workload: 'throughput', params: { i }, metric: 'items_per_s', unit: 'items/s',
  higherIsBetter: true, median: i, ci95: [i, i], samples: [i, i, i], env: { i }, source: 'bench' });
for (let i = 1; ; i++) {
  store.recordRuns([run(i), run(i), run(i)]);   // one transaction of three rows
  process.stdout.write('recorded ' + i + '\\n');
  if (i % 50 === 0) await new Promise((r) => setImmediate(r));
}
`,
    );
    const child = spawn(process.execPath, [script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let last = 0;
    await new Promise<void>((done, fail) => {
      child.on('error', fail);
      child.on('exit', (code) => fail(new Error(`child exited early with ${code}: ${out.slice(-500)}`)));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /recorded (\d+)\n(?![\s\S]*recorded \d+\n)/.exec(out);
        if (m) last = Number(m[1]);
        if (last >= 200 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL');
          child.removeAllListeners('exit');
          child.on('exit', (_c, sig) => (sig === 'SIGKILL' ? done() : fail(new Error(`child ended by ${sig}`))));
        }
      });
    });
    expect(out.startsWith('recorded\n')).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(true); // the child never checkpointed or closed

    const s = track(openStore(path));
    const naive = s.findVariant('naive', 'spsc')!;
    expect(s.checks(naive.hash)).toEqual([expect.objectContaining({ reason: 'child', seed: 7 })]);
    const runs = s.runs({ variant: 'child' });
    expect(runs.length % 3).toBe(0); // whole transactions only
    expect(runs.length / 3).toBeGreaterThanOrEqual(last); // everything it said it recorded
    s.close();
    const db = openDatabase(path, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });
});

describe('store: never an API key', () => {
  it('refuses a record holding an Anthropic key, names the field, never echoes the key, keeps nothing', async () => {
    const path = tmpStore();
    const s = track(openStore(path));
    const key = canaryKey();
    const naive = s.findVariant('naive', 'spsc')!;
    const err = await expectCode(() => s.recordCheck({ variantHash: naive.hash, stage: 'sanitize', verdict: 'fail', reason: 'x', log: `request failed with x-api-key: ${key}` }), 'ERR_PERFLAB_STORE');
    expect(err.message).toMatch(/field "log" contains what looks like an API key/);
    expect(err.message).not.toContain(key);
    expect(err.message).not.toContain(key.slice(14));
    expect(s.checks(naive.hash)).toEqual([]);

    await expectCode(() => s.upsertVariant({ name: 'leak', family: 'spsc', origin: 'anthropic', source: `// ${key}\n` }), 'ERR_PERFLAB_STORE');
    expect(s.findVariant('leak', 'spsc')).toBeUndefined();
    // In a batch of runs: one bad row and none is written.
    await expectCode(() => s.recordRuns([runRecord(1), runRecord(2, { flags: [key] })]), 'ERR_PERFLAB_STORE');
    expect(s.runs()).toEqual([]);
    await expectCode(() => s.recordComparison({ family: 'spsc', aName: key, bName: 'b', workload: 'w', metric: 'm', ratio: 1, ci95: [1, 1], verdict: 'same', runs: [] }), 'ERR_PERFLAB_STORE');
  });

  it('redacts secret-named keys in JSON (env-like names and credential fields), keeps the rest', () => {
    const s = track(openStore(tmpStore()));
    const key = canaryKey();
    s.recordRun(
      runRecord(1, {
        env: fakeEnv({ ANTHROPIC_API_KEY: key, extra: { OPENAI_API_KEY: key, GITHUB_TOKEN: key, AWS_SECRET_ACCESS_KEY: key, api_key: key, apiKey: key, input_tokens: 12, keys: 3 } }),
      }),
    );
    const env = s.runs()[0]!.env as Record<string, unknown>;
    expect(env.ANTHROPIC_API_KEY).toBe(REDACTED);
    expect(env.extra).toEqual({ OPENAI_API_KEY: REDACTED, GITHUB_TOKEN: REDACTED, AWS_SECRET_ACCESS_KEY: REDACTED, api_key: REDACTED, apiKey: REDACTED, input_tokens: 12, keys: 3 });
    expect(env.cpu_model).toBe('Test CPU');
  });

  it("refuses the value of this process's secret-named environment variables, whatever its shape", async () => {
    const s = track(openStore(tmpStore()));
    const token = randomBytes(24).toString('hex');
    process.env.PERFLAB_TEST_SERVICE_TOKEN = token;
    try {
      await expectCode(() => s.recordRun(runRecord(1, { variant: `x${token}y` })), 'ERR_PERFLAB_STORE');
    } finally {
      delete process.env.PERFLAB_TEST_SERVICE_TOKEN;
    }
    s.recordRun(runRecord(1, { variant: `x${token}y` })); // no longer a secret of this process
  });

  it('after all that, the key is nowhere in the database files', () => {
    const path = tmpStore();
    const s = track(openStore(path));
    const key = canaryKey();
    s.recordRun(runRecord(1, { env: fakeEnv({ ANTHROPIC_API_KEY: key }) }));
    expect(() => s.recordRun(runRecord(2, { variant: key }))).toThrow(PerflabError);
    const files = [path, `${path}-wal`].filter(existsSync);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(f).includes(Buffer.from(key))).toBe(false);
    s.close();
    expect(readFileSync(path).includes(Buffer.from(key))).toBe(false);
  });
});

describe('perflab variants', () => {
  const viaCommander = (args: string[]) => runCommand((registerVariants), args);

  it('--json prints the INTERFACES.md document', async () => {
    const path = tmpStore();
    const s = track(openStore(path));
    const parent = s.findVariant('naive', 'spsc')!;
    const t = s.upsertVariant({ name: 'naive-t1', family: 'spsc', origin: 'tuner', source: 'int y;', parent: parent.hash });
    s.close();
    const { stdout, code } = await viaCommander(['variants', '--json', '--family', 'spsc', '--store', path]);
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { schema_version: number; variants: Record<string, unknown>[] };
    expect(doc.schema_version).toBe(1);
    expect(doc.variants.map((v) => v.name)).toEqual(['naive', 'padded', 'cached-index', 'bulk', 'naive-t1']);
    for (const v of doc.variants) expect(Object.keys(v).sort()).toEqual(['family', 'hash', 'name', 'origin', 'parent', 'status']);
    expect(doc.variants[0]).toEqual({ name: 'naive', family: 'spsc', origin: 'builtin', hash: parent.hash, parent: null, status: 'active' });
    expect(doc.variants[4]).toEqual({ name: 'naive-t1', family: 'spsc', origin: 'tuner', hash: t.hash, parent: parent.hash, status: 'candidate' });
  });

  it('prints a table without --json; a bad --family is a usage error', async () => {
    const path = tmpStore();
    const { stdout } = await viaCommander(['variants', '--store', path]);
    expect(stdout).toMatch(/family\s+name\s+origin\s+hash\s+parent\s+status/);
    expect(stdout).toMatch(/mpmc\s+mutex\s+builtin\s+[0-9a-f]{16}\s+active/);
    expect(stdout).toMatch(/spsc\s+naive\s+builtin/);
    const err = await viaCommander(['variants', '--family', 'nope', '--store', path]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/--family must be one of spsc, mpmc, not "nope"/);
  });

  const wired = existsSync(join(packageRoot(), 'dist', 'cli', 'index.js')) && readFileSync(join(packageRoot(), 'dist', 'cli', 'index.js'), 'utf8').includes('registerVariants');
  it.skipIf(!wired)('the compiled bin: variants --json --store, and exit 2 on a bad family', async () => {
    const path = tmpStore();
    const r = await run(process.execPath, [bin, 'variants', '--json', '--store', path], { env: { ...process.env, NO_COLOR: '1' } });
    const doc = JSON.parse(r.stdout) as { schema_version: number; variants: { origin: string }[] };
    expect(doc.schema_version).toBe(1);
    expect(doc.variants.length).toBeGreaterThanOrEqual(6);
    expect(doc.variants.every((v) => v.origin === 'builtin')).toBe(true);
    const bad = await run(process.execPath, [bin, 'variants', '--family', 'nope', '--store', path]).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/--family must be one of/);
  });
});
