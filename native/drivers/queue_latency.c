/*
 * queue_latency: round-trip latency by ping-pong over two queues.
 *
 * Technique: thread "ping" reads the clock, pushes round number i to q1 and
 * waits until q2 gives an item back; thread "pong" pops q1 and pushes what it
 * got XOR a per-run key to q2. Ping checks the echo is exactly i ^ key and
 * records the round trip. The key (drawn from the clock, never 0) is what
 * proves the item crossed the pong thread: a variant whose instances share
 * state, so that popping q2 hands back ping's own item from q1, answers i and
 * is caught on the first round (a fixed transform such as ~i could be faked
 * by a variant written against this driver; a per-run key cannot). One clock
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
 * and both threads stop. The very first round waits only as long as the time
 * box (at least LT_FIRST_ROUND_MIN_NS, for thread start-up on a loaded
 * machine): a queue that never moves an item is invalid ("no round trip
 * completed in N ms") without running 3 s past its time box.
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
#define LT_FIRST_ROUND_MIN_NS (250ull * 1000 * 1000) /* floor of the first round's wait */

static_assert((LT_CHECK_EVERY & (LT_CHECK_EVERY - 1)) == 0, "check interval is a mask");
static_assert((LT_SPIN_YIELD_EVERY & (LT_SPIN_YIELD_EVERY - 1)) == 0, "yield interval is a mask");
static_assert(LT_SPIN_YIELD_EVERY % LT_CHECK_EVERY == 0, "yields happen on check polls");

typedef struct lt_run {
  const perflab_queue_ops *ops;
  perflab_queue *q1, *q2; /* ping -> pong, pong -> ping */
  uint64_t duration_ns, max_rounds;
  uint64_t key;           /* pong echoes v ^ key; never 0; read-only after the barrier */
  uint64_t first_wait_ns; /* how long round 0 may wait (time box, floored, capped at the stall) */
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

/* How long round `round` may wait in all: the first round as long as the
 * time box allows (see the design block), any later one PERFLAB_STALL_NS. */
static inline uint64_t lt_wait_limit(const lt_run *run, uint64_t round) {
  return round == 0 ? run->first_wait_ns : PERFLAB_STALL_NS;
}

/* Round 0: "no item moved in 200 ms: ..."; later: "round 7: ... for 3000 ms". */
static void lt_wait_failed(lt_run *run, uint64_t round, const char *what) {
  uint64_t ms = lt_wait_limit(run, round) / 1000000;
  if (round == 0)
    snprintf(run->reason, sizeof(run->reason), "no item moved in %" PRIu64 " ms (no round trip completed): round 0: %s",
             ms, what);
  else
    snprintf(run->reason, sizeof(run->reason), "round %" PRIu64 ": %s for %" PRIu64 " ms", round, what, ms);
}

/* Ping's waits: false after lt_wait_limit without success (reason set). */
static bool lt_ping_push(lt_run *run, uint64_t v, uint64_t since, uint64_t round) {
  uint64_t polls = 0, limit = lt_wait_limit(run, round);
  while (!run->ops->try_push(run->q1, v)) {
    lt_poll_wait(run, ++polls);
    if ((polls & (LT_CHECK_EVERY - 1)) == 0 && perflab_now_ns() - since >= limit) {
      lt_wait_failed(run, round, "try_push on the empty ping queue kept failing");
      return false;
    }
  }
  return true;
}

static bool lt_ping_pop(lt_run *run, uint64_t *out, uint64_t since, uint64_t round) {
  uint64_t polls = 0, limit = lt_wait_limit(run, round);
  while (!run->ops->try_pop(run->q2, out)) {
    lt_poll_wait(run, ++polls);
    if ((polls & (LT_CHECK_EVERY - 1)) == 0 && perflab_now_ns() - since >= limit) {
      lt_wait_failed(run, round, "no echo came back (item lost)");
      return false;
    }
  }
  return true;
}

/* The slow path of lt_round: say what was wrong with the echo. */
static void lt_report_bad_echo(lt_run *run, uint64_t v, uint64_t got) {
  char why[160];
  if (got == v)
    snprintf(why, sizeof(why), "the value ping pushed came back unchanged: it never crossed the pong thread "
             "(do the two queue instances share state?)");
  else if ((got ^ run->key) < v)
    snprintf(why, sizeof(why), "the echo of round %" PRIu64 " (an item delivered twice)", got ^ run->key);
  else
    snprintf(why, sizeof(why), "a value that was never pushed");
  snprintf(run->reason, sizeof(run->reason),
           "round %" PRIu64 ": sent 0x%016" PRIx64 ", expected the echo 0x%016" PRIx64
           " (pong pushes the value XOR the run's key), got 0x%016" PRIx64 ": %s",
           v, v, v ^ run->key, got, why);
}

/* One round: push v, wait for its echo v ^ key. false when invalid (reason set). */
static inline bool lt_round(lt_run *run, uint64_t v, uint64_t t0) {
  uint64_t got;
  if (!lt_ping_push(run, v, t0, v) || !lt_ping_pop(run, &got, t0, v)) return false;
  if (__builtin_expect(got != (v ^ run->key), 0)) {
    lt_report_bad_echo(run, v, got);
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
  const uint64_t key = run->key;
  uint64_t v, polls = 0, echoes = 0;
  for (;;) {
    /* Also between successful echoes: a variant whose instances share state
     * can hand pong its own echoes back forever, so no poll ever fails. */
    if ((++echoes & (LT_CHECK_EVERY - 1)) == 0 && lt_stopped(run)) return NULL;
    while (!ops->try_pop(run->q1, &v)) {
      lt_poll_wait(run, ++polls);
      if ((polls & (LT_CHECK_EVERY - 1)) == 0 && lt_stopped(run)) return NULL;
    }
    v ^= key; /* the proof that this item went through pong */
    while (!ops->try_push(run->q2, v)) {
      lt_poll_wait(run, ++polls);
      if ((polls & (LT_CHECK_EVERY - 1)) == 0 && lt_stopped(run)) return NULL;
    }
  }
}

/* The echo key: splitmix64 of the clock and the run's address, never 0 (0
 * would make the echo the value itself). Not secret, only unknowable to a
 * variant built before the run. */
static uint64_t lt_draw_key(const lt_run *run) {
  uint64_t z = perflab_now_ns() ^ (uint64_t)(uintptr_t)run;
  z += UINT64_C(0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  z ^= z >> 31;
  return z ? z : UINT64_C(0x9E3779B97F4A7C15);
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
  run->key = lt_draw_key(run);
  run->first_wait_ns = PERFLAB_STALL_NS;
  if (p->duration_ns && p->duration_ns < run->first_wait_ns)
    run->first_wait_ns = p->duration_ns < LT_FIRST_ROUND_MIN_NS ? LT_FIRST_ROUND_MIN_NS : p->duration_ns;
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
  /* Bounded joins: ping ends within the time box plus its 3 s lost-echo limit
   * unless it is stuck inside the variant; pong soon after. A thread stuck in a
   * hanging variant is left running (and the run's memory leaked on purpose,
   * it may still touch it); the runner exits right after reporting. */
  uint64_t box = p->duration_ns ? p->duration_ns : 60ull * 1000000000ull;
  bool ping_done = perflab_join_within(run->ping, box + 2 * PERFLAB_STALL_NS);
  if (!ping_done) {
    /* relaxed: as the other stores of stop; no data rides on it. */
    atomic_store_explicit(&run->stop, true, memory_order_relaxed);
  }
  if (!ping_done || !perflab_join_within(run->pong, PERFLAB_STALL_NS)) {
    r->valid = false;
    snprintf(r->reason, sizeof(r->reason), "hang: the %s thread did not return from the variant", ping_done ? "pong" : "ping");
    return 0;
  }

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
