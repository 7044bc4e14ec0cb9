/*
 * mpmc/vyukov_bulk: Vyukov's bounded MPMC queue with bulk calls that claim a
 * run of cells with ONE CAS (the lab's own choice for batched throughput).
 *
 * Technique: the cells and positions of mpmc/vyukov (power-of-two array of
 *   {seq, value}, enqueue_pos and dequeue_pos on their own 128-byte blocks;
 *   for position p in cell p & mask: seq == p free for the enqueuer of p,
 *   seq == p + 1 holds p's item, seq == p + size free again). A bulk push
 *   reads pos = enqueue_pos, scans cells pos, pos+1, ... while seq == pos + i
 *   (free for that position), up to min(n, size) cells, giving k; it then
 *   claims all k with one CAS enqueue_pos: pos -> pos + k, writes the k
 *   values and publishes each cell with its own release store seq = p + 1.
 *   A bulk pop mirrors it (ready means seq == p + 1; it frees with
 *   seq = p + size). Under contention a batch costs one CAS on the shared
 *   position instead of k, which is where MPMC throughput goes. Partial moves
 *   are allowed: the scan stops at the first cell that is not ready. The
 *   single calls are Vyukov's, i.e. the same claim with n = 1.
 *
 * Why only the CAS winner owns the claimed cells:
 *   1. Positions are owned by ranges. enqueue_pos only ever grows, and only
 *      by a successful CAS from its current value v to v + k, which hands the
 *      range [v, v + k) to that thread. A CAS from pos succeeds only if
 *      enqueue_pos == pos at that instant, i.e. no range above pos has been
 *      handed out yet, and every later CAS starts at >= pos + k. So the
 *      ranges of all successful CASes are disjoint: [pos, pos + k) is ours
 *      alone. (A 64-bit position cannot wrap back to pos: no ABA.)
 *   2. The cells are free for those positions. Scanning saw seq == pos + i
 *      for cell (pos + i) & mask; i < k <= size so the k cells are distinct.
 *      A cell's seq only grows, and the value pos + i can only be left by the
 *      thread that owns position pos + i (the enqueuer that writes pos + i + 1):
 *      by 1 that is us, after the CAS. So each seq is still pos + i when we
 *      write, whether the scan read it long before the CAS or just before.
 *   3. The data is handed over cleanly. The scan's acquire load of seq read the
 *      release store of the dequeuer that freed the cell (seq = pos + i, one lap
 *      earlier), so that dequeuer's read of the old value happens before our
 *      write. Our release store seq = pos + i + 1, made after writing the value,
 *      is what the dequeuer of pos + i acquires before reading it.
 *   If the CAS fails (another producer claimed from pos first) nothing was
 *   written, and the scan restarts from the new position. The dequeue side is
 *   the same argument with dequeue_pos, "ready" = pos + i + 1 and the free
 *   store pos + i + size. Items of one producer get increasing positions
 *   (one thread's successive claims are increasing ranges), and one
 *   consumer's claims are increasing too, so per-producer order holds as seen
 *   by any consumer.
 * Threading: any number of threads may call every function but create and
 *   destroy concurrently, single and bulk calls mixed.
 * Kernel/features: none; C11 atomics (a word-sized CAS) and aligned_alloc.
 * Fallback: none needed.
 */
#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Two 64-byte lines: x86's adjacent-line prefetcher fetches lines in pairs. */
#define VB_BLOCK 128

struct vb_cell {
  _Atomic size_t seq; /* see the design block */
  uint64_t value;     /* written only by the owner of the cell's current position */
};

struct perflab_queue {
  alignas(VB_BLOCK) _Atomic size_t enqueue_pos; /* next position to push; producers CAS it */
  alignas(VB_BLOCK) _Atomic size_t dequeue_pos; /* next position to pop; consumers CAS it */
  alignas(VB_BLOCK) size_t mask;                /* size - 1; read-only after create */
  struct vb_cell *cells;
};

static_assert(sizeof(struct vb_cell) == 16, "a cell is seq + value, four to a 64-byte line");
static_assert(offsetof(struct perflab_queue, dequeue_pos) - offsetof(struct perflab_queue, enqueue_pos) >= VB_BLOCK,
              "the two positions must be a whole padding block apart (producers vs consumers)");
static_assert(offsetof(struct perflab_queue, mask) - offsetof(struct perflab_queue, dequeue_pos) >= VB_BLOCK,
              "the read-only fields must not share the consumers' block");
static_assert(sizeof(struct perflab_queue) % VB_BLOCK == 0,
              "aligned_alloc needs a size that is a multiple of the alignment");

/* The smallest power of two >= max(n, 2), or 0 when the cell array would not fit. */
static size_t pow2_at_least(size_t n) {
  size_t s = 2;
  while (s < n) {
    if (s > SIZE_MAX / 2 / sizeof(struct vb_cell) / 2) return 0;
    s <<= 1;
  }
  return s;
}

perflab_queue *perflab_queue_create(size_t capacity) {
  size_t size = capacity ? pow2_at_least(capacity) : 0;
  if (size == 0) return NULL;
  perflab_queue *q = aligned_alloc(VB_BLOCK, sizeof(*q));
  if (!q) return NULL;
  size_t bytes = size * sizeof(struct vb_cell);
  q->cells = aligned_alloc(VB_BLOCK, bytes < VB_BLOCK ? VB_BLOCK : bytes);
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

/*
 * Claims up to n consecutive positions from *position whose cells are ready,
 * i.e. seq == p + ready (ready = 0: free for an enqueuer; 1: holding an item
 * for a dequeuer). Returns how many (0: full, resp. empty, as seen now) and
 * the first claimed position in *first. Used by both sides and both call
 * shapes; with n = 1 it is exactly Vyukov's enqueue/dequeue loop.
 */
/* Always inlined: with the constant n = 1 of the single calls the scan loop folds
 * away and they come close to mpmc/vyukov (callgrind op_cost: 125 -> 65 instructions per push+pop; vyukov: 53). */
static inline __attribute__((always_inline)) size_t claim(perflab_queue *q, _Atomic size_t *position, size_t n, size_t ready, size_t *first) {
  size_t size = q->mask + 1;
  if (n > size) n = size; /* k <= size keeps the claimed cells distinct */
  /* Pairs with: nothing; a position is only a guess at what to claim.
   * Guarantees: nothing beyond atomicity; the CAS below validates it.
   * Weaker: none exists. Stronger (acquire) is not needed: ownership comes
   *   from the CAS and the cell data from the acquire loads of seq. */
  size_t pos = atomic_load_explicit(position, memory_order_relaxed);
  for (;;) {
    size_t k = 0;
    intptr_t dif = 0;
    while (k < n) {
      /* Pairs with: the release store of seq by the cell's previous owner
       *   (the dequeuer that freed it for an enqueuer; the enqueuer that
       *   filled it for a dequeuer; or the initialisation in create).
       * Guarantees: that owner's access to the value (its read, resp. its
       *   write) happens before ours, once the CAS makes the cell ours.
       * Weaker (relaxed): the value access would race with the previous
       *   owner's. Stronger (seq_cst) is not needed: only this per-cell pair
       *   is relied on; ownership itself comes from the CAS. */
      size_t seq = atomic_load_explicit(&q->cells[(pos + k) & q->mask].seq, memory_order_acquire);
      dif = (intptr_t)(seq - (pos + k + ready));
      if (dif != 0) break;
      k++;
    }
    if (k == 0) {
      if (dif < 0) return 0; /* the cell at pos is a lap behind: full, resp. empty */
      /* pos is stale (another thread claimed it): start over.
       * Pairs with, guarantees, weaker/stronger: as the first load of the position. */
      pos = atomic_load_explicit(position, memory_order_relaxed);
      continue;
    }
    /* Pairs with: the other claimers' CAS on the same position.
     * Guarantees: exactly one thread moves the position from pos, so the range
     *   [pos, pos + k) has one owner (argument in the design block).
     * Weaker: none exists. Stronger (acq/rel) is not needed: the values travel
     *   through the cells' seq, not through the position. */
    if (atomic_compare_exchange_weak_explicit(position, &pos, pos + k, memory_order_relaxed,
                                              memory_order_relaxed)) {
      *first = pos;
      return k;
    }
    /* lost the race (or a spurious CAS failure): pos holds the current value, rescan */
  }
}

/* Writes the values of the claimed positions [first, first + k) and publishes each cell. */
static inline __attribute__((always_inline)) void fill(perflab_queue *q, size_t first, const uint64_t *values, size_t k) {
  for (size_t i = 0; i < k; i++) {
    struct vb_cell *cell = &q->cells[(first + i) & q->mask];
    cell->value = values[i];
    /* Pairs with: the dequeuer's acquire load of this cell's seq in claim.
     * Guarantees: the value written above is visible to the dequeuer of first + i.
     * Weaker (relaxed): the dequeuer could read a stale value. Stronger
     *   (seq_cst) adds a full barrier per item for nothing. */
    atomic_store_explicit(&cell->seq, first + i + 1, memory_order_release);
  }
}

/* Reads the values of the claimed positions [first, first + k) and frees each cell. */
static inline __attribute__((always_inline)) void drain(perflab_queue *q, size_t first, uint64_t *out, size_t k) {
  size_t size = q->mask + 1;
  for (size_t i = 0; i < k; i++) {
    struct vb_cell *cell = &q->cells[(first + i) & q->mask];
    out[i] = cell->value;
    /* Pairs with: the enqueuer's acquire load of this cell's seq in claim, one lap on.
     * Guarantees: our read of the value happens before that enqueuer's write.
     * Weaker (relaxed): the next lap's write could race with our read.
     * Stronger (seq_cst) adds a full barrier per item for nothing. */
    atomic_store_explicit(&cell->seq, first + i + size, memory_order_release);
  }
}

bool perflab_queue_try_push(perflab_queue *q, uint64_t value) {
  size_t first;
  if (!claim(q, &q->enqueue_pos, 1, 0, &first)) return false;
  fill(q, first, &value, 1);
  return true;
}

bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  size_t first;
  if (!claim(q, &q->dequeue_pos, 1, 1, &first)) return false;
  drain(q, first, out, 1);
  return true;
}

size_t perflab_queue_try_push_bulk(perflab_queue *q, const uint64_t *values, size_t n) {
  size_t first;
  size_t k = n ? claim(q, &q->enqueue_pos, n, 0, &first) : 0;
  if (k) fill(q, first, values, k);
  return k;
}

size_t perflab_queue_try_pop_bulk(perflab_queue *q, uint64_t *out, size_t n) {
  size_t first;
  size_t k = n ? claim(q, &q->dequeue_pos, n, 1, &first) : 0;
  if (k) drain(q, first, out, k);
  return k;
}
