// Who binds an abstract name, and every abstract name bound, from the kernel's own table of Unix
// sockets (NETLINK_SOCK_DIAG, unix_diag): every socket of this network namespace, listening or not,
// with its inode, its owner's uid and its name's exact bytes, for any caller without privilege. A
// connect probe only finds a holder that listens; /proc/net/unix prints a name's newline raw.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#endif

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "solely.h"

namespace solely {
namespace {

#ifdef __linux__

#ifndef UDIAG_SHOW_UID
#define UDIAG_SHOW_UID 0x40  // Linux 5.3; older kernels ignore the bit and send no uid
#endif
constexpr unsigned short kUnixDiagUid = 7;  // UNIX_DIAG_UID, an enum value older headers lack

// The kernel fills a dump skb of at most 32 KiB (netlink_recvmsg caps max_recvmsg_len there), so
// one such buffer holds any reply. The slack lets NLMSG_NEXT/RTA_NEXT step past the last, unaligned
// item and stay inside the array; nothing is read there (the _OK macros check the length first).
constexpr size_t kReplyBytes = 32768;
constexpr uint32_t kSequence = 1;

// One socket of the dump: its inode, its owner's uid (-1 where the kernel did not report it), the
// inode of its peer (0: not connected), and its bound name, pointing into the reply buffer.
struct Socket {
  uint32_t inode;
  int64_t uid;
  uint32_t peer;
  const char* name;
  size_t nameLength;
};

// Asks for every Unix socket in every state, with its bound name, peer and owner. 0 or -errno.
int RequestDump(int fd) {
  struct {
    nlmsghdr header;
    unix_diag_req request;
  } message = {};
  static_assert(sizeof message == NLMSG_LENGTH(sizeof(unix_diag_req)), "no padding in the request");
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = kSequence;
  message.request.sdiag_family = AF_UNIX;
  message.request.udiag_states = ~0u;
  message.request.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_UID;
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  // A datagram: sent whole or not at all.
  while (sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
                sizeof kernel) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

// The socket one SOCK_DIAG_BY_FAMILY message describes (name bytes as sun_path has them, leading
// NUL included; empty if unbound); false for a message too short for its fixed part.
// header->nlmsg_len is within the buffer (NLMSG_OK checked it).
bool Parse(nlmsghdr* header, Socket* socket) {
  if (header->nlmsg_len < NLMSG_SPACE(sizeof(unix_diag_msg))) return false;
  const auto* diag = static_cast<const unix_diag_msg*>(NLMSG_DATA(header));
  *socket = {diag->udiag_ino, -1, 0, nullptr, 0};
  auto* attribute = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(header) +
                                              NLMSG_SPACE(sizeof(unix_diag_msg)));
  // Signed: RTA_NEXT subtracts the aligned length, which may pass zero at the last attribute.
  int left = static_cast<int>(header->nlmsg_len - NLMSG_SPACE(sizeof(unix_diag_msg)));
  for (; RTA_OK(attribute, left); attribute = RTA_NEXT(attribute, left)) {
    size_t size = RTA_PAYLOAD(attribute);
    unsigned short type = attribute->rta_type & NLA_TYPE_MASK;
    if (type == UNIX_DIAG_NAME) {
      socket->name = static_cast<const char*>(RTA_DATA(attribute));
      socket->nameLength = size;
    } else if (type == UNIX_DIAG_PEER && size >= sizeof(uint32_t)) {
      memcpy(&socket->peer, RTA_DATA(attribute), sizeof socket->peer);
    } else if (type == kUnixDiagUid && size >= sizeof(uint32_t)) {
      uint32_t value;
      memcpy(&value, RTA_DATA(attribute), sizeof value);
      socket->uid = value;
    }
  }
  return true;
}

// Reads the multipart answer until NLMSG_DONE, calling visit(const Socket&) for each socket (its
// name valid only during the call). 0 or -errno.
template <typename Visit>
int ReadDump(int fd, Visit visit) {
  alignas(nlmsghdr) char reply[kReplyBytes + NLMSG_ALIGNTO];
  for (;;) {
    sockaddr_nl from = {};
    socklen_t fromLength = sizeof from;
    // MSG_TRUNC: the datagram's real length, so that a truncated one is seen, never half-parsed.
    ssize_t got = recvfrom(fd, reply, kReplyBytes, MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                           &fromLength);
    if (got < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (static_cast<size_t>(got) > kReplyBytes) return -EMSGSIZE;
    if (from.nl_pid != 0) continue;  // only the kernel's answer counts
    int left = static_cast<int>(got);
    for (auto* header = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(header, left);
         header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_seq != kSequence) continue;
      if (header->nlmsg_type == NLMSG_DONE) {
        // A dump that failed midway ends with its -errno as the payload.
        int error = 0;
        if (header->nlmsg_len >= NLMSG_LENGTH(sizeof error)) {
          memcpy(&error, NLMSG_DATA(header), sizeof error);
        }
        return error < 0 ? error : 0;
      }
      if (header->nlmsg_type == NLMSG_ERROR) {
        if (header->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return -EPROTO;
        int error = static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error;
        if (error != 0) return error < 0 ? error : -EPROTO;
      } else if (header->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
        Socket socket;
        if (Parse(header, &socket)) visit(socket);
      }
    }
  }
}

// One whole dump on a netlink socket of its own, visiting each socket. 0 or -errno.
template <typename Visit>
int Dump(Visit visit) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -errno;
  int rc = RequestDump(fd);
  if (rc == 0) rc = ReadDump(fd, visit);
  close(fd);
  return rc;
}

Napi::Number Number(Napi::Env env, double value) { return Napi::Number::New(env, value); }

// abstractOwners(name): [[inode, uid], ...] for each socket bound to "\0" + name (exact length),
// uid -1 where the kernel does not report it (before Linux 5.3); or -errno.
Napi::Value AbstractOwners(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, {Arg::kString})) return info.Env().Undefined();
  sockaddr_un addr;
  int length = AbstractAddress(info, &addr);
  if (length < 0) return Result(info, length);
  size_t nameLength = length - offsetof(sockaddr_un, sun_path);
  struct Owner {
    uint32_t inode;
    int64_t uid;
  };
  std::vector<Owner> owners;
  int rc = Dump([&](const Socket& socket) {
    if (socket.nameLength == nameLength && memcmp(socket.name, addr.sun_path, nameLength) == 0) {
      owners.push_back({socket.inode, socket.uid});
    }
  });
  if (rc < 0) return Result(info, rc);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, owners.size());
  for (size_t i = 0; i < owners.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Number(env, owners[i].inode));
    pair.Set(1u, Number(env, static_cast<double>(owners[i].uid)));
    out.Set(static_cast<uint32_t>(i), pair);
  }
  return out;
}

// abstractSockets(): [[name, inode, uid, peer], ...] for every socket bound to an abstract name,
// name the exact bytes after the leading NUL (a Buffer), uid -1 where the kernel does not report
// it, peer the inode of its peer or 0 if unconnected; or -errno.
Napi::Value AbstractSockets(const Napi::CallbackInfo& info) {
  struct Bound {
    std::string name;
    uint32_t inode;
    int64_t uid;
    uint32_t peer;
  };
  std::vector<Bound> sockets;
  int rc = Dump([&](const Socket& socket) {
    if (socket.nameLength > 1 && socket.name[0] == '\0') {
      sockets.push_back({std::string(socket.name + 1, socket.nameLength - 1), socket.inode,
                         socket.uid, socket.peer});
    }
  });
  if (rc < 0) return Result(info, rc);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, sockets.size());
  for (size_t i = 0; i < sockets.size(); i++) {
    const Bound& bound = sockets[i];
    Napi::Array entry = Napi::Array::New(env, 4);
    entry.Set(0u, Napi::Buffer<char>::Copy(env, bound.name.data(), bound.name.size()));
    entry.Set(1u, Number(env, bound.inode));
    entry.Set(2u, Number(env, static_cast<double>(bound.uid)));
    entry.Set(3u, Number(env, bound.peer));
    out.Set(static_cast<uint32_t>(i), entry);
  }
  return out;
}

#else

Napi::Value AbstractOwners(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }
Napi::Value AbstractSockets(const Napi::CallbackInfo& info) { return Result(info, -ENOTSUP); }

#endif

}  // namespace

void RegisterSocketDiag(Napi::Env env, Napi::Object exports) {
  exports.Set("abstractOwners", Napi::Function::New(env, AbstractOwners, "abstractOwners"));
  exports.Set("abstractSockets", Napi::Function::New(env, AbstractSockets, "abstractSockets"));
}

}  // namespace solely
