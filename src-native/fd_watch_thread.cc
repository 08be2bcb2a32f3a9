// FdWatch (fd_watch.cc) for runtimes whose libuv is a stub (Bun panics in uv_poll_*) or an
// emulation (Deno): one epoll thread per JavaScript environment, started by its first watch,
// reports through a threadsafe function, which Node, Bun and Deno all implement. Same interface.
// Waits never occupy a libuv thread-pool thread.
//
// Watches are one-shot and re-armed after their callback has run: level-triggered delivery, as
// uv_poll's, without the thread spinning on a descriptor JavaScript has not read yet. Events carry
// a watch id, never a pointer: an event queued for a watch stopped meanwhile finds no id and is
// dropped.
#include <pthread.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "solely.h"

namespace solely {
namespace {

class FdWatchOnThread;

// One per environment, shared by its FdWatchOnThread objects, its thread, and the threadsafe
// function's finalizer; freed by the last of them (a count of its own: std::shared_ptr and
// unordered_map would raise the prebuilds' glibc and libstdc++ floors). The environment (a Worker)
// may end with a wait pending: Node then finalizes the threadsafe function whatever threads still
// use it, so the thread calls it only under mutex, and only while finalized is false.
struct Poller {
  std::atomic<int> holders{1};  // the environment's, until its teardown
  napi_env env;
  int epoll = -1;
  int wake = -1;  // an eventfd: written once, at teardown, to end the thread
  bool started = false;
  pthread_t thread;
  napi_threadsafe_function tsfn = nullptr;
  std::mutex mutex;
  bool finalized = false;
  // JavaScript-thread state:
  std::vector<std::pair<uint64_t, FdWatchOnThread*>> watches;  // the active ones, by id
  uint64_t next_id = 1;                                        // 0 is the wake eventfd
  bool refed = false;
};

Poller* Hold(Poller* poller) {
  poller->holders.fetch_add(1, std::memory_order_relaxed);
  return poller;
}

void Drop(Poller* poller) {
  if (poller->holders.fetch_sub(1, std::memory_order_acq_rel) == 1) delete poller;
}

FdWatchOnThread* Find(Poller* poller, uint64_t id) {
  for (auto& [watch_id, watch] : poller->watches)
    if (watch_id == id) return watch;
  return nullptr;
}

// An event through the threadsafe function's void*: the id, and the error bit.
void* Encode(uint64_t id, bool error) { return reinterpret_cast<void*>((id << 1) | error); }

constexpr uint32_t kReadable = 1;  // start()'s events: readable, or writable
constexpr uint32_t kWritable = 2;

class FdWatchOnThread : public Napi::ObjectWrap<FdWatchOnThread> {
 public:
  static Napi::Function Define(Napi::Env env, Poller* poller) {
    return DefineClass(env, "FdWatchOnThread",
                       {InstanceMethod<&FdWatchOnThread::Start>("start"),
                        InstanceMethod<&FdWatchOnThread::Stop>("stop")},
                       poller);
  }

  // new FdWatchOnThread(callback): callback(status) runs on every readiness between start() and
  // stop(); status is 0, or -EBADF for an error condition (POLLERR), as uv_poll reports it.
  explicit FdWatchOnThread(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<FdWatchOnThread>(info), poller_(Hold(static_cast<Poller*>(info.Data()))) {
    if (!CheckArgs(info, {Arg::kFunction})) return;
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  }

  ~FdWatchOnThread() override {
    Unwatch();
    Drop(poller_);
  }

  // The thread reported id: calls back, then re-arms unless the callback stopped the watch.
  static void Dispatch(napi_env env, napi_value /*js_callback*/, void* context, void* data) {
    if (env == nullptr) return;  // the environment is ending
    auto* poller = static_cast<Poller*>(context);
    uint64_t id = reinterpret_cast<uintptr_t>(data) >> 1;
    bool error = (reinterpret_cast<uintptr_t>(data) & 1) != 0;
    FdWatchOnThread* self = Find(poller, id);
    if (self == nullptr) return;
    Napi::HandleScope scope(env);
    CallWithStatus(env, self->Value(), self->callback_.Value(), error ? -EBADF : 0);
    if (Find(poller, id) == self) self->Arm(false);
  }

 private:
  // start(fd[, events]): 0 or -errno. The fd stays owned by the caller, who stops before closing.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
    if (id_ != 0) return Result(info, -EBUSY);
    uint32_t events = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : kReadable;
    int rc = StartThread();
    if (rc < 0) return Result(info, rc);
    fd_ = IntArg(info, 0);
    events_ = events;
    id_ = poller_->next_id++;
    rc = Arm(true);
    if (rc < 0) {
      id_ = 0;
      return Result(info, rc);
    }
    poller_->watches.emplace_back(id_, this);
    if (!poller_->refed) {  // an active watch keeps the event loop alive, as a uv_poll handle does
      napi_ref_threadsafe_function(poller_->env, poller_->tsfn);
      poller_->refed = true;
    }
    Ref();  // and its wrapper, whatever JS still references
    return Result(info, 0);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (id_ != 0) {
      Unwatch();
      Unref();
    }
    return info.Env().Undefined();
  }

  // Adds the fd to the set, or re-enables it after its one shot.
  int Arm(bool add) {
#ifdef __linux__
    if (poller_->epoll < 0) return -EBADF;
    struct epoll_event event = {};
    event.events = EPOLLONESHOT | EPOLLRDHUP | ((events_ & kWritable) ? EPOLLOUT : EPOLLIN);
    event.data.u64 = id_;
    int op = add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    return epoll_ctl(poller_->epoll, op, fd_, &event) < 0 ? -errno : 0;
#else
    (void)add;
    return -ENOSYS;
#endif
  }

  void Unwatch() {
    if (id_ == 0) return;
    auto& watches = poller_->watches;
    uint64_t id = id_;
    watches.erase(std::remove_if(watches.begin(), watches.end(),
                                 [id](const auto& watch) { return watch.first == id; }),
                  watches.end());
#ifdef __linux__
    // Gone from the set already if the fd was closed; an event in flight finds no id.
    if (poller_->epoll >= 0) epoll_ctl(poller_->epoll, EPOLL_CTL_DEL, fd_, nullptr);
#endif
    id_ = 0;
    if (poller_->watches.empty() && poller_->refed) {
      napi_unref_threadsafe_function(poller_->env, poller_->tsfn);
      poller_->refed = false;
    }
  }

  int StartThread();

  Poller* poller_;
  Napi::FunctionReference callback_;
  uint64_t id_ = 0;
  int fd_ = -1;
  uint32_t events_ = kReadable;
};

#ifdef __linux__

void* RunPoller(void* arg) {
  Poller& poller = *static_cast<Poller*>(arg);
  struct epoll_event events[16];
  for (bool running = true; running;) {
    int n = epoll_wait(poller.epoll, events, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    std::lock_guard<std::mutex> lock(poller.mutex);
    for (int i = 0; i < n && running; i++) {
      uint64_t id = events[i].data.u64;
      if (id == 0 || poller.finalized) {
        running = false;
      } else {
        void* event = Encode(id, (events[i].events & EPOLLERR) != 0);
        running =
            napi_call_threadsafe_function(poller.tsfn, event, napi_tsfn_nonblocking) == napi_ok;
      }
    }
  }
  Drop(&poller);
  return nullptr;
}

void Finalized(napi_env /*env*/, void* data, void* /*hint*/) {
  auto* poller = static_cast<Poller*>(data);
  {
    std::lock_guard<std::mutex> lock(poller->mutex);
    poller->finalized = true;
  }
  Drop(poller);
}

int FdWatchOnThread::StartThread() {
  Poller& poller = *poller_;
  if (poller.started) return poller.epoll < 0 ? -EBADF : 0;
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) return -errno;
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = 0;
  if (wake < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event) < 0) {
    int err = -errno;
    close(epoll);
    if (wake >= 0) close(wake);
    return err;
  }
  napi_value name;
  napi_create_string_utf8(poller.env, "solely.fdWatch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(poller.env, nullptr, nullptr, name, 0, 1, Hold(&poller),
                                      Finalized, &poller, Dispatch, &poller.tsfn) != napi_ok) {
    Drop(&poller);
    close(epoll);
    close(wake);
    return -ENOMEM;
  }
  napi_unref_threadsafe_function(poller.env, poller.tsfn);  // referenced while a watch is active
  poller.epoll = epoll;
  poller.wake = wake;
  int err = pthread_create(&poller.thread, nullptr, RunPoller, Hold(&poller));
  if (err != 0) {
    Drop(&poller);
    napi_release_threadsafe_function(poller.tsfn, napi_tsfn_abort);
    close(epoll);
    close(wake);
    poller.epoll = poller.wake = -1;
    return -err;
  }
  poller.started = true;
  return 0;
}

// The environment is ending (a Worker terminated, or the process exiting): the thread ends, then
// its descriptors close. Watches still active are dropped; their wrappers are finalized after.
void OnEnvTeardown(void* arg) {
  Poller& poller = *static_cast<Poller*>(arg);
  if (poller.started) {
    uint64_t one = 1;
    ssize_t n;
    do n = write(poller.wake, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    pthread_join(poller.thread, nullptr);
    close(poller.epoll);
    close(poller.wake);
    poller.epoll = poller.wake = -1;
  }
  poller.watches.clear();
  poller.refed = false;  // the threadsafe function may be finalized already: never touched again
  Drop(&poller);
}

#else

int FdWatchOnThread::StartThread() {
  return -ENOSYS;
}  // its users, inotify and abstract names, too
void OnEnvTeardown(void* arg) { Drop(static_cast<Poller*>(arg)); }

#endif

}  // namespace

void RegisterFdWatchOnThread(Napi::Env env, Napi::Object exports) {
  // The constructor's data, held by the environment until its end; each watch holds it too.
  auto* poller = new Poller();
  poller->env = env;
  napi_add_env_cleanup_hook(env, OnEnvTeardown, poller);
  exports.Set("FdWatchOnThread", FdWatchOnThread::Define(env, poller));
}

}  // namespace solely
