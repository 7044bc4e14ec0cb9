/*
 * queue_conformance: the one conformance suite of the spsc and mpmc families.
 *
 * Technique: two parts, both driven only through the loaded ops table.
 *   1. Sequential checks on a quiescent queue (one thread, so they hold for
 *      spsc too), for capacities 1, 2, 3, 1000, 1 << 16 and three hidden ones
 *      drawn from the seed: create(0) is NULL; a fresh queue is empty;
 *      exactly the full-edge rules of the contract (`capacity` pushes succeed,
 *      more may, but a full edge exists below 2 * capacity + 64 and stays put);
 *      FIFO order; fill/drain cycles and a steady level that wrap the ring
 *      many times; special and random values round-trip; the bulk calls
 *      (n = 0, partial moves, n above capacity, order, nothing written past
 *      what they report); and a random mix of all calls against a model.
 *   1b. instances_isolated: three queues alive at once (capacities 1, a small
 *      and a larger drawn one), each item tagged with the queue it was pushed
 *      into: every queue empty at first; an item pushed into one is not
 *      visible in the others; interleaved pushes and pops keep each queue's
 *      own FIFO; one full queue leaves the others empty and accepting; the
 *      first-created queue is destroyed while it holds items and the others
 *      go on (a queue created after it starts empty); with the bulk calls
 *      when they exist. It catches variants whose instances share state (a
 *      global ring, "the first live queue"), which one queue at a time never
 *      shows, and which would fake latency's ping-pong over two queues.
 *   2. Multi-threaded stress: spsc 1x1 (a small and a larger capacity), mpmc
 *      1x1, 2x2, 3x1, 1x3, 4x4 and one mix drawn from the seed. Item seq of
 *      producer p is the value ((p << 48) | seq) ^ salt (salt drawn from the
 *      seed, so values cover the whole 64-bit range). Each consumer records
 *      what it got in its own per-producer bitmaps and checks per-producer
 *      order as it goes; after join the bitmaps are merged: every item
 *      delivered exactly once, none invented, none left in the queue.
 *      Producers and consumers mix single and bulk calls when bulk exists.
 *   The seed fully determines every drawn parameter (splitmix64); thread
 *   interleavings are of course not reproducible.
 * Threading: the caller's thread only watches: the suite runs on a thread of
 *   its own that beats a heartbeat after every queue call, and the stress
 *   runs start producer and consumer threads that that thread watches in
 *   turn. Every wait is bounded: a stress run with no item moving for 5 s is
 *   stopped and reported ("lost N items"); a thread that then stays inside a
 *   queue call for 5 more s, or a sequential call that does not return for
 *   5 s, is reported as a hang, and its memory is leaked rather than freed
 *   under it (the caller must not dlclose the variant after a failure). A
 *   failed try spins briefly, then sched_yield()s (threads outnumber cores).
 * Kernel/features: pthreads, CLOCK_MONOTONIC, sched_yield.
 * Fallback: none needed. Returns -errno only when it cannot run (bad ops
 *   table, out of memory, pthread_create failure).
 */
#include "queue_conformance.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Default stress items per producer, per family: the whole suite stays under
 * ~2 s at -O2 on 2 vCPUs (the mutex baseline under 8 threads is the slowest),
 * and under ~30 s in sanitizer builds, which run 10-50x slower per operation. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define STRESS_ITEMS_SPSC 100000u
#define STRESS_ITEMS_MPMC 25000u
#else
#define STRESS_ITEMS_SPSC 500000u
#define STRESS_ITEMS_MPMC 100000u
#endif
#define STRESS_ITEMS_MAX (UINT64_C(1) << 40)
#define STALL_NS (5ull * 1000000000ull) /* no progress for this long: items were lost */
#define MAX_THREADS 8u
#define MAX_BATCH 32u

/* ---------- small tools ---------- */

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* Uniform-enough in [lo, hi] (the modulo bias is irrelevant here). */
static uint64_t draw(uint64_t *rng, uint64_t lo, uint64_t hi) {
  return lo + splitmix64(rng) % (hi - lo + 1);
}

/* A value for the sequential checks: mostly random, sometimes an edge value. */
static uint64_t draw_value(uint64_t *rng) {
  uint64_t r = splitmix64(rng);
  switch (r & 15) {
    case 0: return 0;
    case 1: return UINT64_MAX;
    default: return splitmix64(rng);
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* After a failed try: spin a little, then give the core away (threads may
 * outnumber cores, and the thread we wait for may be descheduled). */
static void backoff(unsigned *fails) {
  if (++*fails < 8)
    cpu_relax();
  else
    sched_yield();
}

/* ---------- suite state and reporting ---------- */

enum { MAX_NAMES = 24 };

typedef struct suite {
  const perflab_queue_ops *ops;
  bool mpmc, bulk;
  uint64_t rng;
  uint64_t stress_items;
  perflab_conformance_result *r; /* the suite thread's own result; copied out after join */
  perflab_conformance_result result;
  int err;
  const char *names[MAX_NAMES]; /* checks run, in order, for the pass summary */
  unsigned counts[MAX_NAMES];
  unsigned nnames;
  /* Hang detection: the suite thread beats after every queue call it makes;
   * the calling thread watches (see perflab_queue_conformance). */
  uint64_t beats;                /* suite thread only */
  _Atomic uint64_t heartbeat;    /* the last value of beats */
  _Atomic(const char *) current; /* the check in progress */
  _Atomic size_t current_capacity;
  _Atomic unsigned checks;       /* checks begun */
  _Atomic bool done;
} suite;

static void beat(suite *s) {
  /* Pairs with: the watchdog's relaxed load of heartbeat.
   * Guarantees: the watchdog eventually sees that the suite thread moved on.
   * Weaker: none exists. Stronger is not needed: nothing is published through
   *   it (the result is read after join). */
  atomic_store_explicit(&s->heartbeat, ++s->beats, memory_order_relaxed);
}

/* Names what runs now, for a hang report. */
static void at(suite *s, const char *check, size_t capacity) {
  /* Pairs with: the watchdog's relaxed loads, done only when it declares a hang.
   * Guarantees: the watchdog names the check and capacity in progress (a
   *   pointer to a string literal, so no data hangs off it).
   * Weaker: none exists. Stronger is not needed: the two may be read a
   *   moment apart; the hang report is best effort. */
  atomic_store_explicit(&s->current, check, memory_order_relaxed);
  atomic_store_explicit(&s->current_capacity, capacity, memory_order_relaxed);
}

static void begin(suite *s, const char *name) {
  s->r->checks_run++;
  /* Pairs with, guarantees, weaker/stronger: as in at(). */
  atomic_store_explicit(&s->checks, s->r->checks_run, memory_order_relaxed);
  atomic_store_explicit(&s->current, name, memory_order_relaxed);
  for (unsigned i = 0; i < s->nnames; i++)
    if (strcmp(s->names[i], name) == 0) {
      s->counts[i]++;
      return;
    }
  if (s->nnames < MAX_NAMES) {
    s->names[s->nnames] = name;
    s->counts[s->nnames++] = 1;
  }
}

/* Queue calls made by the suite thread: each one beats the heart once it returns. */
static perflab_queue *q_create(suite *s, size_t capacity) {
  perflab_queue *q = s->ops->create(capacity);
  beat(s);
  return q;
}
static void q_destroy(suite *s, perflab_queue *q) {
  s->ops->destroy(q);
  beat(s);
}
static bool q_push(suite *s, perflab_queue *q, uint64_t v) {
  bool ok = s->ops->try_push(q, v);
  beat(s);
  return ok;
}
static bool q_pop(suite *s, perflab_queue *q, uint64_t *out) {
  bool ok = s->ops->try_pop(q, out);
  beat(s);
  return ok;
}
static size_t q_push_bulk(suite *s, perflab_queue *q, const uint64_t *v, size_t n) {
  size_t k = s->ops->try_push_bulk(q, v, n);
  beat(s);
  return k;
}
static size_t q_pop_bulk(suite *s, perflab_queue *q, uint64_t *out, size_t n) {
  size_t k = s->ops->try_pop_bulk(q, out, n);
  beat(s);
  return k;
}

/* Records the first failure; always returns false so checks can `return fail(...)`. */
__attribute__((format(printf, 3, 4))) static bool fail(suite *s, const char *check, const char *fmt, ...) {
  if (s->r->failed_check[0]) return false;
  snprintf(s->r->failed_check, sizeof(s->r->failed_check), "%s", check);
  int n = snprintf(s->r->reason, sizeof(s->r->reason), "%s: ", check);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof(s->r->reason))
    vsnprintf(s->r->reason + n, sizeof(s->r->reason) - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

/* On pass, reason lists the checks run ("name ok xN; ..."). */
static void summarise(suite *s) {
  size_t off = 0, cap = sizeof(s->r->reason);
  s->r->reason[0] = '\0';
  for (unsigned i = 0; i < s->nnames && off + 1 < cap; i++) {
    int n = s->counts[i] > 1 ? snprintf(s->r->reason + off, cap - off, "%s%s ok x%u", i ? "; " : "",
                                        s->names[i], s->counts[i])
                             : snprintf(s->r->reason + off, cap - off, "%s%s ok", i ? "; " : "", s->names[i]);
    if (n < 0) break;
    off += (size_t)n;
  }
}

/* Most a quiescent queue of this capacity may hold before reporting full. */
static size_t held_bound(size_t capacity) { return 2 * capacity + 64; }

/* ---------- a FIFO model of what the queue must hold ---------- */

typedef struct model {
  uint64_t *v;
  size_t cap, head, count;
} model;

static int model_init(model *m, size_t cap) {
  m->v = malloc((cap + 1) * sizeof(uint64_t));
  m->cap = cap + 1;
  m->head = m->count = 0;
  return m->v ? 0 : -ENOMEM;
}
static void model_push(model *m, uint64_t v) { m->v[(m->head + m->count++) % m->cap] = v; }
static uint64_t model_front(const model *m, size_t i) { return m->v[(m->head + i) % m->cap]; }
static void model_drop(model *m, size_t k) {
  m->head = (m->head + k) % m->cap;
  m->count -= k;
}

/* Pops everything the model holds with single pops, checks order, then emptiness. */
static bool drain_and_check(suite *s, const char *check, perflab_queue *q, size_t capacity, model *m) {
  size_t total = m->count;
  for (size_t i = 0; i < total; i++) {
    uint64_t got = 0;
    if (!q_pop(s, q, &got))
      return fail(s, check, "capacity %zu: pop #%zu of %zu failed on a quiescent queue that holds %zu items",
                  capacity, i + 1, total, m->count);
    if (got != model_front(m, 0))
      return fail(s, check, "capacity %zu: pop #%zu returned 0x%016" PRIx64 ", expected 0x%016" PRIx64
                  " (FIFO order)", capacity, i + 1, got, model_front(m, 0));
    model_drop(m, 1);
  }
  uint64_t extra = 0;
  if (q_pop(s, q, &extra))
    return fail(s, check, "capacity %zu: pop succeeded on a queue that should be empty after %zu pops "
                "(returned 0x%016" PRIx64 ")", capacity, total, extra);
  return true;
}

/* ---------- sequential checks (one thread, quiescent queue) ---------- */

static bool check_empty_pop(suite *s, perflab_queue *q, size_t capacity) {
  begin(s, "empty_pop");
  uint64_t v = 0;
  if (q_pop(s, q, &v))
    return fail(s, "empty_pop", "capacity %zu: pop on a new queue succeeded (returned 0x%016" PRIx64 ")",
                capacity, v);
  if (s->bulk) {
    uint64_t buf[4] = {1, 2, 3, 4};
    size_t m = q_pop_bulk(s, q, buf, 4);
    if (m != 0) return fail(s, "empty_pop", "capacity %zu: pop_bulk(4) on a new queue returned %zu", capacity, m);
  }
  return true;
}

/* Fills to the full edge; returns the number held (0 after a failure). */
static size_t check_capacity_edges(suite *s, perflab_queue *q, size_t capacity, model *m) {
  begin(s, "capacity_edges");
  size_t bound = held_bound(capacity);
  for (size_t i = 0; i < capacity; i++) {
    uint64_t v = draw_value(&s->rng);
    if (!q_push(s, q, v)) {
      fail(s, "capacity_edges", "capacity %zu: push #%zu rejected on a quiescent queue holding %zu items "
           "(expected %zu pushes to succeed)", capacity, i + 1, i, capacity);
      return 0;
    }
    model_push(m, v);
  }
  size_t held = capacity;
  for (;;) {
    uint64_t v = draw_value(&s->rng);
    if (!q_push(s, q, v)) break;
    model_push(m, v);
    if (++held >= bound) {
      fail(s, "capacity_edges", "capacity %zu: push #%zu still accepted: no full edge (a variant may round up, "
           "but to at most 2 * capacity + 64 = %zu)", capacity, held, bound);
      return 0;
    }
  }
  uint64_t v = draw_value(&s->rng);
  if (q_push(s, q, v)) {
    fail(s, "capacity_edges", "capacity %zu: push accepted right after one was rejected on a full, quiescent "
         "queue holding %zu", capacity, held);
    return 0;
  }
  uint64_t got = 0;
  if (!q_pop(s, q, &got)) {
    fail(s, "capacity_edges", "capacity %zu: pop failed on a full queue holding %zu", capacity, held);
    return 0;
  }
  if (got != model_front(m, 0)) {
    fail(s, "capacity_edges", "capacity %zu: first pop from a full queue returned 0x%016" PRIx64
         ", expected the first value pushed 0x%016" PRIx64, capacity, got, model_front(m, 0));
    return 0;
  }
  model_drop(m, 1);
  v = draw_value(&s->rng);
  if (!q_push(s, q, v)) {
    fail(s, "capacity_edges", "capacity %zu: push rejected after a pop freed a slot of a full queue "
         "(holding %zu of %zu)", capacity, held - 1, held);
    return 0;
  }
  model_push(m, v);
  if (q_push(s, q, draw_value(&s->rng))) {
    fail(s, "capacity_edges", "capacity %zu: full edge moved: after pop + push the queue accepted item #%zu "
         "(it was full at %zu)", capacity, held + 1, held);
    return 0;
  }
  return held;
}

static bool check_fifo(suite *s, perflab_queue *q, size_t capacity, model *m) {
  begin(s, "fifo_order");
  return drain_and_check(s, "fifo_order", q, capacity, m);
}

/* Fill/drain cycles of drawn sizes, then a steady level, wrapping the ring many times. */
static bool check_wraparound(suite *s, perflab_queue *q, size_t capacity, size_t held, model *m) {
  begin(s, "wraparound");
  uint64_t target = 8 * (uint64_t)held;
  if (target < 256) target = 256;
  if (target > (1u << 19)) target = 1u << 19;
  uint64_t pushed = 0;
  for (unsigned round = 0; pushed < target / 2; round++) {
    size_t k = round == 0 ? capacity : round == 1 ? 1 : (size_t)draw(&s->rng, 1, capacity);
    for (size_t i = 0; i < k; i++) {
      uint64_t v = draw_value(&s->rng);
      if (!q_push(s, q, v))
        return fail(s, "wraparound", "capacity %zu: after %" PRIu64 " pushes (ring wrapped), push #%zu of a "
                    "%zu-item fill was rejected on a quiescent queue holding %zu", capacity, pushed, i + 1, k,
                    m->count);
      model_push(m, v);
    }
    pushed += k;
    if (!drain_and_check(s, "wraparound", q, capacity, m)) return false;
  }
  /* steady level: one push, one pop, at a drawn fill level */
  size_t level = (size_t)draw(&s->rng, 0, capacity - 1);
  for (size_t i = 0; i < level; i++) {
    uint64_t v = draw_value(&s->rng);
    if (!q_push(s, q, v))
      return fail(s, "wraparound", "capacity %zu: push rejected while filling to level %zu (holding %zu)",
                  capacity, level, m->count);
    model_push(m, v);
  }
  for (uint64_t i = 0; pushed < target; i++, pushed++) {
    uint64_t v = draw_value(&s->rng), got = 0;
    if (!q_push(s, q, v))
      return fail(s, "wraparound", "capacity %zu: push rejected at steady level %zu after %" PRIu64 " rounds",
                  capacity, level, i);
    model_push(m, v);
    if (!q_pop(s, q, &got))
      return fail(s, "wraparound", "capacity %zu: pop failed at steady level %zu + 1 after %" PRIu64 " rounds",
                  capacity, level, i);
    if (got != model_front(m, 0))
      return fail(s, "wraparound", "capacity %zu: at steady level %zu, round %" PRIu64 " popped 0x%016" PRIx64
                  ", expected 0x%016" PRIx64, capacity, level, i, got, model_front(m, 0));
    model_drop(m, 1);
  }
  return drain_and_check(s, "wraparound", q, capacity, m);
}

static const uint64_t special_values[] = {
    0, UINT64_MAX, 1, UINT64_MAX - 1, UINT64_C(1) << 63, (UINT64_C(1) << 63) - 1,
    UINT64_C(0x00000000FFFFFFFF), UINT64_C(0xFFFFFFFF00000000), UINT64_C(0x5555555555555555),
    UINT64_C(0xAAAAAAAAAAAAAAAA), UINT64_C(0xDEADBEEFDEADBEEF),
};
#define N_SPECIAL (sizeof(special_values) / sizeof(special_values[0]))

static bool check_values(suite *s, perflab_queue *q, size_t capacity, model *m) {
  begin(s, "values");
  uint64_t vals[N_SPECIAL + 8];
  size_t n = 0;
  for (; n < N_SPECIAL; n++) vals[n] = special_values[n];
  while (n < N_SPECIAL + 8) vals[n++] = splitmix64(&s->rng);
  for (size_t i = 0; i < n; i++) { /* one at a time: works at capacity 1 */
    uint64_t got = ~vals[i];
    if (!q_push(s, q, vals[i]))
      return fail(s, "values", "capacity %zu: push of 0x%016" PRIx64 " into an empty queue rejected", capacity,
                  vals[i]);
    if (!q_pop(s, q, &got))
      return fail(s, "values", "capacity %zu: pop after pushing 0x%016" PRIx64 " failed", capacity, vals[i]);
    if (got != vals[i])
      return fail(s, "values", "capacity %zu: pushed 0x%016" PRIx64 ", popped 0x%016" PRIx64, capacity, vals[i],
                  got);
  }
  if (capacity >= n) { /* all at once */
    for (size_t i = 0; i < n; i++) {
      if (!q_push(s, q, vals[i]))
        return fail(s, "values", "capacity %zu: push #%zu (0x%016" PRIx64 ") rejected", capacity, i + 1,
                    vals[i]);
      model_push(m, vals[i]);
    }
    return drain_and_check(s, "values", q, capacity, m);
  }
  return true;
}

/* pop_bulk into a buffer with a canary past n; checks count, order and canary. */
static bool bulk_pop_checked(suite *s, const char *check, perflab_queue *q, size_t capacity, model *m, size_t n,
                             uint64_t *buf, size_t *moved) {
  const uint64_t canary = UINT64_C(0xC0FFEE00C0FFEE00);
  for (size_t i = 0; i < n + 4; i++) buf[i] = canary;
  size_t k = q_pop_bulk(s, q, buf, n);
  *moved = k;
  if (k > n) return fail(s, check, "capacity %zu: pop_bulk(%zu) returned %zu (more than asked)", capacity, n, k);
  if (k > m->count)
    return fail(s, check, "capacity %zu: pop_bulk(%zu) returned %zu but the queue holds only %zu (invented items)",
                capacity, n, k, m->count);
  if (k == 0 && n > 0 && m->count > 0)
    return fail(s, check, "capacity %zu: pop_bulk(%zu) moved nothing from a quiescent queue holding %zu",
                capacity, n, m->count);
  for (size_t i = 0; i < k; i++)
    if (buf[i] != model_front(m, i))
      return fail(s, check, "capacity %zu: pop_bulk(%zu) item %zu of %zu is 0x%016" PRIx64 ", expected 0x%016"
                  PRIx64 " (order)", capacity, n, i, k, buf[i], model_front(m, i));
  for (size_t i = n; i < n + 4; i++)
    if (buf[i] != canary)
      return fail(s, check, "capacity %zu: pop_bulk(%zu) wrote past the n entries it was given (at index %zu)",
                  capacity, n, i);
  model_drop(m, k);
  return true;
}

/* push_bulk of n fresh values; checks count against the model and the full edge. */
static bool bulk_push_checked(suite *s, const char *check, perflab_queue *q, size_t capacity, model *m, size_t n,
                              uint64_t *buf, size_t *moved) {
  for (size_t i = 0; i < n; i++) buf[i] = draw_value(&s->rng);
  size_t k = q_push_bulk(s, q, buf, n);
  *moved = k;
  if (k > n) return fail(s, check, "capacity %zu: push_bulk(%zu) returned %zu (more than given)", capacity, n, k);
  if (k == 0 && n > 0 && m->count < capacity)
    return fail(s, check, "capacity %zu: push_bulk(%zu) moved nothing into a quiescent queue holding %zu",
                capacity, n, m->count);
  if (m->count + k > held_bound(capacity))
    return fail(s, check, "capacity %zu: push_bulk(%zu) returned %zu on a queue holding %zu: over the bound %zu",
                capacity, n, k, m->count, held_bound(capacity));
  for (size_t i = 0; i < k; i++) model_push(m, buf[i]);
  return true;
}

static bool check_bulk(suite *s, perflab_queue *q, size_t capacity, size_t held, model *m, uint64_t *buf) {
  size_t k = 0;
  begin(s, "bulk_zero");
  buf[0] = 42;
  if ((k = q_push_bulk(s, q, buf, 0)) != 0)
    return fail(s, "bulk_zero", "capacity %zu: push_bulk(n = 0) returned %zu", capacity, k);
  uint64_t v = 0;
  if (q_pop(s, q, &v))
    return fail(s, "bulk_zero", "capacity %zu: push_bulk(n = 0) put an item in the queue (0x%016" PRIx64 ")",
                capacity, v);
  if (!q_push(s, q, 7)) return fail(s, "bulk_zero", "capacity %zu: push into an empty queue rejected", capacity);
  model_push(m, 7);
  if (!bulk_pop_checked(s, "bulk_zero", q, capacity, m, 0, buf, &k)) return false;
  if (k != 0) return fail(s, "bulk_zero", "capacity %zu: pop_bulk(n = 0) returned %zu", capacity, k);
  if (!drain_and_check(s, "bulk_zero", q, capacity, m)) return false;

  begin(s, "bulk_partial");
  /* n above capacity on an empty queue, repeated until it reports full */
  size_t n = held + capacity + 5;
  size_t total = 0;
  for (unsigned calls = 0;; calls++) {
    if (!bulk_push_checked(s, "bulk_partial", q, capacity, m, n - total, buf, &k)) return false;
    if (k == 0) break;
    total += k;
    if (calls > held + 1) return fail(s, "bulk_partial", "capacity %zu: push_bulk never reported full", capacity);
  }
  if (total < capacity)
    return fail(s, "bulk_partial", "capacity %zu: repeated push_bulk(%zu) stopped at %zu items", capacity, n, total);
  if (q_push(s, q, 1))
    return fail(s, "bulk_partial", "capacity %zu: push_bulk returned 0 (full) at %zu items, but a single push "
                "was then accepted", capacity, total);
  /* pop_bulk above what is held, repeated */
  while (m->count > 0) {
    if (!bulk_pop_checked(s, "bulk_partial", q, capacity, m, (size_t)draw(&s->rng, 1, n), buf, &k)) return false;
  }
  if (!bulk_pop_checked(s, "bulk_partial", q, capacity, m, n, buf, &k)) return false;
  if (k != 0) return fail(s, "bulk_partial", "capacity %zu: pop_bulk on an empty queue returned %zu", capacity, k);
  /* room for j items: push_bulk(j + 3) moves 1..j, the rest fills nothing */
  size_t j = held < 5 ? held : (size_t)draw(&s->rng, 1, 5);
  for (size_t i = 0; i < held - j; i++) {
    uint64_t x = draw_value(&s->rng);
    if (!q_push(s, q, x))
      return fail(s, "bulk_partial", "capacity %zu: single push #%zu rejected (full edge was %zu)", capacity, i + 1,
                  held);
    model_push(m, x);
  }
  if (!bulk_push_checked(s, "bulk_partial", q, capacity, m, j + 3, buf, &k)) return false;
  if (k == 0 || k > j)
    return fail(s, "bulk_partial", "capacity %zu: with room for %zu, push_bulk(%zu) returned %zu", capacity, j,
                j + 3, k);
  return drain_and_check(s, "bulk_partial", q, capacity, m);
}

/* A bulk size for random_ops: mostly small, now and then above the capacity
 * (only for small capacities: a big batch costs O(capacity) here). */
static size_t bulk_n(suite *s, size_t capacity) {
  if (capacity <= 1024 && draw(&s->rng, 0, 31) == 0) return capacity + (size_t)draw(&s->rng, 1, 3);
  return (size_t)draw(&s->rng, 0, capacity + 3 < 40 ? capacity + 3 : 40);
}

/* A random mix of single and bulk calls against the model, wrapping the ring. */
static bool check_random_ops(suite *s, perflab_queue *q, size_t capacity, model *m, uint64_t *buf) {
  begin(s, "random_ops");
  uint64_t ops = 4 * (uint64_t)capacity + 2000;
  if (ops > 200000) ops = 200000;
  size_t bound = held_bound(capacity), k = 0;
  for (uint64_t i = 0; i < ops; i++) {
    /* drift: push-heavy or pop-heavy phases so both edges are reached */
    bool push_phase = ((i / (capacity + 8)) & 1) == 0;
    unsigned r = (unsigned)draw(&s->rng, 0, 99);
    bool push = push_phase ? r < 70 : r < 30;
    bool use_bulk = s->bulk && r % 3 == 0;
    if (push && !use_bulk) {
      uint64_t v = draw_value(&s->rng);
      bool ok = q_push(s, q, v);
      if (!ok && m->count < capacity)
        return fail(s, "random_ops", "capacity %zu: op %" PRIu64 ": push rejected on a quiescent queue holding %zu",
                    capacity, i, m->count);
      if (ok && m->count >= bound)
        return fail(s, "random_ops", "capacity %zu: op %" PRIu64 ": push accepted while holding %zu (bound %zu)",
                    capacity, i, m->count, bound);
      if (ok) model_push(m, v);
    } else if (push) {
      size_t n = bulk_n(s, capacity);
      if (!bulk_push_checked(s, "random_ops", q, capacity, m, n, buf, &k)) return false;
    } else if (!use_bulk) {
      uint64_t got = 0;
      bool ok = q_pop(s, q, &got);
      if (ok != (m->count > 0))
        return fail(s, "random_ops", "capacity %zu: op %" PRIu64 ": pop %s on a quiescent queue holding %zu",
                    capacity, i, ok ? "succeeded" : "failed", m->count);
      if (ok && got != model_front(m, 0))
        return fail(s, "random_ops", "capacity %zu: op %" PRIu64 ": popped 0x%016" PRIx64 ", expected 0x%016"
                    PRIx64, capacity, i, got, model_front(m, 0));
      if (ok) model_drop(m, 1);
    } else {
      size_t n = bulk_n(s, capacity);
      if (!bulk_pop_checked(s, "random_ops", q, capacity, m, n, buf, &k)) return false;
    }
  }
  return drain_and_check(s, "random_ops", q, capacity, m);
}

/* All sequential checks on one capacity; each on a fresh queue where it matters. */
static int sequential(suite *s, size_t capacity, bool *ok) {
  *ok = false;
  model m;
  size_t bound = held_bound(capacity);
  if (model_init(&m, bound + 8) != 0) return -ENOMEM;
  uint64_t *buf = malloc((bound + capacity + 16) * sizeof(uint64_t));
  if (!buf) {
    free(m.v);
    return -ENOMEM;
  }
  at(s, "create", capacity);
  begin(s, "create");
  perflab_queue *q = q_create(s, capacity);
  if (!q) {
    fail(s, "create", "create(%zu) returned NULL", capacity);
    goto out;
  }
  size_t held;
  if (!check_empty_pop(s, q, capacity) || (held = check_capacity_edges(s, q, capacity, &m)) == 0 ||
      !check_fifo(s, q, capacity, &m) || !check_wraparound(s, q, capacity, held, &m) ||
      !check_values(s, q, capacity, &m))
    goto out;
  q_destroy(s, q);
  q = q_create(s, capacity);
  if (!q) {
    fail(s, "create", "create(%zu) returned NULL the second time", capacity);
    goto out;
  }
  if (s->bulk && !check_bulk(s, q, capacity, held, &m, buf)) goto out;
  if (!check_random_ops(s, q, capacity, &m, buf)) goto out;
  *ok = true;
out:
  if (q) q_destroy(s, q);
  free(buf);
  free(m.v);
  return 0;
}

/* ---------- several live instances ---------- */

/*
 * Item encoding of instances_isolated (before the XOR with a drawn salt):
 *
 *   63      56 55                                   0
 *  +----------+-------------------------------------+
 *  |  queue   |   sequence number within that queue  |
 *  +----------+-------------------------------------+
 */
#define ISO_QUEUES 3u
#define ISO_SEQ_BITS 56
#define ISO_SEQ_MASK ((UINT64_C(1) << ISO_SEQ_BITS) - 1)
#define ISO_CHECK "instances_isolated"
static_assert(ISO_QUEUES <= (1u << (64 - ISO_SEQ_BITS)), "queue indexes must fit the 8 tag bits");

typedef struct iso {
  perflab_queue *q[ISO_QUEUES];
  size_t cap[ISO_QUEUES];
  model m[ISO_QUEUES];
  uint64_t next[ISO_QUEUES]; /* next sequence number per queue */
  unsigned gen[ISO_QUEUES];  /* 0: as created; 1: recreated after destroy (names "A'") */
  uint64_t salt;
  uint64_t *buf;             /* bulk transfers; held_bound(largest) + 8 */
} iso;

static char iso_letter(unsigned i) { return (char)('A' + i); }

/* "queue B" / "queue A'" (recreated), for evidence. */
static const char *iso_name(const iso *t, unsigned i, char *out, size_t len) {
  snprintf(out, len, "queue %c%s (capacity %zu)", iso_letter(i), t->gen[i] ? "'" : "", t->cap[i]);
  return out;
}

/* The queue v was offered to, or -1 when no queue was ever given v. */
static int iso_tag(const iso *t, uint64_t v) {
  uint64_t x = v ^ t->salt, qi = x >> ISO_SEQ_BITS, seq = x & ISO_SEQ_MASK;
  return qi < ISO_QUEUES && seq < t->next[qi] ? (int)qi : -1;
}

/* Whose item is v: "item #7 pushed into queue A", or "a value no queue was
 * given"; says so when it belongs to a queue other than i. */
static void iso_owner(const iso *t, unsigned i, uint64_t v, char *out, size_t len) {
  int qi = iso_tag(t, v);
  if (qi < 0)
    snprintf(out, len, "a value no queue was given");
  else
    snprintf(out, len, "item #%" PRIu64 " pushed into queue %c%s", (v ^ t->salt) & ISO_SEQ_MASK,
             iso_letter((unsigned)qi), (unsigned)qi != i ? ": the instances share state" : "");
}

static uint64_t iso_fresh(iso *t, unsigned i) {
  return (((uint64_t)i << ISO_SEQ_BITS) | t->next[i]++) ^ t->salt;
}

/* Pushes the next item of queue i; must_accept: the queue holds less than its
 * capacity, so a rejection fails the check. *accepted tells what happened. */
static bool iso_push(suite *s, iso *t, unsigned i, bool must_accept, const char *step, bool *accepted) {
  char nm[48];
  uint64_t v = iso_fresh(t, i);
  *accepted = q_push(s, t->q[i], v);
  if (*accepted) {
    if (t->m[i].count >= held_bound(t->cap[i]))
      return fail(s, ISO_CHECK, "%s: %s accepted a push while holding %zu, over the bound %zu", step,
                  iso_name(t, i, nm, sizeof(nm)), t->m[i].count, held_bound(t->cap[i]));
    model_push(&t->m[i], v);
    return true;
  }
  if (must_accept)
    return fail(s, ISO_CHECK, "%s: %s rejected a push while holding %zu of %zu", step,
                iso_name(t, i, nm, sizeof(nm)), t->m[i].count, t->cap[i]);
  return true;
}

/* Pops one item of queue i and checks it is that queue's next one. */
static bool iso_pop(suite *s, iso *t, unsigned i, const char *step) {
  char nm[48], who[96], want[96];
  uint64_t got = 0;
  if (!q_pop(s, t->q[i], &got))
    return fail(s, ISO_CHECK, "%s: pop failed on %s, which holds %zu of its own items", step,
                iso_name(t, i, nm, sizeof(nm)), t->m[i].count);
  if (got != model_front(&t->m[i], 0)) {
    iso_owner(t, i, got, who, sizeof(who));
    iso_owner(t, i, model_front(&t->m[i], 0), want, sizeof(want));
    return fail(s, ISO_CHECK, "%s: pop on %s returned 0x%016" PRIx64 " (%s), expected %s", step,
                iso_name(t, i, nm, sizeof(nm)), got, who, want);
  }
  model_drop(&t->m[i], 1);
  return true;
}

/* Queue i must be empty: a pop fails. */
static bool iso_empty(suite *s, iso *t, unsigned i, const char *step) {
  char nm[48], who[96];
  uint64_t got = 0;
  if (q_pop(s, t->q[i], &got)) {
    iso_owner(t, i, got, who, sizeof(who));
    return fail(s, ISO_CHECK, "%s: pop on the empty %s succeeded and returned 0x%016" PRIx64 " (%s)", step,
                iso_name(t, i, nm, sizeof(nm)), got, who);
  }
  return true;
}

/* Drains queue i (single pops, or pop_bulk when bulk) and checks it ends empty. */
static bool iso_drain(suite *s, iso *t, unsigned i, bool bulk, const char *step) {
  char nm[48], who[96];
  while (t->m[i].count > 0) {
    if (!bulk) {
      if (!iso_pop(s, t, i, step)) return false;
      continue;
    }
    size_t n = t->m[i].count, k = q_pop_bulk(s, t->q[i], t->buf, n);
    if (k == 0 || k > n)
      return fail(s, ISO_CHECK, "%s: pop_bulk(%zu) on %s, which holds %zu, returned %zu", step, n,
                  iso_name(t, i, nm, sizeof(nm)), t->m[i].count, k);
    for (size_t j = 0; j < k; j++) {
      if (t->buf[j] != model_front(&t->m[i], 0)) {
        iso_owner(t, i, t->buf[j], who, sizeof(who));
        return fail(s, ISO_CHECK, "%s: pop_bulk on %s returned 0x%016" PRIx64 " (%s) at index %zu, expected "
                    "0x%016" PRIx64, step, iso_name(t, i, nm, sizeof(nm)), t->buf[j], who, j,
                    model_front(&t->m[i], 0));
      }
      model_drop(&t->m[i], 1);
    }
  }
  return iso_empty(s, t, i, step);
}

/* The check proper; queues and models are set up and torn down by the caller. */
static bool iso_run(suite *s, iso *t) {
  char nm[48], nm2[48];
  bool acc;
  /* 1. Every fresh queue is empty, and stays empty while another gets an item. */
  for (unsigned i = 0; i < ISO_QUEUES; i++)
    if (!iso_empty(s, t, i, "fresh queues")) return false;
  for (unsigned i = 0; i < ISO_QUEUES; i++) {
    if (!iso_push(s, t, i, true, "one item in one queue", &acc)) return false;
    for (unsigned j = 0; j < ISO_QUEUES; j++)
      if (j != i && !iso_empty(s, t, j, "one item in one queue")) return false;
    if (!iso_pop(s, t, i, "one item in one queue") || !iso_empty(s, t, i, "one item in one queue")) return false;
  }
  /* 2. Interleaved: round-robin pushes until each holds its capacity, then
   * round-robin pops, each queue keeping its own FIFO. */
  for (bool any = true; any;) {
    any = false;
    for (unsigned i = 0; i < ISO_QUEUES; i++)
      if (t->m[i].count < t->cap[i]) {
        if (!iso_push(s, t, i, true, "interleaved pushes", &acc)) return false;
        any = true;
      }
  }
  for (bool any = true; any;) {
    any = false;
    for (unsigned i = 0; i < ISO_QUEUES; i++)
      if (t->m[i].count > 0) {
        if (!iso_pop(s, t, i, "interleaved pops")) return false;
        any = true;
      }
  }
  for (unsigned i = 0; i < ISO_QUEUES; i++)
    if (!iso_empty(s, t, i, "after interleaved pops")) return false;
  /* 3. Full and empty are per queue: A full, B filled and drained (bulk when
   * there is bulk), C given one item; A still full and intact. */
  for (;;) {
    if (!iso_push(s, t, 0, t->m[0].count < t->cap[0], "A filled to its full edge", &acc)) return false;
    if (!acc) break;
  }
  size_t a_held = t->m[0].count;
  if (!iso_empty(s, t, 1, "A full") || !iso_empty(s, t, 2, "A full")) return false;
  if (s->bulk) {
    size_t n = t->cap[1];
    for (size_t j = 0; j < n; j++) t->buf[j] = iso_fresh(t, 1);
    size_t k = q_push_bulk(s, t->q[1], t->buf, n);
    if (k == 0 || k > n)
      return fail(s, ISO_CHECK, "A full: push_bulk(%zu) into the empty %s returned %zu", n,
                  iso_name(t, 1, nm, sizeof(nm)), k);
    for (size_t j = 0; j < k; j++) model_push(&t->m[1], t->buf[j]);
  }
  while (t->m[1].count < t->cap[1])
    if (!iso_push(s, t, 1, true, "A full", &acc)) return false;
  if (!iso_push(s, t, 2, true, "A full", &acc)) return false;
  if (!iso_push(s, t, 0, false, "A full", &acc)) return false;
  if (acc)
    return fail(s, ISO_CHECK, "A full: %s accepted a push after filling %s (it was full at %zu)",
                iso_name(t, 0, nm, sizeof(nm)), iso_name(t, 1, nm2, sizeof(nm2)), a_held);
  if (!iso_drain(s, t, 1, s->bulk, "B drained while A is full")) return false;
  if (!iso_pop(s, t, 0, "A full") || !iso_push(s, t, 0, true, "A full", &acc)) return false;
  /* 4. Destroy A (the first created, still full) and go on with B and C. */
  q_destroy(s, t->q[0]);
  t->q[0] = NULL;
  t->m[0].head = t->m[0].count = 0;
  for (unsigned round = 0; round < 3; round++)
    for (unsigned i = 1; i < ISO_QUEUES; i++)
      if (!iso_push(s, t, i, t->m[i].count < t->cap[i], "A destroyed", &acc)) return false;
  if (!iso_drain(s, t, 2, false, "A destroyed") || !iso_drain(s, t, 1, false, "A destroyed")) return false;
  /* 5. A new queue while the others live starts empty (nothing of the old A). */
  t->q[0] = q_create(s, t->cap[0]);
  t->gen[0] = 1;
  if (!t->q[0])
    return fail(s, ISO_CHECK, "create(%zu) returned NULL after queue A was destroyed", t->cap[0]);
  if (!iso_empty(s, t, 0, "A' created after A was destroyed")) return false;
  for (unsigned round = 0; round < 4; round++) {
    for (unsigned i = 0; i < ISO_QUEUES; i++)
      if (t->m[i].count < t->cap[i] && !iso_push(s, t, i, true, "A', B and C", &acc)) return false;
    if (!iso_pop(s, t, 2 - round % 3, "A', B and C")) return false;
  }
  /* 6. Destroy B between the other two; A' and C go on. */
  q_destroy(s, t->q[1]);
  t->q[1] = NULL;
  t->m[1].head = t->m[1].count = 0;
  return iso_drain(s, t, 0, false, "B destroyed") && iso_drain(s, t, 2, false, "B destroyed") &&
         iso_push(s, t, 2, true, "B destroyed", &acc) && iso_empty(s, t, 0, "B destroyed") &&
         iso_drain(s, t, 2, false, "B destroyed");
}

/* instances_isolated; returns 0 (verdict in s->r, *ok) or -ENOMEM. */
static int check_instances_isolated(suite *s, bool *ok) {
  *ok = false;
  iso t;
  memset(&t, 0, sizeof(t));
  /* Its own stream from the seed: s->rng is not advanced, so the stress
   * parameters a seed draws stay what they were before this check existed. */
  uint64_t rng = s->rng ^ UINT64_C(0x1507A7ED1507A7ED);
  t.cap[0] = 1;
  t.cap[1] = (size_t)draw(&rng, 2, 9);
  t.cap[2] = (size_t)draw(&rng, 10, 300);
  t.salt = splitmix64(&rng);
  at(s, ISO_CHECK, t.cap[2]);
  begin(s, ISO_CHECK);
  int err = 0;
  for (unsigned i = 0; i < ISO_QUEUES && !err; i++) err = model_init(&t.m[i], held_bound(t.cap[i]) + 8);
  if (!err && !(t.buf = malloc((held_bound(t.cap[2]) + 8) * sizeof(uint64_t)))) err = -ENOMEM;
  for (unsigned i = 0; i < ISO_QUEUES && !err; i++) {
    t.q[i] = q_create(s, t.cap[i]);
    if (!t.q[i]) {
      fail(s, ISO_CHECK, "create(%zu) returned NULL with %u other queue(s) alive", t.cap[i], i);
      break;
    }
  }
  if (!err && t.q[ISO_QUEUES - 1]) *ok = iso_run(s, &t);
  for (unsigned i = 0; i < ISO_QUEUES; i++) {
    if (t.q[i]) q_destroy(s, t.q[i]);
    free(t.m[i].v);
  }
  free(t.buf);
  return err;
}

/* ---------- multi-threaded stress ---------- */

/*
 * Item encoding (before the XOR with the run's salt):
 *
 *   63        48 47                                   0
 *  +------------+--------------------------------------+
 *  |  producer  |       sequence number of producer     |
 *  +------------+--------------------------------------+
 */
#define SEQ_BITS 48
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)

typedef struct stress stress;

typedef struct worker {
  stress *st;
  unsigned id;
  bool consumer;
  uint64_t rng;
  pthread_t thread;
  /* consumer only; read by the main thread after join */
  uint64_t *bits;       /* nprod bitmaps of `words` words: items this consumer got */
  uint64_t *next_min;   /* per producer: lowest seq still in order (last seq + 1) */
  uint64_t invented, dup, disorder;     /* counts of each violation */
  uint64_t invented_value, dup_value;   /* the first of each */
  uint64_t disorder_value, disorder_prev; /* first out-of-order item, and the seq seen before it */
} worker;

struct stress {
  const perflab_queue_ops *ops;
  perflab_queue *q;
  unsigned nprod, ncons;
  uint64_t items, salt, total;
  size_t words;
  bool bulk;
  _Atomic uint64_t produced; /* items accepted by the queue so far */
  _Atomic uint64_t consumed; /* items taken out so far (valid or not) */
  _Atomic bool stop;         /* set by the watchdog: give up */
  _Atomic unsigned finished; /* threads that returned */
  worker w[2 * MAX_THREADS];
};

static void *producer_main(void *arg) {
  worker *w = arg;
  stress *st = w->st;
  uint64_t buf[MAX_BATCH];
  uint64_t seq = 0;
  unsigned fails = 0;
  while (seq < st->items && !atomic_load(&st->stop)) {
    size_t b = st->bulk && (splitmix64(&w->rng) & 1) ? (size_t)draw(&w->rng, 2, MAX_BATCH) : 1;
    if (b > st->items - seq) b = (size_t)(st->items - seq);
    size_t moved;
    if (b == 1) {
      moved = st->ops->try_push(st->q, (((uint64_t)w->id << SEQ_BITS) | seq) ^ st->salt) ? 1 : 0;
    } else {
      for (size_t i = 0; i < b; i++) buf[i] = (((uint64_t)w->id << SEQ_BITS) | (seq + i)) ^ st->salt;
      moved = st->ops->try_push_bulk(st->q, buf, b);
      if (moved > b) moved = b; /* a lying count; the consumers' checks will show the damage */
    }
    if (moved == 0) {
      backoff(&fails);
      continue;
    }
    fails = 0;
    seq += moved;
    /* Pairs with: the watchdog's relaxed loads of produced.
     * Guarantees: only that progress becomes visible eventually; no data is
     *   published through it (items travel through the queue).
     * Weaker: none exists. Stronger is not needed: the verdict is computed
     *   after join, which orders everything. */
    atomic_fetch_add_explicit(&st->produced, moved, memory_order_relaxed);
  }
  atomic_fetch_add(&st->finished, 1);
  return NULL;
}

static void consume_one(worker *w, uint64_t value) {
  stress *st = w->st;
  uint64_t x = value ^ st->salt;
  uint64_t p = x >> SEQ_BITS, seq = x & SEQ_MASK;
  if (p >= st->nprod || seq >= st->items) {
    if (!w->invented++) w->invented_value = value;
    return;
  }
  uint64_t *word = &w->bits[p * st->words + seq / 64], bit = UINT64_C(1) << (seq % 64);
  if (*word & bit) {
    if (!w->dup++) w->dup_value = value;
    return;
  }
  *word |= bit;
  if (seq < w->next_min[p]) {
    if (!w->disorder++) {
      w->disorder_value = value;
      w->disorder_prev = w->next_min[p] - 1;
    }
  } else {
    w->next_min[p] = seq + 1;
  }
}

static void *consumer_main(void *arg) {
  worker *w = arg;
  stress *st = w->st;
  uint64_t buf[MAX_BATCH];
  unsigned fails = 0;
  while (!atomic_load(&st->stop)) {
    /* Pairs with: the other consumers' relaxed fetch_add on consumed.
     * Guarantees: only that each consumer eventually sees the total reached
     *   and stops; the verdict uses the bitmaps after join, not this count.
     * Weaker: none exists. Stronger is not needed: nothing is published
     *   through the count. */
    if (atomic_load_explicit(&st->consumed, memory_order_relaxed) >= st->total) break;
    size_t b = st->bulk && (splitmix64(&w->rng) & 1) ? (size_t)draw(&w->rng, 2, MAX_BATCH) : 1;
    size_t got;
    if (b == 1) {
      got = st->ops->try_pop(st->q, &buf[0]) ? 1 : 0;
    } else {
      got = st->ops->try_pop_bulk(st->q, buf, b);
      if (got > b) got = b;
    }
    if (got == 0) {
      backoff(&fails);
      continue;
    }
    fails = 0;
    for (size_t i = 0; i < got; i++) consume_one(w, buf[i]);
    /* Pairs with: the consumers' relaxed load above and the watchdog's.
     * Guarantees: the count only ever tells progress and termination.
     * Weaker: none exists. Stronger is not needed: see the load above. */
    atomic_fetch_add_explicit(&st->consumed, got, memory_order_relaxed);
  }
  atomic_fetch_add(&st->finished, 1);
  return NULL;
}

/* Formats an item for evidence: "p1#4711 (0x...)". */
static void describe(const stress *st, uint64_t value, char *out, size_t len) {
  uint64_t x = value ^ st->salt;
  snprintf(out, len, "p%" PRIu64 "#%" PRIu64 " (0x%016" PRIx64 ")", x >> SEQ_BITS, x & SEQ_MASK, value);
}

/* Merges the consumers' bitmaps after join and reports the first violation. */
static bool verdict(suite *s, const char *check, stress *st, const char *what, bool stalled, uint64_t stall_s) {
  char item[96];
  for (unsigned c = 0; c < st->ncons; c++) { /* invented first, then duplicates, then order */
    worker *w = &st->w[st->nprod + c];
    if (w->invented)
      return fail(s, check, "%s: consumer %u got %" PRIu64 " invented item(s), first 0x%016" PRIx64
                  " (decodes to no producer's item)", what, c, w->invented, w->invented_value);
  }
  for (unsigned c = 0; c < st->ncons; c++) {
    worker *w = &st->w[st->nprod + c];
    if (w->dup) {
      describe(st, w->dup_value, item, sizeof(item));
      return fail(s, check, "%s: consumer %u got %" PRIu64 " item(s) twice, first %s", what, c, w->dup, item);
    }
  }
  uint64_t dups = 0, lost = 0, first_dup = UINT64_MAX, first_lost = UINT64_MAX;
  unsigned dup_a = 0, dup_b = 0;
  uint64_t *acc = calloc(st->words ? st->words : 1, sizeof(uint64_t));
  if (!acc) return fail(s, check, "%s: out of memory merging the bitmaps", what);
  for (unsigned p = 0; p < st->nprod; p++) {
    memset(acc, 0, st->words * sizeof(uint64_t));
    for (unsigned c = 0; c < st->ncons; c++) {
      const uint64_t *bits = st->w[st->nprod + c].bits + p * st->words;
      for (size_t i = 0; i < st->words; i++) {
        uint64_t both = acc[i] & bits[i];
        if (both) {
          dups += (uint64_t)__builtin_popcountll(both);
          if (first_dup == UINT64_MAX) {
            first_dup = ((uint64_t)p << SEQ_BITS) | (i * 64 + (uint64_t)__builtin_ctzll(both));
            dup_b = c;
            for (unsigned d = 0; d < c; d++) /* the earlier consumer that also got it */
              if (st->w[st->nprod + d].bits[p * st->words + i] & (both & -both)) {
                dup_a = d;
                break;
              }
          }
        }
        acc[i] |= bits[i];
      }
    }
    for (size_t i = 0; i < st->words; i++) {
      uint64_t valid = i + 1 < st->words || st->items % 64 == 0 ? UINT64_MAX
                                                                : (UINT64_C(1) << (st->items % 64)) - 1;
      uint64_t missing = ~acc[i] & valid;
      if (missing) {
        lost += (uint64_t)__builtin_popcountll(missing);
        if (first_lost == UINT64_MAX)
          first_lost = ((uint64_t)p << SEQ_BITS) | (i * 64 + (uint64_t)__builtin_ctzll(missing));
      }
    }
  }
  free(acc);
  if (dups) {
    describe(st, first_dup ^ st->salt, item, sizeof(item));
    return fail(s, check, "%s: %" PRIu64 " item(s) delivered more than once, first %s (consumers %u and %u)", what,
                dups, item, dup_a, dup_b);
  }
  for (unsigned c = 0; c < st->ncons; c++) {
    worker *w = &st->w[st->nprod + c];
    if (w->disorder) {
      describe(st, w->disorder_value, item, sizeof(item));
      return fail(s, check, "%s: per-producer order broken %" PRIu64 " time(s) at consumer %u, first %s after "
                  "seq %" PRIu64, what, w->disorder, c, item, w->disorder_prev);
    }
  }
  /* Quiescent now: whatever is still in the queue is a leftover. */
  uint64_t left = 0, first_left = 0, v;
  while (left < st->total + 1 && q_pop(s, st->q, &v))
    if (!left++) first_left = v;
  if (lost) {
    describe(st, first_lost ^ st->salt, item, sizeof(item));
    if (stalled)
      return fail(s, check, "%s: lost %" PRIu64 " item(s) (first %s): no progress for %" PRIu64 " s with %" PRIu64
                  " of %" PRIu64 " pushes accepted; %" PRIu64 " item(s) could still be popped once quiescent",
                  what, lost, item, stall_s, atomic_load(&st->produced), st->total, left);
    return fail(s, check, "%s: lost %" PRIu64 " item(s), first %s", what, lost, item);
  }
  if (left) {
    describe(st, first_left, item, sizeof(item));
    return fail(s, check, "%s: %" PRIu64 " item(s) still in the queue after every item was delivered, first %s",
                what, left, item);
  }
  if (stalled) return fail(s, check, "%s: no progress for %" PRIu64 " s although no item was lost", what, stall_s);
  return true;
}

/* One stress run. Returns 0 (verdict in s->r) or -errno when it could not run. */
static int stress_run(suite *s, const char *check, unsigned nprod, unsigned ncons, size_t capacity) {
  at(s, check, capacity);
  begin(s, check);
  char what[96];
  snprintf(what, sizeof(what), "%ux%u, capacity %zu, %" PRIu64 " items/producer", nprod, ncons, capacity,
           s->stress_items);
  stress *st = calloc(1, sizeof(*st));
  if (!st) return -ENOMEM;
  st->ops = s->ops;
  st->nprod = nprod;
  st->ncons = ncons;
  st->items = s->stress_items;
  st->total = st->items * nprod;
  st->words = (size_t)((st->items + 63) / 64);
  st->salt = splitmix64(&s->rng);
  st->bulk = s->bulk;
  atomic_init(&st->produced, 0);
  atomic_init(&st->consumed, 0);
  atomic_init(&st->stop, false);
  atomic_init(&st->finished, 0);
  int err = 0;
  for (unsigned i = 0; i < nprod + ncons; i++) {
    worker *w = &st->w[i];
    w->st = st;
    w->consumer = i >= nprod;
    w->id = w->consumer ? i - nprod : i;
    w->rng = splitmix64(&s->rng);
    if (w->consumer) {
      w->bits = calloc(st->words * nprod, sizeof(uint64_t));
      w->next_min = calloc(nprod, sizeof(uint64_t));
      if (!w->bits || !w->next_min) err = -ENOMEM;
    }
  }
  st->q = err ? NULL : q_create(s, capacity);
  if (!err && !st->q) fail(s, "create", "create(%zu) returned NULL", capacity);
  unsigned started = 0;
  if (!err && st->q) {
    for (; started < nprod + ncons; started++) {
      worker *w = &st->w[started];
      int rc = pthread_create(&w->thread, NULL, w->consumer ? consumer_main : producer_main, w);
      if (rc != 0) {
        err = -rc;
        atomic_store(&st->stop, true);
        break;
      }
    }
  }
  bool stalled = false, hung = false;
  uint64_t stall_s = STALL_NS / 1000000000ull;
  if (started) {
    uint64_t last = UINT64_MAX, last_change = now_ns();
    struct timespec tick = {0, 1000000}; /* 1 ms */
    while (atomic_load(&st->finished) < started) {
      nanosleep(&tick, NULL);
      beat(s); /* this thread is alive; the workers are watched below */
      /* Pairs with: the workers' relaxed fetch_adds.
       * Guarantees: only progress detection; values may lag a little.
       * Weaker: none exists. Stronger is not needed: a late view only delays
       *   the verdict, which is computed after join. */
      uint64_t cur = atomic_load_explicit(&st->produced, memory_order_relaxed) +
                     atomic_load_explicit(&st->consumed, memory_order_relaxed);
      uint64_t t = now_ns();
      if (cur != last) {
        last = cur;
        last_change = t;
      } else if (!stalled && t - last_change > STALL_NS) {
        stalled = true;
        atomic_store(&st->stop, true);
        last_change = t; /* now give the threads STALL_NS to notice the stop */
      } else if (stalled && t - last_change > STALL_NS) {
        hung = true; /* a thread is stuck inside a queue call */
        break;
      }
    }
    if (!hung)
      for (unsigned i = 0; i < started; i++) pthread_join(st->w[i].thread, NULL);
  }
  if (hung) {
    /* The stuck thread may still touch the queue and the worker state: leak them. */
    fail(s, check, "%s: a thread is stuck inside a queue call (no return for %" PRIu64 " s after being told to "
         "stop; %u of %u threads returned)", what, stall_s, atomic_load(&st->finished), started);
    return 0;
  }
  if (!err && st->q) verdict(s, check, st, what, stalled, stall_s);
  if (st->q) q_destroy(s, st->q);
  for (unsigned i = 0; i < nprod + ncons; i++) {
    free(st->w[i].bits);
    free(st->w[i].next_min);
  }
  free(st);
  return err;
}

/* ---------- the suite ---------- */

/* The suite proper, on its own thread. Returns 0 or -errno (could not run). */
static int suite_body(suite *s) {
  perflab_conformance_result *r = s->r;
  int err = 0;
  bool ok = true;

  at(s, "create_zero", 0);
  begin(s, "create_zero");
  perflab_queue *zero = q_create(s, 0);
  if (zero) {
    q_destroy(s, zero);
    ok = fail(s, "create_zero", "create(0) returned a queue, expected NULL");
  }

  /* Fixed capacities, then three hidden ones drawn from the seed. */
  size_t caps[8] = {1, 2, 3, 1000, (size_t)1 << 16};
  caps[5] = (size_t)(2 * draw(&s->rng, 2, 40) + 1);                               /* small odd: 5..81 */
  caps[6] = ((size_t)1 << draw(&s->rng, 3, 11)) + (size_t)draw(&s->rng, 0, 2) - 1; /* 2^k - 1, 2^k, 2^k + 1 */
  caps[7] = (size_t)draw(&s->rng, 100, 5000);
  for (unsigned i = 0; ok && i < 8; i++) {
    err = sequential(s, caps[i], &ok);
    if (err) return err;
  }
  if (ok) {
    err = check_instances_isolated(s, &ok);
    if (err) return err;
  }

  /* Stress: capacities and the extra mix drawn from the seed. */
  static const size_t stress_caps[] = {1, 2, 3, 4, 7, 16, 64, 1000};
  const size_t ncaps = sizeof(stress_caps) / sizeof(stress_caps[0]);
  if (!s->mpmc) {
    if (ok) err = stress_run(s, "stress_spsc_1x1", 1, 1, stress_caps[draw(&s->rng, 0, 3)]);
    ok = ok && !err && !r->failed_check[0];
    if (ok) err = stress_run(s, "stress_spsc_1x1", 1, 1, (size_t)draw(&s->rng, 16, 4096));
    ok = ok && !err && !r->failed_check[0];
  } else {
    static const unsigned mixes[][2] = {{1, 1}, {2, 2}, {3, 1}, {1, 3}, {4, 4}, {0, 0}};
    static const char *names[] = {"stress_mpmc_1x1", "stress_mpmc_2x2", "stress_mpmc_3x1",
                                  "stress_mpmc_1x3", "stress_mpmc_4x4", "stress_mpmc_drawn"};
    for (unsigned i = 0; ok && i < 6; i++) {
      unsigned np = mixes[i][0], nc = mixes[i][1];
      if (np == 0) {
        np = (unsigned)draw(&s->rng, 1, 6);
        nc = (unsigned)draw(&s->rng, 1, 6);
      }
      err = stress_run(s, names[i], np, nc, stress_caps[draw(&s->rng, 0, ncaps - 1)]);
      ok = !err && !r->failed_check[0];
    }
  }
  if (err) return err;
  r->passed = !r->failed_check[0];
  if (r->passed) summarise(s);
  return 0;
}

static void *suite_main(void *arg) {
  suite *s = arg;
  s->err = suite_body(s);
  atomic_store(&s->done, true);
  return NULL;
}

/*
 * Runs the suite on its own thread and watches it: a queue call that does not
 * return for STALL_NS is reported as a hang (the suite thread is then left
 * behind with its memory, which it may still touch).
 */
int perflab_queue_conformance(const perflab_queue_ops *ops, const perflab_conformance_params *p,
                              perflab_conformance_result *r) {
  if (!r) return -EINVAL;
  memset(r, 0, sizeof(*r));
  if (!ops || !p || !ops->create || !ops->destroy || !ops->try_push || !ops->try_pop ||
      (!ops->try_push_bulk) != (!ops->try_pop_bulk))
    return -EINVAL;
  suite *s = calloc(1, sizeof(*s));
  if (!s) return -ENOMEM;
  s->ops = ops;
  s->mpmc = p->mpmc;
  s->bulk = ops->try_push_bulk != NULL;
  s->rng = p->seed;
  s->stress_items = p->stress_items ? p->stress_items : p->mpmc ? STRESS_ITEMS_MPMC : STRESS_ITEMS_SPSC;
  if (s->stress_items > STRESS_ITEMS_MAX) s->stress_items = STRESS_ITEMS_MAX;
  s->r = &s->result;
  atomic_init(&s->heartbeat, 0);
  atomic_init(&s->current, "start");
  atomic_init(&s->current_capacity, 0);
  atomic_init(&s->checks, 0);
  atomic_init(&s->done, false);
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, suite_main, s);
  if (rc != 0) {
    free(s);
    return -rc;
  }
  uint64_t last = 0, last_change = now_ns();
  struct timespec tick = {0, 2000000}; /* 2 ms */
  while (!atomic_load(&s->done)) {
    nanosleep(&tick, NULL);
    /* Pairs with: beat()'s relaxed store. Guarantees: progress detection only.
     * Weaker: none exists. Stronger is not needed: a late view only delays
     *   the hang verdict; the result is read after join. */
    uint64_t hb = atomic_load_explicit(&s->heartbeat, memory_order_relaxed);
    uint64_t t = now_ns();
    if (hb != last) {
      last = hb;
      last_change = t;
    } else if (t - last_change > STALL_NS) {
      /* Pairs with, guarantees, weaker/stronger: as in at(). */
      const char *check = atomic_load_explicit(&s->current, memory_order_relaxed);
      size_t capacity = atomic_load_explicit(&s->current_capacity, memory_order_relaxed);
      r->checks_run = atomic_load_explicit(&s->checks, memory_order_relaxed);
      snprintf(r->failed_check, sizeof(r->failed_check), "%s", check);
      snprintf(r->reason, sizeof(r->reason), "%s: capacity %zu: hang: a queue call did not return for %llu s",
               check, capacity, STALL_NS / 1000000000ull);
      pthread_detach(thread);
      return 0;
    }
  }
  pthread_join(thread, NULL);
  *r = s->result;
  int err = s->err;
  free(s);
  return err;
}
