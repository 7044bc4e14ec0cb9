import type { QueueValueType } from '../native/binding.js';
import { attachNative, NativeQueue, type AttachArg, type AttachOptions, type QueueOptions } from './shared-queue.js';

/**
 * A bounded multi-producer multi-consumer queue in a SharedArrayBuffer,
 * implemented natively (Vyukov's queue: a sequence number per cell, one CAS
 * per claim; bulk calls claim a run of cells with one CAS). Any number of
 * worker_threads may push and pop at once. Items from one producer arrive in
 * the order it pushed them. `tryPush`/`tryPop` may fail briefly while another
 * thread is mid-operation.
 */
export class MpmcQueue<T extends QueueValueType = 'number'> extends NativeQueue<T> {
  /** Allocates a new, empty queue. */
  constructor(options: QueueOptions<T>);
  /** @internal used by attach */
  constructor(arg: AttachArg);
  constructor(arg: QueueOptions<T> | AttachArg) {
    super('MpmcQueue', 'mpmc', arg);
  }

  /**
   * Opens, in this thread, the queue that another thread created in `buffer`.
   * Throws TypeError for a non-SharedArrayBuffer and ERR_PERFLAB_BAD_BUFFER for
   * a buffer that holds no MpmcQueue (or not one of `options.type`).
   */
  static attach<T extends QueueValueType = QueueValueType>(buffer: SharedArrayBuffer, options?: AttachOptions<T>): MpmcQueue<T> {
    return new MpmcQueue<T>(attachNative('MpmcQueue', 'mpmc', buffer, options));
  }
}
