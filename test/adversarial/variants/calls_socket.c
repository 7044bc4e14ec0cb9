/* Adversarial: a correct ring whose create phones home: it opens a file and a
 * socket (a channel out of the sandbox, or a way to read the harness's state).
 * The static stage must reject the object, naming socket and open. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  int fd, sock;
  uint64_t slots[];
};

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0 || capacity > ((size_t)1 << 40)) return NULL;
  size_t cap = 1;
  while (cap < capacity) cap <<= 1;
  perflab_queue *q = calloc(1, sizeof(*q) + cap * sizeof(uint64_t));
  if (!q) return NULL;
  q->mask = cap - 1;
  q->fd = open("/proc/self/status", O_RDONLY);
  q->sock = socket(AF_INET, SOCK_STREAM, 0);
  return q;
}
void perflab_queue_destroy(perflab_queue *q) {
  if (!q) return;
  if (q->fd >= 0) close(q->fd);
  if (q->sock >= 0) close(q->sock);
  free(q);
}
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (t - atomic_load_explicit(&q->head, memory_order_acquire) > q->mask) return false;
  q->slots[t & q->mask] = v;
  atomic_store_explicit(&q->tail, t + 1, memory_order_release);
  return true;
}
bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (h == atomic_load_explicit(&q->tail, memory_order_acquire)) return false;
  *out = q->slots[h & q->mask];
  atomic_store_explicit(&q->head, h + 1, memory_order_release);
  return true;
}
