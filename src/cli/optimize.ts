/**
 * `perflab optimize` and `perflab agent <task>`: the optimization loop from the
 * command line. Progress and a live table of attempts go to stderr; the result
 * (the INTERFACES.md document with --json) to stdout. Ctrl-C leaves the
 * experiment resumable and prints what it has.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { BASELINE, type QueueFamily } from '../families/queue.js';
import { PRICE_TABLE_DATE, priceFor } from '../agent/prices.js';
import { attemptRow, attemptTableHeader, experimentReport, renderReport, type OptimizeReport } from '../agent/report.js';
import { acquireMeasureLock } from '../pipeline/lock.js';
import { stderrProgress } from '../report/progress.js';
import { Experiments, openStore, type Store } from '../store/index.js';
import { parseFamily } from './check.js';
import { onInterrupt } from './interrupt.js';
import { intOption, positiveOption } from './options.js';
import { emit } from './output.js';
import { registerProfileTask } from './profile.js';

export interface OptimizeFlags {
  family?: string;
  from?: string;
  proposer?: string;
  persona?: string;
  model?: string;
  iterations?: string;
  maxUsd?: string;
  maxTokens?: string;
  maxMinutes?: string;
  resume?: string;
  baseUrl?: string;
  replay?: string;
  rounds?: string;
  sampleMs?: string;
  seed?: string;
  sandbox?: boolean;
  store?: string;
  json?: boolean;
  list?: boolean;
}

/** The options optimize and `agent optimize|lock-free` share. */
export function loopOptions(cmd: Command): Command {
  return cmd
    .option('--proposer <name>', 'anthropic | openai-compatible | replay | tuner (default: anthropic when ANTHROPIC_API_KEY is set, else tuner)')
    .option('--persona <name>', 'hpc-network-expert or systems-engineer (default by task: see perflab prompts list)')
    .option('--model <id>', 'model for the LLM proposers (default: PERFLAB_MODEL, else the current default)')
    .option('--iterations <n>', 'candidates evaluated, failed proposals included (default 10)')
    .option('--max-usd <x>', 'stop before a call that could take the spend past X dollars')
    .option('--max-tokens <n>', 'stop before a call that could take the tokens (input, output and cache) past N')
    .option('--max-minutes <m>', 'stop starting new iterations after M minutes')
    .option('--resume <id>', 'resume an interrupted or finished experiment (limits given now override its own)')
    .option('--base-url <url>', 'the openai-compatible server (llama.cpp, vLLM, Ollama), e.g. http://127.0.0.1:8080/v1')
    .option('--replay <id>', 'with --proposer replay: the experiment whose recorded answers are replayed offline')
    .option('--rounds <n>', 'interleaved rounds of each comparison (default 8)')
    .option('--sample-ms <n>', 'length of one throughput sample in ms (default 300)')
    .option('--seed <n>', 'base of the conformance seeds (default random; replays reuse the original)')
    .option('--no-sandbox', 'run candidates without the sandbox (never for untrusted code)')
    .option('--store <path>', 'the store (default ./.perflab/perflab.db or PERFLAB_STORE)')
    .option('--json', 'print one JSON document on stdout');
}

async function runLoop(given: 'optimize' | 'lock-free', flags: OptimizeFlags, structure: { kind: QueueFamily; producers: number; consumers: number } | null): Promise<void> {
  let task = given;
  const progress = stderrProgress();
  const store = openStore(flags.store);
  try {
    const exps = new Experiments(store);
    const resumed = flags.resume ? exps.get(flags.resume) : undefined;
    if (flags.resume && !resumed) throw new UsageError(`no experiment "${flags.resume}" in the store ${store.path}`);
    const original = flags.replay ? exps.get(flags.replay) : undefined;
    if (flags.replay && !original) throw new UsageError(`no experiment "${flags.replay}" to replay in the store ${store.path}`);
    if (resumed && flags.replay && flags.replay !== resumed.options.replayOf) throw new UsageError(`experiment ${resumed.id} ${resumed.options.replayOf ? `replays ${resumed.options.replayOf}` : 'is not a replay'}; resume it without --replay`);
    if (resumed && flags.model && flags.model !== resumed.model) throw new UsageError(`experiment ${resumed.id} was run with the model ${resumed.model ?? '(none)'}; resume it without --model, or start a new experiment`);
    const base = resumed ?? original;
    const family = structure?.kind ?? (flags.family ? parseFamily(flags.family) : base ? (base.family as QueueFamily) : parseFamily(undefined));
    // A replay starts from the original's start by hash (its name may be a path that has moved since).
    const from = flags.from ?? (original ? original.fromHash : base?.fromName) ?? (task === 'lock-free' ? BASELINE[family] : undefined);
    if (original && original.task !== 'profile') task = original.task;
    if (!from) throw new UsageError('--from V is required: the variant to start from (a built-in name such as naive, a stored name or hash, or a .c/.cc path)');
    // The loop, the proposers and their schema library load when a loop runs, not with every command.
    const { makeProposer } = await import('../agent/proposers/index.js');
    const { optimize } = await import('../agent/loop.js');
    const proposer = await makeProposer({ proposer: flags.proposer ?? resumed?.proposer, model: flags.model ?? (resumed?.proposer === 'anthropic' || resumed?.proposer === 'openai-compatible' ? (resumed.model ?? undefined) : undefined), baseUrl: flags.baseUrl ?? resumed?.options.baseUrl ?? undefined, replay: flags.replay ?? resumed?.options.replayOf ?? undefined }, exps);
    if (task === 'lock-free' && proposer.name === 'tuner') {
      throw new UsageError('agent lock-free writes a new variant from scratch, which needs a model: set ANTHROPIC_API_KEY, or use --proposer openai-compatible --base-url URL (or --proposer replay --replay ID); the tuner only searches the knobs of an existing variant');
    }
    if (flags.maxUsd !== undefined && proposer.name === 'anthropic' && priceFor(proposer.model) === null) {
      throw new UsageError(`--max-usd cannot be enforced: the model ${proposer.model} is not in the price table of ${PRICE_TABLE_DATE} (src/agent/prices.ts); use --max-tokens, or a priced --model`);
    }
    const limits = {
      iterations: intOption('iterations', flags.iterations, 1, 10_000) ?? (original && !flags.resume ? exps.attempts(original.id).length : undefined),
      maxUsd: positiveOption('max-usd', flags.maxUsd),
      maxTokens: intOption('max-tokens', flags.maxTokens, 1, 1e12),
      maxMinutes: positiveOption('max-minutes', flags.maxMinutes),
    };
    const lock = await acquireMeasureLock(`perflab optimize (pid ${process.pid})`, (m) => progress.log(`perflab: ${m}`));
    let experimentId: string | undefined;
    const off = onInterrupt(() => {
      if (!experimentId) return;
      exps.update(experimentId, { status: 'stopped', stoppedBy: 'interrupt', pid: null });
      const r = experimentReport(store, experimentId);
      progress.log(`perflab: experiment ${experimentId} stopped; resume with: perflab optimize --resume ${experimentId}`);
      emit(flags.json === true, r, () => renderReport(r));
    });
    let report: OptimizeReport;
    try {
      report = await optimize({
        store, family, task, from, proposer, persona: flags.persona ?? original?.persona, resume: flags.resume, limits,
        rounds: intOption('rounds', flags.rounds, 3, 200) ?? original?.options.rounds,
        sampleMs: intOption('sample-ms', flags.sampleMs, 20, 60_000) ?? original?.options.sampleMs,
        seed: intOption('seed', flags.seed, 0, 2 ** 31 - 1) ?? original?.options.seed,
        sandbox: flags.sandbox !== false,
        replayOf: original?.id ?? null,
        systemPrompt: original?.systemPrompt,
        baseUrl: flags.baseUrl ?? null,
        structure: structure ?? original?.options.structure ?? null,
        progress,
        log: (line) => progress.log(line),
        onStart: (e) => {
          experimentId = e.id;
          progress.log(`perflab: experiment ${e.id}: ${e.family} from ${e.fromName}, ${e.proposer}${e.model ? ` (${e.model})` : ''}, persona ${e.persona}, up to ${e.options.iterations} iterations`);
          progress.log(attemptTableHeader());
        },
        onAttempt: (a) => progress.log(attemptRow(a)),
      });
    } finally {
      off();
      lock.release();
    }
    emit(flags.json === true, report, () => renderReport(report));
    process.exitCode = 0;
  } finally {
    store.close();
  }
}

function listExperiments(store: Store, json: boolean): void {
  const exps = new Experiments(store);
  const list = exps.list().map((e) => ({ id: e.id, family: e.family, task: e.task, from: e.fromName, proposer: e.proposer, status: e.status, stopped_by: e.stoppedBy, attempts: exps.attempts(e.id).length, promoted: e.promoted, created_at: e.createdAt }));
  emit(json, { schema_version: 1, experiments: list }, () =>
    list.length === 0 ? 'no experiments in this store yet' : list.map((e) => `${e.id}  ${e.family} from ${e.from}  ${e.proposer}  ${e.status}${e.stopped_by ? ` (${e.stopped_by})` : ''}  ${e.attempts} attempts${e.promoted ? `  promoted ${e.promoted.name} ${e.promoted.ratio.toFixed(2)}x` : ''}`).join('\n'));
}

export function registerOptimize(program: Command): void {
  loopOptions(
    program
      .command('optimize')
      .description('the optimization loop: a proposer (LLM persona or knob tuner) suggests variants, the pipeline checks and measures them, results feed the next prompt')
      .option('--family <family>', 'spsc or mpmc')
      .option('--from <variant>', 'the variant to improve: a built-in name, a stored name or hash, or a .c/.cc path')
      .option('--list', 'list the experiments in the store and exit'),
  ).action(async (flags: OptimizeFlags) => {
    if (flags.list) {
      using store = openStore(flags.store);
      listExperiments(store, flags.json === true);
      return;
    }
    await runLoop('optimize', flags, null);
  });
}

export function registerAgent(program: Command): void {
  const agent = program.command('agent').description("the seeds' common tasks through the same machinery: optimize, lock-free, profile");
  loopOptions(
    agent
      .command('optimize')
      .description('same as perflab optimize')
      .option('--family <family>', 'spsc or mpmc')
      .option('--from <variant>', 'the variant to improve'),
  ).action(async (flags: OptimizeFlags) => runLoop('optimize', flags, null));
  loopOptions(
    agent
      .command('lock-free')
      .description('a new lock-free variant written from scratch by the persona, then checked and measured against the baseline')
      .requiredOption('--structure <kind>', 'spsc or mpmc')
      .option('--producers <n>', 'producer threads (spsc: 1)', '1')
      .option('--consumers <n>', 'consumer threads (spsc: 1)', '1'),
  ).action(async (flags: OptimizeFlags & { structure: string; producers: string; consumers: string }) => {
    const kind = parseFamily(flags.structure);
    const producers = intOption('producers', flags.producers, 1, 64, 1);
    const consumers = intOption('consumers', flags.consumers, 1, 64, 1);
    if (kind === 'spsc' && (producers !== 1 || consumers !== 1)) throw new UsageError('--structure spsc has exactly one producer and one consumer; use --structure mpmc for more');
    await runLoop('lock-free', { ...flags, family: kind }, { kind, producers, consumers });
  });
  registerProfileTask(agent);
}
