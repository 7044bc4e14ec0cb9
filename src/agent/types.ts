/**
 * The optimization loop's shared vocabulary: what a proposer is asked, what it
 * answers, and what one model call costs. The loop (loop.ts) does not care which
 * proposer answers: anthropic, openai-compatible, replay and tuner all implement
 * `Proposer`.
 */
import type { QueueFamily } from '../families/queue.js';

/** Where a candidate came from (the store's variant origins, less `builtin` and `file`). */
export type ProposerName = 'anthropic' | 'openai-compatible' | 'replay' | 'tuner';
export const PROPOSERS: readonly ProposerName[] = ['anthropic', 'openai-compatible', 'replay', 'tuner'];

/** The seeds' common tasks (`perflab agent <task>`); `optimize` is also `perflab optimize`. */
export type AgentTask = 'optimize' | 'lock-free' | 'profile';

/**
 * The answer schema the seeds use: `{ analysis, optimizations, implementation }`.
 * `implementation` carries either whole files (the candidate is the one .c/.cc
 * file) or search/replace edits applied to the parent's source, and may set the
 * knobs the parent declares. See schema.ts for the JSON Schema and validation.
 */
export interface AgentAnswer {
  analysis: {
    summary: string;
    bottlenecks: string[];
  };
  optimizations: {
    title: string;
    rationale: string;
    expected_gain: string;
    risk: string;
  }[];
  implementation: {
    /** Whole files; for a queue variant exactly one, named *.c or *.cc. */
    files?: { path: string; content: string }[];
    /** Edits to the parent's source, applied in order; each `search` must occur exactly once. */
    edits?: { search: string; replace: string }[];
    /** Knob values (names the source declares with `perflab:knob`). */
    knobs?: Record<string, string>;
  };
}

/** Tokens of one call, in the Messages API's terms (other providers map onto them). */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export const ZERO_USAGE: TokenUsage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

/**
 * One proposer call as recorded in the store (`proposals` table). Never holds a key.
 * `response` is what replay answers from: the structured answer as JSON text
 * (or, for a failed call, whatever text came back, trimmed).
 */
export interface ProposerCall {
  provider: ProposerName;
  model: string | null;
  /** sha256 (16 hex) of the system prefix + user message + schema: where a replay diverges. */
  requestHash: string;
  usage: TokenUsage;
  /** Cost in USD from the dated price table; null when the model is not priced (or not an API model). */
  usd: number | null;
  /** The price table's date ("2026-11-01"), or null. */
  priceTable: string | null;
  latencyMs: number;
  stopReason: string | null;
  outcome: 'ok' | 'invalid' | 'refused' | 'error';
  /** Why a call did not give a usable answer (trimmed). */
  error: string | null;
  response: string;
}

/** One attempt of the experiment so far, as the next prompt shows it. */
export interface AttemptSummary {
  iteration: number;
  hash: string | null;
  /** Short description: the proposer's optimization titles, or the knob settings. */
  note: string;
  /** The stage reached: propose | dedupe | compile | static | sanitize | conformance | screen | compare | confirm. */
  stage: string;
  verdict: 'pass' | 'fail';
  /** Speedup over `from` (> 1 better) with its 95% CI, when measured. */
  ratio: number | null;
  ci95: [number, number] | null;
  /** The comparison's verdict against `from` (faster/slower/same/inconclusive), when measured. */
  compare: string | null;
  reason: string;
  /** Trimmed evidence of a failure (compiler output, sanitizer report). */
  log: string;
  knobs: Record<string, string>;
}

/** A knob a variant declares: `/* perflab:knob NAME=v1|v2|v3 *\/` (the first value is the default). */
export interface KnobSpec {
  name: string;
  values: string[];
}

/** Profile of a variant: instructions per push+pop and where they go (callgrind). */
export interface ProfileData {
  instructions_per_op: number | null;
  /** Functions by self instructions, largest first. */
  hot: { fn: string; ir: number; pct: number }[];
  /** Why there is no profile (e.g. valgrind missing), or null. */
  unavailable: string | null;
}

/** Everything a prompt is built from; the tuner reads it directly. */
export interface PromptContext {
  task: AgentTask;
  family: QueueFamily;
  experimentId: string;
  iteration: number;
  from: { name: string; hash: string };
  /** The variant the candidate should improve on (the current best; `from` at first). */
  parent: { name: string; hash: string; source: string; language: 'c' | 'cc'; knobs: Record<string, string> };
  knobSpace: KnobSpec[];
  /** Measured metrics of the parent (and from), per metric name, with units. */
  metrics: { metric: string; unit: string; from: number | null; parent: number | null; parentRatio: number | null; parentCi95: [number, number] | null }[];
  /** The target: the ratio over `from` the loop is after. */
  target: { metric: string; ratio: number };
  attempts: AttemptSummary[];
  profile: ProfileData | null;
  /** Machine summary: cpu, cores, kernel, compiler, flags. */
  env: Record<string, unknown>;
  /** lock-free task: the structure and thread counts asked for. */
  structure?: { kind: QueueFamily; producers: number; consumers: number };
}

/** A prompt as sent: the byte-stable system prefix (persona + contract + invariants) and the user message. */
export interface BuiltPrompt {
  persona: string;
  /** sha256 (16 hex) of the persona file as read (before rendering the reference section). */
  personaHash: string;
  /** The cacheable prefix: must not change between iterations of an experiment. */
  system: string;
  user: string;
}

export interface ProposeRequest {
  prompt: BuiltPrompt;
  context: PromptContext;
  /** Aborted on Ctrl-C: the proposer gives up its call. */
  signal?: AbortSignal;
}

/** What a proposer gives back: an answer to evaluate, a failed call (recorded, fed back), or nothing more to try. */
export type Proposal =
  | { kind: 'answer'; answer: AgentAnswer; call: ProposerCall }
  | { kind: 'failed'; reason: string; call: ProposerCall }
  | { kind: 'exhausted'; reason: string };

export interface Proposer {
  readonly name: ProposerName;
  readonly model: string | null;
  propose(request: ProposeRequest): Promise<Proposal>;
}
