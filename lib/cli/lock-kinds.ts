// One adapter per lock kind for `solely run`: it takes the lock, then says which fd COMMAND inherits,
// what COMMAND finds in its environment, what losing the lock means, and how the lock is let go.
/* eslint-disable @typescript-eslint/no-require-imports */
import type { SolelyError } from '../errors';
import type { Lock } from '../lock';
import type { Pidfile } from '../pidfile';
import type { PostgresLock } from '../postgres';
import { lazy } from '../internal/lazy-modules';
import type { RedisLock } from '../redis';
import type { WithTarget } from './args';

const abstract = lazy(() => require('../abstract') as typeof import('../abstract'));
const file = lazy(() => require('../file') as typeof import('../file'));
const pidfile = lazy(() => require('../pidfile') as typeof import('../pidfile'));
const postgres = lazy(() => require('../postgres') as typeof import('../postgres'));
const redis = lazy(() => require('../redis') as typeof import('../redis'));
const holder = lazy(() => require('../internal/holder') as typeof import('../internal/holder'));
const pidInFile = lazy(() => require('../internal/pid-in-file') as typeof import('../internal/pid-in-file'));

/** A lock `solely run` holds while COMMAND runs. */
export interface LockAroundCommand {
  /** The fd COMMAND gets a dup of as its fd 3; undefined with --close, or for a lock with no fd. */
  readonly inheritedFd: number | undefined;
  /** The lock lives only in this process: COMMAND is to get SIGTERM if this process dies. */
  readonly diesWithWrapper?: boolean;
  /** Added to COMMAND's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** COMMAND was spawned with this PID; throws if the lock could not record it. */
  started(commandPid: number): void;
  /** Calls lost once if the lock is lost while COMMAND runs. */
  onLost(lost: (error: SolelyError) => void): void;
  /** COMMAND has exited: let go of the lock as its kind requires. */
  finish(): void | Promise<void>;
}

const INHERITED_ENV = { SOLELY_LOCK_FD: '3' };
const nothing = (): void => {};

/** Takes the lock the options name, waiting as asked; throws what the library throws (ELOCKED when held). */
export async function lockAroundCommand(options: WithTarget): Promise<LockAroundCommand> {
  const { slots } = options;
  const { adapter, slot } = await lockOfKind(options);
  // With --slots, COMMAND learns which slot it has (0 to N-1), e.g. to pick a work directory.
  return slots === undefined ? adapter : { ...adapter, env: { ...adapter.env, SOLELY_SLOT: String(slot) } };
}

async function lockOfKind({ target: { kind, value }, key = '', wait, close, fcntl, shared, slots }: WithTarget): Promise<{ adapter: LockAroundCommand; slot: number }> {
  const method = fcntl ? 'fcntl' : 'flock';
  const mode = { ...(shared ? { shared } : {}), ...(slots === undefined ? {} : { slots }) };
  switch (kind) {
    case 'abstract': {
      const lock = await abstract().lockAbstract(value, { wait, ...mode });
      return { adapter: inheritable(lock, close), slot: lock.slot };
    }
    case 'file': {
      const lock = await file().lockFile(value, { wait, method, ...mode });
      return { adapter: inheritable(lock, close), slot: lock.slot };
    }
    case 'pidfile':
      return { adapter: pidfileKind(await pidfile().openPidfile(value, { wait, method }), close), slot: 0 };
    case 'postgres': {
      const lock = await postgres().lockPostgres(key, { connection: value, wait, ...mode });
      return { adapter: fenced(lock), slot: lock.slot };
    }
    case 'redis':
      return { adapter: fenced(await redis().lockRedis(key, { connection: value, wait })), slot: 0 };
  }
}

/**
 * An abstract socket or a file lock. Inherited, the child's dup of the fd makes the lock outlive
 * this wrapper. Both copies share one open file description; this process never unlocks it, since
 * that would unlock COMMAND's copy too, and that of any process COMMAND leaves behind: exit only
 * closes its own fd.
 */
function inheritable(lock: Lock, close: boolean): LockAroundCommand {
  if (close) return { inheritedFd: undefined, env: {}, started: nothing, onLost: nothing, finish: () => lock.release() };
  return { inheritedFd: lock.fd, env: INHERITED_ENV, started: nothing, onLost: nothing, finish: nothing };
}

/** A pidfile names COMMAND, inherited or not; it is removed when it would name nobody. */
function pidfileKind(lock: Pidfile, close: boolean): LockAroundCommand {
  return {
    inheritedFd: close ? undefined : lock.fd,
    env: close ? {} : INHERITED_ENV,
    started: (commandPid) => lock.write(commandPid), // COMMAND's PID, not this wrapper's
    onLost: nothing,
    finish: () => (close ? lock.remove() : settleSharedPidfile(lock)), // closed: COMMAND's PID is stale
  };
}

/**
 * COMMAND has exited, but processes it started may still hold the lock through the fd 3 they
 * inherited. This process never unlocks it then: a flock or OFD lock belongs to the open file
 * description they share, and unlocking through any fd frees it for all. If one of them holds it
 * (COMMAND daemonized), the pidfile names it. Else this process closes its fd and removes the file
 * only if it can lock that same file again: proof that nobody holds it, even a process /proc hides.
 * Whatever else is at the path by then is left alone.
 */
function settleSharedPidfile(lock: Pidfile): void {
  const { otherFileHolder } = holder();
  const survivor = otherFileHolder(pidInFile().fdStats(lock.fd, lock.target));
  if (survivor !== undefined) return lock.write(survivor); // still under the lock; exit closes the fd
  lock.removeUnlessHeld();
}

/** A PostgreSQL session or a Redis lease is this process's: COMMAND cannot inherit it, and it can be lost. */
function fenced(lock: PostgresLock | RedisLock): LockAroundCommand {
  return {
    inheritedFd: undefined,
    diesWithWrapper: true,
    env: lock.fencingToken === null ? {} : { SOLELY_FENCING_TOKEN: String(lock.fencingToken) },
    started: nothing,
    onLost: (lost) => void lock.once('lost', lost),
    finish: () => lock.release(), // an unlock on the server is a round trip
  };
}
