/*
 * test_queue_variant: the queue conformance suite as a ctest program.
 *
 *   test_queue_variant <variant.so> <spsc|mpmc> [seed]
 *
 * Technique: loads the variant through queue_ops (dlopen) and runs
 *   perflab_queue_conformance with the given seed, or with three fixed seeds
 *   when none is given; prints one line per check (its pass summary) or the
 *   failing check with its evidence. PERFLAB_STRESS_ITEMS overrides the
 *   stress length (items per producer).
 * Exit: 0 pass, 1 fail (including a variant that cannot be loaded or lacks a
 *   contract symbol), 2 bad usage, 77 cannot run (no such file; the suite
 *   could not start its threads or allocate).
 * Threading: single-threaded; the suite starts and joins its own threads.
 * Kernel/features: dlopen, pthreads. Fallback: none needed.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue_conformance.h"
#include "queue_ops.h"

static const uint64_t default_seeds[] = {1, UINT64_C(0xC0FFEE), UINT64_C(0x5EED5EED5EED)};

static int usage(const char *argv0) {
  fprintf(stderr, "usage: %s <variant.so> <spsc|mpmc> [seed]\n", argv0);
  return 2;
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || !end || end == s || *end) return false;
  *out = v;
  return true;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints the pass summary "a ok; b ok x3; ..." one check per line. */
static void print_checks(const char *summary) {
  const char *p = summary;
  while (*p) {
    const char *end = strstr(p, "; ");
    size_t len = end ? (size_t)(end - p) : strlen(p);
    printf("    %.*s\n", (int)len, p);
    p += len + (end ? 2 : 0);
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) return usage(argv[0]);
  bool mpmc;
  if (strcmp(argv[2], "spsc") == 0)
    mpmc = false;
  else if (strcmp(argv[2], "mpmc") == 0)
    mpmc = true;
  else
    return usage(argv[0]);
  uint64_t seeds[3];
  size_t nseeds = 0;
  if (argc == 4) {
    if (!parse_u64(argv[3], &seeds[0])) return usage(argv[0]);
    nseeds = 1;
  } else {
    memcpy(seeds, default_seeds, sizeof(default_seeds));
    nseeds = sizeof(default_seeds) / sizeof(default_seeds[0]);
  }
  uint64_t stress_items = 0;
  const char *env = getenv("PERFLAB_STRESS_ITEMS");
  if (env && *env && !parse_u64(env, &stress_items)) {
    fprintf(stderr, "PERFLAB_STRESS_ITEMS must be a number, not '%s'\n", env);
    return 2;
  }

  if (access(argv[1], R_OK) != 0) {
    printf("SKIP: cannot read %s: %s\n", argv[1], strerror(errno));
    return 77;
  }
  /* dlopen searches the library path for a name without a slash: pass it an absolute path. */
  char path[PATH_MAX];
  if (!realpath(argv[1], path)) snprintf(path, sizeof(path), "%s", argv[1]);
  perflab_queue_ops ops;
  char err[512];
  int rc = perflab_queue_ops_load(path, &ops, err, sizeof(err));
  if (rc != 0) {
    printf("FAIL load: %s\n", err);
    return 1;
  }
  printf("variant %s (%s, bulk calls: %s)\n", path, argv[2], ops.try_push_bulk ? "yes" : "no");

  int status = 0;
  for (size_t i = 0; i < nseeds && status == 0; i++) {
    perflab_conformance_params p = {.mpmc = mpmc, .seed = seeds[i], .stress_items = stress_items};
    perflab_conformance_result r;
    double t0 = now_s();
    rc = perflab_queue_conformance(&ops, &p, &r);
    double dt = now_s() - t0;
    if (rc < 0) {
      printf("SKIP seed %" PRIu64 ": the suite could not run: %s\n", seeds[i], strerror(-rc));
      status = 77;
    } else if (!r.passed) {
      printf("FAIL seed %" PRIu64 " (%u checks run, %.2f s)\n  %s\n", seeds[i], r.checks_run, dt, r.reason);
      status = 1;
    } else {
      printf("PASS seed %" PRIu64 " (%u checks, %.2f s)\n", seeds[i], r.checks_run, dt);
      print_checks(r.reason);
    }
    fflush(stdout);
  }
  /* After a failure a thread may still be stuck inside the variant (a hang is
   * reported, not killed): unloading it would pull the code from under that
   * thread, so only a pass unloads; exit ends the process and the thread. */
  if (status == 0) perflab_queue_ops_unload(&ops);
  return status;
}
