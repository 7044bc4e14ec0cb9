/**
 * `perflab agent profile` and `perflab agent lock-free` as a user runs them:
 * the profile alone without a model, the persona's analysis through the real
 * SDK against a local Messages API, and a from-scratch mpmc variant checked
 * and measured at the thread counts asked for. `prompts show` prints the
 * system prefix the model was sent.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinVariantSource } from '../../src/native/sources.js';
import { packageRoot } from '../../src/paths.js';
import { canaryKey, startMessagesServer } from '../helpers/messages-server.js';

const bin = join(packageRoot(), 'bin', 'perflab.js');

function perflab(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, maxBuffer: 64 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

function freshEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const state = mkdtempSync(join(tmpdir(), 'perflab-agent-'));
  const env: NodeJS.ProcessEnv = { ...process.env, PERFLAB_STORE: join(state, 'perflab.db'), PERFLAB_LOCK: join(state, 'measure.lock'), NO_COLOR: '1', ...extra };
  if (!extra.ANTHROPIC_API_KEY) delete env.ANTHROPIC_API_KEY;
  return env;
}

describe('perflab agent profile', () => {
  it('without a model: the profile alone, and says why there is no analysis', async () => {
    const r = await perflab(['agent', 'profile', '--family', 'spsc', '--variant', 'naive', '--json'], freshEnv());
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema_version).toBe(1);
    expect(doc.variant).toBe('naive');
    expect(doc.answer).toBeNull();
    expect(doc.note).toMatch(/no analysis/);
    if (doc.profile.unavailable === null) {
      expect(doc.profile.instructions_per_op).toBeGreaterThan(10);
      expect(doc.profile.hot.map((h: any) => h.fn)).toEqual(expect.arrayContaining(['perflab_queue_try_push', 'perflab_queue_try_pop']));
    } else {
      expect(doc.profile.unavailable).toMatch(/valgrind/);
    }
  }, 120_000);

  it("with a model: the persona's analysis in the seeds' schema, the call recorded", async () => {
    const server = await startMessagesServer();
    try {
      const key = canaryKey();
      server.enqueue({
        answer: {
          analysis: { summary: 'head and tail share one line; every store is an xchg', bottlenecks: ['seq_cst stores', 'false sharing of head and tail'] },
          optimizations: [{ title: 'acquire/release', rationale: 'plain moves on x86', expected_gain: '3x', risk: 'ordering bugs if done wrong' }],
          implementation: { files: [], edits: [], knobs: [] },
        },
      });
      const r = await perflab(['agent', 'profile', '--family', 'spsc', '--variant', 'naive', '--json'], freshEnv({ ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: server.url }));
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.answer.analysis.bottlenecks).toContain('seq_cst stores');
      expect(doc.call.outcome).toBe('ok');
      expect(doc.call.input_tokens).toBeGreaterThan(0);
      expect(doc.experiment_id).toMatch(/^exp-/);
      const sent = server.requests.find((q) => q.path === '/v1/messages')!.body;
      const user = JSON.stringify(sent.messages);
      expect(user).toContain('perflab_queue_try_push'); // the profile went into the prompt
      expect(r.stdout + r.stderr).not.toContain(key);
    } finally {
      await server.close();
    }
  }, 120_000);
});

describe('perflab agent lock-free', () => {
  it('a from-scratch mpmc variant is checked and measured at the thread counts asked for', async () => {
    const server = await startMessagesServer();
    try {
      server.enqueue({
        answer: {
          analysis: { summary: 'a bounded Vyukov queue', bottlenecks: [] },
          optimizations: [{ title: 'per-cell sequence numbers', rationale: 'one CAS per operation', expected_gain: '5x over a mutex', risk: 'ABA handled by the sequence' }],
          implementation: { files: [{ path: 'mpmc_queue.c', content: readFileSync(builtinVariantSource('mpmc', 'vyukov')!, 'utf8') }], edits: [], knobs: [] },
        },
      });
      const env = freshEnv({ ANTHROPIC_API_KEY: canaryKey(), ANTHROPIC_BASE_URL: server.url });
      const r = await perflab(['agent', 'lock-free', '--structure', 'mpmc', '--producers', '2', '--consumers', '2', '--iterations', '1', '--rounds', '3', '--sample-ms', '100', '--json'], env);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.task).toBe('lock-free');
      expect(doc.from).toBe('mutex');
      expect(doc.persona).toBe('hpc-network-expert');
      expect(doc.attempts).toHaveLength(1);
      expect(doc.attempts[0]).toMatchObject({ stage: 'compare', verdict: 'pass' });
      const user = JSON.stringify(server.requests.find((q) => q.path === '/v1/messages')!.body.messages);
      expect(user).toMatch(/from scratch/i);
      expect(user).toMatch(/2 producers?.{0,40}2 consumers?|producers\W+2\W+consumers\W+2/i);

      const shown = await perflab(['prompts', 'show', '--persona', 'hpc-network-expert', '--family', 'mpmc', '--json'], env);
      expect(shown.code).toBe(0);
      expect(JSON.parse(shown.stdout).system).toContain('perflab_queue_try_push');
    } finally {
      await server.close();
    }
  }, 600_000);
});
