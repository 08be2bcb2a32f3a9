// Shared by every mechanism file: each exported function makes one syscall or one atomic group
// of them and returns a value >= 0 or -errno. OS failures are values, never JS exceptions.
#pragma once

#include <napi.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>

namespace solely {

inline Napi::Number Result(const Napi::CallbackInfo& info, double value) {
  return Napi::Number::New(info.Env(), value);
}

// What an exported function takes, in order. TypeScript validates what users pass, so a mismatch
// is a caller's bug: it is thrown, never read as a default (an undefined fd is not fd 0).
enum class Arg { kInt32, kString, kBigInt, kFunction, kBuffer };

// Throws a TypeError (a RangeError for a number that is no int32) unless info's arguments have
// these types; the caller then returns at once, having done nothing.
inline bool CheckArgs(const Napi::CallbackInfo& info, std::initializer_list<Arg> types) {
  size_t i = 0;
  for (Arg type : types) {
    Napi::Value value = info[i++];
    const char* expected = nullptr;
    switch (type) {
      case Arg::kInt32:
        if (!value.IsNumber()) {
          expected = "a number";
        } else {
          double number = value.As<Napi::Number>().DoubleValue();
          if (!(number >= INT32_MIN && number <= INT32_MAX && number == std::trunc(number))) {
            std::string message = "Argument " + std::to_string(i) + " must be a 32-bit integer";
            Napi::RangeError::New(info.Env(), message).ThrowAsJavaScriptException();
            return false;
          }
        }
        break;
      case Arg::kString:
        if (!value.IsString()) expected = "a string";
        break;
      case Arg::kBigInt:
        if (!value.IsBigInt()) expected = "a bigint";
        break;
      case Arg::kFunction:
        if (!value.IsFunction()) expected = "a function";
        break;
      case Arg::kBuffer:
        if (!value.IsBuffer()) expected = "a Buffer";
        break;
    }
    if (expected != nullptr) {
      std::string message = "Argument " + std::to_string(i) + " must be " + expected;
      Napi::TypeError::New(info.Env(), message).ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

// An argument CheckArgs has seen to be an int32.
inline int IntArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}

// Copies a string argument's UTF-8 bytes into buf with a terminating NUL. Returns the byte length,
// or -ENAMETOOLONG when it may not fit (napi truncates silently), or -EINVAL if napi fails.
template <size_t N>
int CopyString(const Napi::CallbackInfo& info, size_t i, char (&buf)[N]) {
  size_t length = 0;
  if (napi_get_value_string_utf8(info.Env(), info[i], buf, N, &length) != napi_ok) return -EINVAL;
  if (length >= N - 1) return -ENAMETOOLONG;
  return static_cast<int>(length);
}

// Calls fn(status) on recv for a native event, inside the caller's HandleScope; an exception it
// throws surfaces as Node surfaces one from any callback (uncaught).
inline void CallWithStatus(napi_env env, napi_value recv, napi_value fn, int status) {
  napi_value argv[] = {Napi::Number::New(env, status)};
  napi_value result;
  if (napi_make_callback(env, nullptr, recv, fn, 1, argv, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

// Generic descriptor operations (fd.cc).

// open(info[0], info[1] | O_CLOEXEC, info[2]), the path copied into path: the fd or -errno.
int OpenFromArgs(const Napi::CallbackInfo& info, char (&path)[PATH_MAX + 1]);

// The one same-file check: 0 if name in dir (not followed) is the inode dev/ino, -ESTALE if it
// names another file, or -errno (-ENOENT when it names nothing).
int SameFileAt(int dir, const char* name, uint64_t dev, uint64_t ino);

// unlinkat(dir, name) only if SameFileAt: 0, -ESTALE, or -errno.
int UnlinkIfSame(int dir, const char* name, uint64_t dev, uint64_t ino);

// [mode, dev, ino] with dev and ino as BigInt, so that no inode number is rounded.
Napi::Value StatResult(const Napi::CallbackInfo& info, const struct stat& st);

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

// A non-blocking, close-on-exec AF_UNIX stream socket on which step (bind or connect) to addr
// succeeded: the fd, or -errno. NONBLOCK so that the fd can be handed to net.
inline int UnixSocket(int (*step)(int, const sockaddr*, socklen_t), const sockaddr_un& addr,
                      int length) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  if (step(fd, reinterpret_cast<const sockaddr*>(&addr), length) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

// A socket bound to addr: the fd, or -errno.
inline int BoundSocket(const sockaddr_un& addr, int length) {
  return UnixSocket(bind, addr, length);
}

// A socket connected to addr, as a probe: a full backlog is EAGAIN; a name bound but not
// listening, or not bound, is ECONNREFUSED. A non-blocking AF_UNIX connect never sleeps, so it
// cannot be interrupted (no EINTR). Returns the fd or -errno.
inline int ConnectedSocket(const sockaddr_un& addr, int length) {
  return UnixSocket(connect, addr, length);
}

#endif

void RegisterAbstractSocket(Napi::Env env, Napi::Object exports);
void RegisterPeerCred(Napi::Env env, Napi::Object exports);
void RegisterFileLock(Napi::Env env, Napi::Object exports);
void RegisterLockOnThread(Napi::Env env, Napi::Object exports);
void RegisterInotify(Napi::Env env, Napi::Object exports);
void RegisterFdWatch(Napi::Env env, Napi::Object exports);
void RegisterFdWatchOnThread(Napi::Env env, Napi::Object exports);
void RegisterFd(Napi::Env env, Napi::Object exports);
void RegisterPidfile(Napi::Env env, Napi::Object exports);
void RegisterStatfs(Napi::Env env, Napi::Object exports);
void RegisterUnixSocket(Napi::Env env, Napi::Object exports);
void RegisterSocketInfo(Napi::Env env, Napi::Object exports);
void RegisterSocketDiag(Napi::Env env, Napi::Object exports);
void RegisterWaitFds(Napi::Env env, Napi::Object exports);
void RegisterFdPassing(Napi::Env env, Napi::Object exports);
void RegisterByteIo(Napi::Env env, Napi::Object exports);
void RegisterExec(Napi::Env env, Napi::Object exports);

}  // namespace solely
