// `solely list`: every lock this user can see, as lslocks(8) shows file locks, with abstract names
// too; never taking one. File locks come from the fds of the processes /proc shows us (fdinfo's
// "lock:" lines, which name the holder and its path), then /proc/locks for the rest (another
// user's: no path). Abstract names are the bound, unconnected sockets sock_diag reports, with their
// exact bytes (/proc/net/unix, where sock_diag is unavailable, cuts a name at a newline), each with
// the process whose fd is that socket, or the owner's uid.
/* eslint-disable @typescript-eslint/no-require-imports */
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import type { Holder } from '../errors';
import { binding } from '../internal/binding';
import { describeHolder, printable } from '../internal/holder-message';
import { lazy } from '../internal/lazy-modules';
import { LIST_OPTIONS, parseOptions, UsageError } from './args';

const holders = lazy(() => require('../internal/holder') as typeof import('../internal/holder'));
const pidInFile = lazy(() => require('../internal/pid-in-file') as typeof import('../internal/pid-in-file'));

export const LIST_HELP = `usage: solely list [--json]

Lists every lock this user can see, never taking one: file locks (flock, OFD and POSIX; a locked
file that holds a PID is a pidfile) and abstract socket names, each with its holder.
--json prints an array of { kind, target, targetHex?, method?, mode?, holder, pid?, since? }: a
target that is not UTF-8 has its bytes in targetHex (printed as \\xHH in the text).`;

type Method = 'flock' | 'ofd' | 'posix';
type Mode = 'exclusive' | 'shared';

interface ListedLock {
  kind: 'file' | 'pidfile' | 'abstract';
  /** A path, an abstract name, or MAJ:MIN:INODE for a file no process we can see has open. */
  target: string;
  /** The target's exact bytes, in hex, when they are not UTF-8 (target has U+FFFD for each such byte). */
  targetHex?: string;
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

/** A target as the kernel has it: its bytes as text, and in hex too when they are not UTF-8. */
function named(bytes: Buffer): Pick<ListedLock, 'target' | 'targetHex'> {
  const target = bytes.toString('utf8');
  return Buffer.from(target, 'utf8').equals(bytes) ? { target } : { target, targetHex: bytes.toString('hex') };
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
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'buffer' });
        const socket = /^socket:\[(\d+)\]$/.exec(link.toString('latin1'))?.[1];
        if (socket !== undefined && !sockets.has(Number(socket))) sockets.set(Number(socket), pid);
        if (link[0] !== 0x2f) continue; // not a path: a pipe, an anonymous inode
        for (const { method, mode, key, pid: shown } of locksIn(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'))) {
          const id = `${method} ${mode} ${key}${method === 'posix' ? ` ${shown}` : ''}`;
          if (!files.has(id)) files.set(id, asPidfile({ kind: 'file', ...named(link), method, mode, holder: holderOf(pid) }));
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

/**
 * Bound, unconnected abstract sockets (listening or not): the names solely's abstract locks take.
 * Inode 0 is a connection not accepted yet (no binder); a connected socket has a peer.
 */
function abstractLocks(sockets: Map<number, number>): ListedLock[] {
  const { holderOf } = holders();
  const dump = binding.abstractSockets();
  if (typeof dump === 'number') return procAbstractLocks(sockets);
  return dump
    .filter(([, inode, , peer]) => inode !== 0 && peer === 0)
    .map(([name, inode, uid]) => {
      const pid = sockets.get(inode);
      // Another user's socket: its owner's uid, where the kernel reports it.
      return { kind: 'abstract', ...named(name), holder: pid !== undefined ? holderOf(pid) : uid < 0 ? {} : { uid } };
    });
}

/** The same from /proc/net/unix, where sock_diag is unavailable: a name ends at a newline there. */
function procAbstractLocks(sockets: Map<number, number>): ListedLock[] {
  const { holderOf, procTable } = holders();
  const listed: ListedLock[] = [];
  for (const line of procTable('/proc/net/unix', 'utf8').split('\n')) {
    // Num RefCount Protocol Flags Type St Inode Path; St 01 is unconnected (bound or listening).
    const match = /^\S+: \S+ \S+ \S+ \S+ (\S+)\s+(\d+) @(.*)$/.exec(line);
    if (match === null || match[1] !== '01' || match[2] === '0') continue;
    const pid = sockets.get(Number(match[2]));
    listed.push({ kind: 'abstract', target: match[3], holder: pid === undefined ? {} : holderOf(pid) });
  }
  return listed;
}

function describe(lock: ListedLock): string {
  // One line, the exact bytes: a name may hold a newline or a terminal escape, or not be UTF-8.
  const target = printable(lock.targetHex === undefined ? lock.target : Buffer.from(lock.targetHex, 'hex'));
  const where = lock.kind === 'abstract' ? `@${target}` : target;
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
