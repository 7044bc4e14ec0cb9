/**
 * The shared part of SpscQueue and MpmcQueue: a native queue laid out in a
 * SharedArrayBuffer (native/shm/shared_queue.c), reached through one native
 * handle per thread. Post `.buffer` to a worker and `attach` it there.
 */
import { loadBinding, type NativeSharedQueue, type QueueValueType, type SharedQueueKind } from '../native/binding.js';
import {
  badBuffer,
  checkBulkSource,
  checkBulkTarget,
  checkQueueOptions,
  checkRange,
  checkSharedBuffer,
  checkValue,
  disposedError,
  invalidType,
} from './validate.js';

export type { QueueValueType } from '../native/binding.js';

/** The JS type of a queue's items: `number` for 'number' queues, `bigint` for 'bigint' ones. */
export type QueueValue<T extends QueueValueType> = T extends 'bigint' ? bigint : number;
/** What `pushBulk` takes: a Float64Array or number[] ('number'), a BigUint64Array or bigint[] ('bigint'). */
export type BulkSource<T extends QueueValueType> = T extends 'bigint' ? BigUint64Array | readonly bigint[] : Float64Array | readonly number[];
/** What `popBulk` fills: a Float64Array ('number') or a BigUint64Array ('bigint'). */
export type BulkTarget<T extends QueueValueType> = T extends 'bigint' ? BigUint64Array : Float64Array;

/** Options of `new SpscQueue(...)`, `new MpmcQueue(...)` and `new JsAtomicsRing(...)`. */
export interface QueueOptions<T extends QueueValueType = 'number'> {
  /** At least this many items fit (rounded up to a power of two; mpmc: at least 2). An integer in [1, 2^30]. */
  capacity: number;
  /** 'number' (default): non-negative safe integers. 'bigint': any value in [0, 2^64 - 1]. */
  type?: T;
}

/** Options of `attach`: with `type`, the buffer must hold a queue of that value type. */
export interface AttachOptions<T extends QueueValueType> {
  type?: T;
}

/** What every perflab queue offers, native or pure JS. */
export interface ConcurrentQueue<T extends QueueValueType> extends Disposable {
  /** The memory the queue lives in: post it to a worker, then `attach` there. */
  readonly buffer: SharedArrayBuffer;
  /** How many items fit (the requested capacity rounded up). */
  readonly capacity: number;
  readonly type: T;
  /** Items queued now; a snapshot while other threads push or pop. */
  readonly size: number;
  readonly disposed: boolean;
  /** Adds one item; false when full. */
  tryPush(value: QueueValue<T>): boolean;
  /** Removes the oldest item; undefined when empty. */
  tryPop(): QueueValue<T> | undefined;
  /** Adds values[offset, offset + count) in order, as many as fit; returns how many were added. */
  pushBulk(values: BulkSource<T>, offset?: number, count?: number): number;
  /** Removes up to `count` items into out[offset...]; returns how many were removed. */
  popBulk(out: BulkTarget<T>, offset?: number, count?: number): number;
  /** Releases this thread's handle (idempotent); other threads' handles keep working. */
  dispose(): void;
}

/** Internal: how `attach` reaches the constructor without allocating. */
export const ATTACH: unique symbol = Symbol('perflab.attach');
export interface AttachArg {
  [ATTACH]: { buffer: SharedArrayBuffer; native: NativeSharedQueue };
}

export function isAttachArg(arg: unknown): arg is AttachArg {
  return typeof arg === 'object' && arg !== null && ATTACH in arg;
}

/** Opens the native handle over an existing queue buffer, checking kind and value type. */
export function attachNative(what: string, kind: SharedQueueKind, buffer: unknown, options: AttachOptions<QueueValueType> | undefined): AttachArg {
  const sab = checkSharedBuffer(`${what}.attach`, buffer);
  const want = options?.type;
  if (want !== undefined && want !== 'number' && want !== 'bigint') {
    throw invalidType(`${what}.attach: options.type must be 'number' or 'bigint', got ${String(want)}`);
  }
  const binding = loadBinding();
  let native: NativeSharedQueue;
  try {
    native = new binding.SharedQueue(new Uint8Array(sab));
  } catch (err) {
    throw badBuffer(`${what}.attach: the buffer does not hold a perflab queue (${(err as Error).message})`, err);
  }
  const found = native.kind;
  if (found !== kind) {
    native.release();
    const other = found === 'spsc' ? 'SpscQueue' : 'MpmcQueue';
    throw badBuffer(`${what}.attach: the buffer holds an ${found} queue; attach it with ${other}.attach`);
  }
  if (want !== undefined && native.valueType !== want) {
    const type = native.valueType;
    native.release();
    throw badBuffer(`${what}.attach: the buffer holds a '${type}' queue, not a '${want}' one`);
  }
  return { [ATTACH]: { buffer: sab, native } };
}

/** Shared implementation of the native queues; use SpscQueue or MpmcQueue. */
export abstract class NativeQueue<T extends QueueValueType> implements ConcurrentQueue<T> {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly type: T;
  #native: NativeSharedQueue | null;
  readonly #what: string;

  protected constructor(what: string, kind: SharedQueueKind, arg: QueueOptions<T> | AttachArg) {
    this.#what = what;
    if (isAttachArg(arg)) {
      this.buffer = arg[ATTACH].buffer;
      this.#native = arg[ATTACH].native;
    } else {
      const { capacity, type } = checkQueueOptions(`new ${what}`, arg);
      const binding = loadBinding();
      this.buffer = new SharedArrayBuffer(binding.sharedQueueBytes(kind, capacity));
      this.#native = new binding.SharedQueue(new Uint8Array(this.buffer), { kind, capacity, valueType: type });
    }
    this.capacity = this.#native.capacity;
    this.type = this.#native.valueType as T;
  }

  get size(): number {
    return this.#handle().size();
  }

  get disposed(): boolean {
    return this.#native === null;
  }

  tryPush(value: QueueValue<T>): boolean {
    const native = this.#handle();
    checkValue(this.type, value);
    return native.tryPush(value);
  }

  tryPop(): QueueValue<T> | undefined {
    return this.#handle().tryPop() as QueueValue<T> | undefined;
  }

  pushBulk(values: BulkSource<T>, offset?: number, count?: number): number {
    const native = this.#handle();
    const src = checkBulkSource(this.type, values);
    const range = checkRange(src.length, offset, count);
    try {
      return native.pushBulk(values, range.offset, range.count);
    } catch (err) {
      // An element getter disposed this queue mid-call: report it as any use after dispose.
      if (this.#native === null && (err as { code?: unknown }).code === 'ERR_PERFLAB_DISPOSED') throw disposedError(this.#what);
      throw err;
    }
  }

  popBulk(out: BulkTarget<T>, offset?: number, count?: number): number {
    const native = this.#handle();
    const dst = checkBulkTarget(this.type, out);
    const range = checkRange(dst.length, offset, count);
    return native.popBulk(out, range.offset, range.count);
  }

  dispose(): void {
    if (this.#native === null) return;
    this.#native.release();
    this.#native = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #handle(): NativeSharedQueue {
    if (this.#native === null) throw disposedError(this.#what);
    return this.#native;
  }
}
