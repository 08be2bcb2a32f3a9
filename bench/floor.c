// The floor: the syscalls solely makes, timed in a loop from C, with nothing on top.
//   floor CASE ITERATIONS NAME_OR_PATH [THREADS]
// prints one JSON object: {"case":..., "ns": nanoseconds per iteration} for the loops, or
// {"case":..., "samples": [ns, ...]} for the wake-up cases (one sample per hand-over).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // system-wide: comparable across processes
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char* what) {
  fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

// "\0" + name, exact length, as solely binds it.
static socklen_t abstract_address(const char* name, struct sockaddr_un* addr) {
  size_t length = strlen(name);
  if (length == 0 || length > sizeof addr->sun_path - 1) {
    errno = EINVAL;
    die("abstract name");
  }
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path + 1, name, length);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length);
}

// socket + bind (+ listen) on an abstract name: the fd, or -errno.
static int abstract_bind(const struct sockaddr_un* addr, socklen_t length, int backlog) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  if (bind(fd, (const struct sockaddr*)addr, length) < 0 || (backlog >= 0 && listen(fd, backlog) < 0)) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

static int open_lock(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) die("open");
  return fd;
}

// flock, then check that the path still names the locked inode (flopen), as lockVerified does.
static int lock_verified(int fd, const char* path) {
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) return -errno;
  struct stat held, named;
  if (fstat(fd, &held) < 0 || fstatat(AT_FDCWD, path, &named, AT_SYMLINK_NOFOLLOW) < 0) die("stat");
  return held.st_ino == named.st_ino && held.st_dev == named.st_dev ? 0 : -ESTALE;
}

// One loop case: returns nanoseconds per iteration.
static double run_loop(const char* which, long n, const char* target) {
  struct sockaddr_un addr;
  socklen_t length = 0;
  int held = -1;
  if (strncmp(which, "abstract", 8) == 0 || strcmp(which, "bind-fail") == 0) length = abstract_address(target, &addr);
  if (strcmp(which, "bind-fail") == 0) {
    held = abstract_bind(&addr, length, 0);
    if (held < 0) die("bind (holder)");
  } else if (strcmp(which, "flock-fail") == 0 || strcmp(which, "flock-fd") == 0) {
    held = open_lock(target);
    if (strcmp(which, "flock-fail") == 0 && flock(held, LOCK_EX | LOCK_NB) < 0) die("flock (holder)");
  }

  int64_t start = now_ns();
  for (long i = 0; i < n; i++) {
    if (strcmp(which, "abstract") == 0) {  // socket + bind + close
      int fd = abstract_bind(&addr, length, -1);
      if (fd < 0) die("bind");
      close(fd);
    } else if (strcmp(which, "abstract-listen") == 0) {  // socket + bind + listen + close
      int fd = abstract_bind(&addr, length, 4096);
      if (fd < 0) die("bind");
      close(fd);
    } else if (strcmp(which, "bind-fail") == 0) {  // socket + bind (EADDRINUSE) + close
      if (abstract_bind(&addr, length, -1) != -EADDRINUSE) die("bind should fail");
    } else if (strcmp(which, "file") == 0) {  // open + flock + close
      int fd = open_lock(target);
      if (flock(fd, LOCK_EX | LOCK_NB) < 0) die("flock");
      close(fd);
    } else if (strcmp(which, "file-verified") == 0) {  // open + flock + fstat + fstatat + unlock + close
      int fd = open_lock(target);
      if (lock_verified(fd, target) < 0) die("flock verified");
      flock(fd, LOCK_UN);
      close(fd);
    } else if (strcmp(which, "flock-fail") == 0) {  // open + flock (EWOULDBLOCK) + close
      int fd = open_lock(target);
      if (flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) die("flock should fail");
      close(fd);
    } else if (strcmp(which, "flock-fd") == 0) {  // flock + unlock on an open fd
      if (flock(held, LOCK_EX | LOCK_NB) < 0) die("flock");
      flock(held, LOCK_UN);
    } else {
      fprintf(stderr, "floor: unknown case %s\n", which);
      exit(2);
    }
  }
  int64_t elapsed = now_ns() - start;
  if (held >= 0) close(held);
  return (double)elapsed / (double)n;
}

// The waiter's side of one hand-over: blocks in the kernel until the lock is free, takes it.
// abstract: connect to the holder's listening socket, sleep in poll until the reset, then bind.
static int wait_and_take(const char* which, const char* target, const struct sockaddr_un* addr, socklen_t length) {
  if (strcmp(which, "wake-file") == 0) {
    int fd = open_lock(target);
    if (flock(fd, LOCK_EX) < 0) die("flock (waiter)");
    return fd;
  }
  for (;;) {
    int fd = abstract_bind(addr, length, 4096);
    if (fd >= 0) return fd;
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c, (const struct sockaddr*)addr, length) == 0) {
      struct pollfd p = {c, POLLIN | POLLRDHUP, 0};
      poll(&p, 1, -1);
    }
    close(c);
  }
}

// Two processes hand a lock back and forth: before each release the holder stores the clock in
// shared memory; the waiter, blocked in the kernel, reads the clock once it holds the lock.
static void run_wake(const char* which, long n, const char* target) {
  struct sockaddr_un addr;
  socklen_t length = 0;
  if (strcmp(which, "wake-abstract") == 0) length = abstract_address(target, &addr);
  else if (strcmp(which, "wake-file") != 0) {
    fprintf(stderr, "floor: unknown case %s\n", which);
    exit(2);
  }
  struct shared {
    volatile int64_t released_at;
    volatile int turn;  // which process holds: 0 parent, 1 child
    int64_t samples[];
  }* shm = mmap(NULL, sizeof(struct shared) + n * sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shm == MAP_FAILED) die("mmap");
  shm->turn = 0;
  int fd = wait_and_take(which, target, &addr, length);  // the parent starts as holder
  pid_t child = fork();
  if (child < 0) die("fork");
  int me = child == 0 ? 1 : 0;
  if (me == 1) {  // the child's copy of the parent's lock: ownership stays with the parent
    close(fd);
    fd = -1;
  }
  for (long i = 0; i < n; i++) {
    int holder = (int)(i % 2);
    if (holder == me) {
      while (shm->turn != me) sched_yield();
      usleep(2000);  // let the other side block in the kernel
      shm->released_at = now_ns();
      if (strcmp(which, "wake-file") == 0) flock(fd, LOCK_UN);
      close(fd);
      fd = -1;
    } else {
      while (shm->turn != holder) sched_yield();  // the holder has taken it: now wait for it
      fd = wait_and_take(which, target, &addr, length);
      shm->samples[i] = now_ns() - shm->released_at;
      shm->turn = me;
    }
  }
  if (fd >= 0) close(fd);
  if (me == 1) _exit(0);
  waitpid(child, NULL, 0);
  printf("{\"case\":\"%s\",\"samples\":[", which);
  for (long i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)shm->samples[i]);
  printf("]}\n");
}

static void* idle(void* arg) {
  (void)arg;
  pause();
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: floor CASE ITERATIONS NAME_OR_PATH [THREADS]\n");
    return 2;
  }
  long n = atol(argv[2]);
  // Idle threads, as a Node process has: the kernel takes slower paths for the fd table of a
  // multi-threaded process (fdget takes a reference that a single-threaded one skips).
  for (int i = 0; argc == 5 && i < atoi(argv[4]); i++) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, idle, NULL) != 0) die("pthread_create");
  }
  if (strncmp(argv[1], "wake-", 5) == 0) {
    run_wake(argv[1], n, argv[3]);
  } else {
    printf("{\"case\":\"%s\",\"ns\":%.1f}\n", argv[1], run_loop(argv[1], n, argv[3]));
  }
  return 0;
}
