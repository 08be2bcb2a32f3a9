// Pidfile contents (BSD pidfile(3)): written only under the lock, read by anyone (through the
// addon: the runtime's fs may not know an fd the addon opened). Removal is fd.cc's
// unlinkVerified: only if the name still names the locked file.
#include <unistd.h>

#include <algorithm>

#include "solely.h"

namespace solely {
namespace {

// pidfileWrite(fd, text): ftruncate to 0, then pwrite text at offset 0, as pidfile_write does.
// Returns the bytes written or -errno.
Napi::Value Write(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString})) return info.Env().Undefined();
  int fd = IntArg(info, 0);
  char text[64];
  int length = CopyString(info, 1, text);
  if (length < 0) return Result(info, length);
  int rc;
  do rc = ftruncate(fd, 0);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return Result(info, -errno);
  int written = 0;
  while (written < length) {
    ssize_t n = pwrite(fd, text + written, length - written, written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Result(info, -errno);
    if (n == 0) return Result(info, -EIO);
    written += static_cast<int>(n);
  }
  return Result(info, written);
}

// pidfileRead(fd, max): the first max bytes (fewer at end of file), from offset 0, as a Buffer;
// or -errno.
Napi::Value Read(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  int fd = IntArg(info, 0);
  char text[64];
  size_t max = std::min(sizeof text, static_cast<size_t>(std::max(IntArg(info, 1), 0)));
  size_t length = 0;
  while (length < max) {
    ssize_t n = pread(fd, text + length, max - length, static_cast<off_t>(length));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Result(info, -errno);
    if (n == 0) break;
    length += static_cast<size_t>(n);
  }
  return Napi::Buffer<char>::Copy(info.Env(), text, length);
}

}  // namespace

void RegisterPidfile(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfileWrite", Napi::Function::New(env, Write, "pidfileWrite"));
  exports.Set("pidfileRead", Napi::Function::New(env, Read, "pidfileRead"));
}

}  // namespace solely
