// The credentials of a connected Unix socket's peer, as the kernel recorded them.
#include <sys/socket.h>

#include "solely.h"

namespace solely {
namespace {

// Returns [pid, uid, gid], or -errno.
Napi::Value PeerCred(const Napi::CallbackInfo& info) {
#ifdef __linux__
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  ucred cred;
  socklen_t length = sizeof cred;
  if (getsockopt(IntArg(info, 0), SOL_SOCKET, SO_PEERCRED, &cred, &length) < 0) {
    return Result(info, -errno);
  }
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, Napi::Number::New(info.Env(), cred.pid));
  out.Set(1u, Napi::Number::New(info.Env(), cred.uid));
  out.Set(2u, Napi::Number::New(info.Env(), cred.gid));
  return out;
#else
  return Result(info, -ENOTSUP);
#endif
}

}  // namespace

void RegisterPeerCred(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCred", Napi::Function::New(env, PeerCred, "peerCred"));
}

}  // namespace solely
