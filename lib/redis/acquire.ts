// Taking a lease: one atomic script per attempt; between attempts a waiter sleeps until the
// holder's release is published, the lease's keyspace event arrives (on servers with
// notify-keyspace-events), or the lease's time is up, polling at most every FALLBACK_POLL_MS.
import { channel } from 'node:diagnostics_channel';
import type { SolelyError } from '../errors';
import { errnoOf, fromErrno } from '../internal/errno';
import type { Wait } from '../internal/options';
import { Deadline } from '../internal/wait';
import { Connection, type ConnectionSettings } from './connection';
import { ACQUIRE, RELEASE } from './scripts';

/** The bound of a sleep between attempts: for a release that published nothing, or a lost subscription. */
export const FALLBACK_POLL_MS = 1000;

export interface Granted {
  token: bigint;
  /** The lease's value. */
  value: string;
  /** When (performance.now()) the granting attempt was sent: the lease lasts ttl from no earlier. */
  sentAt: number;
}

export interface Held {
  /** The holder's lease value. */
  holder: string;
  /** ms left of the holder's lease; -1 for a key without expiry (not set by solely). */
  ttl: number;
}

/** What a lease needs: the server, its keys, its ttl, and what this process writes in it. */
export interface LeaseRequest {
  connection: Connection;
  settings: ConnectionSettings;
  key: string;
  keys: [lease: string, counter: string];
  ttl: number;
  owner: string;
}

type Cause = 'first' | 'subscribed' | 'event' | 'poll';

/** Publishes { target, cause, acquired } for each attempt, as lib/wait.ts does, so tests can tell which wake-up won. */
const attempts = channel('solely:wait');

async function attempt(r: LeaseRequest, cause: Cause): Promise<Granted | Held> {
  const sentAt = performance.now();
  const reply = await r.connection.eval(ACQUIRE, r.keys, [r.ttl, r.owner]);
  let result: Granted | Held;
  if (Array.isArray(reply) && reply[0] === 1 && typeof reply[1] === 'number') {
    result = { token: BigInt(reply[1]), value: `${reply[1]} ${r.owner}`, sentAt };
  } else if (Array.isArray(reply) && reply[0] === 0 && typeof reply[1] === 'string' && typeof reply[2] === 'number') {
    result = { holder: reply[1], ttl: reply[2] };
  } else {
    const unexpected = new Error(`unexpected answer to the lock script: ${JSON.stringify(reply)}`);
    throw fromErrno(errnoOf('EPROTO'), 'read', { address: r.connection.address }, unexpected);
  }
  if (attempts.hasSubscribers) attempts.publish({ target: { address: r.connection.address, key: r.key }, cause, acquired: 'token' in result });
  return result;
}

/**
 * The lease, or who holds it when wait.timeout is 0. A timeout or an abort ends the wait once the
 * attempt in flight has answered (bounded by ttl/3); a lease granted meanwhile is released first.
 */
export async function acquireLease(r: LeaseRequest, wait: Wait): Promise<Granted | Held> {
  const first = await attempt(r, 'first');
  if ('token' in first || wait.timeout === 0) return first;
  const target = { address: r.connection.address };
  let stopped: SolelyError | undefined;
  const stoppedBy = (): SolelyError | undefined => stopped;
  let rung: Cause | undefined;
  let ring = (): void => {};
  const wake = (cause: Cause): void => {
    rung ??= cause;
    ring();
  };
  const opening = new AbortController();
  const stopDeadline = new Deadline(wait, `the redis lock ${r.key}`, target).watch((error) => {
    stopped = error;
    opening.abort(error);
    ring();
  });
  let subscriber: Connection | undefined;
  try {
    subscriber = await Connection.open(r.settings, r.connection.patience, opening.signal).catch((error: unknown) => {
      throw stopped ?? error;
    });
    subscriber.client.on('message', () => wake('event'));
    const db = r.connection.client.options.db ?? 0;
    // Subscribed before the next attempt: a release between the two is not missed.
    await subscriber.call('SUBSCRIBE', r.keys[0], `__keyspace@${db}__:${r.keys[0]}`);
    let cause: Cause = 'subscribed';
    for (;;) {
      if (stopped !== undefined) throw stopped;
      rung = undefined;
      const result = await attempt(r, cause);
      if ('token' in result) {
        const late = stoppedBy(); // read after the await: the deadline may have passed meanwhile
        if (late === undefined) return result;
        await r.connection.eval(RELEASE, [r.keys[0]], [result.value]).catch(() => {});
        throw late;
      }
      const sleep = result.ttl > 0 ? Math.min(result.ttl, FALLBACK_POLL_MS) : FALLBACK_POLL_MS;
      cause = await new Promise<Cause>((resolve) => {
        const timer = setTimeout(() => wake('poll'), sleep);
        ring = () => {
          clearTimeout(timer);
          ring = () => {};
          resolve(rung ?? 'poll');
        };
        if (rung !== undefined || stopped !== undefined) ring();
      });
    }
  } finally {
    stopDeadline();
    await subscriber?.end();
  }
}
