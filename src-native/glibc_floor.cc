// Linked into the prebuilds only (binding.gyp, solely_prebuild=1), on x86-64 and AArch64 glibc.
// Since glibc 2.33, fstat, fstatat, stat and lstat are exported functions versioned GLIBC_2.33;
// a prebuild calling them would not load on glibc 2.28 to 2.32 (RHEL 8, Debian 11, Ubuntu 20.04),
// all of which Node 20 supports. The linker's --wrap sends those calls here instead: the same
// system calls glibc makes, into the same struct stat (on these 64-bit ABIs it is the kernel's),
// through syscall(2), which every glibc exports. Likewise glibc 2.34 moved pthread_create and
// pthread_join into libc as GLIBC_2.34: the wrappers below call the versions every glibc since
// the architecture's first exports (libpthread's before 2.34, libc's compatibility symbols after).
// Nothing here is visible to JavaScript.
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__linux__) || !(defined(__x86_64__) || defined(__aarch64__))
#error "glibc_floor.cc is for Linux x86-64 and AArch64 only, where struct stat is the kernel's"
#endif

#if defined(__x86_64__)
#define SOLELY_GLIBC_BASE "GLIBC_2.2.5"
#else
#define SOLELY_GLIBC_BASE "GLIBC_2.17"
#endif

extern "C" {
int solely_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int solely_pthread_join(pthread_t, void**);
}
__asm__(".symver solely_pthread_create,pthread_create@" SOLELY_GLIBC_BASE);
__asm__(".symver solely_pthread_join,pthread_join@" SOLELY_GLIBC_BASE);

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

int __wrap_pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*run)(void*),
                          void* arg) {
  return solely_pthread_create(thread, attr, run, arg);
}
int __wrap_pthread_join(pthread_t thread, void** result) {
  return solely_pthread_join(thread, result);
}

}  // extern "C"
