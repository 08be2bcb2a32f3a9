// The filesystem type under a path (statfs f_type), to tell network filesystems, where even a
// non-blocking lock request can wait on a server, from local ones.
#include <climits>

#include "solely.h"

#ifdef __linux__
#include <sys/vfs.h>
#endif

namespace solely {
namespace {

// statfsType(path): f_type (a magic number, unsigned), or -errno.
Napi::Value StatfsType(const Napi::CallbackInfo& info) {
#ifdef __linux__
  if (!CheckArgs(info, {Arg::kString})) return info.Env().Undefined();
  char path[PATH_MAX + 1];
  int length = CopyString(info, 0, path);
  if (length < 0) return Result(info, length);
  struct statfs fs;
  int rc;
  do rc = statfs(path, &fs);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return Result(info, -errno);
  return Result(info, static_cast<double>(static_cast<uint32_t>(fs.f_type)));
#else
  return Result(info, -ENOTSUP);
#endif
}

}  // namespace

void RegisterStatfs(Napi::Env env, Napi::Object exports) {
  exports.Set("statfsType", Napi::Function::New(env, StatfsType, "statfsType"));
}

}  // namespace solely
