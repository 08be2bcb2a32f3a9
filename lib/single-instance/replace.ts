// Taking over (options.replace): a launch asks the running primary to hand over, gives it grace
// ms to release, and ends it if it did not (a wedged primary no longer blocks every launch). Only
// a process of our own uid is signalled, and only once the kernel confirmed it still holds the
// instance's socket (SO_PEERCRED, and the socket's inode among its fds): never a reused pid.
import { setTimeout as sleep } from 'node:timers/promises';
import { LockHeldError, LockTimeoutError } from '../errors';
import { binding } from '../internal/binding';
import { fromErrno } from '../internal/errno';
import { holderOf } from '../internal/process-holder';
import type { Deadline } from '../internal/wait';
import type { InstancePolicy } from './options';
import type { Place } from './place';
import type { Primary } from './primary';
import { ask, askBudget, heldError } from './secondary';

const MAX_RETRY_MS = 100;

type BecomePrimary = () => Promise<Primary | LockHeldError>;

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
 * Binds as soon as the name is free: the Primary. pid, the primary asked to hand over, is ended
 * when its time comes (SIGTERM once asked is over, grace ms after asking; SIGKILL grace ms after that), and only while
 * the kernel names it as the holder. Undefined once another process holds the name (another launch
 * took over first: the caller delivers to it), or if the holder stays one we cannot name (a
 * primary starting up or leaving, or one /proc does not show) for as long as a whole takeover
 * takes: a pid the kernel does not confirm is never signalled. LockTimeoutError if pid still
 * holds the name timeout ms after SIGKILL.
 */
async function takeName(place: Place, pid: number, grace: number, timeout: number, asked: Deadline, becomePrimary: BecomePrimary): Promise<Primary | undefined> {
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGKILL'];
  let due = asked;
  const patience = askBudget(place, 2 * grace + timeout);
  let backoff = 1;
  for (;;) {
    const attempt = await becomePrimary();
    if (!(attempt instanceof LockHeldError)) return attempt;
    const holder = attempt.holder?.pid;
    if (holder === undefined) {
      if (patience.remaining === 0) return undefined;
    } else if (holder !== pid) {
      return undefined;
    } else if (due.remaining === 0) {
      const signal = signals.shift();
      // SIGKILL frees the name when the kernel reaps the process: within the launch's own timeout.
      if (signal === undefined) throw due.timedOut();
      end(place, attempt, pid, signal);
      due = askBudget(place, signals.length > 0 ? grace : timeout);
    }
    await sleep(backoff);
    backoff = Math.min(backoff * 2, MAX_RETRY_MS);
  }
}

/**
 * Asks the primary listening on place to hand over (request carries replace), then becomes the
 * primary once it released, or ends it after grace ms (SIGTERM), and again after as long
 * (SIGKILL). Undefined when nobody listens or another launch took over first: the caller goes on
 * as an ordinary launch.
 */
export async function takeOver(place: Place, policy: InstancePolicy, request: Buffer | null, grace: number, becomePrimary: BecomePrimary): Promise<Primary | undefined> {
  const fd = place.connect();
  if (fd < 0) return undefined;
  const cred = binding.peerCred(fd);
  if (typeof cred === 'number') {
    binding.close(fd);
    return undefined;
  }
  // Grace runs from the question: a wedged primary, which never answers, is ended once it is over.
  const asked = askBudget(place, grace);
  // The connection stays open until this launch holds the name or gives up: the primary lets its
  // attached launches go only then, so that they ask this launch rather than race it for the name.
  const held = binding.dup(fd);
  if (held >= 0) binding.trackWaitFd(held);
  try {
    try {
      await ask(fd, request, place, { ...policy, env: undefined, attach: false }, asked);
    } catch (error) {
      if (!(error instanceof LockTimeoutError)) throw error;
    }
    return await takeName(place, cred[0], grace, policy.timeout, asked, becomePrimary);
  } finally {
    if (held >= 0) binding.closeWaitFd(held);
  }
}
