// The one module that touches the untyped addon. Every function returns a value >= 0 or -errno;
// none throws for an OS error. Arguments are validated by the callers, in TypeScript.
import path = require('node:path');

export interface FdWatch {
  /** Calls back on readability or hang-up of fd until stop(). 0 or -errno. fd stays the caller's. */
  start(fd: number): number;
  stop(): void;
}

export interface Binding {
  /** socket + bind to "\0" + name (+ listen when backlog >= 0): the fd, or -errno. */
  abstractBind(name: string, backlog: number): number;
  /** A non-blocking connected socket to an abstract name: the fd, or -errno. */
  abstractConnect(name: string): number;
  /** The peer of a connected Unix socket: [pid, uid, gid], or -errno. */
  peerCred(fd: number): [number, number, number] | number;
  /** open(path, flags | O_CLOEXEC, mode): the fd, or -errno. */
  open(path: string, flags: number, mode: number): number;
  /** Lock without blocking, then check that path still names fd's inode (-ESTALE if not). */
  lockVerified(fd: number, path: string, method: number): number;
  /** Unlock, then close. 0 or -errno; the fd is closed either way. */
  unlockClose(fd: number, method: number): number;
  readonly lockMethods: { readonly flock: number; readonly fcntl: number };
  /** A non-blocking inotify fd woken when fd's file is closed, unlinked or renamed. */
  inotifyWatch(fd: number): number;
  /** Discards queued inotify events. 0 or -errno. */
  inotifyDrain(fd: number): number;
  readonly FdWatch: new (callback: (status: number) => void) => FdWatch;
  /** close(fd), never retried. 0 or -errno. */
  close(fd: number): number;
  /** close(fd) on a short-lived thread, for fds whose close blocks (inotify). 0 or -errno. */
  closeDetached(fd: number): number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => unknown;

export const binding = load(path.join(__dirname, '..')) as Binding;
