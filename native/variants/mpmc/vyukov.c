/*
 * mpmc/vyukov: Dmitry Vyukov's bounded MPMC queue.
 *
 * Technique: a power-of-two array of cells, each a sequence number plus a
 *   value, and two free-running positions, enqueue_pos and dequeue_pos, each
 *   on its own 128-byte block. Cell i starts with seq = i. For position p in
 *   cell c = p & mask:
 *     seq == p        the cell is free for the enqueuer of p
 *     seq == p + 1    it holds the item of p, ready for the dequeuer of p
 *     seq == p + size it is free again, for the enqueuer of p + size
 *   An enqueuer reads enqueue_pos, checks its cell's seq, and claims p with a
 *   CAS enqueue_pos: p -> p + 1; the CAS winner alone owns the cell, writes
 *   the value and publishes it with a release store seq = p + 1. A dequeuer
 *   mirrors it and frees the cell with seq = p + size. Producers contend only
 *   on enqueue_pos, consumers only on dequeue_pos; no thread ever waits for
 *   another inside a call: try_* fails instead (spuriously so when the cell's
 *   previous owner is mid-operation, which the contract allows). The
 *   capacity is rounded up to a power of two, at least 2 (with one cell,
 *   "free for p + 1" and "holds p" would be the same seq).
 * Threading: any number of threads may call try_push and try_pop
 *   concurrently. create/destroy are not concurrent with anything.
 * Kernel/features: none; C11 atomics (a word-sized CAS) and aligned_alloc.
 * Fallback: none needed.
 */
#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Two 64-byte lines: x86's adjacent-line prefetcher fetches lines in pairs. */
#define VYUKOV_BLOCK 128

struct vyukov_cell {
  _Atomic size_t seq; /* see the design block */
  uint64_t value;     /* written only by the owner of the cell's current position */
};

struct perflab_queue {
  alignas(VYUKOV_BLOCK) _Atomic size_t enqueue_pos; /* next position to push; producers CAS it */
  alignas(VYUKOV_BLOCK) _Atomic size_t dequeue_pos; /* next position to pop; consumers CAS it */
  alignas(VYUKOV_BLOCK) size_t mask;                /* size - 1; read-only after create */
  struct vyukov_cell *cells;
};

static_assert(sizeof(struct vyukov_cell) == 16, "a cell is seq + value, four to a 64-byte line");
static_assert(offsetof(struct perflab_queue, dequeue_pos) - offsetof(struct perflab_queue, enqueue_pos) >= VYUKOV_BLOCK,
              "the two positions must be a whole padding block apart (producers vs consumers)");
static_assert(offsetof(struct perflab_queue, mask) - offsetof(struct perflab_queue, dequeue_pos) >= VYUKOV_BLOCK,
              "the read-only fields must not share the consumers' block");
static_assert(sizeof(struct perflab_queue) % VYUKOV_BLOCK == 0,
              "aligned_alloc needs a size that is a multiple of the alignment");

/* The smallest power of two >= max(n, 2), or 0 when the cell array would not fit. */
static size_t pow2_at_least(size_t n) {
  size_t s = 2;
  while (s < n) {
    if (s > SIZE_MAX / 2 / sizeof(struct vyukov_cell) / 2) return 0;
    s <<= 1;
  }
  return s;
}

perflab_queue *perflab_queue_create(size_t capacity) {
  size_t size = capacity ? pow2_at_least(capacity) : 0;
  if (size == 0) return NULL;
  perflab_queue *q = aligned_alloc(VYUKOV_BLOCK, sizeof(*q));
  if (!q) return NULL;
  size_t bytes = size * sizeof(struct vyukov_cell);
  q->cells = aligned_alloc(VYUKOV_BLOCK, bytes < VYUKOV_BLOCK ? VYUKOV_BLOCK : bytes);
  if (!q->cells) {
    free(q);
    return NULL;
  }
  q->mask = size - 1;
  for (size_t i = 0; i < size; i++) {
    atomic_init(&q->cells[i].seq, i);
    q->cells[i].value = 0;
  }
  atomic_init(&q->enqueue_pos, 0);
  atomic_init(&q->dequeue_pos, 0);
  return q;
}

void perflab_queue_destroy(perflab_queue *q) {
  if (!q) return;
  free(q->cells);
  free(q);
}

bool perflab_queue_try_push(perflab_queue *q, uint64_t value) {
  /* Pairs with: nothing; a position is only a guess at what to claim.
   * Guarantees: nothing beyond atomicity; the CAS below validates it.
   * Weaker: none exists. Stronger (acquire) is not needed: ownership comes
   *   from the CAS and the cell data from the acquire load of seq. */
  size_t pos = atomic_load_explicit(&q->enqueue_pos, memory_order_relaxed);
  struct vyukov_cell *cell;
  for (;;) {
    cell = &q->cells[pos & q->mask];
    /* Pairs with: the release store seq = p + size by the dequeuer that freed
     *   this cell (or the initialisation in create).
     * Guarantees: that dequeuer's read of the old value happens before our
     *   write of the new one.
     * Weaker (relaxed): our write could race with its read. Stronger
     *   (seq_cst) is not needed: only this per-cell pair is relied on. */
    size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
    intptr_t dif = (intptr_t)(seq - pos);
    if (dif == 0) {
      /* Pairs with: the other producers' CAS on enqueue_pos.
       * Guarantees: exactly one thread moves enqueue_pos from pos, so one
       *   thread owns position pos.
       * Weaker: none exists. Stronger (acq/rel) is not needed: the value is
       *   published through the cell's seq, not through enqueue_pos. */
      if (atomic_compare_exchange_weak_explicit(&q->enqueue_pos, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
      /* lost the race: pos now holds the current enqueue_pos, retry */
    } else if (dif < 0) {
      return false; /* full: the cell still holds the item from one lap ago */
    } else {
      /* Pairs with, guarantees, weaker/stronger: as the first load of enqueue_pos. */
      pos = atomic_load_explicit(&q->enqueue_pos, memory_order_relaxed); /* stale pos */
    }
  }
  cell->value = value;
  /* Pairs with: the dequeuer's acquire load of this cell's seq.
   * Guarantees: the value written above is visible to the dequeuer of pos.
   * Weaker (relaxed): the dequeuer could read a stale value. Stronger
   *   (seq_cst) adds a full barrier per push for nothing. */
  atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
  return true;
}

bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  /* Pairs with: nothing; a position is only a guess at what to claim.
   * Guarantees: nothing beyond atomicity; the CAS below validates it.
   * Weaker: none exists. Stronger (acquire) is not needed: ownership comes
   *   from the CAS and the cell data from the acquire load of seq. */
  size_t pos = atomic_load_explicit(&q->dequeue_pos, memory_order_relaxed);
  struct vyukov_cell *cell;
  for (;;) {
    cell = &q->cells[pos & q->mask];
    /* Pairs with: the release store seq = p + 1 by the enqueuer of pos.
     * Guarantees: the value it wrote is visible to our read below.
     * Weaker (relaxed): we could read the value before its write lands.
     * Stronger (seq_cst) is not needed: only this per-cell pair is relied on. */
    size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
    intptr_t dif = (intptr_t)(seq - (pos + 1));
    if (dif == 0) {
      /* Pairs with: the other consumers' CAS on dequeue_pos.
       * Guarantees: exactly one thread moves dequeue_pos from pos, so one
       *   thread owns position pos.
       * Weaker: none exists. Stronger (acq/rel) is not needed: the value comes
       *   through the cell's seq, not through dequeue_pos. */
      if (atomic_compare_exchange_weak_explicit(&q->dequeue_pos, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (dif < 0) {
      return false; /* empty: the item of pos is not published yet */
    } else {
      /* Pairs with, guarantees, weaker/stronger: as the first load of dequeue_pos. */
      pos = atomic_load_explicit(&q->dequeue_pos, memory_order_relaxed); /* stale pos */
    }
  }
  *out = cell->value;
  /* Pairs with: the acquire load of this cell's seq by the enqueuer of pos + size.
   * Guarantees: our read of the value happens before that enqueuer's write.
   * Weaker (relaxed): the next lap's write could race with our read.
   * Stronger (seq_cst) adds a full barrier per pop for nothing. */
  atomic_store_explicit(&cell->seq, pos + q->mask + 1, memory_order_release);
  return true;
}
