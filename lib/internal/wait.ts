// Event-driven waiting. Each mechanism arms a wake-up source that the kernel fires on release
// (a connection reset by the holder's exit, an inotify close event); a slow poll covers holders
// and filesystems that give no event. Nothing here blocks, and no thread-pool thread is used.
import { AbortError, LockTimeoutError, type ErrorTarget, type SolelyError } from '../errors';
import { lazy } from './lazy-modules';
import type { Wait } from './options';

/**
 * What made a waiter wake: the kernel's event (a reset connection, an inotify close), or a timer
 * of a holder that gives no event (an abstract name bound without listening).
 */
export type WakeCause = 'event' | 'backoff';

export interface Waiter<T> {
  /** One non-blocking attempt: the lock, or null while it is held. Throws typed errors. */
  attempt(): T | null;
  /** Arranges one call of wake() when the lock may have been released; idempotent while armed. */
  arm(wake: (cause?: WakeCause) => void): void;
  /** Frees what the waiter holds for waiting (never the lock it returned). */
  disarm(): void;
}

/** The fallback poll, for holders that release without closing and for missing events. */
export const FALLBACK_POLL_MS = 250;
// Each poll armed comes POLL_STEP_MS sooner than the last, up to POLL_STEPS steps, then again
// from FALLBACK_POLL_MS: waits armed together (64 lockFile calls in a loop) poll in different
// timer ticks. In one tick, they would hold the event loop for an attempt each.
const POLL_STEP_MS = 5;
const POLL_STEPS = 25;
let pollsArmed = 0;

function fallbackPollDelay(): number {
  pollsArmed = (pollsArmed + 1) % POLL_STEPS;
  return FALLBACK_POLL_MS - pollsArmed * POLL_STEP_MS;
}
/**
 * A second look shortly after an event that found the lock still held: the kernel sends the
 * close event of a dying flock holder just before it removes the lock.
 */
const RECHECK_MS = 5;

/** Why an attempt ran: the wait's first, a wake-up, the recheck after an event, or the fallback poll. */
type AttemptCause = 'first' | WakeCause | 'recheck' | 'poll';

/**
 * Publishes { target, cause, acquired } for each attempt of a wait, so that tests can prove which
 * wake-up granted a lock (the fallback poll would otherwise hide a dead event source).
 */
// Created at the first wait: a launch that only takes a free lock (or a secondary's Deadline)
// does not load diagnostics_channel. A subscriber by name sees the same channel either way.
const attempts = lazy(() => (require('node:diagnostics_channel') as typeof import('node:diagnostics_channel')).channel('solely:wait')); // eslint-disable-line @typescript-eslint/no-require-imports

/** Milliseconds on the monotonic clock; performance.now() would load perf_hooks on first use. */
function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

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

/** Throws the AbortError of a signal that has aborted: the check before a wait begins. */
export function throwIfAborted(signal: AbortSignal | undefined, target: ErrorTarget): void {
  if (signal?.aborted) throw new AbortError(signal.reason, target);
}

/**
 * The end of one wait, counted from its construction: wait.timeout ms (Infinity: none) or
 * wait.signal aborting. Every wait times out with the same message, built here from `what`
 * (the thing waited for, with its name): "timed out after <timeout> ms waiting for <what>".
 */
export class Deadline {
  readonly #wait: Wait;
  readonly #what: string;
  readonly #target: ErrorTarget;
  readonly #end: number;

  constructor(wait: Wait, what: string, target: ErrorTarget) {
    this.#wait = wait;
    this.#what = what;
    this.#target = target;
    this.#end = now() + wait.timeout; // monotonic: a clock step moves no deadline
  }

  /** ms left: 0 once the deadline passed, Infinity without one. */
  get remaining(): number {
    return Math.max(this.#end - now(), 0);
  }

  timedOut(): LockTimeoutError {
    return new LockTimeoutError(`timed out after ${this.#wait.timeout} ms waiting for ${this.#what}`, this.#target);
  }

  /**
   * Calls stop once: with timedOut() when the deadline passes, or with an AbortError when the
   * signal aborts, synchronously if it already has. The returned function disarms both.
   */
  watch(stop: (error: SolelyError) => void): () => void {
    const { signal } = this.#wait;
    if (signal?.aborted) {
      stop(new AbortError(signal.reason, this.#target));
      return () => {};
    }
    let timer: NodeJS.Timeout | undefined;
    let stopWatchingAbort = (): void => {};
    const disarm = (): void => {
      clearTimeout(timer);
      stopWatchingAbort();
    };
    const end = (error: SolelyError): void => {
      disarm();
      stop(error);
    };
    stopWatchingAbort = whenAborted(signal, () => end(new AbortError(signal?.reason, this.#target)));
    if (this.#wait.timeout !== Infinity) timer = setTimeout(() => end(this.timedOut()), this.remaining);
    return disarm;
  }
}

/** Resolves with whether promise settled (either way) within ms: a bounded wait for a cleanup step. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(() => true, () => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false))),
  ]);
  clearTimeout(timer);
  return settled;
}

export function waitFor<T>(waiter: Waiter<T>, wait: Wait, target: ErrorTarget): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let armed = false;
    let poll: NodeJS.Timeout | undefined;
    let stopDeadline = (): void => {};

    const settle = (error: unknown, lock?: T): void => {
      settled = true;
      clearTimeout(poll);
      stopDeadline();
      if (lock === undefined) {
        waiter.disarm();
        reject(error);
        return;
      }
      resolve(lock);
      // A won wait's watches (an inotify watch, a poll handle, a socket) go after the new holder
      // has run: tearing them down first delayed every hand-off by 10 to 15 µs. Woken meanwhile,
      // the wait does nothing: it has settled.
      if (armed) setImmediate(() => waiter.disarm());
      else waiter.disarm();
    };
    const retry = (cause: AttemptCause): void => {
      if (settled) return;
      let lock: T | null;
      try {
        lock = waiter.attempt();
      } catch (error) {
        settle(error);
        return;
      }
      if (lock === null) {
        waiter.arm(wake);
        armed = true;
        clearTimeout(poll);
        poll = cause === 'event' ? setTimeout(retry, RECHECK_MS, 'recheck') : setTimeout(retry, fallbackPollDelay(), 'poll');
      }
      // Published once armed: a subscriber that acts on "held" finds the wake-ups in place.
      if (attempts().hasSubscribers) attempts().publish({ target, cause, acquired: lock !== null });
      if (lock !== null) settle(undefined, lock);
    };
    const wake = (cause: WakeCause = 'event'): void => retry(cause);

    // Settles at once if the signal has already aborted.
    stopDeadline = new Deadline(wait, `the lock ${target.path ?? target.address}`, target).watch(settle);
    retry('first');
  });
}
