/*
 * queue_latency: round-trip latency by ping-pong over two queues.
 *
 * Technique: thread "ping" reads the clock, pushes round number i to q1 and
 * waits until q2 gives an item back; thread "pong" pops q1 and pushes what it
 * got to q2. Ping checks the echo is i and records the round trip. One clock
 * read per round: the end of round i is the start of round i + 1 (the loop's
 * own cost, a store into the sample array, is inside the RTT and is the same
 * for every variant). A few thousand warm-up rounds run first, not recorded;
 * then rounds are recorded until duration_ns has elapsed or max_rounds. The
 * samples are sorted afterwards for the percentiles, outside the timed part.
 * Each queue carries at most one item, so both queues are used as SPSC queues
 * (ping produces q1 and consumes q2, pong the reverse).
 *
 * Threading: two worker threads, pinned to two different allowed CPUs when
 * `pin` and at least two are allowed. With two or more CPUs the waits spin
 * with the CPU's pause hint (yielding now and then, in case both threads share
 * a CPU after all); with one CPU every failed poll yields, so the other thread
 * can run. A wait that sees nothing for 3 s is a lost item: the run is invalid
 * and both threads stop.
 *
 * Needs POSIX threads; pinning falls back to unpinned (and says so).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_util.h"
#include "queue_driver.h"

#define LT_DEFAULT_MAX_ROUNDS 2000000u
#define LT_LIMIT_MAX_ROUNDS (UINT64_C(1) << 26) /* 512 MiB of samples */
#define LT_WARMUP_ROUNDS 5000u
#define LT_CHECK_EVERY 1024u           /* failed polls between clock/stop checks */
#define LT_SPIN_YIELD_EVERY 1024u      /* spin mode: failed polls between yields */
#define LT_LINE 128

static_assert((LT_CHECK_EVERY & (LT_CHECK_EVERY - 1)) == 0, "check interval is a mask");
static_assert((LT_SPIN_YIELD_EVERY & (LT_SPIN_YIELD_EVERY - 1)) == 0, "yield interval is a mask");
static_assert(LT_SPIN_YIELD_EVERY % LT_CHECK_EVERY == 0, "yields happen on check polls");

typedef struct lt_run {
  const perflab_queue_ops *ops;
  perflab_queue *q1, *q2; /* ping -> pong, pong -> ping */
  uint64_t duration_ns, max_rounds;
  bool spin;              /* two CPUs or more: spin; one: yield on every failed poll */
  int cpu_ping, cpu_pong; /* -1: not pinned */
  int pin_err_ping, pin_err_pong;
  perflab_barrier barrier;
  uint64_t *rtt;          /* max_rounds samples, prefaulted */
  uint64_t rounds;        /* written by ping, read after join */
  perflab_rusage rusage;  /* of the recorded rounds, written by ping */
  char reason[PERFLAB_REASON_LEN]; /* written by ping only, read after join */
  pthread_t ping, pong;
  /* Set by ping when it is done (or gave up); pong exits on it. */
  _Alignas(LT_LINE) atomic_bool stop;
} lt_run;

static bool lt_stopped(lt_run *run) {
  /* relaxed: pairs with the relaxed store at the end of lt_ping_main.
   * Guarantees pong sees the request within a few polls; nothing is read on the
   * strength of it (results cross via pthread_join). Stronger is not needed. */
  return atomic_load_explicit(&run->stop, memory_order_relaxed);
}

/* One failed poll of a waiter. */
static inline void lt_poll_wait(lt_run *run, uint64_t polls) {
  if (!run->spin) sched_yield();
  else if ((polls & (LT_SPIN_YIELD_EVERY - 1)) == 0) sched_yield();
  else perflab_cpu_relax();
}

/* Ping's waits: false after PERFLAB_STALL_NS without success (reason set). */
static bool lt_ping_push(lt_run *run, uint64_t v, uint64_t since, uint64_t round) {
  uint64_t polls = 0;
  while (!run->ops->try_push(run->q1, v)) {
    lt_poll_wait(run, ++polls);
    if ((polls & (LT_CHECK_EVERY - 1)) == 0 && perflab_now_ns() - since >= PERFLAB_STALL_NS) {
      snprintf(run->reason, sizeof(run->reason),
               "round %" PRIu64 ": try_push on an empty ping queue failed for 3 s", round);
      return false;
    }
  }
  return true;
}

static bool lt_ping_pop(lt_run *run, uint64_t *out, uint64_t since, uint64_t round) {
  uint64_t polls = 0;
  while (!run->ops->try_pop(run->q2, out)) {
    lt_poll_wait(run, ++polls);
    if ((polls & (LT_CHECK_EVERY - 1)) == 0 && perflab_now_ns() - since >= PERFLAB_STALL_NS) {
      snprintf(run->reason, sizeof(run->reason),
               "round %" PRIu64 ": no echo for 3 s (item lost)", round);
      return false;
    }
  }
  return true;
}

/* One round: push v, wait for its echo. false when invalid (reason set). */
static inline bool lt_round(lt_run *run, uint64_t v, uint64_t t0) {
  uint64_t got;
  if (!lt_ping_push(run, v, t0, v) || !lt_ping_pop(run, &got, t0, v)) return false;
  if (__builtin_expect(got != v, 0)) {
    snprintf(run->reason, sizeof(run->reason), "round %" PRIu64 ": sent %" PRIu64 ", echo was %" PRIu64, v, v, got);
    return false;
  }
  return true;
}

static void *lt_ping_main(void *arg) {
  lt_run *run = arg;
  if (run->cpu_ping >= 0) run->pin_err_ping = perflab_pin_self(run->cpu_ping);
  if (!perflab_barrier_wait(&run->barrier)) return NULL;

  /* Warm-up: LT_WARMUP_ROUNDS, or a fifth of the time box, whichever ends first. */
  uint64_t v = 0, t = perflab_now_ns();
  uint64_t warm_end = run->duration_ns ? t + run->duration_ns / 5 : UINT64_MAX;
  bool ok = true;
  for (; ok && v < LT_WARMUP_ROUNDS && t < warm_end; v++) {
    ok = lt_round(run, v, t);
    t = perflab_now_ns();
  }

  uint64_t n = 0;
  if (ok) {
    struct rusage ru0;
    perflab_rusage_mark(&ru0);
    uint64_t *rtt = run->rtt, max = run->max_rounds;
    uint64_t t0 = perflab_now_ns();
    uint64_t deadline = run->duration_ns ? t0 + run->duration_ns : UINT64_MAX;
    while (n < max) {
      if (!lt_round(run, v, t0)) break;
      uint64_t t1 = perflab_now_ns();
      rtt[n++] = t1 - t0;
      v++;
      t0 = t1;
      if (t1 >= deadline) break;
    }
    perflab_rusage_delta(&ru0, &run->rusage);
  }
  run->rounds = n;
  /* relaxed: pairs with lt_stopped in pong. Guarantees pong eventually exits;
   * rounds, samples and reason are read by the coordinator after
   * pthread_join. Stronger is not needed: pong reads nothing ping wrote. */
  atomic_store_explicit(&run->stop, true, memory_order_relaxed);
  return NULL;
}

static void *lt_pong_main(void *arg) {
  lt_run *run = arg;
  if (run->cpu_pong >= 0) run->pin_err_pong = perflab_pin_self(run->cpu_pong);
  if (!perflab_barrier_wait(&run->barrier)) return NULL;
  const perflab_queue_ops *ops = run->ops;
  uint64_t v, polls = 0;
  for (;;) {
    while (!ops->try_pop(run->q1, &v)) {
      lt_poll_wait(run, ++polls);
      if ((polls & (LT_CHECK_EVERY - 1)) == 0 && lt_stopped(run)) return NULL;
    }
    while (!ops->try_push(run->q2, v)) {
      lt_poll_wait(run, ++polls);
      if ((polls & (LT_CHECK_EVERY - 1)) == 0 && lt_stopped(run)) return NULL;
    }
  }
}

static int lt_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least q of the samples at or below it. */
static double lt_pct(const uint64_t *sorted, uint64_t n, double q) {
  double rank = q * (double)n;
  uint64_t k = (uint64_t)rank;
  if ((double)k < rank) k++;
  if (k < 1) k = 1;
  if (k > n) k = n;
  return (double)sorted[k - 1];
}

static void lt_free(lt_run *run) {
  if (run->q1) run->ops->destroy(run->q1);
  if (run->q2) run->ops->destroy(run->q2);
  free(run->rtt);
  free(run);
}

int perflab_queue_latency(const perflab_queue_ops *ops, const perflab_latency_params *p,
                          perflab_latency_result *r) {
  memset(r, 0, sizeof(*r));
  if (!ops || !p) {
    snprintf(r->reason, sizeof(r->reason), "no variant or no parameters");
    return -EINVAL;
  }
  if (p->capacity < 1) {
    snprintf(r->reason, sizeof(r->reason), "capacity must be at least 1");
    return -EINVAL;
  }
  if (p->max_rounds > LT_LIMIT_MAX_ROUNDS) {
    snprintf(r->reason, sizeof(r->reason), "max_rounds must be at most 2^26");
    return -EINVAL;
  }
  if (p->duration_ns == 0 && p->max_rounds == 0) {
    snprintf(r->reason, sizeof(r->reason), "a run needs a time box (duration_ns) or a bound (max_rounds)");
    return -EINVAL;
  }
  lt_run *run = calloc(1, sizeof(*run));
  if (!run) {
    snprintf(r->reason, sizeof(r->reason), "out of memory");
    return -ENOMEM;
  }
  run->ops = ops;
  run->duration_ns = p->duration_ns;
  run->max_rounds = p->max_rounds ? p->max_rounds : LT_DEFAULT_MAX_ROUNDS;
  run->cpu_ping = run->cpu_pong = -1;
  atomic_init(&run->stop, false);
  /* Prefault the samples: a page fault must not land inside a round trip. */
  run->rtt = malloc(sizeof(uint64_t) * run->max_rounds);
  if (!run->rtt) {
    snprintf(r->reason, sizeof(r->reason), "out of memory for %" PRIu64 " samples", run->max_rounds);
    lt_free(run);
    return -ENOMEM;
  }
  memset(run->rtt, 0, sizeof(uint64_t) * run->max_rounds);
  run->q1 = ops->create(p->capacity);
  run->q2 = run->q1 ? ops->create(p->capacity) : NULL;
  if (!run->q2) {
    snprintf(r->reason, sizeof(r->reason), "perflab_queue_create(%zu) returned NULL", p->capacity);
    lt_free(run);
    return -ENOMEM;
  }

  int cpus[PERFLAB_MAX_CPUS];
  int ncpu = perflab_allowed_cpus(cpus, PERFLAB_MAX_CPUS);
  run->spin = ncpu >= 2;
  if (p->pin && ncpu > 0) {
    run->cpu_ping = cpus[0];
    run->cpu_pong = cpus[ncpu >= 2 ? 1 : 0];
  }

  perflab_barrier_init(&run->barrier, 2);
  int e = pthread_create(&run->ping, NULL, lt_ping_main, run);
  if (e == 0) {
    e = pthread_create(&run->pong, NULL, lt_pong_main, run);
    if (e) {
      perflab_barrier_await_arrivals(&run->barrier, 1);
      perflab_barrier_release(&run->barrier, false);
      pthread_join(run->ping, NULL);
    }
  }
  if (e) {
    snprintf(r->reason, sizeof(r->reason), "cannot create thread: %s", strerror(e));
    lt_free(run);
    return -e;
  }
  perflab_barrier_await_arrivals(&run->barrier, 2);
  perflab_barrier_release(&run->barrier, true);
  pthread_join(run->ping, NULL);
  pthread_join(run->pong, NULL);

  if (run->cpu_ping >= 0) {
    perflab_affinity_append(r->affinity, sizeof(r->affinity), "ping", -1, run->pin_err_ping ? -1 : run->cpu_ping);
    perflab_affinity_append(r->affinity, sizeof(r->affinity), "pong", -1, run->pin_err_pong ? -1 : run->cpu_pong);
  } else {
    snprintf(r->affinity, sizeof(r->affinity), "%s",
             p->pin ? "unpinned (sched_getaffinity failed)" : "unpinned");
  }
  r->rusage = run->rusage;
  r->rounds = run->rounds;
  r->valid = !run->reason[0];
  if (!r->valid) {
    snprintf(r->reason, sizeof(r->reason), "%s", run->reason);
  } else if (run->rounds == 0) {
    r->valid = false;
    snprintf(r->reason, sizeof(r->reason), "no round completed within the time box");
  } else {
    uint64_t n = run->rounds, sum = 0;
    qsort(run->rtt, n, sizeof(uint64_t), lt_cmp);
    for (uint64_t i = 0; i < n; i++) sum += run->rtt[i];
    r->rtt_ns_min = (double)run->rtt[0];
    r->rtt_ns_max = (double)run->rtt[n - 1];
    r->rtt_ns_mean = (double)sum / (double)n;
    r->rtt_ns_p50 = lt_pct(run->rtt, n, 0.50);
    r->rtt_ns_p90 = lt_pct(run->rtt, n, 0.90);
    r->rtt_ns_p99 = lt_pct(run->rtt, n, 0.99);
    r->rtt_ns_p999 = lt_pct(run->rtt, n, 0.999);
  }
  lt_free(run);
  return 0;
}
