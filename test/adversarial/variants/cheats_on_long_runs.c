/* Adversarial (spsc): correct for the first 2 million pushes (longer than the
 * conformance suite's stress), then drops every 1000th item, the shape of a
 * variant tuned to pass short tests. Expected: rejected at `conformance` by
 * the full-length validated run. */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

struct perflab_queue {
  alignas(128) _Atomic size_t head;
  alignas(128) _Atomic size_t tail;
  alignas(128) size_t mask;
  unsigned long long pushes; /* producer-only */
  uint64_t *slots;
};

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity > (1u << 26)) return NULL;
  size_t cap = 2;
  while (cap < capacity + 1) cap <<= 1;
  perflab_queue *q = aligned_alloc(128, sizeof(*q));
  if (!q) return NULL;
  q->slots = calloc(cap, sizeof(uint64_t));
  if (!q->slots) {
    free(q);
    return NULL;
  }
  atomic_init(&q->head, 0);
  atomic_init(&q->tail, 0);
  q->mask = cap - 1;
  q->pushes = 0;
  return q;
}
void perflab_queue_destroy(perflab_queue *q) {
  if (!q) return;
  free(q->slots);
  free(q);
}
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (t - atomic_load_explicit(&q->head, memory_order_acquire) > q->mask - 1) return false;
  if (++q->pushes > 2000000 && q->pushes % 1000 == 0) return true; /* the cheat */
  q->slots[t & q->mask] = v;
  atomic_store_explicit(&q->tail, t + 1, memory_order_release);
  return true;
}
bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (h == atomic_load_explicit(&q->tail, memory_order_acquire)) return false;
  *out = q->slots[h & q->mask];
  atomic_store_explicit(&q->head, h + 1, memory_order_release);
  return true;
}
