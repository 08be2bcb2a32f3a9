// --replace, run-one's run-this-one: end the current holder, then take the lock. Only a process
// verified to hold the lock at that moment is signalled (its fds, through /proc: the socket inode
// or the fdinfo lock), never a PID read from a pidfile alone; if the holder changes, it starts over.
/* eslint-disable @typescript-eslint/no-require-imports */
import { LockTimeoutError, type SolelyError } from '../errors';
import { lazy } from '../internal/lazy-modules';
import type { WithTarget } from './args';
import { lockAroundCommand, type LockAroundCommand } from './lock-kinds';

const holder = lazy(() => require('../internal/holder') as typeof import('../internal/holder'));

/** The exit status when the holder could not be replaced. */
export const EX_NOT_REPLACED = 77;
/** Holders replaced in turn before giving up: each one that took the lock as the last went. */
const MAX_HOLDERS = 10;

/** The holder survived SIGKILL, could not be signalled, or could not be verified. */
export class NotReplacedError extends Error {}

/** The PID of the process that holds the lock now, as its fds show; undefined if none we can see. */
function verifiedHolder({ target: { kind, value } }: WithTarget): number | undefined {
  const found = kind === 'abstract' ? holder().abstractHolder(value) : holder().fileHolder(value);
  return found?.pid;
}

/** The lock, waiting up to ms; null if it is still held then. */
async function lockWithin(options: WithTarget, ms: number): Promise<LockAroundCommand | null> {
  try {
    return await lockAroundCommand({ ...options, wait: ms });
  } catch (error) {
    if ((error as SolelyError).code === 'ELOCKED' || error instanceof LockTimeoutError) return null;
    throw error;
  }
}

/** Sends signal to pid; false if it is gone already. */
function signal(pid: number, name: NodeJS.Signals, say: (line: string) => void): boolean {
  try {
    process.kill(pid, name);
    say(`solely: sent ${name} to pid ${pid}, which holds the lock`);
    return true;
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ESRCH') return false;
    throw new NotReplacedError(`cannot signal pid ${pid}, which holds the lock: ${code}`);
  }
}

/** Takes the lock, ending its holder first if need be: SIGTERM, then SIGKILL after options.killAfter. */
export async function lockReplacing(options: WithTarget, say: (line: string) => void): Promise<LockAroundCommand> {
  for (let holders = 0; holders < MAX_HOLDERS; holders++) {
    const free = await lockWithin(options, 0);
    if (free !== null) return free;
    const pid = verifiedHolder(options);
    if (pid === undefined) throw new NotReplacedError('the lock is held by a process solely cannot see (another user\'s?): not replaced');
    if (signal(pid, 'SIGTERM', say)) {
      const lock = await lockWithin(options, options.killAfter);
      if (lock !== null) return lock;
      if (verifiedHolder(options) !== pid) continue; // it went, and another took the lock: that one next
      if (signal(pid, 'SIGKILL', say)) {
        const killed = await lockWithin(options, options.killAfter);
        if (killed !== null) return killed;
        if (verifiedHolder(options) === pid) throw new NotReplacedError(`pid ${pid} holds the lock still, after SIGKILL`);
      }
    }
  }
  throw new NotReplacedError(`the lock changed hands ${MAX_HOLDERS} times while solely replaced its holder`);
}
