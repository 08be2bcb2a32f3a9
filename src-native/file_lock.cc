// Exclusive locks on a file or directory: flock(2), or an open-file-description fcntl lock.
// Classic POSIX fcntl locks are never used on Linux: they do not conflict inside one process and
// vanish when any descriptor of the file is closed.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

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

// open(info[0], info[1] | O_CLOEXEC, info[2]), the path copied into path: the fd or -errno.
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

// open(path, flags | O_CLOEXEC, mode). Returns the fd or -errno.
Napi::Value Open(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString, Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  char path[PATH_MAX + 1];
  return Result(info, OpenFromArgs(info, path));
}

// Unlock before close, so that a child sharing the open file description between fork and
// exec cannot prolong the lock. 0 or -errno (the fd is closed either way).
int UnlockAndClose(int fd, int method) {
  int rc = Lock(fd, method, true);
  if (close(fd) < 0 && rc == 0) rc = -errno;
  return rc;
}

// Lock, then check that path still names the locked inode (FreeBSD flopen). If it was unlinked
// or replaced meanwhile, a second holder could lock the new file: that is -ESTALE, and the caller
// closes fd and opens again. Returns 0 or -errno.
int LockAndVerify(int fd, const char* path, int method) {
  int rc = Lock(fd, method, false);
  if (rc < 0) return rc;
  struct stat held, named;
  if (fstat(fd, &held) < 0) return -errno;
  if (fstatat(AT_FDCWD, path, &named, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? -ESTALE : -errno;
  return held.st_dev == named.st_dev && held.st_ino == named.st_ino ? 0 : -ESTALE;
}

// Failures of the lock step are reported past this offset, so that the caller knows which call
// failed: errno values end at the kernel's MAX_ERRNO, 4095.
constexpr int kLockStage = 4096;

// openLocked(path, flags, mode, method): open(flags | O_CLOEXEC) + LockAndVerify in one call, the
// common attempt. The fd; -errno if open failed; -(kLockStage + errno) if locking or the check
// failed (the fd is closed then).
Napi::Value OpenLocked(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString, Arg::kInt32, Arg::kInt32, Arg::kInt32}))
    return info.Env().Undefined();
  char path[PATH_MAX + 1];
  int fd = OpenFromArgs(info, path);
  if (fd < 0) return Result(info, fd);
  int rc = LockAndVerify(fd, path, IntArg(info, 3));
  if (rc < 0) {
    close(fd);
    return Result(info, rc - kLockStage);
  }
  return Result(info, fd);
}

// lockVerified(fd, path, method): LockAndVerify on the calling thread.
Napi::Value LockVerified(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString, Arg::kInt32})) return info.Env().Undefined();
  char path[PATH_MAX + 1];
  int length = CopyString(info, 1, path);
  if (length < 0) return Result(info, length);
  return Result(info, LockAndVerify(IntArg(info, 0), path, IntArg(info, 2)));
}

// One LockAndVerify on a thread of its own, for network filesystems where even a non-blocking
// lock request can wait on the server: never the event loop, never libuv's pool. The thread is
// libuv's (exported by Node), not pthread_create: glibc 2.34 gave that a new symbol version,
// which would raise the prebuild's glibc floor above Node 20's own.
//
// The environment (a Worker, or the process at exit) may end while the request is in flight, and
// Node then frees the threadsafe function whatever threads still hold it. So the thread touches
// it only under Link's mutex, and only while its finalizer has not run.
struct Link {
  uv_mutex_t mutex;
  bool finalized = false;  // the threadsafe function is gone
  int holders = 2;         // the thread and the finalizer: the last one frees the Link
};

void Unhold(Link* link) {  // called with link->mutex held; unlocks it
  bool last = --link->holders == 0;
  uv_mutex_unlock(&link->mutex);
  if (!last) return;
  uv_mutex_destroy(&link->mutex);
  delete link;
}

void Finalized(napi_env /*env*/, void* data, void* /*hint*/) {
  auto* link = static_cast<Link*>(data);
  uv_mutex_lock(&link->mutex);
  link->finalized = true;
  Unhold(link);
}

struct ThreadAttempt {
  uv_thread_t thread;
  napi_threadsafe_function done;
  Link* link;
  int fd;
  int method;
  int rc;
  char path[PATH_MAX + 1];
};

// No JavaScript is left to own the fd: release it here, or the lock would outlive its thread with
// no handle to free it.
void Abandon(ThreadAttempt* attempt) {
  UnlockAndClose(attempt->fd, attempt->method);
  delete attempt;
}

void RunAttempt(void* arg) {
  auto* attempt = static_cast<ThreadAttempt*>(arg);
  attempt->rc = LockAndVerify(attempt->fd, attempt->path, attempt->method);
  Link* link = attempt->link;
  napi_threadsafe_function done = attempt->done;
  uv_mutex_lock(&link->mutex);
  bool queued = !link->finalized &&
                napi_call_threadsafe_function(done, attempt, napi_tsfn_blocking) == napi_ok;
  if (queued) napi_release_threadsafe_function(done, napi_tsfn_release);
  Unhold(link);
  // Once queued, the attempt belongs to CallBack (which also runs, env-less, at teardown). If not,
  // the environment has ended (napi_closing dropped our hold): the fd is ours to release, outside
  // the mutex, since closing on a network filesystem can wait. This thread is never joined then.
  if (!queued) Abandon(attempt);
}

void CallBack(napi_env env, napi_value callback, void* /*context*/, void* data) {
  auto* attempt = static_cast<ThreadAttempt*>(data);
  uv_thread_join(&attempt->thread);             // it only has its return left: microseconds
  if (env == nullptr) return Abandon(attempt);  // queued, then the environment ended
  int rc = attempt->rc;
  delete attempt;
  napi_value argv[1];
  napi_value undefined;
  napi_create_int32(env, rc, &argv[0]);
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, callback, 1, argv, nullptr);
}

// lockVerifiedOnThread(fd, path, method, callback): starts the attempt and returns 0 (callback(rc)
// follows on the event loop) or -errno if no thread could start. The fd stays the caller's, who
// must not close it before the callback; if the environment ends first, the addon closes it.
Napi::Value LockVerifiedOnThread(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString, Arg::kInt32, Arg::kFunction}))
    return info.Env().Undefined();
  auto* attempt = new ThreadAttempt();
  attempt->fd = IntArg(info, 0);
  attempt->method = IntArg(info, 2);
  int length = CopyString(info, 1, attempt->path);
  if (length < 0) {
    delete attempt;
    return Result(info, length);
  }
  auto* link = new Link();
  if (uv_mutex_init(&link->mutex) < 0) {
    delete link;
    delete attempt;
    return Result(info, -ENOMEM);
  }
  attempt->link = link;
  napi_value name = Napi::String::New(info.Env(), "solely.lockOnThread");
  if (napi_create_threadsafe_function(info.Env(), info[3], nullptr, name, 0, 1, link, Finalized,
                                      nullptr, CallBack, &attempt->done) != napi_ok) {
    uv_mutex_destroy(&link->mutex);
    delete link;
    delete attempt;
    return Result(info, -ENOMEM);
  }
  int err = uv_thread_create(&attempt->thread, RunAttempt, attempt);
  if (err < 0) {  // libuv errors are -errno on Unix; the release runs Finalized, which drops a hold
    uv_mutex_lock(&link->mutex);
    Unhold(link);  // the thread's
    napi_release_threadsafe_function(attempt->done, napi_tsfn_release);
    delete attempt;
    return Result(info, err);
  }
  return Result(info, 0);
}

// unlockClose(fd, method): UnlockAndClose. 0 or -errno (the fd is closed either way).
Napi::Value UnlockClose(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  return Result(info, UnlockAndClose(IntArg(info, 0), IntArg(info, 1)));
}

}  // namespace

void RegisterFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("openLocked", Napi::Function::New(env, OpenLocked, "openLocked"));
  exports.Set("lockStage", static_cast<double>(kLockStage));
  exports.Set("lockVerified", Napi::Function::New(env, LockVerified, "lockVerified"));
  exports.Set("lockVerifiedOnThread",
              Napi::Function::New(env, LockVerifiedOnThread, "lockVerifiedOnThread"));
  exports.Set("unlockClose", Napi::Function::New(env, UnlockClose, "unlockClose"));
  Napi::Object methods = Napi::Object::New(env);
  methods.Set("flock", static_cast<double>(kFlock));
  methods.Set("fcntl", static_cast<double>(kFcntl));
  exports.Set("lockMethods", methods);
}

}  // namespace solely
