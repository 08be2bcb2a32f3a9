// Exclusive or shared locks on a file or directory: flock(2), or an open-file-description
// fcntl lock. Classic POSIX fcntl locks are never used: they do not conflict inside one process
// and vanish when any descriptor of the file is closed. Where OFD locks do not exist, ofdLocks is
// false and TypeScript refuses method 'fcntl'.
#include "file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "solely.h"

namespace solely {

namespace {

#ifdef F_OFD_SETLK
constexpr bool kOfdLocks = true;
#else
constexpr bool kOfdLocks = false;
#endif

// Non-blocking: contention is EWOULDBLOCK (flock) or EAGAIN/EACCES (fcntl).
int Lock(int fd, int method, bool unlock) {
  int rc;
  bool shared = (method & kShared) != 0;
  if ((method & ~kShared) == kFcntl) {
#ifdef F_OFD_SETLK
    struct flock range = {};
    range.l_type = unlock ? F_UNLCK : shared ? F_RDLCK : F_WRLCK;
    range.l_whence = SEEK_SET;  // start 0, length 0: the whole file, however it grows
    do rc = fcntl(fd, F_OFD_SETLK, &range);
    while (rc < 0 && errno == EINTR);
#else
    return -ENOTSUP;
#endif
  } else {
    do rc = flock(fd, unlock ? LOCK_UN : (shared ? LOCK_SH : LOCK_EX) | LOCK_NB);
    while (rc < 0 && errno == EINTR);
  }
  return rc < 0 ? -errno : 0;
}

// openLocked(path, flags, mode, method): open(flags | O_CLOEXEC) + LockAndVerify in one call, the
// common attempt. The fd; the lock step's -errno, the fd closed again (contention is a number:
// nothing is allocated for it); or [-errno] when open itself failed, so that the caller knows its
// fallbacks apply.
Napi::Value OpenLocked(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString, Arg::kInt32, Arg::kInt32, Arg::kInt32}))
    return info.Env().Undefined();
  char path[PATH_MAX + 1];
  int fd = OpenFromArgs(info, path);
  if (fd < 0) {
    Napi::Array failure = Napi::Array::New(info.Env(), 1);
    failure.Set(0u, Result(info, fd));
    return failure;
  }
  int rc = LockAndVerify(fd, path, IntArg(info, 3));
  if (rc == 0) return Result(info, fd);
  close(fd);
  return Result(info, rc);
}

// lockVerified(fd, path, method): LockAndVerify on the calling thread.
Napi::Value LockVerified(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString, Arg::kInt32})) return info.Env().Undefined();
  char path[PATH_MAX + 1];
  int length = CopyString(info, 1, path);
  if (length < 0) return Result(info, length);
  return Result(info, LockAndVerify(IntArg(info, 0), path, IntArg(info, 2)));
}

// unlockClose(fd, method): UnlockAndClose. 0 or -errno (the fd is closed either way).
Napi::Value UnlockClose(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  return Result(info, UnlockAndClose(IntArg(info, 0), IntArg(info, 1)));
}

}  // namespace

int LockAndVerify(int fd, const char* path, int method) {
  int rc = Lock(fd, method, false);
  if (rc < 0) return rc;
  struct stat held;
  if (fstat(fd, &held) < 0) return -errno;
  rc = SameFileAt(AT_FDCWD, path, held.st_dev, held.st_ino);
  return rc == -ENOENT ? -ESTALE : rc;  // unlinked: open it again
}

int UnlockAndClose(int fd, int method) {
  int rc = Lock(fd, method, true);
  if (close(fd) < 0 && rc == 0) rc = -errno;
  return rc;
}

void RegisterFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("openLocked", Napi::Function::New(env, OpenLocked, "openLocked"));
  exports.Set("lockVerified", Napi::Function::New(env, LockVerified, "lockVerified"));
  exports.Set("unlockClose", Napi::Function::New(env, UnlockClose, "unlockClose"));
  Napi::Object methods = Napi::Object::New(env);
  methods.Set("flock", static_cast<double>(kFlock));
  methods.Set("fcntl", static_cast<double>(kFcntl));
  exports.Set("lockMethods", methods);
  exports.Set("sharedLock", static_cast<double>(kShared));
  exports.Set("ofdLocks", Napi::Boolean::New(env, kOfdLocks));
}

}  // namespace solely
