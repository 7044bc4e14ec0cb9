/**
 * The store never holds an API key. Two layers:
 *  - JSON written to the store is redacted first: a key named like a secret
 *    environment variable (`ANTHROPIC_API_KEY`, `GITHUB_TOKEN`, `AWS_SECRET_...`)
 *    or like a credential field (`api_key`, `apiKey`, `authorization`) keeps its
 *    name but loses its value;
 *  - every string about to be written (after redaction) is scanned, and the write
 *    is refused (throws, nothing recorded) if it holds an Anthropic key or the
 *    value of a secret-named variable of this process's environment.
 * The error names the field, never the secret.
 */
import { PerflabError } from '../errors.js';

export const REDACTED = '[redacted]';

const ANTHROPIC_KEY = /sk-ant-[A-Za-z0-9_-]{10,}/;
/** Environment-variable-like names (upper case) that carry secrets. */
const SECRET_ENV_NAME = /^[A-Z0-9_]*(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)S?[A-Z0-9_]*$/;
/** Credential-like field names in any case (not `input_tokens`, not `keys`). */
const SECRET_FIELD_NAME = /^(x[-_])?(api[-_]?key|access[-_]?key|secret([-_]?key)?|client[-_]?secret|password|passwd|(auth|access|refresh|bearer|session|id)[-_]?token|authorization|private[-_]?key)$/i;

export function isSecretName(name: string): boolean {
  return SECRET_ENV_NAME.test(name) || SECRET_FIELD_NAME.test(name);
}

/** A deep copy of `value` with the values of secret-named keys replaced by REDACTED. */
export function redact<T>(value: T): T {
  return redactValue(value, 0) as T;
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 64 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretName(k) && v !== null && v !== undefined && v !== '' ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}

/** Values of this process's secret-named environment variables long enough to be keys. */
function environmentSecrets(): string[] {
  const found: string[] = [];
  for (const [name, value] of Object.entries(process.env)) {
    if (value && value.length >= 16 && SECRET_ENV_NAME.test(name)) found.push(value);
  }
  return found;
}

/** Throws ERR_PERFLAB_STORE when a string to be written looks like or contains a secret. */
export function assertNoSecrets(fields: Record<string, unknown>, what: string): void {
  let envSecrets: string[] | undefined;
  for (const [field, value] of Object.entries(fields)) {
    if (typeof value !== 'string') continue;
    let hit = ANTHROPIC_KEY.test(value);
    if (!hit) {
      envSecrets ??= environmentSecrets();
      hit = envSecrets.some((s) => value.includes(s));
    }
    if (hit) {
      throw new PerflabError(
        'ERR_PERFLAB_STORE',
        `refusing to store ${what}: its field "${field}" contains what looks like an API key (the store never holds keys; nothing of this record was written)`,
      );
    }
  }
}

/** JSON text for a store column, secret-named keys redacted. */
export function toJson(value: unknown): string {
  return JSON.stringify(redact(value ?? null));
}
