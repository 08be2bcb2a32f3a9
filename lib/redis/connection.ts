// One dedicated connection to the server, with every wait on it bounded: ioredis's own connect
// timeout ends at the TCP connect, and a command has none, so a server that accepts and never
// answers would hang them. No offline queue and no reconnection: a command either reaches this
// connection's server now or fails, and a broken connection is reported, never silently replaced.
import { AbortError, type SolelyError } from '../errors';
import { errnoOf, fromErrno } from '../internal/errno';
import { settlesWithin, whenAborted } from '../internal/wait';
import { fromRedisError, loadIoRedis, type RedisArgument, type RedisClient } from './ioredis';
import type { Script } from './scripts';

/** Where and how to connect: a redis:// URL or ioredis's options (host, port, path, password, tls, db...). */
export interface ConnectionSettings {
  url: string | undefined;
  options: Record<string, unknown>;
  /** ms the server has to finish connecting (ioredis's connectTimeout, default 10 s). */
  connectTimeout: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Our settings over the user's: what makes every failure show at once. */
const FAIL_FAST = { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, maxRetriesPerRequest: 0, autoResubscribe: false, reconnectOnError: null };

export function connectionSettings(connection: string | Record<string, unknown> | undefined): ConnectionSettings {
  const url = typeof connection === 'string' ? connection : connection === undefined ? process.env.REDIS_URL : undefined;
  const options = typeof connection === 'object' ? { ...connection } : {};
  const connectTimeout = typeof options.connectTimeout === 'number' ? options.connectTimeout : DEFAULT_CONNECT_TIMEOUT_MS;
  return { url, options: { ...options, connectTimeout, ...FAIL_FAST }, connectTimeout };
}

export class Connection {
  readonly client: RedisClient;
  readonly address: string;
  /** ms each command has for its answer. */
  readonly patience: number;
  /** The socket's or the parser's error, which ioredis reports apart from the command it fails. */
  #broken: Error | undefined;
  #ended: Promise<void> | undefined;
  /** Called once if the connection breaks; set by the lock that owns it. */
  onBroken: (error: SolelyError) => void = () => {};

  private constructor(client: RedisClient, patience: number) {
    this.client = client;
    this.patience = patience;
    const { path, host, port } = client.options;
    this.address = typeof path === 'string' && path !== '' ? path : `${host}:${port}`;
    client.on('error', (error) => (this.#broken ??= error));
    client.on('close', () => {
      const broken = this.onBroken;
      this.onBroken = () => {};
      broken(fromRedisError(this.#broken ?? new Error('Connection closed'), this.address, 'read'));
    });
  }

  /** Connects, within settings.connectTimeout; an abort destroys the socket, whatever stage it is at. */
  static async open(settings: ConnectionSettings, patience: number, signal: AbortSignal | undefined): Promise<Connection> {
    const Redis = loadIoRedis();
    const client = settings.url === undefined ? new Redis(settings.options) : new Redis(settings.url, settings.options);
    const connection = new Connection(client, patience);
    const stopWatchingAbort = whenAborted(signal, () => connection.destroy());
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => {
          connection.destroy();
          const cause = new Error(`not connected within ${settings.connectTimeout} ms`);
          reject(fromErrno(errnoOf('ETIMEDOUT'), 'connect', { address: connection.address }, cause));
        }, settings.connectTimeout);
        client.connect().then(resolve, reject);
      });
    } catch (error) {
      connection.destroy();
      if (signal?.aborted) throw new AbortError(signal.reason, { address: connection.address });
      throw connection.#failure(error, 'connect');
    } finally {
      clearTimeout(timer);
      stopWatchingAbort();
    }
    return connection;
  }

  /** What a failed command or connect means: the server's error reply, else what broke the connection. */
  #failure(error: unknown, syscall: 'connect' | 'read'): SolelyError {
    const reply = (error as Error | undefined)?.name === 'ReplyError';
    return fromRedisError(reply ? error : (this.#broken ?? error), this.address, syscall);
  }

  /** One command, answered within patience ms, or the connection is closed and the call fails ETIMEDOUT. */
  async call(command: string, ...args: RedisArgument[]): Promise<unknown> {
    const reply = this.client.call(command, ...args);
    reply.catch(() => {}); // a reply that loses the race fails later, with the connection
    let timer: NodeJS.Timeout | undefined;
    const silence = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const cause = new Error(`no answer to ${command} within ${this.patience} ms`);
        const silent = fromErrno(errnoOf('ETIMEDOUT'), 'read', { address: this.address }, cause);
        this.#broken ??= silent;
        this.destroy();
        reject(silent);
      }, this.patience);
    });
    try {
      return await Promise.race([reply, silence]);
    } catch (error) {
      throw this.#failure(error, 'read');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a script by its SHA-1, sending its text only when the server does not have it yet. */
  async eval(script: Script, keys: string[], args: RedisArgument[]): Promise<unknown> {
    try {
      return await this.call('EVALSHA', script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!/^NOSCRIPT/.test(((error as SolelyError).cause as Error | undefined)?.message ?? '')) throw error;
      return this.call('EVAL', script.lua, keys.length, ...keys, ...args);
    }
  }

  /** Keeps (or stops keeping) the process alive for this socket. */
  ref(on: boolean): void {
    if (on) this.client.stream?.ref?.();
    else this.client.stream?.unref?.();
  }

  destroy(): void {
    this.client.disconnect();
  }

  /** QUIT, answered within patience, then the socket closed; never rejects. */
  end(): Promise<void> {
    this.onBroken = () => {};
    this.#ended ??= (async () => {
      await settlesWithin(this.client.quit(), this.patience);
      this.destroy();
    })();
    return this.#ended;
  }
}
