/* Corpus copy of native/variants/spsc/cached_index.c (correct and faster than
 * naive). Expected: passes `check`; `compare` against naive says faster.
 *
 * spsc/cached_index: padded plus a cached copy of the other side's index
 * (the technique of rigtorp's SPSCQueue).
 *
 * Technique: a power-of-two ring indexed by free-running counters (slot =
 *   index & mask; tail - head is the fill level, correct across wrap of
 *   size_t). The producer's block holds tail and head_cache, the producer's
 *   last view of head; the consumer's block holds head and tail_cache. A push
 *   reads the shared head only when head_cache says the ring looks full, a pop
 *   reads the shared tail only when tail_cache says it looks empty, so in a
 *   steady stream each side touches the other's line once per ring's worth of
 *   items instead of once per item. The capacity is rounded up to a power of
 *   two (the ring holds that many).
 * Threading: one producer thread calls try_push, one consumer thread calls
 *   try_pop (they may be the same thread). head_cache is private to the
 *   producer, tail_cache to the consumer. create/destroy are not concurrent
 *   with anything.
 * Kernel/features: none; C11 atomics and aligned_alloc only.
 * Fallback: none needed.
 */
#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Two 64-byte lines: x86's adjacent-line prefetcher fetches lines in pairs. */
#define CACHED_BLOCK 128

struct perflab_queue {
  /* producer's block */
  alignas(CACHED_BLOCK) _Atomic size_t tail; /* next index to push; written by the producer only */
  size_t head_cache;                         /* producer-private: a head value it has seen */
  /* consumer's block */
  alignas(CACHED_BLOCK) _Atomic size_t head; /* next index to pop; written by the consumer only */
  size_t tail_cache;                         /* consumer-private: a tail value it has seen */
  /* read-only after create */
  alignas(CACHED_BLOCK) size_t mask;         /* size - 1, size a power of two */
  uint64_t *ring;
};

static_assert(offsetof(struct perflab_queue, head) - offsetof(struct perflab_queue, tail) >= CACHED_BLOCK,
              "the producer's and the consumer's blocks must be a whole padding block apart");
static_assert(offsetof(struct perflab_queue, mask) - offsetof(struct perflab_queue, head) >= CACHED_BLOCK,
              "the read-only fields must not share the consumer's block");
static_assert(sizeof(struct perflab_queue) % CACHED_BLOCK == 0,
              "aligned_alloc needs a size that is a multiple of the alignment");

/* The smallest power of two >= n, or 0 when it would not fit the ring's byte size. */
static size_t pow2_at_least(size_t n) {
  size_t s = 1;
  while (s < n) {
    if (s > SIZE_MAX / 2 / sizeof(uint64_t) / 2) return 0;
    s <<= 1;
  }
  return s;
}

perflab_queue *perflab_queue_create(size_t capacity) {
  size_t size = capacity ? pow2_at_least(capacity) : 0;
  if (size == 0) return NULL;
  perflab_queue *q = aligned_alloc(CACHED_BLOCK, sizeof(*q));
  if (!q) return NULL;
  size_t bytes = size * sizeof(uint64_t);
  /* The ring gets whole blocks of its own so no other heap object shares its lines. */
  q->ring = aligned_alloc(CACHED_BLOCK, bytes < CACHED_BLOCK ? CACHED_BLOCK : bytes);
  if (!q->ring) {
    free(q);
    return NULL;
  }
  q->mask = size - 1;
  q->head_cache = 0;
  q->tail_cache = 0;
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
  if (tail - q->head_cache > q->mask) { /* looks full: refresh the cached head */
    /* Pairs with: the consumer's release store of head in try_pop.
     * Guarantees: the consumer's reads of every slot below the head we see
     *   happen before we overwrite those slots.
     * Weaker (relaxed): our write could race with a read still in flight.
     * Stronger (seq_cst) is not needed: only this pair is relied on. */
    q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail - q->head_cache > q->mask) return false; /* full */
  }
  q->ring[tail & q->mask] = value;
  /* Pairs with: the consumer's acquire load of tail in try_pop.
   * Guarantees: the slot write above is visible before the consumer sees the
   *   new tail.
   * Weaker (relaxed): the consumer could see the new tail and read a stale
   *   slot. Stronger (seq_cst) adds a full barrier per push for nothing. */
  atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
  return true;
}

bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  /* Pairs with: nothing; head is written only by this (the consumer) thread.
   * Guarantees: the consumer reads back its own last store.
   * Weaker: none exists. Stronger: acquire would order against no other writer. */
  size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (head == q->tail_cache) { /* looks empty: refresh the cached tail */
    /* Pairs with: the producer's release store of tail in try_push.
     * Guarantees: every slot below the tail we see was written before we read it.
     * Weaker (relaxed): we could read a slot before the producer's write lands.
     * Stronger (seq_cst) is not needed: only this pair is relied on. */
    q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (head == q->tail_cache) return false; /* empty */
  }
  *out = q->ring[head & q->mask];
  /* Pairs with: the producer's acquire load of head in try_push.
   * Guarantees: our read of the slot happens before the producer reuses it.
   * Weaker (relaxed): the producer could overwrite the slot before our read.
   * Stronger (seq_cst) adds a full barrier per pop for nothing. */
  atomic_store_explicit(&q->head, head + 1, memory_order_release);
  return true;
}
