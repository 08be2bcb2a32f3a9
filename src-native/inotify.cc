// A wake-up source for file-lock waiters: inotify reports when any holder closes the lock file
// (releasing its flock or OFD lock), or when the file is unlinked or renamed.
#include <unistd.h>

#include <cstdio>

#include "solely.h"

#ifdef __linux__
#include <sys/inotify.h>
#endif

namespace solely {
namespace {

#ifdef __linux__

// inotifyWatch(fd): a non-blocking inotify fd watching the inode fd refers to (through
// /proc/self/fd, so a path replaced meanwhile cannot redirect it). Returns the fd or -errno.
Napi::Value Watch(const Napi::CallbackInfo& info) {
  char target[32];
  snprintf(target, sizeof target, "/proc/self/fd/%d", IntArg(info, 0));
  int notify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (notify < 0) return Result(info, -errno);
  uint32_t mask = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF;
  if (inotify_add_watch(notify, target, mask) < 0) {
    int err = errno;
    close(notify);
    return Result(info, -err);
  }
  return Result(info, notify);
}

// Reads and discards every queued event. Returns 0 or -errno.
Napi::Value Drain(const Napi::CallbackInfo& info) {
  int notify = IntArg(info, 0);
  alignas(inotify_event) char events[4096];
  for (;;) {
    ssize_t n = read(notify, events, sizeof events);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    return Result(info, n < 0 && errno != EAGAIN ? -errno : 0);
  }
}

#else

Napi::Value Watch(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }
Napi::Value Drain(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }

#endif

}  // namespace

void RegisterInotify(Napi::Env env, Napi::Object exports) {
  exports.Set("inotifyWatch", Napi::Function::New(env, Watch, "inotifyWatch"));
  exports.Set("inotifyDrain", Napi::Function::New(env, Drain, "inotifyDrain"));
}

}  // namespace solely
