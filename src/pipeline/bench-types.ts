import type { EnvFingerprint } from './env.js';

/** One result row of `perflab bench --json` (INTERFACES.md), plus the ratio to the family baseline. */
export interface BenchResult {
  family: string;
  variant: string;
  workload: string;
  params: Record<string, number | string>;
  metric: string;
  unit: string;
  higher_is_better: boolean;
  median: number;
  ci95: [number, number];
  samples: number[];
  /**
   * Ratio to the baseline variant of the same group, measured in the same run
   * (> 1: better): the median of per-round ratios (samples of one round are
   * taken back to back, so the machine's phase cancels), with a bootstrap 95%
   * interval over rounds.
   */
  vs_baseline?: { variant: string; ratio: number; ci95: [number, number]; method: 'paired-rounds' | 'ratio-of-medians' } | null;
  /** Resource use per sample, where the runner measured it. */
  rusage?: { user_s: number; sys_s: number; voluntary_ctx: number; involuntary_ctx: number }[];
  affinity?: string;
  /** Warnings that make the number less certain (e.g. a wide spread). */
  flags?: string[];
}

export interface BenchSkip {
  family: string;
  variant: string;
  workload: string;
  reason: string;
}

export interface BenchDocument {
  schema_version: 1;
  env: EnvFingerprint;
  results: BenchResult[];
  skipped: BenchSkip[];
  /** Cells whose samples failed validation: a correctness failure, never a number. */
  failures: BenchSkip[];
  /** sample_ms: time box of a native sample; js_sample_ms: of a cross-worker sample. */
  timing: { started: string; seconds: number; samples_per_cell: number; sample_ms: number; js_sample_ms: number; quick: boolean };
}

/** Receives progress of long work; the CLI renders it on a TTY or as plain lines. */
export interface Progress {
  start(total: number, label: string): void;
  tick(detail: string): void;
  log(message: string): void;
  done(): void;
}

export const silentProgress: Progress = { start() {}, tick() {}, log() {}, done() {} };
