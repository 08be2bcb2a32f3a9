// The one module that touches the untyped addon. Every function returns a value >= 0 or -errno;
// none throws for an OS error. Arguments are validated by the callers, in TypeScript.
import { UnsupportedPlatformError } from '../errors';
import { onNode } from './runtime';

export interface FdWatch {
  /** Calls back on readability (or with events WRITABLE, writability) or hang-up of fd until
   *  stop(). 0 or -errno. fd stays the caller's. */
  start(fd: number, events?: number): number;
  stop(): void;
}

export const READABLE = 1;
export const WRITABLE = 2;

export interface Binding {
  /** socket + bind to "\0" + name (+ listen when backlog >= 0): the fd, or -errno. */
  abstractBind(name: string, backlog: number): number;
  /** A non-blocking connected socket to an abstract name: the fd, or -errno. */
  abstractConnect(name: string): number;
  /** Every socket bound to "\0" + name in this network namespace, listening or not (sock_diag):
   *  [[inode, uid], ...], uid -1 where the kernel does not report it (Linux < 5.3); or -errno. */
  abstractOwners(name: string): [number, number][] | number;
  /** Every socket bound to an abstract name in this network namespace (sock_diag): [[name, inode,
   *  uid, peer], ...], name the exact bytes after the NUL, uid -1 where the kernel does not report
   *  it, peer its peer's inode or 0 if unconnected; or -errno. */
  abstractSockets(): [Buffer, number, number, number][] | number;
  /** The peer of a connected Unix socket: [pid, uid, gid], or -errno. */
  peerCred(fd: number): [number, number, number] | number;
  /** open(path, flags | O_CLOEXEC, mode): the fd, or -errno. */
  open(path: string, flags: number, mode: number): number;
  /** open + lockVerified in one call: the fd; the lock step's -errno (the fd closed again); or
   *  [-errno] when open failed. */
  openLocked(path: string, flags: number, mode: number, method: number): number | [openErrno: number];
  /** Lock without blocking, then check that path still names fd's inode (-ESTALE if not). */
  lockVerified(fd: number, path: string, method: number): number;
  /** lockVerified on a thread of its own (network filesystems): 0, then callback(rc) on the loop;
   *  or -errno if no thread started. fd must stay open until the callback. */
  lockVerifiedOnThread(fd: number, path: string, method: number, callback: (rc: number) => void): number;
  /** Unlock, then close. 0 or -errno; the fd is closed either way. */
  unlockClose(fd: number, method: number): number;
  readonly lockMethods: { readonly flock: number; readonly fcntl: number };
  /** Or'ed into a lock method: a shared lock (flock LOCK_SH, an OFD read lock F_RDLCK). */
  readonly sharedLock: number;
  /** Whether open-file-description locks (method fcntl) exist here: never a classic POSIX lock. */
  readonly ofdLocks: boolean;
  /** A non-blocking inotify instance, closed when this thread's environment ends: fd or -errno. */
  inotifyInit(): number;
  /** Watches the inode fd refers to for close, unlink and rename: the watch descriptor, or -errno. */
  inotifyAddWatch(notify: number, fd: number): number;
  /** 0 or -errno. */
  inotifyRmWatch(notify: number, wd: number): number;
  /** Reads every queued event: the watch descriptors they name, or -errno. */
  inotifyRead(notify: number): number[] | number;
  readonly FdWatch: new (callback: (status: number) => void) => FdWatch;
  /** FdWatch from an epoll thread through a threadsafe function, for runtimes without libuv. */
  readonly FdWatchOnThread: new (callback: (status: number) => void) => FdWatch;
  /** The first max bytes of fd's file (at most 64), from offset 0: a Buffer, or -errno. */
  pidfileRead(fd: number, max: number): Buffer | number;
  /** ftruncate(fd, 0), then one pwrite of text at offset 0: the bytes written, or -errno. */
  pidfileWrite(fd: number, text: string): number;
  /** unlinkat(dirfd, name) if name is still fd's file (dev/ino): 0, -ESTALE if another, or -errno. */
  unlinkVerified(dirfd: number, name: string, fd: number): number;
  /** statfs(path).f_type (unsigned magic number), or -errno. */
  statfsType(path: string): number;
  /** socket + bind(address) + stat dirFd/name (must be the socket) + chmod if mode >= 0 + listen:
   *  [fd, dev, ino], or -errno; a socket file it bound is removed again on failure. */
  unixListen(address: string, dirFd: number, name: string, mode: number, backlog: number): [number, bigint, bigint] | number;
  /** A non-blocking connected socket to a socket path (at most 107 bytes): the fd, or -errno. */
  unixConnect(address: string): number;
  /** fstat(fd): [mode, dev, ino, rdev], or -errno. */
  fstat(fd: number): [number, bigint, bigint, bigint] | number;
  /** lstat of name in the directory dirFd: [mode, dev, ino], or -errno. */
  statAt(dirFd: number, name: string): [number, bigint, bigint] | number;
  /** Unlinks name in dirFd if it is still the inode dev/ino: 0, -ESTALE if not, or -errno. */
  unlinkAtIf(dirFd: number, name: string, dev: bigint, ino: bigint): number;
  /** [isUnix, isStream, isListening, bound sun_path bytes] of a socket fd, or -errno (-ENOTSOCK). */
  socketInfo(fd: number): [boolean, boolean, boolean, Buffer] | number;
  /** One non-blocking sendmsg of text with fds attached (SCM_RIGHTS; the kernel passes copies,
   *  ours stay open): the bytes sent, or -errno. */
  sendFds(fd: number, text: string, fds: number[]): number;
  /** One non-blocking recvmsg: [bytes (empty at end of stream), fds received, close-on-exec and
   *  the caller's], or -errno (-EAGAIN: nothing yet). */
  recvFds(fd: number): [Buffer, number[]] | number;
  /** The O_PATH open flag, or 0 where it does not exist. */
  readonly O_PATH: number;
  /** close(fd), never retried. 0 or -errno. */
  close(fd: number): number;
  /** FD_CLOEXEC on an inherited fd. 0 or -errno. */
  setCloexec(fd: number): number;
  /** A close-on-exec duplicate of fd (the same open file description), or -errno. */
  dup(fd: number): number;
  /** F_GETFL: fd's access mode and status flags (O_PATH included), or -errno. */
  fileStatusFlags(fd: number): number;
  /** This thread's registry of fds kept open only for a pending wait: it closes the fds still in
   *  it when the thread's environment ends (a Worker terminated mid-wait). trackWaitFd adds fd. */
  trackWaitFd(fd: number): void;
  /** Takes fd out of the registry: it passes to another owner (a Lock, a lock request's thread). */
  untrackWaitFd(fd: number): void;
  /** Takes fd out of the registry and closes it, never retried. 0 or -errno. */
  closeWaitFd(fd: number): number;
  /** One non-blocking send(2) of buffer from offset: the bytes taken, or -errno (-EAGAIN: full). */
  socketSend(fd: number, buffer: Buffer, offset: number): number;
  /** One non-blocking recv(2) of up to max bytes: a Buffer (empty at end of stream), or -errno. */
  socketRecv(fd: number, max: number): Buffer | number;
  /** One write(2) of buffer from offset: the bytes taken, or -errno (-EAGAIN when a non-blocking fd is full). */
  fdWrite(fd: number, buffer: Buffer, offset: number): number;
  /** One read(2) of up to max bytes: a Buffer (empty at end of file), or -errno. */
  fdRead(fd: number, max: number): Buffer | number;
  /**
   * Arms the parent-death signal, checks the parent is still expectedParent (else -ESRCH), resets
   * signal dispositions and mask, clears FD_CLOEXEC on 0..2 and on each fd of keep, then
   * execvp(argv[0], argv). Returns only on failure: -errno.
   */
  execWithParentDeath(signal: number, expectedParent: number, argv: string[], keep: number[]): number;
}

/* eslint-disable @typescript-eslint/no-require-imports */
// Paths joined by hand, and node:fs and node:path loaded only off the usual path: on Bun each of
// those modules costs a launch that takes a free lock a millisecond or more (bench: process start).
const ROOT = `${__dirname}/../..`;

/**
 * The glibc prebuild an install kept, found with a stat or two, where node-gyp-build would choose
 * it. Undefined where node-gyp-build must decide: musl, or any other layout.
 */
function expectedPrebuild(): string | undefined {
  const { existsSync } = require('node:fs') as typeof import('node:fs');
  if (process.platform !== 'linux' || existsSync(`${ROOT}/build`) || existsSync('/etc/alpine-release')) return undefined;
  const prebuild = `${ROOT}/prebuilds/linux-${process.arch}/solely.glibc.node`;
  return existsSync(prebuild) ? prebuild : undefined;
}

/**
 * The binary node-gyp-build would choose in the two usual layouts (a build from source, or the
 * glibc prebuild), loaded straight: loading node-gyp-build and its directory search cost a start
 * more than the dlopen itself. node-gyp-build decides where an environment variable steers it.
 */
function load(): unknown {
  const env = process.env;
  if (!(env.PREBUILDS_ONLY || env.SOLELY_PREBUILD || env.LIBC || env.npm_config_arch || env.npm_config_platform)) {
    try {
      return require(`${ROOT}/build/Release/solely.node`);
    } catch (error) {
      // Absent (an install from a prebuild); an addon that is there but fails to load fails here.
      if ((error as { code?: unknown } | null)?.code !== 'MODULE_NOT_FOUND') throw error;
    }
    const prebuild = expectedPrebuild();
    if (prebuild !== undefined) return require(prebuild);
  }
  return (require('node-gyp-build') as (dir: string) => unknown)(ROOT);
}
/* eslint-enable @typescript-eslint/no-require-imports */

function loadAddon(): Binding {
  try {
    return load() as Binding;
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'ERR_DLOPEN_DISABLED') throw error;
    const message = "solely's native addon cannot load: Node's permission model refuses addons; add --allow-addons to node's options";
    throw new UnsupportedPlatformError('ERR_DLOPEN_DISABLED', message, { cause: error });
  }
}

const addon = loadAddon();

// Node runs waits on its own event loop (uv_poll). Bun stubs uv_poll with a panic and Deno emulates
// it: there an epoll thread reports them. Measured on Node, the thread's hop costs a wake-up 20 to
// 30 µs more at the median, so Node keeps the loop's.
// A copy in every case: V8 keeps the addon's own exports object, filled property by property, in
// dictionary mode, where each `binding.x` of a lock's hot path is a slow lookup.
export const binding: Binding = onNode ? { ...addon } : { ...addon, FdWatch: addon.FdWatchOnThread };
