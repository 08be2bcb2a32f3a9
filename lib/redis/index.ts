// Redis leases: exclusion across machines through one Redis server (or a primary with replicas),
// with fencing tokens. A lock is a lease that expires ttl ms after its last renewal, renewed every
// ttl/3 over a connection of its own, and given up as lost before it can expire. `ioredis` is an
// optional peer dependency, loaded at the first call, so that this module loads without it.
import { hostname } from 'node:os';
import { LockHeldError, invalidArgument, type Holder } from '../errors';
import { MAX_TIMER_MS, optionsObject, parseInteger, parseKey, parseWait, type WaitOptions } from '../options';
import { throwIfAborted } from '../wait';
import { acquireLease, type LeaseRequest } from './acquire';
import { Connection, connectionSettings, type ConnectionSettings } from './connection';
import { RedisLock } from './lock';
import { leaseHolder, owner, redisKeys } from './scripts';

/** A redis:// (rediss://, unix socket path...) URL, or ioredis's options (host, port, path, password, tls, db, connectTimeout...). */
export type RedisConnection = string | { [option: string]: unknown };

export interface RedisLockOptions extends WaitOptions {
  /** Where to connect; by default $REDIS_URL, else localhost:6379. */
  connection?: RedisConnection;
  /** The lease in ms (default 10000), renewed every ttl/3; each command to the server has ttl/3 to be answered. */
  ttl?: number;
}

export type TryLockRedisOptions = Omit<RedisLockOptions, 'wait'>;

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
  const by = holder.pid === undefined ? '' : ` (token ${holder.fencingToken}, pid ${holder.pid} on ${holder.host})`;
  return new LockHeldError(`the redis lock ${key} is held${by}`, { address, holder });
}

async function acquire(name: string, options: RedisLockOptions | undefined, orNull: boolean): Promise<RedisLock | null> {
  const key = parseKey(name);
  const o = optionsObject(options);
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
 * Takes the Redis lock `key`: a lease of ttl ms, renewed while held. Rejects with LockHeldError
 * when held (after waiting, if options.wait), LockTimeoutError, AbortError, or a SolelyError for
 * the connection.
 */
export async function lockRedis(key: string, options?: RedisLockOptions): Promise<RedisLock> {
  return (await acquire(key, options, false)) as RedisLock;
}

/** Like lockRedis without waiting, but resolves with null when the lock is held. */
export function tryLockRedis(key: string, options?: TryLockRedisOptions): Promise<RedisLock | null> {
  return acquire(key, options, true);
}

/** Who holds the Redis lock `key` (its token, pid and host), read without taking it; null if nobody. */
export async function whoHoldsRedis(key: string, options?: Pick<RedisLockOptions, 'connection' | 'signal'>): Promise<Holder | null> {
  const name = parseKey(key);
  const o = optionsObject(options);
  const { signal } = parseWait({ ...o, wait: false });
  throwIfAborted(signal, {});
  const connection = await Connection.open(parseConnection(o.connection), Math.floor(DEFAULT_TTL_MS / 3), signal);
  try {
    const value = await connection.call('GET', redisKeys(name)[0]);
    return typeof value === 'string' ? leaseHolder(value) : null;
  } finally {
    await connection.end();
  }
}

export { RedisLock, redisKeys };
export { SolelyError, LockHeldError, LockTimeoutError, LockLostError, AbortError, isSolelyError, type Holder, type SolelyErrorCode } from '../errors';
