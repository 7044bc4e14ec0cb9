/* Adversarial (static stage): a correct ring with one extra public (non-static)
 * helper function. Only the contract may be public: the static stage must fail
 * naming the helper. */
#include <stdatomic.h>
#include <stdlib.h>

size_t perflab_round_up_pow2(size_t n) {
  size_t cap = 1;
  while (cap < n) cap <<= 1;
  return cap;
}

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  uint64_t slots[];
};

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity > ((size_t)1 << 40)) return NULL;
  size_t cap = perflab_round_up_pow2(capacity);
  perflab_queue *q = calloc(1, sizeof(*q) + cap * sizeof(uint64_t));
  if (q) q->mask = cap - 1;
  return q;
}
void perflab_queue_destroy(perflab_queue *q) { free(q); }
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (t - atomic_load_explicit(&q->head, memory_order_acquire) > q->mask) return false;
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
