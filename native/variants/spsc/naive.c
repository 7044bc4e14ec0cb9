/*
 * spsc/naive: the ring a user writes first, with the tuner's knobs.
 *
 * Technique: an array of capacity + 1 slots (one slot stays empty so that
 *   head == tail means empty and tail + 1 == head means full), a head index
 *   (next slot to pop) and a tail index (next slot to push), wrapped with a
 *   compare against the slot count. With every knob at its default (the
 *   built-in `naive`), head and tail share one cache line, every atomic access
 *   is seq_cst and each side reads the other's index on every call, so each
 *   push and each pop moves that line between the producer's and the
 *   consumer's cores and pays a full barrier on x86 stores. It is correct and
 *   it is the baseline the other spsc variants are measured against.
 * Knobs (INTERFACES.md: each becomes -DNAME=value; the first value is the
 *   default, which is the baseline). The optimization loop's tuner searches them:
 */
/* perflab:knob NAIVE_CACHE=0|1 */
/* perflab:knob NAIVE_PAD=0|1 */
/* perflab:knob NAIVE_ORDER=0|1 */
/*
 *   NAIVE_CACHE=1  each side keeps a private copy of the other side's index
 *                  and re-reads the shared one only when the ring looks full
 *                  (producer) or empty (consumer).
 *   NAIVE_PAD=1    head and tail (with their caches) on separate 128-byte
 *                  blocks (x86 prefetches 64-byte lines in pairs).
 *   NAIVE_ORDER=1  acquire/release instead of seq_cst (see the comments at
 *                  each access for what pairs with what).
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

#ifndef NAIVE_CACHE
#define NAIVE_CACHE 0
#endif
#ifndef NAIVE_PAD
#define NAIVE_PAD 0
#endif
#ifndef NAIVE_ORDER
#define NAIVE_ORDER 0
#endif

#define NAIVE_LINE 64
#define NAIVE_BLOCK 128

#if NAIVE_ORDER
#define NAIVE_OWN memory_order_relaxed
#define NAIVE_ACQUIRE memory_order_acquire
#define NAIVE_RELEASE memory_order_release
#else
#define NAIVE_OWN memory_order_seq_cst
#define NAIVE_ACQUIRE memory_order_seq_cst
#define NAIVE_RELEASE memory_order_seq_cst
#endif

#if NAIVE_PAD
#define NAIVE_ALIGN NAIVE_BLOCK
#else
#define NAIVE_ALIGN NAIVE_LINE
#endif

struct perflab_queue {
  alignas(NAIVE_ALIGN) _Atomic size_t head; /* next slot to pop; written by the consumer */
#if NAIVE_CACHE
  size_t tail_cache; /* consumer-private: a tail value it has seen */
#endif
#if NAIVE_PAD
  alignas(NAIVE_BLOCK)
#endif
  _Atomic size_t tail; /* next slot to push; written by the producer */
#if NAIVE_CACHE
  size_t head_cache; /* producer-private: a head value it has seen */
#endif
#if NAIVE_PAD
  alignas(NAIVE_BLOCK)
#endif
  size_t slots; /* capacity + 1; read-only after create */
  uint64_t *ring;
};

#if NAIVE_PAD
static_assert(offsetof(struct perflab_queue, tail) - offsetof(struct perflab_queue, head) >= NAIVE_BLOCK,
              "NAIVE_PAD=1 puts the consumer's and the producer's fields a whole block apart");
static_assert(offsetof(struct perflab_queue, slots) - offsetof(struct perflab_queue, tail) >= NAIVE_BLOCK,
              "NAIVE_PAD=1 keeps the read-only fields off the producer's block");
#else
static_assert(offsetof(struct perflab_queue, tail) + sizeof(size_t) <= NAIVE_LINE,
              "naive keeps head and tail on one 64-byte cache line on purpose (the baseline)");
#endif
static_assert(sizeof(struct perflab_queue) % NAIVE_ALIGN == 0, "aligned_alloc needs a size that is a multiple of the alignment");

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity >= SIZE_MAX / sizeof(uint64_t)) return NULL;
  perflab_queue *q = aligned_alloc(NAIVE_ALIGN, sizeof(*q));
  if (!q) return NULL;
  q->slots = capacity + 1;
  q->ring = calloc(q->slots, sizeof(uint64_t));
  if (!q->ring) {
    free(q);
    return NULL;
  }
#if NAIVE_CACHE
  q->tail_cache = 0;
  q->head_cache = 0;
#endif
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
  /* NAIVE_ORDER=1 (relaxed): Pairs with: nothing; tail is written only by this
   *   (the producer) thread. Guarantees: the producer reads back its own last
   *   store. Weaker: none exists. Stronger: acquire orders against no other writer. */
  size_t tail = atomic_load_explicit(&q->tail, NAIVE_OWN);
  size_t next = tail + 1 == q->slots ? 0 : tail + 1;
  /* NAIVE_ORDER=1 (acquire): Pairs with: the consumer's release store of head
   *   in try_pop. Guarantees: the consumer's read of every slot it handed back
   *   happens before we overwrite that slot. Weaker (relaxed): our write could
   *   race with a read still in flight. Stronger (seq_cst) is not needed: only
   *   this pair is relied on. */
#if NAIVE_CACHE
  if (next == q->head_cache) { /* looks full: refresh the cached head */
    q->head_cache = atomic_load_explicit(&q->head, NAIVE_ACQUIRE);
    if (next == q->head_cache) return false; /* full */
  }
#else
  if (next == atomic_load_explicit(&q->head, NAIVE_ACQUIRE)) return false; /* full */
#endif
  q->ring[tail] = value;
  /* NAIVE_ORDER=1 (release): Pairs with: the consumer's acquire load of tail in
   *   try_pop. Guarantees: the slot written above is visible before the
   *   consumer sees the new tail. Weaker (relaxed): the consumer could see the
   *   new tail and read a stale slot. Stronger (seq_cst) adds a full barrier
   *   per push for nothing. */
  atomic_store_explicit(&q->tail, next, NAIVE_RELEASE);
  return true;
}

bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  /* NAIVE_ORDER=1 (relaxed): Pairs with: nothing; head is written only by this
   *   (the consumer) thread. Guarantees: the consumer reads back its own last
   *   store. Weaker: none exists. Stronger: acquire orders against no other writer. */
  size_t head = atomic_load_explicit(&q->head, NAIVE_OWN);
  /* NAIVE_ORDER=1 (acquire): Pairs with: the producer's release store of tail
   *   in try_push. Guarantees: every slot below the tail we see was written
   *   before we read it. Weaker (relaxed): we could read a slot before the
   *   producer's write lands. Stronger (seq_cst) is not needed: only this pair
   *   is relied on. */
#if NAIVE_CACHE
  if (head == q->tail_cache) { /* looks empty: refresh the cached tail */
    q->tail_cache = atomic_load_explicit(&q->tail, NAIVE_ACQUIRE);
    if (head == q->tail_cache) return false; /* empty */
  }
#else
  if (head == atomic_load_explicit(&q->tail, NAIVE_ACQUIRE)) return false; /* empty */
#endif
  *out = q->ring[head];
  /* NAIVE_ORDER=1 (release): Pairs with: the producer's acquire load of head in
   *   try_push. Guarantees: our read of the slot happens before the producer
   *   reuses it. Weaker (relaxed): the producer could overwrite the slot before
   *   our read. Stronger (seq_cst) adds a full barrier per pop for nothing. */
  atomic_store_explicit(&q->head, head + 1 == q->slots ? 0 : head + 1, NAIVE_RELEASE);
  return true;
}
