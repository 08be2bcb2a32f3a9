// The part of `pg` (node-postgres) that solely/postgres uses, typed here: the package is untyped,
// and an optional peer that may be absent, so it is loaded at the first call and no declaration of
// ours refers to it. Its errors become ours here too.
import { SolelyError } from '../errors';
import { errnoOf, fromErrno } from '../internal/errno';
import { optionalPeer } from '../internal/lazy-modules';

/**
 * pg's ClientConfig (node-postgres 8, as @types/pg declares it), written out here so that a
 * consumer's types need neither pg nor @types/pg; a misspelt key is a compile error.
 */
export interface PgClientConfig {
  user?: string;
  database?: string;
  password?: string | (() => string | Promise<string>);
  port?: number;
  host?: string;
  connectionString?: string;
  keepAlive?: boolean;
  keepAliveInitialDelayMillis?: number;
  stream?: unknown;
  statement_timeout?: number | false;
  query_timeout?: number;
  lock_timeout?: number;
  idle_in_transaction_session_timeout?: number;
  application_name?: string;
  fallback_application_name?: string;
  connectionTimeoutMillis?: number;
  ssl?: boolean | import('node:tls').ConnectionOptions;
  types?: unknown;
  options?: string;
  client_encoding?: string;
  binary?: boolean;
}

interface PgQueryResult<R> {
  rows: R[];
}

export interface PgClient {
  readonly host: string;
  readonly port: number;
  readonly processID: number | null;
  readonly secretKey: number | null;
  readonly connection: { readonly stream: { destroy(): void; ref?(): void; unref?(): void } };
  connect(): Promise<void>;
  query<R>(text: string, values?: unknown[]): Promise<PgQueryResult<R>>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'end', listener: () => void): this;
}

interface Pg {
  Client: new (config: Record<string, unknown>) => PgClient;
}

export const loadPg = optionalPeer<Pg>('pg', 'solely/postgres needs the pg package: npm install pg');

/** The SQLSTATE of an error the server sent, or undefined. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * pg's errors as ours: a socket's system error keeps its errno (ECONNREFUSED, ENOTFOUND...), an
 * error from the server is ERR_SOLELY_POSTGRES with the server's message (its SQLSTATE is cause.code), and
 * pg's own "terminated" and "timeout expired" become ECONNRESET and ETIMEDOUT.
 */
export function fromPgError(error: unknown, address: string, connecting: boolean): SolelyError {
  if (error instanceof SolelyError) return error;
  const e = error as { errno?: unknown; syscall?: unknown; message?: unknown } | undefined;
  if (typeof e?.errno === 'number' && typeof e.syscall === 'string') return fromErrno(e.errno, e.syscall, { address }, error);
  const state = sqlState(error);
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (state !== undefined) return new SolelyError('ERR_SOLELY_POSTGRES', `postgres ${address}: ${message} (SQLSTATE ${state})`, { address, cause: error });
  if (connecting && message === 'timeout expired') return fromErrno(errnoOf('ETIMEDOUT'), 'connect', { address }, error);
  return fromErrno(errnoOf('ECONNRESET'), connecting ? 'connect' : 'read', { address }, error);
}
