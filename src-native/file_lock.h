// The lock step of a file lock, shared by the calling-thread attempt (file_lock.cc) and the
// attempt on a thread of its own (lock_on_thread.cc).
#pragma once

namespace solely {

enum LockMethod : int { kFlock = 0, kFcntl = 1 };
// Or'ed into a method: a shared lock (flock LOCK_SH, or an OFD read lock F_RDLCK) instead of an
// exclusive one. Carried inside the method so that every path that passes a method passes it.
constexpr int kShared = 2;

// Lock without blocking, then check that path still names the locked inode (FreeBSD flopen). If
// it was unlinked or replaced meanwhile, a second holder could lock the new file: that is -ESTALE,
// and the caller closes fd and opens again. Contention is -EWOULDBLOCK (flock) or -EAGAIN/-EACCES
// (fcntl). Returns 0 or -errno.
int LockAndVerify(int fd, const char* path, int method);

// Unlock before close, so that a child sharing the open file description between fork and exec
// cannot prolong the lock (a kShared bit in method changes nothing). 0 or -errno (the fd is
// closed either way).
int UnlockAndClose(int fd, int method);

}  // namespace solely
