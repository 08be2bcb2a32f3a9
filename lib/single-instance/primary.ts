// The first launch: serves the instance's socket, takes one request per connection from a peer
// the kernel vouches for (SO_PEERCRED), and hands it to listeners and iterators. Every connection
// is bounded in size, count and time, so no peer can stop or stall the primary.
import { EventEmitter } from 'node:events';
import type { Server, Socket } from 'node:net';
import { binding } from '../internal/binding';
import { socketFd } from '../internal/node-internals';
import type { InstancePolicy } from './options';
import { Connection, refuse } from './connection';
import { requestOf, type Message, type Reply } from './protocol';

type Listener = (this: Primary, message: Message, reply: Reply) => unknown;

/**
 * The first launch. Emits 'replace' (message) when a launch asks to take over (release() within
 * its grace period, or it is ended; with no 'replace' listener the primary releases at once).
 * Emits 'second-instance' (message, reply) for each later launch, and yields
 * the same messages to `for await`. A listener's message is acknowledged once every listener
 * returned (or its returned promise settled) unless one called reply(); a message taken by an
 * iterator, once the loop asks for the next one. With no listener and no iterator, messages
 * wait (their connections open, until their deadline) for an iterator.
 * @example
 * import { singleInstance } from 'solely';
 * const primary = await singleInstance('org.example.Editor');
 * if (primary.primary) for await (const message of primary) console.log(message.argv);
 */
export class Primary extends EventEmitter implements AsyncIterable<Message>, Disposable, AsyncDisposable {
  readonly primary = true as const;
  /** The abstract name, or the socket path. */
  readonly target: string;
  readonly #server: Server;
  readonly #policy: InstancePolicy;
  readonly #connections = new Set<Connection>();
  /** Launches taking over that hold their connection open until they hold the name. */
  readonly #takingOver = new Set<Connection>();
  readonly #queue: { message: Message; connection: Connection }[] = [];
  readonly #takers: ((taken: { message: Message; connection: Connection } | undefined) => void)[] = [];
  #iterators = 0;
  #released: Promise<void> | undefined;

  /** @internal The Primary owns server from here on. */
  constructor(server: Server, target: string, policy: InstancePolicy) {
    super();
    this.target = target;
    this.#server = server;
    this.#policy = policy;
    server.on('connection', (socket) => this.#accept(socket));
    server.on('error', () => {});
  }

  get released(): boolean {
    return this.#released !== undefined;
  }

  #accept(socket: Socket): void {
    if (this.#released !== undefined) {
      socket.destroy();
      return;
    }
    // The kernel's record of who connected, which no peer can forge.
    const fd = socketFd(socket);
    const cred = fd >= 0 ? binding.peerCred(fd) : -1;
    if (typeof cred === 'number' || !this.#policy.allowed.has(cred[1])) {
      refuse(socket);
      return;
    }
    if (this.#connections.size >= this.#policy.maxConnections) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, this.#policy, () => {
      this.#connections.delete(connection);
      const queued = this.#queue.findIndex((entry) => entry.connection === connection);
      if (queued >= 0) this.#queue.splice(queued, 1);
      if (this.#takingOver.delete(connection)) this.#letAttachedGo();
    });
    this.#connections.add(connection);
    const [pid, uid] = cred;
    connection.read((payload) => {
      const request = requestOf(payload, pid, uid, connection.reply);
      if (request === null) connection.destroy();
      else if (request.replace) this.#replace(request.message, connection);
      else if (!request.attach) this.#deliver(request.message, connection);
      else {
        const message = Object.assign(new EventEmitter(), request.message, { exit: connection.exit });
        connection.attach((stdio) => (this.#released === undefined ? this.#deliver(Object.assign(message, stdio), connection) : this.#letAttachedGo()), () => message.emit('cancel'));
      }
    });
  }

  /**
   * A launch asks to take over: 'replace' listeners release within its grace period; with none,
   * release now. Its connection stays open until it holds the name (see #letAttachedGo).
   */
  #replace(message: Message, connection: Connection): void {
    this.#takingOver.add(connection);
    connection.answer({}, true);
    if (this.listenerCount('replace') === 0) void this.release();
    else this.emit('replace', message);
  }

  #deliver(message: Message, connection: Connection): void {
    connection.hold();
    const listeners = this.rawListeners('second-instance') as Listener[];
    for (const listener of listeners) {
      const result = listener.call(this, message, connection.reply);
      if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
        connection.hold();
        // As with emit(), a rejection is the app's to handle: release the hold either way, and
        // derive no promise that could reject unhandled (finally() would, and Node exits on it).
        const done = (): void => connection.done();
        Promise.resolve(result).then(done, done);
      }
    }
    const taker = this.#takers.shift();
    if (taker !== undefined) {
      connection.hold();
      taker({ message, connection });
    } else if (this.#iterators > 0 || listeners.length === 0) {
      connection.hold();
      this.#queue.push({ message, connection });
    }
    connection.done();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Message, void, undefined> {
    this.#iterators++;
    try {
      for (;;) {
        const taken = this.#queue.shift() ?? (this.#released === undefined ? await new Promise<{ message: Message; connection: Connection } | undefined>((wake) => this.#takers.push(wake)) : undefined);
        if (taken === undefined) return;
        try {
          yield taken.message;
        } finally {
          taken.connection.done();
        }
      }
    } finally {
      this.#iterators--;
      // Leaving the loop (break, return, a throw) releases the primary, as readline's and
      // fs.Dir's iterators close theirs: else the server keeps the process alive, unanswered.
      await this.release();
    }
  }

  /**
   * Once released, lets go of attached launches not yet exit()ed: each emits 'cancel' and starts
   * over, as if this process had exited. A launch taking over closes its connection once it holds
   * the name, so they wait for that: they then ask it, rather than race it for the free name.
   */
  #letAttachedGo(): void {
    if (this.#released === undefined || this.#takingOver.size > 0) return;
    for (const connection of this.#connections) if (connection.awaitsExit) connection.destroy();
  }

  /**
   * Stops accepting and frees the name, drops connections whose message nobody took, lets go of
   * attached launches (#letAttachedGo), and resolves once every other message taken was answered
   * (or its connection's deadline passed) and every launch taking over holds the name.
   */
  release(): Promise<void> {
    this.#released ??= new Promise((resolveClosed) => {
      this.#server.close(() => resolveClosed());
      for (const connection of this.#connections) if (!connection.delivered) connection.destroy();
      for (const { connection } of this.#queue.splice(0)) if (!connection.awaitsExit) connection.destroy();
      for (const wake of this.#takers.splice(0)) wake(undefined);
    });
    this.#letAttachedGo();
    return this.#released;
  }

  [Symbol.dispose](): void {
    void this.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
