// The public queues: argument validation, single-thread behaviour, capacity
// edges, value ranges, dispose, attach checks, and exactly-once delivery
// across worker threads (workers run test/fixtures/queue-worker.mjs against
// dist/, so run `npx tsc -p tsconfig.json` first).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PerflabError } from '../../src/errors.js';
import { loadBinding } from '../../src/native/binding.js';
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

// Memory safety of the native queues. These run in the vitest process itself:
// an out-of-bounds access or a use-after-free would crash the whole run, which
// is the point. Each used to crash (or corrupt memory) before the fix.
describe('native queues stay memory-safe', () => {
  const MAGIC = 0x51484c50; // "PLHQ", the header's first word (native/shm/shared_queue.h)
  // Word (8-byte) offsets of the shared layout, from the 128-byte-aligned base.
  const HEAD = 16;
  const TAIL = 32;
  const PROD_CACHE = 48;
  const CONS_CACHE = 64;
  const SLOTS = 80;
  const nativeKinds = { SpscQueue, MpmcQueue } as const;

  /** The base's word index in the buffer: the magic sits at the first 128-byte boundary. */
  function baseWord(buffer: SharedArrayBuffer): number {
    const u32 = new Uint32Array(buffer);
    for (let i = 0; i < 32; i += 2) if (u32[i] === MAGIC) return i / 2;
    throw new Error('no queue magic in the first 128 bytes');
  }

  /** xorshift64: deterministic 64-bit values for the fuzz loops. */
  function rng(seed: bigint): () => bigint {
    let x = seed;
    return () => {
      x ^= (x << 13n) & MAX_U64;
      x ^= x >> 7n;
      x ^= (x << 17n) & MAX_U64;
      return x;
    };
  }

  /** Every operation once, with batches of `n`; each result must stay within what the call allows. */
  function exercise(q: SpscQueue | MpmcQueue, n: number): void {
    const cap = q.capacity;
    const limit = Math.min(n, cap);
    q.tryPush(1);
    q.tryPop();
    expect(q.pushBulk(new Float64Array(n).fill(2))).toBeLessThanOrEqual(limit);
    expect(q.pushBulk(Array.from({ length: n }, () => 3))).toBeLessThanOrEqual(limit);
    expect(q.popBulk(new Float64Array(n))).toBeLessThanOrEqual(limit);
    expect(q.size).toBeLessThanOrEqual(cap);
  }

  it('SpscQueue: a second consumer handle leaves the cached tail behind head; popBulk moves nothing instead of reading past the ring', () => {
    const q = new SpscQueue({ capacity: 8 });
    const a = SpscQueue.attach(q.buffer);
    for (let i = 0; i < 8; i++) q.tryPush(i);
    const out = new Float64Array(4096);
    expect(a.popBulk(out, 0, 8)).toBe(8); // the misuse: a second consumer
    const words = new BigUint64Array(q.buffer);
    const base = baseWord(q.buffer);
    expect(words[base + HEAD]).toBe(8n);
    words[base + CONS_CACHE] = 0n; // q's cache: tail 0, yet head is 8
    expect(q.popBulk(out, 0, 4096)).toBe(0);
    words[base + HEAD] = 7n; // "10 items" in a capacity-8 queue
    words[base + TAIL] = 17n;
    expect(q.popBulk(out, 0, 4096)).toBe(0);
    expect(q.tryPop()).toBeUndefined();
    expect(q.pushBulk(new Float64Array(4096))).toBe(0);
    expect(q.tryPush(1)).toBe(false);
    words[base + HEAD] = 17n; // sound again: the queue works from there
    for (let i = 0; i < 8; i++) expect(q.tryPush(i)).toBe(true);
    expect(a.popBulk(out, 0, 4096)).toBe(8);
    expect([...out.subarray(0, 8)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  describe.each(Object.entries(nativeKinds))('%s', (_name, Queue) => {
    it('random shared indices (and mpmc sequence numbers) never make an operation go out of bounds', () => {
      for (const capacity of [1, 8, 64]) {
        const q = new Queue({ capacity });
        const words = new BigUint64Array(q.buffer);
        const base = baseWord(q.buffer);
        const cap = BigInt(q.capacity);
        const next = rng(0x9e3779b97f4a7c15n ^ cap);
        const near = (x: bigint): bigint => {
          const r = next();
          const delta = r % (4n * cap + 3n);
          switch (Number(r >> 62n)) {
            case 0: return (x + delta - 2n * cap - 1n) & MAX_U64;
            case 1: return delta;
            case 2: return MAX_U64 - delta;
            default: return next();
          }
        };
        const sizes = [0, 1, q.capacity - 1, q.capacity, q.capacity + 1, 2 * q.capacity + 3];
        for (let round = 0; round < 300; round++) {
          const head = next();
          words[base + HEAD] = head;
          for (const w of [TAIL, PROD_CACHE, CONS_CACHE]) words[base + w] = near(head);
          if (Queue === MpmcQueue) for (let i = 0; i < q.capacity; i++) words[base + SLOTS + 2 * i] = near(head + BigInt(i));
          exercise(q, sizes[round % sizes.length]!);
        }
      }
    });

    it('a buffer overwritten after creation keeps its kind and capacity, stays in bounds, and refuses a new attach', () => {
      for (const pattern of [0x00, 0x7f, 0x80, 0xff, -1]) {
        for (const type of ['number', 'bigint'] as const) {
          const q = new Queue({ capacity: 16, type });
          const a = Queue.attach(q.buffer);
          const bytes = new Uint8Array(q.buffer);
          if (pattern >= 0) bytes.fill(pattern);
          else for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
          for (const h of [q, a]) {
            expect(h.capacity).toBe(16);
            expect(h.type).toBe(type);
            for (let i = 0; i < 40; i++) {
              h.tryPush((type === 'bigint' ? BigInt(i) : i) as never);
              h.tryPop();
            }
            const src = type === 'bigint' ? new BigUint64Array(40) : new Float64Array(40);
            const out = type === 'bigint' ? new BigUint64Array(4096) : new Float64Array(4096);
            expect(h.pushBulk(src as never)).toBeLessThanOrEqual(16);
            expect(h.popBulk(out as never)).toBeLessThanOrEqual(16);
            expect(h.size).toBeLessThanOrEqual(16);
          }
          expectError(() => Queue.attach(q.buffer), PerflabError, 'ERR_PERFLAB_BAD_BUFFER', /does not hold a perflab queue/);
        }
      }
    });

    it('pushBulk: an element getter that disposes the queue throws ERR_PERFLAB_DISPOSED and pushes nothing', () => {
      const q = new Queue({ capacity: 16 });
      const other = Queue.attach(q.buffer);
      const values = [1, 2, 3];
      Object.defineProperty(values, 1, { get: () => (q.dispose(), 2) });
      expectError(() => q.pushBulk(values), PerflabError, 'ERR_PERFLAB_DISPOSED', /was disposed/);
      expect(q.disposed).toBe(true);
      expect(other.size).toBe(0);
      // the same through the raw binding, the queue released by its only handle
      const binding = loadBinding();
      const kind = Queue === SpscQueue ? 'spsc' : 'mpmc';
      for (const valueType of ['number', 'bigint'] as const) {
        const buffer = new SharedArrayBuffer(binding.sharedQueueBytes(kind, 16));
        const native = new binding.SharedQueue(new Uint8Array(buffer), { kind, capacity: 16, valueType });
        const one = valueType === 'bigint' ? 1n : 1;
        const items: (number | bigint)[] = [one, one, one];
        Object.defineProperty(items, 2, { get: () => (native.release(), one) });
        expectError(() => native.pushBulk(items, 0, 3), Error, 'ERR_PERFLAB_DISPOSED', /was disposed/);
        expectError(() => native.tryPop(), Error, 'ERR_PERFLAB_DISPOSED', /was disposed/);
      }
    });
  });

  it('the native constructor refuses memory that is not a SharedArrayBuffer (an ArrayBuffer can be detached and freed)', () => {
    const binding = loadBinding();
    const bytes = binding.sharedQueueBytes('mpmc', 1024);
    const init = { kind: 'mpmc', capacity: 1024, valueType: 'number' } as const;
    const spoofed = new ArrayBuffer(bytes);
    Object.setPrototypeOf(spoofed, SharedArrayBuffer.prototype); // instanceof would be fooled
    expect(spoofed instanceof SharedArrayBuffer).toBe(true);
    for (const buffer of [new ArrayBuffer(bytes), new ArrayBuffer(bytes, { maxByteLength: 2 * bytes }), spoofed]) {
      expectError(() => new binding.SharedQueue(new Uint8Array(buffer), init), TypeError, 'ERR_PERFLAB_BAD_BUFFER', /over a SharedArrayBuffer, not an ArrayBuffer/);
      expectError(() => new binding.SharedQueue(new Uint8Array(buffer)), TypeError, 'ERR_PERFLAB_BAD_BUFFER', /not an ArrayBuffer/);
    }
    // the reviewer's sequence: had the constructor accepted it, the transfer
    // would free the memory under the queue
    const ab = new ArrayBuffer(bytes);
    expectError(() => new binding.SharedQueue(new Uint8Array(ab), init), TypeError, 'ERR_PERFLAB_BAD_BUFFER', /./);
    structuredClone(ab, { transfer: [ab] });
    expect(ab.byteLength).toBe(0);
    // a growable SharedArrayBuffer never shrinks or moves: accepted
    const growable = new SharedArrayBuffer(bytes, { maxByteLength: 4 * bytes });
    const q = new binding.SharedQueue(new Uint8Array(growable), init);
    growable.grow(2 * bytes);
    expect(q.tryPush(7)).toBe(true);
    expect(q.tryPop()).toBe(7);
    q.release();
  });

  it('popBulk into a huge array moves at most capacity items', () => {
    for (const Queue of [SpscQueue, MpmcQueue]) {
      const q = new Queue({ capacity: 8 });
      expect(q.pushBulk(Array.from({ length: 100 }, (_, i) => i))).toBe(8);
      const out = new Float64Array(100_000).fill(-1);
      expect(q.popBulk(out)).toBe(8);
      expect(out[8]).toBe(-1);
    }
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
