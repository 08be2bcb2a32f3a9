// Descriptors inherited from a service manager (systemd socket activation): what kind of socket
// each one is, told before it is adopted (fd.cc marks them close-on-exec).
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>

#include "solely.h"

namespace solely {
namespace {

// socketInfo(fd): [isUnix, isStream, isListening, address] where address is the bound sun_path
// bytes as getsockname gives them (a leading NUL for an abstract name, no trailing NUL for a
// path); or -errno (-ENOTSOCK for a descriptor that is not a socket). Reads only.
Napi::Value SocketInfo(const Napi::CallbackInfo& info) {
#ifdef __linux__
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  int fd = IntArg(info, 0);
  int domain = 0;
  int type = 0;
  int listening = 0;
  socklen_t length = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) < 0) return Result(info, -errno);
  length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) < 0) return Result(info, -errno);
  length = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) < 0) {
    return Result(info, -errno);
  }
  sockaddr_un addr = {};
  socklen_t addrLength = sizeof addr;
  size_t pathLength = 0;
  if (domain == AF_UNIX) {
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addrLength) < 0) {
      return Result(info, -errno);
    }
    size_t offset = offsetof(sockaddr_un, sun_path);
    pathLength = addrLength > offset ? addrLength - offset : 0;
    if (pathLength > sizeof addr.sun_path) pathLength = sizeof addr.sun_path;
    // A path is NUL-terminated (the terminator may be counted or not); an abstract name is not.
    if (pathLength > 0 && addr.sun_path[0] != '\0') {
      while (pathLength > 0 && addr.sun_path[pathLength - 1] == '\0') pathLength--;
    }
  }
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, Napi::Boolean::New(env, domain == AF_UNIX));
  out.Set(1u, Napi::Boolean::New(env, type == SOCK_STREAM));
  out.Set(2u, Napi::Boolean::New(env, listening != 0));
  out.Set(3u, Napi::Buffer<char>::Copy(env, addr.sun_path, pathLength));
  return out;
#else
  return Result(info, -ENOTSUP);
#endif
}

}  // namespace

void RegisterSocketInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("socketInfo", Napi::Function::New(env, SocketInfo, "socketInfo"));
}

}  // namespace solely
