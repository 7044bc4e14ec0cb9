/*
 * mpmc/mutex: the ring a user writes first when several threads share it.
 *
 * Technique: a capacity-sized ring (head index plus count) with every
 *   operation inside one pthread mutex. Simple and obviously correct; under
 *   contention every operation serialises on the lock's cache line and a
 *   thread that finds it taken may sleep in the kernel (futex). The baseline
 *   the lock-free mpmc variants are measured against.
 * Threading: any number of threads may call try_push and try_pop
 *   concurrently. create/destroy are not concurrent with anything.
 * Kernel/features: pthread mutex (futex on Linux).
 * Fallback: none needed.
 */
#include <pthread.h>
#include <stdlib.h>

struct perflab_queue {
  pthread_mutex_t lock; /* guards every field below */
  size_t head;          /* slot of the oldest item */
  size_t count;         /* items held */
  size_t capacity;
  uint64_t *ring;
};

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0) return NULL;
  perflab_queue *q = calloc(1, sizeof(*q));
  if (!q) return NULL;
  q->ring = calloc(capacity, sizeof(uint64_t));
  if (!q->ring || pthread_mutex_init(&q->lock, NULL) != 0) {
    free(q->ring);
    free(q);
    return NULL;
  }
  q->capacity = capacity;
  return q;
}

void perflab_queue_destroy(perflab_queue *q) {
  if (!q) return;
  pthread_mutex_destroy(&q->lock);
  free(q->ring);
  free(q);
}

bool perflab_queue_try_push(perflab_queue *q, uint64_t value) {
  pthread_mutex_lock(&q->lock);
  bool ok = q->count < q->capacity;
  if (ok) {
    size_t slot = q->head + q->count;
    if (slot >= q->capacity) slot -= q->capacity;
    q->ring[slot] = value;
    q->count++;
  }
  pthread_mutex_unlock(&q->lock);
  return ok;
}

bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  pthread_mutex_lock(&q->lock);
  bool ok = q->count > 0;
  if (ok) {
    *out = q->ring[q->head];
    q->head = q->head + 1 == q->capacity ? 0 : q->head + 1;
    q->count--;
  }
  pthread_mutex_unlock(&q->lock);
  return ok;
}
