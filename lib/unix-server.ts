// Unix-socket servers that never remove what is not theirs. A filesystem path is guarded by a
// sidecar "<path>.lock" (flock, never unlinked): only its holder removes a stale socket, and a
// server removes its socket on close only if the path still names the inode it bound. The addon
// creates the listening socket and net adopts the fd: Node 20 cannot bind exact-length abstract
// names, nor paths over 107 bytes, and its close() unlinks its path blindly.
import { constants, existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { basename, dirname } from 'node:path';
import { bindAbstract, checkName, heldError } from './abstract';
import { activatedSocket, parseActivation, type ActivationOptions } from './activation';
import { binding } from './binding';
import * as lazy from './lazy-modules';
import { errnoOf, fromErrno, invalidArgument, invalidTarget, unsupportedRuntime, type Holder, type LockHeldError } from './errors';
import { tryLockFileSync } from './file';
import { connectedHolder, heldBy } from './holder';
import { Lock } from './lock';
import { listenOnFd } from './node-internals';
import { optionsObject, parseInteger, parseMode } from './options';
import { onNode } from './runtime';
import { absolutePath } from './path';


export interface UnixServerOptions<S extends Server = Server> extends ActivationOptions {
  /** The server to listen, not listening yet (an http.createServer(), say); default a new net.Server. */
  server?: S;
  /** Permission bits of the socket file (default: what the umask leaves). Not for abstract names,
   *  nor for a socket systemd passed (its unit's SocketMode= decides). */
  mode?: number;
  /** The listen(2) backlog, from 1 (default 511, as net's; the kernel caps it at somaxconn). Also
   *  for a socket systemd passed: net calls listen(2) on every fd it adopts, replacing Backlog=. */
  backlog?: number;
}

const SUN_PATH_MAX = 107;
const DEFAULT_BACKLOG = 511;
const MAX_BACKLOG = 2 ** 31 - 1;
const NO_MODE = -1;
// Rounds of lstat, probe, unlink and bind while intruders outside the protocol race us.
const MAX_ATTEMPTS = 10;
const { O_DIRECTORY, S_IFMT, S_IFSOCK, S_IFLNK, S_IFDIR } = constants;
const ENOENT = errnoOf('ENOENT');
const ESTALE = errnoOf('ESTALE');
const EAGAIN = errnoOf('EAGAIN');
const EADDRINUSE = errnoOf('EADDRINUSE');
const ECONNREFUSED = errnoOf('ECONNREFUSED');

/**
 * A Server already listening on path: a filesystem path, or "\0name" for a Linux abstract
 * name. server.address() returns path as given for "\0name", and the absolute path otherwise.
 */
export async function listenUnix<S extends Server = Server>(path: string, options?: UnixServerOptions<S>): Promise<S> {
  const o = optionsObject(options);
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
  if (typeof path === 'string' && path.startsWith('\0')) {
    if (o.mode !== undefined) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.mode', 'undefined for an abstract name (it has no permission bits)', o.mode);
    const name = checkName(path.slice(1));
    // A socket systemd bound holds the name for us: the Lock is the fd net gets.
    const adopted = activatedSocket(Buffer.from(path), activation, { address: `@${name}` });
    if (adopted >= 0) return listenOnFd(server, adopted, backlog, path, () => {}, () => {});
    const fd = bindAbstract(name, backlog);
    if (fd < 0) throw heldError(name);
    return listenOnFd(server, fd, backlog, path, () => {}, () => {});
  }
  const mode = parseMode(o.mode, NO_MODE);
  const socket = absolutePath(path);
  // systemd owns the path of a socket it passed (it removes it when the socket unit stops): no
  // sidecar lock, and nothing is unlinked on close.
  const adopted = activatedSocket(Buffer.from(socket), activation, { path: socket });
  if (adopted >= 0) return listenOnFd(server, adopted, backlog, socket, () => {}, () => {});
  return listenPath(server, socket, mode, backlog);
}

async function listenPath<S extends Server>(server: S, socket: string, mode: number, backlog: number): Promise<S> {
  const name = basename(socket);
  // basename() drops a trailing '/' that the kernel would not; '.' and '..' name directories.
  if (socket.endsWith('/') || name === '.' || name === '..') throw invalidTarget('EINVAL', 'a socket path needs a file name', { path: socket });
  // The parent directory stays open: every check, the bind, the chmod and the final unlink go
  // through it, so a directory renamed meanwhile cannot redirect them.
  const parent = dirname(socket);
  const dir = binding.open(parent, binding.O_PATH | O_DIRECTORY, 0);
  if (dir < 0) throw fromErrno(dir, 'open', { path: parent });
  let lock: Lock;
  let address: string;
  try {
    address = addressOf(socket, dir, name);
    lock = lockSidecar(socket, address);
  } catch (error) {
    binding.close(dir);
    throw error;
  }
  let bound: [number, bigint, bigint] | undefined;
  // Unlinks the socket while our bound socket still pins its inode, so that the dev/ino check
  // cannot be fooled by the number being reused. ENOENT: removed by someone; ESTALE: a
  // successor's socket, which stays.
  const unlinkOurs = (): void => {
    if (bound === undefined) return;
    const rc = binding.unlinkAtIf(dir, name, bound[1], bound[2]);
    bound = undefined;
    if (rc < 0 && rc !== ENOENT && rc !== ESTALE) process.emitWarning(fromErrno(rc, 'unlink', { path: socket }));
  };
  const release = (): void => {
    unlinkOurs();
    if (lock.released) return; // released already: dir is closed too
    binding.close(dir);
    lock.release();
  };
  try {
    bound = bindFresh(socket, address, dir, name, mode, backlog);
  } catch (error) {
    release();
    throw error;
  }
  return listenOnFd(server, bound[0], backlog, socket, unlinkOurs, release);
}

/** Takes "<socket>.lock"; if it is held, its holder serves the path, and nothing is touched. */
function lockSidecar(socket: string, address: string): Lock {
  const sidecar = `${socket}.lock`;
  // The sidecar is this protocol's own lock, not the caller's: no network-filesystem warning.
  const lock = tryLockFileSync(sidecar, { onNetworkFilesystem: 'lock' });
  if (lock !== null) return lock;
  const fields = { errno: EAGAIN, syscall: 'flock', path: socket, cause: fromErrno(EAGAIN, 'flock', { path: sidecar }) };
  // The holder answers a probe when it listens: its credentials are cheap to know then.
  throw heldBy(`flock ELOCKED: lock is held ${sidecar}`, fields, connectedHolder(binding.unixConnect(address)));
}

/**
 * The address bind and connect take: the path itself, or the name through the kept directory
 * fd when the path is longer than sun_path.
 */
function addressOf(socket: string, dir: number, name: string): string {
  if (Buffer.byteLength(socket) <= SUN_PATH_MAX) return socket;
  const viaDir = `/proc/self/fd/${dir}/${name}`;
  if (Buffer.byteLength(viaDir) > SUN_PATH_MAX || !existsSync(viaDir.slice(0, -name.length - 1))) {
    const why = Buffer.byteLength(viaDir) > SUN_PATH_MAX ? 'its file name is too long too' : '/proc is not mounted';
    throw invalidTarget('ENAMETOOLONG', `a socket path over ${SUN_PATH_MAX} bytes is bound through /proc/self/fd, but ${why}`, { path: socket });
  }
  return viaDir;
}

/** Clears the path of a stale socket and binds: [fd, dev, ino]. Refuses anything else there. */
function bindFresh(socket: string, address: string, dir: number, name: string, mode: number, backlog: number): [number, bigint, bigint] {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const found = binding.statAt(dir, name);
    if (typeof found !== 'number') {
      const [type, dev, ino] = found;
      refuseNonSocket(type & S_IFMT, socket);
      probe(address, socket);
      // Nobody listens: a stale socket, and we hold the lock, so it is ours to remove.
      const rc = binding.unlinkAtIf(dir, name, dev, ino);
      if (rc === ESTALE) continue;
      if (rc < 0 && rc !== ENOENT) throw fromErrno(rc, 'unlink', { path: socket });
    } else if (found !== ENOENT) {
      throw fromErrno(found, 'lstat', { path: socket });
    }
    const bound = binding.unixListen(address, dir, name, mode, backlog);
    if (typeof bound !== 'number') return bound;
    // Something appeared at the path between lstat and bind (outside the protocol): look again.
    if (bound !== EADDRINUSE && bound !== ESTALE) throw fromErrno(bound, 'listen', { path: socket });
  }
  throw fromErrno(EADDRINUSE, 'listen', { path: socket });
}

function refuseNonSocket(type: number, socket: string): void {
  if (type === S_IFSOCK) return;
  if (type === S_IFLNK) throw invalidTarget('ELOOP', 'a symlink is never followed nor replaced; left untouched', { path: socket });
  const what = type === S_IFDIR ? 'a directory' : 'a file that is not a socket';
  throw invalidTarget('ENOTSOCK', `${what} is never replaced by a socket; left untouched`, { path: socket });
}

/** A live server outside our lock answers a connect: then the path is taken, and left alone. */
function probe(address: string, socket: string): void {
  const fd = binding.unixConnect(address);
  if (fd === ECONNREFUSED) return;
  if (fd >= 0 || fd === EAGAIN) throw liveServer(socket, connectedHolder(fd));
  throw fromErrno(fd, 'connect', { path: socket });
}

function liveServer(socket: string, holder: Holder | undefined): LockHeldError {
  const fields = { errno: EADDRINUSE, syscall: 'listen', path: socket, cause: fromErrno(EADDRINUSE, 'listen', { path: socket }) };
  return heldBy(`listen ELOCKED: a server outside the lock listens on ${socket}`, fields, holder);
}
