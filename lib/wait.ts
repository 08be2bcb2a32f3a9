// Event-driven waiting. Each mechanism arms a wake-up source that the kernel fires on release
// (a connection reset by the holder's exit, an inotify close event); a slow poll covers holders
// and filesystems that give no event. Nothing here blocks, and no thread-pool thread is used.
import { AbortError, LockTimeoutError, type ErrorTarget } from './errors';
import type { Wait } from './options';

export interface Waiter<T> {
  /** One non-blocking attempt: the lock, or null while it is held. Throws typed errors. */
  attempt(): T | null;
  /** Arranges one call of wake() when the lock may have been released; idempotent while armed. */
  arm(wake: () => void): void;
  /** Frees what the waiter holds for waiting (never the lock it returned). */
  disarm(): void;
}

/** The fallback poll, for holders that release without closing and for missing events. */
export const FALLBACK_POLL_MS = 250;
/**
 * A second look shortly after an event that found the lock still held: the kernel sends the
 * close event of a dying flock holder just before it removes the lock.
 */
const RECHECK_MS = 5;

// One 'abort' listener per signal, however many waits share it: a signal passed to many waits
// would pass EventTarget's listener limit and print a MaxListenersExceededWarning.
const aborters = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls onAbort when signal aborts (not if it already has); the returned function undoes it. */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return () => {};
  let callbacks = aborters.get(signal);
  if (callbacks === undefined) {
    const created = new Set<() => void>();
    aborters.set(signal, created);
    signal.addEventListener('abort', () => {
      aborters.delete(signal);
      for (const callback of created) callback();
    }, { once: true });
    callbacks = created;
  }
  const registered = callbacks;
  registered.add(onAbort);
  return () => void registered.delete(onAbort);
}

export function waitFor<T>(waiter: Waiter<T>, wait: Wait, target: ErrorTarget): Promise<T> {
  const { timeout, signal } = wait;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let poll: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    let stopWatchingAbort = (): void => {};

    const settle = (error: unknown, lock?: T): void => {
      settled = true;
      clearTimeout(poll);
      clearTimeout(deadline);
      stopWatchingAbort();
      waiter.disarm();
      if (lock === undefined) reject(error);
      else resolve(lock);
    };
    const onAbort = (): void => settle(new AbortError(signal?.reason, target));
    const retry = (woken: boolean): void => {
      if (settled) return;
      let lock: T | null;
      try {
        lock = waiter.attempt();
      } catch (error) {
        settle(error);
        return;
      }
      if (lock !== null) {
        settle(undefined, lock);
        return;
      }
      waiter.arm(wake);
      clearTimeout(poll);
      poll = setTimeout(retry, woken ? RECHECK_MS : FALLBACK_POLL_MS, false);
    };
    const wake = (): void => retry(true);

    if (signal?.aborted) {
      settle(new AbortError(signal.reason, target));
      return;
    }
    stopWatchingAbort = whenAborted(signal, onAbort);
    if (timeout !== Infinity) {
      deadline = setTimeout(() => {
        const where = target.path ?? target.address;
        settle(new LockTimeoutError(`timed out after ${timeout} ms waiting for the lock ${where}`, target));
      }, timeout);
    }
    retry(false);
  });
}
