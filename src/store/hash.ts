import { createHash } from 'node:crypto';

/** A variant's identity: sha256 of its source bytes, first 16 hex digits. */
export function contentHash(source: string | Uint8Array): string {
  return createHash('sha256').update(source).digest('hex').slice(0, 16);
}
