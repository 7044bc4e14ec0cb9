/**
 * Argument checks shared by the queues: precise messages, Node's error codes
 * for argument errors (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE), perflab's for
 * queue states (ERR_PERFLAB_DISPOSED, ERR_PERFLAB_BAD_BUFFER).
 */
import { types } from 'node:util';
import { PerflabError } from '../errors.js';
import type { QueueValueType } from '../native/binding.js';

/** Largest capacity a queue accepts (2^30). */
export const MAX_CAPACITY = 2 ** 30;
/** Largest value a 'bigint' queue holds (2^64 - 1). */
export const MAX_U64 = 2n ** 64n - 1n;

/** A TypeError with Node's code for a wrong argument type. */
export function invalidType(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}

/** A RangeError with Node's code for an argument out of range. */
export function outOfRange(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' });
}

export function disposedError(what: string): PerflabError {
  return new PerflabError('ERR_PERFLAB_DISPOSED', `${what} was disposed`);
}

export function badBuffer(message: string, cause?: unknown): PerflabError {
  return new PerflabError('ERR_PERFLAB_BAD_BUFFER', message, cause === undefined ? undefined : { cause });
}

/** How a value prints in a message: 1.5, -1, 'str', 10n, an object's type. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '...' : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value);
  if (typeof value === 'function') return 'a function';
  return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
}

/** Checks `new XQueue(options)`'s options; returns the capacity and value type. */
export function checkQueueOptions(what: string, options: unknown): { capacity: number; type: QueueValueType } {
  if (typeof options !== 'object' || options === null) {
    throw invalidType(`${what}: options must be an object like { capacity: 1024, type: 'number' }, got ${describe(options)}`);
  }
  const { capacity, type = 'number' } = options as { capacity?: unknown; type?: unknown };
  if (typeof capacity !== 'number') throw invalidType(`${what}: options.capacity must be a number, got ${describe(capacity)}`);
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw outOfRange(`${what}: options.capacity must be an integer in [1, 2^30], got ${describe(capacity)}`);
  }
  if (type !== 'number' && type !== 'bigint') {
    throw invalidType(`${what}: options.type must be 'number' or 'bigint', got ${describe(type)}`);
  }
  return { capacity, type };
}

/** Checks that `buffer` is a SharedArrayBuffer (any realm). */
export function checkSharedBuffer(what: string, buffer: unknown): SharedArrayBuffer {
  if (!types.isSharedArrayBuffer(buffer)) {
    throw invalidType(`${what}: buffer must be a SharedArrayBuffer (the queue's .buffer), got ${describe(buffer)}`);
  }
  return buffer;
}

/**
 * Throws unless `value` fits a queue of `type` (number: non-negative safe
 * integer; bigint: [0, 2^64 - 1]). With `index`, the message names it values[index].
 */
export function checkValue(type: QueueValueType, value: unknown, index = -1): void {
  if (type === 'number') {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return;
  } else if (typeof value === 'bigint' && value >= 0n && value <= MAX_U64) {
    return;
  }
  const subject = index < 0 ? 'value' : `values[${index}]`;
  if (type === 'number') {
    if (typeof value !== 'number') throw invalidType(`${subject} must be a number (the queue holds numbers), got ${describe(value)}`);
    if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(`${subject} must be a non-negative safe integer, got ${describe(value)}`);
  } else {
    if (typeof value !== 'bigint') throw invalidType(`${subject} must be a bigint (the queue holds bigints), got ${describe(value)}`);
    if (value < 0n || value > MAX_U64) throw outOfRange(`${subject} must be a bigint in [0, 2^64 - 1], got ${describe(value)}`);
  }
}

/** The array types a bulk call takes for each value type. */
export function checkBulkSource(type: QueueValueType, values: unknown): { length: number } {
  const ok =
    Array.isArray(values) || (type === 'number' ? types.isFloat64Array(values) : types.isBigUint64Array(values));
  if (!ok) {
    const want = type === 'number' ? 'a Float64Array or an array of numbers' : 'a BigUint64Array or an array of bigints';
    throw invalidType(`values must be ${want}, got ${describe(values)}`);
  }
  return values as { length: number };
}

export function checkBulkTarget(type: QueueValueType, out: unknown): { length: number } {
  const ok = type === 'number' ? types.isFloat64Array(out) : types.isBigUint64Array(out);
  if (!ok) throw invalidType(`out must be a ${type === 'number' ? 'Float64Array' : 'BigUint64Array'}, got ${describe(out)}`);
  return out as { length: number };
}

/** Resolves a bulk call's offset and count (defaults: 0 and the rest of the array). */
export function checkRange(length: number, offset: unknown, count: unknown): { offset: number; count: number } {
  const off = offset === undefined ? 0 : offset;
  if (typeof off !== 'number' || !Number.isInteger(off) || off < 0 || off > length) {
    throw outOfRange(`offset must be an integer in [0, ${length}], got ${describe(off)}`);
  }
  const n = count === undefined ? length - off : count;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > length - off) {
    throw outOfRange(`count must be an integer in [0, ${length - off}] (offset ${off}, length ${length}), got ${describe(n)}`);
  }
  return { offset: off, count: n };
}
