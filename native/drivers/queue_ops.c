/*
 * queue_ops: dlopen a variant and resolve the queue contract.
 *
 * RTLD_LOCAL keeps one variant's symbols out of the global namespace, so the
 * runner never mixes two variants' functions; RTLD_NOW fails at load time,
 * not in the middle of a timed loop, when a symbol is unresolved.
 */
#include "queue_ops.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RESOLVE(field, name)                                           \
  do {                                                                 \
    *(void **)(&ops->field) = dlsym(ops->handle, name);                \
  } while (0)

int perflab_queue_ops_load(const char *path, perflab_queue_ops *ops, char *err, size_t errlen) {
  memset(ops, 0, sizeof(*ops));
  ops->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!ops->handle) {
    snprintf(err, errlen, "cannot load variant %s: %s", path, dlerror());
    return -ENOENT;
  }
  RESOLVE(create, "perflab_queue_create");
  RESOLVE(destroy, "perflab_queue_destroy");
  RESOLVE(try_push, "perflab_queue_try_push");
  RESOLVE(try_pop, "perflab_queue_try_pop");
  RESOLVE(try_push_bulk, "perflab_queue_try_push_bulk");
  RESOLVE(try_pop_bulk, "perflab_queue_try_pop_bulk");
  const char *missing = !ops->create ? "perflab_queue_create"
                        : !ops->destroy ? "perflab_queue_destroy"
                        : !ops->try_push ? "perflab_queue_try_push"
                        : !ops->try_pop ? "perflab_queue_try_pop"
                        : NULL;
  if (!missing && (!ops->try_push_bulk) != (!ops->try_pop_bulk))
    missing = ops->try_push_bulk ? "perflab_queue_try_pop_bulk (try_push_bulk is defined)"
                                 : "perflab_queue_try_push_bulk (try_pop_bulk is defined)";
  if (missing) {
    snprintf(err, errlen, "variant %s does not define %s", path, missing);
    perflab_queue_ops_unload(ops);
    return -EINVAL;
  }
  return 0;
}

void perflab_queue_ops_unload(perflab_queue_ops *ops) {
  if (ops->handle) dlclose(ops->handle);
  memset(ops, 0, sizeof(*ops));
}
