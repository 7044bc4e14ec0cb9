/** Personas, the performance reference rendered from the store, the prompt builder and `perflab prompts`. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPersona, loadPersona, PERSONAS, REFERENCE_PLACEHOLDER } from '../../src/agent/personas.js';
import { ATTEMPT_LOG_CHARS, buildPrompt, renderPersona, systemPrefix, trimAttemptLog } from '../../src/agent/prompt.js';
import { NOT_MEASURED_YET, QUEUE_NOT_MEASURED, renderPerformanceReference } from '../../src/agent/reference.js';
import type { AttemptSummary, PromptContext } from '../../src/agent/types.js';
import { registerPrompts } from '../../src/cli/prompts.js';
import { UsageError } from '../../src/errors.js';
import type { BenchDocument, BenchResult } from '../../src/pipeline/bench-types.js';
import { envFingerprint, type EnvFingerprint } from '../../src/pipeline/env.js';
import { packageRoot } from '../../src/paths.js';
import { openStore } from '../../src/store/index.js';
import { viaCommander as runCommand } from '../helpers/commander.js';
import { tmpStores } from '../helpers/tmp-store.js';

const { tmpStore, track } = tmpStores('perflab-prompt-');

const DATE = new Date('2026-03-04T10:00:00Z');

function fakeEnv(): EnvFingerprint {
  return {
    cpu_model: 'Test CPU 9000',
    cores: 2,
    kernel: 'Linux 6.1.0-test',
    node: process.version,
    compiler: 'gcc (Test) 12.2.0',
    cflags: '-O2',
    liburing: '2.3',
    git_sha: 'abcdef123456',
    io_uring: { supported: true, features: ['single_mmap', 'fast_poll'], single_issuer: true, defer_taskrun: true },
    affinity: 'cpus 0-1',
    build: 'gyp',
    load: [0.5, 0.5, 0.5],
    valgrind: 'valgrind-3.19.0',
  };
}

function result(variant: string, workload: string, metric: string, median: number, params: Record<string, number>, over: Partial<BenchResult> = {}): BenchResult {
  const unit = metric === 'items_per_s' ? 'items/s' : metric === 'instructions_per_op' ? 'instructions' : 'ns';
  return {
    family: 'spsc', variant, workload, params, metric, unit, higher_is_better: metric === 'items_per_s',
    median, ci95: [median * 0.9, median * 1.1], samples: [median * 0.9, median, median * 1.1], ...over,
  };
}

function benchDoc(results: BenchResult[]): BenchDocument {
  return {
    schema_version: 1, env: fakeEnv(), results, skipped: [], failures: [],
    timing: { started: '2026-03-01T00:00:00.000Z', seconds: 10, samples_per_cell: 3, sample_ms: 100, js_sample_ms: 400, quick: true },
  };
}

const TP1 = { producers: 1, consumers: 1, capacity: 1024, batch: 1 };
const TP64 = { producers: 1, consumers: 1, capacity: 1024, batch: 64 };

const PARENT_SOURCE = `/* parent design block */
#include <stdatomic.h>
/* perflab:knob PAD=128|64 */
#ifndef PAD
#define PAD 128
#endif
struct perflab_queue { _Atomic size_t head; };
/* unique-marker-parent-source */
`;

function attempt(i: number, over: Partial<AttemptSummary> = {}): AttemptSummary {
  return {
    iteration: i, hash: `${String(i).padStart(4, '0')}abcdef012345`, note: `idea number ${i}`, stage: 'compare', verdict: 'pass',
    ratio: 1 + i / 100, ci95: [1 + i / 100 - 0.01, 1 + i / 100 + 0.01], compare: 'faster', reason: `vs naive: ${1 + i / 100}x`, log: '', knobs: {}, ...over,
  };
}

function context(over: Partial<PromptContext> = {}): PromptContext {
  return {
    task: 'optimize',
    family: 'spsc',
    experimentId: 'exp-1',
    iteration: 3,
    from: { name: 'naive', hash: '1111111111111111' },
    parent: { name: 'naive-t2', hash: '2222222222222222', source: PARENT_SOURCE, language: 'c', knobs: { PAD: '64' } },
    knobSpace: [{ name: 'PAD', values: ['128', '64'] }],
    metrics: [{ metric: 'items_per_s', unit: 'items/s', from: 2e7, parent: 3e7, parentRatio: 1.5, parentCi95: [1.4, 1.6] }],
    target: { metric: 'items_per_s', ratio: 2 },
    attempts: [
      attempt(1, { note: 'pad head and tail', ratio: 1.5, ci95: [1.4, 1.6] }),
      attempt(2, { note: 'drop the modulo', stage: 'compile', verdict: 'fail', ratio: null, ci95: null, compare: null, reason: 'compile failed', log: "variant.c:12:3: error: unused variable 'x' [-Werror=unused-variable]" }),
    ],
    profile: { instructions_per_op: 47.25, hot: [{ fn: 'perflab_queue_try_push', ir: 1200, pct: 55.5 }, { fn: 'perflab_queue_try_pop', ir: 900, pct: 41.6 }], unavailable: null },
    env: { cpu_model: 'Test CPU 9000', cores: 2, kernel: 'Linux 6.1.0-test', compiler: 'gcc 12' },
    ...over,
  };
}

describe('personas', () => {
  it('load from prompts/ with the sha256 of the file bytes as hash, placeholder line included', () => {
    for (const name of PERSONAS) {
      const p = loadPersona(name);
      const bytes = readFileSync(join(packageRoot(), 'prompts', `${name}.md`));
      expect(p.name).toBe(name);
      expect(p.hash).toBe(createHash('sha256').update(bytes).digest('hex').slice(0, 16));
      expect(p.text).toBe(bytes.toString('utf8'));
      expect(p.text.split('\n').filter((l) => l.trim() === REFERENCE_PLACEHOLDER)).toHaveLength(1);
      expect(p.text).toMatch(/## Performance reference/);
      for (const rule of ['seq_cst', 'atomic_thread_fence', 'callgrind', 'vCPU', 'static']) expect(p.text).toContain(rule);
    }
    expect(loadPersona('systems-engineer').hash).not.toBe(loadPersona('hpc-network-expert').hash);
  });

  it('an unknown persona is a UsageError naming the known ones', () => {
    for (const bad of ['wizard', '../package', 'README']) {
      let err: unknown;
      try {
        loadPersona(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).message).toContain('hpc-network-expert, systems-engineer');
      expect((err as UsageError).exitCode).toBe(2);
    }
  });

  it('defaults: systems engineer for optimize/profile on queues, the networking expert for lock-free', () => {
    expect(defaultPersona('optimize', 'spsc')).toBe('systems-engineer');
    expect(defaultPersona('profile', 'mpmc')).toBe('systems-engineer');
    expect(defaultPersona('lock-free', 'mpmc')).toBe('hpc-network-expert');
  });
});

describe('performance reference', () => {
  it('without measurements every row says not measured, and the header names the machine and the date', () => {
    for (const store of [null, track(openStore(tmpStore()))]) {
      const ref = renderPerformanceReference('hpc-network-expert', store, fakeEnv(), DATE);
      expect(ref).toContain('Test CPU 9000, 2 vCPUs, Linux 6.1.0-test');
      expect(ref).toContain('Rendered 2026-03-04');
      expect(ref).not.toMatch(/\bload\b|0\.5/);
      for (const v of ['naive', 'padded', 'cached-index', 'bulk', 'mutex', 'vyukov']) expect(ref).toMatch(new RegExp(`\\| ${v} \\| all workloads \\| ${QUEUE_NOT_MEASURED.replace(/[()`]/g, '\\$&')}`));
      for (const row of ['select', 'poll', 'epoll, edge-triggered', 'io_uring SEND_ZC', 'sendfile', 'thread per connection']) {
        expect(ref).toMatch(new RegExp(`\\| ${row} \\|[^\\n]*${NOT_MEASURED_YET}`));
      }
      // No folklore numbers: the event-loop, memory and zero-copy rows carry no figures.
      const network = ref.slice(ref.indexOf('### Event loops'));
      const rows = network.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| event loop') && !l.startsWith('| model') && !l.startsWith('| path'));
      expect(rows.length).toBe(14);
      for (const r of rows) {
        expect(r).toMatch(/\| not measured on this machine yet \(family not built\) \|$/);
        expect(r).not.toMatch(/\d/);
      }
    }
  });

  it('the systems engineer gets the queue tables only', () => {
    const ref = renderPerformanceReference('systems-engineer', null, fakeEnv(), DATE);
    expect(ref).toContain('### Lock-free queues: spsc');
    expect(ref).toContain('### Lock-free queues: mpmc');
    expect(ref).not.toContain('### Event loops');
    expect(ref).toContain(NOT_MEASURED_YET);
  });

  it('shows the newest bench numbers of each built-in with CI, ratio to baseline and date', () => {
    const store = track(openStore(tmpStore()));
    store.recordBench(benchDoc([result('cached-index', 'throughput', 'items_per_s', 1e8, TP1)]));
    store.recordBench(benchDoc([
      result('naive', 'throughput', 'items_per_s', 2.2e7, TP1, { vs_baseline: { variant: 'naive', ratio: 1, ci95: [1, 1], method: 'paired-rounds' } }),
      result('cached-index', 'throughput', 'items_per_s', 1.468e8, TP1, { vs_baseline: { variant: 'naive', ratio: 6.66, ci95: [6.61, 7.07], method: 'paired-rounds' }, flags: ['wide-spread'], affinity: 'cpus 0,1' }),
      result('bulk', 'throughput', 'items_per_s', 7.65e8, TP64),
      result('cached-index', 'latency', 'rtt_ns_p50', 180, { capacity: 1024 }),
      result('cached-index', 'op_cost', 'instructions_per_op', 47.01, { capacity: 1024, ops: 20000 }),
    ]));
    const ref = renderPerformanceReference('systems-engineer', store, fakeEnv(), DATE);
    const today = new Date().toISOString().slice(0, 10);
    const row = (variant: string, workload: string) => ref.split('\n').find((l) => l.startsWith(`| ${variant} | ${workload} |`));
    expect(row('cached-index', 'throughput 1x1, batch 1')).toBe(`| cached-index | throughput 1x1, batch 1 | 146.8 M/s | [132.1 M/s, 161.5 M/s] | 6.66x naive [6.61, 7.07] | 3 | ${today} | wide-spread |`);
    expect(row('naive', 'throughput 1x1, batch 1')).toContain('| 22.0 M/s |');
    expect(row('naive', 'throughput 1x1, batch 1')).toContain('| baseline |');
    expect(row('bulk', 'throughput 1x1, batch 64')).toContain('765.0 M/s');
    expect(row('cached-index', 'latency rtt p50')).toContain('180 ns');
    expect(row('cached-index', 'op_cost instructions/op')).toContain('47.0 instr');
    // Measured variants list their unmeasured cells; batch 64 appears only where measured.
    expect(row('naive', 'latency rtt p50')).toContain(QUEUE_NOT_MEASURED);
    expect(row('naive', 'throughput 1x1, batch 64')).toBeUndefined();
    expect(row('padded', 'all workloads')).toContain(QUEUE_NOT_MEASURED);
    expect(ref).not.toContain('100.0 M/s'); // the older run of the cell is superseded
  });
});

describe('prompt builder', () => {
  const reference = renderPerformanceReference('systems-engineer', null, fakeEnv(), DATE);

  it('replaces the placeholder with the reference', () => {
    const p = loadPersona('systems-engineer');
    const text = renderPersona(p, 'REFERENCE-BODY');
    expect(text).not.toContain(REFERENCE_PLACEHOLDER);
    expect(text).toMatch(/## Performance reference\n\nREFERENCE-BODY/);
    expect(renderPersona({ text: '# x\n' }, 'R')).toBe('# x\n\n## Performance reference\n\nR');
  });

  it('the system prefix carries the contract verbatim, the flags, the rules and the answer format, and is long enough to cache', () => {
    const header = readFileSync(join(packageRoot(), 'native', 'include', 'perflab', 'queue.h'), 'utf8');
    for (const name of PERSONAS) {
      for (const family of ['spsc', 'mpmc'] as const) {
        const system = systemPrefix(loadPersona(name), renderPerformanceReference(name, null, fakeEnv(), DATE), family);
        expect(system.length).toBeGreaterThanOrEqual(18_000);
        expect(system).not.toContain(REFERENCE_PLACEHOLDER);
        expect(system).toContain(header.trimEnd());
        expect(system).toContain('-std=gnu17 -O2 -fPIC -Wall -Wextra -Werror');
        expect(system).toContain('-fsanitize=thread');
        expect(system).toContain('/* perflab:knob NAME=v1|v2|v3 */');
        expect(system).toContain('atomic_thread_fence');
        expect(system).toMatch(/5x the best built-in/);
        for (const stage of ['compile', 'static', 'sanitize', 'conformance', 'screen', 'compare', 'confirm']) expect(system).toContain(`**${stage}**`);
        for (const key of ['"analysis"', '"bottlenecks"', '"optimizations"', '"expected_gain"', '"implementation"', '"files"', '"edits"', '"knobs"']) expect(system).toContain(key);
        expect(system).toContain(`family \`${family}\``);
      }
    }
  });

  it('the system prefix is byte-identical across iterations, attempts and profiles', () => {
    const persona = loadPersona('hpc-network-expert');
    const a = buildPrompt(context(), persona, reference);
    const b = buildPrompt(context({ iteration: 9, attempts: [...context().attempts, attempt(3), attempt(4, { verdict: 'fail', stage: 'sanitize', log: 'WARNING: ThreadSanitizer: data race' })], profile: null, env: { load: [9, 9, 9] } }), persona, reference);
    expect(a.system).toBe(b.system);
    expect(a.user).not.toBe(b.user);
    expect(a.persona).toBe('hpc-network-expert');
    expect(a.personaHash).toBe(persona.hash);
    expect(buildPrompt(context(), persona, reference)).toEqual(a); // deterministic
  });

  it('the user message carries the task, the parent code, every attempt, the profile, the knobs and the target', () => {
    const { user } = buildPrompt(context(), loadPersona('systems-engineer'), reference);
    const json = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(user)![1]!) as Record<string, any>;
    expect(json.role).toBe('Systems engineer');
    expect(json.task).toContain('make naive-t2 faster on items_per_s than naive');
    expect(json.context.target).toMatchObject({ metric: 'items_per_s', ratio_over_from: 2 });
    expect(json.context.current.items_per_s).toMatchObject({ from: '20.0 M/s', parent: '30.0 M/s', parent_vs_from: '1.500x [1.400, 1.600]' });
    expect(json.context.constraints.platform).toContain('Linux 6.1.0-test');
    expect(json.outputFormat).toBe('JSON via the submit tool');
    expect(json.instructions.length).toBeGreaterThan(3);
    expect(user).toContain(PARENT_SOURCE.trimEnd());
    expect(user).toContain('Knob settings of this build: PAD=64');
    expect(user).toMatch(/\| 1 \| 0001abcd \| pad head and tail \|[^\n]*\| compare \| pass \| 1\.500x \[1\.400, 1\.600\] \| faster \|/);
    expect(user).toMatch(/\| 2 \| 0002abcd \| drop the modulo \|[^\n]*\| compile \| fail \|/);
    expect(user).toContain('Attempt 2, failed at compile');
    expect(user).toContain("error: unused variable 'x'");
    expect(user).toContain('Instructions per push+pop (op_cost: one thread, callgrind, deterministic): 47.25');
    expect(user).toContain('| perflab_queue_try_push | 1200 | 55.5 |');
    expect(user).toContain('`PAD`: 128 | 64 (this build: 64)');
    expect(user).toContain('- cpu_model: Test CPU 9000');
  });

  it('the other tasks and a missing profile say so', () => {
    const persona = loadPersona('hpc-network-expert');
    const lf = buildPrompt(context({ task: 'lock-free', structure: { kind: 'mpmc', producers: 4, consumers: 2 }, family: 'mpmc', attempts: [], profile: { instructions_per_op: null, hot: [], unavailable: 'valgrind is not installed' } }), persona, reference).user;
    expect(lf).toContain('write a new mpmc variant from scratch for 4 producers, 2 consumers');
    expect(lf).toContain('None yet: this is the first attempt');
    expect(lf).toContain('No profile: valgrind is not installed.');
    const pr = buildPrompt(context({ task: 'profile', profile: null }), persona, reference).user;
    expect(pr).toContain('analyse the profile of naive-t2 and say where the time goes; implementation may be empty');
    expect(pr).toContain('No profile was taken');
  });

  it('logs are trimmed and the attempts section stays bounded, keeping the newest and the best', () => {
    const long = `first error here\n${'x'.repeat(5000)}\nlast line here`;
    const t = trimAttemptLog(long);
    expect(t.length).toBeLessThanOrEqual(ATTEMPT_LOG_CHARS + 40);
    expect(t).toContain('first error here');
    expect(t).toContain('last line here');
    const attempts: AttemptSummary[] = [];
    for (let i = 1; i <= 400; i++) {
      attempts.push(i % 2 ? attempt(i, { ratio: 1.01, ci95: [1, 1.02], note: `idea ${i} ${'n'.repeat(100)}` }) : attempt(i, { verdict: 'fail', stage: 'sanitize', ratio: null, ci95: null, log: long, reason: `race ${i}` }));
    }
    attempts[10] = attempt(11, { ratio: 3.25, ci95: [3.1, 3.4], note: 'the best idea' });
    const { user } = buildPrompt(context({ attempts }), loadPersona('systems-engineer'), reference);
    expect(user.length).toBeLessThan(40_000);
    expect(user).toContain('the best idea');
    expect(user).toMatch(/\| 400 \|[^\n]*\| sanitize \| fail \|/);
    expect(user).toContain('Attempt 400, failed at sanitize');
    expect(user).toMatch(/older attempts not shown, to keep this prompt bounded: \d+ passed \(compare\), \d+ failed at sanitize/);
  });
});

describe('perflab prompts', () => {
  const viaCommander = (args: string[]) => runCommand((registerPrompts), args);

  it('show prints the system prefix exactly as built, rendered from the given store', async () => {
    const path = tmpStore();
    const s = openStore(path);
    s.recordBench(benchDoc([result('cached-index', 'throughput', 'items_per_s', 1.234e8, TP1)]));
    s.close();
    const { stdout, code } = await viaCommander(['prompts', 'show', '--persona', 'hpc-network-expert', '--family', 'mpmc', '--store', path, '--date', '2026-03-04']);
    expect(code).toBe(0);
    const store = track(openStore(path));
    const expected = systemPrefix(loadPersona('hpc-network-expert'), renderPerformanceReference('hpc-network-expert', store, envFingerprint(), DATE), 'mpmc');
    expect(stdout).toBe(expected);
    expect(stdout).toContain('123.4 M/s');
    expect(stdout).toContain('Rendered 2026-03-04');
  });

  it('show --json prints one document; the default persona follows the family', async () => {
    const path = tmpStore();
    const { stdout } = await viaCommander(['prompts', 'show', '--json', '--store', path, '--date', '2026-03-04']);
    const doc = JSON.parse(stdout) as { schema_version: number; persona: string; persona_hash: string; family: string; system: string };
    expect(doc).toMatchObject({ schema_version: 1, persona: 'systems-engineer', persona_hash: loadPersona('systems-engineer').hash, family: 'spsc' });
    expect(doc.system.length).toBeGreaterThanOrEqual(18_000);
    expect(doc.system).toContain(QUEUE_NOT_MEASURED);
  });

  it('list names every persona; bad input is a UsageError', async () => {
    const { stdout } = await viaCommander(['prompts', 'list', '--json']);
    const doc = JSON.parse(stdout) as { schema_version: number; personas: { name: string; hash: string; default_for: string[] }[] };
    expect(doc.schema_version).toBe(1);
    expect(doc.personas.map((p) => p.name)).toEqual([...PERSONAS]);
    expect(doc.personas.find((p) => p.name === 'systems-engineer')!.default_for).toContain('optimize spsc');
    const human = await viaCommander(['prompts', 'list']);
    expect(human.stdout).toMatch(/systems-engineer\s+[0-9a-f]{16}/);
    await expect(viaCommander(['prompts', 'show', '--persona', 'wizard', '--store', tmpStore()])).rejects.toBeInstanceOf(UsageError);
    await expect(viaCommander(['prompts', 'show', '--family', 'server', '--store', tmpStore()])).rejects.toBeInstanceOf(UsageError);
    await expect(viaCommander(['prompts', 'show', '--date', 'yesterday', '--store', tmpStore()])).rejects.toBeInstanceOf(UsageError);
  });
});
