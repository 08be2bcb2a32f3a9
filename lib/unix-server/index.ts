// listenUnix: Unix-socket servers that never remove what is not theirs (a path: ./path.ts), and
// that hand their socket to a successor (./handover.ts). The addon creates the listening socket
// and net adopts the fd: Node 20 cannot bind exact-length abstract names, nor paths over 107
// bytes, and its close() unlinks its path blindly.
import { lstatSync } from 'node:fs';
import type { Server } from 'node:net';
import { bindAbstract, checkName, heldError, lockAbstract } from '../abstract';
import { activatedSocket, parseActivation, type ActivationOptions } from '../activation';
import { binding } from '../internal/binding';
import { LockTimeoutError } from '../errors';
import { invalidArgument, unsupportedRuntime } from '../internal/errno';
import { onNode } from '../internal/runtime';
import * as lazy from '../internal/lazy-modules';
import { optionKeys, optionsObject, parseBoolean, parseInteger, parseMode, parseWait, type WaitOptions } from '../internal/options';
import { absolutePath } from '../internal/path';
import { fileKey, listenPath } from './path';
import { deadlineOf, remainingWait, serve, takeOver, withReason, type Call } from './serve';

/**
 * Options of listenUnix.
 */
export interface UnixServerOptions<S extends Server = Server> extends ActivationOptions, WaitOptions {
  /** The server to listen, not listening yet (an http.createServer(), say); default a new net.Server. */
  server?: S;
  /** Permission bits of the socket file (default: what the umask leaves). Not for abstract names,
   *  nor for a socket systemd passed (its unit's SocketMode= decides). */
  mode?: number;
  /** The listen(2) backlog, from 1 (default 511, as net's; the kernel caps it at somaxconn). Also
   *  for a socket systemd passed: net calls listen(2) on every fd it adopts, replacing Backlog=. */
  backlog?: number;
  /** Take over the socket of the server running on this address (any listenUnix server), instead
   *  of binding anew: no connect is refused meanwhile. Without one, binds as usual. */
  handover?: boolean;
  /** Uids besides this process's own that may take this server's socket, or hand it theirs. */
  allowUids?: readonly number[];
}

const KEYS = optionKeys<UnixServerOptions>({ server: true, mode: true, backlog: true, activation: true, activationName: true, wait: true, signal: true, handover: true, allowUids: true });
const DEFAULT_BACKLOG = 511;
const MAX_BACKLOG = 2 ** 31 - 1;
const NO_MODE = -1;
const MAX_UID = 2 ** 32 - 1;

/**
 * A Server already listening on `path`: a filesystem path, or "\0name" for a Linux abstract name.
 * A stale socket file left by a crashed server is replaced; a live server's is never taken (the
 * sidecar lock "<path>.lock" says who serves it): with `wait`, it waits for that server to let go,
 * with `handover`, it takes over that server's listening socket. With systemd socket activation, the
 * passed socket is adopted. server.address() returns "\0name" as given, and the absolute path
 * otherwise. The server emits 'handover' when a successor took its socket: it has stopped accepting then.
 * @throws {LockHeldError} `ELOCKED` when another server serves the path (or listens on it outside the lock).
 * @throws {LockTimeoutError} `ETIMEDOUT` when `wait` ran out.
 * @throws {InvalidTargetError} `EINVAL`, `ENAMETOOLONG` (over 107 bytes), `ELOOP`, `ENOTSOCK` for a path that cannot be a socket.
 * @throws {SolelyError} `EADDRINUSE`, `EACCES`, `ENOENT`... from bind(2) and listen(2); `ENOENT` from `sd_listen_fds`
 * with `activation: 'required'` and no socket passed; `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a bad or unknown option.
 * @example
 * import http from 'node:http';
 * import { listenUnix } from 'solely';
 * const server = await listenUnix('/run/myapp/http.sock', { server: http.createServer(handler), mode: 0o660, handover: true });
 */
export async function listenUnix<S extends Server = Server>(path: string, options?: UnixServerOptions<S>): Promise<S> {
  const o = optionsObject(options, KEYS);
  // Not 0: net takes 0 for its default, 511.
  const backlog = parseInteger('options.backlog', o.backlog, 1, MAX_BACKLOG, DEFAULT_BACKLOG);
  const net = lazy.net();
  const server = o.server ?? (net.createServer() as S);
  if (!(server instanceof net.Server)) {
    // Bun's http.Server is no net.Server, and its listen({ fd }) ignores the fd for a TCP port.
    if (!onNode && typeof (server as { listen?: unknown } | null)?.listen === 'function') {
      const target = typeof path === 'string' && path.startsWith('\0') ? { address: `@${path.slice(1)}` } : { path: String(path) };
      throw unsupportedRuntime('listen', "cannot serve options.server on a socket solely bound: it is not a net.Server (Bun's http.Server is not one); pass net.createServer((socket) => server.emit('connection', socket))", target);
    }
    throw invalidArgument('ERR_INVALID_ARG_TYPE', 'options.server', 'an instance of net.Server', server);
  }
  if (server.listening) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.server', 'a server that is not listening', server);
  const activation = parseActivation(o);
  const wait = parseWait(o);
  const handover = parseBoolean('options.handover', o.handover, false);
  const allowed = parseAllowed(o.allowUids);
  const base = { server, backlog, wait, handover, allowed };
  if (typeof path === 'string' && path.startsWith('\0')) {
    if (o.mode !== undefined) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.mode', 'undefined for an abstract name (it has no permission bits)', o.mode);
    const name = checkName(path.slice(1));
    const call = { ...base, address: path, target: { address: `@${name}` }, key: `@${name}` };
    // A socket systemd bound holds the name for us: the Lock is the fd net gets.
    const adopted = activatedSocket(Buffer.from(path), activation, call.target);
    if (adopted >= 0) return serve(call, { kind: 'abstract', listener: adopted });
    return listenAbstract(call, name);
  }
  const mode = parseMode(o.mode, NO_MODE);
  const socket = absolutePath(path);
  const call = { ...base, address: socket, target: { path: socket } };
  // systemd owns the path of a socket it passed (it removes it when the socket unit stops): no
  // sidecar lock, and nothing is unlinked on close, here nor by a successor it is handed to.
  const adopted = activatedSocket(Buffer.from(socket), activation, call.target);
  if (adopted >= 0) {
    const file = socketFileOf(socket);
    const key = file === undefined ? `unbound:${socket}` : fileKey(file[0], file[1]);
    return serve({ ...call, key }, { kind: 'activated', listener: adopted, ...(file === undefined ? {} : { socketFile: file }) });
  }
  return listenPath(call, socket, mode);
}

/** An abstract name: taken over, bound, or waited for; the name's socket is the lock. */
async function listenAbstract<S extends Server>(call: Call<S>, name: string): Promise<S> {
  const deadline = call.handover || call.wait.timeout > 0 ? deadlineOf(call) : undefined;
  let reason: string | undefined;
  if (call.handover && deadline !== undefined) {
    const own = Buffer.from(call.address);
    const taken = await takeOver(call, deadline, (t) => {
      const info = binding.socketInfo(t.listener);
      return t.kind === 'abstract' && typeof info !== 'number' && info[3].equals(own);
    });
    if (typeof taken !== 'string') return serve(call, taken, undefined, taken);
    reason = taken;
  }
  const fd = bindAbstract(name, call.backlog);
  if (fd >= 0) return serve(call, { kind: 'abstract', listener: fd });
  if (deadline === undefined || call.wait.timeout === 0) throw withReason(heldError(name), reason);
  try {
    const lock = await lockAbstract(name, { listen: true, ...remainingWait(call, deadline) });
    // The Lock is dropped unreleased: its fd is the listening socket, which net owns from here.
    return await serve(call, { kind: 'abstract', listener: lock.fd });
  } catch (error) {
    throw error instanceof LockTimeoutError ? withReason(deadline.timedOut(), reason) : error;
  }
}

/** dev and ino of the socket file systemd bound, which names its handover channel. */
function socketFileOf(socket: string): readonly [bigint, bigint] | undefined {
  try {
    const { dev, ino } = lstatSync(socket, { bigint: true });
    return [dev, ino];
  } catch {
    return undefined; // unlinked under the unit: no successor finds it by its path anyway
  }
}

function parseAllowed(uids: unknown): ReadonlySet<number> {
  const list = uids ?? [];
  if (!Array.isArray(list) || !list.every((uid) => Number.isInteger(uid) && uid >= 0 && uid <= MAX_UID)) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.allowUids', 'an array of uids', uids);
  }
  return new Set([process.getuid?.() ?? 0, ...(list as number[])]);
}
