// Handing a listening socket to a successor, as nginx, HAProxy and Envoy restart: the kernel
// socket itself moves (SCM_RIGHTS), so no connect is refused at any moment. The channel is an
// abstract socket named after the server's socket, bound by the server that holds it (for a path,
// the holder of the sidecar lock): the lock's open file description is passed along, so the lock
// moves without ever being free. Steps (docs/unix-servers-handover.md):
//   successor: connect, "solely-handover 1\n"          running: checks SO_PEERCRED
//   running:   "ok KIND [DEV INO]\n" + fds [listener, control, lock?]
//   successor: listens on the fd, then "listening\n"   running: stops accepting, 'handover'
// Until "listening" arrives the running server keeps accepting, and if the successor goes away
// first it simply goes on serving; once the fds are out, it never unlinks nor unlocks.
import { channel } from 'node:diagnostics_channel';
import type { Server, Socket } from 'node:net';
import { bindAbstract } from '../abstract';
import { binding } from '../internal/binding';
import { errnoOf } from '../internal/errno';
import * as lazy from '../internal/lazy-modules';
import { listenOnFd, socketFd } from '../internal/node-internals';
import type { Deadline } from '../internal/wait';

export type HoldingKind = 'path' | 'activated' | 'abstract';

/** What a server holds for its address: all of it moves in a handover. */
export interface Holding {
  readonly kind: HoldingKind;
  /** The listening socket (net's once it listens). */
  readonly listener: number;
  /** The sidecar lock's fd (kind 'path'). */
  readonly lock?: number;
  /** dev and ino of the socket file (not for 'abstract'): a successor checks them, and for
   *  'path' unlinks that inode when it closes. */
  readonly socketFile?: readonly [bigint, bigint];
}

/** What a successor received: the holding, the control socket, and the connection to acknowledge on. */
export interface Received extends Holding {
  readonly control: number;
  readonly connection: number;
}

const REQUEST = 'solely-handover 1\n';
const ACK = 'listening\n';
const MAX_LINE = 256;
const CONTROL_BACKLOG = 64;
const EAGAIN = errnoOf('EAGAIN');

/** Publishes { side, step, address } at each step, so that tests can stop a process exactly there. */
const steps = channel('solely:handover');

function publish(side: 'running' | 'successor', step: string, address: string): void {
  if (steps.hasSubscribers) steps.publish({ side, step, address });
}

/** The control channel's abstract name for a socket: its file's dev/ino, or its abstract name. */
export function controlName(key: string): string {
  return `solely/handover/${lazy.crypto().createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/**
 * The running side: answers handover requests on the control channel until the server closes or
 * hands over. control is a channel passed by a predecessor, or -1 to bind one (if another
 * process has bound the name, the server offers no handover). handedOver runs once the
 * successor listens.
 */
export class HandoverOffer {
  readonly #holding: Holding;
  readonly #allowed: ReadonlySet<number>;
  readonly #address: string;
  readonly #handedOver: () => void;
  #control: Server | undefined;
  #controlFd = -1;
  #state: 'serving' | 'sending' | 'handed-over' = 'serving';

  constructor(holding: Holding, allowed: ReadonlySet<number>, address: string, handedOver: () => void) {
    this.#holding = holding;
    this.#allowed = allowed;
    this.#address = address;
    this.#handedOver = handedOver;
  }

  /** Once true, the fds are another process's too: this one must neither unlink nor unlock. */
  get passedOn(): boolean {
    return this.#state !== 'serving';
  }

  async start(key: string, control: number): Promise<void> {
    let fd = control;
    try {
      if (fd < 0) fd = bindAbstract(controlName(key), CONTROL_BACKLOG);
    } catch (error) {
      // Out of fds, say: the server serves all the same, and a successor waits instead.
      process.emitWarning(`listenUnix ${this.#address}: no handover offered: ${(error as Error).message}`);
      return;
    }
    if (fd < 0) return;
    const server = lazy.net().createServer((socket) => this.#accept(socket));
    server.unref(); // the channel alone keeps no process alive
    this.#control = server;
    this.#controlFd = fd;
    await listenOnFd(server, fd, CONTROL_BACKLOG, '', () => {}, () => {}); // net owns fd from here
  }

  /** Stops answering: the server closes, or has handed over. */
  stop(): void {
    this.#control?.close();
    this.#control = undefined;
  }

  #accept(socket: Socket): void {
    socket.on('error', () => {}); // a peer gone is its close
    const fd = socketFd(socket);
    const cred = fd >= 0 ? binding.peerCred(fd) : -1;
    if (typeof cred === 'number' || !this.#allowed.has(cred[1])) return void socket.end('refused uid not allowed\n');
    if (this.#state !== 'serving') return void socket.end('refused busy handing over\n');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_LINE) socket.destroy();
      else if (text === REQUEST && this.#state === 'serving') this.#send(socket, fd);
      else if (text === REQUEST + ACK && this.#state === 'sending') this.#complete(socket);
    });
    socket.on('close', () => {
      if (this.#state === 'sending') this.#state = 'serving'; // the successor never listened
    });
  }

  #send(socket: Socket, fd: number): void {
    publish('running', 'request', this.#address);
    const { kind, listener, lock, socketFile } = this.#holding;
    const control = this.#controlFd;
    const file = socketFile === undefined ? '' : ` ${socketFile[0]} ${socketFile[1]}`;
    const fds = lock === undefined ? [listener, control] : [listener, control, lock];
    if (binding.sendFds(fd, `ok ${kind}${file}\n`, fds) < 0) return void socket.destroy();
    this.#state = 'sending';
    publish('running', 'sent', this.#address);
  }

  #complete(socket: Socket): void {
    this.#state = 'handed-over';
    publish('running', 'acknowledged', this.#address);
    socket.end();
    this.stop();
    this.#handedOver();
  }
}

/**
 * The successor's side: asks the server on the channel for its socket, until deadline. Resolves
 * with what it received (checked), or with why there is nothing to take; rejects with the
 * deadline's error. Peers of uids outside allowed are not asked.
 */
export function requestHandover(control: string, allowed: ReadonlySet<number>, deadline: Deadline, address: string): Promise<Received | string> {
  const connection = binding.abstractConnect(control);
  if (connection < 0) return Promise.resolve(connection === EAGAIN ? 'its handover channel is full' : 'no server offers a handover');
  const cred = binding.peerCred(connection);
  if (typeof cred === 'number' || !allowed.has(cred[1])) {
    binding.close(connection);
    return Promise.resolve(typeof cred === 'number' ? 'its handover channel vanished' : `a process of uid ${cred[1]} holds its handover channel`);
  }
  return new Promise((resolve, reject) => {
    const fds: number[] = [];
    let text = '';
    const watch = new binding.FdWatch(() => read());
    const finish = (outcome: Received | string | Error): void => {
      watch.stop();
      stopDeadline();
      if (typeof outcome === 'object' && !(outcome instanceof Error)) return resolve(outcome);
      for (const fd of [connection, ...fds]) binding.close(fd);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const read = (): void => {
      for (;;) {
        const got = binding.recvFds(connection);
        if (got === EAGAIN) return;
        if (typeof got === 'number' || got[0].length === 0) return finish('the running server hung up without handing over');
        fds.push(...got[1]);
        text += got[0].toString('latin1');
        if (text.length > MAX_LINE) return finish('the running server answered garbage');
        if (text.endsWith('\n')) return finish(received(text, fds, connection) ?? `the running server answered "${text.trim()}"`);
      }
    };
    const stopDeadline = deadline.watch(finish);
    if (binding.sendFds(connection, REQUEST, []) < 0) return finish('the running server hung up without handing over');
    publish('successor', 'requested', address);
    const started = watch.start(connection);
    if (started < 0) finish(`its handover channel cannot be watched (errno ${started})`);
  });
}

/** The answer checked: the right fds for its kind, each a listening Unix stream socket or a file. */
function received(text: string, fds: number[], connection: number): Received | undefined {
  const match = /^ok (path|activated|abstract)(?: (\d+) (\d+))?\n$/.exec(text);
  if (match === null) return undefined;
  const kind = match[1] as HoldingKind;
  const [listener, control, lock] = fds;
  if (fds.length !== (kind === 'path' ? 3 : 2) || (kind === 'abstract') !== (match[2] === undefined)) return undefined;
  if (!isListening(listener) || !isListening(control)) return undefined;
  const socketFile = match[2] === undefined ? undefined : ([BigInt(match[2]), BigInt(match[3])] as const);
  return { kind, listener, control, connection, ...(lock === undefined ? {} : { lock }), ...(socketFile === undefined ? {} : { socketFile }) };
}

function isListening(fd: number | undefined): boolean {
  const info = fd === undefined ? -1 : binding.socketInfo(fd);
  return typeof info !== 'number' && info[0] && info[1] && info[2];
}

/** Tells the running server that this process listens: it stops accepting. */
export function acknowledge(taken: Received, address: string): void {
  binding.sendFds(taken.connection, ACK, []); // a predecessor gone meanwhile needs no word
  binding.close(taken.connection);
  publish('successor', 'acknowledged', address);
}

/** Gives up what was received (a check failed): the running server goes on serving. */
export function giveUp(taken: Received): void {
  for (const fd of [taken.connection, taken.listener, taken.control, taken.lock]) if (fd !== undefined && fd >= 0) binding.close(fd);
}

/** The successor's steps between receiving and acknowledging. */
export function successorStep(step: 'received' | 'listening', address: string): void {
  publish('successor', step, address);
}
