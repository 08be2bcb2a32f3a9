// PostgreSQL session advisory locks: exclusion across machines, with fencing tokens. A lock is a
// session of its own (never a pooled connection: the lock would pass to the pool's next user),
// held until release() or until the session ends, whatever ended it. `pg` is an optional peer
// dependency, loaded at the first call, so that this module loads without it.
import { createHash } from 'node:crypto';
import { type Holder, type LockHeldError } from '../errors';
import { invalidArgument } from '../internal/errno';
import { heldBy } from '../internal/holder-message';
import { MAX_TIMER_MS, optionKeys, optionsObject, parseInteger, parseKey, parseWait, type WaitOptions } from '../internal/options';
import { parseSlots, slotName, perSlot } from '../internal/slots';
import { throwIfAborted } from '../internal/wait';
import { DEFAULT_KEEPALIVE_MS, PostgresLock } from './lock';
import type { PgClientConfig } from './pg';
import { Session, applicationName, setSettings } from './session';
import { waitForAnySlot } from './slots';

/**
 * What `pg.Client` takes: a connection string, or pg's ClientConfig (host, port, user, ssl...).
 */
export type PostgresConnection = string | PgClientConfig;

/**
 * Options of lockPostgres (and, without `wait`, tryLockPostgres).
 */
export interface PostgresLockOptions extends WaitOptions {
  /** Where to connect; by default pg's defaults and the PGHOST, PGPORT, PGUSER... variables. */
  connection?: PostgresConnection;
  /** ms between keepalive queries (default 5000); a query unanswered by the next one loses the lock. 0: none. */
  keepaliveInterval?: number;
  /** The table of fencing counters (default 'solely_fencing', created on first use); false: no tokens. */
  fencingTable?: string | false;
  /** A shared lock (pg_advisory_lock_shared): any number of shared holders, or one exclusive. Not with `slots`. */
  shared?: boolean;
  /** At most `slots` holders at once (1 to 1024, default 1): slot i is the lock named `${name}.${i}`
   *  (slot 0: name itself). A waiter keeps one session per slot while it waits. */
  slots?: number;
}

/**
 * Options of tryLockPostgres: lockPostgres's, without `wait`.
 */
export type TryLockPostgresOptions = Omit<PostgresLockOptions, 'wait'>;

const TRY_KEYS = optionKeys<TryLockPostgresOptions>({ connection: true, keepaliveInterval: true, fencingTable: true, signal: true, shared: true, slots: true });
const LOCK_KEYS = optionKeys<PostgresLockOptions>({ wait: true, signal: true, connection: true, keepaliveInterval: true, fencingTable: true, shared: true, slots: true });
/**
 * Options of whoHoldsPostgres: `slots` asks for the holder of each slot.
 */
export type WhoHoldsPostgresOptions = Pick<PostgresLockOptions, 'connection' | 'signal' | 'slots'>;
const WHO_HOLDS_KEYS = optionKeys<WhoHoldsPostgresOptions>({ connection: true, signal: true, slots: true });
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** After a lost lock, how long the server may keep the session: probes start after this many
 * keepalive intervals of silence; with 3 probes the server ends it after 4 intervals. */
const SERVER_PROBES = 3;
/** The server's own clock: an idle session ends after this many keepalive intervals (the same 4). */
const SERVER_IDLE_INTERVALS = SERVER_PROBES + 1;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

/**
 * The advisory key of a lock name: the first 8 bytes of SHA-256 of its UTF-8 bytes, read as a
 * big-endian signed 64-bit integer. Stable across versions and languages; in SQL:
 * ('x' || left(encode(sha256(convert_to(name, 'UTF8')), 'hex'), 16))::bit(64)::bigint
 * @throws {InvalidTargetError} `EINVAL` for an empty name, a NUL, or a lone surrogate.
 * @throws {SolelyError} `ERR_INVALID_ARG_TYPE` for a name that is not a string.
 * @example
 * const { advisoryKey } = require('solely/postgres');
 * advisoryKey('nightly-report'); // the bigint pg_locks shows as classid << 32 | objid
 */
export function advisoryKey(name: string): bigint {
  return createHash('sha256').update(parseKey(name), 'utf8').digest().readBigInt64BE(0);
}

/** The options that shape the connection and the held lock's keepalive. */
interface ConnectionSettings {
  config: Record<string, unknown>;
  keepaliveInterval: number;
  fencingTable: string | false;
}

function parseConnectionSettings(o: Partial<PostgresLockOptions>): ConnectionSettings {
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

/** Held (with slots: every slot): slot 0's holder, or each slot's, from the session's pg_locks. */
async function heldError(name: string, session: Session, keys: readonly bigint[]): Promise<LockHeldError> {
  if (keys.length === 1) return heldBy(`the postgres advisory lock ${name} is held`, { address: session.address }, await session.holder(keys[0]));
  const holders: Array<Holder | null> = [];
  for (const key of keys) holders.push((await session.holder(key)) ?? null); // one session: one query at a time
  return heldBy(`all ${keys.length} slots of the postgres advisory lock ${name} are held`, { address: session.address }, holders);
}

/** The advisory key of each slot of name: slot i is the lock named slotName(name, i). */
function slotKeys(name: string, slots: number): bigint[] {
  return perSlot(slots, (slot) => advisoryKey(slotName(name, slot)));
}

/** The first slot whose key session gets without waiting (slot 0 already tried), or -1. */
async function tryOtherSlots(session: Session, keys: readonly bigint[], shared: boolean): Promise<number> {
  for (let slot = 1; slot < keys.length; slot++) {
    const [row] = await session.query<{ locked: boolean }>(`SELECT ${shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock'}($1::bigint) AS locked`, [String(keys[slot])]);
    if (row.locked) return slot;
  }
  return -1;
}

async function acquire(name: string, options: PostgresLockOptions | undefined, orNull: boolean): Promise<PostgresLock | null> {
  advisoryKey(name);
  const o = optionsObject(options, orNull ? TRY_KEYS : LOCK_KEYS);
  const { slots, shared } = parseSlots(o);
  const keys = slotKeys(name, slots);
  const wait = parseWait(orNull ? { ...o, wait: false } : o);
  const { config, keepaliveInterval, fencingTable } = parseConnectionSettings(o);
  const patience = keepaliveInterval || DEFAULT_KEEPALIVE_MS;
  // The server ends a silent client's session (and frees its lock) after about 4 keepalive
  // intervals; the client has given the lock up as lost after 2.
  const settings = JSON.stringify(silenceSettings(keepaliveInterval));
  throwIfAborted(wait.signal, {});
  let session = await Session.open(config, wait.signal);
  try {
    const tryLock = shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
    const [first] = await session.query<{ locked: boolean }>(`SELECT ${tryLock}($1::bigint) AS locked, ${setSettings(2)}`, [String(keys[0]), settings]);
    let slot = first.locked ? 0 : await tryOtherSlots(session, keys, shared);
    if (slot < 0) {
      if (wait.timeout === 0) {
        const held = orNull ? null : await heldError(name, session, keys);
        await session.end();
        if (held === null) return null;
        throw held;
      }
      if (slots === 1) {
        await session.blockingLock(keys[0], wait, name, patience, shared);
        slot = 0;
      } else {
        const open = async (signal: AbortSignal): Promise<Session> => {
          const other = await Session.open(config, signal);
          await other.query(`SELECT ${setSettings(1)}`, [settings]).catch(async (error: unknown) => {
            await other.end();
            throw error;
          });
          return other;
        };
        const granted = await waitForAnySlot(session, open, keys, shared, wait, name, patience);
        if (granted.session !== session) await session.end();
        ({ session, slot } = granted);
      }
    }
    const token = fencingTable === false ? null : await session.fence(fencingTable, keys[slot]);
    return new PostgresLock(name, keys[slot], token, session, keepaliveInterval, shared, slot); // the lock owns the session now
  } catch (error) {
    await session.end();
    throw error;
  }
}

/**
 * Takes the PostgreSQL session advisory lock `name` on a connection of its own (never a pooled
 * one), with a fencing token from `fencingTable`. The lock lasts until release() or until the
 * session ends; a lost session emits 'lost' and aborts `lock.signal`.
 * @throws {LockHeldError} `ELOCKED` when held (after waiting, if options.wait), with the holding session as `holder`.
 * @throws {LockTimeoutError} `ETIMEDOUT` when `wait` ms passed; {@link AbortError} `ABORT_ERR` when `signal` aborted.
 * @throws {SolelyError} the connection's errno (`ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, `ECONNRESET`), `ERR_SOLELY_POSTGRES`
 * for an error the server sent, `MODULE_NOT_FOUND` without pg, `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @example
 * import { lockPostgres } from 'solely/postgres';
 * const lock = await lockPostgres('nightly-report', { connection: process.env.DATABASE_URL, wait: 60_000 });
 * try { await runReport({ fencingToken: lock.fencingToken, signal: lock.signal }); } finally { await lock.release(); }
 */
export async function lockPostgres(name: string, options?: PostgresLockOptions): Promise<PostgresLock> {
  return (await acquire(name, options, false)) as PostgresLock;
}

/**
 * Like lockPostgres without waiting, but resolves with null when the lock is held.
 * @throws {SolelyError} the connection's errno (`ECONNREFUSED`, `ENOTFOUND`...), `ERR_SOLELY_POSTGRES`, `MODULE_NOT_FOUND`
 * without pg, `ERR_INVALID_ARG_VALUE` for a bad or unknown option; {@link AbortError} `ABORT_ERR`.
 * @example
 * import { tryLockPostgres } from 'solely/postgres';
 * const lock = await tryLockPostgres('nightly-report', { connection: process.env.DATABASE_URL });
 * if (lock === null) process.exit(0);
 */
export function tryLockPostgres(name: string, options?: TryLockPostgresOptions): Promise<PostgresLock | null> {
  return acquire(name, options, true);
}

/**
 * Who holds the advisory lock `name`, read from pg_locks without taking it; null if nobody.
 * @throws {SolelyError} the connection's errno, `ERR_SOLELY_POSTGRES`, `MODULE_NOT_FOUND` without pg,
 * `ERR_INVALID_ARG_VALUE` for a bad or unknown option; {@link AbortError} `ABORT_ERR`.
 * @example
 * import { whoHoldsPostgres } from 'solely/postgres';
 * const holder = await whoHoldsPostgres('nightly-report', { connection: process.env.DATABASE_URL });
 */
export async function whoHoldsPostgres(name: string, options?: Omit<WhoHoldsPostgresOptions, 'slots'>): Promise<Holder | null>;
export async function whoHoldsPostgres(name: string, options: WhoHoldsPostgresOptions & { slots: number }): Promise<Array<Holder | null>>;
export async function whoHoldsPostgres(name: string, options?: WhoHoldsPostgresOptions): Promise<Holder | null | Array<Holder | null>>;
export async function whoHoldsPostgres(name: string, options?: WhoHoldsPostgresOptions): Promise<Holder | null | Array<Holder | null>> {
  advisoryKey(name);
  const o = optionsObject(options, WHO_HOLDS_KEYS);
  const keys = slotKeys(name, parseSlots(o).slots);
  const { signal } = parseWait({ ...o, wait: false });
  const session = await Session.open(parseConnectionSettings({ ...o, keepaliveInterval: 0 }).config, signal);
  try {
    const holders: Array<Holder | null> = [];
    for (const key of keys) holders.push((await session.holder(key)) ?? null);
    return o.slots === undefined ? holders[0] : holders;
  } finally {
    await session.end();
  }
}

export { PostgresLock };
export { SolelyError, LockHeldError, LockTimeoutError, LockLostError, AbortError, isSolelyError, type Holder, type SolelyErrorCode } from '../errors';
