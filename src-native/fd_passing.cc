// Passing descriptors over a connected Unix socket (SCM_RIGHTS): how a running server hands its
// listening socket and its lock to a successor. Non-blocking: the caller waits for readiness.
#include <sys/socket.h>

#include <vector>

#include "solely.h"

namespace solely {
namespace {

#ifdef __linux__

constexpr size_t kMaxFds = 4;         // a handover passes at most 3
constexpr size_t kMaxMessage = 4096;  // the protocol's lines are far shorter

// sendFds(fd, text, [fds...]): one sendmsg of text's bytes with the fds attached (none: a plain
// send). MSG_NOSIGNAL: a peer gone is -EPIPE, not a SIGPIPE. The fds stay the caller's (the
// kernel passes duplicates). Returns the bytes sent or -errno.
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32, Arg::kString})) return info.Env().Undefined();
  if (!info[2].IsArray() || info[2].As<Napi::Array>().Length() > kMaxFds) {
    Napi::TypeError::New(info.Env(), "Argument 3 must be an array of at most 4 fds")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Array list = info[2].As<Napi::Array>();
  int fds[kMaxFds];
  size_t count = list.Length();
  for (size_t i = 0; i < count; i++) {
    Napi::Value value = list.Get(i);
    if (!value.IsNumber()) {
      Napi::TypeError::New(info.Env(), "Argument 3 must hold fds").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    fds[i] = value.As<Napi::Number>().Int32Value();
  }
  std::string text = info[1].As<Napi::String>().Utf8Value();
  if (text.empty() || text.size() > kMaxMessage) return Result(info, -EMSGSIZE);

  iovec iov = {const_cast<char*>(text.data()), text.size()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  if (count > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
    cmsghdr* header = CMSG_FIRSTHDR(&msg);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(count * sizeof(int));
    memcpy(CMSG_DATA(header), fds, count * sizeof(int));
  }
  ssize_t sent;
  do {
    sent = sendmsg(IntArg(info, 0), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  return Result(info, sent < 0 ? -errno : static_cast<double>(sent));
}

// recvFds(fd): one non-blocking recvmsg: [bytes, [fds...]] with the fds close-on-exec
// (MSG_CMSG_CLOEXEC) and owned by the caller; an empty Buffer at end of stream; or -errno
// (-EAGAIN: nothing yet). Fds the buffer could not hold are closed and -EMSGSIZE returned.
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kInt32})) return info.Env().Undefined();
  char data[kMaxMessage];
  iovec iov = {data, sizeof data};
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t received;
  do {
    received = recvmsg(IntArg(info, 0), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return Result(info, -errno);
  std::vector<int> fds;
  for (cmsghdr* header = CMSG_FIRSTHDR(&msg); header != nullptr;
       header = CMSG_NXTHDR(&msg, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      fds.push_back(fd);
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    for (int fd : fds) close(fd);
    return Result(info, -EMSGSIZE);
  }
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) list.Set(i, Napi::Number::New(env, fds[i]));
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Buffer<char>::Copy(env, data, static_cast<size_t>(received)));
  out.Set(1u, list);
  return out;
}

#else

Napi::Value SendFds(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }
Napi::Value RecvFds(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }

#endif

}  // namespace

void RegisterFdPassing(Napi::Env env, Napi::Object exports) {
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
}

}  // namespace solely
