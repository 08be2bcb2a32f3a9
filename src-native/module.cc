// The module table. Context-aware: no static holds a JS value, so it loads in worker_threads.
#include "solely.h"

static Napi::Object InitSolely(Napi::Env env, Napi::Object exports) {
  solely::RegisterAbstractSocket(env, exports);
  solely::RegisterPeerCred(env, exports);
  solely::RegisterFileLock(env, exports);
  solely::RegisterLockOnThread(env, exports);
  solely::RegisterInotify(env, exports);
  solely::RegisterFdWatch(env, exports);
  solely::RegisterFdWatchOnThread(env, exports);
  solely::RegisterFd(env, exports);
  solely::RegisterPidfile(env, exports);
  solely::RegisterStatfs(env, exports);
  solely::RegisterUnixSocket(env, exports);
  solely::RegisterSocketInfo(env, exports);
  solely::RegisterSocketDiag(env, exports);
  solely::RegisterWaitFds(env, exports);
  solely::RegisterFdPassing(env, exports);
  solely::RegisterByteIo(env, exports);
  solely::RegisterExec(env, exports);
  return exports;
}

NODE_API_MODULE(solely, InitSolely)
