// Redis leases: exclusion across machines through one Redis server (or a primary with replicas),
// with fencing tokens. A lock is a lease that expires ttl ms after its last renewal, renewed every
// ttl/3 over a connection of its own, and given up as lost before it can expire. `ioredis` is an
// optional peer dependency, loaded at the first call, so that this module loads without it.
import { hostname } from 'node:os';
import type { Holder, LockHeldError } from '../errors';
import { errnoOf, fromErrno, invalidArgument } from '../internal/errno';
import { heldBy } from '../internal/holder-message';
import { MAX_TIMER_MS, WAIT_KEYS, optionKeys, optionsObject, parseInteger, parseKey, parseWait, type WaitOptions } from '../internal/options';
import { throwIfAborted } from '../internal/wait';
import { acquireLease, type LeaseRequest } from './acquire';
import { Connection, connectionSettings, type ConnectionSettings } from './connection';
import { RedisLock } from './lock';
import { leaseHolder, owner, redisKeys } from './scripts';

/** A redis:// (rediss://, unix socket path...) URL, or ioredis's options (host, port, path, password, tls, db, connectTimeout...). */
export type RedisConnection = string | { [option: string]: unknown };

/**
 * Options of lockRedis: where to connect, the lease's length, and how long to wait.
 */
export interface RedisLockOptions extends WaitOptions {
  /** Where to connect; by default $REDIS_URL, else localhost:6379. */
  connection?: RedisConnection;
  /** The lease in ms (default 10000), renewed every ttl/3; each command to the server has ttl/3 to be answered. */
  ttl?: number;
}

/** Options of tryLockRedis: lockRedis's, without `wait`. */
export type TryLockRedisOptions = Omit<RedisLockOptions, 'wait'>;

/** Options of whoHoldsRedis: where to connect, and a signal to give up. */
export type WhoHoldsRedisOptions = Pick<RedisLockOptions, 'connection' | 'signal'>;

const TRY_KEYS = optionKeys<TryLockRedisOptions>({ connection: true, ttl: true, signal: true });
const LOCK_KEYS = [...TRY_KEYS, ...WAIT_KEYS];
const WHO_KEYS = optionKeys<WhoHoldsRedisOptions>({ connection: true, signal: true });
const DEFAULT_TTL_MS = 10_000;
/** Below this, a renewal every ttl/3 could not be answered even by a server on the same machine. */
const MIN_TTL_MS = 30;

function parseConnection(connection: unknown): ConnectionSettings {
  if (connection === undefined || typeof connection === 'string' || (typeof connection === 'object' && connection !== null)) {
    return connectionSettings(connection as RedisConnection | undefined);
  }
  throw invalidArgument('ERR_INVALID_ARG_TYPE', 'options.connection', 'a redis:// URL or an ioredis options object', connection);
}

function heldError(key: string, address: string, holder: Holder): LockHeldError {
  return heldBy(`the redis lock ${key} is held`, { address }, holder);
}

async function acquire(name: string, options: RedisLockOptions | undefined, orNull: boolean): Promise<RedisLock | null> {
  const key = parseKey(name);
  const o = optionsObject(options, orNull ? TRY_KEYS : LOCK_KEYS);
  const wait = parseWait(orNull ? { ...o, wait: false } : o);
  const ttl = parseInteger('options.ttl', o.ttl, MIN_TTL_MS, MAX_TIMER_MS, DEFAULT_TTL_MS);
  const settings = parseConnection(o.connection);
  throwIfAborted(wait.signal, {});
  const connection = await Connection.open(settings, Math.floor(ttl / 3), wait.signal);
  const request: LeaseRequest = { connection, settings, key, keys: redisKeys(key), ttl, owner: owner(process.pid, hostname()) };
  try {
    const result = await acquireLease(request, wait);
    if ('token' in result) return new RedisLock(key, result.token, request.keys[0], result.value, connection, ttl, result.sentAt); // the lock owns the connection now
    await connection.end();
    if (orNull) return null;
    throw heldError(key, connection.address, leaseHolder(result.holder));
  } catch (error) {
    await connection.end();
    throw error;
  }
}

/**
 * Takes the Redis lock `key`: a lease of ttl ms with a fencing token, renewed every ttl/3 while
 * held, and reported lost (`'lost'`, `signal`) before it can expire on the server.
 * @throws {LockHeldError} `ELOCKED` when held (after waiting, with options.wait); `holder` has its pid, hostname and token.
 * @throws {LockTimeoutError} `ETIMEDOUT` when options.wait ran out.
 * @throws {AbortError} `ABORT_ERR` when options.signal aborted.
 * @throws {SolelyError} `ECONNREFUSED`, `ETIMEDOUT` (connect), `EPROTO` (not Redis), `ERR_SOLELY_REDIS`, `EINVAL` for a bad key, `MODULE_NOT_FOUND` without ioredis.
 * @example
 * import { lockRedis } from 'solely/redis';
 * const lock = await lockRedis('nightly-report', { connection: 'redis://localhost:6379', wait: 60_000 });
 * try { await work(lock.fencingToken, lock.signal); } finally { await lock.release(); }
 */
export async function lockRedis(key: string, options?: RedisLockOptions): Promise<RedisLock> {
  return (await acquire(key, options, false)) as RedisLock;
}

/**
 * Like lockRedis without waiting, but resolves with null when the lock is held.
 * @throws {SolelyError} as lockRedis, for the connection and bad input.
 * @example
 * import { tryLockRedis } from 'solely/redis';
 * const lock = await tryLockRedis('nightly-report');
 * if (lock === null) process.exit(75);
 */
export function tryLockRedis(key: string, options?: TryLockRedisOptions): Promise<RedisLock | null> {
  return acquire(key, options, true);
}

/**
 * Who holds the Redis lock `key` (its token, pid and hostname), read without taking it; null if nobody.
 * @throws {SolelyError} as lockRedis, for the connection and bad input.
 * @example
 * import { whoHoldsRedis } from 'solely/redis';
 * console.log(await whoHoldsRedis('nightly-report')); // { fencingToken: 7n, pid: 1234, hostname: 'web1' } or null
 */
export async function whoHoldsRedis(key: string, options?: WhoHoldsRedisOptions): Promise<Holder | null> {
  const name = parseKey(key);
  const o = optionsObject(options, WHO_KEYS);
  const { signal } = parseWait({ ...o, wait: false });
  throwIfAborted(signal, {});
  const connection = await Connection.open(parseConnection(o.connection), Math.floor(DEFAULT_TTL_MS / 3), signal);
  try {
    const value = await connection.call('GET', redisKeys(name)[0]);
    if (value === null) return null;
    if (typeof value === 'string') return leaseHolder(value);
    // GET answers a string or nil: anything else is a server that does not speak Redis.
    const unexpected = new Error(`unexpected answer to GET: ${JSON.stringify(value)}`);
    throw fromErrno(errnoOf('EPROTO'), 'read', { address: connection.address }, unexpected);
  } finally {
    await connection.end();
  }
}

export { RedisLock, redisKeys };
export { SolelyError, LockHeldError, LockTimeoutError, LockLostError, AbortError, isSolelyError, type Holder, type SolelyErrorCode } from '../errors';
