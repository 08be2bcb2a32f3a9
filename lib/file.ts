// Exclusive locks on a file or a directory: flock(2) by default, or an OFD fcntl lock. The
// attempt itself is file-attempt.ts; waiting for it, file-waiters.ts.
import { binding } from './binding';
import { UnsupportedPlatformError, errnoOf } from './errors';
import { fileHeldError, lockTargetSync, type FileTarget, type LockMethod, type NetworkFilesystemPolicy } from './file-attempt';
import { lockTarget } from './file-waiters';
import { Lock } from './lock';
import { optionsObject, parseChoice, parseMode, parseWait, type WaitOptions } from './options';
import { absolutePath } from './path';

export type { LockMethod, NetworkFilesystemPolicy } from './file-attempt';

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

const DEFAULT_MODE = 0o644;
const S_ISVTX = 0o1000; // not in fs.constants

/** The options of a lock file or pidfile at path, checked. */
export function fileTarget(path: string, options: FileLockOptions | undefined, kind: FileTarget['kind']): FileTarget {
  const absolute = absolutePath(path);
  const o = optionsObject(options);
  const method = parseChoice('options.method', o.method, ['flock', 'fcntl'] as const, 'flock');
  if (method === 'fcntl' && !binding.ofdLocks) {
    // The classic POSIX lock is no substitute: it vanishes when any fd of the file closes.
    const message = `fcntl ENOTSUP: open file description locks do not exist on ${process.platform}; use method 'flock' ${absolute}`;
    throw new UnsupportedPlatformError('ENOTSUP', message, { errno: errnoOf('ENOTSUP'), syscall: 'fcntl', path: absolute });
  }
  return {
    kind,
    path: absolute,
    method,
    methodCode: binding.lockMethods[method],
    // Lock files get the sticky bit: systemd-tmpfiles never ages out such a file, so a lock file
    // in /tmp or $XDG_RUNTIME_DIR is not deleted under its holder (which would let a second in).
    mode: parseMode(o.mode, DEFAULT_MODE) | S_ISVTX,
    onNetworkFilesystem: parseChoice('options.onNetworkFilesystem', o.onNetworkFilesystem, ['warn', 'error', 'lock'] as const, 'warn'),
  };
}

function tryLockSync(target: FileTarget): Lock | null {
  const fd = lockTargetSync(target);
  return fd === 'held' ? null : fileLock(target, fd);
}

function fileLock(target: FileTarget, fd: number): Lock {
  return new Lock('file', target.path, fd, target.methodCode); // the Lock owns fd from here
}

export function lockFileSync(path: string, options?: FileLockOptions): Lock {
  const target = fileTarget(path, options, 'file');
  const lock = tryLockSync(target);
  if (lock === null) throw fileHeldError(target);
  return lock;
}

/** Contention is a value: null, and no Error is built. */
export function tryLockFileSync(path: string, options?: FileLockOptions): Lock | null {
  return tryLockSync(fileTarget(path, options, 'file'));
}

export async function lockFile(path: string, options?: FileLockOptions & WaitOptions): Promise<Lock> {
  const target = fileTarget(path, options, 'file');
  const lock = await lockTarget(target, parseWait(optionsObject(options)), (fd) => fileLock(target, fd));
  if (lock === null) throw fileHeldError(target);
  return lock;
}
