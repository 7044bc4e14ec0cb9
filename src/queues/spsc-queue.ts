import type { QueueValueType } from '../native/binding.js';
import { attachNative, NativeQueue, type AttachArg, type AttachOptions, type QueueOptions } from './shared-queue.js';

/**
 * A bounded single-producer single-consumer queue in a SharedArrayBuffer,
 * implemented natively (cached-index ring: head and tail on their own cache
 * lines, each side caching the other's index). One thread pushes and one
 * thread pops at a time; those can be different worker_threads.
 *
 * @example
 * ```ts
 * const q = new SpscQueue({ capacity: 1024 });
 * const worker = new Worker(url, { workerData: q.buffer });
 * // in the worker: const q = SpscQueue.attach(workerData); q.tryPush(42);
 * const item = q.tryPop(); // number | undefined
 * ```
 */
export class SpscQueue<T extends QueueValueType = 'number'> extends NativeQueue<T> {
  /** Allocates a new, empty queue. */
  constructor(options: QueueOptions<T>);
  /** @internal used by attach */
  constructor(arg: AttachArg);
  constructor(arg: QueueOptions<T> | AttachArg) {
    super('SpscQueue', 'spsc', arg);
  }

  /**
   * Opens, in this thread, the queue that another thread created in `buffer`.
   * Throws TypeError for a non-SharedArrayBuffer and ERR_PERFLAB_BAD_BUFFER for
   * a buffer that holds no SpscQueue (or not one of `options.type`).
   */
  static attach<T extends QueueValueType = QueueValueType>(buffer: SharedArrayBuffer, options?: AttachOptions<T>): SpscQueue<T> {
    return new SpscQueue<T>(attachNative('SpscQueue', 'spsc', buffer, options));
  }
}
