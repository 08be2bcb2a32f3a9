// Bytes on a descriptor without the runtime's streams (Bun's and Deno's net.Socket cannot adopt a
// descriptor, Deno's fs knows only its own): send/recv on a connected stream socket, never
// blocking (MSG_DONTWAIT), and write/read on a terminal or pipe opened non-blocking, or a file.
// The caller waits for readiness with an FdWatch.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "solely.h"

namespace solely {
namespace {

// One transfer(fd, bytes, length) of buffer (argument 1) from offset (argument 2), retried on
// EINTR: how many bytes it took, or -errno (-EAGAIN: the descriptor is full).
template <typename Transfer>
Napi::Value WriteFrom(const Napi::CallbackInfo& info, Transfer transfer) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kBuffer, Arg::kInt32})) return info.Env().Undefined();
  auto bytes = info[1].As<Napi::Buffer<char>>();
  size_t offset = std::min(bytes.Length(), static_cast<size_t>(std::max(IntArg(info, 2), 0)));
  ssize_t n;
  do n = transfer(IntArg(info, 0), bytes.Data() + offset, bytes.Length() - offset);
  while (n < 0 && errno == EINTR);
  return Result(info, n < 0 ? -errno : static_cast<double>(n));
}

// One transfer(fd, chunk, max) of up to max (argument 1) bytes, retried on EINTR: a Buffer, empty
// at end of stream; or -errno (-EAGAIN: nothing to read yet).
template <typename Transfer>
Napi::Value ReadUpTo(const Napi::CallbackInfo& info, Transfer transfer) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kInt32})) return info.Env().Undefined();
  char chunk[65536];
  size_t max = std::min(sizeof chunk, static_cast<size_t>(std::max(IntArg(info, 1), 1)));
  ssize_t n;
  do n = transfer(IntArg(info, 0), chunk, max);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Result(info, -errno);
  return Napi::Buffer<char>::Copy(info.Env(), chunk, static_cast<size_t>(n));
}

// socketSend(fd, buffer, offset). Never SIGPIPE: a gone peer is -EPIPE.
Napi::Value Send(const Napi::CallbackInfo& info) {
  return WriteFrom(info, [](int fd, const char* bytes, size_t length) {
    return send(fd, bytes, length, MSG_NOSIGNAL | MSG_DONTWAIT);
  });
}

// socketRecv(fd, max).
Napi::Value Recv(const Napi::CallbackInfo& info) {
  return ReadUpTo(
      info, [](int fd, char* chunk, size_t max) { return recv(fd, chunk, max, MSG_DONTWAIT); });
}

// fdWrite(fd, buffer, offset). A reader gone is -EPIPE: Node, Bun and Deno ignore SIGPIPE.
Napi::Value FdWrite(const Napi::CallbackInfo& info) {
  return WriteFrom(
      info, [](int fd, const char* bytes, size_t length) { return write(fd, bytes, length); });
}

// fdRead(fd, max).
Napi::Value FdRead(const Napi::CallbackInfo& info) {
  return ReadUpTo(info, [](int fd, char* chunk, size_t max) { return read(fd, chunk, max); });
}

}  // namespace

void RegisterByteIo(Napi::Env env, Napi::Object exports) {
  exports.Set("socketSend", Napi::Function::New(env, Send, "socketSend"));
  exports.Set("socketRecv", Napi::Function::New(env, Recv, "socketRecv"));
  exports.Set("fdWrite", Napi::Function::New(env, FdWrite, "fdWrite"));
  exports.Set("fdRead", Napi::Function::New(env, FdRead, "fdRead"));
}

}  // namespace solely
