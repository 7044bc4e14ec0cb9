/*
 * queue_throughput: P producers and C consumers move tagged items through one
 * queue for a fixed time; every item is validated, the run is timed from the
 * start barrier to the last consumer done.
 *
 * Technique
 * - Producers push (producer << 48 | seq), seq = 0, 1, 2, ... until the time
 *   box closes (duration_ns, clock read every few hundred calls) or max_items,
 *   then publish how many they pushed. With batch > 1 they use the bulk calls
 *   (partial moves allowed; a returned count above the request is invalid).
 * - Consumers pop until everything pushed has been delivered: when all
 *   producers are done and the counts consumers publish add up to the total.
 * - Validation, cheap in the hot loop, complete after join:
 *   one consumer:  a next-seq per producer: each item must be exactly the
 *                  next one of its producer (catches loss, duplication,
 *                  reordering and invention at the first wrong item);
 *   several:       per consumer, seqs of a producer must strictly increase
 *                  (per-producer order as each consumer sees it), and each
 *                  (consumer, producer) pair sets bits in a lazily allocated
 *                  bitmap; after join the bitmaps of a producer must be
 *                  disjoint (no duplicate) and their union exactly
 *                  [0, pushed) (nothing lost, nothing invented).
 * - Nothing hangs: a producer that cannot push for 3 s, or a drain that makes
 *   no progress for 3 s (a lost item), sets a stop flag that every thread
 *   honours; the run is then invalid with the count of lost items.
 * - A run that moved no item is invalid ("no item moved in N ms"), never a
 *   rate of 0: every producer tries at least once whatever the time box (the
 *   first clock check comes after TP_FAIL_CHECK_EVERY failures or
 *   TP_CLOCK_EVERY_* calls), so on a working queue, empty at the start, some
 *   push succeeds; when none did, try_push failed on an empty queue all along.
 *   Likewise a queue that stops moving part way: when, for the last half of
 *   the time box, every producer's try_push failed without a break and every
 *   consumer's try_pop found the queue empty without a break, the queue was
 *   neither full nor empty as it claimed, and the run is invalid. (Each side
 *   notes when its final failing streak began at its first clock check, every
 *   TP_FAIL_CHECK_EVERY failures, so the fast path pays nothing. A stall of one
 *   side alone is a slow peer or a whole-process pause, and stays valid.)
 * - A failed try_ backs off (pause a few times, then sched_yield), so 4x4 on
 *   2 vCPUs completes.
 *
 * Threading: the calling thread creates P + C workers, is the barrier's
 * coordinator, joins the producers, then watches the drain until the consumers
 * finish. Workers are numbered producer0, consumer0, producer1, ... and pinned
 * round-robin over the allowed CPUs, so a 1x1 pair lands on two CPUs.
 *
 * Needs POSIX threads; pinning falls back to unpinned (and says so).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver_util.h"
#include "queue_driver.h"

/*
 * Item layout:
 *   63            48 47                                             0
 *  +----------------+-----------------------------------------------+
 *  | producer (16)  | seq (48): 0, 1, 2, ... per producer           |
 *  +----------------+-----------------------------------------------+
 */
#define TP_PRODUCER_SHIFT 48
#define TP_SEQ_MASK ((UINT64_C(1) << TP_PRODUCER_SHIFT) - 1)
#define TP_MAX_THREADS 256u                  /* per side */
#define TP_MAX_BATCH 65536u
#define TP_DEFAULT_MAX_ITEMS (UINT64_C(1) << 30) /* per producer, when max_items is 0 */
#define TP_LIMIT_MAX_ITEMS (UINT64_C(1) << 32)
#define TP_CHUNK_SHIFT 20u /* bitmap chunk: 2^20 seqs = 128 KiB */
#define TP_CHUNK_BITS (UINT64_C(1) << TP_CHUNK_SHIFT)
#define TP_CHUNK_WORDS (TP_CHUNK_BITS / 64)
#define TP_CLOCK_EVERY_SINGLE 1024u /* calls between clock reads, single push */
#define TP_CLOCK_EVERY_BULK 64u     /* calls between clock reads, bulk push */
#define TP_FAIL_CHECK_EVERY 64u     /* failed calls between clock/stop checks */
#define TP_PUBLISH_EVERY 4096u      /* items between a consumer's count publications */
#define TP_POLL_NS (5u * 1000 * 1000)
#define TP_LINE 128 /* two cache lines: adjacent-line prefetch shares pairs */

static_assert(TP_MAX_THREADS <= (UINT64_C(1) << (64 - TP_PRODUCER_SHIFT)),
              "producer ids must fit the 16 tag bits");
static_assert(TP_LIMIT_MAX_ITEMS - 1 <= TP_SEQ_MASK, "seqs must fit the 48 seq bits");
static_assert(TP_LIMIT_MAX_ITEMS % TP_CHUNK_BITS == 0, "the bitmap is whole chunks");
static_assert((TP_CLOCK_EVERY_SINGLE & (TP_CLOCK_EVERY_SINGLE - 1)) == 0 &&
                  (TP_CLOCK_EVERY_BULK & (TP_CLOCK_EVERY_BULK - 1)) == 0 &&
                  (TP_FAIL_CHECK_EVERY & (TP_FAIL_CHECK_EVERY - 1)) == 0,
              "check intervals are masks");

typedef struct tp_run tp_run;

typedef struct tp_producer {
  _Alignas(TP_LINE) tp_run *run;
  unsigned index;
  int cpu;           /* -1 when not pinned */
  int pin_err;       /* written by the thread, read after join */
  uint64_t pushed;   /* written before the release on producers_done */
  uint64_t failed;   /* push calls that moved nothing; written by the thread, read after join */
  uint64_t stuck_since; /* start of the failing streak it ended in, 0: none; read after join */
  uint64_t *buf;     /* batch > 1 */
  pthread_t thread;
} tp_producer;
static_assert(sizeof(tp_producer) % TP_LINE == 0, "producers do not share lines");

typedef struct tp_consumer {
  /* The count this consumer has delivered, published for the others and the
   * drain watcher; alone on its line (written often, read rarely). */
  _Alignas(TP_LINE) atomic_uint_fast64_t published;
  _Alignas(TP_LINE) tp_run *run;
  unsigned index;
  int cpu;
  int pin_err;
  uint64_t delivered; /* final, read after join */
  uint64_t end_ns;
  uint64_t empty_since; /* start of the empty streak it ended in, 0: none; read after join */
  uint64_t *next;     /* one consumer: next expected seq per producer */
  uint64_t *last1;    /* several: 1 + last seq seen per producer (0: none) */
  uint64_t **chunks;  /* several: [producer * nchunks + chunk] -> TP_CHUNK_WORDS words */
  uint64_t *buf;      /* batch > 1 */
  pthread_t thread;
} tp_consumer;
static_assert(sizeof(tp_consumer) % TP_LINE == 0, "consumers do not share lines");

struct tp_run {
  const perflab_queue_ops *ops;
  perflab_queue *q;
  unsigned producers, consumers, batch;
  uint64_t max_items; /* per producer */
  uint64_t nchunks;   /* bitmap chunks per (consumer, producer) */
  uint64_t start_ns, deadline_ns; /* written before the barrier's release; deadline 0: none */
  perflab_barrier barrier;
  tp_producer *prod;
  tp_consumer *cons;
  _Alignas(TP_LINE) atomic_uint producers_done;
  _Alignas(TP_LINE) atomic_uint consumers_done;
  _Alignas(TP_LINE) atomic_bool stop;
  atomic_flag failed; /* first failure claims reason */
  int fail_errno;     /* 0: invalid run; negative: the run could not proceed */
  char reason[PERFLAB_REASON_LEN];
};

static void tp_fail(tp_run *run, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first failure (later ones are consequences) and stops every thread. */
static void tp_fail(tp_run *run, int err, const char *fmt, ...) {
  if (!atomic_flag_test_and_set(&run->failed)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->reason, sizeof(run->reason), fmt, ap);
    va_end(ap);
    run->fail_errno = err;
  }
  /* relaxed: pairs with the relaxed loads of stop in every worker loop.
   * Guarantees only that each thread eventually stops; the reason written
   * above is read by the coordinator after pthread_join, which orders it.
   * Stronger is not needed because no data is handed over through stop. */
  atomic_store_explicit(&run->stop, true, memory_order_relaxed);
}

static bool tp_stopped(tp_run *run) {
  /* relaxed: pairs with the relaxed store in tp_fail / the drain watcher.
   * Guarantees the stop request is seen within a few iterations; nothing is
   * read on the strength of it. Stronger is not needed for the same reason. */
  return atomic_load_explicit(&run->stop, memory_order_relaxed);
}

/* A producer's failed push. Returns true when it must stop waiting: stop
 * requested, time box closed, or no push succeeded for PERFLAB_STALL_NS. */
static bool tp_producer_wait(tp_producer *self, unsigned *spins, uint64_t *fails, uint64_t *wait_start) {
  tp_run *run = self->run;
  perflab_backoff(spins);
  if ((++*fails & (TP_FAIL_CHECK_EVERY - 1)) != 0) return false;
  if (tp_stopped(run)) return true;
  uint64_t now = perflab_now_ns();
  if (run->deadline_ns && now >= run->deadline_ns) return true;
  if (*wait_start == 0) {
    *wait_start = now;
  } else if (now - *wait_start >= PERFLAB_STALL_NS) {
    tp_fail(run, 0,
            "producer %u: try_push failed for 3 s without a break after %" PRIu64
            " successful pushes (queue stuck full, or not accepting items)",
            self->index, self->pushed);
    return true;
  }
  return false;
}

/* Time box and stop check on the fast path. */
static bool tp_producer_done(tp_run *run) {
  if (tp_stopped(run)) return true;
  return run->deadline_ns && perflab_now_ns() >= run->deadline_ns;
}

static void *tp_producer_main(void *arg) {
  tp_producer *self = arg;
  tp_run *run = self->run;
  if (self->cpu >= 0) self->pin_err = perflab_pin_self(self->cpu);
  if (!perflab_barrier_wait(&run->barrier)) return NULL;

  const perflab_queue_ops *ops = run->ops;
  perflab_queue *q = run->q;
  const uint64_t tag = (uint64_t)self->index << TP_PRODUCER_SHIFT;
  const uint64_t max = run->max_items;
  uint64_t pushed = 0, fails = 0;
  unsigned spins = 0, calls = 0;
  uint64_t wait_start = 0;

  if (run->batch == 1) {
    while (pushed < max) {
      if ((++calls & (TP_CLOCK_EVERY_SINGLE - 1)) == 0 && tp_producer_done(run)) break;
      if (ops->try_push(q, tag | pushed)) {
        pushed++;
        spins = 0;
        wait_start = 0;
        continue;
      }
      self->pushed = pushed; /* for the stall message */
      if (tp_producer_wait(self, &spins, &fails, &wait_start)) break;
    }
  } else {
    uint64_t *buf = self->buf;
    uint64_t filled = 0; /* next seq to put in buf */
    size_t have = 0, off = 0;
    for (;;) {
      if (off == have) {
        if (filled >= max) break;
        uint64_t n = max - filled < run->batch ? max - filled : run->batch;
        for (uint64_t i = 0; i < n; i++) buf[i] = tag | (filled + i);
        filled += n;
        have = (size_t)n;
        off = 0;
      }
      if ((++calls & (TP_CLOCK_EVERY_BULK - 1)) == 0 && tp_producer_done(run)) break;
      size_t want = have - off;
      size_t k = ops->try_push_bulk(q, buf + off, want);
      if (k > want) {
        tp_fail(run, 0, "producer %u: try_push_bulk returned %zu for a request of %zu items",
                self->index, k, want);
        break;
      }
      if (k) {
        off += k;
        pushed += k;
        spins = 0;
        wait_start = 0;
        continue;
      }
      self->pushed = pushed;
      if (tp_producer_wait(self, &spins, &fails, &wait_start)) break;
    }
  }
  self->pushed = pushed;
  self->failed = fails;
  self->stuck_since = wait_start; /* reset by every success, so: the final streak */
  /* release: pairs with the consumers' acquire load of producers_done.
   * Guarantees a consumer that sees all producers done also sees every
   * producer's final `pushed` (RMWs continue the release sequence, so the last
   * value read carries all of them). Relaxed would let a consumer sum stale
   * counts and stop early; seq_cst is not needed for a one-way hand-over. */
  atomic_fetch_add_explicit(&run->producers_done, 1, memory_order_release);
  return NULL;
}

static void tp_publish(tp_consumer *self, uint64_t delivered) {
  /* relaxed: pairs with the relaxed loads in tp_sum_published.
   * Guarantees readers see a count that only grows and never exceeds what was
   * delivered; the items themselves are validated by this thread and merged
   * after pthread_join. Stronger is not needed: the count decides only when
   * to stop waiting, and a stale (lower) value just means one more round. */
  atomic_store_explicit(&self->published, delivered, memory_order_relaxed);
}

static uint64_t tp_sum_published(tp_run *run) {
  uint64_t sum = 0;
  for (unsigned c = 0; c < run->consumers; c++)
    /* relaxed: pairs with the relaxed store in tp_publish. Guarantees a
     * monotonic lower bound of each consumer's count. Acquire is not needed:
     * nothing written by that consumer is read on the strength of the count. */
    sum += atomic_load_explicit(&run->cons[c].published, memory_order_relaxed);
  return sum;
}

/* The slow path of validation: say what was wrong with item v. */
static void tp_report_bad_item(tp_consumer *self, uint64_t v) {
  tp_run *run = self->run;
  uint64_t p = v >> TP_PRODUCER_SHIFT, s = v & TP_SEQ_MASK;
  if (p >= run->producers) {
    tp_fail(run, 0, "consumer %u: invented item 0x%016" PRIx64 " (producer id %" PRIu64 ", the run has %u producers)",
            self->index, v, p, run->producers);
  } else if (self->next) {
    uint64_t want = self->next[p];
    if (s < want)
      tp_fail(run, 0, "producer %" PRIu64 ": seq %" PRIu64 " delivered again or out of order (expected seq %" PRIu64 ")",
              p, s, want);
    else
      tp_fail(run, 0, "producer %" PRIu64 ": expected seq %" PRIu64 ", got seq %" PRIu64 " (item lost, or delivered out of order)",
              p, want, s);
  } else if (s >= run->max_items) {
    tp_fail(run, 0, "consumer %u: invented item 0x%016" PRIx64 " (producer %" PRIu64 " seq %" PRIu64 " beyond the bound of %" PRIu64 ")",
            self->index, v, p, s, run->max_items);
  } else {
    tp_fail(run, 0, "consumer %u: producer %" PRIu64 " seq %" PRIu64 " after seq %" PRIu64
            " (per-producer order broken, or a duplicate)",
            self->index, p, s, self->last1[p] - 1);
  }
}

/* Validates one item; false when bad (the caller reports and stops). */
static inline bool tp_take(tp_consumer *self, tp_run *run, uint64_t v) {
  uint64_t p = v >> TP_PRODUCER_SHIFT, s = v & TP_SEQ_MASK;
  if (__builtin_expect(p >= run->producers, 0)) return false;
  if (self->next) {
    if (__builtin_expect(s != self->next[p], 0)) return false;
    self->next[p] = s + 1;
    return true;
  }
  if (__builtin_expect(s >= run->max_items || s < self->last1[p], 0)) return false;
  self->last1[p] = s + 1;
  uint64_t **slot = &self->chunks[p * run->nchunks + (s >> TP_CHUNK_SHIFT)];
  if (__builtin_expect(*slot == NULL, 0)) {
    *slot = calloc(TP_CHUNK_WORDS, sizeof(uint64_t));
    if (!*slot) {
      tp_fail(run, -ENOMEM, "consumer %u: out of memory for the validation bitmap", self->index);
      return true; /* not the item's fault; the stop flag ends the run */
    }
  }
  (*slot)[(s & (TP_CHUNK_BITS - 1)) >> 6] |= UINT64_C(1) << (s & 63);
  return true;
}

static void *tp_consumer_main(void *arg) {
  tp_consumer *self = arg;
  tp_run *run = self->run;
  if (self->cpu >= 0) self->pin_err = perflab_pin_self(self->cpu);
  if (!perflab_barrier_wait(&run->barrier)) return NULL;

  const perflab_queue_ops *ops = run->ops;
  perflab_queue *q = run->q;
  const unsigned batch = run->batch;
  uint64_t delivered = 0, last_pub = 0, total = UINT64_MAX;
  uint64_t empty_polls = 0, empty_since = 0;
  unsigned spins = 0;
  uint64_t one;

  for (;;) {
    size_t n;
    uint64_t *items;
    if (batch == 1) {
      n = ops->try_pop(q, &one) ? 1 : 0;
      items = &one;
    } else {
      n = ops->try_pop_bulk(q, self->buf, batch);
      items = self->buf;
      if (n > batch) {
        tp_fail(run, 0, "consumer %u: try_pop_bulk returned %zu for a request of %u items", self->index, n, batch);
        break;
      }
    }
    if (n) {
      size_t i = 0;
      for (; i < n; i++)
        if (!tp_take(self, run, items[i])) break;
      delivered += i;
      if (i < n) {
        tp_report_bad_item(self, items[i]);
        break;
      }
      spins = 0;
      empty_since = 0;
      if (delivered - last_pub >= TP_PUBLISH_EVERY) {
        tp_publish(self, delivered);
        last_pub = delivered;
        if (tp_stopped(run)) break;
      }
      continue;
    }
    /* Empty: publish, then see whether everything pushed has been delivered. */
    if (delivered != last_pub) {
      tp_publish(self, delivered);
      last_pub = delivered;
    }
    if (tp_stopped(run)) break;
    if (total == UINT64_MAX &&
        /* acquire: pairs with the producers' release fetch_add. Guarantees
         * every producer's final `pushed` is visible once all are counted.
         * Relaxed could read stale counts and stop the drain early; seq_cst
         * adds nothing to a one-way hand-over. */
        atomic_load_explicit(&run->producers_done, memory_order_acquire) == run->producers) {
      total = 0;
      for (unsigned p = 0; p < run->producers; p++) total += run->prod[p].pushed;
    }
    if (total != UINT64_MAX && tp_sum_published(run) >= total) break;
    if ((++empty_polls & (TP_FAIL_CHECK_EVERY - 1)) == 0 && empty_since == 0) empty_since = perflab_now_ns();
    perflab_backoff(&spins);
  }
  self->end_ns = perflab_now_ns();
  self->delivered = delivered;
  self->empty_since = empty_since;
  tp_publish(self, delivered);
  /* relaxed: pairs with the drain watcher's relaxed load. Guarantees only the
   * count of finished consumers; end_ns and delivered are read after
   * pthread_join. Stronger is not needed for that reason. */
  atomic_fetch_add_explicit(&run->consumers_done, 1, memory_order_relaxed);
  return NULL;
}

/* After join, several consumers: bitmaps of a producer disjoint, union == [0, pushed). */
static void tp_merge(tp_run *run, uint64_t total) {
  uint64_t lost = 0, dup = 0, invented = 0;
  uint64_t lost_p = 0, lost_s = 0, dup_p = 0, dup_s = 0, inv_p = 0, inv_s = 0;
  for (unsigned p = 0; p < run->producers; p++) {
    uint64_t n = run->prod[p].pushed;
    for (uint64_t k = 0; k < run->nchunks; k++) {
      uint64_t base = k * TP_CHUNK_BITS;
      bool any = false;
      for (unsigned c = 0; c < run->consumers && !any; c++) any = run->cons[c].chunks[p * run->nchunks + k] != NULL;
      if (!any) {
        if (base < n) {
          uint64_t miss = (n - base < TP_CHUNK_BITS ? n - base : TP_CHUNK_BITS);
          if (!lost) lost_p = p, lost_s = base;
          lost += miss;
        }
        continue;
      }
      for (uint64_t w = 0; w < TP_CHUNK_WORDS; w++) {
        uint64_t first = base + w * 64;
        uint64_t expect = first + 64 <= n ? ~UINT64_C(0) : first >= n ? 0 : (UINT64_C(1) << (n - first)) - 1;
        uint64_t acc = 0;
        for (unsigned c = 0; c < run->consumers; c++) {
          uint64_t *chunk = run->cons[c].chunks[p * run->nchunks + k];
          uint64_t x = chunk ? chunk[w] : 0;
          if (acc & x) {
            if (!dup) dup_p = p, dup_s = first + (uint64_t)__builtin_ctzll(acc & x);
            dup += (uint64_t)__builtin_popcountll(acc & x);
          }
          acc |= x;
        }
        if (acc & ~expect) {
          if (!invented) inv_p = p, inv_s = first + (uint64_t)__builtin_ctzll(acc & ~expect);
          invented += (uint64_t)__builtin_popcountll(acc & ~expect);
        }
        if (expect & ~acc) {
          if (!lost) lost_p = p, lost_s = first + (uint64_t)__builtin_ctzll(expect & ~acc);
          lost += (uint64_t)__builtin_popcountll(expect & ~acc);
        }
      }
    }
  }
  if (dup)
    tp_fail(run, 0, "%" PRIu64 " items delivered more than once (first: producer %" PRIu64 " seq %" PRIu64 ")",
            dup, dup_p, dup_s);
  else if (invented)
    tp_fail(run, 0, "%" PRIu64 " items delivered that were never pushed (first: producer %" PRIu64 " seq %" PRIu64
            ", which pushed %" PRIu64 ")",
            invented, inv_p, inv_s, run->prod[inv_p].pushed);
  else if (lost)
    tp_fail(run, 0, "lost %" PRIu64 " of %" PRIu64 " items (first missing: producer %" PRIu64 " seq %" PRIu64 ")",
            lost, total, lost_p, lost_s);
}

/* After join, one consumer: its next-seq per producer must equal what was pushed. */
static void tp_check_single(tp_run *run, uint64_t total) {
  tp_consumer *c = &run->cons[0];
  uint64_t lost = 0, lost_p = 0, lost_s = 0;
  for (unsigned p = 0; p < run->producers; p++) {
    uint64_t pushed = run->prod[p].pushed, got = c->next[p];
    if (got > pushed) {
      /* got is the next seq expected, so got - 1 is the highest delivered. */
      tp_fail(run, 0, "producer %u: seq %" PRIu64 " delivered but only %" PRIu64
              " were pushed (seqs 0..%" PRIu64 "; try_push reported failure for an item it enqueued)",
              p, got - 1, pushed, pushed ? pushed - 1 : 0);
      return;
    }
    if (got < pushed) {
      if (!lost) lost_p = p, lost_s = got;
      lost += pushed - got;
    }
  }
  if (lost)
    tp_fail(run, 0, "lost %" PRIu64 " of %" PRIu64 " items (first missing: producer %" PRIu64 " seq %" PRIu64 ")",
            lost, total, lost_p, lost_s);
}

/* After join, a run that delivered nothing and found nothing else wrong: no
 * push ever succeeded (a pushed item that was never delivered is reported as
 * lost before this), so try_push failed on an empty queue all along. */
static void tp_fail_nothing_moved(tp_run *run, uint64_t end_ns) {
  uint64_t calls = 0;
  for (unsigned p = 0; p < run->producers; p++) calls += run->prod[p].failed;
  tp_fail(run, 0,
          "no item moved in %" PRIu64 " ms: all %" PRIu64 " %s calls of %u producer(s) failed on a queue "
          "nothing was ever pushed into",
          (end_ns - run->start_ns) / 1000000, calls, run->batch > 1 ? "try_push_bulk" : "try_push", run->producers);
}

/* After join, a time-boxed run that moved items and found nothing else wrong:
 * invalid when for the last half of the box every producer was failing to
 * push and every consumer found the queue empty, without a break (see the
 * design block). */
static void tp_check_tail_stall(tp_run *run, uint64_t duration_ns, uint64_t delivered) {
  uint64_t cutoff = run->deadline_ns - duration_ns / 2, since = 0;
  for (unsigned p = 0; p < run->producers; p++) {
    uint64_t t = run->prod[p].stuck_since;
    if (t == 0 || t > cutoff) return;
    if (t > since) since = t;
  }
  for (unsigned c = 0; c < run->consumers; c++) {
    uint64_t t = run->cons[c].empty_since;
    if (t == 0 || t > cutoff) return;
    if (t > since) since = t;
  }
  tp_fail(run, 0,
          "no item moved in the last %" PRIu64 " ms of the %" PRIu64 " ms time box: from %" PRIu64
          " ms on, after %" PRIu64 " items, every %s failed and every %s found the queue empty",
          (run->deadline_ns - since) / 1000000, duration_ns / 1000000, (since - run->start_ns) / 1000000, delivered,
          run->batch > 1 ? "try_push_bulk" : "try_push", run->batch > 1 ? "try_pop_bulk" : "try_pop");
}

static void tp_free(tp_run *run) {
  if (run->cons) {
    for (unsigned c = 0; c < run->consumers; c++) {
      tp_consumer *k = &run->cons[c];
      if (k->chunks)
        for (uint64_t i = 0; i < (uint64_t)run->producers * run->nchunks; i++) free(k->chunks[i]);
      free(k->chunks);
      free(k->next);
      free(k->last1);
      free(k->buf);
    }
    free(run->cons);
  }
  if (run->prod) {
    for (unsigned p = 0; p < run->producers; p++) free(run->prod[p].buf);
    free(run->prod);
  }
  if (run->q) run->ops->destroy(run->q);
  free(run);
}

static int tp_reject(perflab_throughput_result *r, int err, const char *why) {
  snprintf(r->reason, sizeof(r->reason), "%s", why);
  return err;
}

int perflab_queue_throughput(const perflab_queue_ops *ops, const perflab_throughput_params *p,
                             perflab_throughput_result *r) {
  memset(r, 0, sizeof(*r));
  if (!ops || !p) return tp_reject(r, -EINVAL, "no variant or no parameters");
  if (p->producers < 1 || p->producers > TP_MAX_THREADS || p->consumers < 1 || p->consumers > TP_MAX_THREADS)
    return tp_reject(r, -EINVAL, "producers and consumers must each be 1..256");
  if (p->capacity < 1) return tp_reject(r, -EINVAL, "capacity must be at least 1");
  if (p->batch < 1 || p->batch > TP_MAX_BATCH) return tp_reject(r, -EINVAL, "batch must be 1..65536");
  if (p->batch > 1 && (!ops->try_push_bulk || !ops->try_pop_bulk)) {
    snprintf(r->reason, sizeof(r->reason),
             "batch %u needs the bulk calls, and this variant does not define "
             "perflab_queue_try_push_bulk/perflab_queue_try_pop_bulk (use batch 1)",
             p->batch);
    return -EINVAL;
  }
  if (p->max_items > TP_LIMIT_MAX_ITEMS) return tp_reject(r, -EINVAL, "max_items must be at most 2^32 per producer");
  if (p->duration_ns == 0 && p->max_items == 0)
    return tp_reject(r, -EINVAL, "a run needs a time box (duration_ns) or a bound (max_items)");

  tp_run *run = calloc(1, sizeof(*run));
  if (!run) return tp_reject(r, -ENOMEM, "out of memory");
  run->ops = ops;
  run->producers = p->producers;
  run->consumers = p->consumers;
  run->batch = p->batch;
  run->max_items = p->max_items ? p->max_items : TP_DEFAULT_MAX_ITEMS;
  run->nchunks = (run->max_items + TP_CHUNK_BITS - 1) >> TP_CHUNK_SHIFT;
  atomic_init(&run->producers_done, 0);
  atomic_init(&run->consumers_done, 0);
  atomic_init(&run->stop, false);
  atomic_flag_clear(&run->failed);

  int err = 0;
  run->prod = aligned_alloc(TP_LINE, sizeof(tp_producer) * run->producers);
  run->cons = aligned_alloc(TP_LINE, sizeof(tp_consumer) * run->consumers);
  if (!run->prod || !run->cons) {
    free(run->prod), free(run->cons);
    run->prod = NULL, run->cons = NULL;
    err = -ENOMEM;
  } else {
    memset(run->prod, 0, sizeof(tp_producer) * run->producers);
    memset(run->cons, 0, sizeof(tp_consumer) * run->consumers);
  }
  for (unsigned i = 0; !err && i < run->producers; i++) {
    tp_producer *k = &run->prod[i];
    k->run = run, k->index = i, k->cpu = -1;
    if (run->batch > 1 && !(k->buf = malloc(sizeof(uint64_t) * run->batch))) err = -ENOMEM;
  }
  for (unsigned i = 0; !err && i < run->consumers; i++) {
    tp_consumer *k = &run->cons[i];
    atomic_init(&k->published, 0);
    k->run = run, k->index = i, k->cpu = -1;
    if (run->consumers == 1) {
      if (!(k->next = calloc(run->producers, sizeof(uint64_t)))) err = -ENOMEM;
    } else if (!(k->last1 = calloc(run->producers, sizeof(uint64_t))) ||
               !(k->chunks = calloc((size_t)(run->producers * run->nchunks), sizeof(uint64_t *)))) {
      err = -ENOMEM;
    }
    if (run->batch > 1 && !(k->buf = malloc(sizeof(uint64_t) * run->batch))) err = -ENOMEM;
  }
  if (err) {
    tp_free(run);
    return tp_reject(r, err, "out of memory setting up the run");
  }
  run->q = ops->create(p->capacity);
  if (!run->q) {
    snprintf(r->reason, sizeof(r->reason), "perflab_queue_create(%zu) returned NULL", p->capacity);
    tp_free(run);
    return -ENOMEM;
  }

  /* Thread order producer0, consumer0, producer1, ...; CPU = allowed[slot % n]. */
  int cpus[PERFLAB_MAX_CPUS];
  int ncpu = p->pin ? perflab_allowed_cpus(cpus, PERFLAB_MAX_CPUS) : 0;
  unsigned most = run->producers > run->consumers ? run->producers : run->consumers;
  unsigned slot = 0;
  if (ncpu > 0)
    for (unsigned i = 0; i < most; i++) {
      if (i < run->producers) run->prod[i].cpu = cpus[slot++ % (unsigned)ncpu];
      if (i < run->consumers) run->cons[i].cpu = cpus[slot++ % (unsigned)ncpu];
    }

  perflab_barrier_init(&run->barrier, run->producers + run->consumers);
  unsigned made_p = 0, made_c = 0;
  for (unsigned i = 0; !err && i < most; i++) {
    if (i < run->producers) {
      int e = pthread_create(&run->prod[i].thread, NULL, tp_producer_main, &run->prod[i]);
      if (e) err = -e;
      else made_p++;
    }
    if (!err && i < run->consumers) {
      int e = pthread_create(&run->cons[i].thread, NULL, tp_consumer_main, &run->cons[i]);
      if (e) err = -e;
      else made_c++;
    }
  }
  perflab_barrier_await_arrivals(&run->barrier, made_p + made_c);
  if (err) {
    perflab_barrier_release(&run->barrier, false);
    for (unsigned i = 0; i < made_p; i++) pthread_join(run->prod[i].thread, NULL);
    for (unsigned i = 0; i < made_c; i++) pthread_join(run->cons[i].thread, NULL);
    snprintf(r->reason, sizeof(r->reason), "cannot create thread %u of %u: %s", made_p + made_c + 1,
             run->producers + run->consumers, strerror(-err));
    tp_free(run);
    return err;
  }

  struct rusage ru0;
  perflab_rusage_mark(&ru0);
  run->start_ns = perflab_now_ns();
  run->deadline_ns = p->duration_ns ? run->start_ns + p->duration_ns : 0;
  perflab_barrier_release(&run->barrier, true);

  /* A producer stuck inside the variant (a push that never returns) must not
   * hang the runner: give each producer the rest of the time box plus the stall
   * limit, then give up on the run. The threads are left running and the run's
   * memory is deliberately leaked (they may still touch it); the runner exits
   * right after reporting, which ends them. */
  for (unsigned i = 0; i < run->producers; i++) {
    uint64_t now = perflab_now_ns();
    uint64_t budget = (run->deadline_ns > now ? run->deadline_ns - now : 0) + PERFLAB_STALL_NS;
    if (!run->deadline_ns) budget = 60ull * 1000000000ull; /* item-bounded runs: the producers' own stall detector fires first */
    if (!perflab_join_within(run->prod[i].thread, budget)) {
      /* relaxed: as every other store of stop (tp_stopped polls it); no data rides on it. */
      atomic_store_explicit(&run->stop, true, memory_order_relaxed);
      r->valid = false;
      snprintf(r->reason, sizeof(r->reason),
               "hang: producer %u did not return from the variant within %.0f s after the time box", i,
               (double)PERFLAB_STALL_NS / 1e9);
      return 0;
    }
  }

  /* The drain: consumers finish on their own; a drain that makes no progress
   * for PERFLAB_STALL_NS has lost items, and is stopped. */
  uint64_t seen = tp_sum_published(run), progress_ns = perflab_now_ns();
  bool stalled = false;
  /* relaxed: pairs with the consumers' relaxed fetch_add. Guarantees only the
   * count of finished consumers; their results are read after pthread_join,
   * which orders them. Acquire is not needed for that reason. */
  while (atomic_load_explicit(&run->consumers_done, memory_order_relaxed) < run->consumers) {
    struct timespec nap = {0, TP_POLL_NS};
    nanosleep(&nap, NULL);
    uint64_t now = perflab_now_ns(), sum = tp_sum_published(run);
    if (sum != seen) {
      seen = sum;
      progress_ns = now;
    } else if (now - progress_ns >= PERFLAB_STALL_NS) {
      stalled = true;
      /* relaxed: pairs with the relaxed loads in tp_stopped. Guarantees the
       * consumers stop within a few polls; the coordinator reads their results
       * after pthread_join. Stronger is not needed: no data rides on it. */
      atomic_store_explicit(&run->stop, true, memory_order_relaxed);
      break;
    }
  }
  for (unsigned i = 0; i < run->consumers; i++) {
    if (!perflab_join_within(run->cons[i].thread, PERFLAB_STALL_NS)) {
      r->valid = false;
      snprintf(r->reason, sizeof(r->reason), "hang: consumer %u did not return from the variant within %.0f s of the stop",
               i, (double)PERFLAB_STALL_NS / 1e9);
      return 0; /* threads left running and memory leaked on purpose, as above */
    }
  }
  perflab_rusage_delta(&ru0, &r->rusage);

  uint64_t total = 0, delivered = 0, end_ns = run->start_ns;
  for (unsigned i = 0; i < run->producers; i++) total += run->prod[i].pushed;
  for (unsigned i = 0; i < run->consumers; i++) {
    delivered += run->cons[i].delivered;
    if (run->cons[i].end_ns > end_ns) end_ns = run->cons[i].end_ns;
  }
  if (run->consumers == 1) tp_check_single(run, total);
  else tp_merge(run, total);
  if (stalled && !run->reason[0])
    tp_fail(run, 0, "drain made no progress for 3 s: %" PRIu64 " of %" PRIu64 " items delivered", delivered, total);
  if (delivered == 0 && !run->reason[0]) tp_fail_nothing_moved(run, end_ns);
  if (run->deadline_ns && !run->reason[0]) tp_check_tail_stall(run, p->duration_ns, delivered);

  /* Affinity text, in thread order; a summary when the full list does not fit. */
  if (ncpu > 0) {
    char full[4096] = "";
    unsigned pin_failed = 0;
    for (unsigned i = 0; i < most; i++) {
      if (i < run->producers) {
        pin_failed += run->prod[i].pin_err != 0;
        perflab_affinity_append(full, sizeof(full), "producer", (int)i, run->prod[i].pin_err ? -1 : run->prod[i].cpu);
      }
      if (i < run->consumers) {
        pin_failed += run->cons[i].pin_err != 0;
        perflab_affinity_append(full, sizeof(full), "consumer", (int)i, run->cons[i].pin_err ? -1 : run->cons[i].cpu);
      }
    }
    if (strlen(full) < sizeof(r->affinity)) {
      memcpy(r->affinity, full, strlen(full) + 1);
    } else {
      int n = snprintf(r->affinity, sizeof(r->affinity), "%up%uc round-robin (producer0 consumer0 producer1 ...)%s over cpus",
                       run->producers, run->consumers, pin_failed ? " some unpinned," : "");
      for (int i = 0; n > 0 && (size_t)n < sizeof(r->affinity) && i < ncpu; i++) {
        if ((size_t)n + 16 >= sizeof(r->affinity)) {
          snprintf(r->affinity + n, sizeof(r->affinity) - (size_t)n, " ...");
          break;
        }
        n += snprintf(r->affinity + n, sizeof(r->affinity) - (size_t)n, " %d", cpus[i]);
      }
    }
  } else {
    snprintf(r->affinity, sizeof(r->affinity), "%s", p->pin ? "unpinned (sched_getaffinity failed)" : "unpinned");
  }

  r->items = delivered;
  r->elapsed_ns = end_ns - run->start_ns;
  r->items_per_s = r->elapsed_ns ? (double)delivered * 1e9 / (double)r->elapsed_ns : 0.0;
  err = run->fail_errno;
  r->valid = !run->reason[0];
  if (run->reason[0]) snprintf(r->reason, sizeof(r->reason), "%s", run->reason);
  tp_free(run);
  return err;
}
