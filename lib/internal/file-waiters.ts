// Waiting for a file lock: woken by inotify when any holder closes the file, or, on a network
// filesystem, with each lock request on a thread of its own, never on the event loop.
import { binding } from './binding';
import { lockFailure, lockOnThread, onNetworkFilesystem, openLockFile, retryReplaced, tryLockTarget, tryLockTargetOnThread, type Attempt, type FileTarget } from './file-attempt';
import { unwatchFile, watchFile } from './file-events';
import type { Wait } from './options';
import { anySlot } from './slots';
import { waitFor, type Waiter } from './wait';

/** The async lock of a file target: wrap(fd) once locked, or null if held and not waiting. */
export function lockTarget<T>(target: FileTarget, wait: Wait, wrap: (fd: number) => T): Promise<T | null> {
  return lockTargets([target], wait, wrap);
}

/**
 * The async lock of any one of targets (the slots' files, lowest first): wrap(fd, slot) once
 * locked, or null if all are held and not waiting. A wait watches every slot's file.
 */
export async function lockTargets<T>(targets: readonly FileTarget[], wait: Wait, wrap: (fd: number, slot: number) => T): Promise<T | null> {
  const onNetwork = onNetworkFilesystem(targets[0]); // the slots' files share a directory
  if (wait.timeout === 0 && !wait.signal?.aborted) {
    for (let slot = 0; slot < targets.length; slot++) {
      const fd = onNetwork ? await tryLockTargetOnThread(targets[slot]) : tryLockTarget(targets[slot]);
      if (fd !== 'held') return wrap(fd, slot);
    }
    return null;
  }
  const waiters = targets.map((target, slot) => {
    const wrapSlot = (fd: number): T => wrap(fd, slot);
    return onNetwork ? new ThreadWaiter(target, wrapSlot) : new FileWaiter(target, wrapSlot);
  });
  return waitFor(anySlot(waiters), wait, { path: targets[0].path });
}

/**
 * The lock file a wait keeps open between its attempts, in this thread's registry of wait fds
 * meanwhile: if the thread ends mid-wait (a Worker terminated), the addon closes it.
 */
class KeptLockFile {
  readonly #target: FileTarget;
  /** The kept fd, or -1. */
  fd = -1;

  constructor(target: FileTarget) {
    this.#target = target;
  }

  /** The kept fd, opened if none is. */
  open(): number {
    if (this.fd < 0) this.keep(openLockFile(this.#target));
    return this.fd;
  }

  keep(fd: number): void {
    binding.trackWaitFd(fd);
    this.fd = fd;
  }

  /** The kept fd (or a new one) for another owner: a Lock, a lock request's thread. */
  take(): number {
    const fd = this.fd;
    if (fd < 0) return openLockFile(this.#target); // never kept, so never in the registry
    binding.untrackWaitFd(fd);
    this.fd = -1;
    return fd;
  }

  close(): void {
    if (this.fd >= 0) binding.closeWaitFd(this.fd);
    this.fd = -1;
  }
}

/**
 * Keeps the lock file open and watches its inode with inotify: any holder's close (its release,
 * or its death) wakes the waiter, which then tries again. If the path is replaced, the waiter
 * follows it to the new file.
 */
class FileWaiter<T> implements Waiter<T> {
  readonly #target: FileTarget;
  readonly #wrap: (fd: number) => T;
  readonly #file: KeptLockFile;
  #wd = -1;
  #wake: (() => void) | undefined;

  constructor(target: FileTarget, wrap: (fd: number) => T) {
    this.#target = target;
    this.#wrap = wrap;
    this.#file = new KeptLockFile(target);
  }

  attempt(): T | null {
    const fd = retryReplaced(this.#target, () => this.#attemptOnce());
    if (fd === 'held') return null;
    return this.#wrap(fd); // ownership passes to the caller's handle; the wait disarms this waiter
  }

  #attemptOnce(): Attempt {
    const rc = binding.lockVerified(this.#file.open(), this.#target.path, this.#target.methodCode);
    if (rc === 0) return this.#file.take();
    const failure = lockFailure(rc, this.#target);
    if (failure === 'replaced') this.disarm(); // watch the file that the path names now
    return failure;
  }

  arm(wake: () => void): void {
    if (this.#wd >= 0 || this.#file.fd < 0) return;
    const wd = watchFile(this.#file.fd, wake);
    if (wd < 0) return; // no inotify or no /proc: the fallback poll serves
    this.#wd = wd;
    this.#wake = wake;
  }

  disarm(): void {
    this.#unwatch();
    this.#file.close();
  }

  #unwatch(): void {
    if (this.#wd < 0 || this.#wake === undefined) return;
    unwatchFile(this.#wd, this.#wake);
    this.#wd = -1;
  }
}

/**
 * Lock attempts on a network filesystem, each request on a thread of its own: attempt() starts
 * one (retried while the path is replaced) and reports its outcome at a later call. A granted
 * lock or an error wakes the wait at once; a held one is tried again at the next poll (inotify
 * sees no other machine's close).
 */
class ThreadWaiter<T> implements Waiter<T> {
  readonly #target: FileTarget;
  readonly #wrap: (fd: number) => T;
  readonly #file: KeptLockFile;
  #running = false;
  /** What the last attempt came to, if not held and not reported yet: locked (the kept fd), or an error. */
  #outcome: 'locked' | { error: unknown } | undefined;
  /** Disarmed: no wait is left to report to. */
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(target: FileTarget, wrap: (fd: number) => T) {
    this.#target = target;
    this.#wrap = wrap;
    this.#file = new KeptLockFile(target);
  }

  attempt(): T | null {
    if (this.#running) return null;
    const outcome = this.#outcome;
    this.#outcome = undefined;
    if (outcome === undefined) {
      this.#start();
      return null;
    }
    if (outcome !== 'locked') throw outcome.error;
    return this.#wrap(this.#file.take()); // ownership passes to the caller's handle
  }

  arm(wake: () => void): void {
    this.#wake = wake;
  }

  disarm(): void {
    this.#wake = undefined;
    this.#ended = true;
    this.#file.close(); // none while a request is in flight: the request has the fd
  }

  /** Throws at once if the first request cannot start; later failures are reported. */
  #start(): void {
    const settled = retryReplaced(this.#target, () => this.#request());
    this.#running = true;
    settled.then(
      (outcome) => this.#report(outcome === 'held' ? undefined : 'locked'),
      (error: unknown) => this.#report({ error }),
    );
  }

  #report(outcome: 'locked' | { error: unknown } | undefined): void {
    this.#running = false;
    this.#outcome = outcome;
    if (outcome !== undefined) this.#wake?.();
  }

  /** One lock request, for the kept lock file or a new one; once locked, the fd is kept again. */
  #request(): Promise<Attempt> {
    const fd = this.#file.take();
    return lockOnThread(this.#target, fd, (rc) => {
      if (this.#ended) {
        // abandoned (timeout, abort, error): this callback owns fd now
        if (rc === 0) binding.unlockClose(fd, this.#target.methodCode);
        else binding.close(fd);
        return 'held'; // nothing to report
      }
      this.#file.keep(fd); // back with the waiter
      if (rc === 0) return fd;
      const failure = lockFailure(rc, this.#target);
      if (failure === 'replaced') this.#file.close(); // open the file that the path names now
      return failure;
    });
  }
}
