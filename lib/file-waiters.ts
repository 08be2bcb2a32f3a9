// Waiting for a file lock: woken by inotify when any holder closes the file, or, on a network
// filesystem, with each lock request on a thread of its own, never on the event loop.
import { binding } from './binding';
import { fromErrno } from './errors';
import { MAX_REPLACED, contended, lockFailure, lockMethodCode, onNetworkFilesystem, openLockFile, replacedTooOften, tryLockTarget, tryLockTargetOnThread, type FileTarget } from './file-attempt';
import { unwatchFile, watchFile } from './file-events';
import type { Wait } from './options';
import { waitFor, type Waiter } from './wait';

/** The async lock of a file target: wrap(fd) once locked, or null if held and not waiting. */
export async function lockTarget<T>(target: FileTarget, wait: Wait, wrap: (fd: number) => T): Promise<T | null> {
  const onNetwork = onNetworkFilesystem(target);
  if (wait.timeout === 0 && !wait.signal?.aborted) {
    const fd = onNetwork ? await tryLockTargetOnThread(target) : tryLockTarget(target);
    return fd < 0 ? null : wrap(fd);
  }
  const waiter = onNetwork ? new ThreadWaiter(target, wrap) : new FileWaiter(target, wrap);
  return waitFor(waiter, wait, { path: target.path });
}

/**
 * Keeps the lock file open and watches its inode with inotify: any holder's close (its release,
 * or its death) wakes the waiter, which then tries again. If the path is replaced, the waiter
 * follows it to the new file.
 */
class FileWaiter<T> implements Waiter<T> {
  readonly #target: FileTarget;
  readonly #wrap: (fd: number) => T;
  #fd = -1;
  #wd = -1;
  #wake: (() => void) | undefined;

  constructor(target: FileTarget, wrap: (fd: number) => T) {
    this.#target = target;
    this.#wrap = wrap;
  }

  attempt(): T | null {
    for (let tries = 0; tries < MAX_REPLACED; tries++) {
      if (this.#fd < 0) {
        this.#fd = openLockFile(this.#target);
        binding.trackWaitFd(this.#fd); // kept open to wait: closed if this thread ends mid-wait
      }
      const rc = binding.lockVerified(this.#fd, this.#target.path, lockMethodCode(this.#target));
      if (rc === 0) {
        const fd = this.#fd; // ownership passes to the caller's handle
        binding.untrackWaitFd(fd);
        this.#fd = -1;
        this.disarm();
        return this.#wrap(fd);
      }
      if (lockFailure(rc, this.#target) === 'held') return null;
      this.disarm(); // replaced: watch the file that the path names now
    }
    throw replacedTooOften(this.#target);
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
 * one is tried again at the next poll (inotify sees no other machine's close).
 */
class ThreadWaiter<T> implements Waiter<T> {
  readonly #target: FileTarget;
  readonly #wrap: (fd: number) => T;
  #fd = -1;
  #running = false;
  #rc: number | undefined;
  #replaced = 0;
  #wake: (() => void) | undefined;

  constructor(target: FileTarget, wrap: (fd: number) => T) {
    this.#target = target;
    this.#wrap = wrap;
  }

  attempt(): T | null {
    if (this.#running) return null;
    const rc = this.#rc;
    this.#rc = undefined;
    if (rc === 0) {
      const fd = this.#fd; // ownership passes to the caller's handle
      binding.untrackWaitFd(fd);
      this.#fd = -1;
      return this.#wrap(fd);
    }
    if (rc !== undefined && lockFailure(rc, this.#target) === 'replaced') {
      binding.closeWaitFd(this.#fd);
      this.#fd = -1;
      if (++this.#replaced >= MAX_REPLACED) throw replacedTooOften(this.#target);
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
      this.#fd = openLockFile(this.#target);
      binding.trackWaitFd(this.#fd); // kept open to wait: closed if this thread ends mid-wait
    }
    const fd = this.#fd;
    const target = this.#target;
    const method = lockMethodCode(target);
    // In flight, fd is the request's: if this thread ends first, the addon closes it once the
    // request completes, so the registry must not close it under the request.
    binding.untrackWaitFd(fd);
    const started = binding.lockVerifiedOnThread(fd, target.path, method, (rc) => {
      this.#running = false;
      if (this.#fd !== fd) {
        // abandoned (timeout, abort, error): this callback owns fd now
        if (rc === 0) binding.unlockClose(fd, method);
        else binding.close(fd);
        return;
      }
      binding.trackWaitFd(fd); // back with the waiter
      this.#rc = rc;
      if (!contended(rc, target)) this.#wake?.();
    });
    if (started < 0) {
      binding.trackWaitFd(fd); // no request took it: back with the waiter
      throw fromErrno(started, 'pthread_create', { path: target.path });
    }
    this.#running = true;
  }
}
