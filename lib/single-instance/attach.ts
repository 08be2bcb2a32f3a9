// The primary's side of attach: after the request, the secondary passes its stdin, stdout and
// stderr over the connection (SCM_RIGHTS, one message "stdio" with three descriptors), and the
// primary wraps them in streams, so that its writes go straight to the launch's terminal or pipe.
import { fstatSync, createReadStream, createWriteStream } from 'node:fs';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import * as tty from 'node:tty';
import { binding } from '../internal/binding';
import { errnoOf, invalidArgument } from '../internal/errno';
import * as lazy from '../internal/lazy-modules';
import { resumeReading, socketFd, suspendReading } from '../internal/node-internals';
import { STDIO_TEXT } from './protocol';

const EAGAIN = errnoOf('EAGAIN');
const EXIT_CODE_MAX = 255;

/** Throws ERR_INVALID_ARG_VALUE unless code is an exit status: an integer from 0 to 255. */
export function checkExitCode(code: unknown): void {
  if (!Number.isInteger(code) || (code as number) < 0 || (code as number) > EXIT_CODE_MAX) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'code', `an integer from 0 to ${EXIT_CODE_MAX}`, code);
  }
}

export interface Stdio {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/**
 * A stream on fd, which it owns from here on, or null for a descriptor that is no stdio: a
 * terminal (tty streams reopen it, so the launch's terminal keeps its flags), a pipe or stream
 * socket (net, non-blocking), a file or character device (fs). Errors (EPIPE when the launch's
 * reader is gone) are the stream's, never the primary's: an app sees them with its own listener.
 */
function streamOn(fd: number, readable: boolean): Readable | Writable | null {
  try {
    const stats = fstatSync(fd);
    let stream: Readable | Writable | null = null;
    if (tty.isatty(fd)) stream = readable ? new tty.ReadStream(fd) : new tty.WriteStream(fd);
    else if (stats.isFIFO() || stats.isSocket()) stream = new (lazy.net().Socket)({ fd, readable, writable: !readable });
    else if (stats.isFile() || stats.isCharacterDevice()) stream = readable ? createReadStream('', { fd }) : createWriteStream('', { fd });
    stream?.on('error', () => {});
    return stream;
  } catch {
    return null; // a datagram socket, an fd net cannot take
  }
}

/** Streams on the three descriptors (taking them), or null (all of them closed) if one cannot be stdio. */
export function stdioOf(fds: readonly number[]): Stdio | null {
  const streams = fds.length === 3 ? fds.map((fd, i) => streamOn(fd, i === 0)) : [];
  if (streams.length === 3 && streams.every((stream) => stream !== null)) {
    const [stdin, stdout, stderr] = streams as [Readable, Writable, Writable];
    return { stdin, stdout, stderr };
  }
  for (const [i, fd] of fds.entries()) {
    const stream = streams[i];
    if (stream) stream.destroy();
    else binding.close(fd);
  }
  return null;
}

/**
 * Closes our copies of the launch's descriptors, stdout and stderr once what was written reached
 * them (never end(): shutting a socket down would shut it for the launch too), then calls done.
 */
export function closeStdio(stdio: Stdio, done: () => void): void {
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

/**
 * Waits, with libuv's reading suspended, for the secondary's descriptors on socket: onFds(fds) once
 * they came with the right text (resuming reading, to see the launch hang up), onFds(null) if the
 * peer hung up or sent something else. The returned function stops waiting; call it before the
 * socket closes, so that no watch outlives its fd.
 */
export function receiveFds(socket: Socket, onFds: (fds: number[] | null) => void): () => void {
  const fd = socketFd(socket);
  let finished = false;
  const watch = new binding.FdWatch(() => {
    const received = binding.recvFds(fd);
    if (received === EAGAIN) return;
    finish();
    if (typeof received === 'number') onFds(null);
    else if (received[0].toString('latin1') !== STDIO_TEXT) {
      for (const passed of received[1]) binding.close(passed);
      onFds(null);
    } else {
      resumeReading(socket);
      onFds(received[1]);
    }
  });
  const finish = (): void => {
    if (finished) return;
    finished = true;
    watch.stop();
  };
  if (fd < 0 || suspendReading(socket) < 0 || watch.start(fd) < 0) {
    finish();
    queueMicrotask(() => onFds(null));
  }
  return finish;
}
