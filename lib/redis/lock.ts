// A held Redis lease: renewed every ttl/3 while held, and given up as lost before it can expire on
// the server, so that a holder cut off from the server stops before a successor can start.
import { EventEmitter } from 'node:events';
import { LockLostError } from '../errors';
import type { Connection } from './connection';
import { RELEASE, RENEW } from './scripts';

/**
 * A held Redis lock. Emits 'lost' (a LockLostError) once if the lease may have ended under it;
 * `fencingToken` is greater than every earlier holder's: pass it with every write.
 * @example
 * import { lockRedis } from 'solely/redis';
 * const lock = await lockRedis('nightly-report');
 * lock.on('lost', () => process.exit(69));
 */
export class RedisLock extends EventEmitter implements AsyncDisposable {
  readonly kind = 'redis';
  /** The lock's key, as given. */
  readonly target: string;
  /** Greater than every token given before for this key on this server (see docs/redis.md for persistence). */
  readonly fencingToken: bigint;
  readonly #connection: Connection;
  readonly #lease: string;
  readonly #value: string;
  readonly #ttl: number;
  readonly #controller = new AbortController();
  /** When (performance.now()) the last acquisition or renewal the server acknowledged was sent. */
  #confirmed: number;
  #renewal: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #releasing: Promise<void> | undefined;
  #lost = false;

  /** @internal The lock owns connection from here on; value is the lease's, sent at sentAt. */
  constructor(target: string, token: bigint, lease: string, value: string, connection: Connection, ttl: number, sentAt: number) {
    super();
    this.target = target;
    this.fencingToken = token;
    this.#lease = lease;
    this.#value = value;
    this.#connection = connection;
    this.#ttl = ttl;
    this.#confirmed = sentAt;
    connection.onBroken = (error) => this.#lose(error);
    // Like a kernel lock, a held lock does not keep the process alive on its own.
    connection.ref(false);
    this.#schedule();
  }

  /** True once the lock was lost: another process may hold it now. */
  get lost(): boolean {
    return this.#pastDeadline();
  }

  get released(): boolean {
    return this.#releasing !== undefined;
  }

  /** Aborts when the lock is lost (reason: a LockLostError). */
  get signal(): AbortSignal {
    this.#pastDeadline();
    return this.#controller.signal;
  }

  /**
   * The server keeps the lease at least ttl after the last acknowledged renewal was sent: it is
   * given up ttl/3 before that, a renewal unanswered for ttl/3. Checked when asked too, not only by
   * the timer: a process resumed after a pause (SIGSTOP, a blocked event loop) learns it first.
   */
  #pastDeadline(): boolean {
    if (!this.#lost && this.#releasing === undefined && performance.now() >= this.#confirmed + this.#ttl - this.#ttl / 3) {
      this.#lose(new Error(`no renewal of the lease acknowledged within ${Math.floor(this.#ttl / 3)} ms`));
    }
    return this.#lost;
  }

  #schedule(): void {
    clearTimeout(this.#renewal);
    clearTimeout(this.#deadline);
    const now = performance.now();
    this.#renewal = setTimeout(() => this.#renew(), Math.max(0, this.#confirmed + this.#ttl / 3 - now)).unref();
    // A timer may fire a fraction of a ms early: it checks again until the deadline has passed.
    const watch = (): void => {
      if (this.#pastDeadline() || this.#releasing !== undefined) return;
      this.#deadline = setTimeout(watch, Math.max(1, this.#confirmed + this.#ttl - this.#ttl / 3 - performance.now())).unref();
    };
    watch();
  }

  #renew(): void {
    if (this.#pastDeadline()) return;
    const sent = performance.now();
    this.#connection.eval(RENEW, [this.#lease], [this.#value, this.#ttl]).then(
      (renewed) => {
        if (this.#pastDeadline() || this.#releasing !== undefined) return;
        if (renewed !== 1) return this.#lose(new Error('the lease expired or was taken'));
        this.#confirmed = sent;
        this.#schedule();
      },
      (error: Error) => this.#lose(error),
    );
  }

  #lose(cause: Error): void {
    if (this.#lost || this.#releasing !== undefined) return;
    this.#lost = true;
    clearTimeout(this.#renewal);
    clearTimeout(this.#deadline);
    this.#connection.destroy();
    const error = new LockLostError(`lost the redis lock ${this.target}: ${cause.message}`, { address: this.#connection.address, cause });
    this.#controller.abort(error);
    this.emit('lost', error);
  }

  /**
   * Deletes the lease if it is still this lock's (a compare-and-delete on its token), then closes
   * the connection; idempotent, never rejects (a silent server is given ttl/3, then the socket closed).
   */
  release(): Promise<void> {
    this.#releasing ??= (async () => {
      clearTimeout(this.#renewal);
      clearTimeout(this.#deadline);
      if (!this.#lost) {
        this.#connection.ref(true);
        await this.#connection.eval(RELEASE, [this.#lease], [this.#value]).catch(() => {});
      }
      await this.#connection.end();
    })();
    return this.#releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
