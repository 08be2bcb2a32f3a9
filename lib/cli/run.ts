// `solely run`: take the lock, run COMMAND under it with the signals it is sent, exit with its status.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { LockTimeoutError, type Holder, type SolelyError } from '../errors';
import { describeHolder } from '../internal/holder-message';
import { describeError, parseSubcommand, RUN_HELP, RUN_OPTIONS, UsageError } from './args';
import { lockAroundCommand, type LockAroundCommand } from './lock-kinds';
import { closeUnaskedInspector, forwardSignals } from './signals';

const EX_UNAVAILABLE = 69;
/** After a lost lock, COMMAND gets SIGTERM, then SIGKILL if it is still running this much later. */
const LOST_KILL_MS = 10_000;

type HeldError = SolelyError & { holder?: Holder };

function isLockHeld(error: unknown): error is HeldError {
  const code = (error as SolelyError | undefined)?.code;
  // A wait that ran out counts as held; a connect that timed out (a system error ETIMEDOUT) is a failure.
  return code === 'ELOCKED' || error instanceof LockTimeoutError;
}

function heldMessage(error: HeldError, target: string): string {
  const holder = describeHolder(error.holder);
  const by = holder === '' ? '' : ` by ${holder}`;
  return error.code === 'ETIMEDOUT' ? `solely: timed out waiting for ${target}` : `solely: ${target} is held${by}`;
}

/** Until COMMAND runs, a reload or log-reopen request has nothing to act on: it is ignored, never fatal. */
function ignoreUserSignal(): void {}

export async function run(args: string[]): Promise<number> {
  // SIGUSR1 has main.ts's listener; SIGUSR2 would kill this wrapper while it waits for the lock.
  process.on('SIGUSR2', ignoreUserSignal);
  try {
    return await runCommand(args);
  } finally {
    process.off('SIGUSR2', ignoreUserSignal);
  }
}

async function runCommand(args: string[]): Promise<number> {
  const options = parseSubcommand(args, RUN_OPTIONS, RUN_HELP);
  if (options === null) return 0;
  const [command, ...commandArgs] = options.rest;
  if (command === undefined) throw new UsageError('give the COMMAND to run');

  let lock: LockAroundCommand;
  try {
    lock = await lockAroundCommand(options);
  } catch (error) {
    if (!isLockHeld(error)) throw error;
    if (!options.quiet) process.stderr.write(`${heldMessage(error, options.key ?? options.target.value)}\n`);
    return options.conflictExitCode;
  }

  // A SIGUSR1/SIGUSR2 that came while we waited can still sit in libuv's signal pipe behind the
  // wake-up that gave us the lock: one turn of the loop lets the ignoring listener take it, so it is
  // never forwarded to a COMMAND that has not yet set up its handlers.
  await new Promise<void>((resolve) => setImmediate(resolve));
  await closeUnaskedInspector();
  const signals = forwardSignals();
  const child = spawn(command, commandArgs, {
    stdio: lock.inheritedFd === undefined ? 'inherit' : ['inherit', 'inherit', 'inherit', lock.inheritedFd],
    env: { ...process.env, ...lock.env },
  });
  signals.to(child);
  let lost = false;
  lock.onLost((error) => {
    lost = true;
    process.stderr.write(`solely: ${error.message}; sent SIGTERM to ${command}\n`);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), LOST_KILL_MS).unref();
  });

  return new Promise<number>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      const notFound = error.code === 'ENOENT';
      process.stderr.write(`solely: ${command}: ${notFound ? 'command not found' : error.message}\n`);
      finish(notFound ? 127 : 126);
    });
    child.once('spawn', () => {
      try {
        if (child.pid !== undefined) lock.started(child.pid);
      } catch (error) {
        process.stderr.write(`solely: ${(error as SolelyError).message}\n`);
        child.kill('SIGTERM');
      }
    });
    child.once('exit', (code, signal) => {
      if (lost) finish(EX_UNAVAILABLE);
      else finish(signal === null ? (code ?? 1) : 128 + (constants.signals[signal] ?? 0));
    });
    let finished = false;
    const finish = (status: number): void => {
      if (finished) return;
      finished = true;
      signals.stop();
      // A failure to let go, thrown or rejected, is said; COMMAND's status stands.
      void Promise.resolve()
        .then(() => lock.finish())
        .catch((error: unknown) => process.stderr.write(`${describeError(error)}\n`))
        .then(() => resolve(status));
    };
  });
}
