// The part of `ioredis` that solely/redis uses, typed here: an optional peer that may be absent,
// so it is loaded at the first call and no declaration of ours refers to its types. Its errors
// become ours here too.
import { SolelyError } from '../errors';
import { errnoOf, fromErrno } from '../internal/errno';
import { optionalPeer } from '../internal/lazy-modules';

export type RedisArgument = string | number;

export interface RedisClient {
  readonly options: { readonly host: string; readonly port: number; readonly path?: string | null; readonly db?: number };
  /** The socket, once connecting; ioredis has no ref/unref of its own. */
  readonly stream?: { ref?(): void; unref?(): void };
  connect(): Promise<void>;
  call(command: string, ...args: RedisArgument[]): Promise<unknown>;
  subscribe(...channels: string[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'message', listener: (channel: string, message: string) => void): this;
}

type IoRedis = new (...args: [url: string, options: Record<string, unknown>] | [options: Record<string, unknown>]) => RedisClient;

export const loadIoRedis = optionalPeer<IoRedis>('ioredis', 'solely/redis needs the ioredis package: npm install ioredis');

/**
 * ioredis's errors as ours: a socket's system error keeps its errno (ECONNREFUSED, ENOTFOUND...);
 * an error reply from the server is ERR_SOLELY_REDIS with the server's message; bytes that are not
 * Redis's protocol are EPROTO (not a Redis server); a closed connection is ECONNRESET.
 */
export function fromRedisError(error: unknown, address: string, syscall: 'connect' | 'read'): SolelyError {
  if (error instanceof SolelyError) return error;
  const e = error as { name?: unknown; errno?: unknown; syscall?: unknown; message?: unknown } | undefined;
  if (typeof e?.errno === 'number' && typeof e.syscall === 'string') return fromErrno(e.errno, e.syscall, { address }, error);
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (e?.name === 'ReplyError') return new SolelyError('ERR_SOLELY_REDIS', `redis ${address}: ${message}`, { address, cause: error });
  if (/RESP|[Pp]rotocol error/.test(message)) return fromErrno(errnoOf('EPROTO'), syscall, { address }, error);
  return fromErrno(errnoOf('ECONNRESET'), syscall, { address }, error);
}
