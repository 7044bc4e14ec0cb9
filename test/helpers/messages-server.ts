/**
 * A scripted stand-in for the model APIs, on 127.0.0.1 (port 0): the Anthropic
 * Messages API (`POST /v1/messages`, JSON and SSE streaming) and OpenAI chat
 * completions (`POST /v1/chat/completions`). The real SDK talks to it, so the
 * tests exercise the SDK's own retries, streaming accumulation and errors.
 *
 * Replies are queued with `enqueue`; every request takes the next one (an empty
 * queue answers 500 saying so). Every request is recorded with its headers and
 * parsed body. Prompt caching is simulated: a system prompt carrying
 * `cache_control` reports `cache_creation_input_tokens` the first time its text
 * is seen and `cache_read_input_tokens` afterwards.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenUsage } from '../../src/agent/types.js';

/** One scripted reply. */
export type Reply =
  /** A well-formed answer: a tool_use with this input (tool mode), or this JSON as text (JSON output mode / chat completions). */
  | { answer: object; usage?: Partial<TokenUsage>; model?: string }
  /** stop_reason `refusal`, no answer (chat completions: `message.refusal`). */
  | { refusal: true; category?: string; explanation?: string }
  /** A text-only answer (no tool call), stop_reason `end_turn`. */
  | { text: string }
  /** An HTTP error; `retryAfter` in seconds (Retry-After), `retryAfterMs` as `retry-after-ms`. */
  | { status: number; retryAfter?: number; retryAfterMs?: number; body?: unknown }
  /** Wait before answering (before the response headers). */
  | { delayMs: number; then: Reply }
  /** Stopped at max_tokens in the middle of the answer. */
  | { truncated: true }
  /** Start the response (streaming: headers and message_start) and never finish it. */
  | { hang: true };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (the raw text when it is not JSON). */
  body: any;
  /** The client closed the connection before the response was complete (abort, timeout). */
  closedByClient: boolean;
}

export interface MessagesServer {
  /** `http://127.0.0.1:PORT` (the Anthropic SDK's baseURL; chat completions live under `${url}/v1`). */
  url: string;
  requests: RecordedRequest[];
  enqueue(...replies: Reply[]): void;
  /** Replies not consumed yet. */
  pending(): number;
  close(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/** Rough token count (4 characters a token), never 0. */
function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

export async function startMessagesServer(): Promise<MessagesServer> {
  const queue: Reply[] = [];
  const requests: RecordedRequest[] = [];
  const cachedSystems = new Set<string>();
  let seq = 0;

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString('utf8');
      let body: any = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // keep the text
      }
      const record: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, closedByClient: false };
      requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished) record.closedByClient = true;
      });
      const reply = queue.shift();
      if (reply === undefined) {
        sendJson(res, 500, { type: 'error', error: { type: 'api_error', message: `messages-server: no reply queued for ${req.method} ${req.url}` } });
        return;
      }
      respond(req, res, body, reply);
    });
  });

  function respond(req: IncomingMessage, res: ServerResponse, body: any, reply: Reply): void {
    if ('delayMs' in reply) {
      const timer = setTimeout(() => respond(req, res, body, reply.then), reply.delayMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if ('status' in reply) {
      const headers: Record<string, string> = {};
      if (reply.retryAfter !== undefined) headers['retry-after'] = String(reply.retryAfter);
      if (reply.retryAfterMs !== undefined) headers['retry-after-ms'] = String(reply.retryAfterMs);
      const error = reply.body ?? { type: 'error', error: { type: ERROR_TYPES[reply.status] ?? 'api_error', message: `scripted ${reply.status}` } };
      sendJson(res, reply.status, error, headers);
      return;
    }
    if (req.url === '/v1/messages' && req.method === 'POST') return messages(res, body, reply);
    if (req.url === '/v1/chat/completions' && req.method === 'POST') return chat(res, body, reply);
    sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: `messages-server: no route ${req.method} ${req.url}` } });
  }

  /** Usage as the API reports it, with simulated prompt caching of the system prompt. */
  function usageFor(body: any, outputText: string, override?: Partial<TokenUsage>): TokenUsage {
    const system = Array.isArray(body?.system) ? body.system : typeof body?.system === 'string' ? [{ text: body.system }] : [];
    const systemText = system.map((b: any) => String(b?.text ?? '')).join('');
    const cacheable = system.some((b: any) => b?.cache_control?.type === 'ephemeral');
    const user = (body?.messages ?? []).map((m: any) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('');
    const usage: TokenUsage = { input_tokens: tokens(user), output_tokens: tokens(outputText), cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (cacheable && systemText !== '') {
      const key = createHash('sha256').update(systemText).digest('hex');
      if (cachedSystems.has(key)) usage.cache_read_input_tokens = tokens(systemText);
      else {
        cachedSystems.add(key);
        usage.cache_creation_input_tokens = tokens(systemText);
      }
    } else {
      usage.input_tokens += tokens(systemText);
    }
    return { ...usage, ...override };
  }

  function messages(res: ServerResponse, body: any, reply: Reply): void {
    const jsonMode = body?.output_config?.format?.type === 'json_schema';
    const toolName: string = body?.tool_choice?.name ?? body?.tools?.[0]?.name ?? 'tool';
    const model: string = ('answer' in reply && reply.model) || body?.model || 'unknown-model';
    const id = `msg_test_${++seq}`;
    let block: { type: 'text'; text: string } | { type: 'tool_use'; json: string; input: unknown } | null = null;
    let stop = 'end_turn';
    let stopDetails: unknown = null;
    let override: Partial<TokenUsage> | undefined;
    if ('answer' in reply) {
      const json = JSON.stringify(reply.answer);
      block = jsonMode ? { type: 'text', text: json } : { type: 'tool_use', json, input: reply.answer };
      stop = jsonMode ? 'end_turn' : 'tool_use';
      override = reply.usage;
    } else if ('refusal' in reply) {
      stop = 'refusal';
      stopDetails = { type: 'refusal', category: reply.category ?? 'cyber', explanation: reply.explanation ?? 'scripted refusal' };
    } else if ('text' in reply) {
      block = { type: 'text', text: reply.text };
    } else if ('truncated' in reply) {
      const json = JSON.stringify({ analysis: { summary: 'The queue bounces a shared cache line between producer and consumer', bottlenecks: ['false sharing'] }, optimizations: [] });
      const half = json.slice(0, Math.floor(json.length / 2));
      block = jsonMode ? { type: 'text', text: half } : { type: 'tool_use', json: half, input: {} };
      stop = 'max_tokens';
    }
    const outText = block === null ? '' : block.type === 'text' ? block.text : block.json;
    const usage = usageFor(body, outText, override);
    const stream = body?.stream === true;
    const hang = 'hang' in reply;

    if (!stream) {
      if (hang) return; // never answer
      const content = block === null ? [] : block.type === 'text' ? [{ type: 'text', text: block.text, citations: null }] : [{ type: 'tool_use', id: `toolu_${seq}`, name: toolName, input: block.input }];
      sendJson(res, 200, { id, type: 'message', role: 'assistant', model, content, stop_reason: stop, stop_sequence: null, stop_details: stopDetails, usage }, { 'request-id': `req_test_${seq}` });
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_test_${seq}` });
    const event = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    event('message_start', {
      message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, stop_details: null, usage: { ...usage, output_tokens: 1 } },
    });
    event('ping', {});
    if (hang) return; // keep the connection open until the client gives up
    if (block !== null) {
      if (block.type === 'text') {
        event('content_block_start', { index: 0, content_block: { type: 'text', text: '', citations: null } });
        for (const c of chunks(block.text, 40)) event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: c } });
      } else {
        event('content_block_start', { index: 0, content_block: { type: 'tool_use', id: `toolu_${seq}`, name: toolName, input: {} } });
        for (const c of chunks(block.json, 40)) event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: c } });
      }
      event('content_block_stop', { index: 0 });
    }
    event('message_delta', { delta: { stop_reason: stop, stop_sequence: null, stop_details: stopDetails }, usage: { output_tokens: usage.output_tokens } });
    event('message_stop', {});
    res.end();
  }

  function chat(res: ServerResponse, body: any, reply: Reply): void {
    if ('hang' in reply) return;
    const model: string = ('answer' in reply && reply.model) || body?.model || 'local';
    let content: string | null = null;
    let refusal: string | null = null;
    let finish = 'stop';
    if ('answer' in reply) content = JSON.stringify(reply.answer);
    else if ('text' in reply) content = reply.text;
    else if ('refusal' in reply) refusal = reply.explanation ?? 'scripted refusal';
    else if ('truncated' in reply) {
      content = '{"analysis": {"summary": "The queue bounces a shared cache line';
      finish = 'length';
    }
    const prompt = (body?.messages ?? []).map((m: any) => String(m.content ?? '')).join('');
    const usage = { prompt_tokens: tokens(prompt), completion_tokens: tokens(content ?? ''), total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    sendJson(res, 200, {
      id: `chatcmpl-${++seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal }, finish_reason: finish }],
      usage,
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...replies) => void queue.push(...replies),
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** A fresh API-key-shaped canary for a test run (never a real key). */
export function canaryKey(): string {
  return `sk-ant-test-${randomBytes(16).toString('hex')}`;
}
