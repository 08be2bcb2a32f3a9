// The wake-up source of file-lock waiters: inotify reports when any holder closes the lock file
// (releasing its flock or OFD lock), or when the file is unlinked or renamed. One instance per
// JavaScript environment serves every waiter: closing an instance waits for a kernel grace
// period (milliseconds), so watches are added and removed instead.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "solely.h"

#ifdef __linux__
#include <sys/inotify.h>
#endif

namespace solely {
namespace {

#ifdef __linux__

void CloseAtTeardown(void* arg) { close(static_cast<int>(reinterpret_cast<intptr_t>(arg))); }

// inotifyInit(): a non-blocking instance, closed when the environment (thread) ends. fd or -errno.
Napi::Value Init(const Napi::CallbackInfo& info) {
  int notify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (notify < 0) return Result(info, -errno);
  napi_add_env_cleanup_hook(info.Env(), CloseAtTeardown,
                            reinterpret_cast<void*>(static_cast<intptr_t>(notify)));
  return Result(info, notify);
}

// inotifyAddWatch(notify, fd): watches the inode fd refers to, through /proc/self/fd so that a
// path replaced meanwhile cannot redirect it. The watch descriptor (shared by every watch of
// the same inode), or -errno.
Napi::Value AddWatch(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  char target[32];
  snprintf(target, sizeof target, "/proc/self/fd/%d", IntArg(info, 1));
  uint32_t mask = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF;
  int wd = inotify_add_watch(IntArg(info, 0), target, mask);
  return Result(info, wd < 0 ? -errno : wd);
}

// inotifyRmWatch(notify, wd): 0 or -errno.
Napi::Value RmWatch(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  return Result(info, inotify_rm_watch(IntArg(info, 0), IntArg(info, 1)) < 0 ? -errno : 0);
}

// inotifyRead(notify): reads every queued event; the watch descriptors they name (each once), or
// -errno.
Napi::Value Read(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  int notify = IntArg(info, 0);
  alignas(inotify_event) char events[4096];
  constexpr size_t kLargestEvent = sizeof(inotify_event) + NAME_MAX + 1;
  std::vector<int> wds;
  for (;;) {
    ssize_t n = read(notify, events, sizeof events);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return Result(info, -errno);
    if (n <= 0) break;
    for (char* p = events; p < events + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      bool seen = false;
      for (int wd : wds) seen = seen || wd == event->wd;
      if (!seen) wds.push_back(event->wd);
      p += sizeof(inotify_event) + event->len;
    }
    // Room left for any event: the queue was empty, and a read until EAGAIN would cost a wake-up
    // one more syscall. An event queued since makes the fd readable again.
    if (sizeof events - static_cast<size_t>(n) >= kLargestEvent) break;
  }
  Napi::Array out = Napi::Array::New(info.Env(), wds.size());
  for (size_t i = 0; i < wds.size(); i++) out.Set(i, Napi::Number::New(info.Env(), wds[i]));
  return out;
}

#else

Napi::Value Init(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }
Napi::Value AddWatch(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }
Napi::Value RmWatch(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }
Napi::Value Read(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }

#endif

}  // namespace

void RegisterInotify(Napi::Env env, Napi::Object exports) {
  exports.Set("inotifyInit", Napi::Function::New(env, Init, "inotifyInit"));
  exports.Set("inotifyAddWatch", Napi::Function::New(env, AddWatch, "inotifyAddWatch"));
  exports.Set("inotifyRmWatch", Napi::Function::New(env, RmWatch, "inotifyRmWatch"));
  exports.Set("inotifyRead", Napi::Function::New(env, Read, "inotifyRead"));
}

}  // namespace solely
