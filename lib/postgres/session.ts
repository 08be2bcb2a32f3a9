// One dedicated connection to the server: the session that holds (or waits for) one lock, its
// queries, its blocking wait and the cancel that ends that wait.
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { AbortError, LockTimeoutError, type Holder, type SolelyError } from '../errors';
import type { Wait } from '../internal/options';
import { Deadline, settlesWithin, throwIfAborted, whenAborted } from '../internal/wait';
import { fromPgError, loadPg, sqlState, type PgClient } from './pg';

/** The protocol's CancelRequest code, 1234 << 16 | 5678. */
const CANCEL_REQUEST_CODE = 80877102;

/** NAMEDATALEN - 1: Postgres cuts application_name there. */
const MAX_APPLICATION_NAME = 63;
const SOLELY_APPLICATION = /^solely (.*) ([1-9]\d*)$/s;

/** "solely <host> <pid>" within Postgres's 63 bytes: the host is cut, never the pid. */
export function applicationName(): string {
  const suffix = ` ${process.pid}`;
  const room = MAX_APPLICATION_NAME - 'solely '.length - suffix.length;
  const host = Buffer.from(hostname(), 'utf8').subarray(0, room).toString('utf8').replace(/\uFFFD$/, '');
  return `solely ${host}${suffix}`;
}

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

/** pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits). */
function lockIds(key: bigint): [classid: string, objid: string] {
  const unsigned = BigInt.asUintN(64, key);
  return [String(unsigned >> 32n), String(unsigned & 0xffffffffn)];
}

/**
 * SQL that applies the settings (a JSON object, the query's parameter $n) for the session and
 * counts them; a setting the server does not have (idle_session_timeout before 14) is skipped.
 */
export function setSettings(n: number): string {
  return `(SELECT count(set_config(s.key, s.value, false)) FROM json_each_text($${n}::json) s JOIN pg_settings p ON p.name = s.key)`;
}

/** One dedicated connection: the session that holds (or waits for) one lock. */
export class Session {
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
    // The process holding the lock is the client: solely's application_name names its host and pid.
    const holder: Holder = {};
    const client = SOLELY_APPLICATION.exec(row.application_name ?? '');
    if (client !== null) {
      holder.pid = Number(client[2]);
      holder.hostname = client[1];
    }
    holder.backendPid = row.pid;
    if (row.application_name !== null && row.application_name !== '') holder.command = row.application_name;
    if (row.client_addr !== null) holder.host = row.client_addr;
    else if (row.client_port === -1) holder.host = 'local'; // a Unix socket
    if (row.backend_start !== null) holder.since = row.backend_start;
    return holder;
  }

  /**
   * pg_advisory_lock (pg_advisory_lock_shared if shared) until granted; a timeout or an abort
   * cancels the wait (see #cancel), so that no waiting session stays behind on the server.
   * patience: ms to wait for a cancel to take effect.
   */
  async blockingLock(key: bigint, wait: Wait, name: string, patience: number, shared = false): Promise<void> {
    // Should the cancel fail, the socket is closed: with this the server notices that during the
    // wait (PostgreSQL >= 14, on servers whose kernel can tell; elsewhere it refuses it: ignored).
    await this.query(`SELECT ${setSettings(1)}`, [JSON.stringify({ client_connection_check_interval: String(patience) })]).catch((error: unknown) => {
      if (sqlState((error as SolelyError).cause) === undefined) throw error;
    });
    // Before the query: a cancel that comes before the backend reads it is ignored.
    throwIfAborted(wait.signal, { address: this.address });
    let stopped: SolelyError | undefined;
    const waiting = this.query(`SELECT ${shared ? 'pg_advisory_lock_shared' : 'pg_advisory_lock'}($1::bigint)`, [String(key)]);
    const stopDeadline = new Deadline(wait, `the postgres advisory lock ${name}`, { address: this.address }).watch((error) => {
      stopped = error;
      this.#cancelling = this.#cancel(waiting, patience);
    });
    try {
      await waiting;
    } catch (error) {
      if (stopped === undefined && sqlState((error as SolelyError).cause) === '55P03') {
        throw new LockTimeoutError(`the server's lock_timeout ran out waiting for the postgres advisory lock ${name}`, { address: this.address, cause: error });
      }
      throw stopped ?? error;
    } finally {
      stopDeadline();
    }
    // Granted as the wait was cancelled: too late; ending the session frees it.
    if (stopped !== undefined) throw stopped;
  }

  /**
   * Ends the wait: a CancelRequest, else closing the socket. A cancel the backend ignored (it
   * came before the backend read the query) or that did not arrive also ends in closing the socket.
   */
  async #cancel(waiting: Promise<unknown>, patience: number): Promise<void> {
    const ended = (await this.#cancelRequest(patience)) && (await settlesWithin(waiting, patience));
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
