// Exclusive locks on a file or directory: flock(2), or an open-file-description fcntl lock.
// Classic POSIX fcntl locks are never used on Linux: they do not conflict inside one process and
// vanish when any descriptor of the file is closed.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "solely.h"

namespace solely {
namespace {

enum Method : int { kFlock = 0, kFcntl = 1 };

#ifdef F_OFD_SETLK
constexpr int kSetLock = F_OFD_SETLK;
#else
constexpr int kSetLock = F_SETLK;  // no OFD locks on this system: the classic lock is all there is
#endif

// Non-blocking: contention is EWOULDBLOCK (flock) or EAGAIN/EACCES (fcntl).
int Lock(int fd, int method, bool unlock) {
  int rc;
  if (method == kFcntl) {
    struct flock range = {};
    range.l_type = unlock ? F_UNLCK : F_WRLCK;
    range.l_whence = SEEK_SET;  // start 0, length 0: the whole file, however it grows
    do rc = fcntl(fd, kSetLock, &range);
    while (rc < 0 && errno == EINTR);
  } else {
    do rc = flock(fd, unlock ? LOCK_UN : LOCK_EX | LOCK_NB);
    while (rc < 0 && errno == EINTR);
  }
  return rc < 0 ? -errno : 0;
}

// open(path, flags | O_CLOEXEC, mode). Returns the fd or -errno.
Napi::Value Open(const Napi::CallbackInfo& info) {
  char path[PATH_MAX + 1];
  int length = CopyString(info, 0, path);
  if (length < 0) return Result(info, length);
  int flags = IntArg(info, 1) | O_CLOEXEC;
  mode_t mode = static_cast<mode_t>(IntArg(info, 2));
  int fd;
  do fd = open(path, flags, mode);
  while (fd < 0 && errno == EINTR);
  return Result(info, fd < 0 ? -errno : fd);
}

// lockVerified(fd, path, method): lock, then check that path still names the locked inode
// (FreeBSD flopen). If it was unlinked or replaced meanwhile, a second holder could lock the new
// file: that is -ESTALE, and the caller closes fd and opens again. Returns 0 or -errno.
Napi::Value LockVerified(const Napi::CallbackInfo& info) {
  int fd = IntArg(info, 0);
  char path[PATH_MAX + 1];
  int length = CopyString(info, 1, path);
  if (length < 0) return Result(info, length);
  int rc = Lock(fd, IntArg(info, 2), false);
  if (rc < 0) return Result(info, rc);
  struct stat held, named;
  if (fstat(fd, &held) < 0) return Result(info, -errno);
  if (fstatat(AT_FDCWD, path, &named, AT_SYMLINK_NOFOLLOW) < 0) {
    return Result(info, errno == ENOENT ? -ESTALE : -errno);
  }
  bool same = held.st_dev == named.st_dev && held.st_ino == named.st_ino;
  return Result(info, same ? 0 : -ESTALE);
}

// Unlock before close, so that a child sharing the open file description between fork and
// exec cannot prolong the lock. Returns 0 or -errno (the fd is closed either way).
Napi::Value UnlockClose(const Napi::CallbackInfo& info) {
  int fd = IntArg(info, 0);
  int rc = Lock(fd, IntArg(info, 1), true);
  if (close(fd) < 0 && rc == 0) rc = -errno;
  return Result(info, rc);
}

}  // namespace

void RegisterFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("lockVerified", Napi::Function::New(env, LockVerified, "lockVerified"));
  exports.Set("unlockClose", Napi::Function::New(env, UnlockClose, "unlockClose"));
  Napi::Object methods = Napi::Object::New(env);
  methods.Set("flock", static_cast<double>(kFlock));
  methods.Set("fcntl", static_cast<double>(kFcntl));
  exports.Set("lockMethods", methods);
}

}  // namespace solely
