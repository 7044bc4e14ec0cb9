/** Stable error codes; `code` never changes meaning between versions. */
export type PerflabErrorCode =
  | 'ERR_PERFLAB_USAGE'
  | 'ERR_PERFLAB_ENVIRONMENT'
  | 'ERR_PERFLAB_NOT_BUILT'
  | 'ERR_PERFLAB_COMPILE'
  | 'ERR_PERFLAB_RUNNER'
  | 'ERR_PERFLAB_DISPOSED'
  | 'ERR_PERFLAB_BAD_BUFFER'
  | 'ERR_PERFLAB_STORE';

/** Base class of perflab's own errors; `exitCode` follows INTERFACES.md (2 usage, 3 environment). */
export class PerflabError extends Error {
  readonly code: PerflabErrorCode;
  readonly exitCode: number;
  constructor(code: PerflabErrorCode, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PerflabError';
    this.code = code;
    this.exitCode = options?.exitCode ?? (code === 'ERR_PERFLAB_USAGE' ? 2 : code === 'ERR_PERFLAB_ENVIRONMENT' || code === 'ERR_PERFLAB_NOT_BUILT' ? 3 : 1);
  }
}

/** Bad command-line input: exit code 2, message says what and how to fix it. */
export class UsageError extends PerflabError {
  constructor(message: string) {
    super('ERR_PERFLAB_USAGE', message);
    this.name = 'UsageError';
  }
}
