// SharedQueue: the JS face of native/shm/shared_queue.c.
//
// Technique: a Napi::ObjectWrap created over a Uint8Array view of a
// SharedArrayBuffer (Node 20's N-API has no SharedArrayBuffer call; a typed
// array view over one works). The wrap keeps a reference to the view, which
// keeps the buffer's backing store alive in this isolate, and stores the data
// pointer; every worker that holds the buffer makes its own wrap over the same
// bytes. Values cross as numbers (non-negative safe integers, the 'number'
// value type) or bigints ('bigint'), per the value type in the queue header.
// The four hot methods (tryPush, tryPop, pushBulk, popBulk) are not
// prototype methods: each wrap installs its own functions whose N-API callback
// data is a ref-counted QueueState, because napi_unwrap (~40 ns here) costs
// more than the queue operation. Cold members (size, release, kind,
// valueType, capacity) stay ordinary ObjectWrap members.
// Memory safety: only a view over a SharedArrayBuffer is accepted (an
// ArrayBuffer can be transferred away and freed under the queue; a
// SharedArrayBuffer cannot be detached, and a growable one never shrinks).
// The C handle (base, kind, capacity, mask, validated once) lives in the
// QueueState, never in the shared bytes, so JS code scribbling on the buffer
// cannot steer native reads or writes outside it. A call that runs user JS
// before its queue operation (an array element getter in pushBulk) checks
// again that the queue was not released meanwhile.
// Threading: a wrap belongs to the thread that made it; the queue memory is
// shared (see shared_queue.h for who may push and pop concurrently).
// Bulk calls convert into a uint64_t buffer and make one C call (spsc: one
// release store per batch); a bigint queue pushes from and pops into a
// BigUint64Array's memory directly.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "shared_queue.h"

namespace perflab {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

std::string FormatNumber(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

const char *TypeName(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

std::string Subject(long index) {
  return index < 0 ? std::string("value") : "values[" + std::to_string(index) + "]";
}

// A JS value as a queue item; index < 0 names it "value" in messages.
uint64_t ToItem(napi_env env, napi_value v, bool bigint, long index) {
  if (bigint) {
    uint64_t u = 0;
    bool lossless = false;
    if (napi_get_value_bigint_uint64(env, v, &u, &lossless) != napi_ok)
      ThrowTypeError(env, Subject(index) + " must be a bigint (the queue holds bigints), got " +
                              TypeName(env, v));
    if (!lossless)
      ThrowRangeError(env, Subject(index) + " must be a bigint in [0, 2^64 - 1]");
    return u;
  }
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok)
    ThrowTypeError(env, Subject(index) + " must be a number (the queue holds numbers), got " +
                            TypeName(env, v));
  if (!(d >= 0 && d <= kMaxSafeInteger && std::trunc(d) == d))
    ThrowRangeError(env, Subject(index) + " must be a non-negative safe integer, got " +
                             FormatNumber(d));
  return static_cast<uint64_t>(d);
}

// An integer argument in [0, limit].
size_t ToIndex(Napi::Env env, const Napi::Value &v, const char *name, size_t limit) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok)
    ThrowTypeError(env, std::string(name) + " must be a number, got " + TypeName(env, v));
  if (!(d >= 0 && d <= static_cast<double>(limit) && std::trunc(d) == d))
    ThrowRangeError(env, std::string(name) + " must be an integer in [0, " + std::to_string(limit) +
                             "], got " + FormatNumber(d));
  return static_cast<size_t>(d);
}

// A typed array's type, element count and data pointer in one call. Works for
// views over a SharedArrayBuffer (napi_get_arraybuffer_info does not).
struct TypedView {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void *data = nullptr;
};

bool GetTypedView(napi_env env, napi_value v, TypedView *out) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  return napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data, nullptr, nullptr) ==
         napi_ok;
}

unsigned KindFromString(Napi::Env env, const Napi::Value &v) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "spsc") return PERFLAB_SHARED_QUEUE_SPSC;
  if (s == "mpmc") return PERFLAB_SHARED_QUEUE_MPMC;
  ThrowTypeError(env, "kind must be 'spsc' or 'mpmc'");
}

unsigned ValueTypeFromString(Napi::Env env, const Napi::Value &v) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "number") return PERFLAB_SHARED_QUEUE_VALUE_NUMBER;
  if (s == "bigint") return PERFLAB_SHARED_QUEUE_VALUE_BIGINT;
  ThrowTypeError(env, "valueType must be 'number' or 'bigint'");
}

// What the hot methods need, shared by the wrap and its bound methods. Each
// bound method holds a count, so a method pulled off the object (`const f =
// q.tryPush`) stays safe after the wrap is collected. JS thread only.
struct QueueState {
  perflab_shared_queue handle{};       // private snapshot made by init/attach
  perflab_shared_queue *q = nullptr;  // &handle while live, nullptr after release()
  bool bigint = false;
  napi_ref view = nullptr;  // keeps the buffer's backing store alive
  int refs = 0;             // the wrap + each bound method
};

void UnrefState(napi_env env, QueueState *s) {
  if (--s->refs > 0) return;
  if (s->view != nullptr) napi_delete_reference(env, s->view);
  delete s;
}

void FinalizeMethod(napi_env env, void *data, void *) { UnrefState(env, static_cast<QueueState *>(data)); }

// Runs a raw callback body, turning a thrown Napi::Error into a JS exception.
template <typename Fn>
napi_value Guard(Fn &&fn) {
  try {
    return fn();
  } catch (const Napi::Error &e) {
    e.ThrowAsJavaScriptException();
    return nullptr;
  }
}

// The live queue; throws ERR_PERFLAB_DISPOSED after release().
const perflab_shared_queue *Live(napi_env env, const QueueState *s) {
  if (s->q == nullptr) ThrowDisposed(env, "SharedQueue");
  return s->q;
}

// Unpacks up to N arguments and the state; throws when released.
template <size_t N>
QueueState *Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  void *data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  QueueState *s = static_cast<QueueState *>(data);
  Live(env, s);
  return s;
}

// tryPush(value) -> boolean (false when full)
napi_value TryPush(napi_env env, napi_callback_info info) {
  return Guard([&] {
    napi_value argv[1];
    QueueState *s = Args(env, info, argv);
    uint64_t item = ToItem(env, argv[0], s->bigint, -1);
    napi_value result = nullptr;
    napi_get_boolean(env, perflab_shared_queue_try_push(s->q, item), &result);
    return result;
  });
}

// tryPop() -> number | bigint | undefined (when empty)
napi_value TryPop(napi_env env, napi_callback_info info) {
  return Guard([&] {
    napi_value argv[1];
    QueueState *s = Args(env, info, argv);
    uint64_t item = 0;
    napi_value result = nullptr;
    if (!perflab_shared_queue_try_pop(s->q, &item))
      napi_get_undefined(env, &result);
    else if (s->bigint)
      napi_create_bigint_uint64(env, item, &result);
    else
      napi_create_double(env, static_cast<double>(item), &result);
    return result;
  });
}

napi_value Moved(napi_env env, size_t n) {
  napi_value result = nullptr;
  napi_create_double(env, static_cast<double>(n), &result);
  return result;
}

// pushBulk(values: Float64Array | BigUint64Array | Array, offset, count) -> moved
// Every value in [offset, offset + min(count, capacity)) is checked before
// any moves, so a bad value throws with the queue unchanged. An array's
// elements are read (getters may run user JS, which may release the queue)
// into a native buffer first; the queue is checked again after that.
napi_value PushBulk(napi_env env, napi_callback_info info) {
  return Guard([&] {
    napi_value argv[3];
    QueueState *s = Args(env, info, argv);
    const char *type_message = s->bigint ? "values must be a BigUint64Array or an array of bigints"
                                         : "values must be a Float64Array or an array of numbers";
    TypedView view;
    size_t length = 0;
    const void *typed = nullptr;
    bool is_array = false;
    if (GetTypedView(env, argv[0], &view)) {
      if (view.type != (s->bigint ? napi_biguint64_array : napi_float64_array))
        ThrowTypeError(env, type_message);
      length = view.length;
      typed = view.data;
    } else if (napi_is_array(env, argv[0], &is_array) == napi_ok && is_array) {
      uint32_t n = 0;
      napi_get_array_length(env, argv[0], &n);
      length = n;
    } else {
      ThrowTypeError(env, type_message);
    }
    Napi::Env e(env);
    size_t offset = ToIndex(e, Napi::Value(env, argv[1]), "offset", length);
    size_t count = ToIndex(e, Napi::Value(env, argv[2]), "count", length - offset);
    size_t cap = static_cast<size_t>(perflab_shared_queue_capacity(s->q));
    size_t n = count < cap ? count : cap;
    if (n == 0) return Moved(env, 0);
    if (typed != nullptr && s->bigint)
      return Moved(env, perflab_shared_queue_try_push_bulk(
                            s->q, static_cast<const uint64_t *>(typed) + offset, n));
    uint64_t stack_items[512];
    std::vector<uint64_t> heap_items;
    uint64_t *items = stack_items;
    if (n > 512) {
      heap_items.resize(n);
      items = heap_items.data();
    }
    if (typed != nullptr) {
      const double *values = static_cast<const double *>(typed) + offset;
      for (size_t i = 0; i < n; i++) {
        double d = values[i];
        if (!(d >= 0 && d <= kMaxSafeInteger && std::trunc(d) == d))
          ThrowRangeError(env, Subject(static_cast<long>(offset + i)) +
                                   " must be a non-negative safe integer, got " + FormatNumber(d));
        items[i] = static_cast<uint64_t>(d);
      }
    } else {
      for (size_t i = 0; i < n; i++) {
        napi_value v = nullptr;
        if (napi_get_element(env, argv[0], static_cast<uint32_t>(offset + i), &v) != napi_ok)
          throw Napi::Error::New(env);
        items[i] = ToItem(env, v, s->bigint, static_cast<long>(offset + i));
      }
    }
    // napi_get_element may have run a getter that released the queue (its
    // buffer may then be gone): check again with no JS left to run.
    return Moved(env, perflab_shared_queue_try_push_bulk(Live(env, s), items, n));
  });
}

// popBulk(out: Float64Array | BigUint64Array, offset, count) -> moved
napi_value PopBulk(napi_env env, napi_callback_info info) {
  return Guard([&] {
    napi_value argv[3];
    QueueState *s = Args(env, info, argv);
    TypedView out;
    if (!GetTypedView(env, argv[0], &out) ||
        out.type != (s->bigint ? napi_biguint64_array : napi_float64_array))
      ThrowTypeError(env, s->bigint ? "out must be a BigUint64Array" : "out must be a Float64Array");
    Napi::Env e(env);
    size_t offset = ToIndex(e, Napi::Value(env, argv[1]), "offset", out.length);
    size_t count = ToIndex(e, Napi::Value(env, argv[2]), "count", out.length - offset);
    size_t cap = static_cast<size_t>(perflab_shared_queue_capacity(s->q));
    if (count > cap) count = cap;
    // Pop straight into the array's 8-byte elements; for a Float64Array
    // convert each in place afterwards (memcpy: no aliasing of the types).
    uint8_t *dst = static_cast<uint8_t *>(out.data) + offset * 8;
    size_t moved = perflab_shared_queue_try_pop_bulk(s->q, reinterpret_cast<uint64_t *>(dst), count);
    if (!s->bigint) {
      for (size_t i = 0; i < moved; i++) {
        uint64_t u;
        std::memcpy(&u, dst + i * 8, 8);
        double d = static_cast<double>(u);
        std::memcpy(dst + i * 8, &d, 8);
      }
    }
    return Moved(env, moved);
  });
}

class SharedQueueWrap : public Napi::ObjectWrap<SharedQueueWrap> {
 public:
  // new SharedQueue(view: Uint8Array, init?: { kind, capacity, valueType })
  // With init: lays out a new queue in the view's bytes. Without: attaches to
  // the queue already there (validates the header).
  explicit SharedQueueWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<SharedQueueWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      ThrowTypeError(env, "SharedQueue: view must be a Uint8Array over a SharedArrayBuffer");
    Napi::Uint8Array view = info[0].As<Napi::Uint8Array>();
    CheckShared(env, view);
    perflab_shared_queue q{};
    if (info[1].IsObject()) {
      Napi::Object init = info[1].As<Napi::Object>();
      unsigned kind = KindFromString(env, init.Get("kind"));
      unsigned value_type = ValueTypeFromString(env, init.Get("valueType"));
      size_t capacity = ToIndex(env, init.Get("capacity"), "capacity", PERFLAB_SHARED_QUEUE_MAX_CAPACITY);
      int rc = perflab_shared_queue_init(view.Data(), view.ByteLength(), kind, capacity, value_type, &q);
      if (rc < 0) ThrowErrno(env, rc, "perflab_shared_queue_init");
    } else {
      int rc = perflab_shared_queue_attach(view.Data(), view.ByteLength(), &q);
      if (rc < 0) ThrowErrno(env, rc, "perflab_shared_queue_attach");
    }
    state_ = new QueueState();
    state_->refs = 1;
    state_->handle = q;
    state_->q = &state_->handle;
    state_->bigint = perflab_shared_queue_value_type(&q) == PERFLAB_SHARED_QUEUE_VALUE_BIGINT;
    if (napi_create_reference(env, view, 1, &state_->view) != napi_ok) throw Napi::Error::New(env);
    // The hot methods are own properties bound to the state (N-API callback
    // data): a call then needs no napi_unwrap, which costs more than the
    // queue operation itself.
    Napi::Object self = info.This().As<Napi::Object>();
    Bind(env, self, "tryPush", TryPush);
    Bind(env, self, "tryPop", TryPop);
    Bind(env, self, "pushBulk", PushBulk);
    Bind(env, self, "popBulk", PopBulk);
  }

  ~SharedQueueWrap() override {
    if (state_ != nullptr) UnrefState(Env(), state_);
  }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SharedQueue",
                       {
                           InstanceMethod<&SharedQueueWrap::Size>("size"),
                           InstanceMethod<&SharedQueueWrap::Release>("release"),
                           InstanceAccessor<&SharedQueueWrap::Kind>("kind"),
                           InstanceAccessor<&SharedQueueWrap::ValueType>("valueType"),
                           InstanceAccessor<&SharedQueueWrap::Capacity>("capacity"),
                       });
  }

 private:
  // Throws ERR_PERFLAB_BAD_BUFFER unless the view's buffer is a
  // SharedArrayBuffer. A typed array's buffer is an ArrayBuffer or a
  // SharedArrayBuffer, and napi_is_arraybuffer is a brand check (V8's
  // IsArrayBuffer: false for a SharedArrayBuffer, true for an ArrayBuffer
  // whatever its prototype), so "not an ArrayBuffer" is "shared" without
  // trusting globalThis.SharedArrayBuffer or running user JS (instanceof
  // would do both). Should N-API ever answer true for shared buffers too,
  // every queue is refused: loud, never unsafe.
  static void CheckShared(Napi::Env env, const Napi::Uint8Array &view) {
    napi_value buffer = nullptr;
    bool is_arraybuffer = true;
    if (napi_get_typedarray_info(env, view, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
        napi_is_arraybuffer(env, buffer, &is_arraybuffer) != napi_ok || is_arraybuffer)
      ThrowBadBuffer(env,
                     "SharedQueue: view must be a Uint8Array over a SharedArrayBuffer, not an "
                     "ArrayBuffer (an ArrayBuffer can be transferred and freed under the queue)");
  }

  void Bind(Napi::Env env, Napi::Object self, const char *name, napi_callback cb) {
    napi_value fn = nullptr;
    if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, state_, &fn) != napi_ok)
      throw Napi::Error::New(env);
    state_->refs++;
    if (napi_add_finalizer(env, fn, state_, FinalizeMethod, nullptr, nullptr) != napi_ok) {
      state_->refs--;
      throw Napi::Error::New(env);
    }
    napi_property_descriptor desc = {name, nullptr, nullptr, nullptr, nullptr, fn, napi_enumerable, nullptr};
    if (napi_define_properties(env, self, 1, &desc) != napi_ok) throw Napi::Error::New(env);
  }

  perflab_shared_queue *Queue(Napi::Env env) const {
    if (state_->q == nullptr) ThrowDisposed(env, "SharedQueue");
    return state_->q;
  }

  Napi::Value Size(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), static_cast<double>(perflab_shared_queue_size(Queue(info.Env()))));
  }

  // release(): drops this wrap's hold on the buffer; later calls (bound
  // methods included) throw ERR_PERFLAB_DISPOSED. Other wraps over the same
  // buffer are unaffected.
  Napi::Value Release(const Napi::CallbackInfo &info) {
    state_->q = nullptr;
    if (state_->view != nullptr) {
      napi_delete_reference(info.Env(), state_->view);
      state_->view = nullptr;
    }
    return info.Env().Undefined();
  }

  Napi::Value Kind(const Napi::CallbackInfo &info) {
    bool spsc = perflab_shared_queue_kind(Queue(info.Env())) == PERFLAB_SHARED_QUEUE_SPSC;
    return Napi::String::New(info.Env(), spsc ? "spsc" : "mpmc");
  }

  Napi::Value ValueType(const Napi::CallbackInfo &info) {
    Queue(info.Env());
    return Napi::String::New(info.Env(), state_->bigint ? "bigint" : "number");
  }

  Napi::Value Capacity(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), static_cast<double>(perflab_shared_queue_capacity(Queue(info.Env()))));
  }

  QueueState *state_ = nullptr;
};

}  // namespace

Napi::Function DefineSharedQueue(Napi::Env env) { return SharedQueueWrap::Define(env); }

// sharedQueueBytes(kind: 'spsc' | 'mpmc', capacity) -> bytes the buffer needs
Napi::Value SharedQueueBytes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  unsigned kind = KindFromString(env, info[0]);
  size_t capacity = ToIndex(env, info[1], "capacity", PERFLAB_SHARED_QUEUE_MAX_CAPACITY);
  int64_t bytes = perflab_shared_queue_bytes(kind, capacity);
  if (bytes < 0) ThrowErrno(env, static_cast<int>(bytes), "perflab_shared_queue_bytes");
  return Napi::Number::New(env, static_cast<double>(bytes));
}

}  // namespace perflab
