// perflab addon: module registration and the small module functions.
//
// Technique: a Napi::Addon subclass, so all state lives in per-instance data
// (napi_set_instance_data under the hood): the module is context-aware and
// each worker_thread that loads it gets its own instance. No process globals.
// Exports: SharedQueue (shared_queue_wrap.cc), sharedQueueBytes, noop,
// versions, ioUringProbe, and setThreadAffinity/getThreadAffinity (the
// calling thread's CPU set: a worker pins itself, so producer and consumer
// can be measured on different vCPUs).
// Kernel needs: none to load; ioUringProbe reports io_uring support as data
// (an unsupported kernel is a result, not an error).
#include <pthread.h>
#include <sched.h>

#include <cstring>
#include <string>

#include "addon.h"
#include "io_uring_probe.h"

#ifndef PERFLAB_LIBURING_VERSION
#define PERFLAB_LIBURING_VERSION "unknown"
#endif

namespace perflab {

void ThrowErrno(Napi::Env env, int neg_errno, const char *syscall) {
  int e = neg_errno < 0 ? -neg_errno : neg_errno;
  const char *name = strerrorname_np(e);
  const char *desc = strerrordesc_np(e);
  std::string code = name != nullptr ? name : "E" + std::to_string(e);
  std::string message = code + ": " + (desc != nullptr ? desc : "Unknown error") + ", " + syscall;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -e));
  error.Set("syscall", Napi::String::New(env, syscall));
  throw error;
}

void ThrowTypeError(Napi::Env env, const std::string &message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw error;
}

void ThrowRangeError(Napi::Env env, const std::string &message) {
  Napi::RangeError error = Napi::RangeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  throw error;
}

void ThrowDisposed(Napi::Env env, const char *what) {
  Napi::Error error = Napi::Error::New(env, std::string(what) + " was disposed");
  error.Set("code", Napi::String::New(env, "ERR_PERFLAB_DISPOSED"));
  throw error;
}

void ThrowBadBuffer(Napi::Env env, const std::string &message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_PERFLAB_BAD_BUFFER"));
  throw error;
}

namespace {

// The bare N-API crossing: no argument unpacking, no C++ wrapper objects.
// Its cost is the floor under every call the queues make.
napi_value Noop(napi_env, napi_callback_info) { return nullptr; }

class PerflabAddon : public Napi::Addon<PerflabAddon> {
 public:
  PerflabAddon(Napi::Env env, Napi::Object exports) {
    Napi::Function shared_queue = DefineSharedQueue(env);
    napi_value noop = nullptr;
    if (napi_create_function(env, "noop", NAPI_AUTO_LENGTH, Noop, nullptr, &noop) != napi_ok)
      throw Napi::Error::New(env, "perflab: cannot create noop()");
    DefineAddon(exports,
                {
                    InstanceValue("SharedQueue", shared_queue, napi_enumerable),
                    InstanceValue("noop", Napi::Value(env, noop), napi_enumerable),
                    InstanceMethod("sharedQueueBytes", &PerflabAddon::Bytes, napi_enumerable),
                    InstanceMethod("versions", &PerflabAddon::Versions, napi_enumerable),
                    InstanceMethod("ioUringProbe", &PerflabAddon::IoUringProbe, napi_enumerable),
                    InstanceMethod("setThreadAffinity", &PerflabAddon::SetThreadAffinity, napi_enumerable),
                    InstanceMethod("getThreadAffinity", &PerflabAddon::GetThreadAffinity, napi_enumerable),
                });
  }

 private:
  Napi::Value Bytes(const Napi::CallbackInfo &info) { return SharedQueueBytes(info); }

  // versions() -> { liburing: string, napi: number }
  Napi::Value Versions(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("liburing", Napi::String::New(env, PERFLAB_LIBURING_VERSION));
    out.Set("napi", Napi::Number::New(env, Napi::VersionManagement::GetNapiVersion(env)));
    return out;
  }

  // ioUringProbe() -> { supported, error, features: string[], singleIssuer, deferTaskrun }
  Napi::Value IoUringProbe(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    perflab_io_uring_probe probe;
    std::memset(&probe, 0, sizeof probe);
    int rc = perflab_io_uring_probe_run(&probe);
    if (rc < 0) ThrowErrno(env, rc, "perflab_io_uring_probe_run");
    char names[1024];
    perflab_io_uring_feature_names(probe.features, names, sizeof names);
    names[sizeof names - 1] = '\0';
    Napi::Array features = Napi::Array::New(env);
    uint32_t n = 0;
    for (const char *p = names; *p != '\0';) {
      const char *comma = std::strchr(p, ',');
      size_t len = comma != nullptr ? static_cast<size_t>(comma - p) : std::strlen(p);
      if (len > 0) features.Set(n++, Napi::String::New(env, p, len));
      p += len + (comma != nullptr ? 1 : 0);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("supported", Napi::Boolean::New(env, probe.supported));
    out.Set("error", Napi::Number::New(env, probe.error));
    out.Set("features", features);
    out.Set("singleIssuer", Napi::Boolean::New(env, probe.single_issuer));
    out.Set("deferTaskrun", Napi::Boolean::New(env, probe.defer_taskrun));
    return out;
  }

  // setThreadAffinity(cpus: number[]): pins the calling thread to these CPUs.
  Napi::Value SetThreadAffinity(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) ThrowTypeError(env, "cpus must be an array of CPU numbers");
    Napi::Array cpus = info[0].As<Napi::Array>();
    if (cpus.Length() == 0) ThrowRangeError(env, "cpus must name at least one CPU");
    cpu_set_t set;
    CPU_ZERO(&set);
    for (uint32_t i = 0; i < cpus.Length(); i++) {
      Napi::Value v = cpus.Get(i);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d < CPU_SETSIZE && static_cast<double>(static_cast<int>(d)) == d))
        ThrowRangeError(env, "cpus[" + std::to_string(i) + "] must be an integer in [0, " +
                                 std::to_string(CPU_SETSIZE - 1) + "]");
      CPU_SET(static_cast<int>(d), &set);
    }
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) ThrowErrno(env, -rc, "pthread_setaffinity_np");
    return env.Undefined();
  }

  // getThreadAffinity() -> number[]: the CPUs the calling thread may run on.
  Napi::Value GetThreadAffinity(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    cpu_set_t set;
    CPU_ZERO(&set);
    int rc = pthread_getaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) ThrowErrno(env, -rc, "pthread_getaffinity_np");
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
      if (CPU_ISSET(cpu, &set)) out.Set(n++, Napi::Number::New(env, cpu));
    return out;
  }
};

}  // namespace
}  // namespace perflab

using PerflabAddon = perflab::PerflabAddon;
NODE_API_NAMED_ADDON(perflab, PerflabAddon)
