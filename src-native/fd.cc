// Generic descriptor operations: open, close, dup, FD_CLOEXEC, F_GETFL, and the *at() calls on a
// kept directory fd that check a name still names a known inode before acting on it (one same-file
// check for all).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "solely.h"

namespace solely {

int OpenFromArgs(const Napi::CallbackInfo& info, char (&path)[PATH_MAX + 1]) {
  int length = CopyString(info, 0, path);
  if (length < 0) return length;
  int flags = IntArg(info, 1) | O_CLOEXEC;
  mode_t mode = static_cast<mode_t>(IntArg(info, 2));
  int fd;
  do fd = open(path, flags, mode);
  while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}

int SameFileAt(int dir, const char* name, uint64_t dev, uint64_t ino) {
  struct stat named;
  if (fstatat(dir, name, &named, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
  bool same =
      static_cast<uint64_t>(named.st_dev) == dev && static_cast<uint64_t>(named.st_ino) == ino;
  return same ? 0 : -ESTALE;
}

// No syscall can make the check and the unlink atomic; only the holder of the path's lock calls
// this, so the window is between that holder and intruders outside the protocol.
int UnlinkIfSame(int dir, const char* name, uint64_t dev, uint64_t ino) {
  int rc = SameFileAt(dir, name, dev, ino);
  if (rc < 0) return rc;
  return unlinkat(dir, name, 0) < 0 ? -errno : 0;
}

Napi::Value StatResult(const Napi::CallbackInfo& info, const struct stat& st) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, st.st_mode));
  out.Set(1u, Napi::BigInt::New(env, static_cast<uint64_t>(st.st_dev)));
  out.Set(2u, Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
  return out;
}

namespace {

// open(path, flags | O_CLOEXEC, mode). Returns the fd or -errno.
Napi::Value Open(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString, Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  char path[PATH_MAX + 1];
  return Result(info, OpenFromArgs(info, path));
}

// Never retried on EINTR: Linux has released the descriptor whatever close() returns.
Napi::Value Close(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  return Result(info, close(IntArg(info, 0)) < 0 ? -errno : 0);
}

// setCloexec(fd): FD_CLOEXEC on an fd this process inherited (sd_listen_fds does the same for
// every passed fd). 0 or -errno.
Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  int fd = IntArg(info, 0);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return Result(info, -errno);
  if ((flags & FD_CLOEXEC) == 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
    return Result(info, -errno);
  }
  return Result(info, 0);
}

// dup(fd): a close-on-exec duplicate (F_DUPFD_CLOEXEC), the same open file description. The fd
// or -errno.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  int fd = fcntl(IntArg(info, 0), F_DUPFD_CLOEXEC, 0);
  return Result(info, fd < 0 ? -errno : fd);
}

// fileStatusFlags(fd): F_GETFL, the access mode and status flags of fd's open file description
// (O_PATH included), or -errno.
Napi::Value FileStatusFlags(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  int flags = fcntl(IntArg(info, 0), F_GETFL);
  return Result(info, flags < 0 ? -errno : flags);
}

uint64_t BigIntArg(const Napi::CallbackInfo& info, size_t i) {
  bool lossless = true;
  return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
}

// statAt(dirfd, name): lstat of a name in a kept directory: [mode, dev, ino] or -errno.
Napi::Value StatAt(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString})) return info.Env().Undefined();
  char name[NAME_MAX + 2];
  int length = CopyString(info, 1, name);
  if (length < 0) return Result(info, length);
  struct stat st;
  if (fstatat(IntArg(info, 0), name, &st, AT_SYMLINK_NOFOLLOW) < 0) return Result(info, -errno);
  return StatResult(info, st);
}

// fstat(fd): [mode, dev, ino, rdev] or -errno (rdev: the device number of a device file, encoded
// as glibc's st_rdev). Runtimes other than Node cannot fstat an fd they did not open (Deno's fs
// knows only its own resources).
Napi::Value Fstat(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  struct stat st;
  if (fstat(IntArg(info, 0), &st) < 0) return Result(info, -errno);
  Napi::Value result = StatResult(info, st);
  result.As<Napi::Array>().Set(3u,
                               Napi::BigInt::New(info.Env(), static_cast<uint64_t>(st.st_rdev)));
  return result;
}

// unlinkAtIf(dirfd, name, dev, ino): 0, -ESTALE if name is another inode now, or -errno.
Napi::Value UnlinkAtIf(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString, Arg::kBigInt, Arg::kBigInt}))
    return info.Env().Undefined();
  char name[NAME_MAX + 2];
  int length = CopyString(info, 1, name);
  if (length < 0) return Result(info, length);
  return Result(info, UnlinkIfSame(IntArg(info, 0), name, BigIntArg(info, 2), BigIntArg(info, 3)));
}

// unlinkVerified(dirfd, name, fd): unlinkAtIf for the inode fd refers to. Returns 0, -ESTALE when
// name names another file (or nothing: -ENOENT), or -errno.
Napi::Value UnlinkVerified(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString, Arg::kInt32})) return info.Env().Undefined();
  int dir = IntArg(info, 0);
  char name[PATH_MAX + 1];
  int length = CopyString(info, 1, name);
  if (length < 0) return Result(info, length);
  struct stat held;
  if (fstat(IntArg(info, 2), &held) < 0) return Result(info, -errno);
  return Result(info, UnlinkIfSame(dir, name, held.st_dev, held.st_ino));
}

}  // namespace

void RegisterFd(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("fileStatusFlags", Napi::Function::New(env, FileStatusFlags, "fileStatusFlags"));
  exports.Set("statAt", Napi::Function::New(env, StatAt, "statAt"));
  exports.Set("fstat", Napi::Function::New(env, Fstat, "fstat"));
  exports.Set("unlinkAtIf", Napi::Function::New(env, UnlinkAtIf, "unlinkAtIf"));
  exports.Set("unlinkVerified", Napi::Function::New(env, UnlinkVerified, "unlinkVerified"));
#if defined(__linux__) && defined(O_PATH)
  exports.Set("O_PATH", static_cast<double>(O_PATH));
#else
  exports.Set("O_PATH", 0.0);  // no O_PATH: O_PATH | O_DIRECTORY is O_RDONLY | O_DIRECTORY
#endif
}

}  // namespace solely
