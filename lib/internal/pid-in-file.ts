// The PID a file claims, read without blocking and never whole: a pidfile's contents, and the
// lead a file lock's holder is looked up by (solely run --pidfile writes COMMAND's there).
import { constants, fstatSync, readSync, type BigIntStats } from 'node:fs';
import { binding } from './binding';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;
/** Reads never wait: a FIFO planted at the path would block open() until a writer came. */
export const READ = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
export const MAX_PID = 2 ** 31 - 1;
// '2147483647\n': one byte more is read, so that a longer file is seen to hold no PID.
const MAX_PID_TEXT = 11;

/** The PID a pidfile claims: a positive decimal, alone (a newline after it is accepted), or null. */
function parsePid(text: string): number | null {
  const match = /^(\d{1,10})\n?$/.exec(text);
  const pid = match === null ? 0 : Number(match[1]);
  return pid > 0 && pid <= MAX_PID ? pid : null;
}

/** The PID in the file fd refers to, from a bounded prefix; none in a FIFO, socket or device. */
export function pidIn(fd: number, stats: BigIntStats): number | null {
  if (!stats.isFile()) return null;
  const prefix = Buffer.alloc(MAX_PID_TEXT + 1);
  const length = readSync(fd, prefix, 0, prefix.length, 0);
  return parsePid(prefix.toString('latin1', 0, length));
}

/** The PID the file at path claims, or null: none there, or it cannot be read. Never throws. */
export function readPid(path: string): number | null {
  const fd = binding.open(path, READ, 0);
  if (fd < 0) return null;
  try {
    return pidIn(fd, fstatSync(fd, { bigint: true }));
  } catch {
    return null;
  } finally {
    binding.close(fd);
  }
}
