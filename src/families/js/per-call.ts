/**
 * Per-call costs of the TypeScript-facing queues, measured with tinybench on
 * one thread: what one call from JS costs, N-API crossing included. Each
 * tinybench iteration runs OPS_PER_ITERATION operations (one call is below
 * the timer's resolution) and reports the per-operation duration, so
 * tinybench's statistics are per operation. Pairs are a push then a pop.
 *
 * Each case runs in a fresh worker thread (its own isolate): measured after
 * the other cases, the shared queue methods would carry their type feedback
 * (other receivers, bigint and number) and cost a third more than in an
 * application that uses one kind of queue.
 */
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { loadBinding } from '../../native/binding.js';
import { JsAtomicsRing } from '../../queues/js-ring.js';
import { MpmcQueue } from '../../queues/mpmc-queue.js';
import { SpscQueue } from '../../queues/spsc-queue.js';
import { describe, outOfRange } from '../../queues/validate.js';
import { jsFamilyScript } from './dist-script.js';
import { BATCH } from './scenarios.js';

/** Operations per tinybench iteration. */
export const OPS_PER_ITERATION = 1000;

/** The measured cases, in report order. */
export const PER_CALL_CASES = [
  'napi-noop',
  'spsc-native-pair',
  'spsc-native-pair-bigint',
  'spsc-native-bulk-per-item',
  'mpmc-native-pair',
  'js-atomics-ring-pair',
] as const;

export type PerCallCase = (typeof PER_CALL_CASES)[number];

/** One measured case, per operation (a pair, an item of a batch, or a noop call). */
export interface PerCallResult {
  name: PerCallCase;
  /** tinybench's median, ns per operation. */
  ns_per_op: number;
  /** tinybench's latency statistics in ns per operation, and its sample count. */
  stats: { median: number; p99: number; mean: number; min: number; max: number; rme_percent: number; samples: number };
  /** What one operation is. */
  op: string;
}

interface Case {
  op: string;
  /** Runs `n` calls (bulk: n batches). */
  run: (n: number) => void;
  /** Operations one call of the loop body counts as (bulk: items per batch). */
  itemsPerCall: number;
  dispose: () => void;
}

function makeCase(name: PerCallCase): Case {
  switch (name) {
    case 'napi-noop': {
      const binding = loadBinding();
      return { op: 'binding.noop(): the bare N-API crossing', itemsPerCall: 1, dispose: () => {}, run: (n) => { for (let i = 0; i < n; i++) binding.noop(); } };
    }
    case 'spsc-native-pair': {
      const q = new SpscQueue({ capacity: 1024 });
      return { op: 'SpscQueue tryPush + tryPop (number)', itemsPerCall: 1, dispose: () => q.dispose(), run: (n) => { for (let i = 0; i < n; i++) { q.tryPush(i); q.tryPop(); } } };
    }
    case 'spsc-native-pair-bigint': {
      const q = new SpscQueue({ capacity: 1024, type: 'bigint' });
      const v = 12345678901234567890n;
      return { op: 'SpscQueue tryPush + tryPop (bigint)', itemsPerCall: 1, dispose: () => q.dispose(), run: (n) => { for (let i = 0; i < n; i++) { q.tryPush(v); q.tryPop(); } } };
    }
    case 'spsc-native-bulk-per-item': {
      const q = new SpscQueue({ capacity: 1024 });
      const src = new Float64Array(BATCH).map((_, i) => i);
      const out = new Float64Array(BATCH);
      return { op: `SpscQueue pushBulk + popBulk of ${BATCH}, per item`, itemsPerCall: BATCH, dispose: () => q.dispose(), run: (n) => { for (let i = 0; i < n; i++) { q.pushBulk(src, 0, BATCH); q.popBulk(out, 0, BATCH); } } };
    }
    case 'mpmc-native-pair': {
      const q = new MpmcQueue({ capacity: 1024 });
      return { op: 'MpmcQueue tryPush + tryPop (number)', itemsPerCall: 1, dispose: () => q.dispose(), run: (n) => { for (let i = 0; i < n; i++) { q.tryPush(i); q.tryPop(); } } };
    }
    case 'js-atomics-ring-pair': {
      const q = new JsAtomicsRing({ capacity: 1024 });
      return { op: 'JsAtomicsRing tryPush + tryPop (number)', itemsPerCall: 1, dispose: () => q.dispose(), run: (n) => { for (let i = 0; i < n; i++) { q.tryPush(i); q.tryPop(); } } };
    }
  }
}

function checkTime(timeMs: unknown): number {
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs) || timeMs <= 0 || timeMs > 600_000) {
    throw outOfRange(`timeMs must be a number in (0, 600000], got ${describe(timeMs)}`);
  }
  return timeMs;
}

/** Measures one case in this thread for about `timeMs` (plus a quarter of that warming up). */
export async function measurePerCallCase(name: PerCallCase, timeMs: number): Promise<PerCallResult> {
  if (!(PER_CALL_CASES as readonly string[]).includes(name)) throw outOfRange(`case must be one of ${PER_CALL_CASES.join(', ')}; got ${describe(name)}`);
  checkTime(timeMs);
  const c = makeCase(name);
  const calls = Math.max(1, Math.round(OPS_PER_ITERATION / c.itemsPerCall));
  const ops = calls * c.itemsPerCall;
  const bench = new Bench({ time: timeMs, warmupTime: timeMs / 4, timestampProvider: 'hrtimeNow', throws: true });
  bench.add(name, () => {
    const t0 = bench.now();
    c.run(calls);
    const d = bench.now() - t0;
    return { overriddenDuration: d / ops, overriddenIterationCost: d };
  });
  try {
    await bench.run();
  } finally {
    c.dispose();
  }
  const r = bench.getTask(name)!.result;
  if (r.state !== 'completed') throw new Error(`per-call ${name}: tinybench ended in state ${r.state}${'error' in r ? `: ${r.error.message}` : ''}`);
  const ns = (ms: number): number => ms * 1e6;
  const l = r.latency;
  return {
    name,
    ns_per_op: ns(l.p50),
    stats: { median: ns(l.p50), p99: ns(l.p99), mean: ns(l.mean), min: ns(l.min), max: ns(l.max), rme_percent: l.rme, samples: l.samplesCount },
    op: c.op,
  };
}

function inWorker(name: PerCallCase, timeMs: number): Promise<PerCallResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(jsFamilyScript('per-call-worker.js'), { workerData: { name, timeMs } });
    let result: PerCallResult | undefined;
    let failure: string | undefined;
    worker.on('message', (m: { result?: PerCallResult; error?: string }) => {
      result = m.result;
      failure = m.error;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`per-call ${name}: ${failure ?? `worker exited with code ${code}`}`));
    });
  });
}

/**
 * Measures every case (PER_CALL_CASES order), each in a fresh worker thread
 * for about `timeMs`, and returns tinybench's per-operation statistics in ns.
 */
export async function measurePerCall(options: { timeMs: number }): Promise<PerCallResult[]> {
  const timeMs = checkTime(options?.timeMs);
  const rows: PerCallResult[] = [];
  for (const name of PER_CALL_CASES) rows.push(await inWorker(name, timeMs));
  return rows;
}
