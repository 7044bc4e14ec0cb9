/**
 * Builds what a proposer sends: the system prefix (persona with its rendered
 * performance reference, the family's C contract, the fixed build flags, the
 * invariants, the evaluation cascade and the answer format) and the user
 * message (the task in the seeds' shape, the parent's code, every attempt so
 * far, the profile, the knob space and the environment).
 *
 * The system prefix is byte-stable for a given (persona file, reference text,
 * family): it carries no timestamp beyond what the reference carries and no
 * iteration data, so the Messages API can cache it across an experiment. The
 * user message is a pure function of the PromptContext.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QueueFamily } from '../families/queue.js';
import { METRICS } from '../families/queue.js';
import { readSources } from '../native/sources.js';
import { packageRoot } from '../paths.js';
import { variantFlags } from '../pipeline/build.js';
import { formatValue } from '../report/table.js';
import { REFERENCE_PLACEHOLDER, type Persona } from './personas.js';
import type { AttemptSummary, BuiltPrompt, PromptContext } from './types.js';

/** Each failed attempt's log is cut to this many characters in the user message. */
export const ATTEMPT_LOG_CHARS = 1500;
/** Budget of the attempts table's rows; the newest and the best rows are kept first. */
export const ATTEMPT_ROWS_CHARS = 14_000;
/** Budget of the failure logs under the attempts table. */
export const ATTEMPT_LOGS_CHARS = 12_000;
/** How many of the best measured attempts are always kept. */
const KEEP_BEST = 3;

/** The role line of the task block, per persona. */
const ROLES: Record<string, string> = {
  'hpc-network-expert': 'High-performance networking engineer',
  'systems-engineer': 'Systems engineer',
};

/** A rough token estimate (about four characters a token for English and code). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The persona's text with its reference placeholder line replaced (appended under a heading if the file has none). */
export function renderPersona(persona: Pick<Persona, 'text'>, reference: string): string {
  const ref = reference.trimEnd();
  const lines = persona.text.replace(/\r\n/g, '\n').split('\n');
  const at = lines.findIndex((l) => l.trim() === REFERENCE_PLACEHOLDER);
  if (at < 0) return `${persona.text.trimEnd()}\n\n## Performance reference\n\n${ref}`;
  lines.splice(at, 1, ...ref.split('\n'));
  return lines.join('\n').trimEnd();
}

/** A code fence longer than any run of backticks in `body`. */
function fence(body: string, lang = ''): string {
  const longest = Math.max(0, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(Math.max(3, longest + 1));
  return `${f}${lang}\n${body.replace(/\n+$/, '')}\n${f}`;
}

function contractPath(family: QueueFamily): string {
  return readSources().variant_flags.contract[family];
}

/** The fixed flags of each build a candidate gets, with the contract path relative to the package. */
function buildSection(family: QueueFamily): string {
  const s = readSources().variant_flags;
  const contract = contractPath(family);
  const base = variantFlags(family, 'variant.c', 'none').flags;
  const extra = (san: 'thread' | 'address') => variantFlags(family, 'variant.c', san).flags.filter((f) => !base.includes(f)).join(' ');
  return [
    '## Build: fixed flags',
    '',
    'Every candidate is compiled by the lab with these flags; a candidate cannot change them. Knob values are the only `-D` definitions added.',
    '',
    `- C (a \`.c\` file): \`gcc ${s.c.join(' ')} -include ${contract} [-DKNOB=value ...] ${s.link.join(' ')} -o variant.so variant.c\``,
    `- C++ (a \`.cc\` file): \`g++ ${s.cxx.join(' ')} -include ${contract} [-DKNOB=value ...] ${s.link.join(' ')} -o variant.so variant.cc\``,
    `- ThreadSanitizer build: the same plus \`${extra('thread')}\``,
    `- AddressSanitizer + UndefinedBehaviorSanitizer build: the same plus \`${extra('address')}\``,
    '',
    'Warnings are errors. What most often fails the compile stage: an unused parameter, variable, label or `static` function (`(void)x;` or remove it); comparison of signed and unsigned integers (`-Wsign-compare`, part of `-Wextra`); a `switch` that falls through without a comment; a missing field initializer; shadowed or implicitly declared functions (include the standard header you use). ' +
      'The contract header is force-included, so `uint64_t`, `size_t` and `bool` are already declared; include `<stdatomic.h>`, `<stdlib.h>`, `<string.h>`, `<stdalign.h>`, `<assert.h>` or `<pthread.h>` yourself as needed. ' +
      'There is no `-march`: the code is compiled for generic x86-64 and runs on the machine named in the reference.',
  ].join('\n');
}

function invariantsSection(family: QueueFamily): string {
  const threads = family === 'spsc'
    ? 'Family `spsc`: exactly one producer thread calls `try_push`/`try_push_bulk` and exactly one consumer thread calls `try_pop`/`try_pop_bulk` (they may be the same thread, and single and bulk calls may be mixed). Nothing else is concurrent; in particular two producers never run at once, so an SPSC design needs no read-modify-write on its indices.'
    : 'Family `mpmc`: any number of threads call `try_push`, `try_pop` and the bulk calls concurrently, in any mix. The suite and the workloads run 1x1, 2x2, 3x1, 1x3 and 4x4 producers x consumers and a mix drawn from a hidden seed, on 2 vCPUs, so threads are preempted mid-operation constantly.';
  return [
    '## Invariants: what must hold, and what must not change',
    '',
    'The conformance suite and the sanitizers check these; a candidate that breaks one fails, whatever it measures.',
    '',
    '- **Values.** Every `uint64_t` is a legal value, 0 and `UINT64_MAX` included. No value may serve as an "empty" or "full" marker; state lives in indices or per-cell sequence numbers.',
    '- **Delivery.** Every pushed item is popped exactly once: none lost, none duplicated, none invented. Items of one producer come out in the order that producer pushed them (for spsc, that is plain FIFO).',
    '- **Capacity.** `perflab_queue_create(capacity)` returns NULL for 0 and on any allocation failure (with nothing leaked). On an empty, quiescent queue, `capacity` consecutive pushes succeed; a variant may round up and hold more, but a full edge must exist (below 2 x capacity + 64) and stay put. Capacities 1 and 2 must work. Check size arithmetic for overflow before allocating.',
    `- **Threads.** ${threads}`,
    '- **Failure semantics.** `try_push` returns false only when the queue is full, `try_pop` only when it is empty, except that both may fail spuriously while another thread is in the middle of an operation. On a quiescent queue they are exact: a retry limit that gives up on a quiescent queue is a bug. No call blocks, sleeps or waits for another thread to make progress.',
    '- **Bulk calls.** Optional, but both or neither (`perflab_queue_try_push_bulk` and `perflab_queue_try_pop_bulk`). They may move fewer than n items and return how many moved; items move in order; n = 0 moves nothing; n larger than the capacity is legal; a pop never writes past the count it returns. Without them the driver moves one item at a time and batch-64 cells are not run.',
    '- **Instances are independent.** No mutable global or `static` state: several queues live at once in the suite, one is destroyed while the others hold items, and the latency workload pings over two queues. State shared between instances is caught.',
    '- **Exports.** The shared object defines the contract\'s functions and nothing else public: every helper is `static` (or in an anonymous namespace in C++). Do not define a name libc, libpthread or the C++ runtime exports (no private `malloc`, `memcpy`, `pthread_mutex_lock`, ...): the static stage rejects interposition.',
    '- **Imports.** Only what an in-process bounded queue needs: the malloc family (`malloc`, `calloc`, `realloc`, `free`, `aligned_alloc`, `posix_memalign`), `memcpy`/`memmove`/`memset`/`memcmp`, pthread mutexes, condition variables and spinlocks, `sched_yield`, `abort` and `assert`, errno, thread-local storage, and what the C++ runtime emits for `new`/`delete` and exceptions. Nothing that creates threads or processes, touches files, sockets or pipes, reads clocks or sets timers, handles signals, reads the environment, loads code (`dlopen`), maps memory (`mmap`, `mprotect`) or makes raw system calls (`syscall`). Atomics and builtins such as `__builtin_ia32_pause`, `__builtin_expect` and `__builtin_prefetch` compile to instructions and are fine.',
    '- **Atomics.** C11 `<stdatomic.h>` (or `std::atomic`) with explicit memory orders. Every word that two threads touch, where at least one writes, is atomic (a plain-variable race is undefined behaviour and a TSan report). Every atomic operation that is not seq_cst carries a three-part comment: what it pairs with, what it guarantees, why weaker would break and stronger is not needed.',
    '- **No standalone fences.** No `atomic_thread_fence`, `atomic_signal_fence`, `__sync_synchronize` or inline-asm barrier: ThreadSanitizer does not model fences and g++ 12 rejects `atomic_thread_fence` under `-fsanitize=thread -Werror`, so the sanitize stage fails. Put the ordering on the loads, stores and read-modify-writes themselves.',
    '- **Layout.** Layout assumptions (padding distances, cell sizes, sizes passed to `aligned_alloc` being a multiple of the alignment) are `static_assert`s with a message.',
    '- **File shape.** One self-contained `.c` file (C gnu17; a `.cc` C++ file is accepted). It opens with a short design block comment: technique, threading model, kernel features needed and the fallback. Define `struct perflab_queue` yourself; do not include or redeclare the contract header (it is force-included) and do not change any contract signature.',
    '- **Knobs.** A tunable constant is declared as `/* perflab:knob NAME=v1|v2|v3 */` (first value = default) and given a default with `#ifndef NAME` / `#define NAME v1` / `#endif`; the tuner builds `-DNAME=v`. Knob values are part of a build\'s identity. Declare only knobs the code uses, with values that all compile and pass.',
    '- **No harness-specific behaviour.** Do not special-case values, capacities, thread counts, call patterns or the workloads: the suite draws hidden capacities, values and thread mixes from a seed, and the drivers validate every item.',
  ].join('\n');
}

function workloadsSection(family: QueueFamily): string {
  const mixes = family === 'spsc' ? '1 producer x 1 consumer' : '1x1, 2x2 and 4x4 producers x consumers';
  return [
    '## Workloads and metrics',
    '',
    `- **throughput** (\`items_per_s\`, higher is better): ${mixes}, capacity 1024, batch 1 (single calls) and, for variants with the bulk calls, batch 64. Each sample is a fresh process running for a fixed time box; producers push tagged items, consumers validate every one (order, exactly once), and the rate counts validated items. A failed try backs off with a pause hint a few times and then \`sched_yield\`. In 1x1 the two threads are pinned to different vCPUs.`,
    '- **latency** (`rtt_ns_p50`, `rtt_ns_p99`, lower is better): ping-pong over two queues between two pinned threads; each queue holds at most one item, so it measures how fast a push on one core becomes a successful pop on the other: cache-line transfers, not bulk bandwidth.',
    '- **op_cost** (`instructions_per_op`, lower is better): one thread pushes and pops on an uncontended queue; callgrind counts the instructions of the measured loop only. Deterministic; blind to cache misses and coherence traffic, so it rewards a short fast path and nothing else.',
    '- A result is the median of several samples, each in its own process, with a 95% interval. One absolute number on this VM means little; ratios measured interleaved are what the lab decides on.',
  ].join('\n');
}

function cascadeSection(): string {
  return [
    '## How each candidate is judged',
    '',
    'Your answer becomes a candidate source: the whole file you give, or the parent with your edits applied (and your knob values). It then goes through these stages in order; the first failure stops it, and the stage, a short reason and trimmed evidence come back to you in the attempts table of the next request.',
    '',
    '1. **propose**: the answer must match the schema; edits must each find their `search` text exactly once; knob names must be declared by the source.',
    '2. **dedupe**: a candidate whose content hash (source plus knob values) was evaluated before is not evaluated again.',
    '3. **compile**: the fixed flags above, warnings as errors; the evidence is the compiler output.',
    '4. **static**: the built object is inspected: the contract\'s functions are defined, nothing else is exported, nothing interposes libc, and every import is on the allow-list; the evidence names the offending symbol.',
    '5. **sanitize**: a ThreadSanitizer build and an AddressSanitizer + UndefinedBehaviorSanitizer build (leak checking on) run a short multi-threaded workload; any report fails, and the report is the evidence.',
    '6. **conformance**: the family suite on a quiescent queue (create(0), the full and empty edges at capacities 1, 2, 3, 1000, 65536 and three hidden ones, FIFO, wrap-around, special and random values, the bulk calls, a random call mix checked against a model, several independent instances) and multi-threaded stress (every item exactly once, per-producer order, thread mixes including hidden ones), then one full-length validated run. A hang is stopped after a few seconds and reported.',
    '7. **screen**: one short sample of `from` and of the candidate, each in its own process; a candidate that crashes, hangs or fails validation under the real workload stops here.',
    '8. **compare**: an interleaved A/B against the experiment\'s starting variant (`from`) on the target workload, with an A/A noise floor: arms A, B and A again, sampled round by round, one process per sample, order rotated, first round discarded. B\'s speedup is the ratio of medians with a 95% bootstrap interval and a rank test. `faster` when the interval\'s lower bound exceeds 1 + m, `slower` when its upper bound is below 1/(1 + m), `same` when it lies within [1/(1 + m), 1 + m], else `inconclusive`; the minimum effect m is at least 2% and at least the noise floor\'s half-width. This ratio and verdict are the `ratio` and `compare` columns of the attempts table.',
    '9. **head-to-head**: a candidate `faster` than `from` whose ratio also tops the current best\'s is compared directly with the current best in the same minutes (ratios measured minutes apart do not decide on this VM); only `faster` there makes it the new best, and the new best is the parent of the next request.',
    '10. **confirm**: at the end of the experiment the best is measured against `from` once more in a fresh comparison; only a confirmed `faster` is promoted.',
    '',
    'A speedup more than 5x the best built-in variant measured on this machine is flagged `suspicious` and held for human review instead of being promoted: such numbers are more often a broken measurement or a cheat than a win. Every run of candidate code happens in a sandboxed child process with time, memory and process limits; a crash, hang or escape attempt is a recorded failure.',
  ].join('\n');
}

function answerFormatSection(): string {
  const schema = {
    analysis: { summary: 'what limits the parent now, by mechanism, citing the measured numbers', bottlenecks: ['one bottleneck per entry, most important first'] },
    optimizations: [{ title: 'short name of the change', rationale: 'the mechanism: why it saves time on this machine', expected_gain: 'e.g. "1.3-1.6x items_per_s over from: one cache-line transfer per 64 items instead of per item"', risk: 'what could break or regress, and how the code guards against it' }],
    implementation: {
      files: [],
      edits: [{ search: 'exact text of the parent, occurring once', replace: 'its replacement' }],
      knobs: [{ name: 'A_DECLARED_KNOB', value: 'one of its declared values' }],
    },
  };
  return [
    '## Answer format',
    '',
    'Answer only through the structured answer: call the submit tool (or, where the provider offers no tools, emit exactly one JSON document of the same shape). Text outside it is ignored. The shape:',
    '',
    fence(JSON.stringify(schema, null, 2), 'json'),
    '',
    '- `analysis`, `optimizations` (at least one, most important first) and `implementation` are required, and `implementation` always has its three lists; an empty list means "not used".',
    '- Give either `edits` or `files`, never both. Prefer `edits` for a small change: they apply in order to the parent\'s source exactly as the user message shows it; each `search` must occur exactly once in the text at the point it is applied (copy it verbatim, with enough surrounding lines to be unique; whitespace counts) and is replaced by `replace`.',
    '- `files` holds exactly one file for a queue variant, a relative name ending in `.c` (or `.cc` for C++), with the complete source: use it for a new design or a rewrite, and for the lock-free task.',
    '- `knobs` sets knobs that the resulting source declares, each to one of its declared values; the parent\'s settings carry over where the new source still declares them. Knobs alone (no files, no edits) are a valid candidate.',
    '- An optimize or lock-free answer must change something (a file, an edit or a knob). A profile answer may leave all three lists empty: the analysis and the ranked optimizations are the answer.',
    '- Put the reasoning a reviewer needs into the code as comments (the design block, the three-part comment on every non-seq_cst atomic) and into `analysis`; keep `expected_gain` quantified and tied to a mechanism or to a number from the performance reference.',
  ].join('\n');
}

/**
 * The cacheable system prefix: persona (reference rendered) + the family's
 * contract verbatim + the fixed build flags + the invariants + workloads +
 * the evaluation cascade + the answer format. Byte-stable for a given
 * (persona file, reference, family).
 */
export function systemPrefix(persona: Pick<Persona, 'text'>, reference: string, family: QueueFamily): string {
  const contract = contractPath(family);
  const header = readFileSync(join(packageRoot(), contract), 'utf8');
  return [
    renderPersona(persona, reference),
    '',
    '---',
    '',
    `# The lab: what you change, the rules it must keep, and how it is judged (family \`${family}\`)`,
    '',
    `This part is the same for every request of an experiment. The task, the code to improve, every attempt so far, the profile and the environment come in the user message.`,
    '',
    `## The contract: \`${contract}\`, force-included into your file`,
    '',
    fence(header.trimEnd(), 'c'),
    '',
    buildSection(family),
    '',
    invariantsSection(family),
    '',
    workloadsSection(family),
    '',
    cascadeSection(),
    '',
    answerFormatSection(),
  ].join('\n') + '\n';
}

// ---- the user message -------------------------------------------------------

function ratioText(ratio: number | null, ci: [number, number] | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return '';
  return `${ratio.toFixed(3)}x${ci ? ` [${ci[0].toFixed(3)}, ${ci[1].toFixed(3)}]` : ''}`;
}

function value(v: number | null, unit: string): string {
  return v === null || !Number.isFinite(v) ? 'not measured' : formatValue(v, unit);
}

function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

function mdCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Keeps the head (where the first compiler error is) and the tail (where sanitizers and runners end) of a long log. */
export function trimAttemptLog(log: string, max = ATTEMPT_LOG_CHARS): string {
  const t = log.trim();
  if (t.length <= max) return t;
  const tail = Math.floor(max * 0.3);
  const head = max - tail;
  return `${t.slice(0, head)}\n[... ${t.length - head - tail} chars cut ...]\n${t.slice(-tail)}`;
}

function knobText(knobs: Record<string, string>): string {
  const entries = Object.entries(knobs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.map(([k, v]) => `${k}=${v}`).join(' ');
}

function taskLine(ctx: PromptContext): string {
  const metric = ctx.target.metric;
  switch (ctx.task) {
    case 'optimize':
      return ctx.parent.name === ctx.from.name
        ? `make ${ctx.parent.name} faster on ${metric} than ${ctx.from.name} is now (target: ${ctx.target.ratio}x ${ctx.from.name})`
        : `make ${ctx.parent.name} faster on ${metric} than ${ctx.from.name} (target: ${ctx.target.ratio}x ${ctx.from.name}; ${ctx.parent.name} is the best so far)`;
    case 'lock-free': {
      const s = ctx.structure ?? { kind: ctx.family, producers: 1, consumers: 1 };
      return `write a new ${s.kind} variant from scratch for ${s.producers} producer${s.producers === 1 ? '' : 's'}, ${s.consumers} consumer${s.consumers === 1 ? '' : 's'} (judged on ${metric} against ${ctx.from.name})`;
    }
    case 'profile':
      return `analyse the profile of ${ctx.parent.name} and say where the time goes; implementation may be empty`;
  }
}

function instructions(ctx: PromptContext): string[] {
  const metric = ctx.target.metric;
  const common = [
    'Read the attempts table first: do not resubmit an idea that failed or measured same/slower unless you name why it failed and fix that.',
    'Keep every invariant of the system prompt: the contract, the thread model, no fences, the three-part comment on every non-seq_cst atomic, one self-contained file.',
  ];
  switch (ctx.task) {
    case 'optimize':
      return [
        ...common,
        `Find the bottleneck of ${ctx.parent.name} on ${metric} from its code, the profile and the performance reference; name it by mechanism.`,
        'Propose optimizations ranked by expected gain against risk.',
        'Implement the top one as the smallest change that tests it: edits to the parent, or one whole file when the design changes.',
        `State the expected gain as a ratio over ${ctx.from.name} on ${metric}, and the risk (correctness, sanitizers, spurious failures, latency traded for throughput).`,
      ];
    case 'lock-free':
      return [
        ...common,
        'Design the structure for the thread counts asked; explain its memory ordering in the analysis and in the code comments.',
        'Write it as one whole file (implementation.files, one .c file) with the design block at the top.',
        'Say how it behaves under oversubscription (more threads than the 2 vCPUs) and where it may fail spuriously.',
        `State the expected gain as a ratio over ${ctx.from.name} on ${metric}, and the risk.`,
      ];
    case 'profile':
      return [
        'Attribute the instructions (and, by reasoning from the code, the cross-core cache-line transfers) of one push+pop to the code that spends them.',
        'Say where the time goes on each workload (throughput, latency, op_cost) and which of it is inherent to the contract.',
        'List the optimizations the profile suggests, ranked by expected gain against risk; implementation may leave files, edits and knobs all empty.',
      ];
  }
}

function taskBlock(ctx: PromptContext, personaName: string): string {
  const env = ctx.env;
  const s = readSources().variant_flags;
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : 'unknown');
  const current: Record<string, unknown> = {};
  for (const m of ctx.metrics) {
    current[m.metric] = {
      unit: m.unit,
      from: value(m.from, m.unit),
      parent: value(m.parent, m.unit),
      parent_vs_from: m.parentRatio === null ? null : ratioText(m.parentRatio, m.parentCi95),
    };
  }
  const target = METRICS[ctx.target.metric];
  const block = {
    role: ROLES[personaName] ?? personaName,
    task: taskLine(ctx),
    context: {
      // no experiment id here: a replay (a new experiment) must send the same request bytes
      iteration: ctx.iteration,
      family: ctx.family,
      from: `${ctx.from.name} (${ctx.from.hash})`,
      parent: `${ctx.parent.name} (${ctx.parent.hash})`,
      current,
      target: {
        metric: ctx.target.metric,
        ratio_over_from: ctx.target.ratio,
        meaning: `${ctx.target.ratio}x ${ctx.from.name} on ${ctx.target.metric}${target ? ` (${target.higher_is_better ? 'higher' : 'lower'} ${target.unit} is better; the ratio is > 1 when better either way)` : ''}`,
      },
      constraints: {
        platform: `${str(env.kernel)}, ${str(env.cpu_model)}, ${str(env.cores)} vCPUs (shared VM, no hardware performance counters)`,
        language: 'C (gnu17); C++ (gnu++17) accepted; one self-contained file',
        flags: `${s.c.join(' ')} -include ${contractPath(ctx.family)} ${s.link.join(' ')}`,
      },
    },
    instructions: instructions(ctx),
    outputFormat: 'JSON via the submit tool',
  };
  return `# Task\n\n${fence(JSON.stringify(block, null, 2), 'json')}`;
}

function parentSection(ctx: PromptContext): string {
  const p = ctx.parent;
  const title = ctx.task === 'lock-free'
    ? `## Starting point: \`${p.name}\` (${p.hash}), for the contract's shape only: write a new design`
    : `## The code to ${ctx.task === 'profile' ? 'analyse' : 'improve'}: \`${p.name}\` (${p.hash})`;
  const knobs = knobText(p.knobs);
  const lines = [title, '', `Knob settings of this build: ${knobs || 'none (each declared knob at its default)'}.`];
  if (ctx.task === 'optimize') lines.push('Edits (implementation.edits) apply to this text exactly as shown.');
  lines.push('', fence(p.source, p.language === 'cc' ? 'cpp' : 'c'));
  return lines.join('\n');
}

interface AttemptPiece {
  a: AttemptSummary;
  row: string;
  log: string | null;
}

function attemptRow(a: AttemptSummary): string {
  return `| ${[
    String(a.iteration),
    a.hash ? a.hash.slice(0, 8) : '',
    oneLine(a.note, 160),
    knobText(a.knobs),
    a.stage,
    a.verdict,
    ratioText(a.ratio, a.ci95),
    a.compare ?? '',
    oneLine(a.reason, 240),
  ].map(mdCell).join(' | ')} |`;
}

/**
 * The attempts section, bounded: rows of the best measured attempts and then
 * of the newest are kept until the row budget is spent; logs of the kept
 * failures, newest first, until the log budget is spent. What is left out is
 * counted by stage, so the model still knows it was tried.
 */
function attemptsSection(ctx: PromptContext): string {
  const all = [...ctx.attempts].sort((x, y) => x.iteration - y.iteration);
  if (all.length === 0) return '## Attempts so far\n\nNone yet: this is the first attempt of the experiment.';
  const pieces: AttemptPiece[] = all.map((a) => ({ a, row: attemptRow(a), log: a.verdict === 'fail' && a.log.trim() ? trimAttemptLog(a.log) : null }));
  const best = pieces
    .filter((p) => p.a.verdict === 'pass' && p.a.ratio !== null && Number.isFinite(p.a.ratio))
    .sort((x, y) => y.a.ratio! - x.a.ratio! || y.a.iteration - x.a.iteration)
    .slice(0, KEEP_BEST);
  const order = [...best, ...[...pieces].reverse().filter((p) => !best.includes(p))];
  const rows = new Set<AttemptPiece>();
  const logs = new Set<AttemptPiece>();
  let rowChars = 0;
  let logChars = 0;
  for (const p of order) {
    if (rowChars + p.row.length > ATTEMPT_ROWS_CHARS) continue;
    rows.add(p);
    rowChars += p.row.length;
    if (p.log && logChars + p.log.length <= ATTEMPT_LOGS_CHARS) {
      logs.add(p);
      logChars += p.log.length;
    }
  }
  const kept = pieces.filter((p) => rows.has(p));
  const out = [
    `## Attempts so far (${all.length})`,
    '',
    'Ratios are speedups over `from` on the target metric with their 95% interval (> 1 is better); `compare` is the interleaved A/B verdict. A failed attempt names the stage that rejected it.',
    '',
    '| # | hash | note | knobs | stage | verdict | ratio [95% CI] | compare | reason |',
    '|---|---|---|---|---|---|---|---|---|',
    ...kept.map((p) => p.row),
  ];
  const omitted = pieces.filter((p) => !rows.has(p));
  if (omitted.length) {
    const byStage = new Map<string, number>();
    for (const p of omitted) {
      const k = p.a.verdict === 'fail' ? `failed at ${p.a.stage}` : `passed (${p.a.stage})`;
      byStage.set(k, (byStage.get(k) ?? 0) + 1);
    }
    out.push('', `${omitted.length} older attempt${omitted.length === 1 ? '' : 's'} not shown, to keep this prompt bounded: ${[...byStage].map(([k, n]) => `${n} ${k}`).join(', ')}.`);
  }
  const shownLogs = kept.filter((p) => logs.has(p));
  if (shownLogs.length) {
    out.push('', '### Failure evidence (trimmed)');
    for (const p of shownLogs) out.push('', `Attempt ${p.a.iteration}, failed at ${p.a.stage}: ${oneLine(p.a.reason, 240)}`, '', fence(p.log!, 'text'));
  }
  const noLog = kept.filter((p) => p.log && !logs.has(p)).length;
  if (noLog) out.push('', `(${noLog} older failure log${noLog === 1 ? '' : 's'} left out for length.)`);
  return out.join('\n');
}

function profileSection(ctx: PromptContext): string {
  const title = `## Profile of \`${ctx.parent.name}\``;
  const p = ctx.profile;
  if (!p) return `${title}\n\nNo profile was taken for this request.`;
  if (p.unavailable) return `${title}\n\nNo profile: ${p.unavailable}.`;
  const lines = [
    title,
    '',
    `Instructions per push+pop (op_cost: one thread, callgrind, deterministic): ${p.instructions_per_op === null ? 'not measured' : p.instructions_per_op.toFixed(2)}.`,
  ];
  if (p.hot.length) {
    lines.push('', 'Hot functions by self instructions (inlined code is counted in its caller):', '', '| function | Ir (self) | % |', '|---|---|---|');
    for (const h of p.hot.slice(0, 20)) lines.push(`| ${mdCell(h.fn)} | ${h.ir} | ${h.pct.toFixed(1)} |`);
  }
  return lines.join('\n');
}

function knobSection(ctx: PromptContext): string {
  if (ctx.knobSpace.length === 0) {
    return '## Knob space\n\nThe parent declares no knobs. A constant worth searching can be declared as `/* perflab:knob NAME=v1|v2|v3 */` with an `#ifndef NAME` / `#define NAME v1` default, for the tuner.';
  }
  const lines = ['## Knob space', '', 'Declared by the parent (the first value is the default); `implementation.knobs` may set them to one of these values.', ''];
  for (const k of ctx.knobSpace) {
    const now = ctx.parent.knobs[k.name];
    lines.push(`- \`${k.name}\`: ${k.values.join(' | ')}${now !== undefined ? ` (this build: ${now})` : ''}`);
  }
  return lines.join('\n');
}

function envSection(ctx: PromptContext): string {
  const lines = ['## Environment', ''];
  for (const [k, v] of Object.entries(ctx.env)) lines.push(`- ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  if (lines.length === 2) lines.push('- (not recorded)');
  return lines.join('\n');
}

/** The user message: a pure function of the context (and the persona's role line). */
export function userMessage(context: PromptContext, personaName: string): string {
  return [taskBlock(context, personaName), parentSection(context), attemptsSection(context), profileSection(context), knobSection(context), envSection(context)].join('\n\n') + '\n';
}

/** The prompt as sent: the byte-stable system prefix and the user message. */
export function buildPrompt(context: PromptContext, persona: Persona, reference: string): BuiltPrompt {
  return {
    persona: persona.name,
    personaHash: persona.hash,
    system: systemPrefix(persona, reference, context.family),
    user: userMessage(context, persona.name),
  };
}
