/*
 * spsc/naive: the ring a user writes first.
 *
 * Technique: an array of capacity + 1 slots (one slot stays empty so that
 *   head == tail means empty and tail + 1 == head means full), a head index
 *   (next slot to pop) and a tail index (next slot to push), wrapped with a
 *   compare against the slot count. Head and tail share one cache line and
 *   every atomic access is seq_cst, so each push and each pop moves that line
 *   between the producer's and the consumer's cores and pays a full barrier on
 *   x86 stores. It is correct and it is the baseline the other spsc variants
 *   are measured against.
 * Threading: one producer thread calls try_push, one consumer thread calls
 *   try_pop (they may be the same thread). create/destroy are not concurrent
 *   with anything.
 * Kernel/features: none; C11 atomics only.
 * Fallback: none needed.
 */
#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

#define NAIVE_LINE 64

struct perflab_queue {
  alignas(NAIVE_LINE) _Atomic size_t head; /* next slot to pop; written by the consumer */
  _Atomic size_t tail;                     /* next slot to push; written by the producer */
  size_t slots;                            /* capacity + 1; read-only after create */
  uint64_t *ring;
};

static_assert(offsetof(struct perflab_queue, tail) + sizeof(size_t) <= NAIVE_LINE,
              "naive keeps head and tail on one 64-byte cache line on purpose (the baseline)");

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity >= SIZE_MAX / sizeof(uint64_t)) return NULL;
  perflab_queue *q = aligned_alloc(NAIVE_LINE, sizeof(*q));
  if (!q) return NULL;
  q->slots = capacity + 1;
  q->ring = calloc(q->slots, sizeof(uint64_t));
  if (!q->ring) {
    free(q);
    return NULL;
  }
  atomic_init(&q->head, 0);
  atomic_init(&q->tail, 0);
  return q;
}

void perflab_queue_destroy(perflab_queue *q) {
  if (!q) return;
  free(q->ring);
  free(q);
}

bool perflab_queue_try_push(perflab_queue *q, uint64_t value) {
  size_t tail = atomic_load(&q->tail);
  size_t next = tail + 1 == q->slots ? 0 : tail + 1;
  if (next == atomic_load(&q->head)) return false; /* full */
  q->ring[tail] = value;
  atomic_store(&q->tail, next); /* publishes the slot written above */
  return true;
}

bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  size_t head = atomic_load(&q->head);
  if (head == atomic_load(&q->tail)) return false; /* empty */
  *out = q->ring[head];
  atomic_store(&q->head, head + 1 == q->slots ? 0 : head + 1); /* hands the slot back */
  return true;
}
