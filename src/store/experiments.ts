/**
 * The optimization loop's records (schema version 2): experiments, every
 * proposer call (tokens, cost, latency, the answer a replay gives back) and
 * every attempt (one candidate evaluated). Each record is its own transaction,
 * so an experiment killed halfway can be resumed from what is here. Every write
 * goes through the store's secret guard: a key never lands in the file.
 */
import { randomUUID } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { AgentTask, AttemptSummary, ProposerCall, ProposerName, TokenUsage } from '../agent/types.js';
import { toJson } from './guard.js';
import { now, optNum, optStr, parse, str, type Row } from './row.js';
import type { Store } from './store.js';

export type ExperimentStatus = 'running' | 'stopped' | 'done';
export type StoppedBy = 'iterations' | 'usd' | 'tokens' | 'minutes' | 'interrupt' | 'done' | 'error';

/** What an experiment was asked to do; stored as JSON so a resume runs the same way. */
export interface ExperimentOptions {
  iterations: number;
  maxUsd: number | null;
  maxTokens: number | null;
  maxMinutes: number | null;
  /** Interleaved rounds per comparison, and the sample length (ms). */
  rounds: number;
  sampleMs: number;
  workload: 'throughput' | 'latency' | 'op_cost';
  /** Base of the per-iteration conformance seeds (replays reuse the original's). */
  seed: number;
  replayOf: string | null;
  baseUrl: string | null;
  structure: { kind: 'spsc' | 'mpmc'; producers: number; consumers: number } | null;
  sandbox: boolean;
  /** Minutes already spent in earlier sessions of this experiment (a resume adds to it). */
  minutesSpent: number;
}

export interface Promoted {
  name: string;
  hash: string;
  ratio: number;
  ci95: [number, number];
}

export interface ExperimentRecord {
  id: string;
  family: string;
  task: AgentTask;
  fromName: string;
  fromHash: string;
  proposer: ProposerName;
  model: string | null;
  persona: string;
  personaHash: string;
  systemPrompt: string;
  options: ExperimentOptions;
  status: ExperimentStatus;
  stoppedBy: StoppedBy | null;
  bestHash: string | null;
  promoted: Promoted | null;
  pid: number | null;
  env: object;
  gitSha: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StoredCall extends ProposerCall {
  experimentId: string;
  iteration: number;
  persona: string;
  personaHash: string;
  createdAt: string;
}

/** One attempt as stored (the prompt's view plus bookkeeping). */
export interface StoredAttempt extends AttemptSummary {
  experimentId: string;
  parentHash: string | null;
  isBest: boolean;
  seed: number | null;
  flags: string[];
  durationMs: number | null;
  createdAt: string;
}


/** The experiment tables of one store. */
export class Experiments {
  constructor(private readonly store: Store) {}

  create(e: Omit<ExperimentRecord, 'id' | 'status' | 'stoppedBy' | 'bestHash' | 'promoted' | 'createdAt' | 'updatedAt'> & { id?: string }): ExperimentRecord {
    const id = e.id ?? `exp-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomUUID().slice(0, 8)}`;
    const at = now();
    this.store.transaction(() => {
      this.store.write(`experiment ${id}`, 'INSERT INTO experiments (id, family, task, from_name, from_hash, proposer, model, persona, persona_hash, system_prompt, options, status, stopped_by, best_hash, promoted, pid, env, git_sha, created_at, updated_at) VALUES (@id, @family, @task, @from_name, @from_hash, @proposer, @model, @persona, @persona_hash, @system_prompt, @options, \'running\', NULL, NULL, NULL, @pid, @env, @git_sha, @at, @at)', {
        id,
        family: e.family,
        task: e.task,
        from_name: e.fromName,
        from_hash: e.fromHash,
        proposer: e.proposer,
        model: e.model,
        persona: e.persona,
        persona_hash: e.personaHash,
        system_prompt: e.systemPrompt,
        options: toJson(e.options),
        pid: e.pid,
        env: toJson(e.env),
        git_sha: e.gitSha,
        at,
      });
    });
    return this.get(id)!;
  }

  get(id: string): ExperimentRecord | undefined {
    const row = this.store.stmt('SELECT * FROM experiments WHERE id = ?').get([id]);
    return row ? toExperiment(row) : undefined;
  }

  /** Every experiment, newest first (optionally of one family). */
  list(family?: string): ExperimentRecord[] {
    const rows = family === undefined
      ? this.store.stmt('SELECT * FROM experiments ORDER BY created_at DESC, rowid DESC').all()
      : this.store.stmt('SELECT * FROM experiments WHERE family = ? ORDER BY created_at DESC, rowid DESC').all([family]);
    return rows.map(toExperiment);
  }

  update(id: string, u: { status?: ExperimentStatus; stoppedBy?: StoppedBy | null; bestHash?: string | null; promoted?: Promoted | null; pid?: number | null; options?: ExperimentOptions }): void {
    this.store.transaction(() => {
      const cur = this.get(id);
      if (!cur) throw new UsageError(`no experiment ${id} in the store`);
      this.store.write(`experiment ${id}`, 'UPDATE experiments SET status = @status, stopped_by = @stopped_by, best_hash = @best_hash, promoted = @promoted, pid = @pid, options = @options, updated_at = @at WHERE id = @id', {
        id,
        status: u.status ?? cur.status,
        stopped_by: u.stoppedBy !== undefined ? u.stoppedBy : cur.stoppedBy,
        best_hash: u.bestHash !== undefined ? u.bestHash : cur.bestHash,
        promoted: toJson(u.promoted !== undefined ? u.promoted : cur.promoted),
        pid: u.pid !== undefined ? u.pid : cur.pid,
        options: toJson(u.options ?? cur.options),
        at: now(),
      });
    });
  }

  recordCall(experimentId: string, iteration: number, persona: { name: string; hash: string }, c: ProposerCall): void {
    this.store.transaction(() => {
      this.store.write(`proposer call ${experimentId}#${iteration}`, 'INSERT INTO proposer_calls (experiment_id, iteration, provider, model, persona, persona_hash, request_hash, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, usd, price_table, latency_ms, stop_reason, outcome, error, response, created_at) VALUES (@experiment_id, @iteration, @provider, @model, @persona, @persona_hash, @request_hash, @input_tokens, @output_tokens, @cache_creation_input_tokens, @cache_read_input_tokens, @usd, @price_table, @latency_ms, @stop_reason, @outcome, @error, @response, @created_at)', {
        experiment_id: experimentId,
        iteration,
        provider: c.provider,
        model: c.model,
        persona: persona.name,
        persona_hash: persona.hash,
        request_hash: c.requestHash,
        input_tokens: c.usage.input_tokens,
        output_tokens: c.usage.output_tokens,
        cache_creation_input_tokens: c.usage.cache_creation_input_tokens,
        cache_read_input_tokens: c.usage.cache_read_input_tokens,
        usd: c.usd,
        price_table: c.priceTable,
        latency_ms: c.latencyMs,
        stop_reason: c.stopReason,
        outcome: c.outcome,
        error: c.error,
        response: c.response,
        created_at: now(),
      });
    });
  }

  /** The call recorded for (experiment, iteration), if any. */
  call(experimentId: string, iteration: number): StoredCall | undefined {
    const row = this.store.stmt('SELECT * FROM proposer_calls WHERE experiment_id = ? AND iteration = ?').get([experimentId, iteration]);
    return row ? toCall(row) : undefined;
  }

  calls(experimentId: string): StoredCall[] {
    return this.store.stmt('SELECT * FROM proposer_calls WHERE experiment_id = ? ORDER BY iteration').all([experimentId]).map(toCall);
  }

  /** Summed usage of an experiment's calls; usd is null only when a call was unpriced and nothing else was priced. */
  usage(experimentId: string): TokenUsage & { usd: number; unpriced_calls: number } {
    const r = this.store.stmt('SELECT COALESCE(SUM(input_tokens), 0) AS i, COALESCE(SUM(output_tokens), 0) AS o, COALESCE(SUM(cache_creation_input_tokens), 0) AS cw, COALESCE(SUM(cache_read_input_tokens), 0) AS cr, COALESCE(SUM(usd), 0) AS usd, SUM(CASE WHEN usd IS NULL AND provider IN (\'anthropic\') THEN 1 ELSE 0 END) AS unpriced FROM proposer_calls WHERE experiment_id = ?').get([experimentId])!;
    return { input_tokens: Number(r.i), output_tokens: Number(r.o), cache_creation_input_tokens: Number(r.cw), cache_read_input_tokens: Number(r.cr), usd: Number(r.usd), unpriced_calls: Number(r.unpriced ?? 0) };
  }

  recordAttempt(a: Omit<StoredAttempt, 'createdAt'>): void {
    this.store.transaction(() => {
      if (a.isBest) this.store.write(`attempts of ${a.experimentId}`, 'UPDATE attempts SET is_best = 0 WHERE experiment_id = @id', { id: a.experimentId });
      this.store.write(`attempt ${a.experimentId}#${a.iteration}`, 'INSERT INTO attempts (experiment_id, iteration, variant_hash, parent_hash, note, stage, verdict, ratio, ci_lo, ci_hi, compare_verdict, is_best, reason, log, seed, knobs, flags, duration_ms, created_at) VALUES (@experiment_id, @iteration, @variant_hash, @parent_hash, @note, @stage, @verdict, @ratio, @ci_lo, @ci_hi, @compare_verdict, @is_best, @reason, @log, @seed, @knobs, @flags, @duration_ms, @created_at)', {
        experiment_id: a.experimentId,
        iteration: a.iteration,
        variant_hash: a.hash,
        parent_hash: a.parentHash,
        note: a.note,
        stage: a.stage,
        verdict: a.verdict,
        ratio: a.ratio,
        ci_lo: a.ci95?.[0] ?? null,
        ci_hi: a.ci95?.[1] ?? null,
        compare_verdict: a.compare,
        is_best: a.isBest ? 1 : 0,
        reason: a.reason,
        log: a.log,
        seed: a.seed,
        knobs: toJson(a.knobs),
        flags: toJson(a.flags),
        duration_ms: a.durationMs,
        created_at: now(),
      });
    });
  }

  attempts(experimentId: string): StoredAttempt[] {
    return this.store.stmt('SELECT * FROM attempts WHERE experiment_id = ? ORDER BY iteration').all([experimentId]).map(toAttempt);
  }
}

function toExperiment(r: Row): ExperimentRecord {
  return {
    id: str(r.id),
    family: str(r.family),
    task: str(r.task) as AgentTask,
    fromName: str(r.from_name),
    fromHash: str(r.from_hash),
    proposer: str(r.proposer) as ProposerName,
    model: optStr(r.model),
    persona: str(r.persona),
    personaHash: str(r.persona_hash),
    systemPrompt: str(r.system_prompt),
    options: parse<ExperimentOptions>(r.options, {} as ExperimentOptions),
    status: str(r.status) as ExperimentStatus,
    stoppedBy: optStr(r.stopped_by) as StoppedBy | null,
    bestHash: optStr(r.best_hash),
    promoted: parse<Promoted | null>(r.promoted, null),
    pid: optNum(r.pid),
    env: parse<object>(r.env, {}),
    gitSha: optStr(r.git_sha),
    createdAt: str(r.created_at),
    updatedAt: str(r.updated_at),
  };
}

function toCall(r: Row): StoredCall {
  return {
    experimentId: str(r.experiment_id),
    iteration: Number(r.iteration),
    provider: str(r.provider) as ProposerName,
    model: optStr(r.model),
    persona: str(r.persona),
    personaHash: str(r.persona_hash),
    requestHash: str(r.request_hash),
    usage: {
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      cache_creation_input_tokens: Number(r.cache_creation_input_tokens),
      cache_read_input_tokens: Number(r.cache_read_input_tokens),
    },
    usd: optNum(r.usd),
    priceTable: optStr(r.price_table),
    latencyMs: Number(r.latency_ms),
    stopReason: optStr(r.stop_reason),
    outcome: str(r.outcome) as ProposerCall['outcome'],
    error: optStr(r.error),
    response: str(r.response),
    createdAt: str(r.created_at),
  };
}

function toAttempt(r: Row): StoredAttempt {
  return {
    experimentId: str(r.experiment_id),
    iteration: Number(r.iteration),
    hash: optStr(r.variant_hash),
    parentHash: optStr(r.parent_hash),
    note: str(r.note),
    stage: str(r.stage),
    verdict: str(r.verdict) as 'pass' | 'fail',
    ratio: optNum(r.ratio),
    ci95: r.ci_lo === null || r.ci_lo === undefined ? null : [Number(r.ci_lo), Number(r.ci_hi)],
    compare: optStr(r.compare_verdict),
    isBest: Number(r.is_best) === 1,
    reason: str(r.reason),
    log: str(r.log),
    seed: optNum(r.seed),
    knobs: parse<Record<string, string>>(r.knobs, {}),
    flags: parse<string[]>(r.flags, []),
    durationMs: optNum(r.duration_ms),
    createdAt: str(r.created_at),
  };
}
