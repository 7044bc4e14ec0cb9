/* Adversarial (mpmc): a mutex ring that, when the lock is contended, reports a
 * push as done without storing it. Single-threaded it is perfect; only
 * concurrent producers lose items. Expected: rejected at `conformance`. */
#include <pthread.h>
#include <stdlib.h>

struct perflab_queue {
  pthread_mutex_t lock;
  size_t head, tail, cap;
  uint64_t slots[];
};

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity > (1u << 26)) return NULL;
  perflab_queue *q = calloc(1, sizeof(*q) + capacity * sizeof(uint64_t));
  if (!q) return NULL;
  pthread_mutex_init(&q->lock, NULL);
  q->cap = capacity;
  return q;
}
void perflab_queue_destroy(perflab_queue *q) {
  if (!q) return;
  pthread_mutex_destroy(&q->lock);
  free(q);
}
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  if (pthread_mutex_trylock(&q->lock) != 0) return true; /* the bug: "done" */
  bool ok = q->tail - q->head < q->cap;
  if (ok) q->slots[q->tail++ % q->cap] = v;
  pthread_mutex_unlock(&q->lock);
  return ok;
}
bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  pthread_mutex_lock(&q->lock);
  bool ok = q->head != q->tail;
  if (ok) *out = q->slots[q->head++ % q->cap];
  pthread_mutex_unlock(&q->lock);
  return ok;
}
