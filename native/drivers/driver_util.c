/*
 * driver_util: clock, pinning, backoff, start barrier and rusage deltas for the
 * queue drivers (see driver_util.h for the design).
 *
 * Threading: every function may be called from any thread; the barrier is the
 * only shared state and is synchronised by its own atomics. Needs
 * sched_getaffinity/sched_setaffinity (Linux); when they fail the caller runs
 * unpinned and reports it.
 */
#define _GNU_SOURCE
#include "driver_util.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t perflab_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int perflab_allowed_cpus(int *cpus, int max) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return -errno;
  int n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
    if (CPU_ISSET(cpu, &set)) cpus[n++] = cpu;
  return n > 0 ? n : -ENODEV;
}

int perflab_pin_self(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return -EINVAL;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  /* pid 0 = the calling thread (sched_setaffinity acts on a thread id). */
  if (sched_setaffinity(0, sizeof(set), &set) != 0) return -errno;
  return 0;
}

void perflab_affinity_append(char *buf, size_t len, const char *role, int index, int cpu) {
  if (len == 0) return;
  size_t used = strnlen(buf, len);
  if (used >= len - 1) return;
  if (used >= 3 && strcmp(buf + used - 3, "...") == 0) return; /* already truncated */
  char item[64], num[16] = "";
  if (index >= 0) snprintf(num, sizeof(num), "%d", index);
  int n = cpu >= 0 ? snprintf(item, sizeof(item), "%s%s%s:cpu%d", used ? " " : "", role, num, cpu)
                   : snprintf(item, sizeof(item), "%s%s%s:unpinned", used ? " " : "", role, num);
  if (n < 0) return;
  if (used + (size_t)n < len) {
    memcpy(buf + used, item, (size_t)n + 1);
    return;
  }
  /* Does not fit: end with "..." (overwriting the tail if need be). */
  size_t at = len >= 4 && used > len - 4 ? len - 4 : used;
  if (len >= 4) memcpy(buf + at, "...", 4);
}

bool perflab_backoff(unsigned *spins) {
  if (*spins < PERFLAB_BACKOFF_SPINS) {
    ++*spins;
    perflab_cpu_relax();
    return false;
  }
  sched_yield();
  return true;
}

void perflab_barrier_init(perflab_barrier *b, unsigned expected) {
  atomic_init(&b->arrived, 0);
  atomic_init(&b->state, 0);
  b->expected = expected;
}

bool perflab_barrier_wait(perflab_barrier *b) {
  /* relaxed: pairs with the coordinator's relaxed load in
   * perflab_barrier_await_arrivals. Guarantees only the count (an atomic RMW
   * never loses an arrival); nothing is published through it: what the worker
   * set up for the coordinator (e.g. its pin result) is read after
   * pthread_join. Release is not needed for that reason. */
  atomic_fetch_add_explicit(&b->arrived, 1, memory_order_relaxed);
  unsigned spins = 0;
  int s;
  /* acquire: pairs with the release store in perflab_barrier_release.
   * Guarantees the worker sees everything the coordinator wrote before the
   * release (the run's shared state, the start time). Relaxed would let a
   * worker start on stale setup; seq_cst adds nothing for a single flag. */
  while ((s = atomic_load_explicit(&b->state, memory_order_acquire)) == 0) perflab_backoff(&spins);
  return s > 0;
}

void perflab_barrier_await_arrivals(perflab_barrier *b, unsigned n) {
  unsigned spins = 0;
  /* relaxed: pairs with the workers' relaxed fetch_add in perflab_barrier_wait.
   * Guarantees only that n workers are waiting (about to spin on state); no
   * data travels with it. Stronger is not needed, see perflab_barrier_wait. */
  while (atomic_load_explicit(&b->arrived, memory_order_relaxed) < n) perflab_backoff(&spins);
}

void perflab_barrier_release(perflab_barrier *b, bool go) {
  /* release: pairs with the workers' acquire load in perflab_barrier_wait.
   * Guarantees the run's setup written before this store is visible to every
   * worker that sees go/abort. Relaxed would break that; seq_cst is not needed
   * for one flag read by acquire loads. */
  atomic_store_explicit(&b->state, go ? 1 : -1, memory_order_release);
}

void perflab_rusage_mark(struct rusage *out) {
  if (getrusage(RUSAGE_SELF, out) != 0) memset(out, 0, sizeof(*out));
}

/* Whole microseconds from a to b, as seconds (integer first: no rounding noise). */
static double tv_delta_s(struct timeval a, struct timeval b) {
  int64_t us = ((int64_t)b.tv_sec - (int64_t)a.tv_sec) * 1000000 + ((int64_t)b.tv_usec - (int64_t)a.tv_usec);
  return (double)us / 1e6;
}

void perflab_rusage_delta(const struct rusage *start, perflab_rusage *out) {
  struct rusage now;
  perflab_rusage_mark(&now);
  out->user_s = tv_delta_s(start->ru_utime, now.ru_utime);
  out->sys_s = tv_delta_s(start->ru_stime, now.ru_stime);
  out->voluntary_ctx = now.ru_nvcsw - start->ru_nvcsw;
  out->involuntary_ctx = now.ru_nivcsw - start->ru_nivcsw;
  if (out->user_s < 0) out->user_s = 0;
  if (out->sys_s < 0) out->sys_s = 0;
}

bool perflab_join_within(pthread_t thread, uint64_t timeout_ns) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t nsec = (uint64_t)ts.tv_nsec + timeout_ns % 1000000000ull;
  ts.tv_sec += (time_t)(timeout_ns / 1000000000ull + nsec / 1000000000ull);
  ts.tv_nsec = (long)(nsec % 1000000000ull);
  return pthread_timedjoin_np(thread, NULL, &ts) == 0;
}
