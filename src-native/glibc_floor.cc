// Linked into the prebuilds only (binding.gyp, solely_prebuild=1), on x86-64 and AArch64 glibc.
// Since glibc 2.33, fstat, fstatat, stat and lstat are exported functions versioned GLIBC_2.33;
// a prebuild calling them would not load on glibc 2.28 to 2.32 (RHEL 8, Debian 11, Ubuntu 20.04),
// all of which Node 20 supports. The linker's --wrap sends those calls here instead: the same
// system calls glibc makes, into the same struct stat (on these 64-bit ABIs it is the kernel's),
// through syscall(2), which every glibc exports. Nothing here is visible to JavaScript.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__linux__) || !(defined(__x86_64__) || defined(__aarch64__))
#error "glibc_floor.cc is for Linux x86-64 and AArch64 only, where struct stat is the kernel's"
#endif

namespace {

int StatAt(int dirfd, const char* path, struct stat* st, int flags) {
  return static_cast<int>(syscall(SYS_newfstatat, dirfd, path, st, flags));
}

}  // namespace

extern "C" {

int __wrap_fstat(int fd, struct stat* st) { return static_cast<int>(syscall(SYS_fstat, fd, st)); }
int __wrap_fstat64(int fd, struct stat* st) { return __wrap_fstat(fd, st); }
int __wrap_fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return StatAt(dirfd, path, st, flags);
}
int __wrap_fstatat64(int dirfd, const char* path, struct stat* st, int flags) {
  return StatAt(dirfd, path, st, flags);
}
int __wrap_stat(const char* path, struct stat* st) { return StatAt(AT_FDCWD, path, st, 0); }
int __wrap_stat64(const char* path, struct stat* st) { return StatAt(AT_FDCWD, path, st, 0); }
int __wrap_lstat(const char* path, struct stat* st) {
  return StatAt(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
int __wrap_lstat64(const char* path, struct stat* st) {
  return StatAt(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

}  // extern "C"
