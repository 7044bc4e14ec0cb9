/*
 * queue_op_cost: the cost of one push + pop on an uncontended queue, one
 * thread, deterministic.
 *
 * Technique: perflab_op_cost_loop does n x (push ~i; pop; check the value is
 * exactly ~i) and returns how many pairs went wrong; any wrong pair makes the
 * run invalid. It is a separate, exported, non-inlined function so that
 * callgrind can collect on it alone:
 *   valgrind --tool=callgrind --collect-atstart=no \
 *            --toggle-collect=perflab_op_cost_loop perflab-runner ... --workload op_cost
 * and instructions per op = Ir / ops. The driver also reports the loop's wall
 * time (ns_per_op), which is noisy on a shared VM; the instruction count is
 * the stable figure. A short warm-up (not through perflab_op_cost_loop, so
 * callgrind does not count it) touches the queue's memory first.
 * Validation around the loop, outside what is timed and counted: the warm-up
 * and a post-check fill the queue and drain it in order with values drawn per
 * run (a bijection of the index, so a queue that hands back a counter, or ~a
 * counter, instead of what was stored fails there even if it fakes the loop's
 * ~i pattern); after the loop the queue must be empty. When the loop reports
 * wrong pairs, a re-run on a fresh queue names the first one as evidence.
 *
 * Threading: the calling thread only. No kernel features.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "driver_util.h"
#include "queue_driver.h"

#define OC_WARMUP_PAIRS 1000u
#define OC_WARMUP_ROUNDS 4u

__attribute__((noinline)) uint64_t perflab_op_cost_loop(const perflab_queue_ops *ops, perflab_queue *q,
                                                         uint64_t n) {
  bool (*push)(perflab_queue *, uint64_t) = ops->try_push;
  bool (*pop)(perflab_queue *, uint64_t *) = ops->try_pop;
  uint64_t bad = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t v = ~i; /* not 0..n: a queue that hands back a counter is caught */
    uint64_t got = 0;
    if (!push(q, v)) {
      bad++;
      continue;
    }
    if (!pop(q, &got) || got != v) bad++;
  }
  /* An empty asm: the loop cannot be folded into its caller or merged with
   * another function (callgrind must find exactly this one). */
  __asm__ __volatile__("" ::: "memory");
  return bad;
}

/* Value k of a fill: (k ^ salt) times an odd constant, a bijection of k that
 * differs from run to run and is neither k nor ~k. */
static uint64_t oc_value(uint64_t salt, uint64_t k) { return (k ^ salt) * UINT64_C(0x9E3779B97F4A7C15); }

/* A salt no variant can know in advance: the clock, mixed (splitmix64's finaliser). */
static uint64_t oc_draw_salt(void) {
  uint64_t z = perflab_now_ns() + UINT64_C(0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* Fills with up to `fill` values oc_value(salt, base + k) (at least one must be
 * accepted) and drains them in order on a quiescent, empty queue. Returns true,
 * or false with the evidence in why. */
static bool oc_fill_drain(const perflab_queue_ops *ops, perflab_queue *q, uint64_t fill, uint64_t salt,
                          uint64_t base, const char *stage, char *why, size_t len) {
  uint64_t pushed = 0, got = 0;
  while (pushed < fill && ops->try_push(q, oc_value(salt, base + pushed))) pushed++;
  if (pushed == 0) {
    snprintf(why, len, "%s: push of 0x%016" PRIx64 " into an empty queue failed", stage, oc_value(salt, base));
    return false;
  }
  for (uint64_t k = 0; k < pushed; k++) {
    uint64_t want = oc_value(salt, base + k);
    if (!ops->try_pop(q, &got)) {
      snprintf(why, len, "%s: pop #%" PRIu64 " failed on a queue that accepted %" PRIu64 " pushes", stage, k + 1,
               pushed);
      return false;
    }
    if (got != want) {
      snprintf(why, len, "%s: pop #%" PRIu64 " of %" PRIu64 " returned 0x%016" PRIx64 ", expected 0x%016" PRIx64
               " (the queue does not hand back what was pushed, in order)", stage, k + 1, pushed, got, want);
      return false;
    }
  }
  if (ops->try_pop(q, &got)) {
    snprintf(why, len, "%s: pop succeeded after all %" PRIu64 " items were drained (returned 0x%016" PRIx64 ")",
             stage, pushed, got);
    return false;
  }
  return true;
}

/* The loop again, on a fresh queue, stopping at the first wrong pair: evidence
 * for the reason (not timed). Writes "" when the re-run finds nothing. */
static void oc_first_bad_pair(const perflab_queue_ops *ops, size_t capacity, uint64_t n, char *out, size_t len) {
  out[0] = '\0';
  perflab_queue *q = ops->create(capacity);
  if (!q) return;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t v = ~i, got = 0;
    if (!ops->try_push(q, v)) {
      snprintf(out, len, "pair %" PRIu64 ": push of 0x%016" PRIx64 " into an empty queue failed", i, v);
      break;
    }
    if (!ops->try_pop(q, &got)) {
      snprintf(out, len, "pair %" PRIu64 ": pop failed right after pushing 0x%016" PRIx64, i, v);
      break;
    }
    if (got != v) {
      snprintf(out, len, "pair %" PRIu64 ": pushed 0x%016" PRIx64 ", popped 0x%016" PRIx64, i, v, got);
      break;
    }
  }
  ops->destroy(q);
}

int perflab_queue_op_cost(const perflab_queue_ops *ops, const perflab_op_cost_params *p,
                          perflab_op_cost_result *r) {
  memset(r, 0, sizeof(*r));
  if (!ops || !p) {
    snprintf(r->reason, sizeof(r->reason), "no variant or no parameters");
    return -EINVAL;
  }
  if (p->capacity < 1 || p->ops < 1) {
    snprintf(r->reason, sizeof(r->reason), "capacity and ops must be at least 1");
    return -EINVAL;
  }
  perflab_queue *q = ops->create(p->capacity);
  if (!q) {
    snprintf(r->reason, sizeof(r->reason), "perflab_queue_create(%zu) returned NULL", p->capacity);
    return -ENOMEM;
  }
  /* Warm-up: fill to capacity (bounded) and drain, a few times. */
  const uint64_t salt = oc_draw_salt();
  const uint64_t fill = p->capacity < OC_WARMUP_PAIRS ? p->capacity : OC_WARMUP_PAIRS;
  char why[PERFLAB_REASON_LEN / 2 + 64], first[160];
  for (unsigned round = 0; round < OC_WARMUP_ROUNDS; round++) {
    if (!oc_fill_drain(ops, q, fill, salt, round * fill, "warm-up", why, sizeof(why))) {
      ops->destroy(q);
      snprintf(r->reason, sizeof(r->reason), "%s", why);
      return 0;
    }
  }

  uint64_t t0 = perflab_now_ns();
  uint64_t bad = perflab_op_cost_loop(ops, q, p->ops);
  uint64_t t1 = perflab_now_ns();

  /* Post-check (not timed): empty after n pairs, and it still stores what it is given. */
  uint64_t left = 0;
  bool post_ok = true;
  if (bad == 0 && ops->try_pop(q, &left)) {
    snprintf(why, sizeof(why), "after %" PRIu64 " push+pop pairs the queue should be empty, but pop returned 0x%016"
             PRIx64, p->ops, left);
    post_ok = false;
  }
  if (bad == 0 && post_ok)
    post_ok = oc_fill_drain(ops, q, fill, salt, OC_WARMUP_ROUNDS * fill, "after the loop", why, sizeof(why));
  ops->destroy(q);

  r->ops = p->ops;
  r->elapsed_ns = t1 - t0;
  r->ns_per_op = (double)r->elapsed_ns / (double)p->ops;
  r->valid = bad == 0 && post_ok;
  if (bad) {
    oc_first_bad_pair(ops, p->capacity, p->ops, first, sizeof(first));
    snprintf(r->reason, sizeof(r->reason),
             "%" PRIu64 " of %" PRIu64 " push+pop pairs failed or did not return exactly the value pushed (~i); "
             "first wrong pair on a re-run: %s", bad, p->ops, first[0] ? first : "none (the failure did not repeat)");
  } else if (!post_ok) {
    snprintf(r->reason, sizeof(r->reason), "%s", why);
  }
  return 0;
}
