// Builds our errors: the one fromErrno() every system error comes from (Node's code and message for
// an errno, the class that says what it means for a lock), and the errors for bad input.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { InvalidTargetError, SolelyError, UnsupportedPlatformError, type ErrnoCode, type ErrorTarget, type SolelyErrorFields } from '../errors';

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
