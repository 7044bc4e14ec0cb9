/* Adversarial (spsc): a cached-index ring whose index stores and loads are
 * relaxed. On x86 at -O2 it passes every functional test (the hardware keeps
 * stores in order); the slot write is still not ordered before the index
 * publish in the C memory model, and ThreadSanitizer reports the race.
 * Expected: rejected at `sanitize`. */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

struct perflab_queue {
  alignas(128) _Atomic size_t head;
  alignas(128) _Atomic size_t tail;
  alignas(128) size_t mask;
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
  return q;
}
void perflab_queue_destroy(perflab_queue *q) {
  if (!q) return;
  free(q->slots);
  free(q);
}
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (t - atomic_load_explicit(&q->head, memory_order_relaxed) > q->mask - 1) return false;
  q->slots[t & q->mask] = v;
  atomic_store_explicit(&q->tail, t + 1, memory_order_relaxed); /* the bug: should be release */
  return true;
}
bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (h == atomic_load_explicit(&q->tail, memory_order_relaxed)) return false; /* should be acquire */
  *out = q->slots[h & q->mask];
  atomic_store_explicit(&q->head, h + 1, memory_order_relaxed);
  return true;
}
