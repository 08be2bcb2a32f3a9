// Shared by every mechanism file: each exported function makes one syscall or one atomic group
// of them and returns a value >= 0 or -errno. OS failures are values, never JS exceptions.
#pragma once

#include <napi.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace solely {

inline Napi::Number Result(const Napi::CallbackInfo& info, double value) {
  return Napi::Number::New(info.Env(), value);
}

inline int IntArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}

// Copies a JS string's UTF-8 bytes into buf with a terminating NUL. Returns the byte length, or
// -ENAMETOOLONG when it may not fit (napi truncates silently), or -EINVAL for a non-string.
template <size_t N>
int CopyString(const Napi::CallbackInfo& info, size_t i, char (&buf)[N]) {
  size_t length = 0;
  if (napi_get_value_string_utf8(info.Env(), info[i], buf, N, &length) != napi_ok) return -EINVAL;
  if (length >= N - 1) return -ENAMETOOLONG;
  return static_cast<int>(length);
}

#ifdef __linux__

constexpr size_t kMaxNameBytes = sizeof(sockaddr_un::sun_path) - 1;  // the leading NUL takes one

// "\0" + name (argument 0) with the exact length and no trailing NULs, so that socat, Python,
// Rust and C peers address the same name. Returns the address length or -errno.
inline int AbstractAddress(const Napi::CallbackInfo& info, sockaddr_un* addr) {
  char name[kMaxNameBytes + 2];
  int length = CopyString(info, 0, name);
  if (length < 0) return length;
  if (length == 0) return -EINVAL;  // an empty address would autobind a random name
  addr->sun_family = AF_UNIX;
  addr->sun_path[0] = '\0';
  memcpy(addr->sun_path + 1, name, length);
  return static_cast<int>(offsetof(sockaddr_un, sun_path) + 1 + length);
}

// A non-blocking, close-on-exec AF_UNIX stream socket bound to addr: the fd, or -errno.
// NONBLOCK so that the fd can be handed to net.
inline int BoundSocket(const sockaddr_un& addr, int length) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), length) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

// A non-blocking socket connected to addr, as a probe: a full backlog is EAGAIN; a name bound
// but not listening, or not bound, is ECONNREFUSED. Returns the fd or -errno.
inline int ConnectedSocket(const sockaddr_un& addr, int length) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  // A non-blocking AF_UNIX connect never sleeps, so it cannot be interrupted (no EINTR).
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), length) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

#endif

void RegisterAbstractSocket(Napi::Env env, Napi::Object exports);
void RegisterPeerCred(Napi::Env env, Napi::Object exports);
void RegisterFileLock(Napi::Env env, Napi::Object exports);
void RegisterInotify(Napi::Env env, Napi::Object exports);
void RegisterFdWatch(Napi::Env env, Napi::Object exports);
void RegisterFd(Napi::Env env, Napi::Object exports);
void RegisterPidfile(Napi::Env env, Napi::Object exports);
void RegisterStatfs(Napi::Env env, Napi::Object exports);
void RegisterUnixSocket(Napi::Env env, Napi::Object exports);
void RegisterSocketInfo(Napi::Env env, Napi::Object exports);
void RegisterSocketDiag(Napi::Env env, Napi::Object exports);
void RegisterWaitFds(Napi::Env env, Napi::Object exports);

}  // namespace solely
