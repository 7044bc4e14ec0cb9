/**
 * One cross-worker sample of the `js` family, timed by the harness itself: a
 * producer worker (producer-worker.ts) pushes 0, 1, 2, ...; this thread
 * consumes for `durationMs`, checking each item is the next one expected
 * (exactly once, in order), and reports items/s. Queue scenarios consume in a
 * synchronous loop; postMessage scenarios consume in 'message' events until a
 * timer ends the box. An untimed, validated warm-up (200 ms) comes first so JIT
 * tier-up is not timed. Run one sample per process for comparisons.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { loadBinding } from '../../native/binding.js';
import { JsAtomicsRing } from '../../queues/js-ring.js';
import { MpmcQueue } from '../../queues/mpmc-queue.js';
import { SpscQueue } from '../../queues/spsc-queue.js';
import { describe, outOfRange } from '../../queues/validate.js';
import {
  BATCH,
  batchOf,
  CREDIT_NOTIFY_EVERY,
  CTRL,
  IN_FLIGHT,
  isCrossWorkerScenario,
  STATE_GO,
  STATE_STOP,
  type CrossWorkerScenario,
  type ProducerData,
} from './scenarios.js';
import { jsFamilyScript } from './dist-script.js';

/** One sample: `valid` false (with `reason`) when an item was lost, duplicated or reordered, or the producer failed. */
export interface CrossWorkerSample {
  scenario: CrossWorkerScenario;
  items: number;
  elapsed_ns: number;
  items_per_s: number;
  valid: boolean;
  reason?: string;
  /** Items per call or message. */
  batch: number;
  /** Items in flight at most (queue capacity, postMessage credit). */
  in_flight: number;
  /** Where the threads ran, e.g. "consumer cpu 0, producer cpu 1" or "unpinned (1 cpu allowed)". */
  affinity: string;
}

/** Options of runCrossWorkerSample. */
export interface CrossWorkerOptions {
  /** The time box (ms). */
  durationMs: number;
  /** Pin consumer and producer to two different allowed CPUs (default true; needs 2+ CPUs). */
  pin?: boolean;
  /** Untimed, validated warm-up before the box starts, so JIT tier-up is not timed (default 200 ms). */
  warmupMs?: number;
}

interface Consumed {
  items: number;
  elapsedNs: number;
  reason?: string;
}

const nowNs = (): bigint => process.hrtime.bigint();

/**
 * The measured window of a sample: items flow (and are validated) from GO, but
 * the clock starts only after the warm-up, at the first check past it, and
 * counts the items consumed from there.
 */
class TimeBox {
  readonly #warmEnd: number;
  readonly #deadline: number;
  #t0 = 0n;
  #base = -1;
  constructor(warmupMs: number, durationMs: number) {
    this.#warmEnd = performance.now() + warmupMs;
    this.#deadline = this.#warmEnd + durationMs;
  }
  /** Call now and then with the items consumed so far; true when the box is over. */
  check(items: number): boolean {
    const now = performance.now();
    if (this.#base < 0) {
      if (now >= this.#warmEnd) {
        this.#t0 = nowNs();
        this.#base = items;
      }
      return false;
    }
    return now >= this.#deadline;
  }
  /** Milliseconds until the next phase boundary (for timer-driven consumers). */
  msToNext(): number {
    return Math.max(0, (this.#base < 0 ? this.#warmEnd : this.#deadline) - performance.now());
  }
  result(items: number, reason: string | undefined): Consumed {
    if (this.#base < 0) return { items: 0, elapsedNs: 0, reason: reason ?? 'the sample ended during its warm-up' };
    return { items: items - this.#base, elapsedNs: Number(nowNs() - this.#t0), reason };
  }
}

function start(ctrl: Int32Array): bigint {
  const t0 = nowNs();
  Atomics.store(ctrl, CTRL.STATE, STATE_GO);
  Atomics.notify(ctrl, CTRL.STATE);
  return t0;
}

function producerFailed(ctrl: Int32Array): boolean {
  return Atomics.load(ctrl, CTRL.PRODUCER_FAILED) !== 0;
}

/**
 * The consumer's half of the producer's sleep: when it sees PRODUCER_WAITING
 * it wakes the producer after freeing half the queue, or at once on empty.
 */
class ProducerWaker {
  #countdown = -1;
  constructor(private readonly ctrl: Int32Array) {}

  popped(n: number): void {
    if (this.#countdown < 0) {
      if (Atomics.load(this.ctrl, CTRL.PRODUCER_WAITING) === 0) return;
      this.#countdown = IN_FLIGHT / 2;
    }
    this.#countdown -= n;
    if (this.#countdown <= 0) this.wake();
  }

  empty(): void {
    if (Atomics.load(this.ctrl, CTRL.PRODUCER_WAITING) !== 0) this.wake();
  }

  wake(): void {
    this.#countdown = -1;
    Atomics.store(this.ctrl, CTRL.PRODUCER_WAITING, 0);
    Atomics.notify(this.ctrl, CTRL.PRODUCER_WAITING);
  }
}

function consumeSingle(q: { tryPop(): number | bigint | undefined }, ctrl: Int32Array, box: TimeBox): Consumed {
  const waker = new ProducerWaker(ctrl);
  start(ctrl);
  let expected = 0;
  let empty = 0;
  let reason: string | undefined;
  for (;;) {
    const v = q.tryPop();
    if (v === undefined) {
      waker.empty();
      if ((++empty & 1023) === 0) {
        if (box.check(expected)) break;
        if (producerFailed(ctrl)) break;
      }
      continue;
    }
    if (v !== expected) {
      reason = `expected item ${expected}, got ${describe(v)}`;
      break;
    }
    expected++;
    waker.popped(1);
    if ((expected & 4095) === 0 && box.check(expected)) break;
  }
  return box.result(expected, reason);
}

function consumeBulk(q: SpscQueue, ctrl: Int32Array, box: TimeBox): Consumed {
  const out = new Float64Array(BATCH);
  const waker = new ProducerWaker(ctrl);
  start(ctrl);
  let expected = 0;
  let calls = 0;
  let reason: string | undefined;
  outer: for (;;) {
    const n = q.popBulk(out, 0, BATCH);
    if (n === 0) waker.empty();
    else waker.popped(n);
    for (let i = 0; i < n; i++) {
      if (out[i] !== expected) {
        reason = `expected item ${expected}, got ${describe(out[i])}`;
        break outer;
      }
      expected++;
    }
    if ((++calls & 63) === 0) {
      if (box.check(expected)) break;
      if (n === 0 && producerFailed(ctrl)) break;
    }
  }
  return box.result(expected, reason);
}

function consumeMessages(port: MessagePort, ctrl: Int32Array, box: TimeBox, batched: boolean): Promise<Consumed> {
  return new Promise((resolve) => {
    let expected = 0;
    let reason: string | undefined;
    port.on('message', (msg: unknown) => {
      if (reason !== undefined) return;
      if (batched) {
        const batch = msg as Float64Array;
        for (let i = 0; i < batch.length; i++) {
          if (batch[i] !== expected) {
            reason = `expected item ${expected}, got ${describe(batch[i])}`;
            return;
          }
          expected++;
        }
      } else {
        if (msg !== expected) {
          reason = `expected item ${expected}, got ${describe(msg)}`;
          return;
        }
        expected++;
      }
      Atomics.store(ctrl, CTRL.CONSUMED, expected);
      if (batched || (expected & (CREDIT_NOTIFY_EVERY - 1)) === 0) Atomics.notify(ctrl, CTRL.CONSUMED);
    });
    start(ctrl);
    // Two timers: the end of the warm-up marks the window, the deadline closes it.
    const tick = (): void => {
      if (!box.check(expected)) {
        setTimeout(tick, box.msToNext());
        return;
      }
      const result = box.result(expected, reason);
      port.close();
      resolve(result);
    };
    setTimeout(tick, box.msToNext());
  });
}

function waitReady(worker: Worker, errors: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { ready?: boolean; error?: string }): void => {
      if (m.ready) resolve();
      else if (m.error) reject(new Error(`producer failed: ${m.error}`));
    };
    worker.on('message', onMessage);
    worker.once('error', (err) => reject(err));
    worker.once('exit', (code) => reject(new Error(`producer exited with code ${code} before it was ready${errors.length ? `: ${errors[0]}` : ''}`)));
  });
}

function waitExit(worker: Worker, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => void worker.terminate().then(() => resolve()), ms);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Runs one cross-worker sample of `scenario` for `durationMs` and returns the
 * validated item count and rate. Throws only when the sample cannot run
 * (bad arguments, addon or dist/ missing, the worker not starting).
 */
export async function runCrossWorkerSample(scenario: CrossWorkerScenario, options: CrossWorkerOptions): Promise<CrossWorkerSample> {
  if (!isCrossWorkerScenario(scenario)) {
    throw outOfRange(`scenario must be one of spsc-native, mpmc-native, js-atomics-ring, postmessage, spsc-native-bulk, postmessage-batch; got ${describe(scenario)}`);
  }
  const durationMs = options?.durationMs;
  const warmupMs = options.warmupMs ?? 200;
  if (typeof warmupMs !== 'number' || !Number.isFinite(warmupMs) || warmupMs < 0 || warmupMs > 60_000) {
    throw outOfRange(`warmupMs must be a number in [0, 60000], got ${describe(warmupMs)}`);
  }
  if (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs <= 0 || durationMs > 600_000) {
    throw outOfRange(`durationMs must be a number in (0, 600000], got ${describe(durationMs)}`);
  }
  const binding = loadBinding();
  const allowed = binding.getThreadAffinity();
  const pin = options.pin !== false && allowed.length >= 2;
  const affinity = pin ? `consumer cpu ${allowed[0]}, producer cpu ${allowed[1]}` : `unpinned (${allowed.length} cpu${allowed.length === 1 ? '' : 's'} allowed)`;
  const control = new SharedArrayBuffer(CTRL.WORDS * 4);
  const ctrl = new Int32Array(control);
  const data: ProducerData = { scenario, control };
  if (pin) data.cpu = allowed[1];
  const transfer: MessagePort[] = [];
  let queue: SpscQueue | MpmcQueue | JsAtomicsRing | undefined;
  let consumerPort: MessagePort | undefined;
  if (scenario === 'postmessage' || scenario === 'postmessage-batch') {
    const channel = new MessageChannel();
    consumerPort = channel.port1;
    data.port = channel.port2;
    transfer.push(channel.port2);
  } else {
    queue =
      scenario === 'mpmc-native'
        ? new MpmcQueue({ capacity: IN_FLIGHT })
        : scenario === 'js-atomics-ring'
          ? new JsAtomicsRing({ capacity: IN_FLIGHT })
          : new SpscQueue({ capacity: IN_FLIGHT });
    data.queue = queue.buffer;
  }
  const errors: string[] = [];
  const worker = new Worker(jsFamilyScript('producer-worker.js'), { workerData: data, transferList: transfer });
  worker.on('message', (m: { error?: string }) => {
    if (m.error) errors.push(m.error);
  });
  worker.on('error', (err) => errors.push(err.stack ?? String(err)));
  let consumed: Consumed;
  try {
    await waitReady(worker, errors);
    if (pin) binding.setThreadAffinity([allowed[0]!]);
    const box = new TimeBox(warmupMs, durationMs);
    if (consumerPort) consumed = await consumeMessages(consumerPort, ctrl, box, scenario === 'postmessage-batch');
    else if (scenario === 'spsc-native-bulk') consumed = consumeBulk(queue as SpscQueue, ctrl, box);
    else consumed = consumeSingle(queue!, ctrl, box);
  } finally {
    Atomics.store(ctrl, CTRL.STATE, STATE_STOP);
    Atomics.notify(ctrl, CTRL.STATE);
    Atomics.notify(ctrl, CTRL.CONSUMED);
    Atomics.notify(ctrl, CTRL.PRODUCER_WAITING);
    if (pin) binding.setThreadAffinity(allowed);
    await waitExit(worker, 5000);
    queue?.dispose();
  }
  let reason = consumed.reason;
  if (reason === undefined && (errors.length > 0 || producerFailed(ctrl))) reason = `producer failed: ${errors[0] ?? 'unknown error'}`;
  if (reason === undefined && consumed.items === 0) reason = 'no items arrived';
  const sample: CrossWorkerSample = {
    scenario,
    items: consumed.items,
    elapsed_ns: consumed.elapsedNs,
    items_per_s: consumed.elapsedNs > 0 ? consumed.items / (consumed.elapsedNs / 1e9) : 0,
    valid: reason === undefined,
    batch: batchOf(scenario),
    in_flight: IN_FLIGHT,
    affinity,
  };
  if (reason !== undefined) sample.reason = reason;
  return sample;
}
