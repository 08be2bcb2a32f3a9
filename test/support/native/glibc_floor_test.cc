// Checks src-native/glibc_floor.cc: with the linker's --wrap flags of binding.gyp, fstat, fstatat,
// stat and lstat must fill struct stat exactly as statx reports the same file, and fail with the
// same errno as glibc; pthread_create and pthread_join must run a thread. Built and run by
// scripts/test-glibc-floor.sh (arm64 under qemu-user).
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace {

int failures = 0;

void* Run(void* arg) {
  *static_cast<int*>(arg) = 1;
  return arg;
}

void Expect(bool ok, const char* what) {
  printf("%s %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) failures++;
}

void Same(const char* what, int rc, const struct stat& st, const char* path, int flags) {
  struct statx sx;
  statx(AT_FDCWD, path, flags, STATX_BASIC_STATS, &sx);
  Expect(rc == 0 && st.st_ino == sx.stx_ino && major(st.st_dev) == sx.stx_dev_major &&
             minor(st.st_dev) == sx.stx_dev_minor && st.st_mode == sx.stx_mode &&
             st.st_nlink == sx.stx_nlink && st.st_uid == sx.stx_uid && st.st_gid == sx.stx_gid &&
             static_cast<unsigned long long>(st.st_size) == sx.stx_size &&
             static_cast<unsigned long long>(st.st_blocks) == sx.stx_blocks &&
             st.st_mtim.tv_sec == sx.stx_mtime.tv_sec &&
             st.st_mtim.tv_nsec == static_cast<long>(sx.stx_mtime.tv_nsec),
         what);
}

}  // namespace

// argv[1]: a scratch directory.
int main(int argc, char** argv) {
  if (argc != 2 || chdir(argv[1]) < 0) return 2;
  int fd = open("file", O_RDWR | O_CREAT | O_TRUNC, 0640);
  if (fd < 0 || write(fd, "solely", 6) != 6 || symlink("file", "link") < 0) return 2;
  struct stat st;
  Same("fstat", fstat(fd, &st), st, "file", 0);
  Same("fstatat", fstatat(AT_FDCWD, "file", &st, 0), st, "file", 0);
  Same("fstatat nofollow", fstatat(AT_FDCWD, "link", &st, AT_SYMLINK_NOFOLLOW), st, "link",
       AT_SYMLINK_NOFOLLOW);
  Same("stat", stat("link", &st), st, "file", 0);
  Same("lstat", lstat("link", &st), st, "link", AT_SYMLINK_NOFOLLOW);
  int dir = open(".", O_RDONLY | O_DIRECTORY);
  Same("fstat of a directory", fstat(dir, &st), st, ".", 0);
  errno = 0;
  Expect(fstatat(dir, "missing", &st, 0) == -1 && errno == ENOENT, "ENOENT");
  errno = 0;
  Expect(fstat(-1, &st) == -1 && errno == EBADF, "EBADF");
  pthread_t thread;
  int ran = 0;
  void* result = nullptr;
  bool created = pthread_create(&thread, nullptr, Run, &ran) == 0;
  Expect(created && pthread_join(thread, &result) == 0 && ran == 1 && result == &ran,
         "pthread_create and pthread_join");
  return failures == 0 ? 0 : 1;
}
