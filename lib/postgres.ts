// PostgreSQL session advisory locks: exclusion across machines, with fencing tokens. A lock is a
// session of its own (never a pooled connection: the lock would pass to the pool's next user),
// held until release() or until the session ends, whatever ended it. `pg` is an optional peer
// dependency, loaded at the first call, so that this module loads without it.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { AbortError, LockHeldError, LockTimeoutError, SolelyError, errnoOf, fromErrno, invalidArgument, invalidTarget, type Holder } from './errors';
import { optionsObject, parseInteger, parseWait, type Wait, type WaitOptions } from './options';
import { whenAborted } from './wait';

/** What `pg.Client` takes: a connection string, or pg's ClientConfig (host, port, user, ssl...). */
export type PostgresConnection = string | { [option: string]: unknown };

export interface PostgresLockOptions extends WaitOptions {
  /** Where to connect; by default pg's defaults and the PGHOST, PGPORT, PGUSER... variables. */
  connection?: PostgresConnection;
  /** ms between keepalive queries (default 5000); a query unanswered by the next one loses the lock. 0: none. */
  keepaliveInterval?: number;
  /** The table of fencing counters (default 'solely_fencing', created on first use); false: no tokens. */
  fencingTable?: string | false;
}

export type TryLockPostgresOptions = Omit<PostgresLockOptions, 'wait'>;

// ---- pg, typed for what we use (the package is untyped, and a peer that may be absent) ----

interface PgQueryResult<R> {
  rows: R[];
}
interface PgClient {
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

let pg: Pg | undefined;

function loadPg(): Pg {
  if (pg === undefined) {
    try {
      pg = module.require('pg') as Pg;
    } catch (error) {
      throw new SolelyError('MODULE_NOT_FOUND', 'solely/postgres needs the pg package: npm install pg', { cause: error });
    }
  }
  return pg;
}

// ---- the key ----

/**
 * The advisory key of a lock name: the first 8 bytes of SHA-256 of its UTF-8 bytes, read as a
 * big-endian signed 64-bit integer. Stable across versions and languages; in SQL:
 * ('x' || left(encode(sha256(convert_to(name, 'UTF8')), 'hex'), 16))::bit(64)::bigint
 */
export function advisoryKey(name: string): bigint {
  if (typeof name !== 'string') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'key', 'of type string', name);
  if (name === '') throw invalidTarget('EINVAL', 'an empty lock key', {});
  // No SQL client can send a NUL, and a lone surrogate would hash as U+FFFD: another key's lock.
  if (name.includes('\0')) throw invalidTarget('EINVAL', 'a lock key cannot contain a NUL byte', {});
  if (!name.isWellFormed()) throw invalidTarget('EINVAL', 'a lock key must be well-formed Unicode', {});
  return createHash('sha256').update(name, 'utf8').digest().readBigInt64BE(0);
}

/** pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits). */
function lockIds(key: bigint): [classid: string, objid: string] {
  const unsigned = BigInt.asUintN(64, key);
  return [String(unsigned >> 32n), String(unsigned & 0xffffffffn)];
}

// ---- options ----

const DEFAULT_KEEPALIVE_MS = 5000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** NAMEDATALEN - 1: Postgres cuts application_name there. */
const MAX_APPLICATION_NAME = 63;
/** After a lost lock, how long the server may keep the session: probes start after this many
 * keepalive intervals of silence; with 3 probes the server ends it after 4 intervals. */
const SERVER_PROBES = 3;
/** The server's own clock: an idle session ends after this many keepalive intervals (the same 4). */
const SERVER_IDLE_INTERVALS = SERVER_PROBES + 1;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;
/** The protocol's CancelRequest code, 1234 << 16 | 5678. */
const CANCEL_REQUEST_CODE = 80877102;

interface Settings {
  config: Record<string, unknown>;
  keepaliveInterval: number;
  fencingTable: string | false;
}

/** "solely <host> <pid>" within Postgres's 63 bytes: the host is cut, never the pid. */
function applicationName(): string {
  const suffix = ` ${process.pid}`;
  const room = MAX_APPLICATION_NAME - 'solely '.length - suffix.length;
  const host = Buffer.from(hostname(), 'utf8').subarray(0, room).toString('utf8').replace(/\uFFFD$/, '');
  return `solely ${host}${suffix}`;
}

function parseSettings(o: Partial<PostgresLockOptions>): Settings {
  const keepaliveInterval = parseInteger('options.keepaliveInterval', o.keepaliveInterval, 0, MAX_TIMER_MS, DEFAULT_KEEPALIVE_MS);
  const { fencingTable = 'solely_fencing', connection } = o;
  if (fencingTable !== false && (typeof fencingTable !== 'string' || !IDENTIFIER.test(fencingTable))) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.fencingTable', 'false or a table name ([schema.]identifier)', fencingTable);
  }
  let base: Record<string, unknown>;
  if (connection === undefined) base = {};
  else if (typeof connection === 'string') base = { connectionString: connection };
  else if (typeof connection === 'object' && connection !== null) base = { ...connection };
  else throw invalidArgument('ERR_INVALID_ARG_TYPE', 'options.connection', 'a string or a pg client config object', connection);
  const config: Record<string, unknown> = {
    application_name: applicationName(),
    connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS,
    ...base,
    keepAlive: true,
    keepAliveInitialDelayMillis: keepaliveInterval,
  };
  return { config, keepaliveInterval, fencingTable };
}

/**
 * The session settings by which the server ends a holder gone silent, freeing its lock, after about
 * 4 keepalive intervals: TCP keepalives when the client's host vanished, and idle_session_timeout
 * when a proxy or load balancer between them answers those probes for it (the keepalive queries
 * keep a live holder's session from being idle that long). None without keepalive queries.
 */
function silenceSettings(keepaliveInterval: number): Record<string, string> {
  if (keepaliveInterval === 0) return {};
  const seconds = String(Math.max(1, Math.ceil(keepaliveInterval / 1000)));
  return {
    tcp_keepalives_idle: seconds,
    tcp_keepalives_interval: seconds,
    tcp_keepalives_count: String(SERVER_PROBES),
    idle_session_timeout: String(Math.min(MAX_TIMER_MS, keepaliveInterval * SERVER_IDLE_INTERVALS)),
  };
}

/**
 * SQL that applies the settings (a JSON object, the query's parameter $n) for the session and
 * counts them; a setting the server does not have (idle_session_timeout before 14) is skipped.
 */
function setSettings(n: number): string {
  return `(SELECT count(set_config(s.key, s.value, false)) FROM json_each_text($${n}::json) s JOIN pg_settings p ON p.name = s.key)`;
}

// ---- errors ----

/** The SQLSTATE of an error the server sent, or undefined. */
function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * pg's errors as ours: a socket's system error keeps its errno (ECONNREFUSED, ENOTFOUND...), an
 * error from the server is EPOSTGRES with the server's message (its SQLSTATE is cause.code), and
 * pg's own "terminated" and "timeout expired" become ECONNRESET and ETIMEDOUT.
 */
function fromPgError(error: unknown, address: string, connecting: boolean): SolelyError {
  if (error instanceof SolelyError) return error;
  const e = error as { errno?: unknown; syscall?: unknown; message?: unknown } | undefined;
  if (typeof e?.errno === 'number' && typeof e.syscall === 'string') return fromErrno(e.errno, e.syscall, { address }, error);
  const state = sqlState(error);
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (state !== undefined) return new SolelyError('EPOSTGRES', `postgres ${address}: ${message} (SQLSTATE ${state})`, { address, cause: error });
  if (connecting && message === 'timeout expired') return fromErrno(errnoOf('ETIMEDOUT'), 'connect', { address }, error);
  return fromErrno(errnoOf('ECONNRESET'), connecting ? 'connect' : 'read', { address }, error);
}

// ---- the session ----

interface HolderRow {
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  client_port: number | null;
  backend_start: Date | null;
}

const HOLDER_QUERY = `SELECT l.pid, a.application_name, host(a.client_addr) AS client_addr, a.client_port, a.backend_start
  FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = $1::oid AND l.objid = $2::oid
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  LIMIT 1`;

/** One dedicated connection: the session that holds (or waits for) one lock. */
class Session {
  readonly client: PgClient;
  readonly address: string;
  readonly #config: Record<string, unknown>;
  #cancelling: Promise<void> | undefined;
  #ended: Promise<void> | undefined;
  /** Called when the connection breaks after connect; set by the lock that owns the session. */
  onBroken: (error: Error) => void = () => {};

  private constructor(client: PgClient, config: Record<string, unknown>) {
    this.client = client;
    this.#config = config;
    this.address = client.host.startsWith('/') ? `${client.host}/.s.PGSQL.${client.port}` : `${client.host}:${client.port}`;
    // Without an 'error' listener pg would throw; the failed query reports the error anyway.
    client.on('error', (error) => this.onBroken(error));
    client.on('end', () => this.onBroken(new Error('Connection terminated')));
  }

  /** Connects; an abort destroys the socket, whatever stage the connection is at. */
  static async open(config: Record<string, unknown>, signal: AbortSignal | undefined): Promise<Session> {
    const session = new Session(new (loadPg().Client)(config), config);
    const stopWatchingAbort = whenAborted(signal, () => session.destroy());
    try {
      await session.client.connect();
    } catch (error) {
      session.destroy();
      throw signal?.aborted ? new AbortError(signal.reason, { address: session.address }) : fromPgError(error, session.address, true);
    } finally {
      stopWatchingAbort();
    }
    return session;
  }

  async query<R>(text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.client.query<R>(text, values)).rows;
    } catch (error) {
      throw fromPgError(error, this.address, false);
    }
  }

  /** The session holding key in this database, from pg_locks and pg_stat_activity. */
  async holder(key: bigint): Promise<Holder | undefined> {
    const [row] = await this.query<HolderRow>(HOLDER_QUERY, lockIds(key));
    if (row === undefined) return undefined;
    const holder: Holder = { pid: row.pid };
    if (row.application_name !== null && row.application_name !== '') holder.command = row.application_name;
    if (row.client_addr !== null) holder.host = row.client_addr;
    else if (row.client_port === -1) holder.host = 'local'; // a Unix socket
    if (row.backend_start !== null) holder.since = row.backend_start;
    return holder;
  }

  /**
   * pg_advisory_lock until granted; a timeout or an abort cancels the wait (see #cancel), so that
   * no waiting session stays behind on the server. patience: ms to wait for a cancel to take effect.
   */
  async blockingLock(key: bigint, wait: Wait, name: string, patience: number): Promise<void> {
    const { timeout, signal } = wait;
    // Should the cancel fail, the socket is closed: with this the server notices that during the
    // wait (PostgreSQL >= 14, on servers whose kernel can tell; elsewhere it refuses it: ignored).
    await this.query(`SELECT ${setSettings(1)}`, [JSON.stringify({ client_connection_check_interval: String(patience) })]).catch((error: unknown) => {
      if (sqlState((error as SolelyError).cause) === undefined) throw error;
    });
    // Before the query: a cancel that comes before the backend reads it is ignored.
    if (signal?.aborted) throw new AbortError(signal.reason, { address: this.address });
    let stopped: SolelyError | undefined;
    const waiting = this.query('SELECT pg_advisory_lock($1::bigint)', [String(key)]);
    const stop = (error: SolelyError): void => {
      if (stopped !== undefined) return;
      stopped = error;
      this.#cancelling = this.#cancel(waiting, patience);
    };
    const onAbort = (): void => stop(new AbortError(signal?.reason, { address: this.address }));
    const deadline =
      timeout === Infinity
        ? undefined
        : setTimeout(() => stop(new LockTimeoutError(`timed out after ${timeout} ms waiting for the postgres advisory lock ${name}`, { address: this.address })), timeout);
    const stopWatchingAbort = whenAborted(signal, onAbort);
    try {
      await waiting;
    } catch (error) {
      if (stopped === undefined && sqlState((error as SolelyError).cause) === '55P03') {
        throw new LockTimeoutError(`the server's lock_timeout ran out waiting for the postgres advisory lock ${name}`, { address: this.address, cause: error });
      }
      throw stopped ?? error;
    } finally {
      clearTimeout(deadline);
      stopWatchingAbort();
    }
    // Granted as the wait was cancelled: too late; ending the session frees it.
    if (stopped !== undefined) throw stopped;
  }

  /**
   * Ends the wait: a CancelRequest, else closing the socket. A cancel the backend ignored (it
   * came before the backend read the query) or that did not arrive also ends in closing the socket.
   */
  async #cancel(waiting: Promise<unknown>, patience: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const ended = (await this.#cancelRequest(patience)) && (await Promise.race([
      waiting.then(() => true, () => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, patience, false))),
    ]));
    clearTimeout(timer);
    if (!ended) this.destroy();
  }

  /**
   * The protocol's CancelRequest on a connection of its own, which never becomes a session: unlike
   * pg_cancel_backend it needs no free connection, so it works with the role or the server at its
   * connection limit. Sent in clear even if the session uses TLS, as the server accepts. Resolves
   * with whether the server took it: it closes the connection once it has signalled the backend.
   */
  #cancelRequest(patience: number): Promise<boolean> {
    const { processID, secretKey } = this.client;
    // A custom stream (a cloud connector...) has no address a cancel could be sent to.
    if (processID === null || secretKey === null || this.#config.stream !== undefined) return Promise.resolve(false);
    const request = Buffer.alloc(16);
    request.writeInt32BE(16, 0);
    request.writeInt32BE(CANCEL_REQUEST_CODE, 4);
    request.writeInt32BE(processID, 8);
    request.writeInt32BE(secretKey, 12);
    return new Promise((resolve) => {
      let tookTooLong = false;
      const socket = this.client.host.startsWith('/') ? connect(this.address) : connect(this.client.port, this.client.host);
      socket.setTimeout(patience, () => {
        tookTooLong = true;
        socket.destroy();
      });
      socket.on('error', () => {}); // 'close' reports it
      socket.on('close', (hadError) => resolve(!hadError && !tookTooLong));
      socket.end(request);
    });
  }

  /** The next fencing token of key: the counter row's increment, created on first use. */
  async fence(table: string, key: bigint): Promise<bigint> {
    const upsert = `INSERT INTO ${table} AS f (key, token) VALUES ($1::bigint, 1)
      ON CONFLICT (key) DO UPDATE SET token = f.token + 1 RETURNING token`;
    let rows: { token: string }[];
    try {
      rows = await this.query<{ token: string }>(upsert, [String(key)]);
    } catch (error) {
      if (sqlState((error as SolelyError).cause) !== '42P01') throw error; // not "no such table"
      try {
        await this.query(`CREATE TABLE IF NOT EXISTS ${table} (key bigint PRIMARY KEY, token bigint NOT NULL)`, []);
      } catch (created) {
        // Another session created it at the same moment.
        if (!['23505', '42P07'].includes(sqlState((created as SolelyError).cause) ?? '')) throw created;
      }
      rows = await this.query<{ token: string }>(upsert, [String(key)]);
    }
    return BigInt(rows[0].token);
  }

  /** Keeps (or stops keeping) the process alive for this socket. */
  ref(on: boolean): void {
    const stream = this.client.connection.stream;
    if (on) stream.ref?.();
    else stream.unref?.();
  }

  destroy(): void {
    this.client.connection.stream.destroy();
  }

  /** Ends the session (and any cancel connection); never rejects. */
  end(): Promise<void> {
    this.onBroken = () => {};
    this.#ended ??= (async () => {
      await this.#cancelling;
      await this.client.end().catch(() => {});
    })();
    return this.#ended;
  }
}

// ---- the lock ----

/** A held PostgreSQL advisory lock. Emits 'lost' (error) once if the session ends under it. */
export class PostgresLock extends EventEmitter implements AsyncDisposable {
  readonly kind = 'postgres';
  /** The lock's name, as given. */
  readonly target: string;
  /** The signed 64-bit advisory key: advisoryKey(target). */
  readonly advisoryKey: bigint;
  /** Greater than every token given before for this key (in this database); null if fencingTable is false. */
  readonly fencingToken: bigint | null;
  readonly #session: Session;
  readonly #controller = new AbortController();
  #keepalive: NodeJS.Timeout | undefined;
  #probe: Promise<unknown> | undefined;
  #releasing: Promise<void> | undefined;
  #lost = false;
  readonly #interval: number;

  /** @internal The lock owns session from here on. */
  constructor(target: string, key: bigint, fencingToken: bigint | null, session: Session, keepaliveInterval: number) {
    super();
    this.target = target;
    this.advisoryKey = key;
    this.fencingToken = fencingToken;
    this.#session = session;
    session.onBroken = (error) => this.#lose(error);
    this.#interval = keepaliveInterval;
    if (keepaliveInterval > 0) {
      this.#keepalive = setInterval(() => this.#tick(), keepaliveInterval);
      this.#keepalive.unref();
    }
    // Like a kernel lock, a held lock does not keep the process alive on its own.
    session.ref(false);
  }

  /** True once the session was lost: another process may hold the lock now. */
  get lost(): boolean {
    return this.#lost;
  }

  get released(): boolean {
    return this.#releasing !== undefined;
  }

  /** Aborts when the lock is lost (reason: a SolelyError with code ELOCKLOST). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The previous keepalive query still unanswered a whole interval later: the server is gone. */
  #tick(): void {
    if (this.#probe !== undefined) {
      this.#lose(new Error(`no answer to a keepalive query within ${this.#interval} ms`));
      return;
    }
    this.#probe = this.#session.query('SELECT 1', []).then(
      () => (this.#probe = undefined),
      (error: Error) => this.#lose(error),
    );
  }

  #lose(cause: Error): void {
    if (this.#lost || this.#releasing !== undefined) return;
    this.#lost = true;
    clearInterval(this.#keepalive);
    this.#session.destroy();
    const error = new SolelyError('ELOCKLOST', `lost the postgres advisory lock ${this.target}: ${cause.message}`, { address: this.#session.address, cause });
    this.#controller.abort(error);
    this.emit('lost', error);
  }

  /** Unlocks and closes the session; idempotent, never rejects (a broken or silent session is just closed). */
  release(): Promise<void> {
    this.#releasing ??= (async () => {
      clearInterval(this.#keepalive);
      if (!this.#lost) {
        this.#session.ref(true);
        // Bounded: a silent server must not hang release(); end() then drops the socket.
        let timer: NodeJS.Timeout | undefined;
        const unlock = this.#session.query('SELECT pg_advisory_unlock($1::bigint)', [String(this.advisoryKey)]).catch(() => {});
        await Promise.race([unlock, new Promise((resolve) => (timer = setTimeout(resolve, this.#interval || DEFAULT_KEEPALIVE_MS)))]);
        clearTimeout(timer);
      }
      await this.#session.end();
    })();
    return this.#releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

// ---- acquiring ----

function heldError(name: string, address: string, holder: Holder | undefined): LockHeldError {
  let by = '';
  if (holder?.pid !== undefined) {
    const where = holder.host === undefined ? '' : ` from ${holder.host}`;
    const since = holder.since === undefined ? '' : ` since ${holder.since.toISOString()}`;
    by = ` (backend pid ${holder.pid}${where}${since}${holder.command === undefined ? '' : `: ${holder.command}`})`;
  }
  const fields = holder === undefined ? { address } : { address, holder };
  return new LockHeldError(`the postgres advisory lock ${name} is held${by}`, fields);
}

async function acquire(name: string, options: PostgresLockOptions | undefined, orNull: boolean): Promise<PostgresLock | null> {
  const key = advisoryKey(name);
  const o = optionsObject(options);
  const wait = parseWait(orNull ? { ...o, wait: false } : o);
  const { config, keepaliveInterval, fencingTable } = parseSettings(o);
  if (wait.signal?.aborted) throw new AbortError(wait.signal.reason);
  const session = await Session.open(config, wait.signal);
  try {
    // The server ends a silent client's session (and frees its lock) after about 4 keepalive
    // intervals; the client has given the lock up as lost after 2.
    const [first] = await session.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock($1::bigint) AS locked, ${setSettings(2)}`, [
      String(key),
      JSON.stringify(silenceSettings(keepaliveInterval)),
    ]);
    if (!first.locked) {
      if (wait.timeout === 0) {
        const holder = await session.holder(key);
        await session.end();
        if (orNull) return null;
        throw heldError(name, session.address, holder);
      }
      await session.blockingLock(key, wait, name, keepaliveInterval || DEFAULT_KEEPALIVE_MS);
    }
    const token = fencingTable === false ? null : await session.fence(fencingTable, key);
    return new PostgresLock(name, key, token, session, keepaliveInterval); // the lock owns the session now
  } catch (error) {
    await session.end();
    throw error;
  }
}

/**
 * Takes the advisory lock `name` on a connection of its own. Rejects with LockHeldError when held
 * (after waiting, if options.wait), LockTimeoutError, AbortError, or a SolelyError for the connection.
 */
export async function lockPostgres(name: string, options?: PostgresLockOptions): Promise<PostgresLock> {
  return (await acquire(name, options, false)) as PostgresLock;
}

/** Like lockPostgres without waiting, but resolves with null when the lock is held. */
export function tryLockPostgres(name: string, options?: TryLockPostgresOptions): Promise<PostgresLock | null> {
  return acquire(name, options, true);
}

/** Who holds the advisory lock `name`, read from pg_locks without taking it; null if nobody. */
export async function whoHoldsPostgres(name: string, options?: Pick<PostgresLockOptions, 'connection' | 'signal'>): Promise<Holder | null> {
  const key = advisoryKey(name);
  const o = optionsObject(options);
  const { signal } = parseWait({ ...o, wait: false });
  const session = await Session.open(parseSettings({ ...o, keepaliveInterval: 0 }).config, signal);
  try {
    return (await session.holder(key)) ?? null;
  } finally {
    await session.end();
  }
}

export { SolelyError, LockHeldError, LockTimeoutError, AbortError, type Holder } from './errors';
