// `solely list`: every lock this user can see, as lslocks(8) shows file locks, with abstract names
// too; never taking one. File locks come from the fds of the processes /proc shows us (fdinfo's
// "lock:" lines, which name the holder and its path), then /proc/locks for the rest (another
// user's: no path). Abstract names are the bound, unconnected sockets of /proc/net/unix, each with
// the process whose fd is that socket, or the owner's uid from sock_diag.
/* eslint-disable @typescript-eslint/no-require-imports */
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import type { Holder } from '../errors';
import { binding } from '../internal/binding';
import { describeHolder } from '../internal/holder-message';
import { lazy } from '../internal/lazy-modules';
import { LIST_OPTIONS, parseOptions, UsageError } from './args';

const holders = lazy(() => require('../internal/holder') as typeof import('../internal/holder'));
const pidInFile = lazy(() => require('../internal/pid-in-file') as typeof import('../internal/pid-in-file'));

export const LIST_HELP = `usage: solely list [--json]

Lists every lock this user can see, never taking one: file locks (flock, OFD and POSIX; a locked
file that holds a PID is a pidfile) and abstract socket names, each with its holder.
--json prints an array of { kind, target, method?, mode?, holder, pid?, since? }.`;

type Method = 'flock' | 'ofd' | 'posix';
type Mode = 'exclusive' | 'shared';

interface ListedLock {
  kind: 'file' | 'pidfile' | 'abstract';
  /** A path, an abstract name, or MAJ:MIN:INODE for a file no process we can see has open. */
  target: string;
  method?: Method;
  mode?: Mode;
  holder: Holder;
  /** The PID a pidfile names. */
  pid?: number;
  /** When a pidfile was last written: when its holder took it. */
  since?: string;
}

// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF", in /proc/locks and after "lock:" in fdinfo.
const LOCK_LINE = /^(?:lock:\s+)?\d+: (->\s+)?(FLOCK|OFDLCK|POSIX)\s+\S+\s+(READ|WRITE)\s+(-?\d+)\s+([0-9a-f]+:[0-9a-f]+:\d+)\s/gm;
const METHODS = { FLOCK: 'flock', OFDLCK: 'ofd', POSIX: 'posix' } as const;

/** The granted locks in a /proc/locks or fdinfo text: method, mode, the file's key, the PID shown. */
function* locksIn(text: string): Generator<{ method: Method; mode: Mode; key: string; pid: number }> {
  for (const [, blocked, type, access, pid, key] of text.matchAll(LOCK_LINE)) {
    if (blocked !== undefined) continue; // a waiter, not a holder
    yield { method: METHODS[type as keyof typeof METHODS], mode: access === 'WRITE' ? 'exclusive' : 'shared', key, pid: Number(pid) };
  }
}

/**
 * A locked regular file whose text is a PID is a pidfile: its PID and when it was written. Read as
 * pidfiles are (never blocking, a bounded prefix, regular files only): anyone may lock a FIFO or
 * a device, and reading /dev/zero whole would never end.
 */
function asPidfile(lock: ListedLock): ListedLock {
  try {
    const pid = pidInFile().readPid(lock.target);
    if (pid === null) return lock;
    return { ...lock, kind: 'pidfile', pid, since: statSync(lock.target).mtime.toISOString() };
  } catch {
    return lock; // a directory, or gone meanwhile
  }
}

/** File locks held through the fds of the processes we can see; socket inodes to the first pid that has each. */
function scanProcesses(): { files: Map<string, ListedLock>; sockets: Map<number, number> } {
  const { processes, fdsOf, holderOf } = holders();
  const files = new Map<string, ListedLock>();
  const sockets = new Map<number, number>();
  for (const pid of processes()) {
    for (const fd of fdsOf(pid)) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const socket = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (socket !== undefined && !sockets.has(Number(socket))) sockets.set(Number(socket), pid);
        if (!link.startsWith('/')) continue;
        for (const { method, mode, key, pid: shown } of locksIn(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'))) {
          const id = `${method} ${mode} ${key}${method === 'posix' ? ` ${shown}` : ''}`;
          if (!files.has(id)) files.set(id, asPidfile({ kind: 'file', target: link, method, mode, holder: holderOf(pid) }));
        }
      } catch {
        // closed meanwhile, or not ours to look at
      }
    }
  }
  return { files, sockets };
}

/** File locks of processes we cannot see: /proc/locks gives the file's key and a PID, no path. */
function hiddenFileLocks(seen: Map<string, ListedLock>): ListedLock[] {
  const keys = new Set([...seen.keys()].map((id) => id.split(' ').slice(0, 3).join(' ')));
  const hidden = new Map<string, ListedLock>();
  for (const { method, mode, key, pid } of locksIn(holders().procTable('/proc/locks', 'latin1'))) {
    const id = `${method} ${mode} ${key}`;
    if (keys.has(id) || hidden.has(id)) continue;
    hidden.set(id, { kind: 'file', target: key, method, mode, holder: pid > 0 ? { pid } : {} });
  }
  return [...hidden.values()];
}

/** Bound, unconnected abstract sockets (listening or not): the names solely's abstract locks take. */
function abstractLocks(sockets: Map<number, number>): ListedLock[] {
  const { holderOf, procTable } = holders();
  const listed: ListedLock[] = [];
  for (const line of procTable('/proc/net/unix', 'utf8').split('\n')) {
    // Num RefCount Protocol Flags Type St Inode Path; St 01 is unconnected (bound or listening).
    const match = /^\S+: \S+ \S+ \S+ \S+ (\S+)\s+(\d+) @(.*)$/.exec(line);
    if (match === null || match[1] !== '01' || match[2] === '0') continue;
    const [, , inode, name] = match;
    const pid = sockets.get(Number(inode));
    listed.push({ kind: 'abstract', target: name, holder: pid === undefined ? ownerOf(name, Number(inode)) : holderOf(pid) });
  }
  return listed;
}

/** Another user's socket: its owner's uid, from sock_diag where the kernel reports it. */
function ownerOf(name: string, inode: number): Holder {
  const owners = binding.abstractOwners(name);
  const uid = typeof owners === 'number' ? undefined : owners.find(([found]) => found === inode)?.[1];
  return uid === undefined || uid < 0 ? {} : { uid };
}

function describe(lock: ListedLock): string {
  const where = lock.kind === 'abstract' ? `@${lock.target}` : lock.target;
  const how = lock.method === undefined ? lock.kind : `${lock.kind}, ${lock.method}, ${lock.mode}`;
  const holder = describeHolder(lock.holder);
  return `${where} (${how}): held${holder === '' ? '' : ` by ${holder}`}${lock.since === undefined ? '' : ` since ${lock.since}`}`;
}

export function list(args: string[]): number {
  const options = parseOptions(args, LIST_OPTIONS, LIST_HELP);
  if (options === null) return 0;
  if (options.rest.length > 0) throw new UsageError(`unexpected argument ${options.rest[0]}`);
  const { files, sockets } = scanProcesses();
  const locks = [...files.values(), ...hiddenFileLocks(files), ...abstractLocks(sockets)];
  process.stdout.write(options.json ? `${JSON.stringify(locks)}\n` : locks.map((lock) => `${describe(lock)}\n`).join(''));
  return 0;
}
