/*
 * The queue conformance suite: one suite for every variant, built-in or
 * generated, run by the runner (`--workload conformance`) and by the native
 * tests (ctest, also under TSan and ASan/UBSan).
 */
#ifndef PERFLAB_QUEUE_CONFORMANCE_H
#define PERFLAB_QUEUE_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct perflab_conformance_params {
  bool mpmc;          /* false: spsc rules (1 producer, 1 consumer) */
  uint64_t seed;      /* draws the hidden parameters (capacities, counts, thread mix) */
  uint64_t stress_items; /* items per producer in the multi-threaded stress; 0 = default */
} perflab_conformance_params;

typedef struct perflab_conformance_result {
  bool passed;
  unsigned checks_run;
  char failed_check[64];   /* name of the first failing check, empty on pass */
  char reason[512];        /* evidence: what was expected and what was seen */
} perflab_conformance_result;

/* Returns 0 when the suite ran (result->passed tells the verdict), negative errno
 * when it could not run at all. */
int perflab_queue_conformance(const perflab_queue_ops *ops, const perflab_conformance_params *p,
                              perflab_conformance_result *r);

#ifdef __cplusplus
}
#endif

#endif
