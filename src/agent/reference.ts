/**
 * The personas' "performance reference": markdown tables rendered from this
 * lab's store when a prompt is built, in place of the folklore tables of the
 * seed documents. A cell the store has no bench run for says so; nothing is
 * ever printed as measured that was not measured here.
 *
 * The text depends only on its arguments (the store's bench runs, the machine
 * summary, the date), so a prompt prefix built from it stays byte-stable for as
 * long as those do: render it once per experiment.
 */
import { builtinVariantNames } from '../native/sources.js';
import { formatValue } from '../report/table.js';
import type { Store, StoredRun } from '../store/index.js';

/**
 * The machine summary the reference names (a subset of the env fingerprint);
 * fields are read defensively, so `envFingerprint()` and a `PromptContext.env`
 * record both fit. Only fields that do not change between calls are printed
 * (never the load average).
 */
export interface ReferenceEnv {
  cpu_model?: unknown;
  cores?: unknown;
  kernel?: unknown;
  compiler?: unknown;
  valgrind?: unknown;
  io_uring?: unknown;
}

/** What a row of a not-yet-measured queue cell says. */
export const QUEUE_NOT_MEASURED = 'not measured here yet (run `npm run bench`)';
/** What a row of a family that is not built yet says. */
export const NOT_MEASURED_YET = 'not measured on this machine yet';

type QueueFamilyName = 'spsc' | 'mpmc';

/** One row of a queue table: a workload cell and the metric read from it. */
interface CellSpec {
  label: string;
  workload: 'throughput' | 'latency' | 'op_cost';
  metric: 'items_per_s' | 'rtt_ns_p50' | 'rtt_ns_p99' | 'instructions_per_op';
  /** Parameters a run must have to belong to the cell. */
  params: Record<string, number>;
  /** Shown only when measured (e.g. batch 64 exists only for variants with bulk calls). */
  optional: boolean;
}

function throughputCells(mixes: [number, number][]): CellSpec[] {
  const cells: CellSpec[] = [];
  for (const [p, c] of mixes) {
    cells.push({ label: `throughput ${p}x${c}, batch 1`, workload: 'throughput', metric: 'items_per_s', params: { producers: p, consumers: c, capacity: 1024, batch: 1 }, optional: false });
    cells.push({ label: `throughput ${p}x${c}, batch 64`, workload: 'throughput', metric: 'items_per_s', params: { producers: p, consumers: c, capacity: 1024, batch: 64 }, optional: true });
  }
  return cells;
}

const COMMON_CELLS: CellSpec[] = [
  { label: 'latency rtt p50', workload: 'latency', metric: 'rtt_ns_p50', params: { capacity: 1024 }, optional: false },
  { label: 'latency rtt p99', workload: 'latency', metric: 'rtt_ns_p99', params: { capacity: 1024 }, optional: true },
  { label: 'op_cost instructions/op', workload: 'op_cost', metric: 'instructions_per_op', params: { capacity: 1024 }, optional: false },
];

const QUEUE_CELLS: Record<QueueFamilyName, CellSpec[]> = {
  spsc: [...throughputCells([[1, 1]]), ...COMMON_CELLS],
  mpmc: [...throughputCells([[1, 1], [2, 2], [4, 4]]), ...COMMON_CELLS],
};

const UNIT: Record<CellSpec['metric'], string> = { items_per_s: 'items/s', rtt_ns_p50: 'ns', rtt_ns_p99: 'ns', instructions_per_op: 'instructions' };

/** A markdown table cell: no pipes or line breaks inside. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function text(v: unknown, fallback = 'unknown'): string {
  return typeof v === 'string' && v.trim() ? v.trim() : typeof v === 'number' && Number.isFinite(v) ? String(v) : fallback;
}

/** YYYY-MM-DD (UTC). */
export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function ioUringLine(io: unknown): string | null {
  if (!io || typeof io !== 'object') return null;
  const o = io as { supported?: unknown; features?: unknown; error?: unknown; single_issuer?: unknown; defer_taskrun?: unknown };
  if (o.supported !== true) return `io_uring on this machine: not available (${text(o.error, 'refused')}).`;
  const features = Array.isArray(o.features) ? o.features.filter((f): f is string => typeof f === 'string') : [];
  const setup = [o.single_issuer === true ? 'SINGLE_ISSUER' : null, o.defer_taskrun === true ? 'DEFER_TASKRUN' : null].filter(Boolean).join(' + ');
  return `io_uring on this machine: supported${setup ? ` (setup flags accepted: ${setup})` : ''}; features: ${features.length ? features.join(', ') : 'none reported'}.`;
}

function paramsMatch(run: StoredRun, want: Record<string, number>): boolean {
  return Object.entries(want).every(([k, v]) => run.params[k] === undefined ? k === 'capacity' : run.params[k] === v);
}

function vsBaseline(run: StoredRun, baseline: string): string {
  const b = run.vsBaseline as { variant?: unknown; ratio?: unknown; ci95?: unknown } | null;
  if (run.variant === baseline && (run.params.batch ?? 1) === 1) return 'baseline';
  if (!b || typeof b.ratio !== 'number' || !Number.isFinite(b.ratio)) return '';
  const ci = Array.isArray(b.ci95) && b.ci95.length === 2 && b.ci95.every((x) => typeof x === 'number') ? ` [${(b.ci95[0] as number).toFixed(2)}, ${(b.ci95[1] as number).toFixed(2)}]` : '';
  return `${b.ratio.toFixed(2)}x ${text(b.variant, baseline)}${ci}`;
}

function runNotes(run: StoredRun, current: string | undefined, env: ReferenceEnv): string {
  const notes = run.flags.filter((f) => !f.startsWith('affinity:'));
  if (current && run.variantHash && run.variantHash !== current) notes.push('measured on an earlier source of this variant');
  const cpu = run.env.cpu_model;
  if (typeof cpu === 'string' && typeof env.cpu_model === 'string' && cpu !== env.cpu_model) notes.push(`measured on ${cpu}`);
  return notes.join('; ');
}

/** The newest bench run of a cell: of the variant's current source when there is one, else the newest of any source. */
function latest(runs: StoredRun[], current: string | undefined): StoredRun | undefined {
  const pick = (rs: StoredRun[]) => rs.reduce<StoredRun | undefined>((best, r) => (!best || r.id > best.id ? r : best), undefined);
  return (current ? pick(runs.filter((r) => r.variantHash === current)) : undefined) ?? pick(runs);
}

/** The table of one queue family: each built-in variant's newest bench number per cell. */
function queueTable(family: QueueFamilyName, store: Store | null, env: ReferenceEnv): string {
  const names = builtinVariantNames(family);
  const baseline = names[0] ?? '';
  const byCell = new Map<CellSpec, StoredRun[]>();
  for (const spec of QUEUE_CELLS[family]) {
    byCell.set(spec, store ? store.runs({ family, workload: spec.workload, metric: spec.metric, source: 'bench' }).filter((r) => paramsMatch(r, spec.params)) : []);
  }
  const rows: string[][] = [];
  for (const name of names) {
    const current = store?.builtinHash(family, name);
    const measured = [...byCell.values()].some((rs) => rs.some((r) => r.variant === name));
    if (!measured) {
      rows.push([name, 'all workloads', QUEUE_NOT_MEASURED, '', '', '', '', '']);
      continue;
    }
    for (const spec of QUEUE_CELLS[family]) {
      const run = latest(byCell.get(spec)!.filter((r) => r.variant === name), current);
      if (!run) {
        if (!spec.optional) rows.push([name, spec.label, QUEUE_NOT_MEASURED, '', '', '', '', '']);
        continue;
      }
      const unit = UNIT[spec.metric];
      rows.push([
        name,
        spec.label,
        formatValue(run.median, unit),
        `[${formatValue(run.ci95[0], unit)}, ${formatValue(run.ci95[1], unit)}]`,
        vsBaseline(run, baseline),
        String(run.samples.length),
        run.createdAt.slice(0, 10),
        runNotes(run, current, env),
      ]);
    }
  }
  return mdTable(['variant', 'workload', 'median', '95% CI', 'vs baseline, same run [95% CI]', 'n', 'measured', 'notes'], rows);
}

const EVENT_LOOPS: [string, string][] = [
  ['select', 'the whole descriptor set is copied in and scanned on every call: cost grows with connections, not with ready ones'],
  ['poll', 'like select without the descriptor limit: still one full scan per call'],
  ['epoll, level-triggered', 'interest set kept in the kernel, only ready descriptors returned; a descriptor stays ready until drained'],
  ['epoll, edge-triggered', 'one wake-up per readiness change; the handler must read/accept until EAGAIN'],
  ['io_uring, one operation per request', 'completion-based; submission and completion rings shared with the kernel'],
  ['io_uring, multishot accept + multishot recv, provided buffer ring, SINGLE_ISSUER + DEFER_TASKRUN', 'one submission yields many completions; buffers picked only when data arrives'],
];

const MEMORY_MODELS: [string, string][] = [
  ['thread per connection', 'a stack per connection on top of its buffers'],
  ['epoll, per-connection receive and send buffers', 'buffers held for as long as the connection lives, idle or not'],
  ['io_uring, provided buffer ring shared by all connections', 'idle connections hold no user-space buffer'],
];

const TRANSFERS: [string, string][] = [
  ['read/write copy (baseline)', 'every byte copied into user space and back out'],
  ['sendfile', 'page-cache pages go to the socket without a user-space copy (file to socket only)'],
  ['splice through a pipe', 'pages moved by reference through a pipe; socket to socket for a proxy'],
  ['io_uring splice', 'splice as an asynchronous operation, batched with other I/O'],
  ['io_uring SEND_ZC', 'user pages pinned and sent; a second completion says when they may be reused'],
];

function notMeasuredTable(first: string, rows: [string, string][], status: string): string {
  return mdTable([first, 'mechanism (not a measurement)', 'on this machine'], rows.map(([t, m]) => [t, m, status]));
}

/**
 * Renders the performance reference of `persona` from the store's bench runs.
 * The systems engineer gets the queue tables; the networking expert (and any
 * other persona) also gets the event-loop, memory-per-connection and zero-copy
 * tables, whose families are not built yet, so every row says it is not
 * measured here. `store` null: no store at hand, every cell is unmeasured.
 */
export function renderPerformanceReference(persona: string, store: Store | null, env: ReferenceEnv, date: Date): string {
  const out: string[] = [];
  out.push(
    `Measured by perflab on this machine: ${text(env.cpu_model)}, ${text(env.cores)} vCPUs, ${text(env.kernel)}. ` +
      `Rendered ${isoDate(date)} from ${store ? "the lab store's `perflab bench` runs (the newest run of each cell)" : 'no store (none was available when this prompt was built)'}.`,
  );
  const extras = [
    typeof env.compiler === 'string' ? `Compiler: ${env.compiler}.` : null,
    typeof env.valgrind === 'string' ? `Instruction counts: ${env.valgrind} (callgrind).` : env.valgrind === null ? 'Instruction counts: valgrind is not installed, so op_cost cannot be measured.' : null,
    ioUringLine(env.io_uring),
  ].filter((x): x is string => x !== null);
  if (extras.length) out.push(extras.join(' '));
  out.push(
    '',
    'How to read these tables: `median` is the median of n samples, each one process running a time-boxed, validated workload; `95% CI` is the interval of that median. ' +
      'Absolute numbers on this VM drift by large factors between runs, so the column to trust is `vs baseline, same run`: the ratio to the family baseline measured in the same bench run, ' +
      'round by round (> 1 means better whatever the metric\'s direction). `instructions/op` is one push plus one pop on one thread, counted by callgrind: deterministic, but blind to cache misses and cross-core traffic. ' +
      'Built-in variants only; your own earlier attempts are in the attempts table of the task.',
  );
  for (const family of ['spsc', 'mpmc'] as const) {
    out.push('', `### Lock-free queues: ${family} (built-in variants, capacity 1024)`, '', queueTable(family, store, env));
  }
  if (persona === 'systems-engineer') {
    out.push('', `Event loops, memory per connection and zero-copy transfer: the server and transfer families are not built yet, so all of it is ${NOT_MEASURED_YET}.`);
    return out.join('\n');
  }
  const status = `${NOT_MEASURED_YET} (family not built)`;
  out.push(
    '',
    '### Event loops (server family)',
    '',
    'Workloads that will fill this table: echo and HTTP/1.1 keep-alive at 1, 64 and 1000 connections, pipelined and not; connection churn. Until then, treat any number you remember as folklore.',
    '',
    notMeasuredTable('event loop', EVENT_LOOPS, status),
    '',
    '### Memory per connection (server family, idle C10K)',
    '',
    notMeasuredTable('model', MEMORY_MODELS, status),
    '',
    '### Zero-copy transfer (transfer family)',
    '',
    'Workloads that will fill this table: a 4 KiB, a 1 MiB and a 256 MiB file from the page cache to a socket; a socket-to-socket proxy with 1 and 16 streams.',
    '',
    notMeasuredTable('path', TRANSFERS, status),
    '',
    'Kernel bypass (DPDK, AF_XDP): not measurable on this machine (it needs ownership of a NIC, huge pages and dedicated cores; this is a 2-vCPU VM with a virtual NIC).',
  );
  return out.join('\n');
}
