/**
 * perflab's public entry: the queues usable across worker_threads, the
 * errors, and what the native addon reports about itself.
 */
export { SpscQueue } from './queues/spsc-queue.js';
export { MpmcQueue } from './queues/mpmc-queue.js';
export { JsAtomicsRing } from './queues/js-ring.js';
export type { AttachOptions, BulkSource, BulkTarget, ConcurrentQueue, QueueOptions, QueueValue, QueueValueType } from './queues/shared-queue.js';
export { MAX_CAPACITY } from './queues/validate.js';
export { PerflabError, UsageError, type PerflabErrorCode } from './errors.js';
export { bindingPath, loadBinding, type BindingModule, type IoUringProbeResult } from './native/binding.js';
