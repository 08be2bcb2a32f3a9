// The wire protocol between launches: one request frame from the secondary, one answer frame from
// the primary. A frame is a version byte, the payload's length (u32 big-endian) and the payload,
// a JSON object in UTF-8. The request carries the command line and cwd as exact bytes (base64);
// the answer is {} (acknowledged), { reply } or { error } (refused). Protocol 2 keeps the frame
// and adds optional fields, which a protocol 1 peer ignores: the request's activation, env,
// attach and replace; "protocol": 2 in every answer, so that a secondary knows what it talked to.
import type { Readable, Writable } from 'node:stream';
import { invalidArgument } from '../internal/errno';

/**
 * The launch's focus tokens, as its environment had them: Message.activation.
 * @example
 * primary.on('second-instance', (message) => raiseWindow(message.activation.xdgActivationToken));
 */
export interface Activation {
  /** XDG_ACTIVATION_TOKEN (Wayland). */
  xdgActivationToken?: string;
  /** DESKTOP_STARTUP_ID (X11 startup notification). */
  desktopStartupId?: string;
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
  /** The secondary's focus tokens ({} when it had none): hand them to the toolkit that raises the window. */
  activation: Activation;
  /** The secondary's environment (all of it, or the names it chose), with options.env. */
  env?: Record<string, string>;
  /** With options.attach: streams on the secondary's own stdin, stdout and stderr (isTTY true on a terminal). */
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** With options.attach: answers, closes the streams, and the secondary exits with code (0 to 255). */
  exit?: (code: number) => void;
  /** With options.attach the message is an EventEmitter: 'cancel' when the launch went away before exit() (Ctrl-C). */
  on?: (event: 'cancel', listener: () => void) => unknown;
  /** The same function as the listener's second argument. */
  reply: Reply;
}

/** Sends one JSON answer (undefined: a bare acknowledgement); later calls are ignored. */
export type Reply = (value?: unknown) => void;

const VERSION = 1;
/** The protocol this side speaks, named in every answer; the frame's version byte stays 1. */
export const PROTOCOL = 2;
/** The text sent with an attached launch's stdin, stdout and stderr (Node opens /dev/null on any that was closed). */
export const STDIO_TEXT = 'stdio';
/** The activation tokens a launch forwards: its environment's name for each Message.activation key. */
export const ACTIVATION_VARIABLES = { xdgActivationToken: 'XDG_ACTIVATION_TOKEN', desktopStartupId: 'DESKTOP_STARTUP_ID' } as const;
const HEADER_BYTES = 5;
/** The most a frame's length field can say. */
export const MAX_FRAME_PAYLOAD = 2 ** 32 - 1;
/** Far below where JSON.stringify runs out of stack (about 4000 levels on Node 20). */
const MAX_JSON_DEPTH = 1000;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

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
export function checkJson(name: string, value: unknown): void {
  const problem = notJson(value, new Set());
  if (problem === null) return;
  let where = '';
  if (problem.why === 'deep') where = `: ${name} is nested deeper`;
  else if (problem.why === 'circular') where = `: ${name}${problem.suffix} is circular`;
  else if (problem.suffix !== '') where = `: ${name}${problem.suffix} is not`;
  throw invalidArgument('ERR_INVALID_ARG_VALUE', name, `JSON (null, a boolean, a finite number, a string, or an array or plain object of these, nested at most ${MAX_JSON_DEPTH} deep)${where}`, problem.value);
}

/** One frame of payload, or null if its JSON is over max bytes. */
export function frame(payload: unknown, max: number): Buffer | null {
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
export class FrameReader {
  readonly #max: number;
  readonly #chunks: Buffer[] = [];
  #received = 0;
  #expected = -1;
  #finished = false;
  #overMax = false;

  constructor(max: number) {
    this.#max = max;
  }

  /** The header announced more than max bytes (push returned null for that). */
  get overMax(): boolean {
    return this.#overMax;
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
      if (length > this.#max) {
        this.#overMax = true;
        return this.#fail();
      }
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

/** What a request adds to the command line: each left out when undefined (or false). */
export interface RequestFields {
  data?: unknown;
  activation: Activation;
  env?: Record<string, string> | undefined;
  attach?: boolean;
  replace?: boolean;
}

/** The request frame: the arguments and working directory as exact bytes, and the fields (data is
 *  JSON, checked by the caller). Null if over max bytes. */
export function requestFrame(argv: readonly Buffer[], cwd: Buffer, fields: RequestFields, max: number): Buffer | null {
  const payload: Record<string, unknown> = { argv: argv.map((arg) => arg.toString('base64')), cwd: cwd.toString('base64') };
  if (fields.data !== undefined) payload.data = fields.data;
  if (Object.keys(fields.activation).length > 0) payload.activation = fields.activation;
  if (fields.env !== undefined) payload.env = fields.env;
  if (fields.attach === true) payload.attach = true;
  if (fields.replace === true) payload.replace = true;
  return frame(payload, max);
}

/** The error an answer names when the primary does not accept messages from the peer's uid. */
export const REFUSED = 'EACCES';

function isBase64(value: unknown): value is string {
  return typeof value === 'string' && BASE64.test(value);
}

/** A plain object whose values are all strings, keyed only by names that pass isKey. */
function isStringRecord(value: unknown, isKey: (key: string) => boolean): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(([key, item]) => isKey(key) && typeof item === 'string');
}

/** A name an environment can hold: not empty, no '=' and no NUL. */
export function isVariableName(name: string): boolean {
  return name.length > 0 && !name.includes('=') && !name.includes('\0');
}

const isActivationKey = (key: string): boolean => Object.hasOwn(ACTIVATION_VARIABLES, key);

/** A request as the primary takes it: the Message, and what the launch asks beyond delivery. */
export interface Request {
  message: Message;
  attach: boolean;
  replace: boolean;
}

/** The request payload as a Request, or null if it is not one (a field of the wrong shape included). */
export function requestOf(payload: Record<string, unknown>, pid: number, uid: number, reply: Reply): Request | null {
  const { argv, cwd, activation = {}, env, attach = false, replace = false } = payload;
  if (!Array.isArray(argv) || !argv.every(isBase64) || !isBase64(cwd)) return null;
  if (!isStringRecord(activation, isActivationKey) || (env !== undefined && !isStringRecord(env, isVariableName))) return null;
  if (typeof attach !== 'boolean' || typeof replace !== 'boolean') return null;
  const argvBytes = argv.map((arg) => Buffer.from(arg, 'base64'));
  const cwdBytes = Buffer.from(cwd, 'base64');
  const message: Message = { argv: argvBytes.map((arg) => arg.toString('utf8')), argvBytes, cwd: cwdBytes.toString('utf8'), cwdBytes, pid, uid, activation, reply };
  if ('data' in payload) {
    // The check the sender made (checkJson): JSON.parse alone lets 1e999 (Infinity) and any depth in.
    if (notJson(payload.data, new Set()) !== null) return null;
    message.data = payload.data;
  }
  if (env !== undefined) message.env = env;
  return { message, attach, replace };
}
