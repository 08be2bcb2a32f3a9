// One attempt at a file lock: open (created if absent, never through a symlink), lock without
// blocking, then check that the path still names the locked inode (FreeBSD flopen); a file
// unlinked or replaced meanwhile is opened again, or a second holder could lock the new one.
import { constants, lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { binding } from './binding';
import { SolelyError, type Holder, type LockHeldError } from '../errors';
import { errnoOf, fromErrno, invalidTarget } from './errno';
import { classifyFilesystem, type FilesystemInfo } from '../filesystem';
import { fileHolder } from './holder';
import { heldBy, heldText } from './holder-message';
import { systemMessage } from './system-message';

/**
 * 'flock': flock(2), as flock(1), Python fcntl.flock, cargo; 'fcntl': an open file description
 * (OFD) lock, which conflicts with lockf and fcntl users.
 */
export type LockMethod = 'flock' | 'fcntl';

/**
 * What a file lock does on a network or emulated filesystem: 'warn' (one process warning per path),
 * 'error' (throw ERR_SOLELY_NETWORK_FILESYSTEM) or 'lock' (silently).
 */
export type NetworkFilesystemPolicy = 'lock' | 'warn' | 'error';

export interface FileTarget {
  /** A pidfile is written by its holder: opened for writing or not at all (no read-only or
   *  directory fallback). */
  readonly kind: 'file' | 'pidfile';
  /** Absolute, as the kernel resolves it (lib/internal/path.ts). */
  readonly path: string;
  readonly method: LockMethod;
  /** A shared lock (LOCK_SH, F_RDLCK): a file opened read-only serves. */
  readonly shared: boolean;
  /** method as the addon names it (with binding.sharedLock for a shared lock) (binding.lockMethods), looked up once per target. */
  readonly methodCode: number;
  readonly mode: number;
  readonly onNetworkFilesystem: NetworkFilesystemPolicy;
}

/** What one attempt came to: the locked fd, or why there is none. */
export type Attempt = number | 'held' | 'replaced';

/** What attempts came to once the path named the file they locked: the locked fd, or held. */
export type Outcome = number | 'held';

/** Attempts in a row that find the path replaced before one gives up with ESTALE. */
const MAX_REPLACED = 100;
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
const ENXIO = errnoOf('ENXIO');

const warned = new Set<string>();
// The filesystem of a lock path's directory: examined once per process, not on every lock.
const filesystems = new Map<string, FilesystemInfo>();
const MAX_REMEMBERED = 1024;

/**
 * statfs on the lock's directory: true on a network or emulated filesystem, after the policy's
 * warning or error. A directory that cannot be examined is left to open() to report.
 */
export function onNetworkFilesystem(target: FileTarget): boolean {
  let fs = filesystems.get(target.path);
  if (fs === undefined) {
    const magic = binding.statfsType(dirname(target.path)); // as text: the kernel resolves its '..' as open() does
    if (magic < 0) return false;
    fs = classifyFilesystem(magic);
    if (filesystems.size >= MAX_REMEMBERED) filesystems.clear();
    filesystems.set(target.path, fs);
  }
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

/**
 * What no lock call could open at path, as its open(2) would fail, from path's lstat: a symlink
 * (never followed: ELOOP) or a socket (ENXIO). Never "not held": no lock call could take it.
 */
export function refuseUnopenable(stats: Pick<Stats, 'isSymbolicLink' | 'isSocket'> | undefined, path: string): void {
  if (stats?.isSymbolicLink() === true) throw fromErrno(ELOOP, 'open', { path });
  if (stats?.isSocket() === true) throw fromErrno(ENXIO, 'open', { path });
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
  if (target.kind === 'file' && (fd === EACCES || fd === EROFS) && (method === 'flock' || target.shared)) {
    // flock and a read lock need no write access: lock a file we may only read, as flock(1) does.
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
function contended(rc: number, target: FileTarget): boolean {
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

/**
 * The one retry loop of every file-lock attempt: attempt(target) again while it finds the path
 * replaced, up to MAX_REPLACED in a row, then ESTALE. An async attempt (a lock request on a thread)
 * is retried when it settles, and the outcome is a promise.
 */
export function retryReplaced(target: FileTarget, attempt: (target: FileTarget) => Attempt): Outcome;
export function retryReplaced(target: FileTarget, attempt: (target: FileTarget) => Promise<Attempt>): Promise<Outcome>;
export function retryReplaced(target: FileTarget, attempt: (target: FileTarget) => Attempt | Promise<Attempt>): Outcome | Promise<Outcome> {
  return attemptFrom(1, target, attempt);
}

/** Attempts n, n + 1... up to MAX_REPLACED: a loop while they are sync, a chain once they are not. */
function attemptFrom(n: number, target: FileTarget, attempt: (target: FileTarget) => Attempt | Promise<Attempt>): Outcome | Promise<Outcome> {
  for (; n <= MAX_REPLACED; n++) {
    const result = attempt(target);
    if (typeof result === 'object') {
      const next = n + 1;
      return result.then((settled) => (settled === 'replaced' ? attemptFrom(next, target, attempt) : settled));
    }
    if (result !== 'replaced') return result;
  }
  throw fromErrno(ESTALE, target.method, { path: target.path });
}

/** open + lock + verify, retried while the path is being replaced. */
export function tryLockTarget(target: FileTarget): Outcome {
  return retryReplaced(target, attemptOnce);
}

/** The sync lock of a file target (lockTargets is the async one): its network policy, then tryLockTarget. */
export function lockTargetSync(target: FileTarget): Outcome {
  onNetworkFilesystem(target);
  return tryLockTarget(target);
}

function attemptOnce(target: FileTarget): Attempt {
  const opened = binding.openLocked(target.path, OPEN_OR_CREATE, target.mode, target.methodCode);
  if (typeof opened === 'number') return opened >= 0 ? opened : lockFailure(opened, target); // a failed lock's fd is closed
  const fd = withFallbacks(target, opened[0]);
  return keepIfLocked(fd, binding.lockVerified(fd, target.path, target.methodCode), target);
}

/**
 * lockVerified of fd on a thread of its own (a network filesystem, where even a non-blocking
 * request can wait on the server). In flight, fd is the request's: if this thread ends first, the
 * addon unlocks and closes it. settle(rc) takes fd back in the request's own callback (a promise
 * reaction could come too late: the thread may end between the two), and the promise gives what
 * it returns or throws. If no thread starts, fd is closed and the error thrown at once.
 */
export function lockOnThread(target: FileTarget, fd: number, settle: (rc: number) => Attempt): Promise<Attempt> {
  let started = 0;
  const settled = new Promise<Attempt>((resolve, reject) => {
    started = binding.lockVerifiedOnThread(fd, target.path, target.methodCode, (rc) => {
      try {
        resolve(settle(rc));
      } catch (error) {
        reject(error);
      }
    });
  });
  if (started < 0) {
    binding.close(fd); // no request took it
    throw fromErrno(started, 'pthread_create', { path: target.path });
  }
  return settled;
}

/** tryLockTarget with each lock request on a thread of its own, awaited. */
export function tryLockTargetOnThread(target: FileTarget): Promise<Outcome> {
  return retryReplaced(target, () => {
    const fd = openLockFile(target);
    return lockOnThread(target, fd, (rc) => keepIfLocked(fd, rc, target));
  });
}

/**
 * The lock is held: the holder comes from /proc/locks and fdinfo (claim: a PID to check first).
 * A ForeignHolderError when it runs as another uid, by the rule every mechanism shares.
 */
export function fileHeldError(target: FileTarget, holder = fileHolder(target.path)): LockHeldError {
  return heldFileError([target], holder);
}

/** Every slot's lock is held (targets: each slot's, slot 0's first): each slot's holder named. */
export function slotsHeldError(targets: readonly FileTarget[]): LockHeldError {
  return targets.length === 1 ? fileHeldError(targets[0]) : heldFileError(targets, targets.map(({ path }) => fileHolder(path) ?? null));
}

function heldFileError(targets: readonly FileTarget[], found: Holder | undefined | Array<Holder | null>): LockHeldError {
  const { path, method } = targets[0];
  const fields = { errno: EAGAIN, syscall: method, path, cause: fromErrno(EAGAIN, method, { path }) };
  return heldBy(systemMessage('ELOCKED', heldText(targets.length), method, { path }), fields, found);
}
