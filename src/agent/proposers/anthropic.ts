/**
 * The `anthropic` proposer: one Messages API call per candidate through
 * @anthropic-ai/sdk, with the persona and contract as a cached system prefix
 * and the answer constrained to the seed schema (schema.ts).
 *
 * Two ways to constrain the answer (`output`):
 * - `json` (default): structured JSON output (`output_config.format`), the
 *   answer is the response's text, decoded against the schema by the API. It
 *   works on every current model; the newest ones (Sonnet 5.5, Opus 5.5,
 *   Fable 5.1 and later) reject a forced `tool_choice` with a 400, and models
 *   that think by default refuse forced tool use too.
 * - `tool`: a strict `submit_variant` tool with a forced `tool_choice`; the
 *   answer is the tool call's input. For models or gateways without JSON output.
 * Either way nothing is scraped from prose: no structured answer is a failure.
 *
 * Retries (429, 5xx, 529, timeouts, connection errors) are the SDK's own.
 * The API key is the SDK's (option or ANTHROPIC_API_KEY); it is never put in a
 * call record, and every recorded text is scrubbed of it anyway.
 */
import Anthropic, {
  AnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type {
  Message,
  MessageCreateParamsNonStreaming,
  Tool,
  Usage,
} from '@anthropic-ai/sdk/resources/messages';
import { costUsd, DEFAULT_MODEL, PRICE_TABLE_DATE } from '../prices.js';
import { answerJsonSchema, requestHash, SUBMIT_TOOL, SUBMIT_TOOL_DESCRIPTION } from '../schema.js';
import { ZERO_USAGE, type BuiltPrompt, type Proposal, type ProposeRequest, type Proposer, type TokenUsage } from '../types.js';
import { failed, judgePayload, makeScrubber, type CallBase } from './call.js';

/** The SDK's own default request timeout (10 minutes). */
const SDK_DEFAULT_TIMEOUT_MS = 600_000;

export interface AnthropicProposerOptions {
  /** Model id; default: env PERFLAB_MODEL, else DEFAULT_MODEL (prices.ts). */
  model?: string;
  /** API key; default: the SDK reads ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN). Never logged or stored. */
  apiKey?: string;
  /** API origin without `/v1` (the SDK appends `/v1/messages`); default: the SDK's (ANTHROPIC_BASE_URL, else api.anthropic.com). */
  baseURL?: string;
  /**
   * Per attempt: how long to wait for the response to start (the SDK's
   * `timeout`, retried like other timeouts); when streaming, also how long the
   * streamed answer may take once started. Default: the SDK's 10 minutes.
   */
  timeoutMs?: number;
  /** Retries of 408/409/429/5xx/timeouts/connection errors, by the SDK (default 2). */
  maxRetries?: number;
  /** `max_tokens` of the answer, thinking included (default 16000). */
  maxTokens?: number;
  /** Stream the answer (`messages.stream(...).finalMessage()`); default true. */
  stream?: boolean;
  /** How the answer is constrained: `json` output format (default) or a forced strict `tool`. */
  output?: 'json' | 'tool';
  /** `output_config.effort` (thinking depth on models that think); default: the model's own. */
  effort?: Effort;
}

export type Effort = 'low' | 'medium' | 'high' | 'xhigh' | 'max';

/** The streamed answer did not complete within the deadline. */
class StreamDeadlineError extends Error {
  constructor(readonly ms: number) {
    super(`timeout: the streamed answer did not complete within ${ms} ms`);
  }
}

/** A failed send, with what the stream had seen (input tokens are known from `message_start`). */
class SendError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly partial: Message | undefined,
  ) {
    super('send failed');
  }
}

export class AnthropicProposer implements Proposer {
  readonly name = 'anthropic' as const;
  readonly model: string;
  readonly output: 'json' | 'tool';
  readonly #client: Anthropic;
  readonly #scrub: (text: string) => string;
  readonly #maxTokens: number;
  readonly #stream: boolean;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #effort: Effort | undefined;

  constructor(options: AnthropicProposerOptions = {}) {
    this.model = options.model ?? (process.env['PERFLAB_MODEL'] || DEFAULT_MODEL);
    this.output = options.output ?? 'json';
    this.#maxTokens = options.maxTokens ?? 16_000;
    this.#stream = options.stream ?? true;
    this.#timeoutMs = options.timeoutMs ?? SDK_DEFAULT_TIMEOUT_MS;
    this.#maxRetries = options.maxRetries ?? 2;
    this.#effort = options.effort;
    this.#scrub = makeScrubber([options.apiKey, process.env['ANTHROPIC_API_KEY'], process.env['ANTHROPIC_AUTH_TOKEN']]);
    this.#client = new Anthropic({
      ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
      ...(options.baseURL !== undefined ? { baseURL: options.baseURL } : {}),
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      maxRetries: this.#maxRetries,
    });
  }

  async propose(request: ProposeRequest): Promise<Proposal> {
    const { prompt, context, signal } = request;
    const started = performance.now();
    const base = (message: Message | undefined): CallBase => {
      const usage = message ? toUsage(message.usage) : { ...ZERO_USAGE };
      const model = message?.model || this.model;
      const usd = costUsd(model, usage) ?? costUsd(this.model, usage);
      return {
        provider: 'anthropic',
        model,
        requestHash: requestHash(prompt.system, prompt.user),
        usage,
        usd,
        priceTable: usd === null ? null : PRICE_TABLE_DATE,
        latencyMs: performance.now() - started,
        stopReason: message?.stop_reason ?? null,
      };
    };
    if (signal?.aborted) return failed(base(undefined), 'error', 'interrupted', '', this.#scrub);

    let message: Message;
    try {
      message = await this.#send(this.#body(prompt), signal);
    } catch (err) {
      const send = err instanceof SendError ? err : new SendError(err, undefined);
      const partial = send.partial;
      return failed(base(partial), 'error', this.#errorReason(send.cause, signal), partialText(partial), this.#scrub);
    }
    return this.#judge(message, base(message), context.task);
  }

  /** The request: cached system prefix, one user turn, the answer schema. */
  #body(prompt: BuiltPrompt): MessageCreateParamsNonStreaming {
    const body: MessageCreateParamsNonStreaming = {
      model: this.model,
      max_tokens: this.#maxTokens,
      system: [{ type: 'text', text: prompt.system, cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: prompt.user }],
    };
    if (this.output === 'json') {
      body.output_config = { format: { type: 'json_schema', schema: answerJsonSchema() } };
    }
    if (this.#effort !== undefined) body.output_config = { ...body.output_config, effort: this.#effort };
    if (this.output === 'tool') {
      body.tools = [
        {
          name: SUBMIT_TOOL,
          description: SUBMIT_TOOL_DESCRIPTION,
          input_schema: answerJsonSchema() as Tool.InputSchema,
          strict: true,
        },
      ];
      body.tool_choice = { type: 'tool', name: SUBMIT_TOOL };
    }
    return body;
  }

  async #send(body: MessageCreateParamsNonStreaming, signal: AbortSignal | undefined): Promise<Message> {
    const options = signal ? { signal } : {};
    if (!this.#stream) {
      try {
        return await this.#client.messages.create(body, options);
      } catch (err) {
        throw new SendError(err, undefined);
      }
    }
    const stream = this.#client.messages.stream(body, options);
    let deadline: NodeJS.Timeout | undefined;
    let expired = false;
    // The SDK's timeout covers the wait for the response headers only; bound the body too.
    stream.on('connect', () => {
      deadline = setTimeout(() => {
        expired = true;
        stream.abort();
      }, this.#timeoutMs);
    });
    try {
      return await stream.finalMessage();
    } catch (err) {
      throw new SendError(expired ? new StreamDeadlineError(this.#timeoutMs) : err, stream.currentMessage);
    } finally {
      clearTimeout(deadline);
    }
  }

  #judge(message: Message, base: CallBase, task: ProposeRequest['context']['task']): Proposal {
    const scrub = this.#scrub;
    const text = message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    const stop = message.stop_reason;
    let payload: unknown;
    let payloadText = '';
    if (this.output === 'tool') {
      const use = message.content.find((b) => b.type === 'tool_use' && b.name === SUBMIT_TOOL);
      if (use && use.type === 'tool_use') {
        payload = use.input;
        payloadText = JSON.stringify(use.input) ?? '';
      }
    } else if (text.trim() !== '') {
      payloadText = text;
    }
    const seen = payloadText || text;

    if (stop === 'refusal') {
      const d = message.stop_details;
      const detail = d ? [d.category, d.explanation].filter((x) => x).join(': ') : '';
      return failed(base, 'refused', `refused by the model (stop_reason refusal)${detail ? `: ${detail}` : ''}`, seen, scrub);
    }
    if (stop === 'max_tokens' || stop === 'model_context_window_exceeded') {
      const why = stop === 'max_tokens' ? `max_tokens ${this.#maxTokens} reached` : 'the context window was exceeded';
      return failed(base, 'invalid', `truncated: ${why} after ${base.usage.output_tokens} output tokens; the answer is incomplete`, seen, scrub);
    }
    if (stop === null) {
      return failed(base, 'error', 'incomplete response: the message ended without a stop_reason', seen, scrub);
    }
    if (payloadText === '') {
      const what = this.output === 'tool' ? `no ${SUBMIT_TOOL} call` : 'no structured answer';
      const prose = text.trim() !== '' ? '; the model answered in prose' : '';
      return failed(base, 'refused', `${what} (stop_reason ${stop})${prose}`, text, scrub);
    }
    if (this.output === 'json') {
      try {
        payload = JSON.parse(payloadText) as unknown;
      } catch (err) {
        return failed(base, 'invalid', `answer is not JSON: ${(err as Error).message}`, payloadText, scrub);
      }
    }
    return judgePayload(base, payload, task, scrub);
  }

  #errorReason(err: unknown, signal: AbortSignal | undefined): string {
    if (signal?.aborted) return 'interrupted';
    const tries = `after ${this.#maxRetries + 1} attempt${this.#maxRetries === 0 ? '' : 's'}`;
    if (err instanceof StreamDeadlineError) return err.message;
    if (err instanceof APIConnectionTimeoutError) {
      return `timeout: no response within ${this.#timeoutMs} ms (${tries})`;
    }
    if (err instanceof APIUserAbortError) return 'aborted';
    if (err instanceof APIConnectionError) {
      const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
      return `connection error (${tries})${cause}`;
    }
    if (err instanceof APIError) {
      const what = [err.type, err.apiMessage].filter((x) => x).join(': ') || err.message;
      if (err.status === undefined) return `stream error: ${what}`;
      const retried = err.status === 429 || err.status >= 500 ? ` (${tries})` : '';
      return `${err.status} ${what}${retried}`;
    }
    if (err instanceof AnthropicError || err instanceof Error) return err.message;
    return String(err);
  }
}

function toUsage(u: Usage | undefined): TokenUsage {
  return {
    input_tokens: u?.input_tokens ?? 0,
    output_tokens: u?.output_tokens ?? 0,
    cache_creation_input_tokens: u?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: u?.cache_read_input_tokens ?? 0,
  };
}

/** What a stream had produced before it failed (text, or the tool input so far). */
function partialText(message: Message | undefined): string {
  if (!message) return '';
  return message.content
    .map((b) => (b.type === 'text' ? b.text : b.type === 'tool_use' ? JSON.stringify(b.input) ?? '' : ''))
    .join('');
}
