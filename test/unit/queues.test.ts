// The public queues: argument validation, single-thread behaviour, capacity
// edges, value ranges, dispose, attach checks, and exactly-once delivery
// across worker threads (workers run test/fixtures/queue-worker.mjs against
// dist/, so run `npx tsc -p tsconfig.json` first).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PerflabError } from '../../src/errors.js';
import { JsAtomicsRing } from '../../src/queues/js-ring.js';
import { MpmcQueue } from '../../src/queues/mpmc-queue.js';
import { SpscQueue } from '../../src/queues/spsc-queue.js';

const MAX_U64 = 2n ** 64n - 1n;
const queueClasses = { SpscQueue, MpmcQueue, JsAtomicsRing } as const;

function expectError(fn: () => unknown, type: new (...a: never[]) => Error, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as { code?: string }).code).toBe(code);
  expect((caught as Error).message).toMatch(message);
}

describe.each(Object.entries(queueClasses))('%s', (name, Queue) => {
  it('validates its options with precise messages', () => {
    const make = (o: unknown) => () => new Queue(o as { capacity: number });
    expectError(make(undefined), TypeError, 'ERR_INVALID_ARG_TYPE', /options must be an object/);
    expectError(make({}), TypeError, 'ERR_INVALID_ARG_TYPE', /options\.capacity must be a number, got undefined/);
    expectError(make({ capacity: '8' }), TypeError, 'ERR_INVALID_ARG_TYPE', /options\.capacity must be a number, got '8'/);
    for (const bad of [0, -1, 1.5, NaN, 2 ** 30 + 1]) {
      expectError(make({ capacity: bad }), RangeError, 'ERR_OUT_OF_RANGE', /options\.capacity must be an integer in \[1, 2\^30\]/);
    }
    expectError(make({ capacity: 8, type: 'string' }), TypeError, 'ERR_INVALID_ARG_TYPE', /options\.type must be 'number' or 'bigint', got 'string'/);
  });

  it('validates pushed values', () => {
    const q = new Queue({ capacity: 8 });
    expectError(() => q.tryPush(-1), RangeError, 'ERR_OUT_OF_RANGE', /value must be a non-negative safe integer, got -1/);
    expectError(() => q.tryPush(1.5), RangeError, 'ERR_OUT_OF_RANGE', /got 1\.5/);
    expectError(() => q.tryPush(2 ** 53), RangeError, 'ERR_OUT_OF_RANGE', /non-negative safe integer/);
    expectError(() => q.tryPush('1' as never), TypeError, 'ERR_INVALID_ARG_TYPE', /value must be a number \(the queue holds numbers\), got '1'/);
    expectError(() => q.tryPush(1n as never), TypeError, 'ERR_INVALID_ARG_TYPE', /got 1n/);
    const b = new Queue({ capacity: 8, type: 'bigint' });
    expectError(() => b.tryPush(1 as never), TypeError, 'ERR_INVALID_ARG_TYPE', /value must be a bigint/);
    expectError(() => b.tryPush(-1n), RangeError, 'ERR_OUT_OF_RANGE', /\[0, 2\^64 - 1\], got -1n/);
    expectError(() => b.tryPush(MAX_U64 + 1n), RangeError, 'ERR_OUT_OF_RANGE', /\[0, 2\^64 - 1\]/);
    expect(q.size).toBe(0);
    expect(b.size).toBe(0);
  });

  it('validates bulk arguments and moves nothing when a value is bad', () => {
    const q = new Queue({ capacity: 8 });
    expectError(() => q.pushBulk(new Int32Array(4) as never), TypeError, 'ERR_INVALID_ARG_TYPE', /values must be a Float64Array or an array of numbers, got an instance of Int32Array/);
    expectError(() => q.pushBulk([1, 2], 3), RangeError, 'ERR_OUT_OF_RANGE', /offset must be an integer in \[0, 2\], got 3/);
    expectError(() => q.pushBulk([1, 2], 1, 2), RangeError, 'ERR_OUT_OF_RANGE', /count must be an integer in \[0, 1\]/);
    expectError(() => q.pushBulk([1, 2.5, 3]), RangeError, 'ERR_OUT_OF_RANGE', /values\[1\] must be a non-negative safe integer, got 2\.5/);
    expectError(() => q.pushBulk(new Float64Array([1, -3])), RangeError, 'ERR_OUT_OF_RANGE', /values\[1\]/);
    expect(q.size).toBe(0);
    expectError(() => q.popBulk(new BigUint64Array(2) as never), TypeError, 'ERR_INVALID_ARG_TYPE', /out must be a Float64Array/);
    expectError(() => q.popBulk(new Float64Array(2), 0, 3), RangeError, 'ERR_OUT_OF_RANGE', /count must be an integer in \[0, 2\]/);
  });

  it('is FIFO on one thread, with single and bulk calls and wrap-around', () => {
    const q = new Queue({ capacity: 8 });
    expect(q.capacity).toBe(8);
    expect(q.tryPop()).toBeUndefined();
    for (let lap = 0; lap < 3; lap++) {
      for (let i = 0; i < 8; i++) expect(q.tryPush(lap * 100 + i)).toBe(true);
      expect(q.tryPush(999)).toBe(false);
      expect(q.size).toBe(8);
      for (let i = 0; i < 8; i++) expect(q.tryPop()).toBe(lap * 100 + i);
      expect(q.tryPop()).toBeUndefined();
      expect(q.tryPush(7)).toBe(true); // move the wrap point
      expect(q.tryPop()).toBe(7);
    }
    expect(q.pushBulk([1, 2, 3, 4, 5])).toBe(5);
    expect(q.pushBulk(new Float64Array([6, 7, 8, 9, 10]), 0)).toBe(3); // partial: full
    const out = new Float64Array(10);
    expect(q.popBulk(out, 2, 4)).toBe(4);
    expect([...out.subarray(2, 6)]).toEqual([1, 2, 3, 4]);
    expect(q.popBulk(out)).toBe(4);
    expect([...out.subarray(0, 4)]).toEqual([5, 6, 7, 8]);
    expect(q.popBulk(out)).toBe(0);
  });

  it('holds capacity items, rounding up to a power of two', () => {
    const expected: [number, number][] = [
      [1, name === 'MpmcQueue' ? 2 : 1],
      [2, 2],
      [3, 4],
      [5, 8],
      [1000, 1024],
    ];
    for (const [asked, real] of expected) {
      const q = new Queue({ capacity: asked });
      expect(q.capacity).toBe(real);
      for (let i = 0; i < real; i++) expect(q.tryPush(i)).toBe(true);
      expect(q.tryPush(real)).toBe(false);
      for (let i = 0; i < real; i++) expect(q.tryPop()).toBe(i);
      expect(q.tryPop()).toBeUndefined();
    }
  });

  it('round-trips the edge values', () => {
    const n = new Queue({ capacity: 4 });
    expect(n.tryPush(0)).toBe(true);
    expect(n.tryPush(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(n.tryPop()).toBe(0);
    expect(n.tryPop()).toBe(Number.MAX_SAFE_INTEGER);
    const b = new Queue({ capacity: 4, type: 'bigint' });
    expect(b.type).toBe('bigint');
    expect(b.tryPush(0n)).toBe(true);
    expect(b.tryPush(MAX_U64)).toBe(true);
    expect(b.tryPop()).toBe(0n);
    expect(b.tryPop()).toBe(MAX_U64);
    expect(b.pushBulk(new BigUint64Array([MAX_U64, 0n, 1n]))).toBe(3);
    expect(b.pushBulk([2n, MAX_U64 - 1n], 1)).toBe(1);
    const out = new BigUint64Array(4);
    expect(b.popBulk(out)).toBe(4);
    expect([...out]).toEqual([MAX_U64, 0n, 1n, MAX_U64 - 1n]);
  });

  it('refuses use after dispose, and dispose is idempotent', () => {
    const q = new Queue({ capacity: 4 });
    expect(q.disposed).toBe(false);
    q[Symbol.dispose]();
    q.dispose();
    expect(q.disposed).toBe(true);
    for (const use of [() => q.tryPush(1), () => q.tryPop(), () => q.pushBulk([1]), () => q.popBulk(new Float64Array(1)), () => q.size]) {
      expectError(use, PerflabError, 'ERR_PERFLAB_DISPOSED', /was disposed/);
    }
  });

  it('attaches to its own buffer and refuses foreign ones', () => {
    const q = new Queue({ capacity: 16, type: 'bigint' });
    const a = Queue.attach(q.buffer);
    expect(a.capacity).toBe(16);
    expect(a.type).toBe('bigint');
    expect(q.tryPush(5n)).toBe(true);
    expect(a.tryPop()).toBe(5n);
    a.dispose();
    expect(q.tryPush(6n)).toBe(true); // the other handle still works
    expectError(() => Queue.attach(new ArrayBuffer(4096) as never), TypeError, 'ERR_INVALID_ARG_TYPE', /buffer must be a SharedArrayBuffer/);
    expectError(() => Queue.attach(new SharedArrayBuffer(4096)), PerflabError, 'ERR_PERFLAB_BAD_BUFFER', /does not hold/);
    expectError(() => Queue.attach(new SharedArrayBuffer(16)), PerflabError, 'ERR_PERFLAB_BAD_BUFFER', /./);
    expectError(() => Queue.attach(q.buffer, { type: 'number' }), PerflabError, 'ERR_PERFLAB_BAD_BUFFER', /holds a 'bigint'/);
  });
});

describe('native attach across kinds', () => {
  it('refuses an spsc buffer as mpmc and the other way round', () => {
    const s = new SpscQueue({ capacity: 8 });
    const m = new MpmcQueue({ capacity: 8 });
    expectError(() => MpmcQueue.attach(s.buffer), PerflabError, 'ERR_PERFLAB_BAD_BUFFER', /holds an spsc queue; attach it with SpscQueue\.attach/);
    expectError(() => SpscQueue.attach(m.buffer), PerflabError, 'ERR_PERFLAB_BAD_BUFFER', /holds an mpmc queue/);
    expectError(() => SpscQueue.attach(new JsAtomicsRing({ capacity: 1024 }).buffer), PerflabError, 'ERR_PERFLAB_BAD_BUFFER', /EBADMSG/);
    expectError(() => SpscQueue.attach(new JsAtomicsRing({ capacity: 8 }).buffer), PerflabError, 'ERR_PERFLAB_BAD_BUFFER', /EINVAL/);
  });
});

interface Report {
  ok: boolean;
  errors: string[];
}

function runWorker(data: Record<string, unknown>): Promise<Report> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('../fixtures/queue-worker.mjs', import.meta.url), { workerData: data });
    let report: Report | undefined;
    w.once('message', (m: Report) => (report = m));
    w.once('error', reject);
    w.once('exit', (code) => (report ? resolve(report) : reject(new Error(`worker exited with ${code} and no report`))));
  });
}

async function crossWorker(kind: 'spsc' | 'mpmc' | 'ring', producers: number, consumers: number, perProducer: number): Promise<void> {
  const q = kind === 'spsc' ? new SpscQueue({ capacity: 64 }) : kind === 'mpmc' ? new MpmcQueue({ capacity: 64 }) : new JsAtomicsRing({ capacity: 64 });
  const control = new SharedArrayBuffer(8);
  const seen = new SharedArrayBuffer(producers * perProducer);
  const common = { kind, buffer: q.buffer, perProducer, producers, control, seen };
  const reports = await Promise.all([
    ...Array.from({ length: producers }, (_, id) => runWorker({ ...common, role: 'produce', id })),
    ...Array.from({ length: consumers }, () => runWorker({ ...common, role: 'consume', id: -1 })),
  ]);
  expect(reports.flatMap((r) => r.errors)).toEqual([]);
  const flags = new Uint8Array(seen);
  const missing = flags.reduce((n, f) => n + (f === 0 ? 1 : 0), 0);
  expect(missing).toBe(0);
  expect(flags.every((f) => f === 1)).toBe(true);
  expect(q.tryPop()).toBeUndefined();
}

describe('across worker threads', () => {
  it('SpscQueue delivers 200k items exactly once and in order (1 producer, 1 consumer)', async () => {
    await crossWorker('spsc', 1, 1, 200_000);
  });

  it('MpmcQueue delivers 200k items exactly once, per-producer order kept (2 producers, 2 consumers)', async () => {
    await crossWorker('mpmc', 2, 2, 100_000);
  });

  it('JsAtomicsRing delivers 100k items exactly once and in order', async () => {
    await crossWorker('ring', 1, 1, 100_000);
  });
});
