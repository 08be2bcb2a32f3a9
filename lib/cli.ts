#!/usr/bin/env node
// The `solely` command: run a job at most once (cron, daemons), or ask who holds a lock.
// Loads only what the chosen command needs: a run costs little more than `node -e 0`.
import { spawn } from 'node:child_process';
import { existsSync, fstatSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { LockTimeoutError, type Holder, type SolelyError } from './errors';
import type { Lock } from './lock';
import type { Pidfile } from './pidfile';
import type { PostgresLock } from './postgres';

const EX_USAGE = 64;
const EX_UNAVAILABLE = 69;
const EX_TEMPFAIL = 75;
/** After a lost lock, COMMAND gets SIGTERM, then SIGKILL if it is still running this much later. */
const LOST_KILL_MS = 10_000;
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

const TARGETS = '--abstract NAME | --file PATH | --pidfile PATH | --postgres URL --key NAME';

const USAGE = `usage: solely run (${TARGETS}) [--wait[=SECONDS]]
                  [--close] [--conflict-exit-code N] [--quiet] [--] COMMAND [ARGS...]
       solely status [--json] (${TARGETS})
       solely --help | --version`;

const RUN_HELP = `usage: solely run (${TARGETS}) [options] [--] COMMAND [ARGS...]

Runs COMMAND while holding the lock; exits with COMMAND's status (128+N if killed by signal N).

  --abstract NAME          lock the Linux abstract socket name NAME (1 to 107 bytes)
  --file PATH              flock(2) PATH (created with mode 0644 if absent; a directory is locked in place)
  --pidfile PATH           lock PATH as a pidfile and write COMMAND's PID in it; removed when COMMAND exits,
                           unless processes it started still hold the lock: then it names one of them
  --postgres URL --key NAME
                           take the PostgreSQL advisory lock NAME on the server at URL (a session of
                           solely's: solely stays running while COMMAND runs, COMMAND cannot inherit
                           it); COMMAND gets the fencing token in SOLELY_FENCING_TOKEN. If the lock is
                           lost (connection dropped, server silent), COMMAND gets SIGTERM (SIGKILL 10 s
                           later) and solely exits 69
  --wait                   wait for the lock without end (default: do not wait)
  --wait=SECONDS           wait up to SECONDS, then exit with the conflict code
  --close                  keep the lock in solely only (default: COMMAND inherits it as fd 3, as with
                           flock(1), so the lock lives as long as COMMAND even if solely is killed)
  --conflict-exit-code N   exit status when the lock is held (default 75, EX_TEMPFAIL)
  --quiet                  say nothing on stderr when the lock is held

Exit status: COMMAND's; 75 (or N) when the lock is held; 64 usage error; 69 the PostgreSQL lock
was lost while COMMAND ran; 126 COMMAND not executable; 127 COMMAND not found; 1 any other failure.

Signals: SIGTERM and SIGHUP sent to solely are forwarded to COMMAND, and so are SIGINT and SIGQUIT,
except while solely is in its terminal's foreground process group and COMMAND still is too: Ctrl-C
and Ctrl-\\ then reach COMMAND from the terminal, once. A signal sent to solely's whole process group
by another program reaches COMMAND directly as well as forwarded: signal solely's PID instead.`;

const STATUS_HELP = `usage: solely status [--json] (${TARGETS})

Prints whether the lock is held and by whom, never taking it.
Exit status (LSB): 0 held; 1 a pidfile exists but is not locked (stale); 3 not held; 64 usage error.`;

class UsageError extends Error {}

type TargetKind = 'abstract' | 'file' | 'pidfile' | 'postgres';

interface Parsed {
  target?: { kind: TargetKind; value: string };
  /** The lock name for --postgres. */
  key?: string;
  wait: boolean | number;
  close: boolean;
  quiet: boolean;
  json: boolean;
  help: boolean;
  conflictExitCode: number;
  rest: string[];
}

/** Options before COMMAND; `--` or the first non-option argument starts COMMAND. */
function parse(args: string[], allowed: ReadonlySet<string>): Parsed {
  const parsed: Parsed = { wait: false, close: false, quiet: false, json: false, help: false, conflictExitCode: EX_TEMPFAIL, rest: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('--')) break;
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (!allowed.has(name)) throw new UsageError(`unknown option ${name}`);
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${name} needs a value`);
      return next;
    };
    switch (name) {
      case '--abstract':
      case '--file':
      case '--pidfile':
      case '--postgres':
        if (parsed.target !== undefined) throw new UsageError('give exactly one of --abstract, --file, --pidfile, --postgres');
        parsed.target = { kind: name.slice(2) as TargetKind, value: value() };
        break;
      case '--key':
        parsed.key = value();
        break;
      case '--wait': {
        if (inline === undefined) {
          parsed.wait = true;
          break;
        }
        const seconds = Number(inline);
        if (inline === '' || !Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--wait takes a number of seconds, not ${inline}`);
        parsed.wait = seconds * 1000;
        break;
      }
      case '--conflict-exit-code': {
        const code = Number(value());
        if (!Number.isInteger(code) || code < 0 || code > 255) throw new UsageError('--conflict-exit-code takes an integer from 0 to 255');
        parsed.conflictExitCode = code;
        break;
      }
      case '--close':
      case '--quiet':
      case '--json':
      case '--help':
        if (inline !== undefined) throw new UsageError(`${name} takes no value`);
        parsed[name.slice(2) as 'close' | 'quiet' | 'json' | 'help'] = true;
        break;
    }
  }
  parsed.rest = args.slice(i);
  if ((parsed.target?.kind === 'postgres') !== (parsed.key !== undefined)) throw new UsageError('--postgres URL and --key NAME go together');
  return parsed;
}

const RUN_OPTIONS = new Set(['--abstract', '--file', '--pidfile', '--postgres', '--key', '--wait', '--close', '--conflict-exit-code', '--quiet', '--help']);
const STATUS_OPTIONS = new Set(['--abstract', '--file', '--pidfile', '--postgres', '--key', '--json', '--help']);

function isLockHeld(error: unknown): error is SolelyError & { holder?: { pid?: number; command?: string } } {
  const code = (error as SolelyError | undefined)?.code;
  // A wait that ran out counts as held; a connect that timed out (a system error ETIMEDOUT) is a failure.
  return code === 'ELOCKED' || error instanceof LockTimeoutError;
}

/** target is the URL for postgres, where key names the lock. */
async function acquire(kind: TargetKind, target: string, wait: boolean | number, key = ''): Promise<Lock | PostgresLock> {
  switch (kind) {
    case 'abstract':
      return (await import('./abstract')).lockAbstract(target, { wait });
    case 'file':
      return (await import('./file')).lockFile(target, { wait });
    case 'pidfile':
      return (await import('./pidfile')).openPidfile(target, { wait });
    case 'postgres':
      return (await import('./postgres')).lockPostgres(key, { connection: target, wait });
  }
}

function heldMessage(error: SolelyError & { holder?: { pid?: number; command?: string } }, target: string): string {
  const holder = error.holder;
  const by = holder?.pid === undefined ? '' : ` by pid ${holder.pid}${holder.command === undefined ? '' : ` (${holder.command})`}`;
  return error.code === 'ETIMEDOUT' ? `solely: timed out waiting for ${target}` : `solely: ${target} is held${by}`;
}

type WithTarget = Parsed & { target: NonNullable<Parsed['target']> };

/** A subcommand's options, with its target; null once --help was printed. */
function parseSubcommand(args: string[], allowed: ReadonlySet<string>, help: string): WithTarget | null {
  const options = parse(args, allowed);
  if (options.help) {
    process.stdout.write(`${help}\n`);
    return null;
  }
  if (options.target === undefined) throw new UsageError('give one of --abstract, --file, --pidfile, --postgres');
  return options as WithTarget;
}

async function run(args: string[]): Promise<number> {
  const options = parseSubcommand(args, RUN_OPTIONS, RUN_HELP);
  if (options === null) return 0;
  const [command, ...commandArgs] = options.rest;
  if (command === undefined) throw new UsageError('give the COMMAND to run');
  const { kind, value } = options.target;
  const name = options.key ?? value;

  let lock: Lock | PostgresLock;
  try {
    lock = await acquire(kind, value, options.wait, options.key);
  } catch (error) {
    if (!isLockHeld(error)) throw error;
    if (!options.quiet) process.stderr.write(`${heldMessage(error, name)}\n`);
    return options.conflictExitCode;
  }

  // Inherit: the child gets a dup of the lock fd as its fd 3, so the lock outlives this wrapper.
  // Both copies share one open file description; this process never unlocks it, since that would
  // unlock COMMAND's copy too, and that of any process COMMAND leaves behind. It only closes its own.
  // A PostgreSQL lock is this process's session: it has no fd to inherit.
  const inherited = options.close || lock.kind === 'postgres' ? undefined : lock;
  let env = process.env;
  if (inherited !== undefined) env = { ...process.env, SOLELY_LOCK_FD: '3' };
  else if (lock.kind === 'postgres' && lock.fencingToken !== null) env = { ...process.env, SOLELY_FENCING_TOKEN: String(lock.fencingToken) };
  // Handlers first: COMMAND runs (and may tell the world it is ready) as soon as spawn() returns,
  // and a signal that came before them would kill this wrapper and orphan COMMAND.
  const early: NodeJS.Signals[] = [];
  let deliver = (signal: NodeJS.Signals): void => void early.push(signal);
  const forward = (signal: NodeJS.Signals): void => deliver(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const child = spawn(command, commandArgs, {
    stdio: inherited === undefined ? 'inherit' : ['inherit', 'inherit', 'inherit', inherited.fd],
    env,
  });
  // COMMAND did not exist yet when the early ones came: they are all its to get.
  for (const signal of early) child.kill(signal);
  deliver = (signal) => {
    if (child.pid !== undefined && !terminalSentToBoth(signal, child.pid)) child.kill(signal);
  };
  const pidfile = lock.kind === 'pidfile' ? (lock as Pidfile) : undefined;
  let lost = false;
  if (lock.kind === 'postgres') {
    lock.once('lost', (error: SolelyError) => {
      lost = true;
      process.stderr.write(`solely: ${error.message}; sent SIGTERM to ${command}\n`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), LOST_KILL_MS).unref();
    });
  }

  return new Promise<number>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      const notFound = error.code === 'ENOENT';
      process.stderr.write(`solely: ${command}: ${notFound ? 'command not found' : error.message}\n`);
      finish(notFound ? 127 : 126);
    });
    child.once('spawn', () => {
      try {
        if (child.pid !== undefined) pidfile?.write(child.pid); // COMMAND's PID, not this wrapper's
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
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      const release = async (): Promise<void> => {
        if (pidfile === undefined) {
          if (inherited === undefined) await lock.release(); // a session's unlock is a round trip
        } else if (inherited === undefined) {
          pidfile.remove(); // COMMAND is gone: its PID is stale
        } else {
          await settleSharedPidfile(pidfile);
        }
      };
      void release()
        .catch((error: unknown) => process.stderr.write(`${describeError(error)}\n`))
        .then(() => resolve(status));
    };
  });
}

/** The fields of /proc/<pid>/stat after the command name (state ppid pgrp session tty_nr tpgid ...). */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone
  }
}

/**
 * True if the terminal sent this signal to COMMAND too: its keys (Ctrl-C, Ctrl-\) send SIGINT and
 * SIGQUIT to its whole foreground process group, which this process is in and COMMAND did not leave.
 */
function terminalSentToBoth(signal: NodeJS.Signals, commandPid: number): boolean {
  if (signal !== 'SIGINT' && signal !== 'SIGQUIT') return false;
  const self = statFields('self');
  const command = statFields(commandPid);
  if (self === undefined || command === undefined) return false;
  const [, , group, , , foregroundGroup] = self;
  return foregroundGroup === group && command[2] === group;
}

/**
 * COMMAND has exited, but processes it started may still hold the lock through the fd 3 they
 * inherited. This process never unlocks it then: a flock or OFD lock belongs to the open file
 * description they share, and unlocking through any fd frees it for all. If one of them holds it
 * (COMMAND daemonized), the pidfile names it. Else this process closes its fd and removes the file
 * only if it can take the lock again: proof that nobody holds it, even a process /proc hides.
 */
async function settleSharedPidfile(pidfile: Pidfile): Promise<void> {
  const [{ otherFileHolder }, { openPidfile }] = await Promise.all([import('./holder'), import('./pidfile')]);
  const survivor = otherFileHolder(fstatSync(pidfile.fd, { bigint: true }));
  if (survivor !== undefined) return pidfile.write(survivor); // still under the lock; exit closes the fd
  pidfile.closeWithoutUnlock();
  let again: Pidfile;
  try {
    again = await openPidfile(pidfile.target);
  } catch (error) {
    if (isLockHeld(error)) return; // someone holds it now: the file is theirs
    throw error;
  }
  again.remove();
}

interface StatusReport {
  target: string;
  kind: TargetKind;
  state: 'held' | 'stale' | 'free';
  holder?: Holder;
  /** The PID a pidfile claims. */
  pid?: number | null;
}

const STATUS_EXIT = { held: 0, stale: 1, free: 3 } as const;

/** Never takes the lock: /proc (and the pidfile's contents) only; pg_locks for postgres (target: URL). */
async function statusOf(kind: TargetKind, target: string, key = ''): Promise<StatusReport> {
  if (kind === 'postgres') {
    const holder = await (await import('./postgres')).whoHoldsPostgres(key, { connection: target });
    return holder === null ? { target: key, kind, state: 'free' } : { target: key, kind, state: 'held', holder };
  }
  const { whoHolds } = await import('./who-holds');
  if (kind === 'abstract') {
    const holder = whoHolds({ abstract: target });
    return holder === null ? { target, kind, state: 'free' } : { target, kind, state: 'held', holder };
  }
  const holder = whoHolds({ file: target });
  if (kind === 'file') return holder === null ? { target, kind, state: 'free' } : { target, kind, state: 'held', holder };
  const { readPidfile } = await import('./pidfile');
  const { pid, locked } = readPidfile(target);
  if (locked) return { target, kind, state: 'held', pid, ...(holder === null ? {} : { holder }) };
  return existsSync(target) ? { target, kind, state: 'stale', pid } : { target, kind, state: 'free' };
}

function describeStatus(report: StatusReport): string {
  const where = report.kind === 'abstract' ? `@${report.target}` : report.kind === 'postgres' ? `postgres advisory lock ${report.target}` : report.target;
  const holder = report.holder;
  switch (report.state) {
    case 'held': {
      const pid = holder?.pid ?? report.pid;
      const who = pid === undefined || pid === null ? '' : ` by pid ${pid}`;
      const uid = holder?.uid === undefined ? '' : ` (uid ${holder.uid})`;
      return `${where}: held${who}${uid}${holder?.command === undefined ? '' : `: ${holder.command}`}`;
    }
    case 'stale':
      return `${where}: stale (not locked${report.pid === null || report.pid === undefined ? '' : `; it names pid ${report.pid}`})`;
    case 'free':
      return `${where}: not held`;
  }
}

async function status(args: string[]): Promise<number> {
  const options = parseSubcommand(args, STATUS_OPTIONS, STATUS_HELP);
  if (options === null) return 0;
  if (options.rest.length > 0) throw new UsageError(`unexpected argument ${options.rest[0]}`);
  const report = await statusOf(options.target.kind, options.target.value, options.key);
  process.stdout.write(`${options.json ? JSON.stringify(report) : describeStatus(report)}\n`);
  return STATUS_EXIT[report.state];
}

function describeError(error: unknown): string {
  const e = error as SolelyError;
  return `solely: ${e.code ?? e.name}: ${e.message}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'run':
        return await run(args);
      case 'status':
        return await status(args);
      case '--version':
      case '-v': {
        const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
        process.stdout.write(`${version}\n`);
        return 0;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n\nsolely run --help and solely status --help say more.\n`);
        return 0;
      default:
        throw new UsageError(command === undefined ? 'give a command' : `unknown command ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`solely: ${error.message}\n${USAGE}\n`);
      return EX_USAGE;
    }
    process.stderr.write(`${describeError(error)}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  // Exit now: a lock handle left open must not keep the wrapper alive.
  process.exit(code);
});
