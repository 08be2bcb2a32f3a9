// Every error solely throws: Node's system-error shape (code, negative errno, syscall,
// path/address, cause) plus classes that say what happened to the lock.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

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

export class SolelyError extends Error {
  declare code: string;
  declare errno?: number;
  declare syscall?: string;
  declare path?: string;
  declare address?: string;

  constructor(code: string, message: string, fields: SolelyErrorFields = {}) {
    super(message, 'cause' in fields ? { cause: fields.cause } : undefined);
    this.code = code;
    if (fields.errno !== undefined) this.errno = fields.errno;
    if (fields.syscall !== undefined) this.syscall = fields.syscall;
    if (fields.path !== undefined) this.path = fields.path;
    if (fields.address !== undefined) this.address = fields.address;
  }
}

/** The lock is held by someone else. `code` is ELOCKED, as proper-lockfile users check. */
export class LockHeldError extends SolelyError {
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
  constructor(message: string, fields: SolelyErrorFields = {}) {
    super('ETIMEDOUT', message, fields);
  }
}

/** The name or path cannot be a lock: empty, NUL, too long, a symlink, not a socket. */
export class InvalidTargetError extends SolelyError {}

/** The mechanism does not exist on this platform. */
export class UnsupportedPlatformError extends SolelyError {}

/** A wait was aborted through its AbortSignal; `cause` is the signal's reason, as in Node. */
export class AbortError extends SolelyError {
  constructor(reason: unknown, fields: ErrorTarget = {}) {
    super('ABORT_ERR', 'The operation was aborted', { ...fields, cause: reason });
  }
}

// The name on the prototype, as Node's own errors have it.
for (const cls of [
  SolelyError,
  LockHeldError,
  ForeignHolderError,
  LockTimeoutError,
  InvalidTargetError,
  UnsupportedPlatformError,
  AbortError,
]) {
  Object.defineProperty(cls.prototype, 'name', { value: cls.name, writable: true, configurable: true });
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

let names: Map<number, [string, string]> | undefined;

function describe(errno: number): [code: string, message: string] {
  if (names === undefined) {
    names = new Map(getSystemErrorMap());
    for (const [code, value] of Object.entries(constants.errno)) {
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

/** Builds the system error for a failed syscall; `errno` is negative. */
export function fromErrno(errno: number, syscall: string, target: ErrorTarget, cause?: unknown): SolelyError {
  const [code, message] = describe(errno);
  const where = target.path ?? target.address;
  const fields: SolelyErrorFields = { errno, syscall, ...target };
  if (cause !== undefined) fields.cause = cause;
  const text = `${syscall} ${code}: ${message}${where === undefined ? '' : ` ${where}`}`;
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
  const where = target.path ?? target.address;
  return new InvalidTargetError(code, `${code}: ${reason}${where === undefined ? '' : ` ${where}`}`, {
    errno: errnoOf(code),
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
