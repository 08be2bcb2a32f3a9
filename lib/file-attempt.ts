// One attempt at a file lock: open (created if absent, never through a symlink), lock without
// blocking, then check that the path still names the locked inode (FreeBSD flopen); a file
// unlinked or replaced meanwhile is opened again, or a second holder could lock the new one.
import { constants, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { binding } from './binding';
import { SolelyError, errnoOf, fromErrno, invalidTarget, type LockHeldError } from './errors';
import { classifyFilesystem } from './filesystem';
import { fileHolder, heldBy } from './holder';

export type LockMethod = 'flock' | 'fcntl';

export type NetworkFilesystemPolicy = 'lock' | 'warn' | 'error';

export interface FileTarget {
  /** A pidfile is written by its holder: opened for writing or not at all (no read-only or
   *  directory fallback). */
  readonly kind: 'file' | 'pidfile';
  /** Absolute, as the kernel resolves it (lib/path.ts). */
  readonly path: string;
  readonly method: LockMethod;
  readonly mode: number;
  readonly onNetworkFilesystem: NetworkFilesystemPolicy;
}

/** What an attempt came to: the locked fd, or why there is none. */
export type Attempt = number | 'held' | 'replaced';

/** Attempts in a row that find the path replaced before one gives up with ESTALE. */
export const MAX_REPLACED = 100;
const { O_RDWR, O_RDONLY, O_CREAT, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;
// Never through a symlink, and O_NONBLOCK so that a FIFO planted at the path cannot hang open()
// (read-only, it waits for a writer); regular files ignore it.
const OPEN_OR_CREATE = O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK;
const EAGAIN = errnoOf('EAGAIN');
const EACCES = errnoOf('EACCES');
const EROFS = errnoOf('EROFS');
const EISDIR = errnoOf('EISDIR');
const ELOOP = errnoOf('ELOOP');
const ESTALE = errnoOf('ESTALE');

/** The method as the addon names it. */
export function lockMethodCode(target: FileTarget): number {
  return binding.lockMethods[target.method];
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
  const dir = dirname(target.path); // as text: the kernel resolves its '..' as open() does
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
export function openLockFile(target: FileTarget): number {
  return withFallbacks(target, binding.open(target.path, OPEN_OR_CREATE, target.mode));
}

/** The fd of the read-write open, or of its read-only or directory fallback; else the error. */
function withFallbacks(target: FileTarget, opened: number): number {
  const { path, method } = target;
  let fd = opened;
  if (fd === EACCES && lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) {
    // Some kernels refuse O_CREAT at another user's symlink in a sticky directory with EACCES
    // before O_NOFOLLOW's ELOOP: it is the symlink, nothing was followed.
    fd = ELOOP;
  }
  // A pidfile is a file its holder writes: it has no fallback.
  if (target.kind === 'file' && (fd === EACCES || fd === EROFS) && method === 'flock') {
    // flock needs no write access: lock a file we may only read, as flock(1) does.
    const readOnly = binding.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (readOnly >= 0) fd = readOnly;
  } else if (target.kind === 'file' && fd === EISDIR) {
    if (method === 'fcntl') throw invalidTarget('EISDIR', "an fcntl lock needs a file open for writing; lock a directory with method 'flock'", { path });
    fd = binding.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  }
  if (fd < 0) throw fromErrno(fd, 'open', { path });
  return fd;
}

/** Whether a failed lock step's -errno means that another holds the lock. */
export function contended(rc: number, target: FileTarget): boolean {
  return rc === EAGAIN || (target.method === 'fcntl' && rc === EACCES);
}

/** A failed lock step (rc < 0): held, or replaced (open again); any other failure is thrown. */
export function lockFailure(rc: number, target: FileTarget): 'held' | 'replaced' {
  if (rc === ESTALE) return 'replaced';
  if (contended(rc, target)) return 'held';
  throw fromErrno(rc, target.method, { path: target.path });
}

/** fd if rc says it is locked; otherwise fd is closed, and the outcome says why. */
export function keepIfLocked(fd: number, rc: number, target: FileTarget): Attempt {
  if (rc === 0) return fd;
  binding.close(fd);
  return lockFailure(rc, target);
}

/** Given up: the path named another file at every attempt (ESTALE). */
export function replacedTooOften(target: FileTarget): SolelyError {
  return fromErrno(ESTALE, target.method, { path: target.path });
}

/** open + lock + verify, retried while the path is being replaced. The fd on success, or -1 if held. */
export function tryLockTarget(target: FileTarget): number {
  for (let tries = 0; tries < MAX_REPLACED; tries++) {
    const attempt = attemptOnce(target);
    if (attempt === 'held') return -1;
    if (attempt !== 'replaced') return attempt;
  }
  throw replacedTooOften(target);
}

function attemptOnce(target: FileTarget): Attempt {
  const opened = binding.openLocked(target.path, OPEN_OR_CREATE, target.mode, lockMethodCode(target));
  if (typeof opened === 'number') return opened;
  const [failedStep, rc] = opened;
  if (failedStep === 'lock') return lockFailure(rc, target); // the addon closed the fd
  const fd = withFallbacks(target, rc);
  return keepIfLocked(fd, binding.lockVerified(fd, target.path, lockMethodCode(target)), target);
}

/**
 * tryLockTarget with each lock request on a thread of its own (a network filesystem, where even a
 * non-blocking one can wait on the server), awaited: the fd, or -1 if held.
 */
export async function tryLockTargetOnThread(target: FileTarget): Promise<number> {
  for (let tries = 0; tries < MAX_REPLACED; tries++) {
    const fd = openLockFile(target);
    // In flight, fd is the request's: if this thread ends first, the addon unlocks and closes it.
    const rc = await new Promise<number>((resolve, reject) => {
      const started = binding.lockVerifiedOnThread(fd, target.path, lockMethodCode(target), resolve);
      if (started < 0) {
        binding.close(fd); // no request took it
        reject(fromErrno(started, 'pthread_create', { path: target.path }));
      }
    });
    const attempt = keepIfLocked(fd, rc, target);
    if (attempt === 'held') return -1;
    if (attempt !== 'replaced') return attempt;
  }
  throw replacedTooOften(target);
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
