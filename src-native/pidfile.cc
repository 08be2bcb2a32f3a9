// Pidfile contents and removal (BSD pidfile(3)): written only under the lock, removed only if the
// name still names the locked file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "solely.h"

namespace solely {
namespace {

// pidfileWrite(fd, text): ftruncate to 0, then pwrite text at offset 0, as pidfile_write does.
// Returns the bytes written or -errno.
Napi::Value Write(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString})) return info.Env().Undefined();
  int fd = IntArg(info, 0);
  char text[64];
  int length = CopyString(info, 1, text);
  if (length < 0) return Result(info, length);
  int rc;
  do rc = ftruncate(fd, 0);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return Result(info, -errno);
  int written = 0;
  while (written < length) {
    ssize_t n = pwrite(fd, text + written, length - written, written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Result(info, -errno);
    if (n == 0) return Result(info, -EIO);
    written += static_cast<int>(n);
  }
  return Result(info, written);
}

// unlinkVerified(dirfd, name, fd): unlinkat(dirfd, name) only if name, in that directory, is the
// file fd refers to (same dev/ino, not followed). Returns 0, -ESTALE when it names another file
// (or nothing: -ENOENT), or -errno.
Napi::Value UnlinkVerified(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString, Arg::kInt32})) return info.Env().Undefined();
  int dirfd = IntArg(info, 0);
  char name[PATH_MAX + 1];
  int length = CopyString(info, 1, name);
  if (length < 0) return Result(info, length);
  struct stat held, named;
  if (fstat(IntArg(info, 2), &held) < 0) return Result(info, -errno);
  if (fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) < 0) return Result(info, -errno);
  if (held.st_dev != named.st_dev || held.st_ino != named.st_ino) return Result(info, -ESTALE);
  return Result(info, unlinkat(dirfd, name, 0) < 0 ? -errno : 0);
}

}  // namespace

void RegisterPidfile(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfileWrite", Napi::Function::New(env, Write, "pidfileWrite"));
  exports.Set("unlinkVerified", Napi::Function::New(env, UnlinkVerified, "unlinkVerified"));
}

}  // namespace solely
