// Exclusive or shared locks on a file or a directory: flock(2) by default, or an OFD fcntl lock;
// with `slots`, one of N lock files. The attempt itself is file-attempt.ts; waiting for it,
// file-waiters.ts.
import { binding } from './internal/binding';
import { UnsupportedPlatformError } from './errors';
import { errnoOf } from './internal/errno';
import { systemMessage } from './internal/system-message';
import { onNetworkFilesystem, slotsHeldError, tryLockTarget, type FileTarget, type LockMethod, type NetworkFilesystemPolicy } from './internal/file-attempt';
import { lockTargets } from './internal/file-waiters';
import { firstFree, parseSlots, slotNames } from './internal/slots';
import { Lock } from './lock';
import { WAIT_KEYS, optionKeys, optionsObject, parseChoice, parseMode, parseWait, type WaitOptions } from './internal/options';
import { absolutePath } from './internal/path';

export type { LockMethod, NetworkFilesystemPolicy } from './internal/file-attempt';

/**
 * Options of lockFileSync, tryLockFileSync and lockFile (which also takes WaitOptions).
 */
export interface FileLockOptions {
  /** 'flock' (default): flock(2), as flock(1), Python fcntl.flock, cargo. 'fcntl': an OFD lock, which
   *  conflicts with lockf/fcntl users. */
  method?: LockMethod;
  /** Permission bits of a lock file this call creates (default 0o644, less the umask). */
  mode?: number;
  /** On a network or emulated filesystem (NFS, SMB, Ceph, FUSE, 9p...): 'warn' (default: one
   *  process warning per path), 'error' (throw ERR_SOLELY_NETWORK_FILESYSTEM) or 'lock' (silently). */
  onNetworkFilesystem?: NetworkFilesystemPolicy;
  /** A shared lock (flock LOCK_SH; with method 'fcntl' an OFD read lock): any number of shared
   *  holders at once, or one exclusive holder. Not with `slots`. */
  shared?: boolean;
  /** At most `slots` holders at once (1 to 1024, default 1): the lock is one of `slots` lock files,
   *  slot 0 being path itself and slot i `${path}.${i}`. */
  slots?: number;
}

/** The options of any lock file: a pidfile's too. */
export type FileOpenOptions = Omit<FileLockOptions, 'shared' | 'slots'>;

const KEYS = optionKeys<FileOpenOptions>({ method: true, mode: true, onNetworkFilesystem: true });
/** The keys of a pidfile call that waits: openPidfile's. */
export const WAIT_FILE_KEYS = [...KEYS, ...WAIT_KEYS];
const LOCK_KEYS = optionKeys<FileLockOptions>({ method: true, mode: true, onNetworkFilesystem: true, shared: true, slots: true });
const WAIT_LOCK_KEYS = [...LOCK_KEYS, ...WAIT_KEYS];
const DEFAULT_MODE = 0o644;
const S_ISVTX = 0o1000; // not in fs.constants

/** The options of a lock file or pidfile at path, checked. */
export function fileTarget(path: string, options: FileLockOptions | undefined, kind: FileTarget['kind'], keys = KEYS, shared = false): FileTarget {
  const absolute = absolutePath(path);
  const o = optionsObject(options, keys);
  const method = parseChoice('options.method', o.method, ['flock', 'fcntl'] as const, 'flock');
  if (method === 'fcntl' && !binding.ofdLocks) {
    // The classic POSIX lock is no substitute: it vanishes when any fd of the file closes.
    const message = systemMessage('ENOTSUP', `open file description locks do not exist on ${process.platform}; use method 'flock'`, 'fcntl', { path: absolute });
    throw new UnsupportedPlatformError('ENOTSUP', message, { errno: errnoOf('ENOTSUP'), syscall: 'fcntl', path: absolute });
  }
  return {
    kind,
    path: absolute,
    method,
    shared,
    methodCode: binding.lockMethods[method] | (shared ? binding.sharedLock : 0),
    // Lock files get the sticky bit: systemd-tmpfiles never ages out such a file, so a lock file
    // in /tmp or $XDG_RUNTIME_DIR is not deleted under its holder (which would let a second in).
    mode: parseMode(o.mode, DEFAULT_MODE) | S_ISVTX,
    onNetworkFilesystem: parseChoice('options.onNetworkFilesystem', o.onNetworkFilesystem, ['warn', 'error', 'lock'] as const, 'warn'),
  };
}

/** The target of each slot (one, without `slots`): slot i's lock file is slotName(path, i). */
function slotTargets(path: string, options: FileLockOptions | undefined, keys: readonly string[]): FileTarget[] {
  const { slots, shared } = parseSlots(optionsObject(options, keys));
  const first = fileTarget(path, options, 'file', keys, shared);
  return slotNames(first.path, slots, absolutePath).map((slotPath, slot) => (slot === 0 ? first : { ...first, path: slotPath }));
}

function tryLockSync(targets: FileTarget[]): Lock | null {
  onNetworkFilesystem(targets[0]); // the slots' files share a directory
  return firstFree(targets.length, (slot) => {
    const fd = tryLockTarget(targets[slot]);
    return fd === 'held' ? null : fileLock(targets, slot, fd);
  });
}

function fileLock(targets: FileTarget[], slot: number, fd: number): Lock {
  return new Lock('file', targets[0].path, fd, targets[slot].methodCode, slot); // the Lock owns fd from here
}

/**
 * Locks the file at `path` (created if absent, with the sticky bit so tmpfiles cleaners leave it;
 * a directory is locked in place) with flock(2), or an OFD lock with `method: 'fcntl'`. The kernel
 * frees the lock when the Lock is released or the process ends; the file itself stays.
 * @throws {LockHeldError} `ELOCKED` when another process holds it; {@link ForeignHolderError} when that process runs as another uid.
 * @throws {InvalidTargetError} `EINVAL` (empty path, NUL), `ENAMETOOLONG`, `ELOOP` (a symlink), `ENOTDIR`.
 * @throws {SolelyError} `ENOENT` (the directory does not exist), `EACCES`, `EROFS` and other errnos of open(2);
 * `ERR_SOLELY_NETWORK_FILESYSTEM` with `onNetworkFilesystem: 'error'`; `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @throws {UnsupportedPlatformError} `ENOTSUP` for `method: 'fcntl'` where OFD locks do not exist.
 * @example
 * const { lockFileSync } = require('solely');
 * const lock = lockFileSync('/run/lock/backup.lock');
 * try { backUp(); } finally { lock.release(); }
 */
export function lockFileSync(path: string, options?: FileLockOptions): Lock {
  const targets = slotTargets(path, options, LOCK_KEYS);
  const lock = tryLockSync(targets);
  if (lock === null) throw slotsHeldError(targets);
  return lock;
}

/**
 * Like lockFileSync, but returns null when another process holds the lock: contention is a value.
 * @throws {InvalidTargetError} `EINVAL`, `ENAMETOOLONG`, `ELOOP`, `ENOTDIR` for a path that cannot be a lock.
 * @throws {SolelyError} `ENOENT`, `EACCES`, `EROFS`... from open(2); `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @example
 * const { tryLockFileSync } = require('solely');
 * const lock = tryLockFileSync('/run/lock/backup.lock');
 * if (lock === null) console.log('a backup is running already');
 */
export function tryLockFileSync(path: string, options?: FileLockOptions): Lock | null {
  return tryLockSync(slotTargets(path, options, LOCK_KEYS));
}

/**
 * Locks the file at `path` as lockFileSync does; with `wait`, waits for the holder (woken by the
 * kernel's lock, not by polling), up to `wait` ms if a number, or until `signal` aborts.
 * @throws {LockHeldError} `ELOCKED` when held and not waiting; {@link ForeignHolderError} when held by another uid.
 * @throws {LockTimeoutError} `ETIMEDOUT` when `wait` ms passed; {@link AbortError} `ABORT_ERR` when `signal` aborted.
 * @throws {InvalidTargetError} `EINVAL`, `ENAMETOOLONG`, `ELOOP`, `ENOTDIR`.
 * @throws {SolelyError} `ENOENT`, `EACCES`, `EROFS`... from open(2); `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @example
 * import { lockFile } from 'solely';
 * const lock = await lockFile('/run/lock/backup.lock', { wait: true });
 * try { await backUp(); } finally { lock.release(); }
 */
export async function lockFile(path: string, options?: FileLockOptions & WaitOptions): Promise<Lock> {
  const targets = slotTargets(path, options, WAIT_LOCK_KEYS);
  const lock = await lockTargets(targets, parseWait(optionsObject(options, WAIT_LOCK_KEYS)), (fd, slot) => fileLock(targets, slot, fd));
  if (lock === null) throw slotsHeldError(targets);
  return lock;
}
