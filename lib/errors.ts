// Every error solely throws: Node's system-error shape (code, negative errno, syscall,
// path/address, cause) plus classes that say what happened to the lock. internal/errno.ts builds them.
import type { constants } from 'node:os';

/** Who holds a lock, as far as the kernel (or, for solely/postgres, the server) tells. */
export interface Holder {
  /**
   * The process that holds the lock (confirmed in /proc); of processes sharing a locked file (a
   * child inherited the fd), the one whose PID the file holds. openPidfile* name the PID written in
   * the pidfile even unconfirmed (then without uid and command). For a PostgreSQL lock, the client
   * process (known when its application_name is solely's, on `hostname`).
   */
  pid?: number;
  uid?: number;
  /** The command line; for a PostgreSQL lock, the session's application_name. */
  command?: string;
  /** PostgreSQL and Redis: the holding client's host name, as it told the server. */
  hostname?: string;
  /** PostgreSQL: the server's backend process of the holding session. */
  backendPid?: number;
  /** PostgreSQL: the holding client's address ('local' for a Unix socket). */
  host?: string;
  /** PostgreSQL: when the holding session connected. */
  since?: Date;
  /** Redis: the holder's fencing token. */
  fencingToken?: bigint;
}

/** Where an error happened: a file or socket path, or an abstract name as `@name`. */
export interface ErrorTarget {
  path?: string;
  address?: string;
}

export interface SolelyErrorFields extends ErrorTarget {
  errno?: number;
  syscall?: string;
  cause?: unknown;
}

/** Names in libuv's error table (behind util.getSystemErrorMap) that os.constants.errno lacks. */
type LibuvOnlyCode =
  | 'EAI_ADDRFAMILY' | 'EAI_AGAIN' | 'EAI_BADFLAGS' | 'EAI_BADHINTS' | 'EAI_CANCELED' | 'EAI_FAIL' | 'EAI_FAMILY'
  | 'EAI_MEMORY' | 'EAI_NODATA' | 'EAI_NONAME' | 'EAI_OVERFLOW' | 'EAI_PROTOCOL' | 'EAI_SERVICE' | 'EAI_SOCKTYPE'
  | 'ECHARSET' | 'EFTYPE' | 'EHOSTDOWN' | 'ENONET' | 'EOF' | 'EREMOTEIO' | 'ESHUTDOWN' | 'ESOCKTNOSUPPORT' | 'EUNATCH' | 'UNKNOWN';

/** A failed syscall's code, as Node names it; `E<n>` for an errno that neither Node nor libuv names. */
export type ErrnoCode = keyof typeof constants.errno | LibuvOnlyCode | 'ENOTFOUND' | `E${number}`;

/** Every `code` a SolelyError can carry, so that `switch (error.code)` is checked. */
export type SolelyErrorCode =
  | ErrnoCode
  // Node's own codes, meaning what they mean in Node.
  | 'ABORT_ERR' | 'ERR_DLOPEN_DISABLED' | 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'MODULE_NOT_FOUND'
  // Ours. ELOCKED keeps its errno-like name: proper-lockfile users check it.
  | 'ELOCKED' | 'ERR_SOLELY_LOCK_LOST' | 'ERR_SOLELY_NETWORK_FILESYSTEM' | 'ERR_SOLELY_POSTGRES' | 'ERR_SOLELY_REDIS' | 'ERR_SOLELY_DBUS';

/** The codes our own conditions had before they were named ERR_SOLELY_*; isSolelyError still takes them. */
const RENAMED_CODES = {
  ELOCKLOST: 'ERR_SOLELY_LOCK_LOST',
  EPOSTGRES: 'ERR_SOLELY_POSTGRES',
  EDBUS: 'ERR_SOLELY_DBUS',
} as const satisfies Record<string, SolelyErrorCode>;

/**
 * The old spelling of an ERR_SOLELY_* code (ELOCKLOST, EPOSTGRES, EDBUS); isSolelyError still takes it.
 * @deprecated Pass the ERR_SOLELY_* code.
 */
export type DeprecatedSolelyErrorCode = keyof typeof RENAMED_CODES;

// Symbol.for: every copy of solely in a process (two versions in node_modules, a bundle) shares it,
// so an error made by one copy is recognised by another. Each class's prototype carries its name.
const BRAND = Symbol.for('solely.error');

type Branded = { [BRAND]?: unknown };

/**
 * Every error solely throws: Node's system-error shape (`code`; for a failed syscall also negative
 * `errno`, `syscall`, and `path` or `address`; `cause` kept), and a message in Node's words:
 * `ENOENT: no such file or directory, open '/x/a.lock'`. `instanceof` works across copies of solely.
 * @example
 * const { lockFileSync, SolelyError } = require('solely');
 * try { lockFileSync('/nodir/a.lock'); } catch (e) { if (e instanceof SolelyError) console.error(e.code, e.message); }
 */
export class SolelyError extends Error {
  declare code: SolelyErrorCode;
  declare errno?: number;
  declare syscall?: string;
  declare path?: string;
  declare address?: string;

  constructor(code: SolelyErrorCode, message: string, fields: SolelyErrorFields = {}) {
    super(message, 'cause' in fields ? { cause: fields.cause } : undefined);
    this.code = code;
    if (fields.errno !== undefined) this.errno = fields.errno;
    if (fields.syscall !== undefined) this.syscall = fields.syscall;
    if (fields.path !== undefined) this.path = fields.path;
    if (fields.address !== undefined) this.address = fields.address;
  }

  /** `instanceof` by brand, as undici does: true for this class's errors from any copy of solely. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    const brand = Object.hasOwn(this.prototype, BRAND) ? (this.prototype as Branded)[BRAND] : undefined;
    // A user's subclass carries no brand of its own: the ordinary prototype-chain check.
    if (brand === undefined) return Function.prototype[Symbol.hasInstance].call(this, value);
    if (typeof value !== 'object' || value === null) return false;
    for (let proto: unknown = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
      if (Object.hasOwn(proto as object, BRAND) && (proto as Branded)[BRAND] === brand) return true;
    }
    return false;
  }
}

/**
 * The lock is held by someone else. `code` is ELOCKED (as proper-lockfile users check); `holder`
 * says who, as far as the kernel (or server) tells. With `slots`, every slot was held: `holder` is
 * slot 0's, and `holders` each slot's (null for one freed since).
 * @example
 * const { lockFileSync, LockHeldError } = require('solely');
 * try { lockFileSync('/run/lock/job.lock'); } catch (e) { if (e instanceof LockHeldError) console.error(e.holder); }
 */
export class LockHeldError extends SolelyError {
  declare code: 'ELOCKED';
  declare holder?: Holder;
  /** With `slots`: each slot's holder, slot 0's first; null for a slot freed since it was tried. */
  declare holders?: Array<Holder | null>;

  constructor(message: string, fields: SolelyErrorFields & { holder?: Holder; holders?: Array<Holder | null> } = {}) {
    super('ELOCKED', message, fields);
    if (fields.holder !== undefined) this.holder = fields.holder;
    if (fields.holders !== undefined) this.holders = fields.holders;
  }
}

/**
 * The holder runs as another uid: a squatter, or another user's instance. A LockHeldError, code ELOCKED.
 * @example
 * const { lockAbstractSync, ForeignHolderError } = require('solely');
 * try { lockAbstractSync('my-app'); } catch (e) { if (e instanceof ForeignHolderError) console.error(e.holder?.uid); }
 */
export class ForeignHolderError extends LockHeldError {}

/**
 * A wait (options.wait ms, or singleInstance's timeout) ran out of time. `code` is ETIMEDOUT.
 * @example
 * import { lockFile, LockTimeoutError } from 'solely';
 * await lockFile('/run/lock/job.lock', { wait: 1000 }).catch((e) => process.exit(e instanceof LockTimeoutError ? 75 : 1));
 */
export class LockTimeoutError extends SolelyError {
  declare code: 'ETIMEDOUT';

  constructor(message: string, fields: SolelyErrorFields = {}) {
    super('ETIMEDOUT', message, fields);
  }
}

/**
 * A lock held through a connection (a PostgreSQL session, a Redis lease, a D-Bus name) was taken away: emitted
 * as 'lost' by the lock, and the reason of its `signal`. `code` is ERR_SOLELY_LOCK_LOST.
 * @example
 * import { lockPostgres } from 'solely/postgres';
 * const lock = await lockPostgres('nightly-report');
 * lock.on('lost', (error) => { console.error(error.message); process.exit(69); });
 */
export class LockLostError extends SolelyError {
  declare code: 'ERR_SOLELY_LOCK_LOST';

  constructor(message: string, fields: SolelyErrorFields = {}) {
    super('ERR_SOLELY_LOCK_LOST', message, fields);
  }
}

/**
 * The name or path cannot be a lock: empty, NUL, too long, a symlink, not a socket. `code` is the
 * errno the kernel would give (EINVAL, ENAMETOOLONG, ELOOP, ENOTSOCK, EISDIR, ENOTDIR).
 * @example
 * const { lockAbstractSync, InvalidTargetError } = require('solely');
 * try { lockAbstractSync(''); } catch (error) { console.log(error instanceof InvalidTargetError); } // true
 */
export class InvalidTargetError extends SolelyError {}

/**
 * The mechanism does not exist on this platform (abstract names off Linux, OFD locks where the
 * kernel has none). `code` is ENOTSUP, EOPNOTSUPP, ENOSYS or EAFNOSUPPORT.
 * @example
 * const { lockAbstractSync, lockFileSync, UnsupportedPlatformError } = require('solely');
 * let lock;
 * try { lock = lockAbstractSync('my-app'); } catch (error) {
 *   if (!(error instanceof UnsupportedPlatformError)) throw error;
 *   lock = lockFileSync('/tmp/my-app.lock');
 * }
 */
export class UnsupportedPlatformError extends SolelyError {}

/**
 * A wait was aborted through its AbortSignal; `code` is ABORT_ERR and `cause` the signal's reason, as in Node.
 * @example
 * import { lockFile, AbortError } from 'solely';
 * const lock = await lockFile('/run/lock/job.lock', { wait: true, signal: AbortSignal.timeout(5000) })
 *   .catch((e) => (e instanceof AbortError ? null : Promise.reject(e)));
 */
export class AbortError extends SolelyError {
  declare code: 'ABORT_ERR';

  constructor(reason: unknown, fields: ErrorTarget = {}) {
    super('ABORT_ERR', 'The operation was aborted', { ...fields, cause: reason });
  }
}

// Names spelled out, not read from cls.name: a minifier may rename classes, and brands must match across copies.
const CLASSES = {
  SolelyError,
  LockHeldError,
  ForeignHolderError,
  LockTimeoutError,
  LockLostError,
  InvalidTargetError,
  UnsupportedPlatformError,
  AbortError,
};
for (const [name, cls] of Object.entries(CLASSES)) {
  // The name on the prototype, as Node's own errors have it.
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
  Object.defineProperty(cls.prototype, BRAND, { value: name });
}

let warnedRenamed = false;

/**
 * True for an error made by any copy of solely, as `instanceof SolelyError` is (both work across
 * copies); with `code`, only for one with that code. An old spelling (ELOCKLOST) matches its new code, and warns once.
 * @example
 * const { lockFileSync, isSolelyError } = require('solely');
 * try { lockFileSync('/run/lock/job.lock'); } catch (e) { process.exit(isSolelyError(e, 'ELOCKED') ? 75 : 1); }
 */
export function isSolelyError<C extends SolelyErrorCode>(value: unknown, code: C): value is SolelyError & { code: C };
/** @deprecated Pass the ERR_SOLELY_* code. */
export function isSolelyError(value: unknown, code: DeprecatedSolelyErrorCode): value is SolelyError;
export function isSolelyError(value: unknown): value is SolelyError;
export function isSolelyError(value: unknown, code?: SolelyErrorCode | DeprecatedSolelyErrorCode): value is SolelyError {
  if (typeof (value as Branded | null | undefined)?.[BRAND] !== 'string') return false;
  if (code === undefined) return true;
  if (Object.hasOwn(RENAMED_CODES, code)) {
    const renamed = RENAMED_CODES[code as DeprecatedSolelyErrorCode];
    if (!warnedRenamed) {
      warnedRenamed = true;
      process.emitWarning(`solely's error code ${code} is now ${renamed}; the old spellings (${Object.keys(RENAMED_CODES).join(', ')}) will go`, {
        type: 'DeprecationWarning',
        code: 'SOLELY_DEP0001',
      });
    }
    return (value as SolelyError).code === renamed;
  }
  return (value as SolelyError).code === code;
}
