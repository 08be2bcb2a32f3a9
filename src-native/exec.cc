// The one exec: COMMAND replaces the calling process with a parent-death signal armed, so that it
// is stopped if the process that holds its lock dies (`solely run` with a lock COMMAND cannot
// inherit). Signal dispositions, mask and stdio's close-on-exec are reset as a spawn resets them.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "solely.h"

namespace solely {

namespace {

// execWithParentDeath(signal, expectedParent, argv: string[], keep: fd[]): arms PR_SET_PDEATHSIG,
// checks that the parent is still expectedParent (else -ESRCH: it died before the signal was
// armed), clears FD_CLOEXEC on 0..2 and on each fd of keep, then execvp(argv[0], argv). Returns
// only on failure: -errno.
Napi::Value ExecWithParentDeath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckArgs(info, {Arg::kInt32, Arg::kInt32})) return env.Undefined();
  const char* kNotArgv = "Argument 3 must be a non-empty array of strings";
  if (!info[2].IsArray() || info[2].As<Napi::Array>().Length() == 0) {
    Napi::TypeError::New(env, kNotArgv).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array array = info[2].As<Napi::Array>();
  std::vector<std::string> strings;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) {
      Napi::TypeError::New(env, kNotArgv).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    strings.push_back(item.As<Napi::String>().Utf8Value());
  }
  const char* kNotFds = "Argument 4 must be an array of fds";
  if (!info[3].IsArray()) {
    Napi::TypeError::New(env, kNotFds).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array keepArray = info[3].As<Napi::Array>();
  std::vector<int> keep = {0, 1, 2};
  for (uint32_t i = 0; i < keepArray.Length(); i++) {
    Napi::Value item = keepArray.Get(i);
    double fd = item.IsNumber() ? item.As<Napi::Number>().DoubleValue() : -1;
    if (!(fd >= 0 && fd <= INT_MAX && fd == static_cast<int>(fd))) {
      Napi::TypeError::New(env, kNotFds).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    keep.push_back(static_cast<int>(fd));
  }
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
#ifdef __linux__
  if (prctl(PR_SET_PDEATHSIG, IntArg(info, 0)) < 0) return Result(info, -errno);
#else
  return Result(info, -ENOTSUP);  // no parent-death signal: COMMAND must not run unguarded
#endif
  if (getppid() != IntArg(info, 1)) return Result(info, -ESRCH);
  sigset_t all;
  sigfillset(&all);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);  // fails harmlessly for KILL, STOP
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
  // Node marks its stdio and the fds it was passed close-on-exec; COMMAND gets them as a spawn
  // would give them.
  for (int fd : keep) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  execvp(argv[0], argv.data());
  return Result(info, -errno);
}

}  // namespace

void RegisterExec(Napi::Env env, Napi::Object exports) {
  exports.Set("execWithParentDeath",
              Napi::Function::New(env, ExecWithParentDeath, "execWithParentDeath"));
}

}  // namespace solely
