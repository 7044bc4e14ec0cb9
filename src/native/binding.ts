/**
 * The native addon, loaded once per thread and typed once. Which build:
 * `PERFLAB_BUILD=gyp|cmake`; by default node-gyp's build/Release/perflab.node,
 * falling back to cmake-js's build-cmake/Release/perflab.node. The addon is
 * context-aware, so every worker thread loads its own instance.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PerflabError } from '../errors.js';
import { buildDir, type NativeBuild } from '../paths.js';

/** Queue kinds of the shared queues. */
export type SharedQueueKind = 'spsc' | 'mpmc';
/** How queue items cross into JS: non-negative safe integers, or bigints in [0, 2^64 - 1]. */
export type QueueValueType = 'number' | 'bigint';

/** One native queue handle over a SharedArrayBuffer's bytes (native/addon/shared_queue_wrap.cc). */
export interface NativeSharedQueue {
  /** false when full. Throws TypeError/RangeError (codes ERR_INVALID_ARG_TYPE/ERR_OUT_OF_RANGE) for a bad value. */
  tryPush(value: number | bigint): boolean;
  /** undefined when empty. */
  tryPop(): number | bigint | undefined;
  /**
   * Moves values[offset, offset + count) up to the free space; returns how many moved. An array's
   * elements are read first; if reading them (a getter) released this handle, throws ERR_PERFLAB_DISPOSED.
   */
  pushBulk(values: Float64Array | BigUint64Array | readonly (number | bigint)[], offset: number, count: number): number;
  /** Pops up to count items into out[offset...]; returns how many moved. */
  popBulk(out: Float64Array | BigUint64Array, offset: number, count: number): number;
  /** Items queued (a snapshot while other threads are active). */
  size(): number;
  /** Drops this handle's hold on the buffer; later calls throw ERR_PERFLAB_DISPOSED. */
  release(): void;
  readonly kind: SharedQueueKind;
  readonly valueType: QueueValueType;
  /** The real capacity: the requested one rounded up to a power of two (mpmc: at least 2). */
  readonly capacity: number;
}

/** Options that make the native constructor lay out a new queue instead of attaching. */
export interface NativeSharedQueueInit {
  kind: SharedQueueKind;
  capacity: number;
  valueType: QueueValueType;
}

/** `ioUringProbe()`: what this kernel allows, asked at run time. */
export interface IoUringProbeResult {
  supported: boolean;
  /** Negative errno from io_uring_queue_init when not supported, else 0. */
  error: number;
  /** IORING_FEAT_* names, e.g. ['single_mmap', 'nodrop', ...]. */
  features: string[];
  singleIssuer: boolean;
  deferTaskrun: boolean;
}

/** The raw addon, exactly as native/addon/ exports it. Use the public classes instead. */
export interface BindingModule {
  /**
   * With `init`: lays out a new queue in `view`'s bytes; without: attaches (validates the header).
   * `view` must be a Uint8Array over a SharedArrayBuffer: TypeError ERR_PERFLAB_BAD_BUFFER otherwise.
   */
  readonly SharedQueue: new (view: Uint8Array, init?: NativeSharedQueueInit) => NativeSharedQueue;
  /** Bytes a SharedArrayBuffer needs for a queue of this kind and capacity. */
  sharedQueueBytes(kind: SharedQueueKind, capacity: number): number;
  /** Does nothing: the bare N-API crossing, the floor under every native call. */
  noop(): void;
  versions(): { liburing: string; napi: number };
  ioUringProbe(): IoUringProbeResult;
  /** Pins the calling thread (main or worker) to these CPUs (pthread_setaffinity_np). */
  setThreadAffinity(cpus: number[]): void;
  /** The CPUs the calling thread may run on. */
  getThreadAffinity(): number[];
}

const ADDON = 'perflab.node';

function chosenBuild(): NativeBuild | undefined {
  const env = process.env.PERFLAB_BUILD;
  if (env === undefined || env === '') return undefined;
  if (env !== 'gyp' && env !== 'cmake') {
    throw new PerflabError('ERR_PERFLAB_USAGE', `PERFLAB_BUILD must be 'gyp' or 'cmake', not '${env}'`);
  }
  return env;
}

/**
 * The path of the addon this process loads: PERFLAB_BUILD's build, else the
 * node-gyp build, else the cmake-js build. Throws ERR_PERFLAB_NOT_BUILT (with
 * the command to run) when it does not exist.
 */
export function bindingPath(): string {
  const build = chosenBuild();
  const candidates = build ? [join(buildDir(build), ADDON)] : [join(buildDir('gyp'), ADDON), join(buildDir('cmake'), ADDON)];
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  throw new PerflabError(
    'ERR_PERFLAB_NOT_BUILT',
    `perflab: the native addon is not built (looked for ${candidates.join(' and ')}). Run: bash scripts/setup.sh`,
  );
}

let cached: BindingModule | undefined;

/** Loads the addon (once per thread; module state is per thread) and returns it typed. */
export function loadBinding(): BindingModule {
  if (cached) return cached;
  const path = bindingPath();
  const require = createRequire(import.meta.url);
  try {
    cached = require(path) as BindingModule;
  } catch (err) {
    throw new PerflabError('ERR_PERFLAB_NOT_BUILT', `perflab: cannot load ${path}: ${(err as Error).message}. Rebuild it: bash scripts/setup.sh`, {
      cause: err,
    });
  }
  return cached;
}
