/**
 * better-sqlite3 behind a small typed surface. The package ships no types and
 * @types/better-sqlite3 is not a dependency, so the part perflab uses is typed
 * here and the module is loaded with require (it is CommonJS).
 */
import { createRequire } from 'node:module';

export type SqlValue = string | number | bigint | null | Buffer;
export type SqlParams = Record<string, SqlValue> | SqlValue[];

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface Statement<Row = Record<string, unknown>> {
  run(...params: SqlParams[]): RunResult;
  get(...params: SqlParams[]): Row | undefined;
  all(...params: SqlParams[]): Row[];
}

export interface Transaction<F extends (...args: never[]) => unknown> {
  (...args: Parameters<F>): ReturnType<F>;
  deferred(...args: Parameters<F>): ReturnType<F>;
  immediate(...args: Parameters<F>): ReturnType<F>;
  exclusive(...args: Parameters<F>): ReturnType<F>;
}

export interface Database {
  readonly name: string;
  readonly open: boolean;
  readonly inTransaction: boolean;
  readonly memory: boolean;
  prepare<Row = Record<string, unknown>>(sql: string): Statement<Row>;
  exec(sql: string): Database;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<F extends (...args: never[]) => unknown>(fn: F): Transaction<F>;
  close(): Database;
}

export interface DatabaseOptions {
  readonly?: boolean;
  fileMustExist?: boolean;
  /** Busy timeout in ms (better-sqlite3 sets busy_timeout from it). */
  timeout?: number;
}

type DatabaseConstructor = new (filename: string, options?: DatabaseOptions) => Database;

let ctor: DatabaseConstructor | undefined;

/** Opens a SQLite database file (or ':memory:') with better-sqlite3. */
export function openDatabase(filename: string, options?: DatabaseOptions): Database {
  ctor ??= createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;
  return new ctor(filename, options);
}
