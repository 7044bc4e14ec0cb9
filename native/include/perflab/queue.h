/*
 * perflab queue contract: a bounded queue of uint64_t values.
 *
 * One variant = one C or C++ file implementing these functions, built into a
 * shared object with the fixed flags of docs/contracts.md (this header is
 * force-included). Families: `spsc` (one producer thread, one consumer thread)
 * and `mpmc` (any number of each).
 *
 * - Any uint64_t value is legal (0 and UINT64_MAX included).
 * - On an empty, quiescent queue, `capacity` consecutive pushes succeed (a
 *   variant may round up and hold more). try_push/try_pop may fail spuriously
 *   while other threads are mid-operation; full/empty edges are only checked
 *   when the queue is quiescent.
 * - The bulk calls are optional: a variant that does not define them is driven
 *   one item at a time. They may move fewer than n items and return how many
 *   moved; items move in order.
 */
#ifndef PERFLAB_QUEUE_H
#define PERFLAB_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct perflab_queue perflab_queue;

/* NULL on failure; NULL for capacity 0. */
perflab_queue *perflab_queue_create(size_t capacity);
void perflab_queue_destroy(perflab_queue *q);
/* false when full */
bool perflab_queue_try_push(perflab_queue *q, uint64_t value);
/* false when empty */
bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out);
/* optional; may move fewer than n (partial), return how many moved */
size_t perflab_queue_try_push_bulk(perflab_queue *q, const uint64_t *values, size_t n);
size_t perflab_queue_try_pop_bulk(perflab_queue *q, uint64_t *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* PERFLAB_QUEUE_H */
