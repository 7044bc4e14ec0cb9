/* Adversarial: try_push spins (burning a CPU) instead of returning. The
 * sandbox's wall-clock timeout must kill the whole namespace and record a hang.
 * Bounded: the spin gives up after 120 s, so even an unsandboxed run ends. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  uint64_t slots[];
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0) return NULL;
  size_t cap = 1;
  while (cap < capacity + 1) cap <<= 1;
  perflab_queue *q = calloc(1, sizeof(*q) + cap * sizeof(uint64_t));
  if (q) q->mask = cap - 1;
  return q;
}
void perflab_queue_destroy(perflab_queue *q) { free(q); }
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  static _Atomic int spun;
  if (!atomic_exchange(&spun, 1)) {
    double until = now_s() + 120.0;
    volatile unsigned long long n = 0;
    while (now_s() < until) n++; /* the hang */
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
