// One accepted connection on the primary: its one request frame, its one answer, its deadline, and
// with attach the launch's connection taken from net until exit().
import type { Socket } from 'node:net';
import { binding } from '../internal/binding';
import { invalidArgument } from '../internal/errno';
import { socketFd } from '../internal/node-internals';
import type { InstancePolicy } from './options';
import { AttachedLaunch, checkExitCode, type Stdio } from './attach';
import { FrameReader, PROTOCOL, REFUSED, checkJson, frame, type Reply } from './protocol';

// Unchanged since protocol 1: a refused peer learns nothing more.
const REFUSAL = frame({ error: REFUSED }, Number.MAX_SAFE_INTEGER) as Buffer;

/**
 * Answers an untrusted peer without reading a byte of it, and closes at once: a refused peer holds
 * no fd, timer or connection slot, so no number of them can keep a trusted launch out. The frame is
 * a few bytes on a fresh socket, written at once (libuv tries the write synchronously), and stays
 * readable to the peer after the close, whether it wrote first (it then also gets ECONNRESET) or
 * writes after (EPIPE).
 */
export function refuse(socket: Socket): void {
  socket.on('error', () => {});
  socket.end(REFUSAL);
  socket.destroy();
}

/** One accepted connection on the primary, from its first byte to its answer, within its deadline. */
export class Connection {
  readonly socket: Socket;
  /** Listeners still working on the message, plus an iterator holding it. */
  #holds = 0;
  #answered = false;
  #delivered = false;
  /** With attach: the connection, taken from net, and the reply() value kept for exit(). */
  #attached: { launch: AttachedLaunch; reply?: unknown } | undefined;
  readonly #max: number;
  readonly #timer: NodeJS.Timeout;
  readonly #onClose: () => void;

  constructor(socket: Socket, policy: InstancePolicy, onClose: () => void) {
    this.socket = socket;
    this.#max = policy.maxMessageBytes;
    this.#onClose = onClose;
    // A peer that stalls, or an app that never answers, costs one fd until the deadline.
    this.#timer = setTimeout(() => this.destroy(), policy.connectionTimeout);
    socket.on('error', () => {});
    socket.once('close', () => {
      if (this.#attached === undefined) this.#closed();
    });
  }

  #closed(): void {
    clearTimeout(this.#timer);
    this.#onClose();
  }

  get delivered(): boolean {
    return this.#delivered;
  }

  /** An attached launch the primary has not answered: it waits for exit(), which no deadline bounds. */
  get awaitsExit(): boolean {
    return this.#attached !== undefined && !this.#answered;
  }

  /** Reads one request frame, then hands its payload on; garbage and extra bytes close the connection. */
  read(onPayload: (payload: Record<string, unknown>) => void): void {
    const reader = new FrameReader(this.#max);
    this.socket.on('data', (chunk: Buffer) => {
      const payload = reader.push(chunk);
      if (payload === undefined) return;
      if (reader.overMax && !this.#delivered) {
        // Answered unread, so that the launch fails with EMSGSIZE rather than retrying until its
        // timeout; it reads the answer even if its send fails (EPIPE) once this closes.
        this.socket.pause();
        this.answer({ error: 'EMSGSIZE', max: this.#max });
        return;
      }
      if (payload === null || this.#delivered) {
        this.socket.destroy();
        return;
      }
      this.#delivered = true;
      onPayload(payload as Record<string, unknown>);
    });
    // A peer may half-close after its frame (the server allows half-open connections); before
    // it, the frame was truncated.
    this.socket.once('end', () => {
      if (!this.#delivered) this.destroy();
    });
  }

  /**
   * Takes the connection from net and asks the secondary for its stdin, stdout and stderr; calls
   * onStdio with them, or answers { error: 'EBADF' } if what came cannot be stdio. From then on
   * the exchange is the app's: no deadline until exit(). cancel runs if the launch goes first.
   */
  attach(onStdio: (stdio: Stdio) => void, cancel: () => void): void {
    const fd = binding.dup(socketFd(this.socket));
    if (fd < 0) {
      this.destroy();
      return;
    }
    const launch = new AttachedLaunch(fd, {
      stdio: (stdio) => {
        clearTimeout(this.#timer);
        onStdio(stdio);
      },
      refused: (refusal) => this.answer(refusal === null ? { error: 'EBADF' } : refusal.index < 0 ? { error: 'EBADF', why: refusal.why } : { error: 'EBADF', fd: refusal.index, why: refusal.why }),
      cancel,
      closed: () => this.#closed(),
    });
    this.#attached = { launch };
    // The duplicate is ours; net's fd closes, and once it has, nothing but us reads the socket.
    this.socket.once('close', () => launch.start(frame({ fds: true, protocol: PROTOCOL }, Number.MAX_SAFE_INTEGER) as Buffer));
    this.socket.destroy();
  }

  /** With attach: answers { exit: code } once the launch's stdout and stderr are flushed and closed. */
  readonly exit = (code: number): void => {
    checkExitCode(code);
    const attached = this.#attached;
    if (attached === undefined || this.#answered) return;
    attached.launch.exit(() => this.answer('reply' in attached ? { exit: code, reply: attached.reply } : { exit: code }));
  };

  /**
   * Sends the one answer, then closes once it is flushed, or with untilPeerCloses once the peer
   * closes its side too (within the connection's deadline); false if one was sent already.
   */
  answer(payload: Record<string, unknown>, untilPeerCloses = false): boolean {
    if (this.#answered) return false;
    // maxMessageBytes bounds the app's reply; the protocol's own answers are a few bytes.
    const out = frame({ ...payload, protocol: PROTOCOL }, 'reply' in payload ? this.#max : Number.MAX_SAFE_INTEGER);
    if (out === null) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'value', `at most ${this.#max} bytes of JSON`, payload.reply);
    this.#answered = true;
    // The bytes are in the peer's receive queue once written, so closing after does not lose them.
    if (this.#attached !== undefined) this.#attached.launch.answer(out);
    else if (!this.socket.destroyed) this.socket.end(out, untilPeerCloses ? undefined : () => this.socket.destroy());
    return true;
  }

  readonly reply: Reply = (value) => {
    if (this.#answered) return;
    if (this.#attached !== undefined) {
      if (value !== undefined) checkJson('value', value);
      // Checked now: exit() answers later, from a callback where a throw would end the primary.
      if (frame({ reply: value, exit: 255, protocol: PROTOCOL }, this.#max) === null) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'value', `at most ${this.#max} bytes of JSON`, value);
      if (!('reply' in this.#attached)) this.#attached.reply = value; // the first reply() wins
      return;
    }
    if (value === undefined) {
      this.answer({});
      return;
    }
    checkJson('value', value);
    this.answer({ reply: value });
  };

  hold(): void {
    this.#holds++;
  }

  /** One holder is done; the last one acknowledges if nobody replied (an attached launch waits for exit()). */
  done(): void {
    if (--this.#holds === 0 && this.#attached === undefined) this.answer({});
  }

  destroy(): void {
    if (this.#attached !== undefined) this.#attached.launch.close();
    else this.socket.destroy();
  }
}
