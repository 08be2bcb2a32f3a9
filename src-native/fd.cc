// Closing descriptors the facade owns.
#include <unistd.h>

#include "solely.h"

namespace solely {
namespace {

// Never retried on EINTR: Linux has released the descriptor whatever close() returns.
Napi::Value Close(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  return Result(info, close(IntArg(info, 0)) < 0 ? -errno : 0);
}

}  // namespace

void RegisterFd(Napi::Env env, Napi::Object exports) {
  exports.Set("close", Napi::Function::New(env, Close, "close"));
}

}  // namespace solely
