/*
 * spsc/bulk: cached_index plus bulk calls that move a whole batch and publish
 * it with one index store.
 *
 * Technique: the cached_index ring (power-of-two ring, free-running counters,
 *   each side caching the other's index on its own 128-byte block). A bulk
 *   push computes the free space from head_cache (refreshing it from head only
 *   when the cache shows less room than asked), copies up to n values with at
 *   most two memcpy calls (the batch may wrap the end of the ring), then
 *   publishes all of them with ONE release store of tail. A bulk pop mirrors
 *   it. Partial moves are allowed: the calls move min(n, room) items and
 *   return that count. The cross-core traffic is one index line transfer per
 *   batch instead of per item, and the copies vectorise.
 * Threading: one producer thread calls try_push/try_push_bulk, one consumer
 *   thread calls try_pop/try_pop_bulk (they may be the same thread; single
 *   and bulk calls may be mixed). create/destroy are not concurrent with
 *   anything.
 * Kernel/features: none; C11 atomics and aligned_alloc only.
 * Fallback: none needed.
 */
#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Two 64-byte lines: x86's adjacent-line prefetcher fetches lines in pairs. */
#define BULK_BLOCK 128

struct perflab_queue {
  /* producer's block */
  alignas(BULK_BLOCK) _Atomic size_t tail; /* next index to push; written by the producer only */
  size_t head_cache;                       /* producer-private: a head value it has seen */
  /* consumer's block */
  alignas(BULK_BLOCK) _Atomic size_t head; /* next index to pop; written by the consumer only */
  size_t tail_cache;                       /* consumer-private: a tail value it has seen */
  /* read-only after create */
  alignas(BULK_BLOCK) size_t mask;         /* size - 1, size a power of two */
  uint64_t *ring;
};

static_assert(offsetof(struct perflab_queue, head) - offsetof(struct perflab_queue, tail) >= BULK_BLOCK,
              "the producer's and the consumer's blocks must be a whole padding block apart");
static_assert(offsetof(struct perflab_queue, mask) - offsetof(struct perflab_queue, head) >= BULK_BLOCK,
              "the read-only fields must not share the consumer's block");
static_assert(sizeof(struct perflab_queue) % BULK_BLOCK == 0,
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
  perflab_queue *q = aligned_alloc(BULK_BLOCK, sizeof(*q));
  if (!q) return NULL;
  size_t bytes = size * sizeof(uint64_t);
  /* The ring gets whole blocks of its own so no other heap object shares its lines. */
  q->ring = aligned_alloc(BULK_BLOCK, bytes < BULK_BLOCK ? BULK_BLOCK : bytes);
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

/* Free slots as the producer sees them, refreshing head_cache when it shows
 * fewer than `want`. Producer thread only. */
static size_t producer_room(perflab_queue *q, size_t tail, size_t want) {
  size_t room = q->mask + 1 - (tail - q->head_cache);
  if (room < want) {
    /* Pairs with: the consumer's release store of head in try_pop/try_pop_bulk.
     * Guarantees: the consumer's reads of every slot below the head we see
     *   happen before we overwrite those slots.
     * Weaker (relaxed): our writes could race with reads still in flight.
     * Stronger (seq_cst) is not needed: only this pair is relied on. */
    q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
    room = q->mask + 1 - (tail - q->head_cache);
  }
  return room;
}

/* Filled slots as the consumer sees them, refreshing tail_cache when it shows
 * fewer than `want`. Consumer thread only. */
static size_t consumer_avail(perflab_queue *q, size_t head, size_t want) {
  size_t avail = q->tail_cache - head;
  if (avail < want) {
    /* Pairs with: the producer's release store of tail in try_push/try_push_bulk.
     * Guarantees: every slot below the tail we see was written before we read it.
     * Weaker (relaxed): we could read slots before the producer's writes land.
     * Stronger (seq_cst) is not needed: only this pair is relied on. */
    q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
    avail = q->tail_cache - head;
  }
  return avail;
}

bool perflab_queue_try_push(perflab_queue *q, uint64_t value) {
  /* Pairs with: nothing; tail is written only by this (the producer) thread.
   * Guarantees: the producer reads back its own last store (program order).
   * Weaker: none exists. Stronger: acquire would order against no other writer. */
  size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (producer_room(q, tail, 1) == 0) return false; /* full */
  q->ring[tail & q->mask] = value;
  /* Pairs with: the consumer's acquire load of tail in consumer_avail.
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
  if (consumer_avail(q, head, 1) == 0) return false; /* empty */
  *out = q->ring[head & q->mask];
  /* Pairs with: the producer's acquire load of head in producer_room.
   * Guarantees: our read of the slot happens before the producer reuses it.
   * Weaker (relaxed): the producer could overwrite the slot before our read.
   * Stronger (seq_cst) adds a full barrier per pop for nothing. */
  atomic_store_explicit(&q->head, head + 1, memory_order_release);
  return true;
}

size_t perflab_queue_try_push_bulk(perflab_queue *q, const uint64_t *values, size_t n) {
  if (n == 0) return 0;
  /* Pairs with: nothing; tail is written only by this (the producer) thread.
   * Guarantees: the producer reads back its own last store.
   * Weaker: none exists. Stronger: acquire would order against no other writer. */
  size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  size_t room = producer_room(q, tail, n);
  size_t m = n < room ? n : room;
  if (m == 0) return 0; /* full */
  size_t size = q->mask + 1, start = tail & q->mask;
  size_t first = m < size - start ? m : size - start; /* up to the end of the ring */
  memcpy(q->ring + start, values, first * sizeof(uint64_t));
  memcpy(q->ring, values + first, (m - first) * sizeof(uint64_t));
  /* Pairs with: the consumer's acquire load of tail in consumer_avail.
   * Guarantees: all m slot writes above are visible before the consumer sees
   *   the new tail: one store publishes the whole batch.
   * Weaker (relaxed): the consumer could read stale slots. Stronger (seq_cst)
   *   adds a full barrier per batch for nothing. */
  atomic_store_explicit(&q->tail, tail + m, memory_order_release);
  return m;
}

size_t perflab_queue_try_pop_bulk(perflab_queue *q, uint64_t *out, size_t n) {
  if (n == 0) return 0;
  /* Pairs with: nothing; head is written only by this (the consumer) thread.
   * Guarantees: the consumer reads back its own last store.
   * Weaker: none exists. Stronger: acquire would order against no other writer. */
  size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  size_t avail = consumer_avail(q, head, n);
  size_t m = n < avail ? n : avail;
  if (m == 0) return 0; /* empty */
  size_t size = q->mask + 1, start = head & q->mask;
  size_t first = m < size - start ? m : size - start; /* up to the end of the ring */
  memcpy(out, q->ring + start, first * sizeof(uint64_t));
  memcpy(out + first, q->ring, (m - first) * sizeof(uint64_t));
  /* Pairs with: the producer's acquire load of head in producer_room.
   * Guarantees: our reads of all m slots happen before the producer reuses
   *   them: one store hands the whole batch back.
   * Weaker (relaxed): the producer could overwrite slots before our reads.
   * Stronger (seq_cst) adds a full barrier per batch for nothing. */
  atomic_store_explicit(&q->head, head + m, memory_order_release);
  return m;
}
