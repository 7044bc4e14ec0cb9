/* Adversarial: a correct ring that also defines libc/timer/runtime names.
 * Were these to interpose libc in the measuring process, clock_gettime would
 * report frozen time (infinite throughput), malloc/free would hand out memory
 * from a private arena, and pthread_create would stop the harness starting its
 * threads. The static stage must reject the object and name them. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

int clock_gettime(clockid_t clk, struct timespec *ts) {
  (void)clk;
  ts->tv_sec = 1;
  ts->tv_nsec = 0; /* time stands still */
  return 0;
}

static _Alignas(64) unsigned char arena[1 << 20];
static size_t arena_used;

void *malloc(size_t n) {
  n = (n + 63) & ~(size_t)63;
  if (n > sizeof(arena) - arena_used) return NULL;
  void *p = arena + arena_used;
  arena_used += n;
  return p;
}

void free(void *p) { (void)p; }

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  (void)t; (void)attr; (void)fn; (void)arg;
  return EAGAIN;
}

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  uint64_t *slots;
};

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity > ((size_t)1 << 40)) return NULL;
  size_t cap = 1;
  while (cap < capacity) cap <<= 1;
  perflab_queue *q = malloc(sizeof(*q));
  if (!q) return NULL;
  q->slots = malloc(cap * sizeof(uint64_t));
  if (!q->slots) return NULL;
  atomic_init(&q->head, 0);
  atomic_init(&q->tail, 0);
  q->mask = cap - 1;
  return q;
}
void perflab_queue_destroy(perflab_queue *q) {
  if (q) free(q->slots);
  free(q);
}
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
