// Exclusive locks on a file or a directory: flock(2) by default, or an OFD fcntl lock.
// After locking, the path must still name the locked inode (FreeBSD flopen); otherwise the file
// was unlinked or replaced meanwhile, and a second holder could lock the new one.
import { constants, lstatSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { binding } from './binding';
import { LockHeldError, SolelyError, errnoOf, fromErrno, invalidArgument, invalidTarget } from './errors';
import { unwatchFile, watchFile } from './file-events';
import { classifyFilesystem } from './filesystem';
import { fileHolder, heldBy } from './holder';
import { Lock } from './lock';
import { optionsObject, parseChoice, parseMode, parseWait, type Wait, type WaitOptions } from './options';
import { waitFor, type Waiter } from './wait';

export type LockMethod = 'flock' | 'fcntl';

export interface FileLockOptions {
  /** 'flock' (default): flock(2), as flock(1), Python fcntl.flock, cargo. 'fcntl': an OFD lock, which
   *  conflicts with lockf/fcntl users. */
  method?: LockMethod;
  /** Permission bits of a lock file this call creates (default 0o644, less the umask). */
  mode?: number;
  /** On a network or emulated filesystem (NFS, SMB, Ceph, FUSE, 9p...): 'warn' (default: one
   *  process warning per path), 'error' (throw ERR_SOLELY_NETWORK_FILESYSTEM) or 'lock' (silently). */
  onNetworkFilesystem?: NetworkFilesystemPolicy;
}

export type NetworkFilesystemPolicy = 'lock' | 'warn' | 'error';

export interface FileTarget {
  readonly path: string;
  readonly method: LockMethod;
  readonly methodCode: number;
  readonly mode: number;
  readonly onNetworkFilesystem: NetworkFilesystemPolicy;
  /** A pidfile: opened for writing or not at all (no read-only or directory fallback). */
  readonly writable: boolean;
}

const PATH_MAX_BYTES = 4095;
const MAX_REPLACED = 100;
// Relative, or with '//', '/./', '/../' or a trailing '/': resolve() makes it absolute and normal.
const NOT_NORMAL = /^[^/]|\/(\.{1,2})?(\/|$)/;
const { O_RDWR, O_RDONLY, O_CREAT, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;
const S_ISVTX = 0o1000; // not in fs.constants
// Every lock-file open: never through a symlink, and O_NONBLOCK so that a FIFO planted at the
// path cannot hang open() (read-only, it waits for a writer); regular files ignore it.
const CREATE = O_CREAT | O_NOFOLLOW | O_NONBLOCK;
const EAGAIN = errnoOf('EAGAIN');
const EACCES = errnoOf('EACCES');
const EROFS = errnoOf('EROFS');
const EISDIR = errnoOf('EISDIR');
const ELOOP = errnoOf('ELOOP');
const ESTALE = errnoOf('ESTALE');

export function fileTarget(path: unknown, options: FileLockOptions | undefined, defaultMode = 0o644): FileTarget {
  if (typeof path !== 'string') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'path', 'of type string', path);
  if (path.length === 0) throw invalidTarget('EINVAL', 'a lock path cannot be empty', { path });
  if (path.includes('\0')) throw invalidTarget('EINVAL', 'a path cannot contain a NUL byte', { path });
  const absolute = NOT_NORMAL.test(path) ? resolve(path) : path;
  if (Buffer.byteLength(absolute) > PATH_MAX_BYTES) {
    throw invalidTarget('ENAMETOOLONG', `a path is at most ${PATH_MAX_BYTES} bytes`, { path: absolute });
  }
  const o = optionsObject(options);
  const method = parseChoice('options.method', o.method, ['flock', 'fcntl'] as const, 'flock');
  const onNetworkFilesystem = parseChoice('options.onNetworkFilesystem', o.onNetworkFilesystem, ['warn', 'error', 'lock'] as const, 'warn');
  return {
    path: absolute,
    method,
    methodCode: binding.lockMethods[method],
    // Lock files get the sticky bit: systemd-tmpfiles never ages out such a file, so a lock file
    // in /tmp or $XDG_RUNTIME_DIR is not deleted under its holder (which would let a second in).
    mode: parseMode(o.mode, defaultMode) | S_ISVTX,
    onNetworkFilesystem,
    writable: false,
  };
}

const warned = new Set<string>();
// statfs f_type by directory: classified once per process, not on every lock.
const filesystems = new Map<string, number>();
const MAX_REMEMBERED = 1024;

/**
 * statfs on the lock's directory: true on a network or emulated filesystem, after the policy's
 * warning or error. A directory that cannot be examined is left to open() to report.
 */
export function onNetworkFilesystem(target: FileTarget): boolean {
  const dir = dirname(target.path);
  let magic = filesystems.get(dir);
  if (magic === undefined) {
    magic = binding.statfsType(dir);
    if (magic < 0) return false;
    if (filesystems.size >= MAX_REMEMBERED) filesystems.clear();
    filesystems.set(dir, magic);
  }
  const fs = classifyFilesystem(magic);
  if (!fs.network) return false;
  const message = `${target.path} is on a network filesystem (${fs.name}): its lock may not exclude other machines, and can wait on the server`;
  if (target.onNetworkFilesystem === 'error') {
    throw new SolelyError('ERR_SOLELY_NETWORK_FILESYSTEM', message, { path: target.path });
  }
  if (target.onNetworkFilesystem === 'warn' && !warned.has(target.path)) {
    warned.add(target.path);
    process.emitWarning(message, { code: 'SOLELY_NETWORK_FILESYSTEM', detail: "Pass { onNetworkFilesystem: 'lock' } to lock without this warning." });
  }
  return true;
}

/** Opens the lock file (created if absent, never through a symlink), or a directory in place. */
function openTarget(target: FileTarget, flags = O_RDWR): number {
  return openFallback(target, flags, binding.open(target.path, flags | CREATE, target.mode));
}

/** After a first open that gave fd (or -errno): the read-only and directory fallbacks, or the error. */
function openFallback(target: FileTarget, flags: number, first: number): number {
  const { path, method } = target;
  let fd = first;
  if (fd === EACCES && lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) {
    // Some kernels refuse O_CREAT at another user's symlink in a sticky directory with EACCES
    // before O_NOFOLLOW's ELOOP: it is the symlink, nothing was followed.
    fd = ELOOP;
  }
  if (target.writable) {
    if (fd === EISDIR) throw fromErrno(fd, 'open', { path });
  } else if ((fd === EACCES || fd === EROFS) && method === 'flock' && flags === O_RDWR) {
    // flock needs no write access: lock a file we may only read, as flock(1) does.
    const readOnly = binding.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (readOnly >= 0) fd = readOnly;
  } else if (fd === EISDIR) {
    if (method === 'fcntl') throw invalidTarget('EISDIR', "an fcntl lock needs a file open for writing; lock a directory with method 'flock'", { path });
    fd = binding.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  }
  if (fd < 0) throw fromErrno(fd, 'open', { path });
  return fd;
}

function contended(rc: number, target: FileTarget): boolean {
  return rc === EAGAIN || (target.method === 'fcntl' && rc === EACCES);
}

/**
 * Locks fd and verifies the path. Returns true when locked, false when held by another; throws
 * on errors. -ESTALE (the path names another file now) is returned as 'replaced'.
 */
function lockOpened(fd: number, target: FileTarget): boolean | 'replaced' {
  return lockResult(binding.lockVerified(fd, target.path, target.methodCode), target);
}

function lockResult(rc: number, target: FileTarget): boolean | 'replaced' {
  if (rc === 0) return true;
  if (rc === ESTALE) return 'replaced';
  if (contended(rc, target)) return false;
  throw fromErrno(rc, target.method, { path: target.path });
}

/** open + lock + verify, retried while the path is being replaced. The fd on success, or -1 if held. */
export function tryLockTarget(target: FileTarget, flags = O_RDWR): number {
  for (let tries = 0; tries < MAX_REPLACED; tries++) {
    const rc = binding.openLocked(target.path, flags | CREATE, target.mode, target.methodCode);
    if (rc >= 0) return rc;
    const locked = rc <= -binding.lockStage ? lockResult(rc + binding.lockStage, target) : lockFallback(target, flags, rc);
    if (locked === false) return -1;
    if (typeof locked === 'number') return locked;
  }
  throw fromErrno(ESTALE, target.method, { path: target.path });
}

/** The attempt after a failed first open: the fd, false if held, 'replaced' to start again. */
function lockFallback(target: FileTarget, flags: number, first: number): number | false | 'replaced' {
  const fd = openFallback(target, flags, first);
  let locked: boolean | 'replaced';
  try {
    locked = lockOpened(fd, target);
  } catch (error) {
    binding.close(fd);
    throw error;
  }
  if (locked === true) return fd;
  binding.close(fd);
  return locked;
}

/**
 * The lock is held: the holder comes from /proc/locks and fdinfo (claim: a PID to check first).
 * A ForeignHolderError when it runs as another uid, by the rule every mechanism shares.
 */
export function fileHeldError(target: FileTarget, holder = fileHolder(target.path)): LockHeldError {
  const { path, method } = target;
  const fields = { errno: EAGAIN, syscall: method, path, cause: fromErrno(EAGAIN, method, { path }) };
  return heldBy(`${method} ELOCKED: lock is held ${path}`, fields, holder);
}

function fileLock(target: FileTarget, fd: number): Lock {
  return new Lock('file', target.path, fd, target.methodCode); // the Lock owns fd from here
}

export function lockFileSync(path: string, options?: FileLockOptions): Lock {
  const target = fileTarget(path, options);
  onNetworkFilesystem(target);
  const fd = tryLockTarget(target);
  if (fd < 0) throw fileHeldError(target);
  return fileLock(target, fd);
}

/** Contention is a value: null, and no Error is built. */
export function tryLockFileSync(path: string, options?: FileLockOptions): Lock | null {
  const target = fileTarget(path, options);
  onNetworkFilesystem(target);
  const fd = tryLockTarget(target);
  return fd < 0 ? null : fileLock(target, fd);
}

export async function lockFile(path: string, options?: FileLockOptions & WaitOptions): Promise<Lock> {
  const target = fileTarget(path, options);
  const lock = await lockTarget(target, parseWait(optionsObject(options)), (fd) => fileLock(target, fd));
  if (lock === null) throw fileHeldError(target);
  return lock;
}

const HELD = Symbol('held');

/**
 * The async lock of a file target: wrap(fd) once locked, or null if held and not waiting. On a
 * network filesystem every lock request runs on a thread of its own, never on the event loop.
 */
export async function lockTarget<T>(target: FileTarget, wait: Wait, wrap: (fd: number) => T, flags?: number): Promise<T | null> {
  const where = { path: target.path };
  const failFast = wait.timeout === 0 && !wait.signal?.aborted;
  if (onNetworkFilesystem(target)) {
    const waiter = new ThreadWaiter(target, wrap, flags, failFast);
    const lock = await waitFor(waiter, failFast ? { timeout: Infinity, signal: undefined } : wait, where);
    return lock === HELD ? null : lock;
  }
  if (failFast) {
    const fd = tryLockTarget(target, flags);
    return fd < 0 ? null : wrap(fd);
  }
  return waitFor(new FileWaiter(target, wrap, flags), wait, where);
}

/**
 * Keeps the lock file open and watches its inode with inotify: any holder's close (its release,
 * or its death) wakes the waiter, which then tries again. If the path is replaced, the waiter
 * follows it to the new file.
 */
class FileWaiter<T> implements Waiter<T> {
  readonly #target: FileTarget;
  readonly #flags: number;
  readonly #wrap: (fd: number) => T;
  #fd = -1;
  #wd = -1;
  #wake: (() => void) | undefined;

  constructor(target: FileTarget, wrap: (fd: number) => T, flags = O_RDWR) {
    this.#target = target;
    this.#wrap = wrap;
    this.#flags = flags;
  }

  attempt(): T | null {
    for (let tries = 0; tries < MAX_REPLACED; tries++) {
      if (this.#fd < 0) {
        this.#fd = openTarget(this.#target, this.#flags);
        binding.trackWaitFd(this.#fd); // kept open to wait: closed if this thread ends mid-wait
      }
      const locked = lockOpened(this.#fd, this.#target);
      if (locked === false) return null;
      if (locked === true) {
        const fd = this.#fd; // ownership passes to the caller's handle
        binding.untrackWaitFd(fd);
        this.#fd = -1;
        this.disarm();
        return this.#wrap(fd);
      }
      this.disarm(); // replaced: watch the file that the path names now
    }
    throw fromErrno(ESTALE, this.#target.method, { path: this.#target.path });
  }

  arm(wake: () => void): void {
    if (this.#wd >= 0 || this.#fd < 0) return;
    const wd = watchFile(this.#fd, wake);
    if (wd < 0) return; // no inotify or no /proc: the fallback poll serves
    this.#wd = wd;
    this.#wake = wake;
  }

  disarm(): void {
    this.#unwatch();
    if (this.#fd >= 0) binding.closeWaitFd(this.#fd);
    this.#fd = -1;
  }

  #unwatch(): void {
    if (this.#wd < 0 || this.#wake === undefined) return;
    unwatchFile(this.#wd, this.#wake);
    this.#wd = -1;
  }
}

/**
 * Lock attempts on a network filesystem, each on a thread of its own: attempt() starts one and
 * reports its outcome at a later call. A granted lock or an error wakes the wait at once; a held
 * one is tried again at the next poll (inotify sees no other machine's close). failFast: a held
 * lock resolves the wait with HELD instead.
 */
class ThreadWaiter<T> implements Waiter<T | typeof HELD> {
  readonly #target: FileTarget;
  readonly #wrap: (fd: number) => T;
  readonly #flags: number;
  readonly #failFast: boolean;
  #fd = -1;
  #running = false;
  #rc: number | undefined;
  #replaced = 0;
  #wake: (() => void) | undefined;

  constructor(target: FileTarget, wrap: (fd: number) => T, flags = O_RDWR, failFast = false) {
    this.#target = target;
    this.#wrap = wrap;
    this.#flags = flags;
    this.#failFast = failFast;
  }

  attempt(): T | typeof HELD | null {
    if (this.#running) return null;
    const rc = this.#rc;
    this.#rc = undefined;
    if (rc !== undefined) {
      const locked = lockResult(rc, this.#target);
      if (locked === true) {
        const fd = this.#fd; // ownership passes to the caller's handle
        binding.untrackWaitFd(fd);
        this.#fd = -1;
        return this.#wrap(fd);
      }
      if (locked === false && this.#failFast) return HELD;
      if (locked === 'replaced') {
        binding.closeWaitFd(this.#fd);
        this.#fd = -1;
        if (++this.#replaced >= MAX_REPLACED) throw fromErrno(ESTALE, this.#target.method, { path: this.#target.path });
      }
    }
    this.#start();
    return null;
  }

  arm(wake: () => void): void {
    this.#wake = wake;
  }

  disarm(): void {
    this.#wake = undefined;
    // An attempt in flight still uses the fd: its callback closes it.
    if (!this.#running && this.#fd >= 0) binding.closeWaitFd(this.#fd);
    this.#fd = -1;
  }

  #start(): void {
    if (this.#fd < 0) {
      this.#fd = openTarget(this.#target, this.#flags);
      binding.trackWaitFd(this.#fd); // kept open to wait: closed if this thread ends mid-wait
    }
    const fd = this.#fd;
    const target = this.#target;
    // In flight, fd is the request's: if this thread ends first, the addon closes it once the
    // request completes, so the registry must not close it under the request.
    binding.untrackWaitFd(fd);
    const started = binding.lockVerifiedOnThread(fd, target.path, target.methodCode, (rc) => {
      this.#running = false;
      if (this.#fd !== fd) {
        // abandoned (timeout, abort, error): this callback owns fd now
        if (rc === 0) binding.unlockClose(fd, target.methodCode);
        else binding.close(fd);
        return;
      }
      binding.trackWaitFd(fd); // back with the waiter
      this.#rc = rc;
      if (this.#failFast || !contended(rc, target)) this.#wake?.();
    });
    if (started < 0) {
      binding.trackWaitFd(fd); // no request took it: back with the waiter
      throw fromErrno(started, 'uv_thread_create', { path: target.path });
    }
    this.#running = true;
  }
}
