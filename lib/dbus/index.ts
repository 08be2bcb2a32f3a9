// D-Bus name ownership: the bus daemon grants a well-known name to one connection at a time and
// takes it back the moment that connection closes, however its process ended. The client is
// dbus-native, an optional peer dependency loaded on first use, so that `solely` itself never
// needs it.
import { SolelyError } from '../errors';
import { invalidArgument, invalidTarget } from '../internal/errno';
import { heldBy } from '../internal/holder-message';
import { WAIT_KEYS, optionKeys, optionsObject, parseChoice, parseWait, type Wait, type WaitOptions } from '../internal/options';
import { throwIfAborted } from '../internal/wait';
import { NameLock, type DbusNameLock } from './name-lock';

export type { DbusNameLock } from './name-lock';
export { LockLostError, isSolelyError } from '../errors';

/**
 * Options of lockDbusName (which also takes WaitOptions) and tryLockDbusName.
 */
export interface DbusNameOptions {
  /** The bus to connect to (default 'session'); its address comes from the environment. */
  bus?: 'session' | 'system';
  /** An explicit bus address ("unix:path=/run/user/1000/bus"), instead of `bus`. */
  address?: string;
}

const KEYS = optionKeys<DbusNameOptions>({ bus: true, address: true });
const WAIT_LOCK_KEYS = [...KEYS, ...WAIT_KEYS];
const DO_NOT_QUEUE = 4;
const PRIMARY_OWNER = 1;
const IN_QUEUE = 2;
const EXISTS = 3;
const MAX_NAME_BYTES = 255;
const ELEMENT = /^[A-Za-z_-][A-Za-z0-9_-]*$/;

/**
 * The name, if it is a well-known bus name as the D-Bus specification defines it: refused before
 * anything is sent otherwise.
 * @throws {InvalidTargetError} `EINVAL` (a unique name, fewer than two elements, a bad character), `ENAMETOOLONG` (over 255 bytes).
 * @throws {SolelyError} `ERR_INVALID_ARG_TYPE` for a name that is not a string.
 * @example
 * const { checkBusName } = require('solely/dbus');
 * checkBusName('org.example.App'); // 'org.example.App'
 */
export function checkBusName(name: unknown): string {
  if (typeof name !== 'string') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'name', 'of type string', name);
  // An error about a name gives it as `address`, as Node's give an abstract socket's name.
  const target = { address: name };
  if (name.startsWith(':')) throw invalidTarget('EINVAL', 'a unique connection name (":1.42") cannot be requested', target);
  // The allowed characters are ASCII, so a name that passes has as many bytes as UTF-16 units.
  if (name.length > MAX_NAME_BYTES) throw invalidTarget('ENAMETOOLONG', `a bus name is at most ${MAX_NAME_BYTES} bytes`, target);
  const elements = name.split('.');
  if (elements.length < 2) throw invalidTarget('EINVAL', 'a bus name has at least two elements separated by "." (org.example.App)', target);
  if (!elements.every((element) => ELEMENT.test(element))) {
    throw invalidTarget('EINVAL', 'each element of a bus name is [A-Za-z_-][A-Za-z0-9_-]* and not empty', target);
  }
  return name;
}

/** options.address, or the session or system bus's address, as libdbus and sd-bus find them. */
function busAddressOf(o: Partial<DbusNameOptions>): string {
  if (o.address !== undefined) {
    if (typeof o.address !== 'string' || o.address === '') throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.address', 'a non-empty string', o.address);
    if (o.bus !== undefined) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.bus', 'undefined when options.address is given', o.bus);
    return o.address;
  }
  const env = process.env;
  if (parseChoice('options.bus', o.bus, ['session', 'system'] as const, 'session') === 'system') {
    return env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket';
  }
  return env.DBUS_SESSION_BUS_ADDRESS || `unix:path=${env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}`}/bus`;
}

/**
 * Owns the well-known bus name `name` (RequestName, DO_NOT_QUEUE) on a connection of its own, until
 * release(), or until the name is lost: 'lost' is emitted and `signal` aborts. With `wait`, waits
 * for the owner to let go.
 * @throws {LockHeldError} `ELOCKED` when another connection owns it (after waiting, if options.wait); {@link ForeignHolderError} for another uid.
 * @throws {LockTimeoutError} `ETIMEDOUT`; {@link AbortError} `ABORT_ERR`; {@link InvalidTargetError} `EINVAL`, `ENAMETOOLONG`.
 * @throws {SolelyError} `EACCES` when the bus policy forbids owning it, the connection's errno (`ENOENT`, `ECONNREFUSED`...),
 * `ERR_SOLELY_DBUS`, `MODULE_NOT_FOUND` without dbus-native, `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @example
 * import { lockDbusName } from 'solely/dbus';
 * const lock = await lockDbusName('org.example.App', { wait: 10_000 });
 * lock.on('lost', () => process.exit(69));
 */
export async function lockDbusName(name: string, options?: DbusNameOptions & WaitOptions): Promise<DbusNameLock> {
  const checked = checkBusName(name);
  const o = optionsObject(options, WAIT_LOCK_KEYS);
  return (await acquire(checked, busAddressOf(o), parseWait(o), true)) as DbusNameLock;
}

/**
 * Like lockDbusName without waiting, but resolves with null if another connection owns the name.
 * @throws {InvalidTargetError} `EINVAL`, `ENAMETOOLONG` for a name that is not a well-known bus name.
 * @throws {SolelyError} `EACCES`, the connection's errno, `ERR_SOLELY_DBUS`, `MODULE_NOT_FOUND` without dbus-native,
 * `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @example
 * import { tryLockDbusName } from 'solely/dbus';
 * const lock = await tryLockDbusName('org.example.App');
 * if (lock === null) process.exit(0);
 */
export async function tryLockDbusName(name: string, options?: DbusNameOptions): Promise<DbusNameLock | null> {
  const checked = checkBusName(name);
  return acquire(checked, busAddressOf(optionsObject(options, KEYS)), { timeout: 0, signal: undefined }, false);
}

async function acquire(name: string, busAddress: string, wait: Wait, raise: boolean): Promise<DbusNameLock | null> {
  throwIfAborted(wait.signal, { address: name });
  const lock = new NameLock(name, busAddress);
  let reply: unknown;
  try {
    // Queued only when the caller waits: the bus then hands the name over in its own order.
    reply = await lock.call('RequestName', 'su', [name, wait.timeout === 0 ? DO_NOT_QUEUE : 0]);
    if (reply === IN_QUEUE) await lock.queued(wait);
  } catch (error) {
    await lock.close();
    throw error;
  }
  if (reply === PRIMARY_OWNER || reply === IN_QUEUE) return lock.owned();
  if (reply !== EXISTS) {
    await lock.close();
    throw new SolelyError('EPROTO', `RequestName answered ${String(reply)} for ${name}`, { syscall: 'RequestName', address: name });
  }
  const holder = raise ? await lock.owner() : undefined;
  await lock.close();
  if (!raise) return null;
  throw heldBy(`RequestName ELOCKED: the name is owned ${name}`, { syscall: 'RequestName', address: name }, holder);
}
