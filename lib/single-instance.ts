// A program that runs once: the first launch becomes the primary and serves a Unix socket; every
// later launch sends it one message (its command line, cwd and data) and gets one answer. Trust
// comes from the kernel (SO_PEERCRED, both ways), never from what a peer says; every connection
// is bounded in size, count and time, so no peer can stop or stall the primary.
import { EventEmitter } from 'node:events';
import { lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { binding } from './binding';
import * as lazy from './lazy-modules';
import { LockHeldError, LockTimeoutError, SolelyError, errnoOf, fromErrno, fromFsError, invalidArgument, invalidTarget, type ErrorTarget, type Holder } from './errors';
import { heldBy, holderOf } from './holder';
import { optionsObject, parseChoice, parseInteger } from './options';
import { socketsPassed } from './activation';

export type SingleInstanceScope = 'user' | 'system';
export type SingleInstanceTransport = 'abstract' | 'path';

export interface SingleInstanceOptions {
  /** 'user' (default): one instance per uid; 'system': one per machine (network namespace). */
  scope?: SingleInstanceScope;
  /** 'abstract' (default, Linux): an abstract socket name; 'path': a socket file. */
  transport?: SingleInstanceTransport;
  /** transport 'path': the directory of the socket (default: see the README). */
  directory?: string;
  /** Sent to the primary with the command line: any JSON value. */
  data?: unknown;
  /** A secondary's budget in ms for the whole exchange, retries included (default 5000). */
  timeout?: number;
  /** Uids trusted besides our own: as peers of the primary, and as a primary for a secondary. */
  allowUids?: readonly number[];
  /** The largest payload in bytes either side accepts (default 1 MiB). */
  maxMessageBytes?: number;
  /** The primary's limit of connections open at once (default 32); more are closed at once. */
  maxConnections?: number;
  /** The primary's deadline in ms for each connection, reply included (default 5000). */
  connectionTimeout?: number;
}

/** What a later launch sent, with its pid and uid as the kernel gives them. */
export interface Message {
  /** The command line decoded as UTF-8 (an invalid byte becomes U+FFFD), indexed as process.argv. */
  argv: string[];
  /** The same arguments, exact bytes. */
  argvBytes: Buffer[];
  /** The working directory decoded as UTF-8. */
  cwd: string;
  cwdBytes: Buffer;
  /** The peer's pid and uid from SO_PEERCRED. */
  pid: number;
  uid: number;
  /** The options.data of the secondary, when it sent some. */
  data?: unknown;
  /** The same function as the listener's second argument. */
  reply: Reply;
}

/** Sends one JSON answer (undefined: a bare acknowledgement); later calls are ignored. */
export type Reply = (value?: unknown) => void;

export interface Secondary {
  readonly primary: false;
  /** The primary's pid and uid (SO_PEERCRED) and command. */
  readonly holder: Holder;
  /** The primary's answer; undefined when it only acknowledged. */
  readonly reply?: unknown;
}

const MAX_NAME_BYTES = 107;
const VERSION = 1;
const HEADER_BYTES = 5;
const MAX_FRAME_PAYLOAD = 2 ** 32 - 1;
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_RETRY_MS = 100;
/** Far below where JSON.stringify runs out of stack (about 4000 levels on Node 20). */
const MAX_JSON_DEPTH = 1000;
const PLAIN_FILE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ECONNREFUSED = errnoOf('ECONNREFUSED');
const EAGAIN = errnoOf('EAGAIN');
const ENOENT = errnoOf('ENOENT');
const EACCES = errnoOf('EACCES');
const EMSGSIZE = errnoOf('EMSGSIZE');
const EPROTO = errnoOf('EPROTO');

interface Settings {
  timeout: number;
  allowed: ReadonlySet<number>;
  maxMessageBytes: number;
  maxConnections: number;
  connectionTimeout: number;
}

/** Where the instance lives: an abstract name, or a socket path. */
interface Place {
  /** "\0name" or the socket path, as listenUnix takes it. */
  listen: string;
  /** The abstract name or the path, as Primary.target shows it. */
  target: string;
  where: ErrorTarget;
  connect(): number;
}

function sha256(id: string): string {
  return lazy.crypto().createHash('sha256').update(id, 'utf8').digest('hex');
}

/** "solely/user/<uid>/<id>" or "solely/system/<id>"; over 107 bytes, "<base>#<sha256 hex of id>". */
function abstractNameOf(id: string, scope: SingleInstanceScope, uid: number): string {
  const base = scope === 'user' ? `solely/user/${uid}` : 'solely/system';
  const plain = `${base}/${id}`;
  return Buffer.byteLength(plain) <= MAX_NAME_BYTES ? plain : `${base}#${sha256(id)}`;
}

/** "<id>.sock" for a short id of [A-Za-z0-9._-] not starting with a dot or a dash, else "#<sha256 hex>.sock". */
function socketFileOf(id: string): string {
  return PLAIN_FILE_ID.test(id) ? `${id}.sock` : `#${sha256(id)}.sock`;
}

/** Creates dir (or finds it) and checks that it is a real directory of uid with no mode bits beyond mode. */
function ownDirectory(dir: string, mode: number, uid: number): string {
  try {
    mkdirSync(dir, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fromFsError(error, 'mkdir', { path: dir });
  }
  let stats;
  try {
    stats = lstatSync(dir);
  } catch (error) {
    throw fromFsError(error, 'lstat', { path: dir });
  }
  if (stats.isSymbolicLink()) throw invalidTarget('ELOOP', 'the socket directory is a symlink, never followed', { path: dir });
  if (!stats.isDirectory()) throw invalidTarget('ENOTDIR', 'the socket directory is not a directory', { path: dir });
  if (stats.uid !== uid || (stats.mode & 0o777 & ~mode) !== 0) {
    const why = `owned by uid ${stats.uid} with mode 0o${(stats.mode & 0o777).toString(8)}: not a directory of uid ${uid} with at most 0o${mode.toString(8)}`;
    throw fromErrno(EACCES, 'mkdir', { path: dir }, new Error(why));
  }
  return dir;
}

function isDirectoryOf(dir: string, uid: number): boolean {
  try {
    const stats = lstatSync(dir);
    return stats.isDirectory() && stats.uid === uid;
  } catch {
    return false;
  }
}

/**
 * $XDG_RUNTIME_DIR/solely, /run/user/<uid>/solely, or /run/solely-0 for root; /run/solely for
 * 'system'. Never /tmp, where systemd-tmpfiles ages files out from under a live primary.
 */
function defaultDirectory(scope: SingleInstanceScope, uid: number): string {
  if (scope === 'system') {
    if (uid !== 0) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.directory', "a directory for scope 'system' over a path when not root", undefined);
    return ownDirectory('/run/solely', 0o755, uid);
  }
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && isAbsolute(runtime)) return ownDirectory(join(runtime, 'solely'), 0o700, uid);
  if (isDirectoryOf(`/run/user/${uid}`, uid)) return ownDirectory(`/run/user/${uid}/solely`, 0o700, uid);
  if (uid === 0) return ownDirectory('/run/solely-0', 0o700, uid);
  throw new SolelyError('ENOENT', "no runtime directory for a socket: set XDG_RUNTIME_DIR or pass options.directory (never /tmp: systemd-tmpfiles ages it out)", {
    errno: errnoOf('ENOENT'),
  });
}

function placeOf(id: string, scope: SingleInstanceScope, transport: SingleInstanceTransport, directory: unknown, uid: number): Place {
  if (transport === 'abstract') {
    if (directory !== undefined) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.directory', "undefined for transport 'abstract'", directory);
    const name = abstractNameOf(id, scope, uid);
    return { listen: `\0${name}`, target: name, where: { address: `@${name}` }, connect: () => binding.abstractConnect(name) };
  }
  if (directory !== undefined && (typeof directory !== 'string' || directory === '' || directory.includes('\0'))) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.directory', 'a path', directory);
  }
  const path = join(directory === undefined ? defaultDirectory(scope, uid) : resolve(directory), socketFileOf(id));
  if (Buffer.byteLength(path) > MAX_NAME_BYTES) throw invalidTarget('ENAMETOOLONG', `a single-instance socket path is at most ${MAX_NAME_BYTES} bytes`, { path });
  return { listen: path, target: path, where: { path }, connect: () => binding.unixConnect(path) };
}

function parseSettings(o: Partial<SingleInstanceOptions>, uid: number): Settings {
  const allowUids: unknown = o.allowUids ?? [];
  if (!Array.isArray(allowUids) || !allowUids.every((u): u is number => Number.isInteger(u) && (u as number) >= 0 && (u as number) <= 2 ** 32 - 1)) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.allowUids', 'an array of uids', allowUids);
  }
  return {
    timeout: parseInteger('options.timeout', o.timeout, 0, MAX_TIMER_MS, 5000),
    allowed: new Set([uid, ...allowUids]),
    maxMessageBytes: parseInteger('options.maxMessageBytes', o.maxMessageBytes, 2, MAX_FRAME_PAYLOAD, 1 << 20),
    maxConnections: parseInteger('options.maxConnections', o.maxConnections, 1, 2 ** 20, 32),
    connectionTimeout: parseInteger('options.connectionTimeout', o.connectionTimeout, 1, MAX_TIMER_MS, 5000),
  };
}

/** Where a value stops being JSON: the path below the value checked, what is there, and why. */
interface NotJson {
  suffix: string;
  value: unknown;
  why: 'type' | 'circular' | 'deep';
}

/**
 * The first part of value that JSON.parse(JSON.stringify(value)) would not give back, or null.
 * JSON: null, a boolean, a finite number, a string, or an array or plain object (prototype
 * Object.prototype or null) of JSON, nested at most MAX_JSON_DEPTH deep; an object's property that
 * is undefined is left out, as JSON.stringify does. The rest is refused, never changed: a function,
 * symbol or BigInt, NaN or Infinity, a class instance (a Date's toJSON, a Map's {}), an undefined
 * array element or hole (null), a cycle.
 */
function notJson(value: unknown, ancestors: Set<object>): NotJson | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : { suffix: '', value, why: 'type' };
  if (typeof value !== 'object') return { suffix: '', value, why: 'type' };
  if (ancestors.has(value)) return { suffix: '', value, why: 'circular' };
  if (ancestors.size >= MAX_JSON_DEPTH) return { suffix: '', value, why: 'deep' };
  const isArray = Array.isArray(value);
  const prototype: unknown = Object.getPrototypeOf(value);
  if (!isArray && prototype !== Object.prototype && prototype !== null) return { suffix: '', value, why: 'type' };
  // Holes included: Array.from reads them as undefined.
  const entries: [string | number, unknown][] = isArray ? Array.from(value as unknown[], (child, i) => [i, child]) : Object.entries(value);
  ancestors.add(value);
  for (const [key, child] of entries) {
    // JSON.stringify leaves an object's undefined property out, but turns an array's into null.
    const problem = child !== undefined ? notJson(child, ancestors) : isArray ? { suffix: '', value: child, why: 'type' as const } : null;
    if (problem === null) continue;
    if (problem.why !== 'deep') problem.suffix = (typeof key === 'string' && IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`) + problem.suffix;
    return problem;
  }
  ancestors.delete(value);
  return null;
}

/** Throws ERR_INVALID_ARG_VALUE naming the first part of value (the argument `name`) that is not JSON. */
function checkJson(name: string, value: unknown): void {
  const problem = notJson(value, new Set());
  if (problem === null) return;
  let where = '';
  if (problem.why === 'deep') where = `: ${name} is nested deeper`;
  else if (problem.why === 'circular') where = `: ${name}${problem.suffix} is circular`;
  else if (problem.suffix !== '') where = `: ${name}${problem.suffix} is not`;
  throw invalidArgument('ERR_INVALID_ARG_VALUE', name, `JSON (null, a boolean, a finite number, a string, or an array or plain object of these, nested at most ${MAX_JSON_DEPTH} deep)${where}`, problem.value);
}

/** One frame: version byte, payload length (u32 big-endian), UTF-8 JSON payload. Null if too big. */
function frame(payload: unknown, max: number): Buffer | null {
  const json = JSON.stringify(payload);
  const length = Buffer.byteLength(json);
  if (length > max) return null;
  const out = Buffer.allocUnsafe(HEADER_BYTES + length);
  out[0] = VERSION;
  out.writeUInt32BE(length, 1);
  out.write(json, HEADER_BYTES, 'utf8');
  return out;
}

/** Collects one frame, chunk by chunk, never holding more than the header and max bytes. */
class FrameReader {
  readonly #max: number;
  readonly #chunks: Buffer[] = [];
  #received = 0;
  #expected = -1;
  #finished = false;

  constructor(max: number) {
    this.#max = max;
  }

  /** undefined while incomplete; null for bytes that cannot be one frame (wrong version, over max,
   *  bytes after it, not a JSON object); else the payload. */
  push(chunk: Buffer): unknown {
    if (this.#finished) return null;
    this.#chunks.push(chunk);
    this.#received += chunk.length;
    if (this.#chunks[0]?.[0] !== VERSION) return this.#fail();
    if (this.#expected < 0) {
      if (this.#received < HEADER_BYTES) return undefined;
      const head = Buffer.concat(this.#chunks);
      this.#chunks.splice(0, this.#chunks.length, head);
      const length = head.readUInt32BE(1);
      if (length > this.#max) return this.#fail();
      this.#expected = HEADER_BYTES + length;
    }
    if (this.#received < this.#expected) return undefined;
    if (this.#received > this.#expected) return this.#fail();
    this.#finished = true;
    try {
      const payload: unknown = JSON.parse(Buffer.concat(this.#chunks).toString('utf8', HEADER_BYTES));
      return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload : null;
    } catch {
      return null;
    }
  }

  #fail(): null {
    this.#finished = true;
    this.#chunks.length = 0;
    return null;
  }
}

function isBase64(value: unknown): value is string {
  return typeof value === 'string' && BASE64.test(value);
}

/** The request payload as a Message, or null if it is not one. */
function messageOf(payload: Record<string, unknown>, pid: number, uid: number, reply: Reply): Message | null {
  const { argv, cwd } = payload;
  if (!Array.isArray(argv) || !argv.every(isBase64) || !isBase64(cwd)) return null;
  const argvBytes = argv.map((arg) => Buffer.from(arg, 'base64'));
  const cwdBytes = Buffer.from(cwd, 'base64');
  const message: Message = { argv: argvBytes.map((arg) => arg.toString('utf8')), argvBytes, cwd: cwdBytes.toString('utf8'), cwdBytes, pid, uid, reply };
  if ('data' in payload) message.data = payload.data;
  return message;
}

const REFUSAL = frame({ error: 'EACCES' }, Number.MAX_SAFE_INTEGER) as Buffer;

/**
 * Answers an untrusted peer without reading a byte of it, and closes at once: a refused peer holds
 * no fd, timer or connection slot, so no number of them can keep a trusted launch out. The frame is
 * a few bytes on a fresh socket, written at once (libuv tries the write synchronously), and stays
 * readable to the peer after the close, whether it wrote first (it then also gets ECONNRESET) or
 * writes after (EPIPE).
 */
function refuse(socket: Socket): void {
  socket.on('error', () => {});
  socket.end(REFUSAL);
  socket.destroy();
}

/** One accepted connection on the primary, from its first byte to its answer, within its deadline. */
class Connection {
  readonly socket: Socket;
  /** Listeners still working on the message, plus an iterator holding it. */
  #holds = 0;
  #answered = false;
  #delivered = false;
  readonly #max: number;
  readonly #timer: NodeJS.Timeout;

  constructor(socket: Socket, settings: Settings, onClose: () => void) {
    this.socket = socket;
    this.#max = settings.maxMessageBytes;
    // A peer that stalls, or an app that never answers, costs one fd until the deadline.
    this.#timer = setTimeout(() => socket.destroy(), settings.connectionTimeout);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(this.#timer);
      onClose();
    });
  }

  get delivered(): boolean {
    return this.#delivered;
  }

  /** Reads one request frame, then hands its payload on; garbage and extra bytes close the connection. */
  read(onPayload: (payload: Record<string, unknown>) => void): void {
    const reader = new FrameReader(this.#max);
    this.socket.on('data', (chunk: Buffer) => {
      const payload = reader.push(chunk);
      if (payload === undefined) return;
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
      if (!this.#delivered) this.socket.destroy();
    });
  }

  /** Sends the one answer, then closes once it is flushed; false if one was sent already. */
  answer(payload: Record<string, unknown>): boolean {
    if (this.#answered) return false;
    const out = frame(payload, this.#max);
    if (out === null) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'value', `at most ${this.#max} bytes of JSON`, payload.reply);
    this.#answered = true;
    // The bytes are in the peer's receive queue once written, so closing after does not lose them.
    if (!this.socket.destroyed) this.socket.end(out, () => this.socket.destroy());
    return true;
  }

  readonly reply: Reply = (value) => {
    if (this.#answered) return;
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

  /** One holder is done; the last one acknowledges if nobody replied. */
  done(): void {
    if (--this.#holds === 0) this.answer({});
  }

  destroy(): void {
    this.socket.destroy();
  }
}

type Listener = (this: Primary, message: Message, reply: Reply) => unknown;

/**
 * The first launch. Emits 'second-instance' (message, reply) for each later launch, and yields
 * the same messages to `for await`. A listener's message is acknowledged once every listener
 * returned (or its returned promise settled) unless one called reply(); a message taken by an
 * iterator, once the loop asks for the next one. With no listener and no iterator, messages
 * wait (their connections open, until their deadline) for an iterator.
 */
export class Primary extends EventEmitter implements AsyncIterable<Message>, Disposable, AsyncDisposable {
  readonly primary = true as const;
  /** The abstract name, or the socket path. */
  readonly target: string;
  readonly #server: Server;
  readonly #settings: Settings;
  readonly #connections = new Set<Connection>();
  readonly #queue: { message: Message; connection: Connection }[] = [];
  readonly #takers: ((taken: { message: Message; connection: Connection } | undefined) => void)[] = [];
  #iterators = 0;
  #released: Promise<void> | undefined;

  /** @internal The Primary owns server from here on. */
  constructor(server: Server, target: string, settings: Settings) {
    super();
    this.target = target;
    this.#server = server;
    this.#settings = settings;
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
    // The accepted socket's fd, from net's handle (a Node internal, stable since Node 0.x): the
    // kernel's record of who connected, which no peer can forge.
    const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    const cred = typeof fd === 'number' && fd >= 0 ? binding.peerCred(fd) : -1;
    if (typeof cred === 'number' || !this.#settings.allowed.has(cred[1])) {
      refuse(socket);
      return;
    }
    if (this.#connections.size >= this.#settings.maxConnections) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, this.#settings, () => {
      this.#connections.delete(connection);
      const queued = this.#queue.findIndex((entry) => entry.connection === connection);
      if (queued >= 0) this.#queue.splice(queued, 1);
    });
    this.#connections.add(connection);
    const [pid, uid] = cred;
    connection.read((payload) => {
      const message = messageOf(payload, pid, uid, connection.reply);
      if (message === null) connection.destroy();
      else this.#deliver(message, connection);
    });
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
   * Stops accepting and frees the name, drops connections whose message nobody took, and
   * resolves once every message taken was answered (or its connection's deadline passed).
   */
  release(): Promise<void> {
    this.#released ??= new Promise((resolveClosed) => {
      this.#server.close(() => resolveClosed());
      for (const connection of this.#connections) if (!connection.delivered) connection.destroy();
      for (const { connection } of this.#queue.splice(0)) connection.destroy();
      for (const wake of this.#takers.splice(0)) wake(undefined);
    });
    return this.#released;
  }

  [Symbol.dispose](): void {
    void this.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/** Splits /proc/self/cmdline into its arguments, exact bytes, indexed as process.argv. */
function commandLine(): Buffer[] {
  let raw: Buffer | undefined;
  try {
    raw = readFileSync('/proc/self/cmdline');
  } catch {
    // not Linux, or no /proc
  }
  if (raw !== undefined && raw.length > 0 && raw[raw.length - 1] === 0) {
    const args: Buffer[] = [];
    for (let start = 0; start < raw.length; ) {
      const end = raw.indexOf(0, start);
      args.push(raw.subarray(start, end));
      start = end + 1;
    }
    // argv0, then node's own options (process.execArgv), then what process.argv has after argv0.
    // Any other shape (process.title rewrote the memory) falls back to process.argv.
    const own = process.execArgv.length;
    if (args.length === 1 + own + process.argv.length - 1) {
      args.splice(1, own);
      return args;
    }
  }
  return process.argv.map((arg) => Buffer.from(arg, 'utf8'));
}

function workingDirectory(): Buffer {
  try {
    return readlinkSync('/proc/self/cwd', { encoding: 'buffer' });
  } catch {
    return Buffer.from(process.cwd(), 'utf8');
  }
}

function requestFrame(data: unknown, max: number, where: ErrorTarget): Buffer {
  const payload: Record<string, unknown> = { argv: commandLine().map((arg) => arg.toString('base64')), cwd: workingDirectory().toString('base64') };
  if (data !== undefined) {
    checkJson('options.data', data);
    payload.data = data;
  }
  const out = frame(payload, max);
  if (out === null) throw fromErrno(EMSGSIZE, 'send', where, new Error(`the message is over options.maxMessageBytes (${max})`));
  return out;
}

type Outcome = { answer: Record<string, unknown> } | 'garbage' | 'gone' | 'timeout';

/** Sends the request on fd (net owns fd from here on) and reads the one answer frame. */
function exchange(fd: number, request: Buffer, max: number, ms: number): Promise<Outcome> {
  const socket = new (lazy.net().Socket)({ fd, readable: true, writable: true });
  return new Promise((resolveOutcome) => {
    const reader = new FrameReader(max);
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolveOutcome(outcome);
    };
    const timer = setTimeout(() => settle('timeout'), ms);
    socket.on('data', (chunk: Buffer) => {
      const payload = reader.push(chunk);
      if (payload === undefined) return;
      settle(payload === null ? 'garbage' : { answer: payload as Record<string, unknown> });
    });
    // Closed before an answer: the primary died, was busy, or is leaving.
    socket.on('close', () => settle('gone'));
    socket.on('error', () => settle('gone'));
    socket.write(request);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((wake) => setTimeout(wake, ms));
}

/**
 * Becomes the primary for id, or hands this launch's command line to the primary and resolves
 * with its answer. Throws ForeignHolderError when another uid holds the name, LockTimeoutError
 * when no answer came within options.timeout.
 */
export async function singleInstance(id: string, options?: SingleInstanceOptions): Promise<Primary | Secondary> {
  if (typeof id !== 'string' || id.length === 0 || id.includes('\0') || !id.isWellFormed()) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'id', 'a non-empty string of well-formed Unicode without NUL', id);
  }
  const o = optionsObject(options);
  const scope = parseChoice('options.scope', o.scope, ['user', 'system'] as const, 'user');
  const transport = parseChoice('options.transport', o.transport, ['abstract', 'path'] as const, 'abstract');
  const uid = process.getuid?.() ?? 0;
  const settings = parseSettings(o, uid);
  const place = placeOf(id, scope, transport, o.directory, uid);
  const request = requestFrame(o.data, settings.maxMessageBytes, place.where);
  const end = Date.now() + settings.timeout;
  const held = (holder: Holder): LockHeldError => heldBy(`connect ELOCKED: ${place.target} is held`, { errno: errnoOf('EADDRINUSE'), syscall: 'connect', ...place.where }, holder);
  // Ask first: every launch after the first is a secondary, and asking needs neither a bind, nor
  // a look-up of who holds the name, nor the server's modules. A process given its socket by
  // systemd listens first: asking, it would connect to that very socket, which nobody accepts.
  if (socketsPassed()) {
    const primary = await tryPrimary(place, settings);
    if (primary instanceof Primary) return primary;
  }
  let backoff = 1;
  for (;;) {
    const fd = place.connect();
    if (fd >= 0) {
      const cred = binding.peerCred(fd);
      if (typeof cred === 'number') {
        binding.close(fd);
        throw fromErrno(cred, 'getsockopt', place.where);
      }
      const holder = holderOf(cred[0], cred[1]);
      if (!settings.allowed.has(cred[1])) {
        binding.close(fd);
        throw held(holder);
      }
      const outcome = await exchange(fd, request, settings.maxMessageBytes, Math.max(end - Date.now(), 0));
      if (outcome === 'timeout') throw timedOut(settings.timeout, 'an answer from the primary', place);
      if (outcome === 'garbage') throw fromErrno(EPROTO, 'recv', place.where, new Error('the primary answered with bytes that are not a frame'));
      if (outcome !== 'gone') return secondaryOf(outcome.answer, holder, place);
    } else if (fd === ECONNREFUSED || fd === ENOENT) {
      // Nobody listens: become the primary, or learn who holds the name without listening.
      const primary = await tryPrimary(place, settings);
      if (primary instanceof Primary) return primary;
      // Bound, not listening: a primary starting up if its uid is allowed (waited for), else a squatter.
      const binder = primary.holder;
      if (fd === ECONNREFUSED && binder?.uid !== undefined && !settings.allowed.has(binder.uid)) throw held(binder);
    } else if (fd !== EAGAIN) {
      throw fromErrno(fd, 'connect', place.where);
    }
    // Starting, leaving, busy (EAGAIN: backlog full) or gone: try again, both ways, until the budget ends.
    if (Date.now() >= end) throw timedOut(settings.timeout, 'the primary', place);
    await delay(Math.min(backoff, Math.max(end - Date.now(), 0)));
    backoff = Math.min(backoff * 2, MAX_RETRY_MS);
  }
}

/** The Primary, if the name was free; the LockHeldError saying who holds it, if not. */
async function tryPrimary(place: Place, settings: Settings): Promise<Primary | LockHeldError> {
  // Loaded only here: a secondary never serves.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { listenUnix } = require('./unix-server') as typeof import('./unix-server');
  try {
    // Half-open: a peer may shut its side down after its frame and still read the answer.
    const server = await listenUnix(place.listen, { server: lazy.net().createServer({ allowHalfOpen: true }) });
    return new Primary(server, place.target, settings); // the Primary owns the server
  } catch (error) {
    if (error instanceof LockHeldError) return error;
    throw error;
  }
}

function timedOut(timeout: number, what: string, place: Place): LockTimeoutError {
  return new LockTimeoutError(`timed out after ${timeout} ms waiting for ${what} ${place.target}`, place.where);
}

function secondaryOf(answer: Record<string, unknown>, holder: Holder, place: Place): Secondary {
  if (answer.error === 'EACCES') throw fromErrno(EACCES, 'connect', place.where, new Error('the primary does not accept messages from this uid'));
  if (answer.error !== undefined) throw fromErrno(EPROTO, 'recv', place.where, new Error(`the primary answered ${JSON.stringify(answer.error)}`));
  const secondary: { primary: false; holder: Holder; reply?: unknown } = { primary: false, holder };
  if ('reply' in answer) secondary.reply = answer.reply;
  return secondary;
}
