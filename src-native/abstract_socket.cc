// Locks in the Linux abstract socket namespace: a name is held while a socket is bound to it.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "solely.h"

namespace solely {
namespace {

#ifdef __linux__

// socket + bind (+ listen when backlog >= 0). Returns the fd or -errno.
Napi::Value Bind(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString, Arg::kInt32})) return info.Env().Undefined();
  sockaddr_un addr;
  int length = AbstractAddress(info, &addr);
  if (length < 0) return Result(info, length);
  int backlog = IntArg(info, 1);
  int fd = BoundSocket(addr, length);
  if (fd >= 0 && backlog >= 0 && listen(fd, backlog) < 0) {
    int err = errno;
    close(fd);
    return Result(info, -err);
  }
  return Result(info, fd);
}

// socket + connect, non-blocking (see ConnectedSocket). Returns the fd or -errno.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString})) return info.Env().Undefined();
  sockaddr_un addr;
  int length = AbstractAddress(info, &addr);
  if (length < 0) return Result(info, length);
  return Result(info, ConnectedSocket(addr, length));
}

#else

Napi::Value Bind(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }
Napi::Value Connect(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }

#endif

}  // namespace

void RegisterAbstractSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("abstractBind", Napi::Function::New(env, Bind, "abstractBind"));
  exports.Set("abstractConnect", Napi::Function::New(env, Connect, "abstractConnect"));
}

}  // namespace solely
