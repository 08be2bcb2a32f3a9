// A held advisory lock: its session kept alive by keepalive queries, lost when the session ends.
import { EventEmitter } from 'node:events';
import { LockLostError } from '../errors';
import { settlesWithin } from '../internal/wait';
import type { Session } from './session';

export const DEFAULT_KEEPALIVE_MS = 5000;

/**
 * A held PostgreSQL advisory lock. Emits 'lost' (a LockLostError) once if the session ends under
 * it, and aborts `signal` then; `fencingToken` grows with every grant of the lock.
 * @example
 * import { lockPostgres } from 'solely/postgres';
 * const lock = await lockPostgres('nightly-report');
 * lock.on('lost', () => process.exit(69));
 * await lock.release();
 */
export class PostgresLock extends EventEmitter implements AsyncDisposable {
  readonly kind = 'postgres';
  /** The lock's name, as given. */
  readonly target: string;
  /** The signed 64-bit advisory key: advisoryKey(target), or with slots that of the slot's name. */
  readonly advisoryKey: bigint;
  /** Greater than every token given before for this key (in this database); null if fencingTable is false. */
  readonly fencingToken: bigint | null;
  /** Whether this is a shared lock (pg_advisory_lock_shared). */
  readonly shared: boolean;
  /** Which of the `slots` locks this is (0 without `slots`); advisoryKey is that slot's key. */
  readonly slot: number;
  readonly #session: Session;
  readonly #controller = new AbortController();
  #keepalive: NodeJS.Timeout | undefined;
  #probe: Promise<unknown> | undefined;
  #releasing: Promise<void> | undefined;
  #lost = false;
  readonly #interval: number;

  /** @internal The lock owns session from here on. */
  constructor(target: string, key: bigint, fencingToken: bigint | null, session: Session, keepaliveInterval: number, shared = false, slot = 0) {
    super();
    this.target = target;
    this.advisoryKey = key;
    this.fencingToken = fencingToken;
    this.shared = shared;
    this.slot = slot;
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

  /** Aborts when the lock is lost (reason: a LockLostError). */
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
    const error = new LockLostError(`lost the postgres advisory lock ${this.target}: ${cause.message}`, { address: this.#session.address, cause });
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
        const unlock = this.#session.query(`SELECT ${this.shared ? 'pg_advisory_unlock_shared' : 'pg_advisory_unlock'}($1::bigint)`, [String(this.advisoryKey)]);
        await settlesWithin(unlock, this.#interval || DEFAULT_KEEPALIVE_MS);
      }
      await this.#session.end();
    })();
    return this.#releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
