/**
 * The baseline a Node user would write without native code: a single-producer
 * single-consumer ring in a SharedArrayBuffer with Int32 Atomics for the head
 * and tail and plain typed-array slots (Float64Array or BigUint64Array). The
 * Atomics are sequentially consistent (JS has no weaker ones), which also
 * orders the plain slot writes before the index store. Head and tail sit on
 * separate 64-byte lines; no cached opposite index (that is the lab's
 * technique, not what users write). Same API shape as SpscQueue.
 *
 * Layout: Int32 words [0] magic, [1] capacity, [2] value type (1 number,
 * 2 bigint); [16] head (byte 64); [32] tail (byte 128); slots from byte 192.
 * Indices are free-running int32 (wrapping), capacity a power of two <= 2^30.
 */
import type { QueueValueType } from '../native/binding.js';
import type { AttachOptions, BulkSource, BulkTarget, ConcurrentQueue, QueueOptions, QueueValue } from './shared-queue.js';
import { badBuffer, checkBulkSource, checkBulkTarget, checkQueueOptions, checkRange, checkSharedBuffer, checkValue, disposedError, invalidType } from './validate.js';

const MAGIC = 0x4a53524e; // "JSRN"
const W_MAGIC = 0;
const W_CAPACITY = 1;
const W_TYPE = 2;
const W_HEAD = 16;
const W_TAIL = 32;
const SLOTS_BYTE = 192;

type Slots = Float64Array | BigUint64Array;

/** A pure-JS Atomics SPSC ring over a SharedArrayBuffer: the baseline the native queues are measured against. */
export class JsAtomicsRing<T extends QueueValueType = 'number'> implements ConcurrentQueue<T> {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly type: T;
  readonly #ctrl: Int32Array;
  readonly #slots: Slots;
  readonly #mask: number;
  #disposed = false;

  /** Allocates a new, empty ring. */
  constructor(options: QueueOptions<T>);
  /** @internal used by attach */
  constructor(options: QueueOptions<T>, buffer: SharedArrayBuffer);
  constructor(options: QueueOptions<T>, existing?: SharedArrayBuffer) {
    const { capacity, type } = checkQueueOptions(existing ? 'JsAtomicsRing.attach' : 'new JsAtomicsRing', options);
    let cap = 1;
    while (cap < capacity) cap *= 2;
    this.capacity = cap;
    this.type = type as T;
    this.#mask = cap - 1;
    this.buffer = existing ?? new SharedArrayBuffer(SLOTS_BYTE + cap * 8);
    this.#ctrl = new Int32Array(this.buffer, 0, SLOTS_BYTE / 4);
    this.#slots = type === 'number' ? new Float64Array(this.buffer, SLOTS_BYTE, cap) : new BigUint64Array(this.buffer, SLOTS_BYTE, cap);
    if (!existing) {
      Atomics.store(this.#ctrl, W_CAPACITY, cap);
      Atomics.store(this.#ctrl, W_TYPE, type === 'number' ? 1 : 2);
      Atomics.store(this.#ctrl, W_MAGIC, MAGIC);
    }
  }

  /** Opens, in this thread, the ring another thread created in `buffer`. */
  static attach<T extends QueueValueType = QueueValueType>(buffer: SharedArrayBuffer, options?: AttachOptions<T>): JsAtomicsRing<T> {
    const sab = checkSharedBuffer('JsAtomicsRing.attach', buffer);
    if (sab.byteLength < SLOTS_BYTE) throw badBuffer(`JsAtomicsRing.attach: the buffer is too small to hold a ring (${sab.byteLength} bytes)`);
    const ctrl = new Int32Array(sab, 0, SLOTS_BYTE / 4);
    const cap = Atomics.load(ctrl, W_CAPACITY);
    const code = Atomics.load(ctrl, W_TYPE);
    if (Atomics.load(ctrl, W_MAGIC) !== MAGIC || cap < 1 || (cap & (cap - 1)) !== 0 || (code !== 1 && code !== 2)) {
      throw badBuffer('JsAtomicsRing.attach: the buffer does not hold a JsAtomicsRing');
    }
    if (sab.byteLength < SLOTS_BYTE + cap * 8) throw badBuffer(`JsAtomicsRing.attach: the buffer is shorter than its ring (${sab.byteLength} bytes)`);
    const type: QueueValueType = code === 1 ? 'number' : 'bigint';
    if (options?.type !== undefined && options.type !== 'number' && options.type !== 'bigint') {
      throw invalidType(`JsAtomicsRing.attach: options.type must be 'number' or 'bigint', got ${String(options.type)}`);
    }
    if (options?.type !== undefined && options.type !== type) {
      throw badBuffer(`JsAtomicsRing.attach: the buffer holds a '${type}' ring, not a '${options.type}' one`);
    }
    return new JsAtomicsRing<T>({ capacity: cap, type: type as T }, sab);
  }

  get size(): number {
    this.#check();
    const n = (Atomics.load(this.#ctrl, W_TAIL) - Atomics.load(this.#ctrl, W_HEAD)) | 0;
    return n < 0 ? 0 : n > this.capacity ? this.capacity : n;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  tryPush(value: QueueValue<T>): boolean {
    this.#check();
    checkValue(this.type, value);
    const ctrl = this.#ctrl;
    const tail = Atomics.load(ctrl, W_TAIL);
    if (((tail - Atomics.load(ctrl, W_HEAD)) | 0) >= this.capacity) return false;
    this.#slots[tail & this.#mask] = value;
    Atomics.store(ctrl, W_TAIL, (tail + 1) | 0);
    return true;
  }

  tryPop(): QueueValue<T> | undefined {
    this.#check();
    const ctrl = this.#ctrl;
    const head = Atomics.load(ctrl, W_HEAD);
    if (head === Atomics.load(ctrl, W_TAIL)) return undefined;
    const value = this.#slots[head & this.#mask] as QueueValue<T>;
    Atomics.store(ctrl, W_HEAD, (head + 1) | 0);
    return value;
  }

  pushBulk(values: BulkSource<T>, offset?: number, count?: number): number {
    this.#check();
    const src = checkBulkSource(this.type, values) as ArrayLike<number | bigint>;
    const range = checkRange(src.length, offset, count);
    const ctrl = this.#ctrl;
    const tail = Atomics.load(ctrl, W_TAIL);
    const free = this.capacity - ((tail - Atomics.load(ctrl, W_HEAD)) | 0);
    const n = Math.min(range.count, free);
    for (let i = 0; i < n; i++) checkValue(this.type, src[range.offset + i], range.offset + i);
    const slots = this.#slots as unknown as { [i: number]: number | bigint };
    for (let i = 0; i < n; i++) slots[(tail + i) & this.#mask] = src[range.offset + i]!;
    Atomics.store(ctrl, W_TAIL, (tail + n) | 0);
    return n;
  }

  popBulk(out: BulkTarget<T>, offset?: number, count?: number): number {
    this.#check();
    const dst = checkBulkTarget(this.type, out) as unknown as { [i: number]: number | bigint; length: number };
    const range = checkRange(dst.length, offset, count);
    const ctrl = this.#ctrl;
    const head = Atomics.load(ctrl, W_HEAD);
    const n = Math.min(range.count, (Atomics.load(ctrl, W_TAIL) - head) | 0);
    for (let i = 0; i < n; i++) dst[range.offset + i] = this.#slots[(head + i) & this.#mask]!;
    Atomics.store(ctrl, W_HEAD, (head + n) | 0);
    return n;
  }

  /** Marks this thread's handle disposed (idempotent); the buffer lives while referenced. */
  dispose(): void {
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #check(): void {
    if (this.#disposed) throw disposedError('JsAtomicsRing');
  }
}
