// The descriptors that pending waits keep open only to wait (a lock file watched by inotify, a
// socket connected to the holder), one registry per JavaScript environment. When the environment
// ends (a Worker terminated or exiting mid-wait), no JavaScript is left to close them: the
// registry's cleanup hook does. A lock once acquired is never in it: its handle owns the fd.
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "solely.h"

namespace solely {
namespace {

using WaitFds = std::vector<int>;

WaitFds& FdsOf(const Napi::CallbackInfo& info) { return *static_cast<WaitFds*>(info.Data()); }

void Forget(WaitFds& fds, int fd) {
  auto found = std::find(fds.begin(), fds.end(), fd);
  if (found != fds.end()) fds.erase(found);
}

// trackWaitFd(fd): the registry owns fd until untrackWaitFd or closeWaitFd.
Napi::Value Track(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  FdsOf(info).push_back(IntArg(info, 0));
  return info.Env().Undefined();
}

// untrackWaitFd(fd): fd passes to another owner (a lock handle, a lock request's thread).
Napi::Value Untrack(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  Forget(FdsOf(info), IntArg(info, 0));
  return info.Env().Undefined();
}

// closeWaitFd(fd): forgets and closes fd (never retried: Linux has released it whatever close()
// returns). 0 or -errno.
Napi::Value Close(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  int fd = IntArg(info, 0);
  Forget(FdsOf(info), fd);
  return Result(info, close(fd) < 0 ? -errno : 0);
}

// Runs after the hooks added later (they run in reverse order), so the FdWatch handles polling
// these fds are closed before the fds themselves. (An fd FdWatchOnThread still watches may close
// first: the kernel drops it from the epoll set, and the watch never touches it again.)
void CloseAtTeardown(void* arg) {
  auto* fds = static_cast<WaitFds*>(arg);
  for (int fd : *fds) close(fd);
  delete fds;
}

}  // namespace

void RegisterWaitFds(Napi::Env env, Napi::Object exports) {
  auto* fds = new WaitFds();
  napi_add_env_cleanup_hook(env, CloseAtTeardown, fds);
  exports.Set("trackWaitFd", Napi::Function::New(env, Track, "trackWaitFd", fds));
  exports.Set("untrackWaitFd", Napi::Function::New(env, Untrack, "untrackWaitFd", fds));
  exports.Set("closeWaitFd", Napi::Function::New(env, Close, "closeWaitFd", fds));
}

}  // namespace solely
