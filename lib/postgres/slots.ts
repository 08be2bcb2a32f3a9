// Waiting for any one of a lock's slots on PostgreSQL. The server has no "any of these locks"
// wait, so one session per slot blocks on its slot's key and the first one granted wins: the
// server grants each freed key to exactly one waiting session. The other sessions are cancelled
// and ended; one granted at the same moment frees its slot as it ends, for the next waiter.
import type { Wait } from '../internal/options';
import { whenAborted } from '../internal/wait';
import type { Session } from './session';

/** The session that got a slot, and which slot. */
export interface GrantedSlot {
  session: Session;
  slot: number;
}

/**
 * Blocks on every slot's key at once: first (already open, which tried slot 0) waits for keys[0],
 * and a session from open(signal) waits for each other key. Every session but the winner's is ended.
 */
export async function waitForAnySlot(
  first: Session,
  open: (signal: AbortSignal) => Promise<Session>,
  keys: readonly bigint[],
  shared: boolean,
  wait: Wait,
  name: string,
  patience: number,
): Promise<GrantedSlot> {
  // One signal for every session's wait: the caller's abort, or the end of the race.
  const race = new AbortController();
  const stopWatchingAbort = whenAborted(wait.signal, () => race.abort(wait.signal?.reason));
  if (wait.signal?.aborted) race.abort(wait.signal.reason);
  const sessions: Session[] = [first];
  // Settled by the first session to finish waiting: granted (winner) or failed (failures[0]).
  let winner = -1;
  const failures: Error[] = [];
  try {
    const opened = await Promise.allSettled(keys.slice(1).map(() => open(race.signal)));
    for (const result of opened) {
      if (result.status === 'fulfilled') sessions.push(result.value);
      else failures.push(result.reason as Error);
    }
    if (failures.length > 0) throw failures[0];
    const raceWait = { timeout: wait.timeout, signal: race.signal };
    const settled = (): boolean => winner >= 0 || failures.length > 0;
    await Promise.all(
      sessions.map((session, slot) =>
        session.blockingLock(keys[slot], raceWait, name, patience, shared).then(
          () => {
            if (settled()) return; // granted too late: ending the session frees it
            winner = slot;
            race.abort();
          },
          (error: unknown) => {
            if (settled()) return; // cancelled by the race's end
            failures.push(error as Error);
            race.abort();
          },
        ),
      ),
    );
    if (failures.length > 0) throw failures[0];
    return { session: sessions[winner], slot: winner };
  } finally {
    stopWatchingAbort();
    // The caller ends first, whether it won or not.
    await Promise.all(sessions.slice(1).filter((_, i) => i + 1 !== winner).map((session) => session.end()));
  }
}
