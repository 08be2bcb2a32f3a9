// The command line of `solely run` and `solely status`: help texts, option parsing, usage errors.
/* eslint-disable @typescript-eslint/no-require-imports */
import { InvalidTargetError, type SolelyError } from '../errors';
import { closest } from '../internal/options';
import { MAX_SLOTS } from '../internal/slots';
import { lazy } from '../internal/lazy-modules';

const commandLine = lazy(() => require('../internal/command-line') as typeof import('../internal/command-line'));
const abstract = lazy(() => require('../abstract') as typeof import('../abstract'));
const postgres = lazy(() => require('../postgres') as typeof import('../postgres'));
const path = lazy(() => require('../internal/path') as typeof import('../internal/path'));

/** The default exit status when the lock is held. */
const EX_TEMPFAIL = 75;

const TARGETS = '--abstract NAME | --file PATH | --pidfile PATH | --postgres URL --key NAME';

export const USAGE = `usage: solely run (${TARGETS}) [--wait[=SECONDS]]
                  [-s | -x | --slots N] [--close] [--conflict-exit-code N] [--quiet] [--] COMMAND [ARGS...]
       solely status [--json] [--slots N] (${TARGETS})
       solely --help | --version`;

export const RUN_HELP = `usage: solely run (${TARGETS}) [options] [--] COMMAND [ARGS...]

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
  -s, --shared             a shared lock (--file: flock LOCK_SH; --postgres: pg_advisory_lock_shared):
                           any number of shared holders at once, or one exclusive
  -x, --exclusive          an exclusive lock (the default)
  --slots N                at most N COMMANDs at once (1 to 1024): the lock is one of N slots (slot i of
                           NAME is NAME.i, slot 0 NAME itself); COMMAND gets its slot in SOLELY_SLOT
  --wait                   wait for the lock without end (default: do not wait)
  --wait=SECONDS           wait up to SECONDS, then exit with the conflict code
  --close                  keep the lock in solely only (default: COMMAND inherits it as fd 3, as with
                           flock(1), so the lock lives as long as COMMAND even if solely is killed)
  --conflict-exit-code N   exit status when the lock is held (default 75, EX_TEMPFAIL)
  --quiet                  say nothing on stderr when the lock is held

Exit status: COMMAND's; 75 (or N) when the lock is held; 64 usage error (a NAME, PATH or URL that
is not valid UTF-8 is one); 69 the PostgreSQL lock was lost while COMMAND ran; 126 COMMAND not
executable; 127 COMMAND not found; 1 any other failure.

Signals: SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to solely are forwarded to COMMAND, and so are
SIGINT and SIGQUIT, except while solely is in its terminal's foreground process group and COMMAND
still is too: Ctrl-C and Ctrl-\\ then reach COMMAND from the terminal, once. A signal sent to
solely's whole process group by another program reaches COMMAND directly as well as forwarded:
signal solely's PID instead. SIGUSR1 never opens Node's inspector in solely. While solely waits
for the lock, before COMMAND runs, SIGUSR1 and SIGUSR2 are ignored: COMMAND has nothing yet to reload.`;

export const STATUS_HELP = `usage: solely status [--json] [--slots N] (${TARGETS})

Prints whether the lock is held and by whom, never taking it; with --slots N, each slot's holder
(held: at least one slot is; --json adds "slots": [{ slot, state, holder? }, ...]).
Exit status (LSB): 0 held; 1 a pidfile exists but is not locked (stale); 3 not held; 4 unknown:
status could not tell (the error on stderr; with --json, also on stdout as
{ target, kind, state: "unknown", error: { code, message } }); 64 usage error.`;

/** A command line that asks for something solely does not do: exit 64 with the usage. */
export class UsageError extends Error {}

export type TargetKind = 'abstract' | 'file' | 'pidfile' | 'postgres';

export interface Parsed {
  target?: { kind: TargetKind; value: string };
  /** The lock name for --postgres. */
  key?: string;
  wait: boolean | number;
  close: boolean;
  quiet: boolean;
  json: boolean;
  help: boolean;
  conflictExitCode: number;
  /** -s/--shared; -x/--exclusive sets it back to false. */
  shared: boolean;
  /** --slots N. */
  slots?: number;
  rest: string[];
  /** Option arguments (indexes into args) with a U+FFFD, which Node puts for bytes that are not UTF-8. */
  maybeNotUtf8: Array<{ option: string; index: number }>;
}

/** Short options, as flock(1) spells them, and the long ones they stand for. */
const SHORT = new Map([
  ['-s', '--shared'],
  ['-x', '--exclusive'],
]);

/** Options before COMMAND; `--` or the first non-option argument starts COMMAND. */
function parse(args: string[], allowed: ReadonlySet<string>): Parsed {
  const parsed: Parsed = { wait: false, close: false, quiet: false, json: false, help: false, conflictExitCode: EX_TEMPFAIL, shared: false, rest: [], maybeNotUtf8: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = SHORT.get(args[i]) ?? args[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('--')) break;
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (!allowed.has(name)) {
      const guess = closest(name, [...allowed]);
      throw new UsageError(`unknown option ${name}${guess === undefined ? '' : `: did you mean ${guess}?`}`);
    }
    const value = (): string => {
      if (inline === undefined && args[++i] === undefined) throw new UsageError(`${name} needs a value`);
      if (args[i].includes('\uFFFD')) parsed.maybeNotUtf8.push({ option: name, index: i });
      return inline ?? args[i];
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
      case '--slots': {
        const text = value();
        const slots = Number(text);
        if (!/^\d+$/.test(text) || slots < 1 || slots > MAX_SLOTS) throw new UsageError(`--slots takes an integer from 1 to ${MAX_SLOTS}, not ${text}`);
        parsed.slots = slots;
        break;
      }
      case '--shared':
      case '--exclusive':
        if (inline !== undefined) throw new UsageError(`${name} takes no value`);
        parsed.shared = name === '--shared';
        break;
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
  checkLockMode(parsed);
  return parsed;
}

/** --shared and --slots: each only where the lock has it, and never both. */
function checkLockMode({ target, shared, slots }: Parsed): void {
  if (shared && slots !== undefined) throw new UsageError('--shared and --slots exclude each other');
  if (shared && target !== undefined && target.kind !== 'file' && target.kind !== 'postgres') throw new UsageError('--shared works with --file and --postgres');
  if (slots !== undefined && target?.kind === 'pidfile') throw new UsageError('--slots works with --abstract, --file and --postgres');
}

export const RUN_OPTIONS = new Set(['--abstract', '--file', '--pidfile', '--postgres', '--key', '--wait', '--close', '--conflict-exit-code', '--quiet', '--help', '--shared', '--exclusive', '--slots']);
export const STATUS_OPTIONS = new Set(['--abstract', '--file', '--pidfile', '--postgres', '--key', '--json', '--help', '--slots']);

export type WithTarget = Parsed & { target: NonNullable<Parsed['target']> };

/** A subcommand's options, with its target; null once --help was printed. args is the tail of process.argv. */
export function parseSubcommand(args: string[], allowed: ReadonlySet<string>, help: string): WithTarget | null {
  const options = parse(args, allowed);
  if (options.help) {
    process.stdout.write(`${help}\n`);
    return null;
  }
  if (options.target === undefined) throw new UsageError('give one of --abstract, --file, --pidfile, --postgres');
  if (options.maybeNotUtf8.length > 0) {
    // process.argv decodes bytes that are not UTF-8 to U+FFFD: the lock would be another name, and
    // two such names the same one. The API takes strings, so such an argument is refused.
    const exact = commandLine().commandLine();
    const first = process.argv.length - args.length;
    for (const { option, index } of options.maybeNotUtf8) {
      if (!Buffer.from(args[index], 'utf8').equals(exact[first + index])) throw new UsageError(`${option}: its argument is not valid UTF-8 (solely takes names and paths in UTF-8 only)`);
    }
  }
  checkTargetText(options as WithTarget);
  return options as WithTarget;
}

/** The library's own check of a name or path as text: one it refuses is a usage error, found before anything is locked. */
function checkTargetText({ target: { kind, value }, key = '' }: WithTarget): void {
  try {
    if (kind === 'abstract') abstract().checkName(value);
    else if (kind === 'postgres') postgres().advisoryKey(key);
    else path().absolutePath(value);
  } catch (error) {
    if (error instanceof InvalidTargetError) throw new UsageError(`${kind === 'postgres' ? '--key' : `--${kind}`}: ${error.message}`);
    throw error;
  }
}

/** One line, as Node words a system error ("ENOTDIR: not a directory, open '/x'"): the code once. */
export function describeError(error: unknown): string {
  const { code = (error as Error).name, message } = error as SolelyError;
  return `solely: ${message.includes(code) ? message : `${code}: ${message}`}`;
}

