// Locks in the Linux abstract socket namespace: a name is held while a socket is bound to it.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "solely.h"

namespace solely {
namespace {

#ifdef __linux__

constexpr size_t kMaxNameBytes = sizeof(sockaddr_un::sun_path) - 1;  // the leading NUL takes one

// "\0" + name with the exact length and no trailing NULs, so that socat, Python, Rust and C
// peers address the same name. Returns the address length or -errno.
int AbstractAddress(const Napi::CallbackInfo& info, sockaddr_un* addr) {
  char name[kMaxNameBytes + 2];
  int length = CopyString(info, 0, name);
  if (length < 0) return length;
  if (length == 0) return -EINVAL;  // an empty address would autobind a random name
  addr->sun_family = AF_UNIX;
  addr->sun_path[0] = '\0';
  memcpy(addr->sun_path + 1, name, length);
  return static_cast<int>(offsetof(sockaddr_un, sun_path) + 1 + length);
}

// socket + bind (+ listen when backlog >= 0). Returns the fd or -errno.
Napi::Value Bind(const Napi::CallbackInfo& info) {
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
