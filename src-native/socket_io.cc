// Bytes on a connected stream socket the addon opened, without the runtime's net: Bun's and
// Deno's net.Socket cannot adopt a descriptor. Non-blocking: the caller waits with an FdWatch.
#include <sys/socket.h>

#include <algorithm>

#include "solely.h"

namespace solely {
namespace {

// socketSend(fd, buffer, offset): how many bytes of buffer from offset one send took, or -errno
// (-EAGAIN: the socket's buffer is full). Never SIGPIPE: a gone peer is -EPIPE.
Napi::Value Send(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kBuffer, Arg::kInt32})) return info.Env().Undefined();
  auto bytes = info[1].As<Napi::Buffer<char>>();
  size_t offset = std::min(bytes.Length(), static_cast<size_t>(std::max(IntArg(info, 2), 0)));
  ssize_t n;
  do
    n = send(IntArg(info, 0), bytes.Data() + offset, bytes.Length() - offset,
             MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return Result(info, n < 0 ? -errno : static_cast<double>(n));
}

// socketRecv(fd, max): up to max bytes as a Buffer, empty at end of stream; or -errno (-EAGAIN:
// nothing to read yet).
Napi::Value Recv(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  char chunk[65536];
  size_t max = std::min(sizeof chunk, static_cast<size_t>(std::max(IntArg(info, 1), 1)));
  ssize_t n;
  do n = recv(IntArg(info, 0), chunk, max, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Result(info, -errno);
  return Napi::Buffer<char>::Copy(info.Env(), chunk, static_cast<size_t>(n));
}

}  // namespace

void RegisterSocketIo(Napi::Env env, Napi::Object exports) {
  exports.Set("socketSend", Napi::Function::New(env, Send, "socketSend"));
  exports.Set("socketRecv", Napi::Function::New(env, Recv, "socketRecv"));
}

}  // namespace solely
