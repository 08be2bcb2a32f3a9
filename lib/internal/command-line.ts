// A process's command line as the kernel has it: process.argv is lossy for arguments that are
// not UTF-8 (Node decodes them to U+FFFD), so a secondary forwards, and the CLI checks, the bytes.
import { closeSync, openSync, readSync } from 'node:fs';

const END_OF_OPTIONS = Buffer.from('--');

/**
 * /proc/<pid>/cmdline, NUL-terminated arguments; throws as fs does (gone, hidden, no /proc). Read
 * into one buffer: a /proc file says its size is 0, and readFileSync then reads it through 64 KB
 * allocations, about 0.2 ms a read, which a secondary launch paid twice.
 */
export function rawCommandLine(pid: number | 'self'): Buffer {
  const fd = openSync(`/proc/${pid}/cmdline`, 'r');
  try {
    let buffer = Buffer.allocUnsafe(4096);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) return buffer.subarray(0, length);
      length += read;
      if (length === buffer.length) buffer = Buffer.concat([buffer, Buffer.allocUnsafe(buffer.length)]);
    }
  } finally {
    closeSync(fd);
  }
}

/** Splits /proc/self/cmdline into its arguments, exact bytes, indexed as process.argv. */
export function commandLine(): Buffer[] {
  let raw: Buffer | undefined;
  try {
    raw = rawCommandLine('self');
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
    // argv0, then node's own options (process.execArgv, each as given: `-r X` is two, `--require=X`
    // one), then a `--` that ends them if one was given (in neither list), then what process.argv
    // has after argv0. Any other shape (process.title rewrote the memory) falls back to process.argv.
    const own = process.execArgv.length;
    const rest = process.argv.length - 1;
    const ended = args.length === 2 + own + rest && args[1 + own].equals(END_OF_OPTIONS);
    if (ended || args.length === 1 + own + rest) {
      args.splice(1, own + (ended ? 1 : 0));
      return args;
    }
    // Bun's and Deno's own options (`run -A`) are in neither list, but on every runtime the
    // arguments after the script end the command line: theirs are exact, once they decode to
    // what process.argv has.
    const after = process.argv.length - 2;
    const tail = after > 0 && args.length > after ? args.slice(args.length - after) : [];
    if (tail.length > 0 && tail.every((arg, i) => arg.toString('utf8') === process.argv[2 + i])) return [...process.argv.slice(0, 2).map(utf8), ...tail];
  }
  return process.argv.map(utf8);
}

function utf8(arg: string): Buffer {
  return Buffer.from(arg, 'utf8');
}
