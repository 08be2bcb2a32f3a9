// whoHolds: the holder of any kind of lock, found without taking it.
import { lstatSync, type BigIntStats } from 'node:fs';
import { checkName } from './abstract';
import { type Holder } from './errors';
import { fromFsError, invalidArgument } from './internal/errno';
import { refuseUnopenable } from './internal/file-attempt';
import { abstractHolder, fileHolderOf } from './internal/holder';
import { optionKeys, optionsObject } from './internal/options';
import { absolutePath } from './internal/path';
import { parseSlots, slotNames } from './internal/slots';

/**
 * A lock to look up: a string ('/' in it: a file path; otherwise, or with a leading "\0", an
 * abstract name), or `{ abstract: name }` or `{ file: path }` to say which.
 */
export type HolderTarget = string | { abstract: string } | { file: string };

/**
 * Options of whoHolds: `slots` asks for the holder of each of a lock's slots.
 */
export interface WhoHoldsOptions {
  /** The lock has this many slots (as given to the lock call): one entry per slot. */
  slots?: number;
}

const TARGET_KEYS = optionKeys<{ abstract: string; file: string }>({ abstract: true, file: true });
const KEYS = optionKeys<WhoHoldsOptions>({ slots: true });

/**
 * Who holds a lock, without taking it: null if it is free. A string containing '/' is a file
 * path (write './name' for a relative one); "\0name" or any other string is an abstract name.
 * Fields the kernel does not let us see are left out ({} means held by a process we cannot see).
 * @throws {InvalidTargetError} `EINVAL`, `ENAMETOOLONG` for a name or path that cannot be a lock; `ELOOP` for a symlink at a
 * file path (or a slot's), which no lock call would follow.
 * @throws {SolelyError} `ENXIO` for a socket at a file path; `EACCES`, `ENOTDIR`... from lstat(2); `ERR_INVALID_ARG_TYPE` or
 * `ERR_INVALID_ARG_VALUE` (an unknown key) for a bad target.
 * With `{ slots: N }`, an array of N entries: the holder of each slot, or null for a free one.
 * @example
 * const { whoHolds } = require('solely');
 * const holder = whoHolds({ file: '/run/lock/backup.lock' });
 * if (holder !== null) console.log(`held by pid ${holder.pid}`);
 * const busy = whoHolds('cron-jobs', { slots: 4 }).filter((h) => h !== null).length;
 */
export function whoHolds(target: HolderTarget): Holder | null;
export function whoHolds(target: HolderTarget, options: WhoHoldsOptions & { slots: number }): Array<Holder | null>;
export function whoHolds(target: HolderTarget, options?: WhoHoldsOptions): Holder | null | Array<Holder | null>;
export function whoHolds(target: HolderTarget, options?: WhoHoldsOptions): Holder | null | Array<Holder | null> {
  const o = optionsObject(options, KEYS);
  const { slots } = parseSlots(o);
  const holders = holderLookups(target, slots).map((lookUp) => lookUp());
  return o.slots === undefined ? holders[0] : holders;
}

/** One lookup of each slot's holder, every slot's name checked first; none takes a lock. */
function holderLookups(target: HolderTarget, slots: number): Array<() => Holder | null> {
  let abstract: unknown;
  let file: unknown;
  if (typeof target === 'string') {
    if (target.startsWith('\0')) abstract = target.slice(1);
    else if (target.includes('/')) file = target;
    else abstract = target;
  } else if (typeof target === 'object' && target !== null && ('abstract' in target || 'file' in target)) {
    ({ abstract, file } = optionsObject(target as { abstract?: unknown; file?: unknown }, TARGET_KEYS, 'target'));
  } else {
    throw invalidArgument('ERR_INVALID_ARG_TYPE', 'target', 'a string, { abstract: string } or { file: string }', target);
  }
  if (abstract !== undefined) return slotNames(checkName(abstract), slots, checkName).map((name) => () => abstractHolder(name) ?? null);
  return slotNames(absolutePath(file), slots, absolutePath).map((path) => () => fileSlotHolder(path));
}

function fileSlotHolder(path: string): Holder | null {
  let stats: BigIntStats | undefined;
  try {
    stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    throw fromFsError(error, 'lstat', { path });
  }
  refuseUnopenable(stats, path);
  return stats === undefined ? null : (fileHolderOf(stats, path) ?? null);
}
