// One connection to the bus that requests one well-known name, and owns it until released or lost.
import { EventEmitter } from 'node:events';
import { LockLostError, SolelyError, type ErrorTarget, type Holder } from '../errors';
import { errnoOf, fromErrno, invalidTarget } from '../internal/errno';
import { holderOf } from '../internal/process-holder';
import { optionalPeer } from '../internal/lazy-modules';
import type { Wait } from '../internal/options';
import { Deadline } from '../internal/wait';

/**
 * A well-known bus name owned by this process's own connection to the bus. Emits 'lost' (a
 * LockLostError) once if the name is taken away or the connection closes.
 * @example
 * import { lockDbusName } from 'solely/dbus';
 * const lock = await lockDbusName('org.example.App');
 * lock.on('lost', () => process.exit(69));
 */
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

const dbusNative = optionalPeer<DbusNative>('dbus-native', 'solely/dbus needs its optional peer dependency dbus-native: npm install dbus-native');

const BUS = 'org.freedesktop.DBus';
const SIGNAL = 4;
const ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied';
/** What libdbus, GDBus and sd-bus wait for a reply. */
const CALL_TIMEOUT_MS = 25_000;
const EACCES = errnoOf('EACCES');
const ECONNRESET = errnoOf('ECONNRESET');

/**
 * Errors about the name (held, lost, refused, timed out) give the name as `address`, as Node's give
 * an abstract socket's name; errors of the connection give the bus address, as Node's give a socket's.
 */
export class NameLock extends EventEmitter implements DbusNameLock {
  readonly kind = 'dbus';
  readonly target: string;
  readonly address: string;
  readonly #client: Client;
  readonly #controller = new AbortController();
  readonly #nameTarget: ErrorTarget;
  readonly #busTarget: ErrorTarget;
  /** Pending until owned(); lost at most once after that. */
  #ownership: 'pending' | 'owned' | 'lost' = 'pending';
  /** The release under way or done, once release() or close() was called. */
  #release: Promise<void> | undefined;
  /** Set while queued: settles the wait on NameAcquired, or on a closed connection. */
  #settleQueuedWait: ((error?: SolelyError) => void) | undefined;
  /** What broke the connection, for the errors of the calls it failed. */
  #connectionError: unknown;
  #connectionClosed = false;

  /** The new NameLock owns its connection to the bus from here on. */
  constructor(name: string, busAddress: string) {
    super();
    this.target = name;
    this.address = busAddress;
    this.#nameTarget = { address: name };
    this.#busTarget = { address: busAddress };
    const dbus = dbusNative();
    try {
      // No timeout for the client's own Hello: dbus-native throws its failures, uncaught. Our
      // calls queue behind it and time out on their own.
      this.#client = dbus.createClient({ busAddress, timeout: 0 });
    } catch (error) {
      throw invalidTarget('EINVAL', `not a usable bus address (${(error as Error).message})`, this.#busTarget);
    }
    const connection = this.#client.connection;
    connection.on('message', (message: DbusMessage) => this.#onMessage(message));
    // A failed handshake leaves the socket open: close it, which fails the calls in flight.
    connection.on('error', (error: unknown) => {
      this.#connectionError ??= error;
      void this.#client.close();
    });
    connection.once('close', () => {
      this.#connectionClosed = true;
      // A wait in the queue fails with what broke the connection; an owned name is lost.
      this.#settleQueuedWait?.(this.#callError(undefined, 'read'));
      this.#lose(this.#connectionLost());
    });
  }

  get uniqueName(): string {
    return this.#client.name ?? '';
  }

  get released(): boolean {
    return this.#release !== undefined;
  }

  get lost(): boolean {
    return this.#ownership === 'lost';
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
        this.#settleQueuedWait = undefined;
        stopDeadline();
        if (error === undefined) {
          resolve();
          return;
        }
        // The queue is left before the wait rejects, so that the caller's next step finds it left.
        const fail = (): void => reject(error);
        void this.call('ReleaseName', 's', [name]).then(fail, fail);
      };
      this.#settleQueuedWait = settle;
      if (this.#connectionClosed) settle(this.#callError(undefined, 'read'));
      // Also an abort that came while RequestName was under way: it settles at once.
      else stopDeadline = new Deadline(wait, `the D-Bus name ${name}`, this.#nameTarget).watch(settle);
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
    if (this.#connectionClosed) throw this.#callError(undefined, 'read');
    this.#ownership = 'owned';
    return this;
  }

  /** @internal Closes the connection, which releases the name or leaves the queue. */
  async close(): Promise<void> {
    this.#release ??= Promise.resolve();
    await this.#client.close();
  }

  release(): Promise<void> {
    this.#release ??= (async () => {
      // ReleaseName first, so that the next owner is known before this connection is gone; a
      // failure changes nothing, since closing releases the name too.
      if (this.#ownership !== 'lost') await this.call('ReleaseName', 's', [this.target]).catch(() => {});
      await this.#client.close();
    })();
    return this.#release;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  #onMessage(message: DbusMessage): void {
    if (message.type !== SIGNAL || message.sender !== BUS || message.interface !== BUS || message.body?.[0] !== this.target) return;
    if (message.member === 'NameAcquired') this.#settleQueuedWait?.();
    else if (message.member === 'NameLost') {
      this.#lose(new LockLostError(`the D-Bus name ${this.target} was lost: the bus gave it to another connection`, this.#nameTarget));
      void this.#client.close();
    }
  }

  /** Marks the name lost, once, unless it was released or never owned. */
  #lose(reason: LockLostError): void {
    if (this.#ownership !== 'owned' || this.#release !== undefined) return;
    this.#ownership = 'lost';
    this.#controller.abort(reason);
    this.emit('lost', reason);
  }

  /** The LockLostError for a closed connection, keeping what closed it. */
  #connectionLost(): LockLostError {
    const cause = this.#connectionError ?? fromErrno(ECONNRESET, 'read', this.#busTarget);
    return new LockLostError(`the D-Bus name ${this.target} was lost: the connection to the bus closed`, { ...this.#nameTarget, cause });
  }

  /** A failed call as a typed error: the socket's errno if the connection failed, EACCES if the bus's policy refused. */
  #callError(error: unknown, member: string): SolelyError {
    const failed = error as { dbusName?: unknown; cause?: unknown; message?: unknown } | undefined;
    if (failed?.dbusName === ACCESS_DENIED) return fromErrno(EACCES, member, this.#nameTarget, error);
    const io = (failed?.cause ?? this.#connectionError) as { errno?: unknown; syscall?: unknown } | undefined;
    if (typeof io?.errno === 'number') return fromErrno(io.errno, typeof io.syscall === 'string' ? io.syscall : member, this.#busTarget, error);
    if (this.#connectionClosed) return fromErrno(ECONNRESET, member, this.#busTarget, error);
    return new SolelyError('ERR_SOLELY_DBUS', `${member} failed for ${this.target}: ${String(failed?.message ?? error)}`, { syscall: member, ...this.#nameTarget, cause: error });
  }
}
