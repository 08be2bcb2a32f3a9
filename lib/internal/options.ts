// Options in, plain values out: the native layer never sees a user option.
import { SolelyError } from '../errors';
import { invalidArgument, invalidTarget } from './errno';

/**
 * How a lock call waits for the holder to let go.
 */
export interface WaitOptions {
  /** false (default): fail at once if held; true: wait without end; a number: wait up to ms. */
  wait?: boolean | number;
  signal?: AbortSignal;
}

export const WAIT_KEYS = optionKeys<WaitOptions>({ wait: true, signal: true });

export interface Wait {
  /** 0: do not wait; Infinity: no timeout. */
  timeout: number;
  signal: AbortSignal | undefined;
}

/** The biggest delay a Node timer takes (about 24.8 days); longer waits are endless waits. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const NO_OPTIONS = Object.freeze({});

/** Every key of an options type, written as an object so that the compiler checks the list is whole and exact. */
export function optionKeys<T extends object>(keys: { [K in keyof T]-?: true }): readonly string[] {
  return Object.keys(keys);
}

/**
 * options as an object whose keys are all in `known`, checked before anything else is done: a
 * typo ({ wiat: 100 }) would otherwise mean the default, silently.
 */
export function optionsObject<T extends object>(options: T | undefined, known: readonly string[], name = 'options'): Partial<T> {
  if (options === undefined || options === null) return NO_OPTIONS; // shared: callers only read it
  if (typeof options !== 'object') throw invalidArgument('ERR_INVALID_ARG_TYPE', name, 'of type object', options);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw unknownKey(name, key, known);
  }
  return options;
}

function unknownKey(name: string, key: string, known: readonly string[]): SolelyError {
  const guess = closest(key, known);
  const hint = guess === undefined ? `it takes ${known.map((k) => `'${k}'`).join(', ')}` : `did you mean '${guess}'?`;
  return new SolelyError('ERR_INVALID_ARG_VALUE', `The "${name}" argument has an unknown key '${key}': ${hint}`);
}

/** The candidate nearest to word by edit distance (a swap of two letters counts one), if it is near enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.min(2, Math.floor(best.length / 2)) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

export function parseWait(options: WaitOptions): Wait {
  const { wait = false, signal } = options;
  let timeout: number;
  if (typeof wait === 'boolean') timeout = wait ? Infinity : 0;
  else if (typeof wait === 'number' && wait >= 0 && !Number.isNaN(wait)) timeout = wait > MAX_TIMER_MS ? Infinity : wait;
  else throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.wait', 'a boolean or a number of milliseconds >= 0', wait);
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw invalidArgument('ERR_INVALID_ARG_TYPE', 'options.signal', 'an instance of AbortSignal', signal);
  }
  return { timeout, signal };
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return typeof value === 'object' && value !== null && 'aborted' in value && typeof (value as AbortSignal).addEventListener === 'function';
}

const S_ISUID_ISGID = 0o6000;

/** Permission bits, with the sticky bit at most: a lock file or socket is never setuid or setgid. */
export function parseMode(mode: unknown, fallback: number): number {
  if (mode === undefined) return fallback;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o7777 || (mode & S_ISUID_ISGID) !== 0) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.mode', 'an integer from 0 to 0o1777 (no setuid or setgid bit)', mode);
  }
  return mode;
}

export function parseChoice<T extends string>(name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as T;
}

export function parseBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgument('ERR_INVALID_ARG_TYPE', name, 'of type boolean', value);
  return value;
}

export function parseInteger(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/**
 * A lock key for a server (solely/postgres, solely/redis): a non-empty string. A NUL cannot pass
 * a command line or a SQL client, and a lone surrogate would encode as U+FFFD: another key's lock.
 */
export function parseKey(key: unknown): string {
  if (typeof key !== 'string') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'key', 'of type string', key);
  if (key === '') throw invalidTarget('EINVAL', 'an empty lock key', {});
  if (key.includes('\0')) throw invalidTarget('EINVAL', 'a lock key cannot contain a NUL byte', {});
  if (!key.isWellFormed()) throw invalidTarget('EINVAL', 'a lock key must be well-formed Unicode', {});
  return key;
}
