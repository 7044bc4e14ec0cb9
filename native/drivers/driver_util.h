/*
 * driver_util: the small pieces every queue driver needs, kept in one place so
 * that all workloads time, pin, back off and start their threads the same way.
 *
 * - Clock: CLOCK_MONOTONIC in ns (vDSO, ~20 ns a call; drivers read it every
 *   few hundred operations, never per operation).
 * - Pinning: the CPUs this process may use come from sched_getaffinity (a
 *   cgroup/cpuset or taskset restriction is honoured); thread k of a run is
 *   pinned to allowed CPU k mod n, so callers that number their threads
 *   producer0, consumer0, producer1, ... put a 1x1 pair on two CPUs. Pinning
 *   is a request: when the kernel refuses, the thread runs unpinned and the
 *   affinity text says so.
 * - Backoff: a failed try_ spins a few times with the CPU's pause/yield hint,
 *   then gives the CPU away with sched_yield(). Threads may outnumber the
 *   vCPUs (4x4 on 2 vCPUs), so a spinner must let the thread it waits for run.
 * - Start barrier: workers check in, the coordinating thread takes the start
 *   time and releases them all at once (or tells them to abort when a later
 *   thread could not be created).
 * - Rusage: getrusage(RUSAGE_SELF) deltas of the measured part.
 *
 * No kernel feature beyond POSIX threads and sched_{get,set}affinity.
 */
#ifndef PERFLAB_DRIVER_UTIL_H
#define PERFLAB_DRIVER_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/resource.h>

#include "queue_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A wait that made no progress for this long is a lost item, not a slow run. */
#define PERFLAB_STALL_NS (3ull * 1000 * 1000 * 1000)

/* Most CPUs a run pins over (more allowed CPUs are ignored, never an error). */
#define PERFLAB_MAX_CPUS 256

uint64_t perflab_now_ns(void);

/* The CPUs this process may run on, ascending, at most `max`. Returns the
 * count (>= 1) or a negative errno. */
int perflab_allowed_cpus(int *cpus, int max);

/* Pins the calling thread to `cpu`. Returns 0 or a negative errno. */
int perflab_pin_self(int cpu);

/* Appends "role<index>:cpu<cpu>" (or "role<index>:unpinned" when cpu < 0) to
 * buf, space separated; no index when index < 0; truncates with "..." when buf
 * is full. */
void perflab_affinity_append(char *buf, size_t len, const char *role, int index, int cpu);

/* The CPU's spin-wait hint (x86 pause, arm yield); a compiler barrier elsewhere. */
static inline void perflab_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  __asm__ __volatile__("" ::: "memory");
#endif
}

/* Spins this many times before each sched_yield(). */
#define PERFLAB_BACKOFF_SPINS 32u

/* One failed attempt: pause while *spins < PERFLAB_BACKOFF_SPINS, then
 * sched_yield(). Reset *spins to 0 after a success. Returns true when it yielded. */
bool perflab_backoff(unsigned *spins);

/*
 * Start barrier. perflab_barrier_init(n) expects n workers. Each worker calls
 * perflab_barrier_wait(); the coordinator calls perflab_barrier_await_arrivals()
 * and then perflab_barrier_release(true) to start them, or (false) to make
 * every wait return false (abort).
 */
typedef struct perflab_barrier {
  atomic_uint arrived;
  atomic_int state; /* 0 waiting, 1 go, -1 abort */
  unsigned expected;
} perflab_barrier;

void perflab_barrier_init(perflab_barrier *b, unsigned expected);
/* Worker: check in and wait. true: start; false: abort, return at once. */
bool perflab_barrier_wait(perflab_barrier *b);
/* Coordinator: wait until `n` workers have checked in (n may be fewer than
 * expected when thread creation failed part way). */
void perflab_barrier_await_arrivals(perflab_barrier *b, unsigned n);
void perflab_barrier_release(perflab_barrier *b, bool go);

/* getrusage(RUSAGE_SELF) now; perflab_rusage_delta: what was used since `start`. */
void perflab_rusage_mark(struct rusage *out);
void perflab_rusage_delta(const struct rusage *start, perflab_rusage *out);

/* pthread_join with a time limit (ns): false when the thread did not end in
 * time (it is then left running; a driver gives up on a thread stuck inside a
 * hanging variant rather than hang itself). */
bool perflab_join_within(pthread_t thread, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif
