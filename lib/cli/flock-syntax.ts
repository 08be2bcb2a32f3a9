// How the command line spells options the way flock(1) users write them: short options, bundled
// (-nw5), and seconds as flock(1) and timeout(1) take them.
import { UsageError } from './usage-error';

/** flock(1)'s short options, by the long option each one is. */
const SHORT: Readonly<Record<string, string>> = {
  '-n': '--nonblock',
  '-w': '--timeout',
  '-E': '--conflict-exit-code',
  '-o': '--close',
  '-c': '--command',
  '-v': '--verbose',
  '-q': '--quiet',
  '-s': '--shared',
  '-x': '--exclusive',
};
/** The options that take a value, so that `-w5` and `-E75` read as flock(1) reads them. */
const TAKES_VALUE = new Set(['--timeout', '--conflict-exit-code', '--command', '--kill-after', '--backoff', '--max-runtime', '--fd']);
export const DEFAULT_KILL_AFTER_MS = 10_000;
export const DEFAULT_BACKOFF_MS = 1000;
/**
 * Seconds as flock(1) reads them with strtod(3), in decimal: 5, +5, 0.5, .5, 5., 1e0, 5e-1, after
 * any white space (isspace(3)). Every option that takes seconds, and the word `--wait` takes as its
 * seconds rather than as COMMAND.
 */
const SECONDS_WORD = /^[ \t\n\v\f\r]*\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Whether `--wait` takes text as its seconds, rather than as COMMAND. */
export function isSeconds(text: string | undefined): boolean {
  return text !== undefined && SECONDS_WORD.test(text);
}

/**
 * One argument as [option, inline value, spelling typed] triples: `--wait=5`, or `-nw5` as -n and
 * -w 5. Messages name an option as it was typed.
 */
export function optionsIn(arg: string): Array<[string, string | undefined, string]> {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    return [eq < 0 ? [arg, undefined, arg] : [arg.slice(0, eq), arg.slice(eq + 1), arg.slice(0, eq)]];
  }
  const triples: Array<[string, string | undefined, string]> = [];
  for (let at = 1; at < arg.length; at++) {
    const typed = `-${arg[at]}`;
    const long = SHORT[typed];
    if (long === undefined) throw new UsageError(`unknown option ${typed}`);
    if (TAKES_VALUE.has(long) && at + 1 < arg.length) return [...triples, [long, arg.slice(at + 1), typed]];
    triples.push([long, undefined, typed]);
  }
  return triples;
}

/** Seconds as flock(1) and timeout(1) take them (0.5, 10, 1e0), in ms. */
export function seconds(name: string, text: string): number {
  const value = Number(text);
  if (!isSeconds(text) || !Number.isFinite(value)) throw new UsageError(`${name} takes a number of seconds, not ${text}`);
  return value * 1000;
}

/**
 * An integer from min to max, in decimal digits only: never a blank (Number('') is 0), 1e0, 0x3 or
 * 3.0. Every option that takes an integer (-E, --slots, --fd) reads it here.
 */
export function integer(name: string, text: string, min: number, max: number, what = `an integer from ${min} to ${max}`): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${name} takes ${what}, not '${text}'`);
  return Number(text);
}

/** Node's timers take at most 2^31 - 1 ms: a longer one would fire at once. */
const MAX_TIMER_SECONDS = (2 ** 31 - 1) / 1000;

/** Seconds for a timer (--max-runtime, --kill-after, --backoff), within what Node's timers take. */
export function timerSeconds(name: string, text: string): number {
  const ms = seconds(name, text);
  if (ms > MAX_TIMER_SECONDS * 1000) throw new UsageError(`${name} takes at most ${MAX_TIMER_SECONDS} seconds, not ${text}`);
  return ms;
}
