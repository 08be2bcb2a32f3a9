// One LockAndVerify on a thread of its own, for network filesystems where even a non-blocking
// lock request can wait on the server: never the event loop, never libuv's pool. A thread of
// pthread_create, not libuv's uv_thread (Bun stubs it with a panic); glibc 2.34 gave
// pthread_create a new symbol version, which the prebuilds do not take (glibc_floor.cc).
//
// The environment (a Worker, or the process at exit) may end while the request is in flight, and
// Node then frees the threadsafe function whatever threads still hold it. So the thread touches
// it only under Link's mutex, and only while its finalizer has not run.
#include <pthread.h>

#include <mutex>

#include "file_lock.h"
#include "solely.h"

namespace solely {
namespace {

struct Link {
  std::mutex mutex;
  bool finalized = false;  // the threadsafe function is gone
  int holders = 2;         // the thread and the finalizer: the last one frees the Link
};

void Unhold(Link* link) {  // called with link->mutex held; unlocks it
  bool last = --link->holders == 0;
  link->mutex.unlock();
  if (last) delete link;
}

void Finalized(napi_env /*env*/, void* data, void* /*hint*/) {
  auto* link = static_cast<Link*>(data);
  link->mutex.lock();
  link->finalized = true;
  Unhold(link);
}

struct ThreadAttempt {
  pthread_t thread;
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

void* RunAttempt(void* arg) {
  auto* attempt = static_cast<ThreadAttempt*>(arg);
  attempt->rc = LockAndVerify(attempt->fd, attempt->path, attempt->method);
  Link* link = attempt->link;
  napi_threadsafe_function done = attempt->done;
  link->mutex.lock();
  bool queued = !link->finalized &&
                napi_call_threadsafe_function(done, attempt, napi_tsfn_blocking) == napi_ok;
  if (queued) napi_release_threadsafe_function(done, napi_tsfn_release);
  Unhold(link);
  // Once queued, the attempt belongs to CallBack (which also runs, env-less, at teardown). If not,
  // the environment has ended (napi_closing dropped our hold): the fd is ours to release, outside
  // the mutex, since closing on a network filesystem can wait. This thread is never joined then.
  if (!queued) Abandon(attempt);
  return nullptr;
}

void CallBack(napi_env env, napi_value callback, void* /*context*/, void* data) {
  auto* attempt = static_cast<ThreadAttempt*>(data);
  pthread_join(attempt->thread, nullptr);       // it only has its return left: microseconds
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
  attempt->link = link;
  napi_value name = Napi::String::New(info.Env(), "solely.lockOnThread");
  if (napi_create_threadsafe_function(info.Env(), info[3], nullptr, name, 0, 1, link, Finalized,
                                      nullptr, CallBack, &attempt->done) != napi_ok) {
    delete link;
    delete attempt;
    return Result(info, -ENOMEM);
  }
  int err = pthread_create(&attempt->thread, nullptr, RunAttempt, attempt);
  if (err != 0) {  // the release runs Finalized, which drops a hold
    link->mutex.lock();
    Unhold(link);  // the thread's
    napi_release_threadsafe_function(attempt->done, napi_tsfn_release);
    delete attempt;
    return Result(info, -err);
  }
  return Result(info, 0);
}

}  // namespace

void RegisterLockOnThread(Napi::Env env, Napi::Object exports) {
  exports.Set("lockVerifiedOnThread",
              Napi::Function::New(env, LockVerifiedOnThread, "lockVerifiedOnThread"));
}

}  // namespace solely
