/**
 * The producer of a cross-worker sample (runs in a worker thread, from dist/):
 * attaches to the queue or takes the channel's port, says ready, waits for
 * go, then pushes 0, 1, 2, ... until told to stop. See scenarios.ts for the
 * backpressure each scenario uses.
 */
import type { MessagePort } from 'node:worker_threads';
import { parentPort, workerData } from 'node:worker_threads';
import { loadBinding } from '../../native/binding.js';
import { JsAtomicsRing } from '../../queues/js-ring.js';
import { MpmcQueue } from '../../queues/mpmc-queue.js';
import { SpscQueue } from '../../queues/spsc-queue.js';
import { BATCH, CTRL, IN_FLIGHT, SPIN_BEFORE_WAIT, STATE_SETUP, STATE_STOP, WAIT_MS, type ProducerData } from './scenarios.js';

const data = workerData as ProducerData;
const ctrl = new Int32Array(data.control);

const stopped = (): boolean => Atomics.load(ctrl, CTRL.STATE) === STATE_STOP;

/**
 * After SPIN_BEFORE_WAIT consecutive failures of `retry` (a push on a full
 * queue): raise PRODUCER_WAITING, retry once more (the consumer may have made
 * room before it could see the flag), then sleep until the consumer or stop
 * wakes us. Returns the new failure count, or -1 when the last retry worked.
 */
function backoff(fails: number, retry: () => boolean): number {
  if (fails < SPIN_BEFORE_WAIT) return fails + 1;
  Atomics.store(ctrl, CTRL.PRODUCER_WAITING, 1);
  if (retry()) {
    Atomics.store(ctrl, CTRL.PRODUCER_WAITING, 0);
    return -1;
  }
  if (!stopped()) Atomics.wait(ctrl, CTRL.PRODUCER_WAITING, 1, WAIT_MS);
  Atomics.store(ctrl, CTRL.PRODUCER_WAITING, 0);
  return 0;
}

function produceSingle(q: { tryPush(value: number): boolean }): void {
  let next = 0;
  let fails = 0;
  for (;;) {
    if (q.tryPush(next)) {
      next++;
      fails = 0;
      if ((next & 4095) === 0 && stopped()) return;
    } else {
      if (stopped()) return;
      fails = backoff(fails, () => q.tryPush(next));
      if (fails < 0) {
        next++;
        fails = 0;
      }
    }
  }
}

function produceBulk(q: { pushBulk(values: Float64Array, offset: number, count: number): number }): void {
  const batch = new Float64Array(BATCH);
  let next = 0;
  let offset = BATCH;
  let fails = 0;
  for (;;) {
    if (offset === BATCH) {
      for (let i = 0; i < BATCH; i++) batch[i] = next + i;
      next += BATCH;
      offset = 0;
    }
    const moved = q.pushBulk(batch, offset, BATCH - offset);
    if (moved > 0) {
      offset += moved;
      fails = 0;
      if ((next & 4095) === 0 && stopped()) return;
    } else {
      if (stopped()) return;
      let retried = 0;
      fails = backoff(fails, () => (retried = q.pushBulk(batch, offset, BATCH - offset)) > 0);
      offset += retried;
      if (fails < 0) fails = 0;
    }
  }
}

/** postMessage with credit: at most IN_FLIGHT items sent and not yet consumed. */
function producePostMessage(port: MessagePort, batched: boolean): void {
  const per = batched ? BATCH : 1;
  const batch = new Float64Array(BATCH);
  let sent = 0;
  let fails = 0;
  for (;;) {
    const consumed = Atomics.load(ctrl, CTRL.CONSUMED);
    if (sent - consumed + per <= IN_FLIGHT) {
      if (batched) {
        for (let i = 0; i < BATCH; i++) batch[i] = sent + i;
        port.postMessage(batch); // structured clone: copied, not transferred
      } else {
        port.postMessage(sent);
      }
      sent += per;
      fails = 0;
      if ((sent & 1023) === 0 && stopped()) break;
    } else {
      if (stopped()) break;
      if (++fails >= SPIN_BEFORE_WAIT) {
        fails = 0;
        Atomics.wait(ctrl, CTRL.CONSUMED, consumed, 1);
      }
    }
  }
  port.close();
}

function main(): void {
  if (data.cpu !== undefined) loadBinding().setThreadAffinity([data.cpu]);
  // Open everything before saying ready, so the timed part starts clean.
  let run: () => void;
  switch (data.scenario) {
    case 'spsc-native': {
      const q = SpscQueue.attach(data.queue!, { type: 'number' });
      run = () => produceSingle(q);
      break;
    }
    case 'spsc-native-bulk': {
      const q = SpscQueue.attach(data.queue!, { type: 'number' });
      run = () => produceBulk(q);
      break;
    }
    case 'mpmc-native': {
      const q = MpmcQueue.attach(data.queue!, { type: 'number' });
      run = () => produceSingle(q);
      break;
    }
    case 'js-atomics-ring': {
      const q = JsAtomicsRing.attach(data.queue!, { type: 'number' });
      run = () => produceSingle(q);
      break;
    }
    case 'postmessage':
    case 'postmessage-batch': {
      const port = data.port!;
      run = () => producePostMessage(port, data.scenario === 'postmessage-batch');
      break;
    }
  }
  parentPort!.postMessage({ ready: true });
  while (Atomics.load(ctrl, CTRL.STATE) === STATE_SETUP) Atomics.wait(ctrl, CTRL.STATE, STATE_SETUP, 1000);
  run();
}

try {
  main();
} catch (err) {
  Atomics.store(ctrl, CTRL.PRODUCER_FAILED, 1);
  parentPort!.postMessage({ error: (err as Error).stack ?? String(err) });
}
