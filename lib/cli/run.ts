// `solely run`: take the lock, run COMMAND under it with the signals it is sent, exit with its status.
import type { ChildProcess } from 'node:child_process';
import { LockTimeoutError, type Holder, type SolelyError } from '../errors';
import { byHolder, describeSlots, printable } from '../internal/holder-message';
import { absolutePath } from '../internal/path';
import { describeError, parseSubcommand, RUN_OPTIONS, UsageError, type WithTarget } from './args';
import { RUN_HELP } from './help';
import { runChild, terminate } from './child';
import { commandLockName } from './derived-lock';
import { lockAroundCommand, type LockAroundCommand } from './lock-kinds';
import { EX_NOT_REPLACED, lockReplacing, NotReplacedError } from './replace';
import { respawn } from './respawn';
import { closeUnaskedInspector, forwardSignals } from './signals';

const EX_UNAVAILABLE = 69;
/** After a lost lock, COMMAND gets SIGTERM, then SIGKILL if it is still running this much later. */
const LOST_KILL_MS = 10_000;

type HeldError = SolelyError & { holder?: Holder; holders?: Array<Holder | null> };

function isLockHeld(error: unknown): error is HeldError {
  const code = (error as SolelyError | undefined)?.code;
  // A wait that ran out counts as held; a connect that timed out (a system error ETIMEDOUT) is a failure.
  return code === 'ELOCKED' || error instanceof LockTimeoutError;
}

function heldMessage({ code, holder, holders }: HeldError, target: string): string {
  if (code === 'ETIMEDOUT') return `solely: timed out waiting for ${target}`;
  // With --slots, every slot is held: each one's holder.
  return holders === undefined ? `solely: ${target} is held${byHolder(holder)}` : `solely: ${target}: all ${holders.length} slots are held (${describeSlots(holders)})`;
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

/** What the options combine to, refused before anything is locked. */
function checkCombination({ target: { kind }, fcntl, replace }: WithTarget): void {
  if (fcntl && kind !== 'file' && kind !== 'pidfile') throw new UsageError('--fcntl locks a --file or --pidfile');
  if (replace && kind === 'postgres') throw new UsageError('--replace cannot verify a PostgreSQL lock\'s holder: use it with --abstract, --file, --pidfile or no target');
}

/** The lock as `solely list` names it: an abstract name with its @, a path made absolute. */
function lockName({ target: { kind, value }, key }: WithTarget): string {
  if (kind === 'abstract') return `@${value}`;
  return kind === 'file' || kind === 'pidfile' ? absolutePath(value) : (key ?? value);
}

async function runCommand(args: string[]): Promise<number> {
  const options = parseSubcommand(args, RUN_OPTIONS, RUN_HELP, commandLockName);
  if (options === null) return 0;
  if (options.rest.length === 0) throw new UsageError('give the COMMAND to run');
  checkCombination(options);
  // Said on one line: a name or path may hold a newline or a terminal escape.
  const target = printable(options.derived ? `@${options.target.value}` : (options.key ?? options.target.value));
  const say = (line: string): void => void (options.verbose && process.stderr.write(`${line}\n`));

  const asked = performance.now();
  let lock: LockAroundCommand;
  try {
    lock = options.replace ? await lockReplacing(options, say) : await lockAroundCommand(options);
  } catch (error) {
    if (error instanceof NotReplacedError) {
      process.stderr.write(`solely: ${target}: ${error.message}\n`);
      return EX_NOT_REPLACED;
    }
    if (!isLockHeld(error)) throw error;
    if (!options.quiet) process.stderr.write(`${heldMessage(error, target)}\n`);
    return options.conflictExitCode;
  }
  say(`solely: took ${printable(lockName(options))} in ${((performance.now() - asked) / 1000).toFixed(3)} seconds`);

  // A SIGUSR1/SIGUSR2 that came while we waited can still sit in libuv's signal pipe behind the
  // wake-up that gave us the lock: one turn of the loop lets the ignoring listener take it, so it is
  // never forwarded to a COMMAND that has not yet set up its handlers.
  await new Promise<void>((resolve) => setImmediate(resolve));
  await closeUnaskedInspector();
  const signals = forwardSignals();
  let current: ChildProcess | undefined;
  let lost = false;
  lock.onLost((error) => {
    lost = true;
    process.stderr.write(`solely: ${error.message}; sent SIGTERM to ${printable(options.rest[0])}\n`);
    if (current !== undefined) terminate(current, LOST_KILL_MS);
  });
  const runOnce = (): Promise<number> => runChild(options.rest, lock, signals, options, (child) => (current = child));
  const status = options.respawn ? await respawn(runOnce, options, () => lost) : await runOnce();
  signals.stop();
  try {
    await lock.finish();
  } catch (error) {
    // A failure to let go is said; COMMAND's status stands.
    process.stderr.write(`${describeError(error)}\n`);
  }
  return lost ? EX_UNAVAILABLE : status;
}
