// `solely lock --fd N` and `solely unlock --fd N`: flock(1)'s `flock N` and `flock -u N` for an fd
// the shell opened (`exec 9>/run/lock/x`). The lock belongs to the open file description this
// process inherited and shares with the shell, so it outlives this process, as with flock(1).
/* eslint-disable @typescript-eslint/no-require-imports */
import { constants, readlinkSync } from 'node:fs';
import { LockTimeoutError } from '../errors';
import { byHolder, printable } from '../internal/holder-message';
import { binding } from '../internal/binding';
import { errnoOf, fromErrno } from '../internal/errno';
import { fdStats, type FileId } from '../internal/pid-in-file';
import { lockFailure, type FileTarget } from '../internal/file-attempt';
import { unwatchFile, watchFile } from '../internal/file-events';
import { lazy } from '../internal/lazy-modules';
import { parseWait } from '../internal/options';
import { waitFor, type Waiter } from '../internal/wait';
import { LOCK_OPTIONS, parseOptions, UNLOCK_OPTIONS, UsageError, type Parsed } from './args';

const holder = lazy(() => require('../internal/holder') as typeof import('../internal/holder'));

export const LOCK_HELP = `usage: solely lock [-n | -w SECONDS | --wait[=SECONDS]] [--fcntl] [-E N] [-q] [-v] --fd N

Locks the file open as fd N (inherited from the shell: exec 9>/run/lock/x), as flock N does. The
lock belongs to the shell's open file: it lasts until the shell closes fd N, or solely unlock --fd N.
  -n, --nonblock           fail at once if held (the default)
  -w, --timeout SECONDS    wait up to SECONDS; --wait alone waits without end
  --fcntl                  an OFD lock instead of flock(2)
  -E, --conflict-exit-code N   exit status when held (default 75)
Exit status: 0 locked; 75 (or N) held; 64 usage error; 1 any other failure (EBADF: fd N is not open).`;

export const UNLOCK_HELP = `usage: solely unlock [--fcntl] --fd N

Unlocks the file open as fd N, as flock -u N does: for every process that shares that open file.`;

const fileOf = ({ mode, dev, ino }: FileId) => ({ dev, ino, isFile: () => (mode & constants.S_IFMT) === constants.S_IFREG });

/** The fd the options name, with the path it is open at (for messages) and the lock method. */
function fdTarget(options: Parsed | null): { fd: number; target: FileTarget } | null {
  if (options === null) return null;
  if (options.fd === undefined) throw new UsageError('give --fd N');
  if (options.rest.length > 0) throw new UsageError(`unexpected argument ${options.rest[0]}`);
  const { fd } = options;
  // The addon's fstat: Deno's node:fs knows only the fds it opened itself, not inherited ones.
  const { mode } = fdStats(fd, `/proc/self/fd/${fd}`);
  // A number the shell left closed may be one of the runtime's own fds by now (an epoll, an
  // eventfd, a pipe): only a file or a directory is one the shell opened to lock.
  const type = mode & constants.S_IFMT;
  if (type !== constants.S_IFREG && type !== constants.S_IFDIR) {
    throw fromErrno(errnoOf('EBADF'), 'flock', { path: `/proc/self/fd/${fd}` }, new Error(`fd ${fd} is not a file the shell opened`));
  }
  let path = `/proc/self/fd/${fd}`;
  try {
    path = readlinkSync(path);
  } catch {
    // no /proc: messages name the fd
  }
  const method = options.fcntl ? 'fcntl' : 'flock';
  return { fd, target: { kind: 'file', path, method, shared: false, methodCode: binding.lockMethods[method], mode: 0, onNetworkFilesystem: 'lock' } };
}

const ESTALE = errnoOf('ESTALE');

/** Attempts on the inherited fd, woken by inotify when any holder closes the file. */
class InheritedFdWaiter implements Waiter<true> {
  readonly #fd: number;
  readonly #target: FileTarget;
  #wd = -1;
  #wake: (() => void) | undefined;

  constructor(fd: number, target: FileTarget) {
    this.#fd = fd;
    this.#target = target;
  }

  attempt(): true | null {
    const rc = binding.lockVerified(this.#fd, this.#target.path, this.#target.methodCode);
    // ESTALE comes only after the lock was taken: the path no longer names the file (renamed,
    // unlinked), but the lock is on the fd's file, which is what was asked.
    if (rc === 0 || rc === ESTALE) return true;
    lockFailure(rc, this.#target); // throws what is not contention
    return null;
  }

  arm(wake: () => void): void {
    if (this.#wd >= 0) return;
    const wd = watchFile(this.#fd, wake);
    if (wd < 0) return; // the fallback poll serves
    this.#wd = wd;
    this.#wake = wake;
  }

  disarm(): void {
    if (this.#wd >= 0 && this.#wake !== undefined) unwatchFile(this.#wd, this.#wake);
    this.#wd = -1;
  }
}

export async function lockFd(args: string[]): Promise<number> {
  const options = parseOptions(args, LOCK_OPTIONS, LOCK_HELP);
  const found = fdTarget(options);
  if (options === null || found === null) return 0;
  const { fd, target } = found;
  const asked = performance.now();
  const where = printable(target.path); // one line: a path may hold a newline or a terminal escape
  const waiter = new InheritedFdWaiter(fd, target);
  const wait = parseWait({ wait: options.wait });
  try {
    if (wait.timeout > 0) await waitFor(waiter, wait, { path: target.path });
    else if (waiter.attempt() === null) return held(options, `${where} is held${byHolder(holder().fileHolderOf(fileOf(fdStats(fd, target.path)), target.path))}`);
  } catch (error) {
    if (!(error instanceof LockTimeoutError)) throw error;
    return held(options, `timed out waiting for ${where}`);
  }
  if (options.verbose) process.stderr.write(`solely: took ${where} in ${((performance.now() - asked) / 1000).toFixed(3)} seconds\n`);
  return 0;
}


/** The conflict: said (unless --quiet), and its exit status. */
function held(options: Parsed, message: string): number {
  if (!options.quiet) process.stderr.write(`solely: ${message}\n`);
  return options.conflictExitCode;
}

export function unlockFd(args: string[]): number {
  const found = fdTarget(parseOptions(args, UNLOCK_OPTIONS, UNLOCK_HELP));
  if (found === null) return 0;
  // Unlocks the open file for all who share it; closes only this process's copy of the fd.
  const rc = binding.unlockClose(found.fd, found.target.methodCode);
  if (rc < 0) throw fromErrno(rc, found.target.method, { path: found.target.path });
  return 0;
}
