// Builds our errors: the one fromErrno() every system error comes from (Node's code and message for
// an errno, the class that says what it means for a lock), and the errors for bad input.
import { constants } from 'node:os';
import { InvalidTargetError, SolelyError, UnsupportedPlatformError, type ErrorTarget, type SolelyErrorFields } from '../errors';
import { runtimeName } from './runtime';
import { describe, systemMessage } from './system-message';

const INVALID_TARGET = new Set(['EINVAL', 'ENAMETOOLONG', 'ENOTSOCK', 'ELOOP', 'EISDIR', 'ENOTDIR']);
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EAFNOSUPPORT']);
/** The errno constant for a code, negative as Node reports it. */
export function errnoOf(code: keyof typeof constants.errno): number {
  return -constants.errno[code];
}

/** text, then where it happened (the path or address), if anywhere. */
function located(text: string, target: ErrorTarget): string {
  const where = target.path ?? target.address;
  return where === undefined || where === '' ? text : `${text} ${where}`;
}

/**
 * Builds the system error for a failed syscall; `errno` is negative. `said` replaces the errno's
 * own words where a peer's answer says more (what it refused, and why).
 */
export function fromErrno(errno: number, syscall: string, target: ErrorTarget, cause?: unknown, said?: string): SolelyError {
  const [code, message] = describe(errno);
  const fields: SolelyErrorFields = { errno, syscall, ...target };
  if (cause !== undefined) fields.cause = cause;
  const text = systemMessage(code, said ?? message, syscall, target);
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
  return new UnsupportedPlatformError('ENOTSUP', systemMessage('ENOTSUP', `${runtimeName()} ${what}`, syscall, target), {
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
