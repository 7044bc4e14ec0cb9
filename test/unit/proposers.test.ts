/**
 * The model-backed proposers against a local fake of the model APIs
 * (test/helpers/messages-server.ts), driven through the real @anthropic-ai/sdk:
 * answers, schema violations, refusals, prose, retries, timeouts, truncation,
 * aborts, and the call record (usage, cache tokens, cost, no key anywhere).
 * Also the answer schema and the price table they rely on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { costUsd, DEFAULT_MODEL, PRICE_TABLE_DATE, PRICES, priceFor } from '../../src/agent/prices.js';
import { AnthropicProposer, type AnthropicProposerOptions } from '../../src/agent/proposers/anthropic.js';
import { OpenAICompatibleProposer } from '../../src/agent/proposers/openai-compatible.js';
import { answerJsonSchema, parseAnswer, requestHash, SUBMIT_TOOL } from '../../src/agent/schema.js';
import type { BuiltPrompt, PromptContext, Proposal, ProposerCall, ProposeRequest } from '../../src/agent/types.js';
import { canaryKey, startMessagesServer, type MessagesServer } from '../helpers/messages-server.js';

const MODEL = 'claude-sonnet-5-5';

const prompt: BuiltPrompt = {
  persona: 'systems-engineer',
  personaHash: '0123456789abcdef',
  system: 'You are a systems engineer who writes lock-free queues in C. The contract: perflab_queue_create, destroy, try_push, try_pop. '.repeat(8),
  user: 'Improve the parent variant `naive` (spsc). Parent source:\n```c\n/* ... */\n```\nAttempts so far: none.',
};

const context: PromptContext = {
  task: 'optimize',
  family: 'spsc',
  experimentId: 'exp-test',
  iteration: 1,
  from: { name: 'naive', hash: 'aaaa' },
  parent: { name: 'naive', hash: 'aaaa', source: '/* parent */', language: 'c', knobs: {} },
  knobSpace: [{ name: 'PADDING', values: ['64', '128'] }],
  metrics: [],
  target: { metric: 'items_per_s', ratio: 2 },
  attempts: [],
  profile: null,
  env: {},
};

/** A well-formed answer, in the wire form the schema asks for. */
const goodAnswer = {
  analysis: { summary: 'Head and tail share a cache line, so every push invalidates the consumer.', bottlenecks: ['false sharing of head/tail'] },
  optimizations: [{ title: 'Pad head and tail', rationale: 'Separate cache lines', expected_gain: '2x items/s', risk: 'none: layout only' }],
  implementation: {
    files: [{ path: 'variant.c', content: '/* padded queue */\n#include <stdint.h>\n' }],
    edits: [],
    knobs: [{ name: 'PADDING', value: '64' }],
  },
};

const request = (signal?: AbortSignal): ProposeRequest => (signal ? { prompt, context, signal } : { prompt, context });

let server: MessagesServer;
let canary: string;
/** Every proposal the anthropic proposers made in this file: none may carry the key. */
const made: Proposal[] = [];

beforeAll(async () => {
  server = await startMessagesServer();
  canary = canaryKey();
});
afterAll(async () => {
  await server.close();
  expect(made.length).toBeGreaterThan(20);
  for (const p of made) expectNoKey(p);
});
afterEach(() => {
  server.requests.length = 0;
  expect(server.pending()).toBe(0);
});

function anthropic(options: AnthropicProposerOptions = {}): AnthropicProposer {
  const proposer = new AnthropicProposer({ model: MODEL, apiKey: canary, baseURL: server.url, maxRetries: 0, ...options });
  const propose = proposer.propose.bind(proposer);
  proposer.propose = async (r) => {
    const p = await propose(r);
    made.push(p);
    return p;
  };
  return proposer;
}

function callOf(p: Proposal): ProposerCall {
  if (p.kind === 'exhausted') throw new Error('unexpected exhausted proposal');
  return p.call;
}

/** The key must not appear in anything perflab would record or show. */
function expectNoKey(p: Proposal, key = canary): void {
  expect(JSON.stringify(p)).not.toContain(key);
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

describe('AnthropicProposer: JSON output mode (default)', () => {
  for (const stream of [true, false]) {
    it(`returns the structured answer and records the call (${stream ? 'streaming' : 'JSON'})`, async () => {
      server.enqueue({ answer: goodAnswer });
      const p = await anthropic({ stream }).propose(request());
      expect(p.kind).toBe('answer');
      if (p.kind !== 'answer') return;
      expect(p.answer.implementation.files).toEqual(goodAnswer.implementation.files);
      expect(p.answer.implementation.knobs).toEqual({ PADDING: '64' });
      expect(p.answer.implementation.edits).toBeUndefined();
      const call = p.call;
      expect(call).toMatchObject({ provider: 'anthropic', model: MODEL, outcome: 'ok', error: null, stopReason: 'end_turn', priceTable: PRICE_TABLE_DATE });
      expect(call.requestHash).toBe(requestHash(prompt.system, prompt.user));
      expect(JSON.parse(call.response)).toEqual(goodAnswer);
      expect(call.usage.input_tokens).toBeGreaterThan(0);
      expect(call.usage.output_tokens).toBeGreaterThan(0);
      expect(call.usd).toBe(costUsd(MODEL, call.usage));
      expect(call.usd).toBeGreaterThan(0);
      expect(call.latencyMs).toBeGreaterThanOrEqual(0);
      expectNoKey(p);

      const [req] = server.requests;
      expect(server.requests).toHaveLength(1);
      expect(req!.path).toBe('/v1/messages');
      // SDK 1.x (API version 2026-10-21) sends the key as a bearer token, not x-api-key.
      expect(req!.headers.authorization).toBe(`Bearer ${canary}`);
      expect(req!.headers['anthropic-version']).toBeTruthy();
      const body = req!.body;
      expect(body.model).toBe(MODEL);
      expect(body.stream ?? false).toBe(stream);
      expect(body.max_tokens).toBe(16000);
      expect(body.system).toEqual([{ type: 'text', text: prompt.system, cache_control: { type: 'ephemeral' } }]);
      expect(body.messages).toEqual([{ role: 'user', content: prompt.user }]);
      expect(body.output_config).toEqual({ format: { type: 'json_schema', schema: answerJsonSchema() } });
      expect(body.tool_choice).toBeUndefined();
    });
  }

  it('reports cache writes on the first call and cache reads on the next with the same system prefix', async () => {
    const proposer = anthropic();
    const other: BuiltPrompt = { ...prompt, system: `${prompt.system} (another persona)` };
    server.enqueue({ answer: goodAnswer }, { answer: goodAnswer });
    const first = callOf(await proposer.propose({ prompt: other, context }));
    const second = callOf(await proposer.propose({ prompt: other, context }));
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    expect(second.usage.cache_creation_input_tokens).toBe(0);
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(second.usd!).toBeLessThan(first.usd!);
  });

  it('fails a schema-violating answer as invalid, naming the path', async () => {
    server.enqueue({ answer: { ...goodAnswer, optimizations: [{ title: 'x', rationale: 'y', expected_gain: 3, risk: 'z' }] } });
    const p = await anthropic().propose(request());
    expect(p.kind).toBe('failed');
    if (p.kind !== 'failed') return;
    expect(p.call.outcome).toBe('invalid');
    expect(p.reason).toContain('optimizations[0].expected_gain');
    expect(p.call.error).toBe(p.reason);
    expect(JSON.parse(p.call.response).optimizations[0].expected_gain).toBe(3);
  });

  it('fails an answer that changes nothing as invalid', async () => {
    server.enqueue({ answer: { ...goodAnswer, implementation: { files: [], edits: [], knobs: [] } } });
    const p = await anthropic().propose(request());
    expect(p.kind === 'failed' && p.call.outcome).toBe('invalid');
    expect(p.kind === 'failed' && p.reason).toContain('implementation: no change');
  });

  it('records a refusal as refused', async () => {
    server.enqueue({ refusal: true, category: 'cyber', explanation: 'scripted refusal' });
    const p = await anthropic().propose(request());
    expect(p.kind).toBe('failed');
    if (p.kind !== 'failed') return;
    expect(p.call).toMatchObject({ outcome: 'refused', stopReason: 'refusal' });
    expect(p.reason).toContain('refusal');
    expect(p.reason).toContain('cyber');
  });

  it('fails text that is not JSON as invalid (nothing is scraped from prose)', async () => {
    server.enqueue({ text: 'Here is my answer: {"analysis": ...' });
    const p = await anthropic({ stream: false }).propose(request());
    expect(p.kind === 'failed' && p.call.outcome).toBe('invalid');
    expect(p.kind === 'failed' && p.reason).toMatch(/not JSON/);
    expect(callOf(p).response).toContain('Here is my answer');
  });

  for (const stream of [true, false]) {
    it(`fails an answer truncated at max_tokens as invalid (${stream ? 'streaming' : 'JSON'})`, async () => {
      server.enqueue({ truncated: true });
      const p = await anthropic({ stream }).propose(request());
      expect(p.kind).toBe('failed');
      if (p.kind !== 'failed') return;
      expect(p.call).toMatchObject({ outcome: 'invalid', stopReason: 'max_tokens' });
      expect(p.reason).toMatch(/^truncated: max_tokens 16000 reached/);
      expect(p.call.usage.output_tokens).toBeGreaterThan(0);
    });
  }
});

describe('AnthropicProposer: strict tool mode', () => {
  for (const stream of [true, false]) {
    it(`sends a strict forced tool and takes the tool input as the answer (${stream ? 'streaming' : 'JSON'})`, async () => {
      server.enqueue({ answer: goodAnswer });
      const p = await anthropic({ output: 'tool', stream }).propose(request());
      expect(p.kind).toBe('answer');
      expect(callOf(p)).toMatchObject({ outcome: 'ok', stopReason: 'tool_use' });
      expect(JSON.parse(callOf(p).response)).toEqual(goodAnswer);
      const body = server.requests[0]!.body;
      expect(body.tools).toEqual([{ name: SUBMIT_TOOL, description: expect.any(String), input_schema: answerJsonSchema(), strict: true }]);
      expect(body.tool_choice).toEqual({ type: 'tool', name: SUBMIT_TOOL });
      expect(body.system[0].cache_control).toEqual({ type: 'ephemeral' });
      expect(body.output_config).toBeUndefined();
    });
  }

  it('records a text-only answer (no tool call) as refused, keeping the text', async () => {
    server.enqueue({ text: 'I would pad the indices, but here is prose instead.' });
    const p = await anthropic({ output: 'tool' }).propose(request());
    expect(p.kind).toBe('failed');
    if (p.kind !== 'failed') return;
    expect(p.call.outcome).toBe('refused');
    expect(p.reason).toContain(`no ${SUBMIT_TOOL} call`);
    expect(p.call.response).toContain('here is prose instead');
  });

  it('fails a truncated tool input as invalid', async () => {
    server.enqueue({ truncated: true });
    const p = await anthropic({ output: 'tool' }).propose(request());
    expect(p.kind === 'failed' && p.call.outcome).toBe('invalid');
    expect(p.kind === 'failed' && p.reason).toMatch(/^truncated/);
  });
});

describe('AnthropicProposer: API errors, timeouts, aborts', () => {
  it('retries a 429 (the SDK’s retry) and then answers', async () => {
    server.enqueue({ status: 429, retryAfterMs: 1 }, { answer: goodAnswer });
    const p = await anthropic({ maxRetries: 2 }).propose(request());
    expect(p.kind).toBe('answer');
    expect(server.requests).toHaveLength(2);
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${canary}`)).toBe(true);
  });

  it('gives an error outcome when 500 persists through the retries', async () => {
    server.enqueue({ status: 500, retryAfterMs: 1 }, { status: 500, retryAfterMs: 1 });
    const p = await anthropic({ maxRetries: 1 }).propose(request());
    expect(p.kind).toBe('failed');
    if (p.kind !== 'failed') return;
    expect(p.call.outcome).toBe('error');
    expect(p.reason).toMatch(/^500 api_error: scripted 500 \(after 2 attempts\)/);
    expect(p.call.usage).toEqual({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(server.requests).toHaveLength(2);
  });

  it('gives an error outcome for an overloaded API (529)', async () => {
    server.enqueue({ status: 529 });
    const p = await anthropic({ stream: false }).propose(request());
    expect(p.kind === 'failed' && p.reason).toMatch(/^529 overloaded_error/);
  });

  it('scrubs the key from an error that echoes it', async () => {
    server.enqueue({ status: 401, body: { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key: ${canary}` } } });
    const p = await anthropic().propose(request());
    expect(p.kind === 'failed' && p.call.outcome).toBe('error');
    expect(p.kind === 'failed' && p.reason).toContain('401 authentication_error: invalid x-api-key: [redacted]');
    expectNoKey(p);
  });

  it('gives an error outcome when the response does not start within timeoutMs', async () => {
    server.enqueue({ delayMs: 30_000, then: { answer: goodAnswer } });
    const p = await anthropic({ stream: false, timeoutMs: 200 }).propose(request());
    expect(p.kind).toBe('failed');
    if (p.kind !== 'failed') return;
    expect(p.call.outcome).toBe('error');
    expect(p.reason).toMatch(/^timeout: no response within 200 ms/);
    await until(() => server.requests[0]?.closedByClient === true);
  });

  it('gives an error outcome when a started stream does not complete within timeoutMs', async () => {
    server.enqueue({ hang: true });
    const p = await anthropic({ timeoutMs: 300 }).propose(request());
    expect(p.kind).toBe('failed');
    if (p.kind !== 'failed') return;
    expect(p.call.outcome).toBe('error');
    expect(p.reason).toBe('timeout: the streamed answer did not complete within 300 ms');
    // message_start had arrived: its input tokens are recorded.
    expect(p.call.usage.input_tokens).toBeGreaterThan(0);
    await until(() => server.requests[0]?.closedByClient === true);
  });

  for (const stream of [true, false]) {
    it(`gives up on abort of the request's signal, closing the connection (${stream ? 'streaming' : 'JSON'})`, async () => {
      server.enqueue(stream ? { hang: true } : { delayMs: 30_000, then: { answer: goodAnswer } });
      const controller = new AbortController();
      const pending = anthropic({ stream, maxRetries: 2 }).propose(request(controller.signal));
      await until(() => server.requests.length === 1);
      controller.abort();
      const p = await pending;
      expect(p.kind).toBe('failed');
      if (p.kind !== 'failed') return;
      expect(p.reason).toBe('interrupted');
      expect(p.call.outcome).toBe('error');
      await until(() => server.requests[0]?.closedByClient === true);
      expect(server.requests).toHaveLength(1);
    });
  }

  it('does not call the API when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const p = await anthropic().propose(request(controller.signal));
    expect(p.kind === 'failed' && p.reason).toBe('interrupted');
    expect(server.requests).toHaveLength(0);
  });
});

describe('AnthropicProposer: configuration', () => {
  it('defaults the model to PERFLAB_MODEL, else DEFAULT_MODEL', () => {
    vi.stubEnv('PERFLAB_MODEL', '');
    expect(new AnthropicProposer({ apiKey: canary, baseURL: server.url }).model).toBe(DEFAULT_MODEL);
    vi.stubEnv('PERFLAB_MODEL', 'claude-opus-5-5');
    expect(new AnthropicProposer({ apiKey: canary, baseURL: server.url }).model).toBe('claude-opus-5-5');
    vi.unstubAllEnvs();
  });

  it('passes the effort setting beside the output format', async () => {
    server.enqueue({ answer: goodAnswer });
    await anthropic({ effort: 'medium' }).propose(request());
    expect(server.requests[0]!.body.output_config).toEqual({ format: { type: 'json_schema', schema: answerJsonSchema() }, effort: 'medium' });
  });

  it('records an unpriced model with usd null', async () => {
    server.enqueue({ answer: goodAnswer, model: 'claude-experimental-x' });
    const p = await anthropic({ model: 'claude-experimental-x' }).propose(request());
    expect(callOf(p)).toMatchObject({ outcome: 'ok', model: 'claude-experimental-x', usd: null, priceTable: null });
  });
});

describe('OpenAICompatibleProposer', () => {
  const local = () => new OpenAICompatibleProposer({ baseUrl: `${server.url}/v1`, model: 'qwen-coder' });

  it('returns the structured answer from the message content', async () => {
    vi.stubEnv('OPENAI_API_KEY', '');
    server.enqueue({ answer: goodAnswer });
    const p = await local().propose(request());
    expect(p.kind).toBe('answer');
    const call = callOf(p);
    expect(call).toMatchObject({ provider: 'openai-compatible', model: 'qwen-coder', outcome: 'ok', usd: null, priceTable: null, stopReason: 'stop' });
    expect(call.usage.input_tokens).toBeGreaterThan(0);
    expect(call.usage.output_tokens).toBeGreaterThan(0);
    expect(call.usage.cache_read_input_tokens).toBe(0);
    const req = server.requests[0]!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body.messages).toEqual([
      { role: 'system', content: prompt.system },
      { role: 'user', content: prompt.user },
    ]);
    expect(req.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: SUBMIT_TOOL, schema: answerJsonSchema(), strict: true } });
    vi.unstubAllEnvs();
  });

  it('sends OPENAI_API_KEY as a bearer token and records it nowhere', async () => {
    const key = canaryKey().replace('sk-ant-', 'sk-local-');
    vi.stubEnv('OPENAI_API_KEY', key);
    server.enqueue({ status: 400, body: { error: { message: `bad key ${key}` } } });
    const p = await local().propose(request());
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(p.kind === 'failed' && p.reason).toBe('400 bad key [redacted]');
    expectNoKey(p, key);
    vi.unstubAllEnvs();
  });

  it('fails content that is not JSON as invalid', async () => {
    server.enqueue({ text: 'Sure! Pad the head and tail.' });
    const p = await local().propose(request());
    expect(p.kind).toBe('failed');
    if (p.kind !== 'failed') return;
    expect(p.call.outcome).toBe('invalid');
    expect(p.reason).toMatch(/^answer is not JSON/);
    expect(p.call.response).toBe('Sure! Pad the head and tail.');
  });

  it('retries once after a 500 and then answers', async () => {
    server.enqueue({ status: 500, retryAfter: 0 }, { answer: goodAnswer });
    const p = await local().propose(request());
    expect(p.kind).toBe('answer');
    expect(server.requests).toHaveLength(2);
  });

  it('gives an error outcome when 429 persists after the retry', async () => {
    server.enqueue({ status: 429, retryAfter: 0 }, { status: 429, retryAfter: 0 });
    const p = await local().propose(request());
    expect(p.kind === 'failed' && p.call.outcome).toBe('error');
    expect(p.kind === 'failed' && p.reason).toBe('429 scripted 429 (after 2 attempts)');
  });

  it('fails a truncated answer as invalid, a refusal as refused', async () => {
    server.enqueue({ truncated: true }, { refusal: true });
    const truncated = await local().propose(request());
    expect(truncated.kind === 'failed' && truncated.call.outcome).toBe('invalid');
    const refused = await local().propose(request());
    expect(refused.kind === 'failed' && refused.call.outcome).toBe('refused');
  });

  it('times out a slow server and honours the abort signal', async () => {
    server.enqueue({ delayMs: 30_000, then: { answer: goodAnswer } });
    const slow = await new OpenAICompatibleProposer({ baseUrl: `${server.url}/v1`, timeoutMs: 200 }).propose(request());
    expect(slow.kind === 'failed' && slow.reason).toBe('timeout: no complete response within 200 ms');
    server.requests.length = 0;
    server.enqueue({ delayMs: 30_000, then: { answer: goodAnswer } });
    const controller = new AbortController();
    const pending = local().propose(request(controller.signal));
    await until(() => server.requests.length === 1);
    controller.abort();
    const aborted = await pending;
    expect(aborted.kind === 'failed' && aborted.reason).toBe('interrupted');
    await until(() => server.requests[0]?.closedByClient === true);
  });
});

describe('answer schema', () => {
  it('is strict-compatible: closed objects, every property required, no unsupported keywords', () => {
    const visit = (node: unknown, path: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${path}[${i}]`));
      if (typeof node !== 'object' || node === null) return;
      const o = node as Record<string, unknown>;
      if (o['type'] === 'object') {
        expect(o['additionalProperties'], path).toBe(false);
        expect([...(o['required'] as string[])].sort(), path).toEqual(Object.keys(o['properties'] as object).sort());
      }
      for (const k of ['minLength', 'maxLength', 'pattern', 'minimum', 'maximum', '$schema']) expect(o[k], `${path}.${k}`).toBeUndefined();
      for (const [k, v] of Object.entries(o)) visit(v, `${path}.${k}`);
    };
    visit(answerJsonSchema(), '(root)');
  });

  it('names the path of the first violation', () => {
    const bad = { ...goodAnswer, implementation: { ...goodAnswer.implementation, files: [{ path: 'x.c', content: 7 }] } };
    expect(parseAnswer(bad)).toEqual({ ok: false, reason: 'implementation.files[0].content: Invalid input: expected string, received number' });
    expect(parseAnswer({ ...goodAnswer, implementation: { ...goodAnswer.implementation, files: [{ path: '../x.c', content: 'int x;' }] } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^implementation\.files\[0\]\.path: must be a relative path/),
    });
    expect(parseAnswer('not json')).toMatchObject({ ok: false, reason: expect.stringMatching(/^\(root\): not JSON/) });
  });

  it('accepts the AgentAnswer form too (knobs as a record, empty lists left out)', () => {
    const r = parseAnswer({ ...goodAnswer, implementation: { knobs: { PADDING: '128' } } });
    expect(r).toEqual({ ok: true, answer: { ...goodAnswer, implementation: { knobs: { PADDING: '128' } } } });
    expect(parseAnswer({ ...goodAnswer, implementation: {} }, { task: 'profile' }).ok).toBe(true);
  });

  it('hashes system, user and schema into 16 hex digits', () => {
    const h = requestHash('s', 'u');
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(requestHash('s', 'u')).toBe(h);
    expect(requestHash('s', 'u2')).not.toBe(h);
    expect(requestHash('s2', 'u')).not.toBe(h);
  });
});

describe('price table', () => {
  it('prices the default model and the SDK’s current models', () => {
    expect(priceFor(DEFAULT_MODEL)).not.toBeNull();
    for (const m of ['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-haiku-5-5', 'claude-fable-5-2', 'claude-opus-4-8', 'claude-haiku-4-5']) {
      expect(PRICES[m], m).toBeDefined();
    }
    expect(PRICE_TABLE_DATE).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('computes USD from all four token kinds', () => {
    const usage = { input_tokens: 1_000_000, output_tokens: 1_000_000, cache_creation_input_tokens: 1_000_000, cache_read_input_tokens: 1_000_000 };
    expect(costUsd('claude-sonnet-5-5', usage)).toBeCloseTo(2 + 10 + 2.5 + 0.1, 8);
    expect(costUsd('claude-opus-4-8', usage)).toBeCloseTo(5 + 25 + 6.25 + 0.5, 8);
    expect(costUsd('claude-haiku-4-5-20251001', usage)).toBeCloseTo(1 + 5 + 1.25 + 0.1, 8);
    expect(costUsd('claude-unknown-9', usage)).toBeNull();
    expect(costUsd(null, usage)).toBeNull();
  });

  it('applies Haiku 5.5’s long-prompt rates above 100k prompt tokens', () => {
    const short = { input_tokens: 50_000, output_tokens: 1_000, cache_creation_input_tokens: 0, cache_read_input_tokens: 50_000 };
    const long = { ...short, cache_read_input_tokens: 50_001 };
    expect(costUsd('claude-haiku-5-5', short)).toBeCloseTo((50_000 * 0.1 + 1_000 * 0.5 + 50_000 * 0.01) / 1e6, 10);
    expect(costUsd('claude-haiku-5-5', long)).toBeCloseTo((50_000 * 0.5 + 1_000 * 2.5 + 50_001 * 0.05) / 1e6, 10);
  });
});
