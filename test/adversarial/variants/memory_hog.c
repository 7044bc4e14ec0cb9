/* Adversarial: in create, allocates and touches 64 MiB at a time, keeping it,
 * up to 4 GiB. The sandbox's memory bound must kill it and record why.
 * Bounded: it stops at 4 GiB (then behaves as a correct ring). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  uint64_t slots[];
};

#define CHUNK ((size_t)64 << 20)
#define MAX_CHUNKS 64 /* 4 GiB */

static void *hoard[MAX_CHUNKS];

static void hog(void) {
  static int done;
  if (done++) return;
  for (int i = 0; i < MAX_CHUNKS; i++) {
    char *p = malloc(CHUNK);
    if (!p) break;
    memset(p, i + 1, CHUNK); /* touch every page: resident, not just reserved */
    hoard[i] = p;
  }
}

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0) return NULL;
  hog();
  size_t cap = 1;
  while (cap < capacity + 1) cap <<= 1;
  perflab_queue *q = calloc(1, sizeof(*q) + cap * sizeof(uint64_t));
  if (q) q->mask = cap - 1;
  return q;
}
void perflab_queue_destroy(perflab_queue *q) { free(q); }
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
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
