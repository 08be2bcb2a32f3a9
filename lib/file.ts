// Exclusive locks on a file or a directory: flock(2) by default, or an OFD fcntl lock.
// After locking, the path must still name the locked inode (FreeBSD flopen); otherwise the file
// was unlinked or replaced meanwhile, and a second holder could lock the new one.
import { constants, lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { binding, type FdWatch } from './binding';
import { LockHeldError, errnoOf, fromErrno, invalidArgument, invalidTarget } from './errors';
import { Lock } from './lock';
import { optionsObject, parseChoice, parseMode, parseWait, type WaitOptions } from './options';
import { waitFor, type Waiter } from './wait';

export type LockMethod = 'flock' | 'fcntl';

export interface FileLockOptions {
  /** 'flock' (default): flock(2), as flock(1), Python fcntl.flock, cargo. 'fcntl': an OFD lock, which
   *  conflicts with lockf/fcntl users. */
  method?: LockMethod;
  /** Permission bits of a lock file this call creates (default 0o644, less the umask). */
  mode?: number;
  onNetworkFilesystem?: 'lock' | 'warn' | 'error';
}

export interface FileTarget {
  readonly path: string;
  readonly method: LockMethod;
  readonly methodCode: number;
  readonly mode: number;
}

const PATH_MAX_BYTES = 4095;
const MAX_REPLACED = 100;
const { O_RDWR, O_RDONLY, O_CREAT, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;
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
  const absolute = resolve(path);
  if (Buffer.byteLength(absolute) > PATH_MAX_BYTES) {
    throw invalidTarget('ENAMETOOLONG', `a path is at most ${PATH_MAX_BYTES} bytes`, { path: absolute });
  }
  const o = optionsObject(options);
  const method = parseChoice('options.method', o.method, ['flock', 'fcntl'] as const, 'flock');
  parseChoice('options.onNetworkFilesystem', o.onNetworkFilesystem, ['warn', 'error', 'lock'] as const, 'warn');
  return { path: absolute, method, methodCode: binding.lockMethods[method], mode: parseMode(o.mode, defaultMode) };
}

/** Opens the lock file (created if absent, never through a symlink), or a directory in place. */
export function openTarget(target: FileTarget, flags = O_RDWR): number {
  const { path, method } = target;
  // O_NONBLOCK: a FIFO planted at the path must not hang open() (read-only, it waits for a writer).
  let fd = binding.open(path, flags | O_CREAT | O_NOFOLLOW | O_NONBLOCK, target.mode);
  if (fd === EACCES && lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) {
    // Some kernels refuse O_CREAT at another user's symlink in a sticky directory with EACCES
    // before O_NOFOLLOW's ELOOP: it is the symlink, nothing was followed.
    fd = ELOOP;
  }
  if ((fd === EACCES || fd === EROFS) && method === 'flock' && flags === O_RDWR) {
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
export function lockOpened(fd: number, target: FileTarget): boolean | 'replaced' {
  const rc = binding.lockVerified(fd, target.path, target.methodCode);
  if (rc === 0) return true;
  if (rc === ESTALE) return 'replaced';
  if (contended(rc, target)) return false;
  throw fromErrno(rc, target.method, { path: target.path });
}

/** open + lock + verify, retried while the path is being replaced. The fd on success, or -1 if held. */
export function tryLockTarget(target: FileTarget, flags?: number): number {
  for (let tries = 0; tries < MAX_REPLACED; tries++) {
    const fd = openTarget(target, flags);
    let locked: boolean | 'replaced';
    try {
      locked = lockOpened(fd, target);
    } catch (error) {
      binding.close(fd);
      throw error;
    }
    if (locked === true) return fd;
    binding.close(fd);
    if (locked === false) return -1;
  }
  throw fromErrno(ESTALE, target.method, { path: target.path });
}

export function fileHeldError(target: FileTarget): LockHeldError {
  const { path, method } = target;
  return new LockHeldError(`${method} ELOCKED: lock is held ${path}`, {
    errno: EAGAIN,
    syscall: method,
    path,
    cause: fromErrno(EAGAIN, method, { path }),
  });
}

function lockOrThrow(target: FileTarget): Lock {
  const fd = tryLockTarget(target);
  if (fd < 0) throw fileHeldError(target);
  return new Lock('file', target.path, fd, target.methodCode);
}

export function lockFileSync(path: string, options?: FileLockOptions): Lock {
  return lockOrThrow(fileTarget(path, options));
}

/** Contention is a value: null, and no Error is built. */
export function tryLockFileSync(path: string, options?: FileLockOptions): Lock | null {
  const target = fileTarget(path, options);
  const fd = tryLockTarget(target);
  return fd < 0 ? null : new Lock('file', target.path, fd, target.methodCode);
}

export async function lockFile(path: string, options?: FileLockOptions & WaitOptions): Promise<Lock> {
  const target = fileTarget(path, options);
  const wait = parseWait(optionsObject(options));
  if (wait.timeout === 0 && !wait.signal?.aborted) return lockOrThrow(target);
  return waitFor(new FileWaiter(target, (fd) => new Lock('file', target.path, fd, target.methodCode)), wait, { path: target.path });
}

/**
 * Keeps the lock file open and watches its inode with inotify: any holder's close (its release,
 * or its death) wakes the waiter, which then tries again. If the path is replaced, the waiter
 * follows it to the new file.
 */
export class FileWaiter<T> implements Waiter<T> {
  readonly #target: FileTarget;
  readonly #flags: number;
  readonly #wrap: (fd: number) => T;
  #fd = -1;
  #notify = -1;
  #watch: FdWatch | undefined;

  constructor(target: FileTarget, wrap: (fd: number) => T, flags = O_RDWR) {
    this.#target = target;
    this.#wrap = wrap;
    this.#flags = flags;
  }

  attempt(): T | null {
    for (let tries = 0; tries < MAX_REPLACED; tries++) {
      if (this.#fd < 0) this.#fd = openTarget(this.#target, this.#flags);
      const locked = lockOpened(this.#fd, this.#target);
      if (locked === false) return null;
      if (locked === true) {
        const fd = this.#fd; // ownership passes to the caller's handle
        this.#fd = -1;
        this.disarm();
        return this.#wrap(fd);
      }
      this.disarm(); // replaced: watch the file that the path names now
    }
    throw fromErrno(ESTALE, this.#target.method, { path: this.#target.path });
  }

  arm(wake: () => void): void {
    if (this.#notify >= 0 || this.#fd < 0) return;
    const notify = binding.inotifyWatch(this.#fd);
    if (notify < 0) return; // no inotify or no /proc: the fallback poll serves
    this.#notify = notify;
    this.#watch ??= new binding.FdWatch(() => {
      binding.inotifyDrain(this.#notify);
      wake();
    });
    if (this.#watch.start(notify) < 0) this.#unwatch();
  }

  disarm(): void {
    this.#unwatch();
    if (this.#fd >= 0) binding.close(this.#fd);
    this.#fd = -1;
  }

  #unwatch(): void {
    if (this.#notify < 0) return;
    this.#watch?.stop();
    binding.close(this.#notify);
    this.#notify = -1;
  }
}
