// Unix-socket servers on filesystem paths. A name is always addressed relative to a kept
// directory fd, so that the checks, the bind, the chmod and the final unlink all see the same
// directory; bind() itself takes the address the caller chose (the path, or
// /proc/self/fd/N/name when the path is longer than sun_path).
#include <fcntl.h>
#include <sys/stat.h>

#include <climits>
#include <cstring>

#include "solely.h"

namespace solely {
namespace {

#ifdef __linux__

// The address as the kernel wants it: NUL-terminated, at most 107 bytes. Returns its length
// for bind/connect, or -errno (-ENAMETOOLONG when it does not fit).
int PathAddress(const Napi::CallbackInfo& info, size_t i, sockaddr_un* addr) {
  char path[sizeof(sockaddr_un::sun_path) + 1];  // CopyString keeps one byte to detect truncation
  int length = CopyString(info, i, path);
  if (length < 0) return length;
  if (length == 0) return -EINVAL;  // an empty address would autobind
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path, length + 1);
  return static_cast<int>(offsetof(sockaddr_un, sun_path) + length + 1);
}

// unixListen(address, dirfd, name, mode, backlog): socket + bind(address) + record the bound
// inode (fstatat dirfd/name, which must be a socket) + chmod when mode >= 0 + listen.
// Returns [fd, dev, ino] or -errno; on failure after bind, the socket file it created is removed.
// The chmod comes before listen, so no client can connect while the umask's mode is in force;
// it goes through dirfd with AT_SYMLINK_NOFOLLOW (glibc: fchmodat2 or an O_PATH fd via /proc),
// so a name swapped for a symlink meanwhile is refused, never followed.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString, Arg::kInt32, Arg::kString, Arg::kInt32, Arg::kInt32}))
    return info.Env().Undefined();
  sockaddr_un addr;
  int length = PathAddress(info, 0, &addr);
  if (length < 0) return Result(info, length);
  int dir = IntArg(info, 1);
  char name[NAME_MAX + 2];
  int nameLength = CopyString(info, 2, name);
  if (nameLength < 0) return Result(info, nameLength);
  int mode = IntArg(info, 3);
  int backlog = IntArg(info, 4);

  int fd = BoundSocket(addr, length);
  if (fd < 0) return Result(info, fd);
  struct stat st;
  int err = 0;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    err = errno;
  } else if (!S_ISSOCK(st.st_mode)) {
    err = ESTALE;  // replaced between bind and stat: not ours to remove
  } else if ((mode >= 0 &&
              fchmodat(dir, name, static_cast<mode_t>(mode), AT_SYMLINK_NOFOLLOW) < 0) ||
             listen(fd, backlog) < 0) {
    err = errno;
    UnlinkIfSame(dir, name, st.st_dev, st.st_ino);
  }
  if (err != 0) {
    close(fd);
    return Result(info, -err);
  }
  Napi::Value result = StatResult(info, st);
  result.As<Napi::Array>().Set(0u, Napi::Number::New(info.Env(), fd));
  return result;
}

// A non-blocking connect to a socket path, as a probe (see ConnectedSocket). The fd or -errno.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString})) return info.Env().Undefined();
  sockaddr_un addr;
  int length = PathAddress(info, 0, &addr);
  if (length < 0) return Result(info, length);
  return Result(info, ConnectedSocket(addr, length));
}

#else

Napi::Value Listen(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }
Napi::Value Connect(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }

#endif

}  // namespace

void RegisterUnixSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("unixListen", Napi::Function::New(env, Listen, "unixListen"));
  exports.Set("unixConnect", Napi::Function::New(env, Connect, "unixConnect"));
}

}  // namespace solely
