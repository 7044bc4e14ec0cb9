/* Adversarial (static stage, C++): a correct ring that replaces the global
 * operator new/delete (a counting allocator over a private arena). Replacing
 * the C++ runtime's allocator is interposition: the static stage must fail
 * naming operator new / delete. */
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace {
alignas(64) unsigned char arena[1 << 20];
std::size_t used = 0;
}  // namespace

void *operator new(std::size_t n) {
  n = (n + 63) & ~std::size_t(63);
  if (n > sizeof(arena) - used) throw std::bad_alloc();
  void *p = arena + used;
  used += n;
  return p;
}
void operator delete(void *) noexcept {}
void operator delete(void *, std::size_t) noexcept {}

struct perflab_queue {
  std::atomic<std::size_t> head{0}, tail{0};
  std::size_t mask = 0;
  std::uint64_t *slots = nullptr;
};

extern "C" perflab_queue *perflab_queue_create(std::size_t capacity) {
  if (capacity == 0 || capacity > (std::size_t(1) << 16)) return nullptr;
  std::size_t cap = 1;
  while (cap < capacity) cap <<= 1;
  perflab_queue *q = new perflab_queue;
  q->slots = static_cast<std::uint64_t *>(operator new(cap * sizeof(std::uint64_t)));
  q->mask = cap - 1;
  return q;
}
extern "C" void perflab_queue_destroy(perflab_queue *q) {
  if (!q) return;
  operator delete(q->slots);
  delete q;
}
extern "C" bool perflab_queue_try_push(perflab_queue *q, std::uint64_t v) {
  std::size_t t = q->tail.load(std::memory_order_relaxed);
  if (t - q->head.load(std::memory_order_acquire) > q->mask) return false;
  q->slots[t & q->mask] = v;
  q->tail.store(t + 1, std::memory_order_release);
  return true;
}
extern "C" bool perflab_queue_try_pop(perflab_queue *q, std::uint64_t *out) {
  std::size_t h = q->head.load(std::memory_order_relaxed);
  if (h == q->tail.load(std::memory_order_acquire)) return false;
  *out = q->slots[h & q->mask];
  q->head.store(h + 1, std::memory_order_release);
  return true;
}
