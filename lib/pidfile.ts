// Pidfiles with BSD pidfile(3) semantics: the lock says whether the daemon runs, the contents say
// which PID it claims. Truncated and written only under the lock; removed only while still held,
// through the directory it was opened in, and only if the name still names the locked file.
import { constants, lstatSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { binding } from './binding';
import { LockHeldError, errnoOf, fromErrno, fromFsError, invalidArgument, type SolelyError } from './errors';
import { fileTarget, type FileLockOptions } from './file';
import { fileHeldError, lockFailure, lockMethodCode, onNetworkFilesystem, tryLockTarget, type FileTarget } from './file-attempt';
import { lockTarget } from './file-waiters';
import { fileHolder, isLocked } from './holder';
import { Lock } from './lock';
import { optionsObject, parseWait, type WaitOptions } from './options';
import { absolutePath } from './path';

export interface PidfileOptions extends FileLockOptions {
  /** Permission bits of a pidfile this call creates (default 0o644, less the umask: readers need
   *  the PID; BSD's default is 0o600). */
  mode?: number;
}

const { O_RDONLY, O_RDWR, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, S_IFMT, S_IFREG, S_IFDIR } = constants;
// Reads never wait: a FIFO planted at the path would block open() until a writer came.
const READ = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
// Opens what is there now, to lock it again: never creating, truncating or following anything.
const REOPEN = O_RDWR | O_NOFOLLOW | O_NONBLOCK;
// '2147483647\n': one byte more is read, so that a longer file is seen to hold no PID.
const MAX_PID_TEXT = 11;
const ENOENT = errnoOf('ENOENT');
const EACCES = errnoOf('EACCES');
const ESTALE = errnoOf('ESTALE');
const EISDIR = errnoOf('EISDIR');
// A holder that has locked but not yet written is given this long, as BSD's pidfile_open does.
const READ_TRIES = 20;
const READ_PAUSE_MS = 5;
const MAX_PID = 2 ** 31 - 1;

export class Pidfile extends Lock {
  #dirfd: number;
  readonly #name: string;
  readonly #target: FileTarget;

  /** @internal The Pidfile owns fd (locked) and dirfd (its directory) from here on. */
  constructor(target: FileTarget, fd: number, dirfd: number) {
    super('pidfile', target.path, fd, lockMethodCode(target));
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
    const method = lockMethodCode(this.#target);
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
    binding.unlockClose(fd, lockMethodCode(target));
    throw fromErrno(rc, syscall, { path: syscall === 'open' ? dirname(target.path) : target.path });
  }
  return new Pidfile(target, fd, rc); // the Pidfile owns both fds from here
}

/** A file's type and identity: all that pidfiles compare. */
interface FileId {
  mode: number;
  dev: bigint;
  ino: bigint;
}

/** fstat through the addon: a runtime's fs may not know an fd the addon opened (Deno's does not). */
function fdStats(fd: number, path: string): FileId {
  const stats = binding.fstat(fd);
  if (typeof stats === 'number') throw fromErrno(stats, 'fstat', { path });
  return { mode: stats[0], dev: stats[1], ino: stats[2] };
}

function sameFile(a: FileId, b: FileId): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** The PID a pidfile claims: a positive decimal, alone (a newline after it is accepted), or null. */
function parsePid(text: string): number | null {
  const match = /^(\d{1,10})\n?$/.exec(text);
  const pid = match === null ? 0 : Number(match[1]);
  return pid > 0 && pid <= MAX_PID ? pid : null;
}

/** The PID in the file fd refers to, from a bounded prefix; none in a FIFO, socket or device. */
function pidIn(fd: number, stats: FileId, path: string): number | null {
  if ((stats.mode & S_IFMT) !== S_IFREG) return null;
  const prefix = binding.pidfileRead(fd, MAX_PID_TEXT + 1);
  if (typeof prefix === 'number') throw fromErrno(prefix, 'read', { path });
  return parsePid(prefix.toString('latin1'));
}

function readPid(path: string): number | null {
  const fd = binding.open(path, READ, 0);
  if (fd < 0) return null;
  try {
    return pidIn(fd, fdStats(fd, path), path);
  } catch {
    return null;
  } finally {
    binding.close(fd);
  }
}

function heldError(target: FileTarget, pid: number | null): LockHeldError {
  if (pid === null) return fileHeldError(target);
  // The PID is the file's claim; uid and command only when fdinfo confirms that it holds the lock.
  const holder = fileHolder(target.path, pid);
  return fileHeldError(target, holder?.pid === pid ? holder : { pid });
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
 * Opens and locks a pidfile (created if absent, never through a symlink), then truncates it.
 * Throws LockHeldError with the holder's PID, read from the file, if another process has it.
 */
export function openPidfileSync(path: string, options?: PidfileOptions): Pidfile {
  const target = fileTarget(path, options, 'pidfile');
  onNetworkFilesystem(target);
  const fd = tryLockTarget(target);
  if (fd < 0) throw heldErrorSync(target);
  return adopt(target, fd);
}

export async function openPidfile(path: string, options?: PidfileOptions & WaitOptions): Promise<Pidfile> {
  const target = fileTarget(path, options, 'pidfile');
  const pidfile = await lockTarget(target, parseWait(optionsObject(options)), (fd) => adopt(target, fd));
  if (pidfile === null) throw await heldErrorAsync(target);
  return pidfile;
}

/**
 * What a pidfile says, without ever taking its lock: the PID it claims, and whether some process
 * holds its lock (from /proc/locks). An unlocked pidfile is stale, whatever its PID.
 */
export function readPidfile(path: string): { pid: number | null; locked: boolean } {
  const absolute = absolutePath(path);
  const fd = binding.open(absolute, READ, 0);
  if (fd === ENOENT) return { pid: null, locked: false };
  if (fd < 0 && fd !== EACCES) throw fromErrno(fd, 'open', { path: absolute });
  let stats: FileId;
  let pid: number | null = null;
  if (fd < 0) {
    try {
      const { mode, dev, ino } = lstatSync(absolute, { bigint: true }); // unreadable: the lock is still visible
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
