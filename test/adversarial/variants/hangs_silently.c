/* Adversarial (spsc): after 50,000 pushes, a push never returns (a silent
 * infinite loop: no imports for the static stage to see). Bounded only by the
 * harness. Expected: rejected at `conformance` (the suite's hang detector), with
 * the sanitizer runs timing out harmlessly before it. */
#include <stdatomic.h>
#include <stdlib.h>

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  unsigned long long pushes;
  uint64_t slots[];
};

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity > (1u << 26)) return NULL;
  size_t cap = 2;
  while (cap < capacity + 1) cap <<= 1;
  perflab_queue *q = calloc(1, sizeof(*q) + cap * sizeof(uint64_t));
  if (q) q->mask = cap - 1;
  return q;
}
void perflab_queue_destroy(perflab_queue *q) { free(q); }
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  if (++q->pushes > 50000)
    for (volatile int spin = 1; spin;) {
    }
  size_t t = atomic_load(&q->tail);
  if (t - atomic_load(&q->head) > q->mask - 1) return false;
  q->slots[t & q->mask] = v;
  atomic_store(&q->tail, t + 1);
  return true;
}
bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  size_t h = atomic_load(&q->head);
  if (h == atomic_load(&q->tail)) return false;
  *out = q->slots[h & q->mask];
  atomic_store(&q->head, h + 1);
  return true;
}
