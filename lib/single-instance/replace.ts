// Taking over (options.replace): a launch asks the running primary to hand over, gives it grace
// ms to release, and ends it if it did not (a wedged primary no longer blocks every launch). Only
// a process of our own uid is signalled, and only once the kernel confirmed it still holds the
// instance's socket (SO_PEERCRED, and the socket's inode among its fds): never a reused pid.
import { setTimeout as sleep } from 'node:timers/promises';
import { LockHeldError, LockTimeoutError } from '../errors';
import { binding } from '../internal/binding';
import { fromErrno } from '../internal/errno';
import { holderOf } from '../internal/process-holder';
import { Deadline } from '../internal/wait';
import type { InstancePolicy } from './options';
import type { Place } from './place';
import type { Primary } from './primary';
import { ask, heldError } from './secondary';

const MAX_RETRY_MS = 100;

type BecomePrimary = () => Promise<Primary | LockHeldError>;

/**
 * Binds as soon as the name is free, within ms: the Primary; undefined once another process than
 * pid holds the name (another launch took over first); the LockHeldError if pid still holds it.
 */
async function bindWithin(ms: number, pid: number, becomePrimary: BecomePrimary): Promise<Primary | LockHeldError | undefined> {
  const deadline = new Deadline({ timeout: ms, signal: undefined }, 'the name', {});
  let backoff = 1;
  for (;;) {
    const attempt = await becomePrimary();
    if (!(attempt instanceof LockHeldError)) return attempt;
    // A holder we cannot name is a primary starting up or leaving: look again.
    if (attempt.holder?.pid !== undefined && attempt.holder.pid !== pid) return undefined;
    if (deadline.remaining === 0) return attempt;
    await sleep(Math.min(backoff, deadline.remaining));
    backoff = Math.min(backoff * 2, MAX_RETRY_MS);
  }
}

/** Sends signal to pid if the kernel says it still holds the name and runs as our uid. */
function end(place: Place, held: LockHeldError, pid: number, signal: NodeJS.Signals): void {
  const uid = process.getuid?.() ?? 0;
  // held.holder came from a connection's SO_PEERCRED, named only if that pid has the bound socket open.
  if (held.holder?.pid !== pid || held.holder.uid !== uid) throw heldError(place, held.holder ?? holderOf(pid));
  try {
    process.kill(pid, signal);
    // A stopped (SIGSTOPped) process takes SIGTERM only once continued.
    if (signal === 'SIGTERM') process.kill(pid, 'SIGCONT');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw fromErrno(-(error as NodeJS.ErrnoException).errno!, 'kill', place.errorTarget, error);
  }
}

/**
 * Asks the primary listening on place to hand over (request carries replace), then becomes the
 * primary once it released, or ends it after grace ms (SIGTERM), and again after as long
 * (SIGKILL). Undefined when nobody listens or another launch took over first: the caller goes on
 * as an ordinary launch.
 */
export async function takeOver(place: Place, policy: InstancePolicy, request: Buffer, grace: number, becomePrimary: BecomePrimary): Promise<Primary | undefined> {
  const fd = place.connect();
  if (fd < 0) return undefined;
  const cred = binding.peerCred(fd);
  if (typeof cred === 'number') {
    binding.close(fd);
    return undefined;
  }
  const pid = cred[0];
  try {
    // A wedged primary never answers: its grace is the budget for the question too.
    await ask(fd, request, place, { ...policy, env: undefined, attach: false }, new Deadline({ timeout: grace, signal: undefined }, `the primary ${place.target}`, place.errorTarget));
  } catch (error) {
    if (!(error instanceof LockTimeoutError)) throw error;
  }
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const attempt = await bindWithin(grace, pid, becomePrimary);
    if (!(attempt instanceof LockHeldError)) return attempt;
    end(place, attempt, pid, signal);
  }
  // SIGKILL frees the name when the kernel reaps the process: within the launch's own timeout.
  const attempt = await bindWithin(policy.timeout, pid, becomePrimary);
  if (!(attempt instanceof LockHeldError)) return attempt;
  throw new Deadline({ timeout: 0, signal: undefined }, `the primary ${place.target}`, place.errorTarget).timedOut();
}
