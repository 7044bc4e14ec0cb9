/*
 * test_shared_queue: the shared queues (native/shm/shared_queue.c) on their own,
 * without Node. Single-threaded: sizes, init/attach checks, FIFO, capacity
 * edges (1, 2, odd), 0 and UINT64_MAX, bulk partial moves and wrap-around.
 * Corrupted buffers: stale or random shared indices (two consumers on one
 * spsc queue, or stray writes), a fully overwritten buffer, an overwritten
 * header: every operation stays inside the buffer and the caller's arrays.
 * Multi-threaded (pthreads): spsc 1x1 single and bulk, mpmc 2x2 and 4x4 mixed
 * single/bulk, every item delivered exactly once and in per-producer order.
 * Built plain and with -fsanitize=thread and -fsanitize=address,undefined
 * (CMake PERFLAB_SANITIZE); must be clean under each. Exit 0 pass, 1 fail.
 * PERFLAB_TEST_ITEMS overrides the per-producer item count.
 */
#include "shared_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                          \
    }                                                                      \
  } while (0)

/* 256-aligned memory; C11 wants the size a multiple of the alignment. */
static unsigned char *alloc256(size_t size) {
  return aligned_alloc(256, (size + 255) & ~(size_t)255);
}

static const char *kind_name(unsigned kind) {
  return kind == PERFLAB_SHARED_QUEUE_SPSC ? "spsc" : "mpmc";
}

/* Memory for a queue, 8-aligned but deliberately not 128-aligned (a SAB's
 * bytes are only guaranteed 8/16-aligned), so the alignment slack is tested. */
static void *queue_memory(unsigned kind, uint64_t capacity, size_t *len, perflab_shared_queue *q) {
  int64_t bytes = perflab_shared_queue_bytes(kind, capacity);
  if (bytes <= 0) return NULL;
  unsigned char *raw = alloc256((size_t)bytes + 256);
  if (raw == NULL) return NULL;
  memset(raw, 0xa5, (size_t)bytes + 256);
  void *mem = raw + 24;
  *len = (size_t)bytes;
  int rc = perflab_shared_queue_init(mem, *len, kind, capacity, PERFLAB_SHARED_QUEUE_VALUE_BIGINT, q);
  if (rc != 0) {
    fprintf(stderr, "init(%s, %" PRIu64 ") = %d\n", kind_name(kind), capacity, rc);
    free(raw);
    return NULL;
  }
  return raw;
}

static void test_bytes_and_init_errors(void) {
  CHECK(perflab_shared_queue_bytes(PERFLAB_SHARED_QUEUE_SPSC, 0) == -EINVAL);
  CHECK(perflab_shared_queue_bytes(PERFLAB_SHARED_QUEUE_SPSC, (1u << 30) + 1) == -EINVAL);
  CHECK(perflab_shared_queue_bytes(7, 16) == -EINVAL);
  CHECK(perflab_shared_queue_bytes(PERFLAB_SHARED_QUEUE_SPSC, 1u << 30) > (int64_t)(8u << 30));
  CHECK(perflab_shared_queue_bytes(PERFLAB_SHARED_QUEUE_SPSC, 3) ==
        perflab_shared_queue_bytes(PERFLAB_SHARED_QUEUE_SPSC, 4));

  int64_t bytes = perflab_shared_queue_bytes(PERFLAB_SHARED_QUEUE_MPMC, 8);
  unsigned char *raw = alloc256((size_t)bytes + 256);
  CHECK(raw != NULL);
  if (raw == NULL) return;
  memset(raw, 0, (size_t)bytes + 256);
  perflab_shared_queue qh, *q = &qh;
  /* misaligned */
  CHECK(perflab_shared_queue_init(raw + 4, (size_t)bytes, PERFLAB_SHARED_QUEUE_MPMC, 8,
                                  PERFLAB_SHARED_QUEUE_VALUE_NUMBER, q) == -EINVAL);
  /* too small, at the worst alignment (8 past a boundary needs the full slack) */
  CHECK(perflab_shared_queue_init(raw + 8, (size_t)bytes - 1, PERFLAB_SHARED_QUEUE_MPMC, 8,
                                  PERFLAB_SHARED_QUEUE_VALUE_NUMBER, q) == -EINVAL);
  CHECK(perflab_shared_queue_init(raw, (size_t)bytes, PERFLAB_SHARED_QUEUE_MPMC, 8, 9, q) == -EINVAL);
  CHECK(perflab_shared_queue_init(raw, (size_t)bytes, PERFLAB_SHARED_QUEUE_MPMC, 0,
                                  PERFLAB_SHARED_QUEUE_VALUE_NUMBER, q) == -EINVAL);
  /* attach before init: no magic */
  CHECK(perflab_shared_queue_attach(raw + 8, (size_t)bytes, q) == -EBADMSG);
  CHECK(perflab_shared_queue_attach(raw + 8, 16, q) == -EINVAL);
  /* worst alignment with the exact size succeeds */
  CHECK(perflab_shared_queue_init(raw + 8, (size_t)bytes, PERFLAB_SHARED_QUEUE_MPMC, 8,
                                  PERFLAB_SHARED_QUEUE_VALUE_NUMBER, q) == 0);
  perflab_shared_queue ah, *a = &ah;
  CHECK(perflab_shared_queue_attach(raw + 8, (size_t)bytes, a) == 0 && a->base == q->base);
  CHECK(perflab_shared_queue_kind(a) == PERFLAB_SHARED_QUEUE_MPMC);
  CHECK(perflab_shared_queue_value_type(a) == PERFLAB_SHARED_QUEUE_VALUE_NUMBER);
  CHECK(perflab_shared_queue_capacity(a) == 8);
  /* truncated view of a real queue */
  CHECK(perflab_shared_queue_attach(raw + 8, (size_t)bytes - 16, a) == -EMSGSIZE);
  /* other layout version: the version word follows the magic */
  unsigned char *hdr = raw + 128; /* raw + 8 rounds up to the next 128-byte boundary */
  uint32_t *version = (uint32_t *)(void *)(hdr + 4);
  *version = PERFLAB_SHARED_QUEUE_VERSION + 1;
  CHECK(perflab_shared_queue_attach(raw + 8, (size_t)bytes, a) == -EPROTONOSUPPORT);
  *version = PERFLAB_SHARED_QUEUE_VERSION;
  /* corrupt capacity (offset 16) */
  uint64_t *capacity = (uint64_t *)(void *)(hdr + 16);
  *capacity = 6;
  CHECK(perflab_shared_queue_attach(raw + 8, (size_t)bytes, a) == -EBADMSG);
  free(raw);
}

/* capacity consecutive pushes succeed on an empty queue, the next fails; pops
 * return them in order, then empty. Then the same across a wrap. */
static void test_edges(unsigned kind, uint64_t asked, uint64_t expect_cap) {
  size_t len;
  perflab_shared_queue qh, *q = &qh;
  void *raw = queue_memory(kind, asked, &len, q);
  CHECK(raw != NULL);
  if (raw == NULL) return;
  CHECK(perflab_shared_queue_capacity(q) == expect_cap);
  uint64_t v;
  CHECK(!perflab_shared_queue_try_pop(q, &v));
  for (int lap = 0; lap < 3; lap++) {
    for (uint64_t i = 0; i < expect_cap; i++) CHECK(perflab_shared_queue_try_push(q, UINT64_MAX - i));
    CHECK(!perflab_shared_queue_try_push(q, 1));
    CHECK(perflab_shared_queue_size(q) == expect_cap);
    for (uint64_t i = 0; i < expect_cap; i++) {
      CHECK(perflab_shared_queue_try_pop(q, &v));
      CHECK(v == UINT64_MAX - i);
    }
    CHECK(!perflab_shared_queue_try_pop(q, &v));
    CHECK(perflab_shared_queue_size(q) == 0);
    /* half-fill to move the wrap point */
    CHECK(perflab_shared_queue_try_push(q, 0));
    CHECK(perflab_shared_queue_try_pop(q, &v) && v == 0);
  }
  free(raw);
}

static void test_bulk(unsigned kind) {
  size_t len;
  perflab_shared_queue qh, *q = &qh;
  void *raw = queue_memory(kind, 8, &len, q);
  CHECK(raw != NULL);
  if (raw == NULL) return;
  uint64_t in[20], out[20];
  for (int i = 0; i < 20; i++) in[i] = (uint64_t)i * 3;
  CHECK(perflab_shared_queue_try_push_bulk(q, in, 0) == 0);
  CHECK(perflab_shared_queue_try_pop_bulk(q, out, 4) == 0);
  CHECK(perflab_shared_queue_try_push_bulk(q, in, 5) == 5);
  CHECK(perflab_shared_queue_try_push_bulk(q, in + 5, 20) == 3); /* partial: full at 8 */
  CHECK(perflab_shared_queue_try_push_bulk(q, in, 1) == 0);
  CHECK(perflab_shared_queue_try_pop_bulk(q, out, 6) == 6);
  for (int i = 0; i < 6; i++) CHECK(out[i] == in[i]);
  CHECK(perflab_shared_queue_try_push_bulk(q, in + 8, 12) == 6); /* wraps */
  CHECK(perflab_shared_queue_try_pop_bulk(q, out, 20) == 8);
  for (int i = 0; i < 8; i++) CHECK(out[i] == in[i + 6]);
  uint64_t v;
  CHECK(!perflab_shared_queue_try_pop(q, &v));
  /* single and bulk interleave on one queue */
  CHECK(perflab_shared_queue_try_push(q, 100));
  CHECK(perflab_shared_queue_try_push_bulk(q, in, 2) == 2);
  CHECK(perflab_shared_queue_try_pop_bulk(q, out, 1) == 1 && out[0] == 100);
  CHECK(perflab_shared_queue_try_pop(q, &v) && v == in[0]);
  CHECK(perflab_shared_queue_try_pop_bulk(q, out, 5) == 1 && out[0] == in[1]);
  free(raw);
}

/* ---- corrupted buffers ---------------------------------------------------
 * The shared bytes are writable by anything holding the buffer. Whatever they
 * hold, an operation must stay inside the buffer and inside the caller's
 * arrays (ASan/UBSan build: any stray access aborts), move at most
 * min(n, capacity) items, and return. The memory here is exactly the layout's
 * size at a 128-byte boundary, so one byte past the slots is a redzone. */

/* Layout offsets, as drawn in shared_queue.h. */
#define OFF_HEAD 128
#define OFF_TAIL 256
#define OFF_PROD_CACHE 384
#define OFF_CONS_CACHE 512
#define OFF_SLOTS 640

static uint64_t *word_at(unsigned char *base, size_t off) {
  return (uint64_t *)(void *)(base + off);
}

/* Exactly-sized queue memory: the layout starts at mem (no slack). */
static unsigned char *exact_queue(unsigned kind, uint64_t capacity, size_t *len,
                                  perflab_shared_queue *q) {
  uint64_t cap = 1;
  while (cap < capacity) cap <<= 1;
  if (kind == PERFLAB_SHARED_QUEUE_MPMC && cap < 2) cap = 2;
  *len = OFF_SLOTS + (size_t)cap * (kind == PERFLAB_SHARED_QUEUE_MPMC ? 16 : 8);
  void *mem = NULL;
  if (posix_memalign(&mem, 128, *len) != 0) return NULL;
  if (perflab_shared_queue_init(mem, *len, kind, capacity, PERFLAB_SHARED_QUEUE_VALUE_BIGINT, q) !=
      0) {
    free(mem);
    return NULL;
  }
  return mem;
}

static uint64_t rng_next(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

/* An index value a corrupted or misused queue could hold: near `near`
 * (within two capacities either way), near 0 or 2^64, or anything. */
static uint64_t pick_index(uint64_t *rng, uint64_t near, uint64_t cap) {
  uint64_t r = rng_next(rng);
  uint64_t delta = r % (4 * cap + 3);
  switch ((r >> 32) % 4) {
    case 0: return near + delta - 2 * cap - 1;
    case 1: return delta;
    case 2: return UINT64_MAX - delta;
    default: return rng_next(rng);
  }
}

/* Runs every operation once with batch size n, each bulk call given an array
 * of exactly max(n, 1) elements (so ASan sees any overrun of the caller's
 * side too), and checks the counts. */
static void run_all_ops(perflab_shared_queue *q, size_t n) {
  const uint64_t cap = perflab_shared_queue_capacity(q);
  size_t elems = n == 0 ? 1 : n;
  uint64_t *buf = malloc(elems * sizeof(uint64_t));
  CHECK(buf != NULL);
  if (buf == NULL) return;
  for (size_t i = 0; i < elems; i++) buf[i] = i;
  uint64_t v;
  (void)perflab_shared_queue_try_push(q, 42);
  (void)perflab_shared_queue_try_pop(q, &v);
  size_t limit = n < cap ? n : (size_t)cap;
  CHECK(perflab_shared_queue_try_push_bulk(q, buf, n) <= limit);
  CHECK(perflab_shared_queue_try_pop_bulk(q, buf, n) <= limit);
  CHECK(perflab_shared_queue_size(q) <= cap);
  free(buf);
}

/* The reviewer's two reproductions, exactly: a consumer whose head passed the
 * cached tail (two consumers on one spsc queue), and head/tail more than a
 * capacity apart. Both used to memcpy past the slots. */
static void test_spsc_stale_indices(void) {
  size_t len;
  perflab_shared_queue q;
  unsigned char *mem = exact_queue(PERFLAB_SHARED_QUEUE_SPSC, 8, &len, &q);
  CHECK(mem != NULL);
  if (mem == NULL) return;
  uint64_t out[64];
  /* head 8 > cached tail 0, tail 8: empty, yet cached_tail - head wraps */
  *word_at(mem, OFF_HEAD) = 8;
  *word_at(mem, OFF_TAIL) = 8;
  *word_at(mem, OFF_CONS_CACHE) = 0;
  CHECK(perflab_shared_queue_try_pop_bulk(&q, out, 64) == 0);
  /* head 7, tail 17: "10 items" in a capacity-8 queue */
  *word_at(mem, OFF_HEAD) = 7;
  *word_at(mem, OFF_TAIL) = 17;
  *word_at(mem, OFF_CONS_CACHE) = 7;
  CHECK(perflab_shared_queue_try_pop_bulk(&q, out, 64) == 0);
  uint64_t v;
  CHECK(!perflab_shared_queue_try_pop(&q, &v));
  /* the producer's view of the same: tail - head > capacity */
  *word_at(mem, OFF_PROD_CACHE) = 0;
  CHECK(perflab_shared_queue_try_push_bulk(&q, out, 64) == 0);
  CHECK(!perflab_shared_queue_try_push(&q, 1));
  CHECK(perflab_shared_queue_size(&q) == 8);
  /* tail behind head (producer's cache stale the other way) */
  *word_at(mem, OFF_HEAD) = 20;
  *word_at(mem, OFF_TAIL) = 12;
  *word_at(mem, OFF_PROD_CACHE) = 20;
  CHECK(perflab_shared_queue_try_push_bulk(&q, out, 64) == 0);
  CHECK(perflab_shared_queue_try_pop_bulk(&q, out, 64) == 0);
  CHECK(perflab_shared_queue_size(&q) == 0);
  /* sound again: the queue works from wherever the indices are */
  *word_at(mem, OFF_HEAD) = 12;
  *word_at(mem, OFF_CONS_CACHE) = 12;
  *word_at(mem, OFF_PROD_CACHE) = 12;
  for (int i = 0; i < 8; i++) out[i] = 100 + (uint64_t)i;
  CHECK(perflab_shared_queue_try_push_bulk(&q, out, 64) == 8);
  memset(out, 0, sizeof out);
  CHECK(perflab_shared_queue_try_pop_bulk(&q, out, 64) == 8);
  for (int i = 0; i < 8; i++) CHECK(out[i] == 100 + (uint64_t)i);
  free(mem);
}

/* Random shared indices (and mpmc sequence numbers) against every operation. */
static void test_random_indices(unsigned kind, uint64_t capacity) {
  size_t len;
  perflab_shared_queue q;
  unsigned char *mem = exact_queue(kind, capacity, &len, &q);
  CHECK(mem != NULL);
  if (mem == NULL) return;
  const uint64_t cap = perflab_shared_queue_capacity(&q);
  const size_t sizes[] = {0, 1, 2, (size_t)cap - 1, (size_t)cap, (size_t)cap + 1, 2 * (size_t)cap + 3};
  uint64_t rng = 0x9e3779b97f4a7c15ull ^ (kind * 131 + cap);
  for (int round = 0; round < 3000; round++) {
    uint64_t head = rng_next(&rng);
    *word_at(mem, OFF_HEAD) = head;
    *word_at(mem, OFF_TAIL) = pick_index(&rng, head, cap);
    *word_at(mem, OFF_PROD_CACHE) = pick_index(&rng, head, cap);
    *word_at(mem, OFF_CONS_CACHE) = pick_index(&rng, head, cap);
    if (kind == PERFLAB_SHARED_QUEUE_MPMC) {
      for (uint64_t i = 0; i < cap; i++)
        *word_at(mem, OFF_SLOTS + (size_t)i * 16) = pick_index(&rng, head + i, cap);
    }
    run_all_ops(&q, sizes[round % (sizeof sizes / sizeof sizes[0])]);
  }
  free(mem);
}

/* The whole buffer overwritten after init (a stray JS fill): the handle keeps
 * the kind, capacity and mask it validated; operations stay in bounds. Then
 * only the header overwritten: the queue still works exactly, since no
 * operation reads the header. */
static void test_overwritten_buffer(unsigned kind) {
  static const int patterns[] = {0x00, 0x7f, 0x80, 0xff, 0x01, -1 /* random bytes */};
  for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
    size_t len;
    perflab_shared_queue q, a;
    unsigned char *mem = exact_queue(kind, 16, &len, &q);
    CHECK(mem != NULL);
    if (mem == NULL) return;
    CHECK(perflab_shared_queue_attach(mem, len, &a) == 0);
    uint64_t rng = 12345 + p;
    for (size_t i = 0; i < len; i++)
      mem[i] = patterns[p] >= 0 ? (unsigned char)patterns[p] : (unsigned char)rng_next(&rng);
    perflab_shared_queue b;
    CHECK(perflab_shared_queue_attach(mem, len, &b) < 0); /* no magic any more */
    for (int handle = 0; handle < 2; handle++) {
      perflab_shared_queue *h = handle == 0 ? &q : &a;
      CHECK(perflab_shared_queue_kind(h) == kind);
      CHECK(perflab_shared_queue_capacity(h) == 16);
      for (size_t n = 0; n < 40; n += 7) run_all_ops(h, n);
      for (int i = 0; i < 40; i++) run_all_ops(h, 1);
    }
    free(mem);
  }

  size_t len;
  perflab_shared_queue q, a;
  unsigned char *mem = exact_queue(kind, 8, &len, &q);
  CHECK(mem != NULL);
  if (mem == NULL) return;
  CHECK(perflab_shared_queue_attach(mem, len, &a) == 0);
  memset(mem + 4, 0xff, OFF_HEAD - 4); /* every header field but the magic */
  CHECK(perflab_shared_queue_attach(mem, len, &q) == -EPROTONOSUPPORT);
  uint64_t v;
  for (int lap = 0; lap < 3; lap++) {
    for (uint64_t i = 0; i < 8; i++) CHECK(perflab_shared_queue_try_push(&q, 1000 + i));
    CHECK(!perflab_shared_queue_try_push(&q, 1));
    CHECK(perflab_shared_queue_size(&a) == 8);
    for (uint64_t i = 0; i < 8; i++) CHECK(perflab_shared_queue_try_pop(&a, &v) && v == 1000 + i);
    CHECK(!perflab_shared_queue_try_pop(&a, &v));
  }
  free(mem);
}

/* A bulk call touches at most min(n, capacity) elements of the caller's
 * array, even for an n far beyond it. */
static void test_bulk_clamps_n(unsigned kind) {
  size_t len;
  perflab_shared_queue q;
  unsigned char *mem = exact_queue(kind, 8, &len, &q);
  CHECK(mem != NULL);
  if (mem == NULL) return;
  uint64_t *buf = malloc(8 * sizeof(uint64_t));
  CHECK(buf != NULL);
  if (buf == NULL) return;
  for (int i = 0; i < 8; i++) buf[i] = 7 * (uint64_t)i;
  CHECK(perflab_shared_queue_try_push_bulk(&q, buf, SIZE_MAX) == 8);
  memset(buf, 0, 8 * sizeof(uint64_t));
  CHECK(perflab_shared_queue_try_pop_bulk(&q, buf, SIZE_MAX) == 8);
  for (int i = 0; i < 8; i++) CHECK(buf[i] == 7 * (uint64_t)i);
  free(buf);
  free(mem);
}

/* ---- threads ------------------------------------------------------------ */

/* item = producer id << 40 | sequence number within that producer */
#define ID_SHIFT 40

struct stress {
  perflab_shared_queue q;
  uint64_t per_producer;
  unsigned producers;
  unsigned consumers;
  _Atomic uint64_t consumed;
  _Atomic unsigned char *seen; /* producers * per_producer flags */
  _Atomic int errors;
};

struct role {
  struct stress *s;
  unsigned id;
  int bulk; /* 0 single, 1 bulk, 2 alternate */
};

static void *producer_main(void *arg) {
  struct role *r = arg;
  struct stress *s = r->s;
  uint64_t next = 0, batch[37];
  unsigned spins = 0;
  while (next < s->per_producer) {
    int use_bulk = r->bulk == 1 || (r->bulk == 2 && (next / 64) % 2 == 1);
    size_t moved;
    if (use_bulk) {
      size_t n = 0;
      while (n < 37 && next + n < s->per_producer) {
        batch[n] = ((uint64_t)r->id << ID_SHIFT) | (next + n);
        n++;
      }
      moved = perflab_shared_queue_try_push_bulk(&s->q, batch, n);
    } else {
      moved = perflab_shared_queue_try_push(&s->q, ((uint64_t)r->id << ID_SHIFT) | next) ? 1 : 0;
    }
    next += moved;
    if (moved == 0 && ++spins % 64 == 0) sched_yield();
  }
  return NULL;
}

static void *consumer_main(void *arg) {
  struct role *r = arg;
  struct stress *s = r->s;
  const uint64_t total = s->per_producer * s->producers;
  uint64_t last[64];
  for (unsigned i = 0; i < 64; i++) last[i] = UINT64_MAX;
  uint64_t batch[29];
  unsigned spins = 0, toggle = 0;
  while (atomic_load(&s->consumed) < total) {
    size_t got;
    int use_bulk = r->bulk == 1 || (r->bulk == 2 && (toggle++ & 1));
    if (use_bulk) {
      got = perflab_shared_queue_try_pop_bulk(&s->q, batch, 29);
    } else {
      got = perflab_shared_queue_try_pop(&s->q, batch) ? 1 : 0;
    }
    if (got == 0) {
      if (++spins % 64 == 0) sched_yield();
      continue;
    }
    for (size_t i = 0; i < got; i++) {
      uint64_t id = batch[i] >> ID_SHIFT, seq = batch[i] & ((1ull << ID_SHIFT) - 1);
      if (id >= s->producers || seq >= s->per_producer) {
        fprintf(stderr, "bad item %" PRIx64 "\n", batch[i]);
        atomic_fetch_add(&s->errors, 1);
        continue;
      }
      /* per-producer order as seen by this consumer */
      if (last[id] != UINT64_MAX && seq <= last[id]) {
        fprintf(stderr, "order: producer %" PRIu64 " item %" PRIu64 " after %" PRIu64 "\n", id, seq,
                last[id]);
        atomic_fetch_add(&s->errors, 1);
      }
      last[id] = seq;
      if (atomic_exchange(&s->seen[id * s->per_producer + seq], 1) != 0) {
        fprintf(stderr, "duplicate: producer %" PRIu64 " item %" PRIu64 "\n", id, seq);
        atomic_fetch_add(&s->errors, 1);
      }
    }
    atomic_fetch_add(&s->consumed, got);
  }
  return NULL;
}

static void stress(unsigned kind, unsigned producers, unsigned consumers, uint64_t capacity,
                   int bulk, uint64_t per_producer) {
  size_t len;
  struct stress s;
  memset(&s, 0, sizeof s);
  void *raw = queue_memory(kind, capacity, &len, &s.q);
  CHECK(raw != NULL);
  if (raw == NULL) return;
  s.per_producer = per_producer;
  s.producers = producers;
  s.consumers = consumers;
  s.seen = calloc(producers * per_producer, 1);
  CHECK(s.seen != NULL);
  pthread_t threads[16];
  struct role roles[16];
  unsigned n = 0;
  for (unsigned i = 0; i < consumers; i++, n++) {
    roles[n] = (struct role){&s, i, bulk};
    CHECK(pthread_create(&threads[n], NULL, consumer_main, &roles[n]) == 0);
  }
  for (unsigned i = 0; i < producers; i++, n++) {
    roles[n] = (struct role){&s, i, bulk == 2 ? (int)(i % 3) : bulk};
    CHECK(pthread_create(&threads[n], NULL, producer_main, &roles[n]) == 0);
  }
  for (unsigned i = 0; i < n; i++) pthread_join(threads[i], NULL);
  uint64_t missing = 0;
  for (uint64_t i = 0; i < producers * per_producer; i++) missing += s.seen[i] == 0;
  uint64_t v;
  int ok = atomic_load(&s.errors) == 0 && missing == 0 && !perflab_shared_queue_try_pop(&s.q, &v);
  printf("%s %ux%u capacity %" PRIu64 " %s: %s (%" PRIu64 " items, %" PRIu64 " missing)\n",
         kind_name(kind), producers, consumers, capacity,
         bulk == 0 ? "single" : bulk == 1 ? "bulk" : "mixed", ok ? "ok" : "FAIL",
         producers * per_producer, missing);
  if (!ok) failures++;
  free((void *)s.seen);
  free(raw);
}

int main(void) {
  uint64_t items = 200000;
  const char *env = getenv("PERFLAB_TEST_ITEMS");
  if (env != NULL && strtoull(env, NULL, 10) > 0) items = strtoull(env, NULL, 10);

  test_bytes_and_init_errors();
  for (unsigned kind = PERFLAB_SHARED_QUEUE_SPSC; kind <= PERFLAB_SHARED_QUEUE_MPMC; kind++) {
    test_edges(kind, 1, kind == PERFLAB_SHARED_QUEUE_SPSC ? 1 : 2);
    test_edges(kind, 2, 2);
    test_edges(kind, 5, 8);
    test_edges(kind, 64, 64);
    test_bulk(kind);
  }
  printf("single-threaded: %s\n", failures == 0 ? "ok" : "FAIL");

  test_spsc_stale_indices();
  for (unsigned kind = PERFLAB_SHARED_QUEUE_SPSC; kind <= PERFLAB_SHARED_QUEUE_MPMC; kind++) {
    test_random_indices(kind, 1);
    test_random_indices(kind, 8);
    test_random_indices(kind, 64);
    test_overwritten_buffer(kind);
    test_bulk_clamps_n(kind);
  }
  printf("corrupted buffers: %s\n", failures == 0 ? "ok" : "FAIL");

  stress(PERFLAB_SHARED_QUEUE_SPSC, 1, 1, 1, 0, items / 4);
  stress(PERFLAB_SHARED_QUEUE_SPSC, 1, 1, 64, 0, items);
  stress(PERFLAB_SHARED_QUEUE_SPSC, 1, 1, 64, 1, items);
  stress(PERFLAB_SHARED_QUEUE_SPSC, 1, 1, 16, 2, items);
  stress(PERFLAB_SHARED_QUEUE_MPMC, 1, 1, 2, 0, items / 4);
  stress(PERFLAB_SHARED_QUEUE_MPMC, 2, 2, 64, 0, items);
  stress(PERFLAB_SHARED_QUEUE_MPMC, 2, 2, 64, 1, items);
  stress(PERFLAB_SHARED_QUEUE_MPMC, 4, 4, 16, 2, items / 2);

  if (failures != 0) {
    fprintf(stderr, "test_shared_queue: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_shared_queue: pass\n");
  return 0;
}
