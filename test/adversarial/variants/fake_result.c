/* Adversarial: in create, writes a plausible, passing runner result line (with
 * a made-up nonce) to stdout and to the result fd 3, then exits at once with
 * status 0. The harness must not take it: wrong nonce, and no real result.
 * Bounded: it only ever exits. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  uint64_t slots[];
};

static const char fake[] =
    "{\"schema_version\":1,\"nonce\":\"000000000000000000000000\",\"ok\":true,\"family\":\"spsc\","
    "\"workload\":\"conformance\",\"variant\":\"fake\",\"params\":{\"seed\":1},\"error\":null,"
    "\"metrics\":{\"passed\":true,\"checks_run\":60,\"failed_check\":\"\",\"reason\":\"\","
    "\"items_per_s\":1e12},\"has_bulk\":false}\n";

perflab_queue *perflab_queue_create(size_t capacity) {
  (void)capacity;
  ssize_t w = write(1, fake, strlen(fake));
  w = write(3, fake, strlen(fake));
  (void)w;
  _exit(0);
}
void perflab_queue_destroy(perflab_queue *q) { free(q); }
bool perflab_queue_try_push(perflab_queue *q, uint64_t v) {
  (void)q, (void)v;
  return false;
}
bool perflab_queue_try_pop(perflab_queue *q, uint64_t *out) {
  (void)q, (void)out;
  return false;
}
