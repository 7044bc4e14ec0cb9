/*
 * spsc/padded: naive's ring with head and tail on separate cache lines and
 * acquire/release ordering instead of seq_cst.
 *
 * Technique: the same capacity + 1 slot ring as naive (one slot kept empty,
 *   indices wrapped by a compare), so the only differences are the layout and
 *   the memory order. Head, tail and the read-only fields each start a
 *   128-byte block: the producer's writes to tail no longer invalidate the
 *   line the consumer writes head to (false sharing), and the 128 bytes also
 *   keep them out of one adjacent-line prefetch pair on x86. Loads of the
 *   other side's index are acquire and stores of one's own are release, which
 *   on x86 compile to plain moves (no locked instruction, no mfence).
 *   What remains: each push still reads head and each pop still reads tail, so
 *   the two lines still ping-pong once per item (cached_index fixes that).
 * Threading: one producer thread calls try_push, one consumer thread calls
 *   try_pop (they may be the same thread). create/destroy are not concurrent
 *   with anything.
 * Kernel/features: none; C11 atomics and aligned_alloc only.
 * Fallback: none needed.
 */
#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Two 64-byte lines: x86's adjacent-line prefetcher fetches lines in pairs. */
#define PADDED_BLOCK 128

struct perflab_queue {
  alignas(PADDED_BLOCK) _Atomic size_t head; /* next slot to pop; written by the consumer only */
  alignas(PADDED_BLOCK) _Atomic size_t tail; /* next slot to push; written by the producer only */
  alignas(PADDED_BLOCK) size_t slots;        /* capacity + 1; read-only after create */
  uint64_t *ring;
};

static_assert(offsetof(struct perflab_queue, tail) - offsetof(struct perflab_queue, head) >= PADDED_BLOCK,
              "head and tail must be a whole padding block apart (no false sharing)");
static_assert(offsetof(struct perflab_queue, slots) - offsetof(struct perflab_queue, tail) >= PADDED_BLOCK,
              "the read-only fields must not share tail's block");
static_assert(sizeof(struct perflab_queue) % PADDED_BLOCK == 0,
              "aligned_alloc needs a size that is a multiple of the alignment");

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity >= SIZE_MAX / sizeof(uint64_t) - PADDED_BLOCK) return NULL;
  perflab_queue *q = aligned_alloc(PADDED_BLOCK, sizeof(*q));
  if (!q) return NULL;
  q->slots = capacity + 1;
  /* The ring gets whole blocks of its own so no other heap object shares its lines. */
  q->ring = aligned_alloc(PADDED_BLOCK, round_up(q->slots * sizeof(uint64_t), PADDED_BLOCK));
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
  /* Pairs with: nothing; tail is written only by this (the producer) thread.
   * Guarantees: the producer reads back its own last store (program order).
   * Weaker: none exists. Stronger: acquire would order against no other writer. */
  size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  size_t next = tail + 1 == q->slots ? 0 : tail + 1;
  /* Pairs with: the consumer's release store of head in try_pop.
   * Guarantees: the consumer's read of the slot it freed happens before we
   *   overwrite that slot below.
   * Weaker (relaxed): our write could race with the consumer's read still in
   *   flight (it could read the new value). Stronger (seq_cst) is not needed:
   *   no store-then-load ordering across the two indices is relied on. */
  if (next == atomic_load_explicit(&q->head, memory_order_acquire)) return false; /* full */
  q->ring[tail] = value;
  /* Pairs with: the consumer's acquire load of tail in try_pop.
   * Guarantees: the slot write above is visible before the consumer sees the
   *   new tail.
   * Weaker (relaxed): the consumer could see the new tail and read a stale
   *   slot. Stronger (seq_cst) adds a full barrier per push for nothing. */
  atomic_store_explicit(&q->tail, next, memory_order_release);
  return true;
}

bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  /* Pairs with: nothing; head is written only by this (the consumer) thread.
   * Guarantees: the consumer reads back its own last store.
   * Weaker: none exists. Stronger: acquire would order against no other writer. */
  size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  /* Pairs with: the producer's release store of tail in try_push.
   * Guarantees: the slot the producer wrote before publishing tail is visible
   *   to the read below.
   * Weaker (relaxed): we could read the slot before the producer's write
   *   lands. Stronger (seq_cst) is not needed: only this pair is relied on. */
  if (head == atomic_load_explicit(&q->tail, memory_order_acquire)) return false; /* empty */
  *out = q->ring[head];
  /* Pairs with: the producer's acquire load of head in try_push.
   * Guarantees: our read of the slot happens before the producer reuses it.
   * Weaker (relaxed): the producer could overwrite the slot before our read.
   * Stronger (seq_cst) adds a full barrier per pop for nothing. */
  atomic_store_explicit(&q->head, head + 1 == q->slots ? 0 : head + 1, memory_order_release);
  return true;
}
