// What every kind of listenUnix server shares: net adopts the listening fd, the server offers its
// socket to a successor, and close() undoes only what this process still owns. Also the
// successor's side: asking for the socket, bounded by the one Deadline of the call.
import type { Server } from 'node:net';
import * as lazy from '../internal/lazy-modules';
import { LockTimeoutError, type ErrorTarget, type SolelyError } from '../errors';
import { listenOnFd } from '../internal/node-internals';
import type { Wait, WaitOptions } from '../internal/options';
import { Deadline } from '../internal/wait';
import { HandoverOffer, acknowledge, controlName, giveUp, requestHandover, successorStep, type Holding, type Received } from './handover';

/** One listenUnix call: its server and options, and where it listens. */
export interface Call<S extends Server = Server> {
  readonly server: S;
  readonly backlog: number;
  readonly wait: Wait;
  readonly handover: boolean;
  /** The uids a handover may go to or come from: this process's own and options.allowUids. */
  readonly allowed: ReadonlySet<number>;
  /** What server.address() returns. */
  readonly address: string;
  readonly target: ErrorTarget;
  /** Names the control channel: the socket file's dev/ino, or the abstract name. */
  readonly key: string;
}

/** The undoing of what a server owns at close: unlink its socket file, release its lock. */
export interface Cleanup {
  /** Runs while the listening socket still pins its inode. */
  unlink(): void;
  /** Releases the lock: unlockAndClose false once it passed to a successor, who holds it on. */
  release(unlockAndClose: boolean): void;
}

/** With handover and no wait, how long a running server has to answer. */
export const ANSWER_MS = 5000;

const NOTHING_TO_UNDO: Cleanup = { unlink: () => {}, release: () => {} };

/**
 * Serves holding's listener on call.server and offers it to successors. taken: what this
 * process received from a predecessor, acknowledged once it listens.
 */
export async function serve<S extends Server>(call: Call<S>, holding: Holding, cleanup: Cleanup = NOTHING_TO_UNDO, taken?: Received): Promise<S> {
  const { server } = call;
  const offer = new HandoverOffer(holding, call.allowed, call.address, () => {
    // Stops accepting, as net's close() (not http's, which would cut idle keep-alive connections
    // a client may be sending on): the connections it has drain, then 'close'.
    closing();
    if (server.listening) lazy.net().Server.prototype.close.call(server);
    closed();
    server.emit('handover');
  });
  // A predecessor's socket and lock are shared with it until it hears that we listen.
  let ours = taken === undefined;
  const closing = (): void => {
    offer.stop();
    if (ours && !offer.passedOn) cleanup.unlink();
  };
  const closed = (): void => cleanup.release(ours && !offer.passedOn);
  try {
    await listenOnFd(server, holding.listener, call.backlog, call.address, closing, closed);
  } catch (error) {
    if (taken !== undefined) giveUp({ ...taken, listener: -1, lock: -1 }); // net had the listener; closed() the lock
    throw error;
  }
  if (taken === undefined) {
    await offer.start(call.key, -1);
    return server;
  }
  successorStep('listening', call.address);
  await offer.start(call.key, taken.control); // net owns the control fd from here
  acknowledge(taken, call.address);
  ours = true;
  return server;
}

/** The Deadline of a call that waits, or of the answer alone for a handover without wait. */
export function deadlineOf(call: Pick<Call, 'wait' | 'handover' | 'address' | 'target'>): Deadline {
  const { wait } = call;
  const timeout = wait.timeout === 0 ? ANSWER_MS : wait.timeout;
  const what = call.handover ? `${call.address} to be handed over or let go` : `${call.address} to be let go`;
  return new Deadline({ timeout, signal: wait.signal }, what, call.target);
}

/**
 * Asks the running server for its socket; check() verifies what came (false: given up, and the
 * running server goes on). Resolves with it, or with why there is none. A deadline passing is a
 * reason when the call does not wait, else the call's LockTimeoutError saying so.
 */
export async function takeOver(call: Call, deadline: Deadline, check: (taken: Received) => boolean): Promise<Received | string> {
  let answer: Received | string;
  try {
    answer = await requestHandover(controlName(call.key), call.allowed, deadline, call.address);
  } catch (error) {
    if (!(error instanceof LockTimeoutError)) throw error;
    if (call.wait.timeout === 0) return `the running server did not answer the handover request within ${ANSWER_MS} ms`;
    throw withReason(error, 'the running server did not answer the handover request');
  }
  if (typeof answer === 'string') return answer;
  if (!check(answer)) {
    giveUp(answer);
    return 'what the running server handed over did not check out';
  }
  successorStep('received', call.address);
  return answer;
}

/** error with why the handover did not happen, for a wait that then timed out. */
export function withReason<E extends SolelyError>(error: E, reason: string | undefined): E {
  if (reason !== undefined) error.message += `; no handover: ${reason}`;
  return error;
}

/** The wait left for a lock after a handover attempt, as options for lockFile and lockAbstract. */
export function remainingWait({ wait }: Pick<Call, 'wait'>, deadline: Deadline): WaitOptions {
  const left = wait.timeout === Infinity ? true : Math.max(deadline.remaining, 1);
  return wait.signal === undefined ? { wait: left } : { wait: left, signal: wait.signal };
}
