/**
 * Runs one per-call case in a fresh worker thread (fresh type feedback) and
 * posts { result } or { error }. Started by measurePerCall.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { measurePerCallCase, type PerCallCase } from './per-call.js';

const { name, timeMs } = workerData as { name: PerCallCase; timeMs: number };
try {
  parentPort!.postMessage({ result: await measurePerCallCase(name, timeMs) });
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).stack ?? String(err) });
}
