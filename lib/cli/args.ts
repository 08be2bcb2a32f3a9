// The command line of `solely run` and `solely status`: help texts, option parsing, usage errors.
/* eslint-disable @typescript-eslint/no-require-imports */
import { InvalidTargetError, type SolelyError } from '../errors';
import { closest, parseKey } from '../internal/options';
import { MAX_SLOTS, slotNames } from '../internal/slots';
import { printable } from '../internal/holder-message';
import { lazy } from '../internal/lazy-modules';
import { DEFAULT_BACKOFF_MS, DEFAULT_KILL_AFTER_MS, integer, isSeconds, optionsIn, seconds, timerSeconds } from './flock-syntax';
import { UsageError } from './usage-error';

const commandLine = lazy(() => require('../internal/command-line') as typeof import('../internal/command-line'));
const abstract = lazy(() => require('../abstract') as typeof import('../abstract'));
const path = lazy(() => require('../internal/path') as typeof import('../internal/path'));

/** The default exit status when the lock is held. */
const EX_TEMPFAIL = 75;

export { UsageError } from './usage-error';

export type TargetKind = 'abstract' | 'file' | 'pidfile' | 'postgres' | 'redis';

export interface Parsed {
  target?: { kind: TargetKind; value: string };
  /** No TARGET was given: the lock is derived from COMMAND and ARGS (run-one). */
  derived?: boolean;
  /** The lock name for --postgres and --redis. */
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
  /** -c STRING: COMMAND is `sh -c STRING`. */
  command?: string;
  verbose: boolean;
  fcntl: boolean;
  replace: boolean;
  /** --kill-after, in ms: SIGKILL this long after SIGTERM (--replace, --max-runtime). */
  killAfter: number;
  respawn: boolean;
  until?: 'success' | 'failure';
  /** --backoff, in ms: the first delay before a respawn, doubled each time up to MAX_BACKOFF_MS. */
  backoff: number;
  /** --max-runtime, in ms. */
  maxRuntime?: number;
  /** lock/unlock --fd N. */
  fd?: number;
  /** Option arguments (indexes into args) with a U+FFFD, which Node puts for bytes that are not UTF-8. */
  maybeNotUtf8: Array<{ option: string; index: number }>;
}

/** Options before COMMAND; `--` or the first non-option argument starts COMMAND. */
function parse(args: string[], allowed: ReadonlySet<string>): Parsed {
  const parsed: Parsed = { wait: false, close: false, quiet: false, json: false, help: false, conflictExitCode: EX_TEMPFAIL, shared: false, rest: [], maybeNotUtf8: [], verbose: false, fcntl: false, replace: false, killAfter: DEFAULT_KILL_AFTER_MS, respawn: false, backoff: DEFAULT_BACKOFF_MS };
  // -n wins over -w in any order, as in flock(1), where it makes even the waiting flock(2) non-blocking.
  let nonblock = false;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    for (const [name, inline, typed] of optionsIn(arg)) i = option(name, inline, typed, i);
  }
  parsed.rest = args.slice(i);
  if (nonblock) parsed.wait = false;
  const server = parsed.target?.kind === 'postgres' || parsed.target?.kind === 'redis';
  if (server !== (parsed.key !== undefined)) throw new UsageError(`--${parsed.target?.kind === 'redis' ? 'redis' : 'postgres'} URL and --key NAME go together`);
  if (parsed.until !== undefined && !parsed.respawn) throw new UsageError(`--until-${parsed.until} goes with --respawn`);
  if (parsed.command !== undefined && parsed.rest.length > 0) throw new UsageError('give either -c STRING or COMMAND [ARGS...], not both');
  if (parsed.command !== undefined) parsed.rest = ['sh', '-c', parsed.command];
  checkLockMode(parsed);
  return parsed;

  /** Applies one option found at args[i], typed as typed; returns the index of the last argument it took. */
  function option(name: string, inline: string | undefined, typed: string, i: number): number {
    if (!allowed.has(name)) {
      // A one-letter option has no near spelling to suggest.
      const guess = typed.startsWith('--') ? closest(name, [...allowed]) : undefined;
      throw new UsageError(`unknown option ${typed}${guess === undefined ? '' : `: did you mean ${guess}?`}`);
    }
    const value = (): string => {
      if (inline === undefined && args[++i] === undefined) throw new UsageError(`${typed} needs a value`);
      if (args[i].includes('\uFFFD')) parsed.maybeNotUtf8.push({ option: typed, index: i });
      return inline ?? args[i];
    };
    switch (name) {
      case '--abstract':
      case '--file':
      case '--pidfile':
      case '--postgres':
      case '--redis':
        if (parsed.target !== undefined) throw new UsageError('give exactly one of --abstract, --file, --pidfile, --postgres, --redis');
        parsed.target = { kind: name.slice(2) as TargetKind, value: value() };
        break;
      case '--key':
        parsed.key = value();
        break;
      case '--wait':
        // `--wait 5` is flock's habit: a number right after it is its seconds, never COMMAND.
        if (inline !== undefined) parsed.wait = seconds(typed, inline);
        else if (isSeconds(args[i + 1])) parsed.wait = seconds(typed, args[++i]);
        else parsed.wait = true;
        break;
      case '--conflict-exit-code':
        parsed.conflictExitCode = integer(typed, value(), 0, 255);
        break;
      case '--slots':
        parsed.slots = integer(typed, value(), 1, MAX_SLOTS);
        break;
      case '--shared':
      case '--exclusive':
        if (inline !== undefined) throw new UsageError(`${typed} takes no value`);
        parsed.shared = name === '--shared';
        break;
      case '--close':
      case '--quiet':
      case '--json':
      case '--help':
        if (inline !== undefined) throw new UsageError(`${typed} takes no value`);
        parsed[name.slice(2) as 'close' | 'quiet' | 'json' | 'help'] = true;
        break;
      case '--nonblock':
      case '--verbose':
      case '--fcntl':
      case '--replace':
      case '--respawn':
      case '--until-success':
      case '--until-failure':
        if (inline !== undefined) throw new UsageError(`${typed} takes no value`);
        if (name === '--nonblock') nonblock = true;
        else if (name.startsWith('--until-')) {
          const until = name.slice(8) as 'success' | 'failure';
          if (parsed.until !== undefined && parsed.until !== until) throw new UsageError('--until-success and --until-failure exclude each other');
          parsed.until = until;
        }
        else parsed[name.slice(2) as 'verbose' | 'fcntl' | 'replace' | 'respawn'] = true;
        break;
      case '--timeout':
        parsed.wait = seconds(typed, value());
        break;
      case '--command':
        parsed.command = value();
        break;
      case '--kill-after':
        parsed.killAfter = timerSeconds(typed, value());
        break;
      case '--backoff':
        parsed.backoff = timerSeconds(typed, value());
        break;
      case '--max-runtime': {
        const ms = timerSeconds(typed, value());
        // 0 is no limit, as with timeout(1).
        if (ms > 0) parsed.maxRuntime = ms;
        else delete parsed.maxRuntime;
        break;
      }
      case '--fd':
        parsed.fd = integer(typed, value(), 0, 2 ** 31 - 1, 'a file descriptor number');
        break;
    }
    return i;
  }
}

/** --shared and --slots: each only where the lock has it, and never both. */
function checkLockMode({ target, shared, slots }: Parsed): void {
  if (shared && slots !== undefined) throw new UsageError('--shared and --slots exclude each other');
  if (shared && target?.kind !== 'file' && target?.kind !== 'postgres') {
    throw new UsageError(`--shared works with --file and --postgres${target === undefined ? ': without a target, the lock is an abstract name' : ''}`);
  }
  if (slots !== undefined && (target?.kind === 'pidfile' || target?.kind === 'redis')) throw new UsageError('--slots works with --abstract, --file and --postgres');
}

export const RUN_OPTIONS = new Set(['--abstract', '--file', '--pidfile', '--postgres', '--redis', '--key', '--wait', '--close', '--conflict-exit-code', '--quiet', '--help',
  '--nonblock', '--timeout', '--fcntl', '--command', '--verbose', '--replace', '--kill-after', '--respawn', '--until-success', '--until-failure', '--backoff', '--max-runtime', '--shared', '--exclusive', '--slots']);
export const LOCK_OPTIONS = new Set(['--fd', '--nonblock', '--wait', '--timeout', '--conflict-exit-code', '--fcntl', '--verbose', '--quiet', '--help']);
export const UNLOCK_OPTIONS = new Set(['--fd', '--fcntl', '--help']);
export const LIST_OPTIONS = new Set(['--json', '--help']);
export const STATUS_OPTIONS = new Set(['--abstract', '--file', '--pidfile', '--postgres', '--key', '--json', '--help', '--slots']);

export type WithTarget = Parsed & { target: NonNullable<Parsed['target']> };

/** A subcommand's options, without a target; null once --help was printed. */
export function parseOptions(args: string[], allowed: ReadonlySet<string>, help: string): Parsed | null {
  const options = parse(args, allowed);
  if (!options.help) return options;
  process.stdout.write(`${help}\n`);
  return null;
}

/**
 * A subcommand's options, with its target; null once --help was printed. args is the tail of
 * process.argv. derive gives the target when none is given (run's per-user lock), if it may.
 */
export function parseSubcommand(args: string[], allowed: ReadonlySet<string>, help: string, derive?: (commandLine: Array<string | Buffer>) => string): WithTarget | null {
  const options = parseOptions(args, allowed, help);
  if (options === null) return null;
  if (options.target === undefined && derive !== undefined && options.rest.length > 0) {
    options.target = { kind: 'abstract', value: derive(exactWords(options)) };
    options.derived = true;
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

/**
 * COMMAND and ARGS as the bytes given: process.argv decodes bytes that are not UTF-8 to U+FFFD, and
 * two command lines would be one. With -c STRING, STRING is an option's value, refused if not UTF-8.
 */
function exactWords({ rest, command }: Parsed): Array<string | Buffer> {
  if (command !== undefined || !rest.some((word) => word.includes('\uFFFD'))) return rest;
  const first = process.argv.length - rest.length;
  return commandLine().commandLine().slice(first);
}

/**
 * The library's own check of a name or path as text, and of every slot's name with --slots (a name
 * that fits may not fit with a high slot's suffix): one it refuses is a usage error, found before
 * anything is locked.
 */
function checkTargetText({ target: { kind, value }, key = '', slots }: WithTarget): void {
  if (kind === 'postgres' || kind === 'redis') return refusedAsUsage('--key', () => parseKey(key));
  const check = kind === 'abstract' ? abstract().checkName : path().absolutePath;
  refusedAsUsage(`--${kind}`, () => check(value));
  if (slots !== undefined) refusedAsUsage(`--slots ${slots}`, () => slotNames(value, slots, check));
}

/** Runs check; an InvalidTargetError it throws is a usage error of the option named. */
function refusedAsUsage(option: string, check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (error instanceof InvalidTargetError) throw new UsageError(`${option}: ${error.message}`);
    throw error;
  }
}

/** One line, as Node words a system error ("ENOTDIR: not a directory, open '/x'"): the code once. */
export function describeError(error: unknown): string {
  const { code = (error as Error).name, message } = error as SolelyError;
  // One line: a path or name in the message may hold a newline or a terminal escape.
  return `solely: ${printable(message.includes(code) ? message : `${code}: ${message}`)}`;
}

