// Every error solely throws: Node's system-error shape (code, negative errno, syscall,
// path/address, cause) plus classes that say what happened to the lock.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { runtimeName } from './runtime';

/** Who holds a lock, as far as the kernel (or, for solely/postgres, the server) tells. */
export interface Holder {
  /** The process; for a PostgreSQL lock, the server's backend process of the holding session. */
  pid?: number;
  uid?: number;
  /** The command line; for a PostgreSQL lock, the session's application_name. */
  command?: string;
  /** PostgreSQL: the holding client's address ('local' for a Unix socket). */
  host?: string;
  /** PostgreSQL: when the holding session connected. */
  since?: Date;
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
  | 'ELOCKED' | 'ERR_SOLELY_LOCK_LOST' | 'ERR_SOLELY_NETWORK_FILESYSTEM' | 'ERR_SOLELY_POSTGRES' | 'ERR_SOLELY_DBUS';

/** The codes our own conditions had before they were named ERR_SOLELY_*; isSolelyError still takes them. */
const RENAMED_CODES = {
  ELOCKLOST: 'ERR_SOLELY_LOCK_LOST',
  EPOSTGRES: 'ERR_SOLELY_POSTGRES',
  EDBUS: 'ERR_SOLELY_DBUS',
} as const satisfies Record<string, SolelyErrorCode>;

/** @deprecated The old spelling of an ERR_SOLELY_* code. */
export type DeprecatedSolelyErrorCode = keyof typeof RENAMED_CODES;

// Symbol.for: every copy of solely in a process (two versions in node_modules, a bundle) shares it,
// so an error made by one copy is recognised by another. Each class's prototype carries its name.
const BRAND = Symbol.for('solely.error');

type Branded = { [BRAND]?: unknown };

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

/** The lock is held by someone else. `code` is ELOCKED, as proper-lockfile users check. */
export class LockHeldError extends SolelyError {
  declare code: 'ELOCKED';
  declare holder?: Holder;

  constructor(message: string, fields: SolelyErrorFields & { holder?: Holder } = {}) {
    super('ELOCKED', message, fields);
    if (fields.holder !== undefined) this.holder = fields.holder;
  }
}

/** The holder runs as another uid: a squatter, or another user's instance. */
export class ForeignHolderError extends LockHeldError {}

/** A wait ran out of time. */
export class LockTimeoutError extends SolelyError {
  declare code: 'ETIMEDOUT';

  constructor(message: string, fields: SolelyErrorFields = {}) {
    super('ETIMEDOUT', message, fields);
  }
}

/** A lock held through a connection (a PostgreSQL session, a D-Bus name) was taken away. */
export class LockLostError extends SolelyError {
  declare code: 'ERR_SOLELY_LOCK_LOST';

  constructor(message: string, fields: SolelyErrorFields = {}) {
    super('ERR_SOLELY_LOCK_LOST', message, fields);
  }
}

/** The name or path cannot be a lock: empty, NUL, too long, a symlink, not a socket. */
export class InvalidTargetError extends SolelyError {}

/** The mechanism does not exist on this platform. */
export class UnsupportedPlatformError extends SolelyError {}

/** A wait was aborted through its AbortSignal; `cause` is the signal's reason, as in Node. */
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
 * True for an error made by any copy of solely (instanceof alone fails across copies), and with
 * `code`, only for one with that code. An old spelling (ELOCKLOST) matches its new code, and warns once.
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

const INVALID_TARGET = new Set(['EINVAL', 'ENAMETOOLONG', 'ENOTSOCK', 'ELOOP', 'EISDIR', 'ENOTDIR']);
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EAFNOSUPPORT']);
// libuv's table (behind util) lacks some errnos that locks return.
const EXTRA_MESSAGES: Record<string, string> = {
  EDEADLK: 'resource deadlock avoided',
  ENOLCK: 'no locks available',
  ESTALE: 'stale file handle',
  EDQUOT: 'disk quota exceeded',
};

let names: Map<number, [ErrnoCode, string]> | undefined;

function describe(errno: number): [code: ErrnoCode, message: string] {
  if (names === undefined) {
    // libuv's names are the ErrnoCode union; test/errors.test.js checks it against this table.
    names = new Map(getSystemErrorMap() as Map<number, [ErrnoCode, string]>);
    for (const [code, value] of Object.entries(constants.errno) as [keyof typeof constants.errno, number][]) {
      if (!names.has(-value)) names.set(-value, [code, EXTRA_MESSAGES[code] ?? 'system error']);
    }
    // As Node's dns does: a name that does not resolve is ENOTFOUND, whichever getaddrinfo code says so.
    for (const [errno, [code, message]] of names) {
      if (code === 'EAI_NONAME' || code === 'EAI_NODATA') names.set(errno, ['ENOTFOUND', message]);
    }
  }
  return names.get(errno) ?? [`E${-errno}`, `unknown system error ${-errno}`];
}

/** The errno constant for a code, negative as Node reports it. */
export function errnoOf(code: keyof typeof constants.errno): number {
  return -constants.errno[code];
}

/** text, then where it happened (the path or address), if anywhere. */
function located(text: string, target: ErrorTarget): string {
  const where = target.path ?? target.address;
  return where === undefined || where === '' ? text : `${text} ${where}`;
}

/** Builds the system error for a failed syscall; `errno` is negative. */
export function fromErrno(errno: number, syscall: string, target: ErrorTarget, cause?: unknown): SolelyError {
  const [code, message] = describe(errno);
  const fields: SolelyErrorFields = { errno, syscall, ...target };
  if (cause !== undefined) fields.cause = cause;
  const text = located(`${syscall} ${code}: ${message}`, target);
  const cls = INVALID_TARGET.has(code) ? InvalidTargetError : UNSUPPORTED.has(code) ? UnsupportedPlatformError : SolelyError;
  return new cls(code, text, fields);
}

/** Rebuilds a failed node:fs call's error as ours (same errno), keeping it as the cause. */
export function fromFsError(error: unknown, syscall: string, target: ErrorTarget): SolelyError {
  const errno = (error as NodeJS.ErrnoException | undefined)?.errno;
  if (typeof errno !== 'number') throw error;
  return fromErrno(errno, syscall, target, error);
}

/** A target refused before any syscall: `code` is the errno the kernel would have given. */
export function invalidTarget(code: 'EINVAL' | 'ENAMETOOLONG' | 'EISDIR' | 'ENOTDIR' | 'ENOTSOCK' | 'ELOOP', reason: string, target: ErrorTarget): InvalidTargetError {
  return new InvalidTargetError(code, located(`${code}: ${reason}`, target), {
    errno: errnoOf(code),
    ...target,
  });
}

/** What this runtime cannot do ("Bun 1.4.5 " + what): ENOTSUP, as the kernel would say it. */
export function unsupportedRuntime(syscall: string, what: string, target: ErrorTarget = {}): UnsupportedPlatformError {
  return new UnsupportedPlatformError('ENOTSUP', located(`${syscall} ENOTSUP: ${runtimeName()} ${what}`, target), {
    errno: errnoOf('ENOTSUP'),
    syscall,
    ...target,
  });
}

/** A bad argument or option, in Node's words. */
export function invalidArgument(
  code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE',
  name: string,
  expected: string,
  actual: unknown,
): SolelyError {
  return new SolelyError(code, `The "${name}" argument must be ${expected}. Received ${received(actual)}`);
}

/** A bad value as Node's own argument errors show it: "1n", "function f", "an instance of Map". */
function received(actual: unknown): string {
  if (typeof actual === 'string') return JSON.stringify(actual);
  if (typeof actual === 'bigint') return `${actual}n`;
  if (typeof actual === 'function') return `function ${actual.name || '(anonymous)'}`;
  if (typeof actual !== 'object' || actual === null) return String(actual);
  const constructorName = (Object.getPrototypeOf(actual) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof constructorName === 'string' && constructorName !== 'Object' && constructorName !== '' ? `an instance of ${constructorName}` : 'an object';
}
