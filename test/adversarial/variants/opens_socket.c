/* Adversarial: reaches for the network and the file system from create, and
 * reports what it got on stderr as one line "perflab-probe: key=value ...":
 * - uid, pid, the network interfaces it sees, the environment's names;
 * - a TCP connection over loopback (127.0.0.1) and one to 192.0.2.1
 *   (TEST-NET-1, never routed), both non-blocking, so nothing waits;
 * - reading /etc/passwd and $PERFLAB_PROBE_READ;
 * - creating perflab-escape-<pid> in /tmp, /var/tmp, /etc and every directory
 *   of $PERFLAB_PROBE_DIRS (colon-separated).
 * The static stage rejects this variant; in the sandbox it runs, and the probe
 * line shows loopback only and no write outside the sandbox's own tmpfs.
 * Bounded: a few syscalls, once; otherwise a correct ring. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

struct perflab_queue {
  _Atomic size_t head, tail;
  size_t mask;
  uint64_t slots[];
};

static const char *err_name(int e) {
  switch (e) {
    case 0: return "ok";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EINPROGRESS: return "EINPROGRESS";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    default: return "other";
  }
}

static char line[8192];
static size_t len;
static void add(const char *key, const char *value) {
  int n = snprintf(line + len, sizeof(line) - len, " %s=%s", key, value);
  if (n > 0 && (size_t)n < sizeof(line) - len) len += (size_t)n;
}

/* Non-blocking connect to addr:port; waits at most 500 ms for loopback. */
static const char *try_connect(const char *addr, int port, int wait_ms) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return err_name(errno);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, addr, &sa.sin_addr);
  int e = 0;
  if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    e = errno;
    if (e == EINPROGRESS && wait_ms > 0) {
      struct pollfd p = {.fd = s, .events = POLLOUT};
      if (poll(&p, 1, wait_ms) == 1) {
        socklen_t l = sizeof(e);
        getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
      }
    }
  }
  close(s);
  return err_name(e);
}

static const char *loopback(void) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) return err_name(errno);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  socklen_t sl = sizeof(sa);
  if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&sa, &sl) < 0) {
    int e = errno;
    close(l);
    return err_name(e);
  }
  const char *r = try_connect("127.0.0.1", ntohs(sa.sin_port), 500);
  close(l);
  return r;
}

static void try_write(const char *dir) {
  char path[1024], key[1100];
  snprintf(path, sizeof(path), "%s/perflab-escape-%d", dir, (int)getpid());
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  int e = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  snprintf(key, sizeof(key), "write:%s", dir);
  add(key, err_name(e));
}

static void probe(void) {
  static _Atomic int done;
  if (atomic_exchange(&done, 1)) return;
  char buf[512];
  snprintf(buf, sizeof(buf), "%d", (int)getuid());
  add("uid", buf);
  snprintf(buf, sizeof(buf), "%d", (int)getpid());
  add("pid", buf);
  buf[0] = 0;
  struct if_nameindex *ifs = if_nameindex();
  for (struct if_nameindex *i = ifs; i && i->if_index; i++) {
    if (buf[0]) strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
    strncat(buf, i->if_name, sizeof(buf) - strlen(buf) - 1);
  }
  if (ifs) if_freenameindex(ifs);
  add("ifaces", buf[0] ? buf : "none");
  buf[0] = 0;
  for (char **e = environ; *e; e++) {
    size_t n = strcspn(*e, "=");
    if (strlen(buf) + n + 2 >= sizeof(buf)) break;
    if (buf[0]) strcat(buf, ",");
    strncat(buf, *e, n);
  }
  add("env", buf[0] ? buf : "none");
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  add("socket", s >= 0 ? "ok" : err_name(errno));
  if (s >= 0) close(s);
  add("loopback", loopback());
  add("external", try_connect("192.0.2.1", 9, 0));
  int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
  add("read:/etc/passwd", fd >= 0 ? "ok" : err_name(errno));
  if (fd >= 0) close(fd);
  const char *rd = getenv("PERFLAB_PROBE_READ");
  if (rd) {
    fd = open(rd, O_RDONLY | O_CLOEXEC);
    add("read:probe", fd >= 0 ? "ok" : err_name(errno));
    if (fd >= 0) close(fd);
  }
  try_write("/tmp");
  try_write("/var/tmp");
  try_write("/etc");
  const char *dirs = getenv("PERFLAB_PROBE_DIRS");
  if (dirs) {
    char copy[2048];
    snprintf(copy, sizeof(copy), "%s", dirs);
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) try_write(d);
  }
  fprintf(stderr, "perflab-probe:%s\n", line);
  fflush(stderr);
}

perflab_queue *perflab_queue_create(size_t capacity) {
  if (capacity == 0) return NULL;
  probe();
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
