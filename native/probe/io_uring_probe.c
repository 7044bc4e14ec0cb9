/*
 * io_uring probe.
 *
 * Technique: set up (and tear down at once) a tiny ring with liburing, first
 * plain to learn whether io_uring is allowed at all and which IORING_FEAT_*
 * bits the kernel reports, then with IORING_SETUP_SINGLE_ISSUER and with
 * SINGLE_ISSUER|DEFER_TASKRUN, the setup the io_uring servers want.
 * Threading: any thread; no shared state.
 * Kernel needs: none. Where io_uring_setup is refused (old kernel, seccomp,
 * io_uring_disabled sysctl) the probe reports supported=false with the errno,
 * and callers skip io_uring work with that reason instead of crashing.
 */
#include "io_uring_probe.h"

#include <liburing.h>
#include <stdio.h>
#include <string.h>

#ifndef PERFLAB_LIBURING_VERSION
#define PERFLAB_LIBURING_VERSION "unknown"
#endif

static int try_setup(unsigned flags, unsigned *features) {
  struct io_uring ring;
  struct io_uring_params params;
  memset(&params, 0, sizeof(params));
  params.flags = flags;
  int rc = io_uring_queue_init_params(4, &ring, &params);
  if (rc < 0) return rc;
  if (features) *features = params.features;
  io_uring_queue_exit(&ring);
  return 0;
}

int perflab_io_uring_probe_run(perflab_io_uring_probe *out) {
  memset(out, 0, sizeof(*out));
  snprintf(out->liburing, sizeof(out->liburing), "%s", PERFLAB_LIBURING_VERSION);
  int rc = try_setup(0, &out->features);
  if (rc < 0) {
    out->error = rc;
    return 0;
  }
  out->supported = true;
#ifdef IORING_SETUP_SINGLE_ISSUER
  out->single_issuer = try_setup(IORING_SETUP_SINGLE_ISSUER, NULL) == 0;
#endif
#ifdef IORING_SETUP_DEFER_TASKRUN
  out->defer_taskrun =
      try_setup(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, NULL) == 0;
#endif
  return 0;
}

static const char *const feature_names[] = {
    "single_mmap",  "nodrop",         "submit_stable", "rw_cur_pos",  "cur_personality",
    "fast_poll",    "poll_32bits",    "sqpoll_nonfixed", "ext_arg",   "native_workers",
    "rsrc_tags",    "cqe_skip",       "linked_file",   "reg_reg_ring", "recvsend_bundle",
    "min_timeout",  "rw_attr",        "no_iowait",
};

const char *perflab_io_uring_feature_names(unsigned features, char *buf, unsigned buflen) {
  size_t used = 0;
  if (buflen == 0) return buf;
  buf[0] = '\0';
  for (unsigned bit = 0; bit < 32; bit++) {
    if (!(features & (1u << bit))) continue;
    char unknown[16];
    const char *name = bit < sizeof(feature_names) / sizeof(feature_names[0])
                           ? feature_names[bit]
                           : (snprintf(unknown, sizeof(unknown), "bit%u", bit), unknown);
    int n = snprintf(buf + used, buflen - used, "%s%s", used ? "," : "", name);
    if (n < 0 || (size_t)n >= buflen - used) break;
    used += (size_t)n;
  }
  return buf;
}
