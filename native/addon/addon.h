// What the addon's translation units share: the one path by which C errors
// (negative errno) and argument errors become JS exceptions, and the wraps'
// definers. Only native/addon/ includes napi.h.
#ifndef PERFLAB_ADDON_H
#define PERFLAB_ADDON_H

#include <napi.h>

namespace perflab {

// Throws a JS Error shaped like Node's system errors: message
// "EINVAL: Invalid argument, <syscall>", code "EINVAL", errno -22,
// syscall "<syscall>". `neg_errno` is a C function's negative errno return.
[[noreturn]] void ThrowErrno(Napi::Env env, int neg_errno, const char *syscall);

// TypeError with code ERR_INVALID_ARG_TYPE / RangeError with code
// ERR_OUT_OF_RANGE / Error with code ERR_PERFLAB_DISPOSED, as Node and the TS
// layer name them.
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string &message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string &message);
[[noreturn]] void ThrowDisposed(Napi::Env env, const char *what);
// TypeError with code ERR_PERFLAB_BAD_BUFFER: memory a queue cannot live in.
[[noreturn]] void ThrowBadBuffer(Napi::Env env, const std::string &message);

// The SharedQueue class (shared_queue_wrap.cc).
Napi::Function DefineSharedQueue(Napi::Env env);
// sharedQueueBytes(kind, capacity) (shared_queue_wrap.cc).
Napi::Value SharedQueueBytes(const Napi::CallbackInfo &info);

}  // namespace perflab

#endif
