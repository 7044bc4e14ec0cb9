/*
 * Shared queues: bounded queues of uint64_t laid out in caller-provided memory
 * (the bytes of a SharedArrayBuffer), so every thread or worker that holds the
 * memory can use the same queue. This is the library face of the lab's queue
 * techniques; plain C, no Node headers (native/addon/ wraps it for JS).
 *
 * Techniques:
 * - spsc: one producer thread, one consumer thread at a time. Head and tail on
 *   separate 128-byte blocks, each side caches the opposite index in a block
 *   only it touches (the cached-index technique), so an operation touches a
 *   shared line only when its cache says full/empty. Bulk ops publish a whole
 *   batch with one release store.
 * - mpmc: Dmitry Vyukov's bounded queue (a sequence number per cell, one CAS
 *   per claim). Bulk ops claim up to n consecutive ready cells with one CAS.
 *
 * Memory layout (all offsets from `base`, the first 128-byte boundary at or
 * after the caller's pointer; the caller's pointer must be 8-byte aligned and
 * perflab_shared_queue_bytes() includes the slack to reach the boundary):
 *
 *   base +   0  header (magic, version, kind, value type, capacity, sizes);
 *               written once by init, read-only afterwards
 *   base + 128  head: consumer-written index (spsc) / dequeue position (mpmc)
 *   base + 256  tail: producer-written index (spsc) / enqueue position (mpmc)
 *   base + 384  producer-only block: the producer's cached head (spsc)
 *   base + 512  consumer-only block: the consumer's cached tail (spsc)
 *   base + 640  slots: capacity x uint64 (spsc) or capacity x {seq, value} (mpmc)
 *
 * Blocks are 128 bytes, not 64: x86's adjacent-line prefetcher pulls cache
 * lines in 128-byte pairs, so 64-byte padding still lets the two sides'
 * indices interfere.
 *
 * Handles: init and attach validate the header once and fill a caller-owned
 * perflab_shared_queue with a private snapshot (base pointer, kind, capacity,
 * mask). Operations index only with that snapshot: every slot index is a
 * shared position masked with the private mask, every count is bounded by the
 * private capacity. The shared bytes are writable by anything that holds the
 * buffer (a stray JS write, two consumers on one spsc queue), so a corrupted
 * buffer may yield wrong answers or garbage items, but never makes an
 * operation read or write outside [mem, mem + len), and never spins forever.
 *
 * Threading: try_* calls never block and never allocate. The memory must stay
 * mapped while any thread uses the queue (the addon holds a reference to the
 * SharedArrayBuffer). Needs lock-free 64-bit atomics (static_assert'ed).
 * Errors: negative errno, never a crash on a foreign, truncated or corrupted
 * buffer.
 */
#ifndef PERFLAB_SHARED_QUEUE_H
#define PERFLAB_SHARED_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PERFLAB_SHARED_QUEUE_MAGIC 0x51484c50u /* "PLHQ" read little-endian */
#define PERFLAB_SHARED_QUEUE_VERSION 1u
#define PERFLAB_SHARED_QUEUE_MAX_CAPACITY (1u << 30)
/* Alignment the layout starts at; the caller's memory needs only 8. */
#define PERFLAB_SHARED_QUEUE_ALIGN 128u

/* Queue kinds (stored in the header). */
#define PERFLAB_SHARED_QUEUE_SPSC 1u
#define PERFLAB_SHARED_QUEUE_MPMC 2u

/* How JS reads the slots: the C core moves uint64_t either way; the value
 * type travels in the header so a worker that attaches knows it. */
#define PERFLAB_SHARED_QUEUE_VALUE_NUMBER 1u /* non-negative safe integers */
#define PERFLAB_SHARED_QUEUE_VALUE_BIGINT 2u /* any uint64_t */

/* A handle on a queue: filled by init or attach, owned by the caller (one per
 * user, e.g. per JS wrap; copy it freely), never stored in the shared memory.
 * The fields are private: read them through the accessors below. */
typedef struct perflab_shared_queue {
  unsigned char *base; /* the layout's first byte (128-aligned, inside the caller's memory) */
  uint64_t capacity;   /* power of two, validated against the memory's length */
  uint64_t mask;       /* capacity - 1 */
  unsigned kind;
  unsigned value_type;
} perflab_shared_queue;

/* Bytes of caller memory a queue of `kind` holding at least `capacity` items
 * needs (alignment slack included), or -EINVAL for an unknown kind or a
 * capacity outside [1, 2^30]. Capacity rounds up to a power of two (mpmc:
 * at least 2, Vyukov's scheme cannot tell full from empty with one cell). */
int64_t perflab_shared_queue_bytes(unsigned kind, uint64_t capacity);

/* Lays out a new, empty queue in [mem, mem + len). Returns 0 and fills *out
 * with a handle, or -EINVAL (mem not 8-aligned, len too small, bad kind,
 * capacity or value type; *out untouched). Must finish before the memory is
 * shared with other threads. */
int perflab_shared_queue_init(void *mem, size_t len, unsigned kind, uint64_t capacity,
                              unsigned value_type, perflab_shared_queue *out);

/* Checks that [mem, mem + len) holds a queue made by init (any thread, any
 * time after init). Returns 0 and fills *out with a handle, or (*out
 * untouched): -EINVAL (mem not 8-aligned or too small for a header), -EBADMSG
 * (no queue magic, or header fields inconsistent), -EPROTONOSUPPORT (other
 * layout version), -EMSGSIZE (len shorter than the header says the queue is).
 * Each header field is read once; later changes to the header are ignored. */
int perflab_shared_queue_attach(void *mem, size_t len, perflab_shared_queue *out);

unsigned perflab_shared_queue_kind(const perflab_shared_queue *q);
unsigned perflab_shared_queue_value_type(const perflab_shared_queue *q);
/* The real capacity (the requested one rounded up). */
uint64_t perflab_shared_queue_capacity(const perflab_shared_queue *q);
/* Items in the queue; exact when quiescent, a snapshot otherwise. */
uint64_t perflab_shared_queue_size(const perflab_shared_queue *q);

/* The operations take the handle const: it is a snapshot, only the shared
 * memory changes. */
/* false when full (mpmc: also, rarely, while another producer is mid-push). */
bool perflab_shared_queue_try_push(const perflab_shared_queue *q, uint64_t value);
/* false when empty (mpmc: also while the next item's producer is mid-push). */
bool perflab_shared_queue_try_pop(const perflab_shared_queue *q, uint64_t *out);
/* Move up to min(n, capacity) items, in order; return how many moved (0 when
 * full/empty, or when the shared indices are inconsistent). Never touches more
 * than that many elements of values/out. */
size_t perflab_shared_queue_try_push_bulk(const perflab_shared_queue *q, const uint64_t *values,
                                          size_t n);
size_t perflab_shared_queue_try_pop_bulk(const perflab_shared_queue *q, uint64_t *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif
