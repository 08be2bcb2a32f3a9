// One run of COMMAND under the lock: spawned with the lock's fd and environment, the forwarded
// signals retargeted to it, ended after --max-runtime; its exit as `solely run` reports it.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { SolelyError } from '../errors';
import { printable } from '../internal/holder-message';
import type { Parsed } from './args';
import type { LockAroundCommand } from './lock-kinds';
import { passedFds, stdioWithPassedFds } from './passed-fds';
import { signalChild, type SignalForwarding } from './signals';

const GUARD = join(__dirname, 'guard.js');

/** timeout(1)'s status when COMMAND ran out of time (--max-runtime). */
export const EX_EXPIRED = 124;

/** SIGTERM now, SIGKILL after ms if it still runs; the returned function cancels the SIGKILL. */
export function terminate(child: ChildProcess, ms: number): () => void {
  signalChild(child, 'SIGTERM');
  const timer = setTimeout(() => signalChild(child, 'SIGKILL'), ms);
  return () => clearTimeout(timer);
}

/** Says why COMMAND could not run; its status: 127 not found, 126 otherwise. */
function notRunnable(command: string, code: string | undefined, message = ''): number {
  const notFound = code === 'ENOENT';
  process.stderr.write(`solely: ${printable(command)}: ${notFound ? 'command not found' : printable(message)}\n`);
  return notFound ? 127 : 126;
}

/**
 * Spawns commandLine under lock, calls spawned(child) as soon as it exists, and resolves with the
 * status `solely run` exits with: COMMAND's, 128+N if killed by signal N, 126/127 if it could not
 * run, EX_EXPIRED if --max-runtime ended it.
 */
export function runChild(commandLine: string[], lock: LockAroundCommand, signals: SignalForwarding, options: Parsed, spawned: (child: ChildProcess) => void): Promise<number> {
  const [command, ...args] = commandLine;
  if (options.verbose) process.stderr.write(`solely: running ${printable(commandLine.join(' '))}\n`);
  // No file has the empty name, as execvp(3) finds (spawn would throw instead).
  if (command === '') return Promise.resolve(notRunnable(command, 'ENOENT'));
  // Through the guard, COMMAND gets SIGTERM if this process dies (even SIGKILLed) with its lock.
  const passed = passedFds();
  const [file, argv] = lock.diesWithWrapper ? [process.execPath, [GUARD, String(process.pid), passed.join(','), '--', ...commandLine]] : [command, args];
  const child = spawn(file, argv, {
    stdio: stdioWithPassedFds(passed, lock.inheritedFd),
    env: { ...process.env, ...lock.env },
  });
  signals.to(child);
  spawned(child);
  let expired = false;
  let cancelKill = (): void => {};
  const deadline = options.maxRuntime === undefined ? undefined : setTimeout(() => {
    expired = true;
    if (!options.quiet) process.stderr.write(`solely: ${printable(command)} ran for ${options.maxRuntime! / 1000} s (--max-runtime): sent SIGTERM\n`);
    cancelKill = terminate(child, options.killAfter);
  }, options.maxRuntime);

  return new Promise<number>((resolve) => {
    const done = (status: number): void => {
      clearTimeout(deadline);
      cancelKill();
      resolve(status);
    };
    child.once('error', (error: NodeJS.ErrnoException) => done(notRunnable(command, error.code, error.message)));
    child.once('spawn', () => {
      try {
        if (child.pid !== undefined) lock.started(child.pid);
      } catch (error) {
        process.stderr.write(`solely: ${(error as SolelyError).message}\n`);
        signalChild(child, 'SIGTERM');
      }
    });
    child.once('exit', (code, signal) => {
      if (expired) done(EX_EXPIRED);
      else done(signal === null ? (code ?? 1) : 128 + (constants.signals[signal] ?? 0));
    });
  });
}
