// The handle that owns a lock's fd: one owner at every moment, released explicitly or by exit.
import { binding } from './internal/binding';

/**
 * What a Lock holds: an abstract socket name, a lock file, or a pidfile.
 */
export type LockKind = 'abstract' | 'file' | 'pidfile';

const NOT_A_FILE_LOCK = -1;

/**
 * A held lock: owns the fd (an abstract socket or a locked file) that holds it. `release()` or
 * `using` frees it; so does the process's end, however it ends. No finalizer releases a dropped
 * handle: the lock lasts until the process exits.
 * @example
 * const { lockFileSync } = require('solely');
 * const lock = lockFileSync('/run/lock/job.lock');
 * try { run(); } finally { lock.release(); }
 */
export class Lock implements Disposable {
  readonly kind: LockKind;
  /** The abstract name, or the absolute path. */
  readonly target: string;
  /** Whether this is a shared lock (flock LOCK_SH, an OFD read lock), held alongside other shared holders. */
  readonly shared: boolean;
  /** Which of the `slots` locks this is: 0 to slots - 1 (0 without `slots`). */
  readonly slot: number;
  #fd: number;
  readonly #method: number;

  /** @internal The new Lock owns fd from here on. */
  constructor(kind: LockKind, target: string, fd: number, method = NOT_A_FILE_LOCK, slot = 0) {
    this.kind = kind;
    this.target = target;
    this.shared = method !== NOT_A_FILE_LOCK && (method & binding.sharedLock) !== 0;
    this.slot = slot;
    this.#fd = fd;
    this.#method = method;
  }

  /** The descriptor that holds the lock; -1 once released. */
  get fd(): number {
    return this.#fd;
  }

  get released(): boolean {
    return this.#fd < 0;
  }

  /**
   * Releases the lock; idempotent. A file lock is unlocked before its fd is closed, so that a
   * child sharing the open file description cannot prolong it. No finalizer calls this: a
   * dropped handle keeps the lock until the process exits.
   */
  release(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    if (this.#method === NOT_A_FILE_LOCK) binding.close(fd);
    else binding.unlockClose(fd, this.#method);
  }

  /**
   * @internal Closes this process's fd without unlocking: a file lock then lives on in the
   * processes that share its open file description (the CLI's COMMAND inherited it), until the
   * last of them closes it. Whatever else the handle owns (a pidfile's directory) is released.
   */
  closeWithoutUnlock(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    binding.close(fd);
    this.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
