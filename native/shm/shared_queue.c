/*
 * Shared queues in caller-provided memory: the layout, init/attach checks, and
 * the spsc (cached-index) and mpmc (Vyukov) algorithms. See shared_queue.h for
 * the layout drawing and the contract.
 *
 * Threading model: spsc allows one producer and one consumer at a time (the
 * roles may move between threads when a happens-before edge, e.g. postMessage,
 * separates the old and the new owner); mpmc allows any number of each.
 * Indices are free-running uint64_t (no wrap in 2^64 operations).
 * Needs: C11 atomics, lock-free on 64-bit values. No kernel features.
 */
#include "shared_queue.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#define SHQ_BLOCK PERFLAB_SHARED_QUEUE_ALIGN

static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
              "shared queues need lock-free 64-bit atomics (other threads map the same bytes)");
static_assert(sizeof(_Atomic uint64_t) == 8 && alignof(_Atomic uint64_t) == 8,
              "an _Atomic uint64_t must be a plain 8-byte word in shared memory");
static_assert(sizeof(_Atomic uint32_t) == 4, "an _Atomic uint32_t must be a plain 4-byte word");

struct shq_header {
  _Atomic uint32_t magic; /* stored last by init (release), loaded first by attach (acquire) */
  uint32_t version;
  uint32_t kind;
  uint32_t value_type;
  uint64_t capacity; /* power of two */
  uint64_t mask;     /* capacity - 1 */
  uint64_t slot_bytes;
  uint64_t total_bytes; /* from base to the end of the slots */
};

/* The shared bytes. Only attach reads the header (once, into the handle);
 * operations trust nothing here for bounds: see the header's "Handles". */
struct shq_layout {
  struct shq_header hdr;
  unsigned char pad_hdr[SHQ_BLOCK - sizeof(struct shq_header)];
  /* consumer-written (spsc head, mpmc dequeue position) */
  _Atomic uint64_t head;
  unsigned char pad_head[SHQ_BLOCK - sizeof(uint64_t)];
  /* producer-written (spsc tail, mpmc enqueue position) */
  _Atomic uint64_t tail;
  unsigned char pad_tail[SHQ_BLOCK - sizeof(uint64_t)];
  /* producer-only: last head the producer saw (spsc) */
  uint64_t prod_cached_head;
  unsigned char pad_prod[SHQ_BLOCK - sizeof(uint64_t)];
  /* consumer-only: last tail the consumer saw (spsc) */
  uint64_t cons_cached_tail;
  unsigned char pad_cons[SHQ_BLOCK - sizeof(uint64_t)];
  /* slots follow */
};

/* One mpmc cell: seq says whose turn it is (== pos: free for the producer of
 * pos; == pos + 1: holds pos's item; == pos + capacity: free for the next lap). */
struct shq_cell {
  _Atomic uint64_t seq;
  uint64_t value;
};

static_assert(sizeof(struct shq_header) <= SHQ_BLOCK, "the header must fit its block");
static_assert(offsetof(struct shq_layout, head) == 1 * SHQ_BLOCK, "head at block 1");
static_assert(offsetof(struct shq_layout, tail) == 2 * SHQ_BLOCK, "tail at block 2");
static_assert(offsetof(struct shq_layout, prod_cached_head) == 3 * SHQ_BLOCK,
              "producer cache at block 3");
static_assert(offsetof(struct shq_layout, cons_cached_tail) == 4 * SHQ_BLOCK,
              "consumer cache at block 4");
static_assert(sizeof(struct shq_layout) == 5 * SHQ_BLOCK,
              "slots start at block 5 (the layout drawn in shared_queue.h)");
static_assert(sizeof(struct shq_cell) == 16, "an mpmc cell is {seq, value}, 16 bytes");

static uint64_t round_capacity(unsigned kind, uint64_t capacity) {
  uint64_t c = 1;
  while (c < capacity) c <<= 1;
  if (kind == PERFLAB_SHARED_QUEUE_MPMC && c < 2) c = 2;
  return c;
}

static uint64_t slot_bytes_of(unsigned kind) {
  return kind == PERFLAB_SHARED_QUEUE_MPMC ? sizeof(struct shq_cell) : sizeof(uint64_t);
}

static bool kind_ok(unsigned kind) {
  return kind == PERFLAB_SHARED_QUEUE_SPSC || kind == PERFLAB_SHARED_QUEUE_MPMC;
}

static bool value_type_ok(unsigned t) {
  return t == PERFLAB_SHARED_QUEUE_VALUE_NUMBER || t == PERFLAB_SHARED_QUEUE_VALUE_BIGINT;
}

/* Bytes from base to the end of the slots. */
static uint64_t layout_bytes(unsigned kind, uint64_t rounded_capacity) {
  return sizeof(struct shq_layout) + rounded_capacity * slot_bytes_of(kind);
}

/* The aligned base inside [mem, mem + len), or NULL when mem is misaligned or
 * the slack does not fit. */
static unsigned char *aligned_base(void *mem, size_t len, size_t need) {
  uintptr_t p = (uintptr_t)mem;
  if (mem == NULL || (p & 7u) != 0) return NULL;
  uintptr_t base = (p + (SHQ_BLOCK - 1)) & ~(uintptr_t)(SHQ_BLOCK - 1);
  size_t skip = (size_t)(base - p);
  if (len < skip || len - skip < need) return NULL;
  return (unsigned char *)base;
}

static struct shq_layout *layout_of(const perflab_shared_queue *h) {
  return (struct shq_layout *)(void *)h->base;
}

static uint64_t *spsc_slots(const perflab_shared_queue *h) {
  return (uint64_t *)(void *)(h->base + sizeof(struct shq_layout));
}

static struct shq_cell *mpmc_cells(const perflab_shared_queue *h) {
  return (struct shq_cell *)(void *)(h->base + sizeof(struct shq_layout));
}

static void fill_handle(perflab_shared_queue *out, unsigned char *base, unsigned kind, uint64_t cap,
                        unsigned value_type) {
  out->base = base;
  out->capacity = cap;
  out->mask = cap - 1;
  out->kind = kind;
  out->value_type = value_type;
}

int64_t perflab_shared_queue_bytes(unsigned kind, uint64_t capacity) {
  if (!kind_ok(kind) || capacity == 0 || capacity > PERFLAB_SHARED_QUEUE_MAX_CAPACITY)
    return -EINVAL;
  /* Slack: an 8-aligned pointer is at most SHQ_BLOCK - 8 bytes below a boundary. */
  return (int64_t)(layout_bytes(kind, round_capacity(kind, capacity)) + SHQ_BLOCK - 8);
}

int perflab_shared_queue_init(void *mem, size_t len, unsigned kind, uint64_t capacity,
                              unsigned value_type, perflab_shared_queue *out) {
  if (out == NULL || !kind_ok(kind) || !value_type_ok(value_type) || capacity == 0 ||
      capacity > PERFLAB_SHARED_QUEUE_MAX_CAPACITY)
    return -EINVAL;
  uint64_t cap = round_capacity(kind, capacity);
  uint64_t total = layout_bytes(kind, cap);
  unsigned char *base = aligned_base(mem, len, (size_t)total);
  if (base == NULL) return -EINVAL;
  struct shq_layout *q = (struct shq_layout *)(void *)base;
  memset(base, 0, sizeof(*q));
  q->hdr.version = PERFLAB_SHARED_QUEUE_VERSION;
  q->hdr.kind = kind;
  q->hdr.value_type = value_type;
  q->hdr.capacity = cap;
  q->hdr.mask = cap - 1;
  q->hdr.slot_bytes = slot_bytes_of(kind);
  q->hdr.total_bytes = total;
  atomic_init(&q->head, 0);
  atomic_init(&q->tail, 0);
  perflab_shared_queue h;
  fill_handle(&h, base, kind, cap, value_type);
  if (kind == PERFLAB_SHARED_QUEUE_MPMC) {
    struct shq_cell *cells = mpmc_cells(&h);
    for (uint64_t i = 0; i < cap; i++) {
      atomic_init(&cells[i].seq, i);
      cells[i].value = 0;
    }
  } else {
    memset(spsc_slots(&h), 0, (size_t)(cap * sizeof(uint64_t)));
  }
  /* Pairs with: the acquire load of magic in perflab_shared_queue_attach.
   * Guarantees: a thread that sees the magic sees the whole header and the
   * initial indices and cells written above.
   * Weaker (relaxed) breaks: an attacher could see the magic but a stale
   * capacity or cell sequence. Stronger (seq_cst) is unneeded: only this one
   * store publishes, there is no second variable to order against. */
  atomic_store_explicit(&q->hdr.magic, PERFLAB_SHARED_QUEUE_MAGIC, memory_order_release);
  *out = h;
  return 0;
}

int perflab_shared_queue_attach(void *mem, size_t len, perflab_shared_queue *out) {
  if (out == NULL) return -EINVAL;
  unsigned char *base = aligned_base(mem, len, sizeof(struct shq_layout));
  if (base == NULL) return -EINVAL;
  struct shq_layout *q = (struct shq_layout *)(void *)base;
  /* Pairs with: the release store of magic at the end of init.
   * Guarantees: the header fields read below are the ones init wrote.
   * Weaker (relaxed) breaks: the checks could read fields from before init.
   * Stronger (seq_cst) is unneeded: one publisher, one variable. */
  uint32_t magic = atomic_load_explicit(&q->hdr.magic, memory_order_acquire);
  if (magic != PERFLAB_SHARED_QUEUE_MAGIC) return -EBADMSG;
  /* Each field is read exactly once (volatile: the compiler may not re-load
   * it after the check), so what is checked is what the handle keeps, even if
   * another thread scribbles on the header meanwhile. */
  const volatile struct shq_header *vh = &q->hdr;
  uint32_t version = vh->version;
  unsigned kind = vh->kind;
  unsigned value_type = vh->value_type;
  uint64_t cap = vh->capacity;
  uint64_t mask = vh->mask;
  uint64_t slot_bytes = vh->slot_bytes;
  uint64_t total = vh->total_bytes;
  if (version != PERFLAB_SHARED_QUEUE_VERSION) return -EPROTONOSUPPORT;
  if (!kind_ok(kind) || !value_type_ok(value_type) || cap == 0 ||
      cap > round_capacity(kind, PERFLAB_SHARED_QUEUE_MAX_CAPACITY) || (cap & (cap - 1)) != 0 ||
      mask != cap - 1 || slot_bytes != slot_bytes_of(kind) || total != layout_bytes(kind, cap))
    return -EBADMSG;
  if ((uint64_t)(base - (unsigned char *)mem) + total > len) return -EMSGSIZE;
  fill_handle(out, base, kind, cap, value_type);
  return 0;
}

unsigned perflab_shared_queue_kind(const perflab_shared_queue *q) { return q->kind; }

unsigned perflab_shared_queue_value_type(const perflab_shared_queue *q) { return q->value_type; }

uint64_t perflab_shared_queue_capacity(const perflab_shared_queue *q) { return q->capacity; }

uint64_t perflab_shared_queue_size(const perflab_shared_queue *h) {
  struct shq_layout *q = layout_of(h);
  /* Both loads: pair with nothing (a snapshot, no data is read through them).
   * Guarantees: each value is one the index really had. Weaker is not
   * possible; stronger (acquire/seq_cst) would not make two separate loads one
   * consistent snapshot either, hence the clamping below. */
  uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (tail <= head) return 0;
  return tail - head > h->capacity ? h->capacity : tail - head;
}

/* ---- spsc: cached-index ring ------------------------------------------- */

/* Bounds: a slot index is always (index & mask) with the handle's mask, and a
 * batch is at most the handle's capacity, so the two memcpy calls stay inside
 * the slots whatever the shared indices hold. Indices that say more than
 * capacity items are queued (tail - head > capacity) are impossible in a sound
 * queue: they mean the buffer was overwritten or two threads shared a role,
 * and the call moves nothing. */

static size_t spsc_push_bulk(const perflab_shared_queue *h, const uint64_t *values, size_t n) {
  struct shq_layout *q = layout_of(h);
  const uint64_t cap = h->capacity;
  if (n > cap) n = (size_t)cap;
  /* Own index: pairs with nothing (only this producer stores tail).
   * Guarantees: the producer reads its own last store. Weaker is not possible;
   * acquire would order nothing we need. */
  uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  uint64_t used = tail - q->prod_cached_head;
  if (used > cap || cap - used < n) {
    /* Pairs with: the consumer's release store of head in spsc_pop_bulk.
     * Guarantees: the consumer finished reading the slots it released, so
     * overwriting them below cannot race with its reads.
     * Weaker (relaxed) breaks: our slot writes could overtake the consumer's
     * reads of the same slots (a torn or wrong value popped). Stronger
     * (seq_cst) is unneeded: only this pair of threads and this index. */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    q->prod_cached_head = head;
    used = tail - head;
    if (used > cap) return 0; /* inconsistent indices: see "Bounds" */
  }
  size_t k = cap - used < n ? (size_t)(cap - used) : n;
  if (k == 0) return 0;
  uint64_t *slots = spsc_slots(h);
  size_t idx = (size_t)(tail & h->mask);
  size_t first = k < cap - idx ? k : (size_t)(cap - idx);
  memcpy(slots + idx, values, first * sizeof(uint64_t));
  memcpy(slots, values + first, (k - first) * sizeof(uint64_t));
  /* Pairs with: the consumer's acquire load of tail in spsc_pop_bulk.
   * Guarantees: the k slot writes above are visible before the consumer can
   * see the new tail (one publication for the whole batch).
   * Weaker (relaxed) breaks: the consumer could read slots not yet written.
   * Stronger (seq_cst) is unneeded: no store-load ordering with another
   * variable is required, and it would cost a full barrier per batch. */
  atomic_store_explicit(&q->tail, tail + k, memory_order_release);
  return k;
}

static size_t spsc_pop_bulk(const perflab_shared_queue *h, uint64_t *out, size_t n) {
  struct shq_layout *q = layout_of(h);
  const uint64_t cap = h->capacity;
  if (n > cap) n = (size_t)cap;
  /* Own index: pairs with nothing (only this consumer stores head).
   * Guarantees: the consumer reads its own last store. Weaker is not
   * possible; acquire would order nothing we need. */
  uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  uint64_t avail = q->cons_cached_tail - head;
  if (avail > cap || avail < n) {
    /* Pairs with: the producer's release store of tail in spsc_push_bulk.
     * Guarantees: the slots up to the loaded tail hold the producer's values.
     * Weaker (relaxed) breaks: we could read slots before they are written.
     * Stronger (seq_cst) is unneeded: one writer, one index. */
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    q->cons_cached_tail = tail;
    avail = tail - head;
    if (avail > cap) return 0; /* inconsistent indices: see "Bounds" */
  }
  size_t k = avail < n ? (size_t)avail : n;
  if (k == 0) return 0;
  const uint64_t *slots = spsc_slots(h);
  size_t idx = (size_t)(head & h->mask);
  size_t first = k < cap - idx ? k : (size_t)(cap - idx);
  memcpy(out, slots + idx, first * sizeof(uint64_t));
  memcpy(out + first, slots, (k - first) * sizeof(uint64_t));
  /* Pairs with: the producer's acquire load of head in spsc_push_bulk.
   * Guarantees: our reads of the k slots complete before the producer may
   * reuse them. Weaker (relaxed) breaks: the producer could overwrite a slot
   * we have not read yet. Stronger (seq_cst) is unneeded: see the tail store. */
  atomic_store_explicit(&q->head, head + k, memory_order_release);
  return k;
}

static bool spsc_push(const perflab_shared_queue *h, uint64_t value) {
  struct shq_layout *q = layout_of(h);
  const uint64_t cap = h->capacity;
  /* Own index, relaxed: pairs with nothing, only this producer stores tail. */
  uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  /* used >= cap: full by the cache, or inconsistent (used > cap): refresh. */
  if (tail - q->prod_cached_head >= cap) {
    /* Pairs with: the consumer's release store of head. Guarantees: the slot
     * we are about to reuse has been read. Relaxed would let our write race
     * that read; seq_cst orders nothing more here. */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    q->prod_cached_head = head;
    if (tail - head >= cap) return false;
  }
  spsc_slots(h)[tail & h->mask] = value;
  /* Pairs with: the consumer's acquire load of tail. Guarantees: the slot
   * write is visible before the new tail. Relaxed would let the consumer read
   * the slot early; seq_cst would add a full barrier for nothing. */
  atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
  return true;
}

static bool spsc_pop(const perflab_shared_queue *h, uint64_t *out) {
  struct shq_layout *q = layout_of(h);
  const uint64_t cap = h->capacity;
  /* Own index, relaxed: pairs with nothing, only this consumer stores head. */
  uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  /* avail - 1 >= cap: empty by the cache (avail == 0 wraps), or inconsistent
   * (avail > cap): refresh. One compare, as the plain emptiness test was. */
  if (q->cons_cached_tail - head - 1 >= cap) {
    /* Pairs with: the producer's release store of tail. Guarantees: slots
     * below the loaded tail hold their values. Relaxed could read a slot
     * before its write; seq_cst orders nothing more here. */
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    q->cons_cached_tail = tail;
    if (tail - head - 1 >= cap) return false;
  }
  *out = spsc_slots(h)[head & h->mask];
  /* Pairs with: the producer's acquire load of head. Guarantees: our slot
   * read completes before the producer reuses the slot. Relaxed would let the
   * overwrite race the read; seq_cst would add a full barrier for nothing. */
  atomic_store_explicit(&q->head, head + 1, memory_order_release);
  return true;
}

/* ---- mpmc: Vyukov bounded queue ---------------------------------------- */

/* Bounds: cells are indexed (pos & mask) with the handle's mask and a batch is
 * at most the handle's capacity, whatever the shared positions and sequence
 * numbers hold. Progress: when a cell's seq says its position was already
 * taken (dif > 0), a sound queue guarantees the shared position has moved on
 * (whoever stored that seq moved it first, and our acquire load of seq makes
 * that visible), so a reload that returns the same position means the buffer
 * was overwritten; the call then reports full/empty instead of spinning. */

static size_t mpmc_push_bulk(const perflab_shared_queue *h, const uint64_t *values, size_t n) {
  struct shq_layout *q = layout_of(h);
  struct shq_cell *cells = mpmc_cells(h);
  const uint64_t mask = h->mask;
  if (n > h->capacity) n = (size_t)h->capacity;
  if (n == 0) return 0;
  /* Enqueue position, relaxed here and in the CAS: pairs with nothing; it only
   * arbitrates which producer owns which positions. Data ordering is carried
   * by each cell's seq (acquire/release below). Stronger orders are unneeded;
   * weaker is not possible. */
  uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
  for (;;) {
    size_t k = 0;
    int64_t dif = 0;
    while (k < n) {
      /* Pairs with: the consumer's release store of seq = pos + capacity
       * (the cell freed) in mpmc_pop_bulk, or init.
       * Guarantees: the previous lap's consumer finished reading the value
       * before we overwrite it. Weaker (relaxed) breaks: our write could race
       * that read. Stronger (seq_cst) is unneeded: per-cell handoff only. */
      uint64_t seq = atomic_load_explicit(&cells[(pos + k) & mask].seq, memory_order_acquire);
      dif = (int64_t)(seq - (pos + k));
      if (dif != 0) break;
      k++;
    }
    if (k == 0) {
      if (dif < 0) return 0; /* the cell still holds last lap's item: full */
      /* Another producer claimed pos already; catch up (relaxed, see above). */
      uint64_t now = atomic_load_explicit(&q->tail, memory_order_relaxed);
      if (now == pos) return 0; /* no progress: corrupted, see "Progress" */
      pos = now;
      continue;
    }
    /* The k cells stay free until someone owns their positions, and nobody can
     * while tail == pos, so winning this CAS makes them ours. */
    if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + k, memory_order_relaxed,
                                              memory_order_relaxed)) {
      for (size_t i = 0; i < k; i++) {
        struct shq_cell *c = &cells[(pos + i) & mask];
        c->value = values[i];
        /* Pairs with: the consumer's acquire load of seq in mpmc_pop_bulk.
         * Guarantees: the value is written before the cell reads as full.
         * Weaker (relaxed) breaks: a consumer could read the old value.
         * Stronger (seq_cst) is unneeded: per-cell handoff only. */
        atomic_store_explicit(&c->seq, pos + i + 1, memory_order_release);
      }
      return k;
    }
  }
}

static size_t mpmc_pop_bulk(const perflab_shared_queue *h, uint64_t *out, size_t n) {
  struct shq_layout *q = layout_of(h);
  struct shq_cell *cells = mpmc_cells(h);
  const uint64_t mask = h->mask;
  const uint64_t cap = h->capacity;
  if (n > cap) n = (size_t)cap;
  if (n == 0) return 0;
  /* Dequeue position, relaxed here and in the CAS: ownership arbitration
   * only, as for the enqueue position. */
  uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
  for (;;) {
    size_t k = 0;
    int64_t dif = 0;
    while (k < n) {
      /* Pairs with: the producer's release store of seq = pos + 1 in
       * mpmc_push_bulk. Guarantees: the value written before it is visible.
       * Weaker (relaxed) breaks: we could read a stale value. Stronger
       * (seq_cst) is unneeded: per-cell handoff only. */
      uint64_t seq = atomic_load_explicit(&cells[(pos + k) & mask].seq, memory_order_acquire);
      dif = (int64_t)(seq - (pos + k + 1));
      if (dif != 0) break;
      k++;
    }
    if (k == 0) {
      if (dif < 0) return 0; /* not yet written: empty (or a producer mid-push) */
      uint64_t now = atomic_load_explicit(&q->head, memory_order_relaxed);
      if (now == pos) return 0; /* no progress: corrupted, see "Progress" */
      pos = now;
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + k, memory_order_relaxed,
                                              memory_order_relaxed)) {
      for (size_t i = 0; i < k; i++) {
        struct shq_cell *c = &cells[(pos + i) & mask];
        out[i] = c->value;
        /* Pairs with: the next lap producer's acquire load of seq.
         * Guarantees: our read of the value happens before it is overwritten.
         * Weaker (relaxed) breaks: the producer's write could race our read.
         * Stronger (seq_cst) is unneeded: per-cell handoff only. */
        atomic_store_explicit(&c->seq, pos + i + cap, memory_order_release);
      }
      return k;
    }
  }
}

static bool mpmc_push(const perflab_shared_queue *h, uint64_t value) {
  struct shq_layout *q = layout_of(h);
  struct shq_cell *cells = mpmc_cells(h);
  const uint64_t mask = h->mask;
  /* Enqueue position, relaxed (here, in the CAS and on catch-up): pairs with
   * nothing, it only arbitrates ownership; the cell's seq carries the data.
   * Weaker is impossible, stronger orders nothing the cells need. */
  uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
  for (;;) {
    struct shq_cell *c = &cells[pos & mask];
    /* Pairs with: the last lap consumer's release store of seq. Guarantees:
     * its read of the value is done before we overwrite it. Relaxed would
     * race that read; seq_cst is unneeded for a per-cell handoff. */
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    int64_t dif = (int64_t)(seq - pos);
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
        c->value = value;
        /* Pairs with: the consumer's acquire load of seq. Guarantees: the
         * value is written before the cell reads as full. Relaxed would let a
         * consumer read the old value; seq_cst is unneeded (per-cell). */
        atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
        return true;
      }
    } else if (dif < 0) {
      return false;
    } else {
      uint64_t now = atomic_load_explicit(&q->tail, memory_order_relaxed);
      if (now == pos) return false; /* no progress: corrupted, see "Progress" */
      pos = now;
    }
  }
}

static bool mpmc_pop(const perflab_shared_queue *h, uint64_t *out) {
  struct shq_layout *q = layout_of(h);
  struct shq_cell *cells = mpmc_cells(h);
  const uint64_t mask = h->mask;
  /* Dequeue position, relaxed (here, in the CAS and on catch-up): ownership
   * only, as for the enqueue position. */
  uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
  for (;;) {
    struct shq_cell *c = &cells[pos & mask];
    /* Pairs with: the producer's release store of seq = pos + 1. Guarantees:
     * its value write is visible. Relaxed could read a stale value; seq_cst
     * is unneeded for a per-cell handoff. */
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    int64_t dif = (int64_t)(seq - (pos + 1));
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
        *out = c->value;
        /* Pairs with: the next lap producer's acquire load of seq.
         * Guarantees: our read is done before the cell is reused. Relaxed
         * would let that write race our read; seq_cst is unneeded. */
        atomic_store_explicit(&c->seq, pos + mask + 1, memory_order_release);
        return true;
      }
    } else if (dif < 0) {
      return false;
    } else {
      uint64_t now = atomic_load_explicit(&q->head, memory_order_relaxed);
      if (now == pos) return false; /* no progress: corrupted, see "Progress" */
      pos = now;
    }
  }
}

/* ---- dispatch ---------------------------------------------------------- */

bool perflab_shared_queue_try_push(const perflab_shared_queue *q, uint64_t value) {
  return q->kind == PERFLAB_SHARED_QUEUE_SPSC ? spsc_push(q, value) : mpmc_push(q, value);
}

bool perflab_shared_queue_try_pop(const perflab_shared_queue *q, uint64_t *out) {
  return q->kind == PERFLAB_SHARED_QUEUE_SPSC ? spsc_pop(q, out) : mpmc_pop(q, out);
}

size_t perflab_shared_queue_try_push_bulk(const perflab_shared_queue *q, const uint64_t *values,
                                          size_t n) {
  if (n == 0) return 0;
  return q->kind == PERFLAB_SHARED_QUEUE_SPSC ? spsc_push_bulk(q, values, n)
                                              : mpmc_push_bulk(q, values, n);
}

size_t perflab_shared_queue_try_pop_bulk(const perflab_shared_queue *q, uint64_t *out, size_t n) {
  if (n == 0) return 0;
  return q->kind == PERFLAB_SHARED_QUEUE_SPSC ? spsc_pop_bulk(q, out, n)
                                              : mpmc_pop_bulk(q, out, n);
}
