/* Adversarial: leaves a grandchild in its own session (out of the runner's
 * process group) that keeps the runner's stdout/stderr/result pipes open for a
 * minute. The harness must still return as soon as the runner itself exits.
 * Bounded: one grandchild, which sleeps and exits by itself; it writes its pid
 * to $PERFLAB_TEST_PIDFILE so the test can end it. Otherwise a correct queue. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  uint64_t slots[];
};

static void escape(void) {
  static int done;
  if (done++) return;
  pid_t child = fork();
  if (child != 0) return;
  if (fork() != 0) _exit(0);
  setsid();
  const char *pidfile = getenv("PERFLAB_TEST_PIDFILE");
  if (pidfile) {
    FILE *f = fopen(pidfile, "w");
    if (f) {
      fprintf(f, "%d\n", (int)getpid());
      fclose(f);
    }
  }
  sleep(60);
  _exit(0);
}

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0) return NULL;
  escape();
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
