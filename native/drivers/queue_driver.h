/*
 * Queue drivers: run one workload against a loaded variant, validate every
 * item, and time it from inside native code (a 10 ns operation cannot be timed
 * across N-API per call).
 *
 * Every driver is time-boxed: it counts validated items done within
 * `duration_ns` (or stops at `max_items`), so a slow variant cannot blow the
 * run's time budget. A run that loses, duplicates, reorders (per producer) or
 * invents an item is reported invalid with the reason, never as a number.
 *
 * Threading: each call starts and joins its own threads; drivers share no
 * state and may be called one after another in the same process.
 */
#ifndef PERFLAB_QUEUE_DRIVER_H
#define PERFLAB_QUEUE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PERFLAB_REASON_LEN 512

/* Resource use of the measured part of a run (getrusage, RUSAGE_SELF deltas). */
typedef struct perflab_rusage {
  double user_s, sys_s;
  long voluntary_ctx, involuntary_ctx;
} perflab_rusage;

typedef struct perflab_throughput_params {
  unsigned producers, consumers; /* spsc: 1 and 1 */
  size_t capacity;
  unsigned batch;       /* 1: single calls; >1: bulk calls of up to `batch` (variant must have them) */
  uint64_t duration_ns; /* time box */
  uint64_t max_items;   /* per producer; 0 = driver default bound */
  bool pin;             /* pin threads round-robin over the allowed CPUs */
} perflab_throughput_params;

typedef struct perflab_throughput_result {
  bool valid;
  char reason[PERFLAB_REASON_LEN]; /* why invalid; empty when valid */
  uint64_t items;                  /* validated items delivered */
  uint64_t elapsed_ns;             /* start barrier .. last consumer done */
  double items_per_s;
  perflab_rusage rusage;
  char affinity[128];              /* e.g. "producer0:cpu0 consumer0:cpu1" or "unpinned" */
} perflab_throughput_result;

typedef struct perflab_latency_params {
  size_t capacity;
  uint64_t duration_ns;
  uint64_t max_rounds; /* 0 = driver default bound */
  bool pin;
} perflab_latency_params;

typedef struct perflab_latency_result {
  bool valid;
  char reason[PERFLAB_REASON_LEN];
  uint64_t rounds;
  double rtt_ns_p50, rtt_ns_p90, rtt_ns_p99, rtt_ns_p999, rtt_ns_min, rtt_ns_max, rtt_ns_mean;
  perflab_rusage rusage;
  char affinity[128];
} perflab_latency_result;

typedef struct perflab_op_cost_params {
  size_t capacity;
  uint64_t ops; /* push+pop pairs in the measured loop */
} perflab_op_cost_params;

typedef struct perflab_op_cost_result {
  bool valid;
  char reason[PERFLAB_REASON_LEN];
  uint64_t ops;
  uint64_t elapsed_ns; /* wall time of the loop; instruction counts come from callgrind */
  double ns_per_op;
} perflab_op_cost_result;

/* Each returns 0 when the run happened (result->valid says if it validated),
 * or a negative errno when it could not run (bad parameters, thread creation). */
int perflab_queue_throughput(const perflab_queue_ops *ops, const perflab_throughput_params *p,
                             perflab_throughput_result *r);
int perflab_queue_latency(const perflab_queue_ops *ops, const perflab_latency_params *p,
                          perflab_latency_result *r);
int perflab_queue_op_cost(const perflab_queue_ops *ops, const perflab_op_cost_params *p,
                          perflab_op_cost_result *r);

/* The measured loop of op_cost, a separate non-inlined function so that
 * callgrind can toggle collection on it alone (--toggle-collect=perflab_op_cost_loop). */
uint64_t perflab_op_cost_loop(const perflab_queue_ops *ops, perflab_queue *q, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif
