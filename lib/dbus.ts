// D-Bus name ownership: the bus daemon grants a well-known name to one connection at a time and
// takes it back the moment that connection closes, however its process ended. The client is
// dbus-native, an optional peer dependency loaded on first use, so that `solely` itself never
// needs it.
import { EventEmitter } from 'node:events';
import { LockLostError, SolelyError, errnoOf, fromErrno, invalidArgument, invalidTarget, type Holder } from './errors';
import { heldBy, holderOf } from './holder';
import { optionsObject, parseChoice, parseWait, type Wait, type WaitOptions } from './options';
import { Deadline, throwIfAborted } from './wait';

export interface DbusNameOptions {
  /** The bus to connect to (default 'session'); its address comes from the environment. */
  bus?: 'session' | 'system';
  /** An explicit bus address ("unix:path=/run/user/1000/bus"), instead of `bus`. */
  address?: string;
}

/** A well-known bus name owned by this process's own connection to the bus. */
export interface DbusNameLock extends EventEmitter, AsyncDisposable {
  readonly kind: 'dbus';
  /** The well-known name. */
  readonly target: string;
  /** The bus address connected to. */
  readonly address: string;
  /** This connection's unique name (":1.42"), what GetNameOwner reports for target. */
  readonly uniqueName: string;
  /** True once release() was called. */
  readonly released: boolean;
  /** True once the name was taken away (NameLost, or the connection to the bus closed). */
  readonly lost: boolean;
  /** Aborts when the name is lost (reason: a LockLostError); never on release(). */
  readonly signal: AbortSignal;
  /** ReleaseName, then closes the connection; idempotent. Emits no 'lost'. */
  release(): Promise<void>;
  on(event: 'lost', listener: (reason: LockLostError) => void): this;
  once(event: 'lost', listener: (reason: LockLostError) => void): this;
}

// What solely uses of dbus-native (0.16), typed here so that no declaration of ours refers to a
// package the user may not have installed.
interface DbusMessage {
  type: number;
  sender?: string;
  interface?: string;
  member?: string;
  body?: unknown[];
}
interface Client {
  /** The unique name, once Hello was answered. */
  name?: string;
  readonly connection: EventEmitter;
  invokeDbus(message: { member: string; signature?: string; body?: unknown[] }, options: { timeout: number }): PromiseLike<unknown>;
  close(): Promise<void>;
}
interface DbusNative {
  createClient(options: { busAddress: string; timeout: number }): Client;
}

const BUS = 'org.freedesktop.DBus';
const SIGNAL = 4;
const DO_NOT_QUEUE = 4;
const PRIMARY_OWNER = 1;
const IN_QUEUE = 2;
const EXISTS = 3;
const MAX_NAME_BYTES = 255;
const ELEMENT = /^[A-Za-z_-][A-Za-z0-9_-]*$/;
const ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied';
/** What libdbus, GDBus and sd-bus wait for a reply. */
const CALL_TIMEOUT_MS = 25_000;
const EACCES = errnoOf('EACCES');
const ECONNRESET = errnoOf('ECONNRESET');

let dbusNative: DbusNative | undefined;

function client(): DbusNative {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional peer, loaded on first use
    dbusNative ??= require('dbus-native') as DbusNative;
  } catch (error) {
    throw new SolelyError('MODULE_NOT_FOUND', 'solely/dbus needs its optional peer dependency dbus-native: npm install dbus-native', { cause: error });
  }
  return dbusNative;
}

/** A well-known bus name as the D-Bus specification defines it; refused before anything is sent. */
export function checkBusName(name: unknown): string {
  if (typeof name !== 'string') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'name', 'of type string', name);
  const address = name;
  if (name.startsWith(':')) throw invalidTarget('EINVAL', 'a unique connection name (":1.42") cannot be requested', { address });
  // The allowed characters are ASCII, so a name that passes has as many bytes as UTF-16 units.
  if (name.length > MAX_NAME_BYTES) throw invalidTarget('ENAMETOOLONG', `a bus name is at most ${MAX_NAME_BYTES} bytes`, { address });
  const elements = name.split('.');
  if (elements.length < 2) throw invalidTarget('EINVAL', 'a bus name has at least two elements separated by "." (org.example.App)', { address });
  if (!elements.every((element) => ELEMENT.test(element))) {
    throw invalidTarget('EINVAL', 'each element of a bus name is [A-Za-z_-][A-Za-z0-9_-]* and not empty', { address });
  }
  return name;
}

/** The bus address: options.address, or the session or system bus's, as libdbus and sd-bus find them. */
function addressOf(o: Partial<DbusNameOptions>): string {
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
  return (await acquire(checked, addressOf(o), parseWait(o), true)) as DbusNameLock;
}

/** Contention is a value: null if another connection owns the name. */
export async function tryLockDbusName(name: string, options?: DbusNameOptions): Promise<DbusNameLock | null> {
  const checked = checkBusName(name);
  return acquire(checked, addressOf(optionsObject(options)), { timeout: 0, signal: undefined }, false);
}

async function acquire(name: string, address: string, wait: Wait, raise: boolean): Promise<DbusNameLock | null> {
  throwIfAborted(wait.signal, { address: name });
  const lock = new NameLock(client(), name, address);
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

class NameLock extends EventEmitter implements DbusNameLock {
  readonly kind = 'dbus';
  readonly target: string;
  readonly address: string;
  readonly #client: Client;
  readonly #controller = new AbortController();
  #owned = false;
  #lost = false;
  #released: Promise<void> | undefined;
  /** Set while queued: settles the wait on NameAcquired, or on a closed connection. */
  #settle: ((error?: SolelyError) => void) | undefined;
  /** What broke the connection, for the errors of the calls it failed. */
  #error: unknown;
  #closed = false;

  /** The new NameLock owns client's connection from here on. */
  constructor(dbus: DbusNative, name: string, address: string) {
    super();
    this.target = name;
    this.address = address;
    try {
      // No timeout for the client's own Hello: dbus-native throws its failures, uncaught. Our
      // calls queue behind it and time out on their own.
      this.#client = dbus.createClient({ busAddress: address, timeout: 0 });
    } catch (error) {
      throw invalidTarget('EINVAL', `not a usable bus address (${(error as Error).message})`, { address });
    }
    const connection = this.#client.connection;
    connection.on('message', (message: DbusMessage) => this.#onMessage(message));
    // A failed handshake leaves the socket open: close it, which fails the calls in flight.
    connection.on('error', (error: unknown) => {
      this.#error ??= error;
      void this.#client.close();
    });
    connection.once('close', () => {
      this.#closed = true;
      // A wait in the queue fails with what broke the connection; an owned name is lost.
      this.#settle?.(this.#callError(undefined, 'read'));
      this.#lose(this.#failure('the connection to the bus closed'));
    });
  }

  get uniqueName(): string {
    return this.#client.name ?? '';
  }

  get released(): boolean {
    return this.#released !== undefined;
  }

  get lost(): boolean {
    return this.#lost;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** @internal One method call on the bus daemon; rejects with typed errors. */
  async call(member: string, signature: string, body: unknown[]): Promise<unknown> {
    try {
      return await this.#client.invokeDbus({ member, signature, body }, { timeout: CALL_TIMEOUT_MS });
    } catch (error) {
      throw this.#callError(error, member);
    }
  }

  /** @internal Waits in the queue for NameAcquired; leaves the queue on timeout or abort. */
  queued(wait: Wait): Promise<void> {
    const name = this.target;
    return new Promise<void>((resolve, reject) => {
      let stopDeadline = (): void => {};
      const settle = (error?: SolelyError): void => {
        this.#settle = undefined;
        stopDeadline();
        if (error === undefined) {
          resolve();
          return;
        }
        // The queue is left before the wait rejects, so that the caller's next step finds it left.
        const fail = (): void => reject(error);
        void this.call('ReleaseName', 's', [name]).then(fail, fail);
      };
      this.#settle = settle;
      if (this.#closed) settle(this.#callError(undefined, 'read'));
      // Also an abort that came while RequestName was under way: it settles at once.
      else stopDeadline = new Deadline(wait, `the D-Bus name ${name}`, { address: name }).watch(settle);
    });
  }

  /** @internal The owner of the name, from the bus's record of its connection; undefined if gone. */
  async owner(): Promise<Holder | undefined> {
    try {
      const unique = await this.call('GetNameOwner', 's', [this.target]);
      const cred = (await this.call('GetConnectionCredentials', 's', [unique])) as { ProcessID?: unknown; UnixUserID?: unknown };
      if (typeof cred.ProcessID !== 'number') return typeof cred.UnixUserID === 'number' ? { uid: cred.UnixUserID } : undefined;
      return holderOf(cred.ProcessID, typeof cred.UnixUserID === 'number' ? cred.UnixUserID : undefined);
    } catch {
      return undefined; // released meanwhile, or the bus would not say
    }
  }

  /** @internal From here on, a closed connection or NameLost marks the lock lost. */
  owned(): this {
    if (this.#closed) throw this.#callError(undefined, 'read');
    this.#owned = true;
    return this;
  }

  /** @internal Closes the connection, which releases the name or leaves the queue. */
  async close(): Promise<void> {
    this.#released ??= Promise.resolve();
    await this.#client.close();
  }

  release(): Promise<void> {
    this.#released ??= (async () => {
      // ReleaseName first, so that the next owner is known before this connection is gone; a
      // failure changes nothing, since closing releases the name too.
      if (!this.#lost) await this.call('ReleaseName', 's', [this.target]).catch(() => {});
      await this.#client.close();
    })();
    return this.#released;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  #onMessage(message: DbusMessage): void {
    if (message.type !== SIGNAL || message.sender !== BUS || message.interface !== BUS || message.body?.[0] !== this.target) return;
    if (message.member === 'NameAcquired') this.#settle?.();
    else if (message.member === 'NameLost') {
      this.#lose(new LockLostError(`the D-Bus name ${this.target} was lost: the bus gave it to another connection`, { address: this.target }));
      void this.#client.close();
    }
  }

  /** Marks the name lost, once, unless it was released or never owned. */
  #lose(reason: LockLostError): void {
    if (!this.#owned || this.#lost || this.#released !== undefined) return;
    this.#lost = true;
    this.#controller.abort(reason);
    this.emit('lost', reason);
  }

  /** The LockLostError for a closed connection, keeping what closed it. */
  #failure(why: string): LockLostError {
    const cause = this.#error ?? fromErrno(ECONNRESET, 'read', { address: this.address });
    return new LockLostError(`the D-Bus name ${this.target} was lost: ${why}`, { address: this.target, cause });
  }

  /** A failed call as a typed error: the socket's errno if the connection failed, EACCES if the bus's policy refused. */
  #callError(error: unknown, member: string): SolelyError {
    const failed = error as { dbusName?: unknown; cause?: unknown; message?: unknown } | undefined;
    if (failed?.dbusName === ACCESS_DENIED) return fromErrno(EACCES, member, { address: this.target }, error);
    const io = (failed?.cause ?? this.#error) as { errno?: unknown; syscall?: unknown } | undefined;
    if (typeof io?.errno === 'number') return fromErrno(io.errno, typeof io.syscall === 'string' ? io.syscall : member, { address: this.address }, error);
    if (this.#closed) return fromErrno(ECONNRESET, member, { address: this.address }, error);
    return new SolelyError('ERR_SOLELY_DBUS', `${member} failed for ${this.target}: ${String(failed?.message ?? error)}`, { syscall: member, address: this.target, cause: error });
  }
}

export { LockLostError, isSolelyError } from './errors';
