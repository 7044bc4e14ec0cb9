/**
 * The `openai-compatible` proposer: a local model server speaking OpenAI's chat
 * completions (llama.cpp `llama-server`, vLLM, Ollama) at `baseUrl`. The answer
 * schema goes out as `response_format: json_schema` (strict), which these
 * servers enforce with grammar-constrained decoding, so the message content is
 * the structured answer; content that is not JSON is an invalid answer.
 *
 * One retry on 429/5xx (honouring Retry-After up to a small bound); a timeout
 * per attempt; Ctrl-C (the request's signal) aborts the socket. Local calls are
 * not priced (`usd: null`). An optional bearer key comes from OPENAI_API_KEY at
 * call time and is never recorded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { answerJsonSchema, requestHash, SUBMIT_TOOL } from '../schema.js';
import { ZERO_USAGE, type Proposal, type ProposeRequest, type Proposer, type TokenUsage } from '../types.js';
import { failed, judgePayload, makeScrubber, type CallBase } from './call.js';

export interface OpenAICompatibleProposerOptions {
  /** The server's API root, e.g. `http://127.0.0.1:8080/v1` (`/chat/completions` is appended). */
  baseUrl: string;
  /** Model name sent to the server (default `local`; llama.cpp ignores it, Ollama and vLLM need it). */
  model?: string;
  /** Per attempt, headers and body (default 10 minutes: local models are slow). */
  timeoutMs?: number;
  /** `max_tokens` of the answer (default 16000). */
  maxTokens?: number;
  /** Longest Retry-After honoured before the one retry, in ms (default 10 s). */
  maxRetryAfterMs?: number;
}

const DEFAULT_TIMEOUT_MS = 600_000;
/** Wait before the retry when the server does not say (ms). */
const DEFAULT_RETRY_DELAY_MS = 500;

interface ChatCompletion {
  model?: string;
  choices?: { message?: { content?: string | null; refusal?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

/** A response that ends the call (an HTTP error after the retry, or a transport failure). */
class CallError extends Error {}

export class OpenAICompatibleProposer implements Proposer {
  readonly name = 'openai-compatible' as const;
  readonly model: string;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #maxTokens: number;
  readonly #maxRetryAfterMs: number;

  constructor(options: OpenAICompatibleProposerOptions) {
    if (!options.baseUrl) throw new TypeError('OpenAICompatibleProposer: baseUrl is required (e.g. http://127.0.0.1:8080/v1)');
    this.#url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.model = options.model ?? 'local';
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxTokens = options.maxTokens ?? 16_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  }

  async propose(request: ProposeRequest): Promise<Proposal> {
    const { prompt, context, signal } = request;
    const key = process.env['OPENAI_API_KEY'];
    const scrub = makeScrubber([key]);
    const started = performance.now();
    const base = (body: ChatCompletion | undefined): CallBase => ({
      provider: 'openai-compatible',
      model: body?.model || this.model,
      requestHash: requestHash(prompt.system, prompt.user),
      usage: toUsage(body),
      usd: null,
      priceTable: null,
      latencyMs: performance.now() - started,
      stopReason: body?.choices?.[0]?.finish_reason ?? null,
    });
    const payload = JSON.stringify({
      model: this.model,
      messages: [
        { role: 'system', content: prompt.system },
        { role: 'user', content: prompt.user },
      ],
      response_format: { type: 'json_schema', json_schema: { name: SUBMIT_TOOL, schema: answerJsonSchema(), strict: true } },
      max_tokens: this.#maxTokens,
      stream: false,
    });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (key) headers['authorization'] = `Bearer ${key}`;

    let text: string;
    try {
      text = await this.#post(payload, headers, signal);
    } catch (err) {
      return failed(base(undefined), 'error', errorReason(err, signal, this.#timeoutMs), '', scrub);
    }
    let body: ChatCompletion;
    try {
      body = JSON.parse(text) as ChatCompletion;
    } catch {
      return failed(base(undefined), 'error', 'the server answered with a body that is not JSON', text, scrub);
    }
    const choice = body.choices?.[0];
    const content = choice?.message?.content ?? '';
    const finish = choice?.finish_reason ?? null;
    const b = base(body);
    if (!choice) return failed(b, 'error', 'the server answered without choices', text, scrub);
    if (choice.message?.refusal) return failed(b, 'refused', `refused by the model: ${choice.message.refusal}`, content, scrub);
    if (finish === 'content_filter') return failed(b, 'refused', 'refused (finish_reason content_filter)', content, scrub);
    if (finish === 'length') {
      return failed(b, 'invalid', `truncated: max_tokens ${this.#maxTokens} reached; the answer is incomplete`, content, scrub);
    }
    if (content.trim() === '') return failed(b, 'refused', `no answer (finish_reason ${finish ?? 'none'})`, '', scrub);
    let answer: unknown;
    try {
      answer = JSON.parse(content) as unknown;
    } catch (err) {
      return failed(b, 'invalid', `answer is not JSON: ${(err as Error).message}`, content, scrub);
    }
    return judgePayload(b, answer, context.task, scrub);
  }

  /** POSTs the request (one retry on 429/5xx) and returns the 2xx body. */
  async #post(payload: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const signals = [AbortSignal.timeout(this.#timeoutMs), ...(signal ? [signal] : [])];
      const res = await fetch(this.#url, { method: 'POST', headers, body: payload, signal: AbortSignal.any(signals) });
      const text = await res.text();
      if (res.ok) return text;
      const retryable = res.status === 429 || res.status >= 500;
      if (!retryable || attempt >= 1) {
        const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
        throw new CallError(`${res.status} ${errorMessage(text)}${tries}`);
      }
      await sleep(retryDelay(res.headers, this.#maxRetryAfterMs), undefined, signal ? { signal } : undefined);
    }
  }
}

/** Retry-After (seconds or an HTTP date) or retry-after-ms, capped; a default when absent. */
function retryDelay(headers: Headers, capMs: number): number {
  const ms = headers.get('retry-after-ms');
  const after = headers.get('retry-after');
  let delay = DEFAULT_RETRY_DELAY_MS;
  if (ms !== null && Number.isFinite(Number.parseFloat(ms))) delay = Number.parseFloat(ms);
  else if (after !== null && Number.isFinite(Number.parseFloat(after))) delay = Number.parseFloat(after) * 1000;
  else if (after !== null && !Number.isNaN(Date.parse(after))) delay = Date.parse(after) - Date.now();
  return Math.min(Math.max(0, delay), capMs);
}

/** The `error.message` of an OpenAI-style error body, else the body's start. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const msg = typeof body.error === 'string' ? body.error : body.error?.message ?? body.message;
    if (typeof msg === 'string' && msg !== '') return msg.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return text.trim().slice(0, 300) || '(empty body)';
}

function errorReason(err: unknown, signal: AbortSignal | undefined, timeoutMs: number): string {
  if (signal?.aborted) return 'interrupted';
  if (err instanceof CallError) return err.message;
  if (err instanceof Error && err.name === 'TimeoutError') return `timeout: no complete response within ${timeoutMs} ms`;
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `connection error: ${err.message}${cause}`;
  }
  return String(err);
}

function toUsage(body: ChatCompletion | undefined): TokenUsage {
  if (!body?.usage) return { ...ZERO_USAGE };
  return {
    ...ZERO_USAGE,
    input_tokens: body.usage.prompt_tokens ?? 0,
    output_tokens: body.usage.completion_tokens ?? 0,
  };
}
