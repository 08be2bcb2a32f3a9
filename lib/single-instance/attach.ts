// The primary's side of an attached launch. The launch passes its stdin, stdout and stderr over
// the connection (SCM_RIGHTS), which the runtime's net cannot receive: a plain read discards the
// descriptors, and on Bun and Deno net keeps reading. So once the request is read, the primary
// takes the connection from net (a duplicate of the socket; net's closed), and the addon does the
// rest: { fds: true }, the one "stdio" message and its descriptors, a watch for the launch going
// away, and the answer that carries exit(code).
import { binding, READABLE, WRITABLE, type FdWatch } from '../internal/binding';
import { errnoOf, invalidArgument } from '../internal/errno';
import { STDIO_TEXT } from './protocol';
import { stdioOf, type Refusal, type Stdio } from './stdio-streams';

export type { Stdio } from './stdio-streams';

const EAGAIN = errnoOf('EAGAIN');
const EMSGSIZE = errnoOf('EMSGSIZE');
/** The most descriptors recvFds receives in one message. */
const MAX_FDS = 4;
const EXIT_CODE_MAX = 255;

/** Throws ERR_INVALID_ARG_VALUE unless code is an exit status: an integer from 0 to 255. */
export function checkExitCode(code: unknown): void {
  if (!Number.isInteger(code) || (code as number) < 0 || (code as number) > EXIT_CODE_MAX) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'code', `an integer from 0 to ${EXIT_CODE_MAX}`, code);
  }
}

/**
 * Closes our copies of the launch's descriptors, stdout and stderr once what was written reached
 * them (never end(): shutting a socket down would shut it for the launch too), then calls done.
 */
function closeStdio(stdio: Stdio, done: () => void): void {
  let open = 3;
  const closed = (): void => {
    if (--open === 0) done();
  };
  for (const stream of [stdio.stdin, stdio.stdout, stdio.stderr]) {
    if (stream.destroyed) closed();
    else stream.once('close', closed);
  }
  stdio.stdin.destroy();
  // A write's callback runs once the writes before it are done: an empty one marks the end.
  for (const stream of [stdio.stdout, stdio.stderr]) stream.write(Buffer.alloc(0), () => stream.destroy());
}

export interface AttachEvents {
  /** The launch's stdio, as streams: deliver the message. */
  stdio(stdio: Stdio): void;
  /** What came cannot be stdio (null: other text than "stdio"): answer EBADF. */
  refused(refusal: Refusal | null): void;
  /** The launch went away after its stdio was delivered, before exit() (Ctrl-C): 'cancel'. */
  cancel(): void;
  /** The connection is closed, whatever closed it. */
  closed(): void;
}

type Phase = 'net' | 'fds' | 'attached' | 'answered' | 'closed';

/**
 * An attached launch's connection, fd being the primary's duplicate of it (which this object
 * owns). start() once net's socket has closed (until then net may still read): it asks for the
 * descriptors. No deadline here: the connection's own covers the wait for the descriptors.
 */
export class AttachedLaunch {
  readonly #fd: number;
  readonly #events: AttachEvents;
  readonly #watch: FdWatch;
  #phase: Phase = 'net';
  #watching = 0;
  #out: Buffer | undefined;
  #sent = 0;
  /** The launch's streams, from delivery until exit() or its going away. */
  #stdio: Stdio | undefined;

  constructor(fd: number, events: AttachEvents) {
    this.#fd = fd;
    this.#events = events;
    this.#watch = new binding.FdWatch(() => this.#step());
  }

  /** Sends ask (the { fds: true } frame) and waits for the launch's descriptors. */
  start(ask: Buffer): void {
    if (this.#phase !== 'net') return;
    this.#phase = 'fds';
    this.#out = ask;
    this.#step();
  }

  /** Sends the answer, then closes; ignored once closed. */
  answer(out: Buffer): void {
    if (this.#phase === 'closed' || this.#phase === 'answered') return;
    this.#phase = 'answered';
    this.#out = out;
    this.#sent = 0;
    this.#step();
  }

  /** With the streams delivered: flushes and closes them, then calls answer (exit()). False if there are none. */
  exit(answer: () => void): boolean {
    const stdio = this.#stdio;
    if (stdio === undefined) return false;
    this.#stdio = undefined;
    closeStdio(stdio, answer);
    return true;
  }

  /** Closes at once: streams, watch and fd; idempotent. */
  close(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#watch.stop(); // before the fd closes: no watch outlives it
    binding.close(this.#fd);
    // A launch gone needs no flush: what it did not get is lost with it.
    const stdio = this.#stdio;
    this.#stdio = undefined;
    for (const stream of stdio === undefined ? [] : [stdio.stdin, stdio.stdout, stdio.stderr]) stream.destroy();
    if (stdio !== undefined) this.#events.cancel();
    this.#events.closed();
  }

  #waitFor(events: number): void {
    if (events === this.#watching) return; // re-armed by the watch itself after this callback
    this.#watch.stop();
    this.#watching = events;
    if (this.#watch.start(this.#fd, events) < 0) this.close();
  }

  /** Sends what is pending, then reads what the phase expects. */
  #step(): void {
    if (this.#phase === 'closed') return;
    const fd = this.#fd;
    while (this.#out !== undefined && this.#sent < this.#out.length) {
      const sent = binding.socketSend(fd, this.#out, this.#sent);
      if (sent === EAGAIN) return this.#waitFor(WRITABLE);
      if (sent < 0) return this.close();
      this.#sent += sent;
    }
    // The answer's bytes are in the launch's receive queue once sent: closing now loses none.
    if (this.#phase === 'answered') return this.close();
    if (this.#phase === 'fds') return this.#receive();
    if (this.#phase !== 'attached') return undefined;
    // The launch sends nothing after its descriptors: a byte, its hang-up or an error mean it is gone.
    const chunk = binding.socketRecv(fd, 1);
    if (chunk === EAGAIN) return this.#waitFor(READABLE);
    return this.close();
  }

  #receive(): void {
    const received = binding.recvFds(this.#fd);
    if (received === EAGAIN) return this.#waitFor(READABLE);
    this.#phase = 'attached';
    // More than recvFds takes: it closed them all.
    if (received === EMSGSIZE) return this.#events.refused({ index: -1, why: `more than ${MAX_FDS} descriptors, not 3` });
    if (typeof received === 'number' || received[0].length === 0) return this.close();
    const [text, fds] = received;
    if (text.toString('latin1') !== STDIO_TEXT) {
      for (const fd of fds) binding.close(fd);
      return this.#events.refused(null);
    }
    const stdio = stdioOf(fds);
    if ('why' in stdio) return this.#events.refused(stdio);
    this.#stdio = stdio;
    this.#events.stdio(stdio);
    return this.#step(); // watch for the launch going away
  }
}
