// The primary's streams on an attached launch's stdin, stdout and stderr. The primary serves every
// launch from one event loop, so it never blocks on a launch's descriptor (a terminal stopped with
// Ctrl-S, a pipe nobody reads): its writes are non-blocking and buffered by the stream ('drain'),
// through the addon on every runtime (Node's tty streams make writes blocking; Deno's fs and Bun's
// net cannot adopt a descriptor they did not open). The launch's own open file descriptions keep
// their flags: a terminal or pipe is reopened through /proc/self/fd, as libuv reopens a tty, into
// a non-blocking description of the primary's own; a socket is read and written with
// MSG_DONTWAIT; a regular file or memory device never blocks.
import { constants } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { isatty } from 'node:tty';
import { classifyFilesystem } from '../filesystem';
import { READABLE, WRITABLE, binding, type FdWatch } from '../internal/binding';
import { deviceNumber } from '../internal/device-number';
import { errnoOf, fromErrno } from '../internal/errno';
import { describe } from '../internal/system-message';

const EAGAIN = errnoOf('EAGAIN');
const { O_ACCMODE = 3, O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOCTTY, S_IFMT, S_IFREG, S_IFCHR, S_IFIFO, S_IFSOCK } = constants as typeof constants & { O_ACCMODE?: number };
/** Major 5: /dev/tty (the opener's own terminal, not the launch's), /dev/console, /dev/ptmx. */
const TTYAUX_MAJOR = 5;
const MEMORY_MAJOR = 1;
/** /dev/null, zero, full, random and urandom: never block. */
const MEMORY_MINORS = new Set([3, 5, 7, 8, 9]);
/** Kernel interfaces whose regular files can block a read (/proc/kmsg, tracefs's trace_pipe). */
const BLOCKING_PSEUDO_FILESYSTEMS = new Set(['proc', 'sysfs', 'debugfs', 'tracefs']);

export interface Stdio {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

interface Io {
  read(fd: number, max: number): Buffer | number;
  write(fd: number, buffer: Buffer, offset: number): number;
}
const SOCKET_IO: Io = { read: (fd, max) => binding.socketRecv(fd, max), write: (fd, buffer, offset) => binding.socketSend(fd, buffer, offset) };
const FILE_IO: Io = { read: (fd, max) => binding.fdRead(fd, max), write: (fd, buffer, offset) => binding.fdWrite(fd, buffer, offset) };

/**
 * A descriptor the stream owns, and its one watch: resume runs once fd is ready or hung up. The
 * watch is the epoll thread's on every runtime: Node's uv_poll would set a launch's socket, which
 * is the launch's own open file, non-blocking.
 */
class Descriptor {
  readonly #watch: FdWatch;
  #resume: (() => void) | undefined;

  constructor(
    readonly fd: number,
    readonly io: Io,
    readonly terminal = false,
  ) {
    this.#watch = new binding.FdWatchOnThread(() => {
      const resume = this.#resume;
      this.stop();
      resume?.();
    });
  }

  /** Calls resume once fd is ready for events: 0, or -errno if it cannot be watched. */
  wait(events: number, resume: () => void): number {
    this.#resume = resume;
    const started = this.#watch.start(this.fd, events);
    if (started < 0) this.#resume = undefined;
    return started;
  }

  stop(): void {
    this.#resume = undefined;
    this.#watch.stop();
  }

  close(): void {
    this.stop(); // before the fd closes: no watch outlives it
    binding.close(this.fd);
  }
}

type Callback = (error?: Error | null) => void;

/** A stream's destroy(): closes descriptor at once. */
function closing(descriptor: Descriptor): (error: Error | null, callback: Callback) => void {
  return (error, callback) => {
    descriptor.close();
    callback(error);
  };
}

/**
 * stream on descriptor: isTTY on a terminal, as Node's tty streams, and its errors (EPIPE once the
 * launch's reader is gone) its own, never the primary's: the app sees them with a listener.
 */
function owning<S extends Readable | Writable>(stream: S, descriptor: Descriptor): S {
  stream.on('error', () => {});
  if (descriptor.terminal) Object.assign(stream, { isTTY: true });
  return stream;
}

function readableOn(descriptor: Descriptor): Readable {
  const { fd, io } = descriptor;
  const read = (size: number): void => {
    const chunk = io.read(fd, size);
    if (chunk === EAGAIN) {
      const waiting = descriptor.wait(READABLE, () => read(size));
      if (waiting < 0) stream.destroy(fromErrno(waiting, 'epoll_ctl', {}));
    } else if (typeof chunk === 'number') stream.destroy(fromErrno(chunk, 'read', {}));
    // Pushed from the event loop's next turn: a source that is never empty (/dev/zero, a big
    // file, a fast writer) would otherwise keep the stream reading in one tick, every launch waiting.
    else setImmediate(() => stream.push(chunk.length === 0 ? null : chunk));
  };
  const stream = new Readable({ read, destroy: closing(descriptor) });
  return owning(stream, descriptor);
}

function writableOn(descriptor: Descriptor): Writable {
  const { fd, io } = descriptor;
  const writeFrom = (chunk: Buffer, offset: number, callback: Callback): void => {
    while (offset < chunk.length) {
      const written = io.write(fd, chunk, offset);
      if (written === EAGAIN) {
        const waiting = descriptor.wait(WRITABLE, () => writeFrom(chunk, offset, callback));
        if (waiting < 0) callback(fromErrno(waiting, 'epoll_ctl', {}));
        return;
      }
      if (written < 0) {
        callback(fromErrno(written, 'write', {}));
        return;
      }
      offset += written;
    }
    callback();
  };
  const stream = new Writable({
    destroy: closing(descriptor),
    write: (chunk: Buffer, _encoding, callback: Callback) => writeFrom(chunk, 0, callback),
    // What piled up while the descriptor was full, in as few writes as it takes.
    writev: (chunks: { chunk: Buffer }[], callback: Callback) => writeFrom(Buffer.concat(chunks.map(({ chunk }) => chunk)), 0, callback),
  });
  return owning(stream, descriptor);
}

type Role = 'stdin' | 'stdout' | 'stderr';

/** A terminal or pipe reopened non-blocking for role (fd then closed), or why it cannot be. */
function reopened(fd: number, role: Role, what: 'a pipe' | 'a terminal'): Descriptor | string {
  const mode = role === 'stdin' ? O_RDONLY : O_WRONLY;
  const own = binding.open(`/proc/self/fd/${fd}`, mode | O_NONBLOCK | O_NOCTTY, 0);
  if (own < 0) return `${what} the primary cannot reopen (${describe(own)[0]})`;
  binding.close(fd);
  return new Descriptor(own, FILE_IO, what === 'a terminal');
}

/**
 * A regular file is read and written directly, unless its filesystem can make that wait: a
 * network or FUSE filesystem (its server), or a kernel interface such as /proc/kmsg.
 */
function regularFile(fd: number): Descriptor | string {
  const magic = binding.statfsType(`/proc/self/fd/${fd}`);
  if (magic < 0) return `a file whose filesystem the primary cannot name (${describe(magic)[0]})`;
  const { name, network } = classifyFilesystem(magic);
  if (network || BLOCKING_PSEUDO_FILESYSTEMS.has(name)) return `a file on ${name}, whose reads and writes may block`;
  return new Descriptor(fd, FILE_IO);
}

/** What the primary reads (stdin) or writes (stdout, stderr) through, taking fd; or why fd cannot be role. */
function descriptorFor(fd: number, role: Role): Descriptor | string {
  const flags = binding.fileStatusFlags(fd);
  const stats = binding.fstat(fd);
  if (flags < 0 || typeof stats === 'number') return 'not an open descriptor';
  if ((flags & binding.O_PATH) !== 0) return 'an O_PATH descriptor, which is neither read nor written';
  const access = flags & O_ACCMODE;
  if (role === 'stdin' ? access === O_WRONLY : access === O_RDONLY) return `open only for ${role === 'stdin' ? 'writing' : 'reading'}`;
  const [mode, , , rdev] = stats;
  const type = mode & S_IFMT;
  if (type === S_IFREG) return regularFile(fd);
  if (type === S_IFIFO) return reopened(fd, role, 'a pipe');
  if (type === S_IFSOCK) {
    const info = binding.socketInfo(fd);
    if (typeof info === 'number' || !info[1]) return 'a socket that is not a stream';
    return info[2] ? 'a listening socket' : new Descriptor(fd, SOCKET_IO);
  }
  if (type === S_IFCHR) {
    const { major, minor } = deviceNumber(rdev);
    if (isatty(fd)) return major === TTYAUX_MAJOR ? 'a terminal the primary cannot reopen as the launch\'s (/dev/tty, /dev/console or a pseudo-terminal master)' : reopened(fd, role, 'a terminal');
    if (major === MEMORY_MAJOR && MEMORY_MINORS.has(minor)) return new Descriptor(fd, FILE_IO);
    return 'a device that may block';
  }
  return 'not a terminal, pipe, stream socket, regular file or memory device';
}

/** Why the primary refused an attached launch's descriptors: which one (-1: not three), and why. */
export interface Refusal {
  index: number;
  why: string;
}

const ROLES: readonly Role[] = ['stdin', 'stdout', 'stderr'];

/**
 * Streams on an attached launch's stdin, stdout and stderr, taking the three fds; or the Refusal
 * of the first that cannot be its stdio (every fd closed then).
 */
export function stdioOf(fds: readonly number[]): Stdio | Refusal {
  if (fds.length !== ROLES.length) {
    for (const fd of fds) binding.close(fd);
    return { index: -1, why: `${fds.length} descriptors, not 3` };
  }
  const descriptors: Descriptor[] = [];
  for (const [index, role] of ROLES.entries()) {
    const descriptor = descriptorFor(fds[index], role);
    if (typeof descriptor === 'string') {
      for (const taken of descriptors) taken.close();
      for (const fd of fds.slice(index)) binding.close(fd);
      return { index, why: descriptor };
    }
    descriptors.push(descriptor);
  }
  return { stdin: readableOn(descriptors[0]), stdout: writableOn(descriptors[1]), stderr: writableOn(descriptors[2]) };
}
