// What solely/redis keeps in Redis, and the three scripts that change it: each one atomic on the
// server, so that no other client's command runs between its check and its action. docs/redis.md
// shows them for redis-cli; change nothing here without changing it there.
import { createHash, randomBytes } from 'node:crypto';
import type { Holder } from '../errors';

/** A Lua script and its SHA-1, for EVALSHA. */
export interface Script {
  readonly lua: string;
  readonly sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * The keys of the lock `key`: the lease, and the counter of its fencing tokens, which never
 * expires. The braces put both in one hash slot. The lease's name is also the channel its release
 * is published on.
 * @throws never: any string names keys (lockRedis checks the key).
 * @example
 * import { redisKeys } from 'solely/redis';
 * console.log(redisKeys('job')); // ['solely:{job}', 'solely:{job}:token']
 */
export function redisKeys(key: string): [lease: string, counter: string] {
  return [`solely:{${key}}`, `solely:{${key}}:token`];
}

/**
 * KEYS: lease, counter; ARGV: ttl ms, "<nonce> <pid> <host>". Free: the next token, and the lease
 * "<token> <nonce> <pid> <host>" set for ttl ms; returns {1, token}. Held: {0, the holder's value, its ms left}.
 */
export const ACQUIRE = script(`local held = redis.call('GET', KEYS[1])
if held then return {0, held, redis.call('PTTL', KEYS[1])} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[2], 'NX', 'PX', ARGV[1])
return {1, token}`);

/** KEYS: lease; ARGV: the lease's value, ttl ms. Extends the lease if it is still this one; 1 if it was. */
export const RENEW = script(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`);

/** KEYS: lease; ARGV: the lease's value. Deletes the lease if it is still this one, and says so to waiters; 1 if it was. */
export const RELEASE = script(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[1], 'released')
  return 1
end
return 0`);

/**
 * What this lock writes after its token: a random nonce, then "<pid> <host>". The nonce tells
 * apart two locks of one process (or of two hosts named alike) that the same token would
 * otherwise make indistinguishable, as after the counter was lost (FLUSHALL, a restart without
 * persistence).
 */
export function owner(pid: number, host: string): string {
  return `${randomBytes(8).toString('hex')} ${pid} ${host}`;
}

/**
 * The holder a lease's value names: "<token> <nonce> <pid> <host>", or "<token> <pid> <host>"
 * as written before nonces (a pid is never 16 digits long); {} for a value solely did not write.
 */
export function leaseHolder(value: string): Holder {
  const match = /^(\d+) (?:[0-9a-f]{16} )?(\d+) (.*)$/s.exec(value);
  if (match === null) return {};
  return { fencingToken: BigInt(match[1]), pid: Number(match[2]), hostname: match[3] };
}
