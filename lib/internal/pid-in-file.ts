// The PID a file claims, read without blocking and never whole: a pidfile's contents, and the
// lead a file lock's holder is looked up by (solely run --pidfile writes COMMAND's there). Reads go
// through the addon: a runtime's fs may not know an fd the addon opened (Deno's does not).
import { constants } from 'node:fs';
import { binding } from './binding';
import { fromErrno } from './errno';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, S_IFMT, S_IFREG } = constants;
/** Reads never wait: a FIFO planted at the path would block open() until a writer came. */
export const READ = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
export const MAX_PID = 2 ** 31 - 1;
// '2147483647\n': one byte more is read, so that a longer file is seen to hold no PID.
const MAX_PID_TEXT = 11;

/** What identifies a file, and its type. */
export interface FileId {
  mode: number;
  dev: bigint;
  ino: bigint;
}

/** fstat(2) of an fd the addon opened. */
export function fdStats(fd: number, path: string): FileId {
  const stats = binding.fstat(fd);
  if (typeof stats === 'number') throw fromErrno(stats, 'fstat', { path });
  return { mode: stats[0], dev: stats[1], ino: stats[2] };
}

/** The PID a pidfile claims: a positive decimal, alone (a newline after it is accepted), or null. */
function parsePid(text: string): number | null {
  const match = /^(\d{1,10})\n?$/.exec(text);
  const pid = match === null ? 0 : Number(match[1]);
  return pid > 0 && pid <= MAX_PID ? pid : null;
}

/** The PID in the file fd refers to, from a bounded prefix; none in a FIFO, socket or device. */
export function pidIn(fd: number, stats: FileId, path: string): number | null {
  if ((stats.mode & S_IFMT) !== S_IFREG) return null;
  const prefix = binding.pidfileRead(fd, MAX_PID_TEXT + 1);
  if (typeof prefix === 'number') throw fromErrno(prefix, 'read', { path });
  return parsePid(prefix.toString('latin1'));
}

/** The PID the file at path claims, or null: none there, or it cannot be read. Never throws. */
export function readPid(path: string): number | null {
  const fd = binding.open(path, READ, 0);
  if (fd < 0) return null;
  try {
    return pidIn(fd, fdStats(fd, path), path);
  } catch {
    return null;
  } finally {
    binding.close(fd);
  }
}
