/*
 * io_uring probe: what this kernel allows, asked at run time (never assumed
 * from headers). Used by `perflab doctor`, the environment fingerprint of every
 * run, and (later) by the io_uring servers to skip cleanly where the kernel or a
 * seccomp policy refuses io_uring.
 */
#ifndef PERFLAB_IO_URING_PROBE_H
#define PERFLAB_IO_URING_PROBE_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct perflab_io_uring_probe {
  bool supported;       /* io_uring_queue_init succeeded */
  int error;            /* negative errno from io_uring_queue_init when not supported */
  unsigned features;    /* io_uring_params.features (IORING_FEAT_*) */
  bool single_issuer;   /* IORING_SETUP_SINGLE_ISSUER accepted */
  bool defer_taskrun;   /* IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN accepted */
  char liburing[32];    /* liburing version the build found, e.g. "2.3" */
} perflab_io_uring_probe;

/* Fills *out; always returns 0 (an unsupported kernel is a result, not an error). */
int perflab_io_uring_probe_run(perflab_io_uring_probe *out);

/* Names of the IORING_FEAT_* bits set in `features`, written comma separated
 * into buf (e.g. "single_mmap,nodrop,..."). Returns buf. */
const char *perflab_io_uring_feature_names(unsigned features, char *buf, unsigned buflen);

#ifdef __cplusplus
}
#endif

#endif
