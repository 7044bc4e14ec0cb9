/* Adversarial: in create, forks children in a loop (each sleeps 30 s, then
 * exits) and, like a real fork bomb, keeps retrying when fork fails. The
 * sandbox's process bound must stop it and record the failure; no child may
 * outlive the run. Bounded: at most 200 children in all, and the retry loop
 * gives up after 60 s, so an unsandboxed run cannot take the machine down. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  uint64_t slots[];
};

static void bomb(void) {
  static int done;
  if (done++) return;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int children = 0;
  while (children < 200) {
    pid_t pid = fork();
    if (pid == 0) {
      sleep(30);
      _exit(0);
    }
    if (pid > 0) {
      children++;
      continue;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec > 60) break;
    usleep(1000); /* fork refused: try again */
  }
}

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0) return NULL;
  bomb();
  size_t cap = 1;
  while (cap < capacity + 1) cap <<= 1;
  perflab_queue *q = calloc(1, sizeof(*q) + cap * sizeof(uint64_t));
  if (q) q->mask = cap - 1;
  return q;
}
void perflab_queue_destroy(perflab_queue *q) { free(q); }
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  size_t t = atomic_load(&q->tail);
  if (t - atomic_load(&q->head) > q->mask - 1) return false;
  q->slots[t & q->mask] = v;
  atomic_store(&q->tail, t + 1);
  return true;
}
bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  size_t h = atomic_load(&q->head);
  if (h == atomic_load(&q->tail)) return false;
  *out = q->slots[h & q->mask];
  atomic_store(&q->head, h + 1);
  return true;
}
