/*
 * perflab-runner: the executable a sandboxed child runs. It loads one queue
 * variant (dlopen), runs one workload on it with a native driver, and writes
 * exactly one single-line JSON object + "\n" to the result fd.
 *
 * Contract (INTERFACES.md, the runner section of the bench pipeline):
 * - Strict command line: every option is --name VALUE or --name=VALUE, given
 *   at most once; an unknown option, a missing or malformed value or a value
 *   out of range is a usage error.
 * - The result fd carries the JSON and nothing else. When it is stdout, the
 *   runner moves the result to a private duplicate and points fd 1 at stderr,
 *   so a variant that prints cannot corrupt the result. Diagnostics go to
 *   stderr. The JSON is written by one write() loop.
 * - Exit codes: 0 ok; 1 the run happened and failed validation or
 *   conformance (error.kind "invalid"); 2 usage (error.kind "usage", JSON
 *   written when the result fd itself is usable); 3 the variant could not be
 *   loaded ("load") or the run could not start ("run").
 *
 * Threading: single-threaded; the drivers start and join their own threads.
 * Works in -fsanitize=thread and -fsanitize=address builds (no signal tricks,
 * no fork). No kernel feature beyond what the drivers need.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "driver_util.h"
#include "queue_conformance.h"
#include "queue_driver.h"
#include "queue_ops.h"

#define EXIT_OK 0
#define EXIT_INVALID 1
#define EXIT_USAGE 2
#define EXIT_RUN 3

#define RUNNER_MAX_THREADS 256u
#define RUNNER_MAX_CAPACITY (UINT64_C(1) << 32)
#define RUNNER_MAX_BATCH 65536u
#define RUNNER_MAX_DURATION_MS UINT64_C(86400000) /* one day */
#define RUNNER_MAX_ITEMS_THROUGHPUT (UINT64_C(1) << 32)
#define RUNNER_MAX_ROUNDS_LATENCY (UINT64_C(1) << 26)
#define RUNNER_MAX_OPS (UINT64_C(1) << 40)
#define RUNNER_MAX_NONCE 1024u

static const char usage_text[] =
    "usage: perflab-runner --variant PATH --family spsc|mpmc\n"
    "         --workload throughput|latency|op_cost|conformance|describe [options]\n"
    "options (each at most once, --name VALUE or --name=VALUE):\n"
    "  --producers N     producer threads, throughput (spsc: 1 only)        [1]\n"
    "  --consumers N     consumer threads, throughput (spsc: 1 only)        [1]\n"
    "  --capacity N      queue capacity                                     [1024]\n"
    "  --batch N         items per bulk call, throughput; 1: single calls   [1]\n"
    "  --duration-ms N   time box of throughput and latency; 0 needs --max-items [500]\n"
    "  --max-items N     bound: items per producer (throughput), rounds (latency),\n"
    "                    stress items per producer (conformance)            [driver default]\n"
    "  --ops N           push+pop pairs, op_cost                            [1000000]\n"
    "  --seed N          conformance seed                                   [1]\n"
    "  --pin 0|1         pin threads to CPUs                                [1]\n"
    "  --result-fd N     fd that receives the one-line JSON result          [1]\n"
    "  --nonce STRING    echoed in the result                               [\"\"]\n"
    "exit: 0 ok, 1 invalid run, 2 usage, 3 variant not loaded or run not started\n";

typedef enum { W_THROUGHPUT, W_LATENCY, W_OP_COST, W_CONFORMANCE, W_DESCRIBE } workload_t;

typedef struct options {
  const char *variant, *family_s, *workload_s, *nonce;
  bool mpmc;
  workload_t workload;
  uint64_t producers, consumers, capacity, batch, duration_ms, max_items, ops, seed, pin;
  int result_fd;
  bool seen[16];
} options;

/* ---- JSON output ------------------------------------------------------ */

typedef struct jbuf {
  char *p;
  size_t len, cap;
  bool oom;
} jbuf;

static void jb_put(jbuf *j, const char *s, size_t n) {
  if (j->oom) return;
  if (j->len + n + 1 > j->cap) {
    size_t cap = j->cap ? j->cap : 1024;
    while (j->len + n + 1 > cap) cap *= 2;
    char *p = realloc(j->p, cap);
    if (!p) {
      j->oom = true;
      return;
    }
    j->p = p, j->cap = cap;
  }
  memcpy(j->p + j->len, s, n);
  j->len += n;
  j->p[j->len] = 0;
}

static void jb_raw(jbuf *j, const char *s) { jb_put(j, s, strlen(s)); }

static void jb_fmt(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_fmt(jbuf *j, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  jb_put(j, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  unsigned min;
  if (c >= 0xc2 && c <= 0xdf) n = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) n = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, min = 0x10000;
  else return 0;
  unsigned cp = c & (0xffu >> (n + 1));
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/* A JSON string: quotes, backslashes and control characters escaped, invalid
 * UTF-8 replaced by U+FFFD, so the line is always valid JSON. */
static void jb_str(jbuf *j, const char *s) {
  jb_put(j, "\"", 1);
  const unsigned char *u = (const unsigned char *)(s ? s : "");
  while (*u) {
    unsigned c = *u;
    if (c == '"') jb_put(j, "\\\"", 2), u++;
    else if (c == '\\') jb_put(j, "\\\\", 2), u++;
    else if (c == '\n') jb_put(j, "\\n", 2), u++;
    else if (c == '\r') jb_put(j, "\\r", 2), u++;
    else if (c == '\t') jb_put(j, "\\t", 2), u++;
    else if (c < 0x20 || c == 0x7f) jb_fmt(j, "\\u%04x", c), u++;
    else {
      size_t n = utf8_len(u);
      if (n) jb_put(j, (const char *)u, n), u += n;
      else jb_raw(j, "\\ufffd"), u++;
    }
  }
  jb_put(j, "\"", 1);
}

/* Shortest decimal that reads back as the same double; null when not finite. */
static void jb_num(jbuf *j, double x) {
  if (!isfinite(x)) {
    jb_raw(j, "null");
    return;
  }
  char tmp[64];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof(tmp), "%.*g", prec, x);
    if (strtod(tmp, NULL) == x) break;
  }
  jb_raw(j, tmp);
}

static void jb_key(jbuf *j, bool *first, const char *key) {
  if (!*first) jb_put(j, ",", 1);
  *first = false;
  jb_str(j, key);
  jb_put(j, ":", 1);
}

/* Writes all of buf to fd, retrying on EINTR and short writes. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    buf += n, len -= (size_t)n;
  }
  return 0;
}

/* ---- the result ------------------------------------------------------- */

typedef struct result {
  bool ok;
  const char *error_kind; /* NULL when ok */
  char error_msg[PERFLAB_REASON_LEN + 128];
  jbuf metrics;           /* the object's body, without braces */
  perflab_rusage rusage;
  char affinity[128];
  bool has_bulk;
} result;

static const char *workload_name(workload_t w) {
  static const char *names[] = {"throughput", "latency", "op_cost", "conformance", "describe"};
  return names[w];
}

static void emit_params(jbuf *j, const options *o, bool usage_error) {
  bool f = true;
  jb_raw(j, "{");
  if (!usage_error) {
    switch (o->workload) {
    case W_THROUGHPUT:
      jb_key(j, &f, "producers"), jb_fmt(j, "%" PRIu64, o->producers);
      jb_key(j, &f, "consumers"), jb_fmt(j, "%" PRIu64, o->consumers);
      jb_key(j, &f, "capacity"), jb_fmt(j, "%" PRIu64, o->capacity);
      jb_key(j, &f, "batch"), jb_fmt(j, "%" PRIu64, o->batch);
      jb_key(j, &f, "duration_ms"), jb_fmt(j, "%" PRIu64, o->duration_ms);
      jb_key(j, &f, "pin"), jb_raw(j, o->pin ? "true" : "false");
      if (o->max_items) jb_key(j, &f, "max_items"), jb_fmt(j, "%" PRIu64, o->max_items);
      break;
    case W_LATENCY:
      jb_key(j, &f, "capacity"), jb_fmt(j, "%" PRIu64, o->capacity);
      jb_key(j, &f, "duration_ms"), jb_fmt(j, "%" PRIu64, o->duration_ms);
      jb_key(j, &f, "pin"), jb_raw(j, o->pin ? "true" : "false");
      if (o->max_items) jb_key(j, &f, "max_items"), jb_fmt(j, "%" PRIu64, o->max_items);
      break;
    case W_OP_COST:
      jb_key(j, &f, "capacity"), jb_fmt(j, "%" PRIu64, o->capacity);
      jb_key(j, &f, "ops"), jb_fmt(j, "%" PRIu64, o->ops);
      break;
    case W_CONFORMANCE:
      jb_key(j, &f, "seed"), jb_fmt(j, "%" PRIu64, o->seed);
      if (o->max_items) jb_key(j, &f, "max_items"), jb_fmt(j, "%" PRIu64, o->max_items);
      break;
    case W_DESCRIBE:
      break;
    }
  }
  jb_raw(j, "}");
}

/* Builds the one line and writes it. Returns 0 or a negative errno. */
static int emit(int fd, const options *o, const result *r, bool usage_error) {
  jbuf j = {0};
  jb_raw(&j, "{\"schema_version\":1,\"nonce\":");
  jb_str(&j, o->nonce ? o->nonce : "");
  jb_raw(&j, ",\"ok\":");
  jb_raw(&j, r->ok ? "true" : "false");
  jb_raw(&j, ",\"family\":");
  jb_str(&j, o->family_s ? o->family_s : "");
  jb_raw(&j, ",\"workload\":");
  jb_str(&j, o->workload_s ? o->workload_s : "");
  jb_raw(&j, ",\"variant\":");
  jb_str(&j, o->variant ? o->variant : "");
  jb_raw(&j, ",\"params\":");
  emit_params(&j, o, usage_error);
  jb_raw(&j, ",\"error\":");
  if (r->error_kind) {
    jb_raw(&j, "{\"kind\":");
    jb_str(&j, r->error_kind);
    jb_raw(&j, ",\"message\":");
    jb_str(&j, r->error_msg);
    jb_raw(&j, "}");
  } else {
    jb_raw(&j, "null");
  }
  jb_raw(&j, ",\"metrics\":{");
  if (r->metrics.len) jb_put(&j, r->metrics.p, r->metrics.len);
  jb_raw(&j, "},\"rusage\":{\"user_s\":");
  jb_num(&j, r->rusage.user_s);
  jb_raw(&j, ",\"sys_s\":");
  jb_num(&j, r->rusage.sys_s);
  jb_fmt(&j, ",\"voluntary_ctx\":%ld,\"involuntary_ctx\":%ld", r->rusage.voluntary_ctx, r->rusage.involuntary_ctx);
  jb_raw(&j, "},\"affinity\":");
  jb_str(&j, r->affinity);
  jb_raw(&j, ",\"has_bulk\":");
  jb_raw(&j, r->has_bulk ? "true" : "false");
  jb_raw(&j, "}\n");
  int err = j.oom || r->metrics.oom ? -ENOMEM : write_all(fd, j.p, j.len);
  free(j.p);
  return err;
}

/* ---- command line ----------------------------------------------------- */

enum {
  O_VARIANT, O_FAMILY, O_WORKLOAD, O_PRODUCERS, O_CONSUMERS, O_CAPACITY, O_BATCH, O_DURATION,
  O_MAX_ITEMS, O_OPS, O_SEED, O_PIN, O_RESULT_FD, O_NONCE, O_COUNT
};
static const char *const option_names[O_COUNT] = {
    "variant", "family", "workload", "producers", "consumers", "capacity", "batch", "duration-ms",
    "max-items", "ops", "seed", "pin", "result-fd", "nonce"};
_Static_assert(O_COUNT <= 16, "options.seen holds every option");

/* Strict unsigned decimal: digits only, no sign, no spaces, no overflow, in [min, max]. */
static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!*s) return false;
  uint64_t v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return false;
    unsigned d = (unsigned)(*c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

static int usage_fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int usage_fail(char *msg, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, len, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

/* Parses argv into o. Returns 0, 1 for --help, or -EINVAL with msg set. Keeps
 * going after a bad value only to learn --result-fd (for the usage JSON). */
static int parse_args(int argc, char **argv, options *o, char *msg, size_t len) {
  memset(o, 0, sizeof(*o));
  o->producers = o->consumers = 1;
  o->capacity = 1024;
  o->batch = 1;
  o->duration_ms = 500;
  o->ops = 1000000;
  o->seed = 1;
  o->pin = 1;
  o->result_fd = 1;
  int err = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 1;
    if (strncmp(a, "--", 2) != 0) {
      if (!err) err = usage_fail(msg, len, "unexpected argument '%s' (options start with --)", a);
      continue;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    int id = -1;
    for (int k = 0; k < O_COUNT; k++)
      if (strlen(option_names[k]) == nlen && strncmp(option_names[k], name, nlen) == 0) id = k;
    if (id < 0) {
      if (!err) err = usage_fail(msg, len, "unknown option '--%.*s'", (int)nlen, name);
      continue;
    }
    const char *v;
    if (eq) {
      v = eq + 1;
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      if (!err) err = usage_fail(msg, len, "option --%s needs a value", option_names[id]);
      continue;
    }
    if (o->seen[id]) {
      if (!err) err = usage_fail(msg, len, "option --%s given more than once", option_names[id]);
      continue;
    }
    o->seen[id] = true;
    bool good = true;
    uint64_t n = 0;
    switch (id) {
    case O_VARIANT:
      o->variant = v;
      if (!*v && !err) err = usage_fail(msg, len, "--variant needs a path");
      break;
    case O_FAMILY:
      o->family_s = v;
      if (strcmp(v, "spsc") == 0) o->mpmc = false;
      else if (strcmp(v, "mpmc") == 0) o->mpmc = true;
      else if (!err) err = usage_fail(msg, len, "--family must be spsc or mpmc, not '%s'", v);
      break;
    case O_WORKLOAD: {
      o->workload_s = v;
      static const char *w[] = {"throughput", "latency", "op_cost", "conformance", "describe"};
      int found = -1;
      for (int k = 0; k < 5; k++)
        if (strcmp(v, w[k]) == 0) found = k;
      if (found < 0 && !err)
        err = usage_fail(msg, len, "--workload must be throughput, latency, op_cost, conformance or describe, not '%s'", v);
      if (found >= 0) o->workload = (workload_t)found;
      break;
    }
    case O_PRODUCERS: good = parse_u64(v, 1, RUNNER_MAX_THREADS, &o->producers); break;
    case O_CONSUMERS: good = parse_u64(v, 1, RUNNER_MAX_THREADS, &o->consumers); break;
    case O_CAPACITY: good = parse_u64(v, 1, RUNNER_MAX_CAPACITY, &o->capacity); break;
    case O_BATCH: good = parse_u64(v, 1, RUNNER_MAX_BATCH, &o->batch); break;
    case O_DURATION: good = parse_u64(v, 0, RUNNER_MAX_DURATION_MS, &o->duration_ms); break;
    case O_MAX_ITEMS: good = parse_u64(v, 1, RUNNER_MAX_ITEMS_THROUGHPUT, &o->max_items); break;
    case O_OPS: good = parse_u64(v, 1, RUNNER_MAX_OPS, &o->ops); break;
    case O_SEED: good = parse_u64(v, 0, UINT64_MAX, &o->seed); break;
    case O_PIN: good = parse_u64(v, 0, 1, &o->pin); break;
    case O_RESULT_FD:
      good = parse_u64(v, 0, INT_MAX, &n);
      if (good) o->result_fd = (int)n;
      else o->result_fd = -1;
      break;
    case O_NONCE:
      o->nonce = v;
      if (strlen(v) > RUNNER_MAX_NONCE && !err) err = usage_fail(msg, len, "--nonce is longer than %u bytes", RUNNER_MAX_NONCE);
      break;
    }
    if (!good && !err) {
      static const char *ranges[O_COUNT] = {
          [O_PRODUCERS] = "an integer 1..256", [O_CONSUMERS] = "an integer 1..256",
          [O_CAPACITY] = "an integer 1..4294967296", [O_BATCH] = "an integer 1..65536",
          [O_DURATION] = "an integer 0..86400000", [O_MAX_ITEMS] = "an integer 1..4294967296",
          [O_OPS] = "an integer 1..1099511627776", [O_SEED] = "an unsigned 64-bit integer",
          [O_PIN] = "0 or 1", [O_RESULT_FD] = "a file descriptor number"};
      err = usage_fail(msg, len, "--%s must be %s, not '%s'", option_names[id], ranges[id], v);
    }
  }
  if (err) return err;
  if (!o->seen[O_VARIANT]) return usage_fail(msg, len, "--variant is required");
  if (!o->seen[O_FAMILY]) return usage_fail(msg, len, "--family is required");
  if (!o->seen[O_WORKLOAD]) return usage_fail(msg, len, "--workload is required");
  if (!o->mpmc && (o->producers != 1 || o->consumers != 1))
    return usage_fail(msg, len, "family spsc has exactly one producer and one consumer (got --producers %" PRIu64
                      " --consumers %" PRIu64 "); use --family mpmc for more",
                      o->producers, o->consumers);
  if (o->workload == W_LATENCY && o->max_items > RUNNER_MAX_ROUNDS_LATENCY)
    return usage_fail(msg, len, "--max-items (rounds, for latency) must be at most %" PRIu64, RUNNER_MAX_ROUNDS_LATENCY);
  if ((o->workload == W_THROUGHPUT || o->workload == W_LATENCY) && o->duration_ms == 0 && !o->max_items)
    return usage_fail(msg, len, "--duration-ms 0 (no time box) needs --max-items");
  return 0;
}

/* The result fd must be open for writing. */
static bool fd_writable(int fd) {
  if (fd < 0) return false;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return false;
  int acc = fl & O_ACCMODE;
  return acc == O_WRONLY || acc == O_RDWR;
}

/* ---- workloads -------------------------------------------------------- */

static void set_error(result *r, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(result *r, const char *kind, const char *fmt, ...) {
  r->ok = false;
  r->error_kind = kind;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error_msg, sizeof(r->error_msg), fmt, ap);
  va_end(ap);
}

/* A driver's negative errno: kind "run", with the driver's reason. */
static int run_failed(result *r, const char *what, int err, const char *reason) {
  if (reason && *reason) set_error(r, "run", "%s could not run: %s", what, reason);
  else set_error(r, "run", "%s could not run: %s", what, strerror(-err));
  return EXIT_RUN;
}

static int do_throughput(const options *o, const perflab_queue_ops *ops, result *r) {
  perflab_throughput_params p = {
      .producers = (unsigned)o->producers, .consumers = (unsigned)o->consumers, .capacity = (size_t)o->capacity,
      .batch = (unsigned)o->batch, .duration_ns = o->duration_ms * 1000000ull, .max_items = o->max_items,
      .pin = o->pin != 0};
  perflab_throughput_result t;
  int err = perflab_queue_throughput(ops, &p, &t);
  if (err < 0) return run_failed(r, "throughput", err, t.reason);
  r->rusage = t.rusage;
  snprintf(r->affinity, sizeof(r->affinity), "%s", t.affinity);
  if (!t.valid) {
    set_error(r, "invalid", "%s", t.reason);
    return EXIT_INVALID;
  }
  jb_fmt(&r->metrics, "\"items\":%" PRIu64 ",\"elapsed_ns\":%" PRIu64 ",\"items_per_s\":", t.items, t.elapsed_ns);
  jb_num(&r->metrics, t.items_per_s);
  return EXIT_OK;
}

static int do_latency(const options *o, const perflab_queue_ops *ops, result *r) {
  perflab_latency_params p = {.capacity = (size_t)o->capacity, .duration_ns = o->duration_ms * 1000000ull,
                              .max_rounds = o->max_items, .pin = o->pin != 0};
  perflab_latency_result l;
  int err = perflab_queue_latency(ops, &p, &l);
  if (err < 0) return run_failed(r, "latency", err, l.reason);
  r->rusage = l.rusage;
  snprintf(r->affinity, sizeof(r->affinity), "%s", l.affinity);
  if (!l.valid) {
    set_error(r, "invalid", "%s", l.reason);
    return EXIT_INVALID;
  }
  const struct {
    const char *key;
    double v;
  } m[] = {{"rtt_ns_p50", l.rtt_ns_p50}, {"rtt_ns_p90", l.rtt_ns_p90},   {"rtt_ns_p99", l.rtt_ns_p99},
           {"rtt_ns_p999", l.rtt_ns_p999}, {"rtt_ns_min", l.rtt_ns_min}, {"rtt_ns_max", l.rtt_ns_max},
           {"rtt_ns_mean", l.rtt_ns_mean}};
  jb_fmt(&r->metrics, "\"rounds\":%" PRIu64, l.rounds);
  for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
    jb_fmt(&r->metrics, ",\"%s\":", m[i].key);
    jb_num(&r->metrics, m[i].v);
  }
  return EXIT_OK;
}

static int do_op_cost(const options *o, const perflab_queue_ops *ops, result *r) {
  perflab_op_cost_params p = {.capacity = (size_t)o->capacity, .ops = o->ops};
  perflab_op_cost_result c;
  struct rusage ru0;
  perflab_rusage_mark(&ru0);
  int err = perflab_queue_op_cost(ops, &p, &c);
  perflab_rusage_delta(&ru0, &r->rusage);
  if (err < 0) return run_failed(r, "op_cost", err, c.reason);
  if (!c.valid) {
    set_error(r, "invalid", "%s", c.reason);
    return EXIT_INVALID;
  }
  jb_fmt(&r->metrics, "\"ops\":%" PRIu64 ",\"elapsed_ns\":%" PRIu64 ",\"ns_per_op\":", c.ops, c.elapsed_ns);
  jb_num(&r->metrics, c.ns_per_op);
  return EXIT_OK;
}

static int do_conformance(const options *o, const perflab_queue_ops *ops, result *r) {
  perflab_conformance_params p = {.mpmc = o->mpmc, .seed = o->seed, .stress_items = o->max_items};
  perflab_conformance_result c;
  memset(&c, 0, sizeof(c));
  struct rusage ru0;
  perflab_rusage_mark(&ru0);
  int err = perflab_queue_conformance(ops, &p, &c);
  perflab_rusage_delta(&ru0, &r->rusage);
  if (err < 0) return run_failed(r, "conformance", err, c.reason);
  /* The suite's strings are fixed-size arrays; never read past them. */
  char failed[sizeof(c.failed_check) + 1], reason[sizeof(c.reason) + 1];
  snprintf(failed, sizeof(failed), "%.*s", (int)sizeof(c.failed_check), c.failed_check);
  snprintf(reason, sizeof(reason), "%.*s", (int)sizeof(c.reason), c.reason);
  jb_raw(&r->metrics, "\"passed\":");
  jb_raw(&r->metrics, c.passed ? "true" : "false");
  jb_fmt(&r->metrics, ",\"checks_run\":%u,\"failed_check\":", c.checks_run);
  jb_str(&r->metrics, c.passed ? "" : failed);
  jb_raw(&r->metrics, ",\"reason\":");
  jb_str(&r->metrics, c.passed ? "" : reason);
  if (!c.passed) {
    set_error(r, "invalid", "conformance check %s failed: %s", failed[0] ? failed : "(unnamed)", reason);
    return EXIT_INVALID;
  }
  return EXIT_OK;
}

int main(int argc, char **argv) {
  /* A closed pipe on the result fd is an error return from write(), not a signal. */
  signal(SIGPIPE, SIG_IGN);

  options o;
  result r;
  memset(&r, 0, sizeof(r));
  char msg[512] = "";
  int pr = parse_args(argc, argv, &o, msg, sizeof(msg));
  if (pr == 1) {
    fputs(usage_text, stdout);
    return EXIT_OK;
  }
  bool fd_ok = fd_writable(o.result_fd);
  if (pr == 0 && !fd_ok)
    pr = usage_fail(msg, sizeof(msg), "--result-fd %d is not open for writing", o.result_fd);
  if (pr < 0) {
    fprintf(stderr, "perflab-runner: %s\n%s", msg, usage_text);
    if (fd_ok) {
      set_error(&r, "usage", "%s", msg);
      int werr = emit(o.result_fd, &o, &r, true);
      if (werr) fprintf(stderr, "perflab-runner: cannot write the result: %s\n", strerror(-werr));
    }
    return EXIT_USAGE;
  }

  /* The nonce proves the result came from this runner: keep a private copy and
   * blank it in argv, so a variant cannot read it from /proc/self/cmdline. */
  if (o.nonce && *o.nonce) {
    char *copy = strdup(o.nonce);
    if (copy) {
      memset((char *)o.nonce, '*', strlen(o.nonce));
      o.nonce = copy;
    }
  }

  /* Keep the result fd for the JSON alone: if it is stdout, write the result
   * through a private duplicate and send anything else printed to stdout to stderr. */
  int out = o.result_fd;
  if (out == STDOUT_FILENO) {
    out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (out < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
      fprintf(stderr, "perflab-runner: cannot set up the result fd: %s\n", strerror(errno));
      if (out < 0) out = STDOUT_FILENO;
    }
  }

  char err[512];
  perflab_queue_ops ops;
  int rc;
  int lerr = perflab_queue_ops_load(o.variant, &ops, err, sizeof(err));
  if (lerr < 0) {
    set_error(&r, "load", "%s", err);
    rc = EXIT_RUN;
  } else {
    r.ok = true;
    r.has_bulk = ops.try_push_bulk != NULL && ops.try_pop_bulk != NULL;
    snprintf(r.affinity, sizeof(r.affinity), "unpinned");
    switch (o.workload) {
    case W_THROUGHPUT: rc = do_throughput(&o, &ops, &r); break;
    case W_LATENCY: rc = do_latency(&o, &ops, &r); break;
    case W_OP_COST: rc = do_op_cost(&o, &ops, &r); break;
    case W_CONFORMANCE: rc = do_conformance(&o, &ops, &r); break;
    case W_DESCRIBE: default: rc = EXIT_OK; break;
    }
    /* An invalid run carries no numbers (only conformance keeps its verdict). */
    if (rc == EXIT_INVALID && o.workload != W_CONFORMANCE) {
      free(r.metrics.p);
      memset(&r.metrics, 0, sizeof(r.metrics));
    }
    /* Unload only after a clean run: after a failed one a stuck thread may
     * still be executing inside the variant, and unmapping its code under it
     * would crash the runner before the result is written. The process exits
     * right after, which reclaims everything anyway. */
    if (rc == EXIT_OK) perflab_queue_ops_unload(&ops);
  }
  if (rc != EXIT_OK) {
    r.ok = false;
    fprintf(stderr, "perflab-runner: %s on %s: %s error: %s\n", workload_name(o.workload), o.variant,
            r.error_kind ? r.error_kind : "run", r.error_msg);
  }
  int werr = emit(out, &o, &r, false);
  free(r.metrics.p);
  if (o.nonce && *o.nonce) free((char *)o.nonce);
  if (werr) {
    fprintf(stderr, "perflab-runner: cannot write the result: %s\n", strerror(-werr));
    return EXIT_RUN;
  }
  return rc;
}
