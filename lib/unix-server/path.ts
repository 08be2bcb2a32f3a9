// Servers on filesystem paths, which never remove what is not theirs. A path is guarded by a
// sidecar "<path>.lock" (flock, never unlinked): only its holder removes a stale socket, and a
// server removes its socket on close only if the path still names the inode it bound.
import { constants, existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { basename, dirname } from 'node:path';
import { binding } from '../internal/binding';
import { LockTimeoutError, type Holder, type LockHeldError } from '../errors';
import { errnoOf, fromErrno, invalidTarget } from '../internal/errno';
import { lockFile, tryLockFileSync } from '../file';
import { connectedHolder } from '../internal/holder';
import { heldBy } from '../internal/holder-message';
import { systemMessage } from '../internal/system-message';
import { Lock } from '../lock';
import type { Deadline } from '../internal/wait';
import type { Received } from './handover';
import { deadlineOf, remainingWait, serve, takeOver, withReason, type Call, type Cleanup } from './serve';

const SUN_PATH_MAX = 107;
// Rounds of lstat, probe, unlink and bind while intruders outside the protocol race us.
const MAX_ATTEMPTS = 10;
const { O_DIRECTORY, S_IFMT, S_IFSOCK, S_IFLNK, S_IFDIR } = constants;
const ENOENT = errnoOf('ENOENT');
const ESTALE = errnoOf('ESTALE');
const EAGAIN = errnoOf('EAGAIN');
const EADDRINUSE = errnoOf('EADDRINUSE');
const ECONNREFUSED = errnoOf('ECONNREFUSED');

/** The key naming the handover channel of the socket file dev/ino. */
export function fileKey(dev: bigint, ino: bigint): string {
  return `${dev}:${ino}`;
}

export async function listenPath<S extends Server>(base: Omit<Call<S>, 'key'>, socket: string, mode: number): Promise<S> {
  const name = basename(socket);
  // basename() drops a trailing '/' that the kernel would not; '.' and '..' name directories.
  if (socket.endsWith('/') || name === '.' || name === '..') throw invalidTarget('EINVAL', 'a socket path needs a file name', { path: socket });
  // The parent directory stays open: every check, the bind, the chmod and the final unlink go
  // through it, so a directory renamed meanwhile cannot redirect them.
  const parent = dirname(socket);
  const dir = binding.open(parent, binding.O_PATH | O_DIRECTORY, 0);
  if (dir < 0) throw fromErrno(dir, 'open', { path: parent });
  const sidecar = `${socket}.lock`;
  let address: string;
  let got: { lock: Lock } | { taken: Received; call: Call<S> };
  try {
    address = addressOf(socket, dir, name);
    const deadline = base.handover || base.wait.timeout > 0 ? deadlineOf(base) : undefined;
    let reason: string | undefined;
    const found = base.handover ? binding.statAt(dir, name) : ENOENT;
    let taken: Received | undefined;
    const call = typeof found === 'number' ? undefined : { ...base, key: fileKey(found[1], found[2]) };
    if (deadline !== undefined && call !== undefined && typeof found !== 'number' && (found[0] & S_IFMT) === S_IFSOCK) {
      const answer = await takeOver(call, deadline, (t) => t.socketFile?.[0] === found[1] && t.socketFile[1] === found[2] && (t.kind !== 'path' || binding.lockVerified(t.lock ?? -1, sidecar, binding.lockMethods.flock) === 0));
      if (typeof answer === 'string') reason = answer;
      else taken = answer;
    }
    got = taken !== undefined && call !== undefined ? { taken, call } : { lock: await lockSidecar(base, socket, address, deadline, reason) };
  } catch (error) {
    binding.close(dir);
    throw error;
  }
  if ('taken' in got) return serveTaken(got.call, got.taken, dir, name, sidecar);
  const { lock } = got;
  let bound: [number, bigint, bigint];
  const cleanup = cleanupOf(dir, name, socket, lock);
  try {
    bound = bindFresh(socket, address, dir, name, mode, base.backlog);
  } catch (error) {
    cleanup.release(true);
    throw error;
  }
  const holding = { kind: 'path' as const, listener: bound[0], lock: lock.fd, socketFile: [bound[1], bound[2]] as const };
  return serve({ ...base, key: fileKey(bound[1], bound[2]) }, holding, cleanup.bound(bound[1], bound[2]));
}

/** A predecessor's socket, served: a path's lock is ours now; systemd's socket stays systemd's. */
function serveTaken<S extends Server>(call: Call<S>, taken: Received, dir: number, name: string, sidecar: string): Promise<S> {
  if (taken.kind !== 'path' || taken.lock === undefined || taken.socketFile === undefined) {
    binding.close(dir);
    return serve(call, taken, undefined, taken);
  }
  // The lock's open file description came with the fds: it never was free meanwhile.
  const lock = new Lock('file', sidecar, taken.lock, binding.lockMethods.flock);
  return serve(call, taken, cleanupOf(dir, name, call.address, lock).bound(taken.socketFile[0], taken.socketFile[1]), taken);
}

/** Closing a path server: unlink the socket file it bound (if still that inode), then release. */
function cleanupOf(dir: number, name: string, socket: string, lock: Lock): Cleanup & { bound(dev: bigint, ino: bigint): Cleanup } {
  let file: [bigint, bigint] | undefined;
  const cleanup = {
    // Runs while our listening socket still pins the inode, so that the dev/ino check cannot be
    // fooled by the number being reused. ENOENT: removed by someone; ESTALE: a successor's socket.
    unlink(): void {
      if (file === undefined) return;
      const rc = binding.unlinkAtIf(dir, name, file[0], file[1]);
      file = undefined;
      if (rc < 0 && rc !== ENOENT && rc !== ESTALE) process.emitWarning(fromErrno(rc, 'unlink', { path: socket }));
    },
    release(unlockAndClose: boolean): void {
      if (lock.released) return; // released already: dir is closed too
      binding.close(dir);
      // Passed on: the successor's fd shares the lock, which an unlock would end for it too.
      if (unlockAndClose) lock.release();
      else lock.closeWithoutUnlock();
    },
    bound(dev: bigint, ino: bigint): Cleanup {
      file = [dev, ino];
      return cleanup;
    },
  };
  return cleanup;
}

/** Takes "<socket>.lock", waiting as the call says; while it is held, its holder serves the path. */
async function lockSidecar(call: Omit<Call, 'key'>, socket: string, address: string, deadline: Deadline | undefined, reason: string | undefined): Promise<Lock> {
  const sidecar = `${socket}.lock`;
  // The sidecar is this protocol's own lock, not the caller's: no network-filesystem warning.
  const lock = tryLockFileSync(sidecar, { onNetworkFilesystem: 'lock' });
  if (lock !== null) return lock;
  if (deadline === undefined || call.wait.timeout === 0) {
    const fields = { errno: EAGAIN, syscall: 'flock', path: socket, cause: fromErrno(EAGAIN, 'flock', { path: sidecar }) };
    // The holder answers a probe when it listens: its credentials are cheap to know then.
    throw withReason(heldBy(systemMessage('ELOCKED', 'lock is held', 'flock', { path: sidecar }), fields, connectedHolder(binding.unixConnect(address))), reason);
  }
  try {
    return await lockFile(sidecar, { onNetworkFilesystem: 'lock', ...remainingWait(call, deadline) });
  } catch (error) {
    throw error instanceof LockTimeoutError ? withReason(deadline.timedOut(), reason) : error;
  }
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
