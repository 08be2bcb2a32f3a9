// Pidfiles with BSD pidfile(3) semantics: the lock says whether the daemon runs, the contents say
// which PID it claims. Truncated and written only under the lock; removed only while still held,
// through the directory it was opened in, and only if the name still names the locked file.
import { constants, lstatSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { binding } from './internal/binding';
import { LockHeldError, type Holder, type SolelyError } from './errors';
import { errnoOf, fromErrno, fromFsError, invalidArgument } from './internal/errno';
import { WAIT_FILE_KEYS, fileTarget, type FileOpenOptions } from './file';
import { fileHeldError, lockFailure, lockTargetSync, type FileTarget } from './internal/file-attempt';
import { lockTarget } from './internal/file-waiters';
import { fileHolder, isLocked } from './internal/holder';
import { Lock } from './lock';
import { MAX_PID, READ, fdStats, pidIn, readPid, type FileId } from './internal/pid-in-file';
import { optionsObject, parseWait, type WaitOptions } from './internal/options';
import { absolutePath } from './internal/path';

/**
 * Options of openPidfileSync and openPidfile (which also takes WaitOptions).
 */
export interface PidfileOptions extends FileOpenOptions {
  /** Permission bits of a pidfile this call creates (default 0o644, less the umask: readers need
   *  the PID; BSD's default is 0o600). */
  mode?: number;
}

const { O_RDONLY, O_RDWR, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, S_IFMT, S_IFDIR } = constants;
// Opens what is there now, to lock it again: never creating, truncating or following anything.
const REOPEN = O_RDWR | O_NOFOLLOW | O_NONBLOCK;
const ENOENT = errnoOf('ENOENT');
const EACCES = errnoOf('EACCES');
const ESTALE = errnoOf('ESTALE');
const EISDIR = errnoOf('EISDIR');
const ENXIO = errnoOf('ENXIO');
// A holder that has locked but not yet written is given this long, as BSD's pidfile_open does.
const READ_TRIES = 20;
const READ_PAUSE_MS = 5;

/**
 * A locked pidfile: a Lock whose file holds a PID, as BSD's pidfile(3) and daemons' pidfiles do.
 * Readers (readPidfile, `solely status`) trust the PID only while the file is locked.
 * @throws {SolelyError} from write() and remove(): the errno of the failed write or unlink.
 * @example
 * const { openPidfileSync } = require('solely');
 * const pidfile = openPidfileSync('/run/mydaemon.pid');
 * pidfile.write(); // this process's PID
 * process.on('exit', () => pidfile.remove());
 */
export class Pidfile extends Lock {
  #dirfd: number;
  readonly #name: string;
  readonly #target: FileTarget;

  /** @internal The Pidfile owns fd (locked) and dirfd (its directory) from here on. */
  constructor(target: FileTarget, fd: number, dirfd: number) {
    super('pidfile', target.path, fd, target.methodCode);
    this.#dirfd = dirfd;
    this.#name = basename(target.path);
    this.#target = target;
  }

  /**
   * Writes the PID over the whole file (ftruncate, then one pwrite at offset 0), in decimal with
   * no newline, as BSD's pidfile_write: libbsd's pidfile_read refuses anything after the digits.
   */
  write(pid: number = process.pid): void {
    if (!Number.isInteger(pid) || pid <= 0 || pid > MAX_PID) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'pid', 'a positive integer', pid);
    const rc = binding.pidfileWrite(this.fd, String(pid));
    if (rc < 0) throw fromErrno(rc, 'write', { path: this.target });
  }

  /**
   * Unlinks the pidfile while the lock is still held, then releases. The name is left alone if it
   * no longer names the locked file (removed or replaced by someone else). A no-op once released.
   */
  remove(): void {
    if (this.released) return;
    const failure = this.#unlinkIfStill(this.#dirfd, this.fd);
    this.release();
    if (failure !== undefined) throw failure;
  }

  /** Unlinks the name in dirfd if it still names fd's file: the failure, if not just "gone or replaced". */
  #unlinkIfStill(dirfd: number, fd: number): SolelyError | undefined {
    const rc = binding.unlinkVerified(dirfd, this.#name, fd);
    return rc < 0 && rc !== ESTALE && rc !== ENOENT ? fromErrno(rc, 'unlinkat', { path: this.target }) : undefined;
  }

  /**
   * @internal For a lock shared with processes this one started (the CLI's COMMAND inherits it):
   * closes this fd without unlocking, then removes the pidfile as remove() does only if this
   * process can lock that same file again, proof that none of them holds it any more. Whatever
   * else the path names by then (a file renamed over it, a symlink, a FIFO, nothing) is left alone.
   */
  removeUnlessHeld(): void {
    if (this.released) return;
    const path = this.target;
    const method = this.#target.methodCode;
    const dirfd = this.#dirfd;
    this.#dirfd = -1; // closed here, after the unlink; closeWithoutUnlock releases the rest
    // Opened while this fd still pins the locked inode, so that a match cannot be a reused inode.
    const fd = binding.open(path, REOPEN, 0);
    try {
      const ours = fd >= 0 && sameFile(fdStats(fd, path), fdStats(this.fd, path));
      this.closeWithoutUnlock();
      if (!ours) return;
      const rc = binding.lockVerified(fd, path, method);
      if (rc < 0) {
        lockFailure(rc, this.#target); // throws, unless held or replaced: then it is not ours to remove
        return;
      }
      const failure = this.#unlinkIfStill(dirfd, fd);
      if (failure !== undefined) throw failure;
    } finally {
      if (fd >= 0) binding.unlockClose(fd, method);
      binding.close(dirfd);
    }
  }

  /** Releases the lock and closes the kept directory; idempotent. */
  override release(): void {
    super.release();
    if (this.#dirfd < 0) return;
    binding.close(this.#dirfd);
    this.#dirfd = -1;
  }
}

/**
 * Truncates the freshly locked file (only now, under the lock) and opens its directory: the path
 * up to its last '/', as text, is where the kernel looked the name up ('..' and symlinks in it
 * resolve the same way again); remove() checks dev/ino before it unlinks anything there.
 */
function adopt(target: FileTarget, fd: number): Pidfile {
  let rc = binding.pidfileWrite(fd, '');
  const syscall = rc < 0 ? 'ftruncate' : 'open';
  if (rc >= 0) rc = binding.open(dirname(target.path), O_RDONLY | O_DIRECTORY, 0);
  if (rc < 0) {
    binding.unlockClose(fd, target.methodCode);
    throw fromErrno(rc, syscall, { path: syscall === 'open' ? dirname(target.path) : target.path });
  }
  return new Pidfile(target, fd, rc); // the Pidfile owns both fds from here
}

function sameFile(a: FileId, b: FileId): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * The holder of a pidfile's lock, undefined if unknown: the PID the file claims (pid), with uid
 * and command only when fdinfo confirms that it holds the lock. `solely run` hands its lock to
 * COMMAND and writes COMMAND's PID: the holder is COMMAND, not the wrapper that took the lock.
 */
export function pidfileHolder(path: string, pid: number | null): Holder | undefined {
  if (pid === null) return fileHolder(path);
  const holder = fileHolder(path, pid);
  return holder?.pid === pid ? holder : { pid };
}

function heldError(target: FileTarget, pid: number | null): LockHeldError {
  // fileHeldError looks the holder up itself when given none.
  return pid === null ? fileHeldError(target) : fileHeldError(target, pidfileHolder(target.path, pid));
}

const pause = new Int32Array(new SharedArrayBuffer(4));

function heldErrorSync(target: FileTarget): LockHeldError {
  let pid = readPid(target.path);
  for (let tries = 1; pid === null && tries < READ_TRIES; tries++) {
    Atomics.wait(pause, 0, 0, READ_PAUSE_MS);
    pid = readPid(target.path);
  }
  return heldError(target, pid);
}

async function heldErrorAsync(target: FileTarget): Promise<LockHeldError> {
  let pid = readPid(target.path);
  for (let tries = 1; pid === null && tries < READ_TRIES; tries++) {
    await sleep(READ_PAUSE_MS);
    pid = readPid(target.path);
  }
  return heldError(target, pid);
}

/**
 * Opens and locks a pidfile (created if absent, never through a symlink), then truncates it; it
 * holds no PID until write(). The lock is the truth: a stale file from a crashed run is taken over.
 * @throws {LockHeldError} `ELOCKED` with `holder.pid` read from the file when another process has it;
 * {@link ForeignHolderError} when that process runs as another uid.
 * @throws {InvalidTargetError} `EINVAL`, `ENAMETOOLONG`, `ELOOP` (a symlink), `EISDIR`, `ENOTDIR`.
 * @throws {SolelyError} `ENOENT`, `EACCES`, `EROFS`... from open(2); `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @example
 * const { openPidfileSync } = require('solely');
 * const pidfile = openPidfileSync('/run/mydaemon.pid');
 * pidfile.write();
 */
export function openPidfileSync(path: string, options?: PidfileOptions): Pidfile {
  const target = fileTarget(path, options, 'pidfile');
  const fd = lockTargetSync(target);
  if (fd === 'held') throw heldErrorSync(target);
  return adopt(target, fd);
}

/**
 * Opens and locks a pidfile as openPidfileSync does; with `wait`, waits for the holder to let go,
 * up to `wait` ms if a number, or until `signal` aborts.
 * @throws {LockHeldError} `ELOCKED` with `holder.pid` when held and not waiting; {@link ForeignHolderError} for another uid.
 * @throws {LockTimeoutError} `ETIMEDOUT` when `wait` ms passed; {@link AbortError} `ABORT_ERR` when `signal` aborted.
 * @throws {InvalidTargetError} `EINVAL`, `ENAMETOOLONG`, `ELOOP`, `EISDIR`, `ENOTDIR`.
 * @throws {SolelyError} `ENOENT`, `EACCES`, `EROFS`... from open(2); `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @example
 * import { openPidfile } from 'solely';
 * const pidfile = await openPidfile('/run/mydaemon.pid', { wait: 5000 });
 * pidfile.write();
 */
export async function openPidfile(path: string, options?: PidfileOptions & WaitOptions): Promise<Pidfile> {
  const target = fileTarget(path, options, 'pidfile', WAIT_FILE_KEYS);
  const pidfile = await lockTarget(target, parseWait(optionsObject(options, WAIT_FILE_KEYS)), (fd) => adopt(target, fd));
  if (pidfile === null) throw await heldErrorAsync(target);
  return pidfile;
}

/**
 * What a pidfile says, without ever taking its lock: the PID it claims (null if none), and whether
 * some process holds its lock (from /proc/locks). An unlocked pidfile is stale, whatever its PID.
 * An absent file (or directory on the path) gives `{ pid: null, locked: false }`, never ENOENT; a
 * FIFO, socket or device at the path holds no PID (null).
 * @throws {InvalidTargetError} `EINVAL`, `ENAMETOOLONG`, `ELOOP` (a symlink), `EISDIR`, `ENOTDIR`.
 * @throws {SolelyError} `EACCES` (a directory on the path not searchable)... from open(2) and lstat(2).
 * @example
 * const { readPidfile } = require('solely');
 * const { pid, locked } = readPidfile('/run/mydaemon.pid');
 * if (locked) process.kill(pid, 'SIGHUP');
 */
export function readPidfile(path: string): { pid: number | null; locked: boolean } {
  const absolute = absolutePath(path);
  const fd = binding.open(absolute, READ, 0);
  if (fd === ENOENT) return { pid: null, locked: false };
  // Unreadable, or a socket (ENXIO): no PID, but whether it is locked is still visible.
  if (fd < 0 && fd !== EACCES && fd !== ENXIO) throw fromErrno(fd, 'open', { path: absolute });
  let stats: FileId;
  let pid: number | null = null;
  if (fd < 0) {
    try {
      const { mode, dev, ino } = lstatSync(absolute, { bigint: true });
      stats = { mode: Number(mode), dev, ino };
    } catch (error) {
      throw fromFsError(error, 'lstat', { path: absolute });
    }
  } else {
    try {
      stats = fdStats(fd, absolute);
      pid = pidIn(fd, stats, absolute);
    } finally {
      binding.close(fd);
    }
  }
  // No pidfile can be there: openPidfile* would fail the same way, so this is not "stale".
  if ((stats.mode & S_IFMT) === S_IFDIR) throw fromErrno(EISDIR, 'open', { path: absolute });
  return { pid, locked: isLocked(stats) };
}
