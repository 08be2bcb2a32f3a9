// D-Bus name ownership: the bus daemon grants a well-known name to one connection at a time and
// takes it back the moment that connection closes, however its process ended. The client is
// dbus-native, an optional peer dependency loaded on first use, so that `solely` itself never
// needs it.
import { SolelyError } from '../errors';
import { invalidArgument, invalidTarget } from '../internal/errno';
import { heldBy } from '../internal/holder-message';
import { optionsObject, parseChoice, parseWait, type Wait, type WaitOptions } from '../internal/options';
import { throwIfAborted } from '../internal/wait';
import { NameLock, type DbusNameLock } from './name-lock';

export type { DbusNameLock } from './name-lock';
export { LockLostError, isSolelyError } from '../errors';

export interface DbusNameOptions {
  /** The bus to connect to (default 'session'); its address comes from the environment. */
  bus?: 'session' | 'system';
  /** An explicit bus address ("unix:path=/run/user/1000/bus"), instead of `bus`. */
  address?: string;
}

const DO_NOT_QUEUE = 4;
const PRIMARY_OWNER = 1;
const IN_QUEUE = 2;
const EXISTS = 3;
const MAX_NAME_BYTES = 255;
const ELEMENT = /^[A-Za-z_-][A-Za-z0-9_-]*$/;

/** A well-known bus name as the D-Bus specification defines it; refused before anything is sent. */
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

/** Owns the name until release(), or until the name is lost. */
export async function lockDbusName(name: string, options?: DbusNameOptions & WaitOptions): Promise<DbusNameLock> {
  const checked = checkBusName(name);
  const o = optionsObject(options);
  return (await acquire(checked, busAddressOf(o), parseWait(o), true)) as DbusNameLock;
}

/** Contention is a value: null if another connection owns the name. */
export async function tryLockDbusName(name: string, options?: DbusNameOptions): Promise<DbusNameLock | null> {
  const checked = checkBusName(name);
  return acquire(checked, busAddressOf(optionsObject(options)), { timeout: 0, signal: undefined }, false);
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
