/*
 * queue_op_cost: the cost of one push + pop on an uncontended queue, one
 * thread, deterministic.
 *
 * Technique: perflab_op_cost_loop does n x (push i; pop; check the value is i)
 * and returns how many pairs went wrong. It is a separate, exported,
 * non-inlined function so that callgrind can collect on it alone:
 *   valgrind --tool=callgrind --collect-atstart=no \
 *            --toggle-collect=perflab_op_cost_loop perflab-runner ... --workload op_cost
 * and instructions per op = Ir / ops. The driver also reports the loop's wall
 * time (ns_per_op), which is noisy on a shared VM; the instruction count is
 * the stable figure. A short warm-up (not through perflab_op_cost_loop, so
 * callgrind does not count it) touches the queue's memory first.
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
  uint64_t warm_bad = 0;
  for (unsigned round = 0; round < 4; round++) {
    uint64_t fill = p->capacity < OC_WARMUP_PAIRS ? p->capacity : OC_WARMUP_PAIRS, pushed = 0, v;
    while (pushed < fill && ops->try_push(q, pushed)) pushed++;
    for (uint64_t i = 0; i < pushed; i++)
      if (!ops->try_pop(q, &v) || v != i) warm_bad++;
    if (pushed == 0) warm_bad++;
  }
  if (warm_bad) {
    ops->destroy(q);
    r->valid = false;
    snprintf(r->reason, sizeof(r->reason),
             "warm-up: %" PRIu64 " pushes or pops failed or returned the wrong value on a single thread", warm_bad);
    return 0;
  }

  uint64_t t0 = perflab_now_ns();
  uint64_t bad = perflab_op_cost_loop(ops, q, p->ops);
  uint64_t t1 = perflab_now_ns();
  ops->destroy(q);

  r->ops = p->ops;
  r->elapsed_ns = t1 - t0;
  r->ns_per_op = (double)r->elapsed_ns / (double)p->ops;
  r->valid = bad == 0;
  if (bad)
    snprintf(r->reason, sizeof(r->reason),
             "%" PRIu64 " of %" PRIu64 " push+pop pairs failed or returned the wrong value", bad, p->ops);
  return 0;
}
