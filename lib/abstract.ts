// Locks in the Linux abstract socket namespace: held while a socket is bound to "\0" + name,
// released by the kernel when the socket closes, however the process ends.
import { binding, type FdWatch } from './internal/binding';
import { LockHeldError, UnsupportedPlatformError, type Holder, type InvalidTargetError } from './errors';
import { errnoOf, fromErrno, invalidArgument, invalidTarget } from './internal/errno';
import { heldBy, heldText } from './internal/holder-message';
import { systemMessage } from './internal/system-message';
import { Lock } from './lock';
import { WAIT_KEYS, optionKeys, optionsObject, parseBoolean, parseWait, type WaitOptions } from './internal/options';
import { anySlot, firstFree, parseSlots, slotNames } from './internal/slots';
import { lazy } from './internal/lazy-modules';
import type { WakeCause, Waiter } from './internal/wait';

/* eslint-disable @typescript-eslint/no-require-imports */
// Loaded when a lock is held already or waited for: a launch that takes a free lock skips them.
// heldBy stays eager: out of fds (EMFILE), the held error must still be built.
const holders = lazy(() => require('./internal/holder') as typeof import('./internal/holder'));
const waits = lazy(() => require('./internal/wait') as typeof import('./internal/wait'));
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Options of lockAbstractSync, tryLockAbstractSync and lockAbstract (which also takes WaitOptions).
 */
export interface AbstractLockOptions {
  /** Listen on the socket (default true), so that waiters and whoHolds can connect to it. */
  listen?: boolean;
  /** At most `slots` holders at once (1 to 1024, default 1): the lock is one of `slots` names, slot
   *  0 being name itself and slot i `${name}.${i}`. */
  slots?: number;
}

const KEYS = optionKeys<AbstractLockOptions>({ listen: true, slots: true });
const WAIT_LOCK_KEYS = [...KEYS, ...WAIT_KEYS];
const MAX_NAME_BYTES = 107;
// Waiters queue in the holder's backlog until its socket closes; the kernel caps it at somaxconn.
const BACKLOG = 4096;
const NO_LISTEN = -1;
// A waiter's immediate retries after the name changed hands, before it backs off.
const RETRIES_AT_ONCE = 4;
const EADDRINUSE = errnoOf('EADDRINUSE');
const SOCKET_ERRNOS = new Set([errnoOf('EMFILE'), errnoOf('ENFILE'), errnoOf('ENOBUFS'), errnoOf('ENOMEM')]);

export function checkName(name: unknown): string {
  if (process.platform !== 'linux') {
    throw new UnsupportedPlatformError('ENOTSUP', `abstract socket names exist only on Linux, not ${process.platform}`, { errno: errnoOf('ENOTSUP') });
  }
  if (typeof name !== 'string') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'name', 'of type string', name);
  if (name.length === 0) throw invalidName(name, 'EINVAL', 'an abstract name cannot be empty (that would autobind a random name)');
  if (name.includes('\0')) throw invalidName(name, 'EINVAL', 'an abstract name cannot contain a NUL byte');
  if (!name.isWellFormed()) throw invalidName(name, 'EINVAL', 'an abstract name must be well-formed Unicode');
  // A UTF-16 unit is at least one UTF-8 byte, so only long strings need counting.
  if (name.length > MAX_NAME_BYTES || (name.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(name) > MAX_NAME_BYTES)) {
    throw invalidName(name, 'ENAMETOOLONG', `an abstract name is at most ${MAX_NAME_BYTES} bytes of UTF-8`);
  }
  return name;
}

function invalidName(name: string, code: 'EINVAL' | 'ENAMETOOLONG', message: string): InvalidTargetError {
  return invalidTarget(code, message, { address: `@${name}` });
}

function backlogOf(o: Partial<AbstractLockOptions>): number {
  return parseBoolean('options.listen', o.listen, true) ? BACKLOG : NO_LISTEN;
}

/** One bind (+ listen when backlog >= 0): the fd, -1 if the name is bound already, or a typed error. */
export function bindAbstract(name: string, backlog: number): number {
  const fd = binding.abstractBind(name, backlog);
  if (fd >= 0) return fd;
  if (fd === EADDRINUSE) return -1;
  throw fromErrno(fd, SOCKET_ERRNOS.has(fd) ? 'socket' : 'bind', { address: `@${name}` });
}

/** What a lock call asks for: the name (slot 0's), each slot's name, and the listen backlog. */
interface AbstractRequest {
  name: string;
  slotNames: string[];
  backlog: number;
}

function parseRequest(name: unknown, o: Partial<AbstractLockOptions>): AbstractRequest {
  const checked = checkName(name);
  const { slots } = parseSlots(o);
  return { name: checked, slotNames: slotNames(checked, slots, checkName), backlog: backlogOf(o) };
}

/** One bind of one slot's name: the lock, null if the name is bound already, or a typed error. */
function tryBind(request: AbstractRequest, slot: number): Lock | null {
  const fd = bindAbstract(request.slotNames[slot], request.backlog);
  return fd < 0 ? null : new Lock('abstract', request.name, fd, undefined, slot); // the Lock owns fd
}

/** The first slot's name that is free, bound; null when every slot is held. */
function tryBindAny(request: AbstractRequest): Lock | null {
  return firstFree(request.slotNames.length, (slot) => tryBind(request, slot));
}

/** The holder of a name bound already, looked up only now, never on the fast path. */
function holderOf(name: string): Holder | undefined {
  try {
    return holders().abstractHolder(name);
  } catch {
    return undefined; // neither sock_diag nor /proc/net/unix to read: held all the same, by someone unknown
  }
}

/** The error for a name bound already (with slots: every slot's name, name first). */
export function heldError(name: string, slotNames: readonly string[] = [name]): LockHeldError {
  const address = `@${name}`;
  const fields = { errno: EADDRINUSE, syscall: 'bind', address, cause: fromErrno(EADDRINUSE, 'bind', { address }) };
  const found = slotNames.length === 1 ? holderOf(name) : slotNames.map((slotName) => holderOf(slotName) ?? null);
  return heldBy(systemMessage('ELOCKED', heldText(slotNames.length), 'bind', { address }), fields, found);
}

function bindOrThrow(request: AbstractRequest): Lock {
  const lock = tryBindAny(request);
  if (lock === null) throw heldError(request.name, request.slotNames);
  return lock;
}

/**
 * Takes the Linux abstract socket name `name` (bound, and listening unless `listen: false`): the
 * lock is held while the returned Lock's socket is open, and the kernel frees it when the process
 * ends, however it ends. Nothing is left on disk.
 * @throws {LockHeldError} `ELOCKED` when another socket has the name (`holder` says who, when the kernel tells).
 * @throws {ForeignHolderError} `ELOCKED` when the holder runs as another uid.
 * @throws {InvalidTargetError} `EINVAL` or `ENAMETOOLONG` for an empty, NUL-containing or over-107-byte name.
 * @throws {UnsupportedPlatformError} `ENOTSUP` off Linux.
 * @throws {SolelyError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` (an unknown option key), or the socket's errno (`EMFILE`...).
 * @example
 * const { lockAbstractSync } = require('solely');
 * const lock = lockAbstractSync('nightly-report'); // held until release() or exit
 * try { report(); } finally { lock.release(); }
 */
export function lockAbstractSync(name: string, options?: AbstractLockOptions): Lock {
  return bindOrThrow(parseRequest(name, optionsObject(options, KEYS)));
}

/**
 * Like lockAbstractSync, but returns null when the name is held: contention is a value, and no
 * Error is built.
 * @throws {InvalidTargetError} `EINVAL` or `ENAMETOOLONG` for a name that cannot be a lock.
 * @throws {UnsupportedPlatformError} `ENOTSUP` off Linux.
 * @throws {SolelyError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` (an unknown option key), or the socket's errno.
 * @example
 * const { tryLockAbstractSync } = require('solely');
 * const lock = tryLockAbstractSync('nightly-report');
 * if (lock === null) process.exit(0); // another run is going
 */
export function tryLockAbstractSync(name: string, options?: AbstractLockOptions): Lock | null {
  return tryBindAny(parseRequest(name, optionsObject(options, KEYS)));
}

/**
 * Takes the abstract name `name` as lockAbstractSync does; with `wait`, waits for the holder to let
 * go (woken by the kernel, not by polling), up to `wait` ms if a number, or until `signal` aborts.
 * @throws {LockHeldError} `ELOCKED` when held and not waiting; {@link ForeignHolderError} when held by another uid.
 * @throws {LockTimeoutError} `ETIMEDOUT` when `wait` ms passed.
 * @throws {AbortError} `ABORT_ERR` when `signal` aborted the wait.
 * @throws {InvalidTargetError} `EINVAL` or `ENAMETOOLONG`; {@link UnsupportedPlatformError} `ENOTSUP` off Linux.
 * @throws {SolelyError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` (an unknown option key), or the socket's errno.
 * @example
 * import { lockAbstract } from 'solely';
 * const lock = await lockAbstract('nightly-report', { wait: 60_000 });
 * try { await work(); } finally { lock.release(); }
 */
export async function lockAbstract(name: string, options?: WaitOptions & AbstractLockOptions): Promise<Lock> {
  const o = optionsObject(options, WAIT_LOCK_KEYS);
  const request = parseRequest(name, o);
  const wait = parseWait(o);
  if (wait.timeout === 0 && !wait.signal?.aborted) return bindOrThrow(request);
  // Connected to every slot's holder: whichever lets go first wakes the wait.
  const waiters = request.slotNames.map((_, slot) => new AbstractWaiter(request, slot));
  return waits().waitFor(anySlot(waiters), wait, { address: `@${request.name}` });
}

/**
 * Waits connected to the holder's listening socket: the kernel resets the connection the moment
 * the holder's socket closes, whatever ended it. A holder that does not listen (or not yet), or
 * that accepts and hangs up (a server on the name), is polled with a backoff up to the fallback
 * interval.
 */
class AbstractWaiter implements Waiter<Lock> {
  readonly #request: AbstractRequest;
  readonly #slot: number;
  /** The slot's name, the one this waiter binds and connects to. */
  readonly #name: string;
  #connection = -1;
  #watch: FdWatch | undefined;
  #backoff: NodeJS.Timeout | undefined;
  #retry: NodeJS.Immediate | undefined;
  #backoffMs = 1;
  #hungUpOn = false;
  /** The connection has reset or hung up: hung up on our side at the next arm or disarm. */
  #connectionEnded = false;
  /** Refused connects left to retry at once: the name just changed hands (the wait began, or the
   *  holder's socket closed), so a refusal is most likely a holder gone between bind and connect. */
  #retriesAtOnce = RETRIES_AT_ONCE;

  constructor(request: AbstractRequest, slot: number) {
    this.#request = request;
    this.#slot = slot;
    this.#name = request.slotNames[slot];
  }

  attempt(): Lock | null {
    return tryBind(this.#request, this.#slot);
  }

  arm(wake: (cause?: WakeCause) => void): void {
    if (this.#connectionEnded) this.#hangUp();
    if (this.#connection >= 0 || this.#backoff !== undefined || this.#retry !== undefined) return;
    if (this.#hungUpOn) {
      // A live holder accepted and closed our connection: reconnecting at once would busy-loop.
      this.#hungUpOn = false;
      this.#backOff(wake);
      return;
    }
    const connection = binding.abstractConnect(this.#name);
    if (connection < 0) {
      // ECONNREFUSED: bound but not listening, or released meanwhile; EAGAIN: backlog full. Just
      // after the name changed hands, tried again at once: a holder that let go between our bind
      // and our connect would otherwise cost a backoff (lockAbstract handing off between four
      // processes spent milliseconds in them).
      if (this.#retriesAtOnce > 0) {
        this.#retriesAtOnce--;
        this.#retry = setImmediate(() => {
          this.#retry = undefined;
          wake('backoff');
        });
        return;
      }
      this.#backOff(wake);
      return;
    }
    binding.trackWaitFd(connection); // open only to wait: closed if this thread ends mid-wait
    this.#connection = connection;
    this.#watch ??= new binding.FdWatch((status) => {
      // Hung up on our side after the attempt this wakes (at its arm or disarm): a won wait hands
      // the lock over first.
      this.#connectionEnded = true;
      // An error (POLLERR) is the reset of a connection still queued in the backlog: the socket we
      // waited on closed, a real wait, so a new holder is connected to at once. A clean hang-up or
      // data means the holder accepted us, and will again.
      if (status < 0) {
        this.#backoffMs = 1;
        this.#retriesAtOnce = RETRIES_AT_ONCE;
      } else {
        this.#hungUpOn = true;
      }
      wake();
    });
    if (this.#watch.start(connection) < 0) this.#hangUp();
  }

  disarm(): void {
    this.#hangUp();
    clearTimeout(this.#backoff);
    this.#backoff = undefined;
    clearImmediate(this.#retry);
    this.#retry = undefined;
  }

  /** One wake-up after the current backoff, which doubles up to the fallback poll interval. */
  #backOff(wake: (cause: WakeCause) => void): void {
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      wake('backoff');
    }, this.#backoffMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, waits().FALLBACK_POLL_MS);
  }

  #hangUp(): void {
    this.#connectionEnded = false;
    if (this.#connection < 0) return;
    this.#watch?.stop();
    binding.closeWaitFd(this.#connection);
    this.#connection = -1;
  }
}
