/**
 * What the model-backed proposers share: the record of one call
 * (`ProposerCall`), trimmed and scrubbed of secrets, and the mapping of a
 * decoded answer onto a `Proposal`.
 */
import { parseAnswer } from '../schema.js';
import type { AgentTask, Proposal, ProposerCall } from '../types.js';

/** `response` of a failed call, and `error`, are trimmed to this many bytes (UTF-8). */
export const RESPONSE_LIMIT_BYTES = 20_000;
const REASON_LIMIT_BYTES = 600;

/** Cuts `text` to at most `limit` UTF-8 bytes (never inside a character), marking the cut. */
export function trimText(text: string, limit = RESPONSE_LIMIT_BYTES): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return text;
  const marker = '\n[... trimmed]';
  let cut = Math.max(0, limit - Buffer.byteLength(marker));
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return bytes.subarray(0, cut).toString('utf8') + marker;
}

/** Anything shaped like an Anthropic API key, whoever's. */
const KEY_LIKE = /\bsk-ant-[A-Za-z0-9_-]{8,}/g;

/**
 * A function that removes the given secrets (and anything shaped like an
 * Anthropic API key) from a string. Secrets shorter than 8 characters are ignored (they would
 * blank out ordinary words).
 */
export function makeScrubber(secrets: readonly (string | null | undefined)[]): (text: string) => string {
  const exact = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8))];
  return (text: string) => {
    let out = text;
    for (const secret of exact) out = out.split(secret).join('[redacted]');
    return out.replace(KEY_LIKE, '[redacted]');
  };
}

/** The parts of a call known before its outcome. */
export type CallBase = Omit<ProposerCall, 'outcome' | 'error' | 'response'>;

/** A failed proposal whose reason and every text field went through `scrub`. */
export function failed(
  base: CallBase,
  outcome: 'invalid' | 'refused' | 'error',
  reason: string,
  response: string,
  scrub: (text: string) => string,
): Proposal {
  const clean = trimText(scrub(reason), REASON_LIMIT_BYTES);
  return { kind: 'failed', reason: clean, call: finish(base, outcome, clean, trimText(scrub(response)), scrub) };
}

/**
 * Validates a decoded answer (tool input or structured JSON output) and maps it
 * onto a proposal: `answer` with the payload as JSON text, or `failed`/`invalid`
 * naming the violation.
 */
export function judgePayload(
  base: CallBase,
  payload: unknown,
  task: AgentTask,
  scrub: (text: string) => string,
): Proposal {
  const text = JSON.stringify(payload) ?? '';
  const parsed = parseAnswer(payload, { task });
  if (!parsed.ok) return failed(base, 'invalid', `answer violates the schema: ${parsed.reason}`, text, scrub);
  return { kind: 'answer', answer: parsed.answer, call: finish(base, 'ok', null, scrub(text), scrub) };
}

function finish(
  base: CallBase,
  outcome: ProposerCall['outcome'],
  error: string | null,
  response: string,
  scrub: (text: string) => string,
): ProposerCall {
  return {
    ...base,
    model: base.model === null ? null : scrub(base.model),
    stopReason: base.stopReason === null ? null : scrub(base.stopReason),
    latencyMs: Math.round(base.latencyMs),
    outcome,
    error,
    response,
  };
}
