/*
 * queue_ops: a variant shared object loaded at run time (dlopen), seen as a
 * table of function pointers. The drivers and the conformance suite only ever
 * call a variant through this table, so the same code drives every variant.
 *
 * Threading: load/unload from one thread; the table itself is read-only after
 * load and may be shared by any number of threads.
 */
#ifndef PERFLAB_QUEUE_OPS_H
#define PERFLAB_QUEUE_OPS_H

#include "perflab/queue.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct perflab_queue_ops {
  perflab_queue *(*create)(size_t capacity);
  void (*destroy)(perflab_queue *q);
  bool (*try_push)(perflab_queue *q, uint64_t value);
  bool (*try_pop)(perflab_queue *q, uint64_t *out);
  /* NULL when the variant does not implement the optional bulk calls */
  size_t (*try_push_bulk)(perflab_queue *q, const uint64_t *values, size_t n);
  size_t (*try_pop_bulk)(perflab_queue *q, uint64_t *out, size_t n);
  void *handle; /* dlopen handle */
} perflab_queue_ops;

/*
 * Loads the variant at `path`. Returns 0, or a negative errno with a message
 * in err (-ENOENT: cannot be loaded; -EINVAL: a required symbol is missing, or
 * only one of the two bulk calls is defined).
 */
int perflab_queue_ops_load(const char *path, perflab_queue_ops *ops, char *err, size_t errlen);
void perflab_queue_ops_unload(perflab_queue_ops *ops);

#ifdef __cplusplus
}
#endif

#endif
