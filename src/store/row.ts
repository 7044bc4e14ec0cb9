/** Reading SQLite rows back into typed records: the store's modules share these. */
export type Row = Record<string, unknown>;

export const now = (): string => new Date().toISOString();
export const str = (v: unknown): string => (typeof v === 'string' ? v : String(v));
export const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
export const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
/** A JSON column, or `fallback` when it is NULL. */
export const parse = <T>(v: unknown, fallback: T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : fallback);
