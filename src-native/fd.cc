// Closing descriptors the facade owns.
#include <pthread.h>
#include <unistd.h>

#include <cstdint>

#include "solely.h"

namespace solely {
namespace {

// Never retried on EINTR: Linux has released the descriptor whatever close() returns.
Napi::Value Close(const Napi::CallbackInfo& info) {
  return Result(info, close(IntArg(info, 0)) < 0 ? -errno : 0);
}

void* CloseFd(void* arg) {
  close(static_cast<int>(reinterpret_cast<intptr_t>(arg)));
  return nullptr;
}

// closeDetached(fd): close(fd) on a short-lived thread of its own (never the libuv pool).
// Closing an inotify fd waits for the kernel's fsnotify reaper (an SRCU grace period): often
// 5-20 ms that the event loop must not spend. The fd is the thread's from here on; 0, or the
// -errno of a failed pthread_create, after which the fd was closed here.
Napi::Value CloseDetached(const Napi::CallbackInfo& info) {
  int fd = IntArg(info, 0);
  pthread_t thread;
  int rc =
      pthread_create(&thread, nullptr, CloseFd, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  if (rc != 0) {
    close(fd);
    return Result(info, -rc);
  }
  pthread_detach(thread);
  return Result(info, 0);
}

}  // namespace

void RegisterFd(Napi::Env env, Napi::Object exports) {
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("closeDetached", Napi::Function::New(env, CloseDetached, "closeDetached"));
}

}  // namespace solely
