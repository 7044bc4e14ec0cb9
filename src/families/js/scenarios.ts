/**
 * The `js` family's cross-worker scenarios: one producer worker pushes
 * 0, 1, 2, ... for a fixed time; the consumer (the sampling process's main
 * thread) checks every item arrives once and in order, and counts them.
 *
 * Fairness: every scenario bounds the items in flight to the same number,
 * IN_FLIGHT. The native queues and the JS ring have that capacity; a full
 * queue makes the producer retry SPIN_BEFORE_WAIT times, then raise
 * PRODUCER_WAITING and sleep in Atomics.wait; the consumer wakes it once it
 * has freed half the queue (or finds the queue empty), WAIT_MS is only a
 * backstop. A blind timed sleep instead costs far more than draining the
 * queue does on a loaded 2-vCPU machine. postMessage has no bound of its own
 * (its queue grows without limit), so its producer takes credit from a shared
 * counter the consumer advances per message (an Atomics.store, nearly free
 * next to a postMessage); with no credit left it waits on that counter (the
 * consumer notifies every CREDIT_NOTIFY_EVERY items, WAIT_MS as backstop).
 * Batched scenarios move BATCH items per call or message.
 */

import type { MessagePort } from 'node:worker_threads';

/** Every cross-worker scenario, as `runCrossWorkerSample` and sample-child take them. */
export const CROSS_WORKER_SCENARIOS = [
  'spsc-native',
  'mpmc-native',
  'js-atomics-ring',
  'postmessage',
  'spsc-native-bulk',
  'postmessage-batch',
] as const;

export type CrossWorkerScenario = (typeof CROSS_WORKER_SCENARIOS)[number];

/** Items in flight at most, in every scenario (queue capacity; postMessage credit window). */
export const IN_FLIGHT = 4096;
/** Items per pushBulk/popBulk call or per postMessage in the batched scenarios. */
export const BATCH = 256;
/** Failed pushes (or credit checks) before the producer sleeps until woken. */
export const SPIN_BEFORE_WAIT = 256;
/** Backstop of a producer's sleep (ms); the consumer or the stop signal normally wakes it sooner. */
export const WAIT_MS = 1;
/** The consumer wakes a credit-starved postMessage producer this often (items). */
export const CREDIT_NOTIFY_EVERY = 256;

/** Words of the control SharedArrayBuffer (Int32). */
export const CTRL = {
  /** 0 setting up, 1 go, 2 stop */
  STATE: 0,
  /** items the consumer has taken (postMessage credit) */
  CONSUMED: 1,
  /** set by the producer when it failed */
  PRODUCER_FAILED: 2,
  /** 1 while the producer sleeps on a full queue (the consumer clears it and notifies) */
  PRODUCER_WAITING: 3,
  WORDS: 16,
} as const;

export const STATE_SETUP = 0;
export const STATE_GO = 1;
export const STATE_STOP = 2;

/** What the producer worker receives. */
export interface ProducerData {
  scenario: CrossWorkerScenario;
  control: SharedArrayBuffer;
  /** The queue's buffer (queue scenarios). */
  queue?: SharedArrayBuffer;
  /** The channel's producer end (postMessage scenarios), transferred. */
  port?: MessagePort;
  /** The CPU the producer pins itself to, if pinning. */
  cpu?: number;
}

export function isCrossWorkerScenario(s: string): s is CrossWorkerScenario {
  return (CROSS_WORKER_SCENARIOS as readonly string[]).includes(s);
}

/** Items one call or message moves in a scenario. */
export function batchOf(scenario: CrossWorkerScenario): number {
  return scenario === 'spsc-native-bulk' || scenario === 'postmessage-batch' ? BATCH : 1;
}
