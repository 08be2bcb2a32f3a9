// Who holds a lock, learned without taking it (a probe lock would make a legitimate acquirer fail).
import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync, type BigIntStats } from 'node:fs';
import { binding } from './binding';
import { deviceNumber } from './device-number';
import { type Holder } from '../errors';
import { fromFsError } from './errno';
import { readPid } from './pid-in-file';
import { holderOf, uidOf } from './process-holder';

export { holderOf } from './process-holder';

/**
 * What SO_PEERCRED says of a listening socket: whoever called listen(). A claim, not a holder:
 * that process may have handed the socket on and died, and its pid be reused.
 */
interface PeerClaim {
  pid: number;
  uid: number;
}

/** The peer's credentials on a probe connection fd (undefined if fd is -errno); closes fd. */
function peerOf(fd: number): PeerClaim | undefined {
  if (fd < 0) return undefined;
  const cred = binding.peerCred(fd);
  binding.close(fd);
  return typeof cred === 'number' ? undefined : { pid: cred[0], uid: cred[1] };
}

/** The process at the other end of a probe connection fd (or undefined if fd is -errno); closes fd. */
export function connectedHolder(fd: number): Holder | undefined {
  const peer = peerOf(fd);
  return peer === undefined ? undefined : holderOf(peer.pid, peer.uid);
}

export function processes(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** The fds of a process, or none where /proc does not let us look (another uid, gone). */
export function fdsOf(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
}

/** A socket bound to an abstract name: its inode, and its owner's uid where the kernel says. */
interface BoundSocket {
  inode: number;
  uid?: number;
}

/**
 * The sockets bound to "\0" + name in this network namespace, listening or not, from sock_diag
 * (uids from Linux 5.3); undefined where sock_diag is unavailable (not Linux, no unix_diag module,
 * a seccomp filter). Inode 0 is a connection not accepted yet, owned by nobody's file (uid 0
 * whoever connected): /proc/net/unix and some kernels' sock_diag list it; no binder, left out.
 */
function diagSockets(name: string): BoundSocket[] | undefined {
  const owners = binding.abstractOwners(name);
  if (typeof owners === 'number') return undefined;
  return owners.filter(([inode]) => inode !== 0).map(([inode, uid]) => (uid < 0 ? { inode } : { inode, uid }));
}

/** A kernel table from /proc, or a SolelyError where it cannot be read (no /proc mounted). */
export function procTable(path: string, encoding: BufferEncoding): string {
  try {
    return readFileSync(path, encoding);
  } catch (error) {
    throw fromFsError(error, 'open', { path });
  }
}

/** The same from /proc/net/unix, without uids: where sock_diag is unavailable. */
function procSockets(name: string): BoundSocket[] {
  const wanted = `@${name}`;
  const sockets: BoundSocket[] = [];
  for (const line of procTable('/proc/net/unix', 'utf8').split('\n')) {
    // Num RefCount Protocol Flags Type St Inode Path: the path may contain spaces.
    const match = /^\S+: \S+ \S+ \S+ \S+ \S+\s+(\d+) (.*)$/.exec(line);
    if (match?.[2] === wanted && match[1] !== '0') sockets.push({ inode: Number(match[1]) });
  }
  return sockets;
}

/** The one of sockets (keyed by their /proc/<pid>/fd link) that pid has open; none where we may not look. */
function heldSocket(pid: number, byLink: Map<string, BoundSocket>): BoundSocket | undefined {
  for (const fd of fdsOf(pid)) {
    try {
      const socket = byLink.get(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket !== undefined) return socket;
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

/**
 * The holder of sockets, undefined if there are none: the process with one of them among its fds
 * where /proc lets us look (not another uid's, unless root), the claimed one first; else the
 * owner's uid as sock_diag or the claim gave it ({ uid }), else {}. A claimed pid is named only
 * if it holds a socket: the listener may have died and left the socket to a child (solely run),
 * and its pid may belong to an unrelated process by now.
 */
function socketsHolder(sockets: BoundSocket[], claim: PeerClaim | undefined): Holder | undefined {
  if (sockets.length === 0) return claim === undefined ? undefined : { uid: claim.uid };
  const byLink = new Map(sockets.map((socket) => [`socket:[${socket.inode}]`, socket]));
  if (claim !== undefined && heldSocket(claim.pid, byLink) !== undefined) return holderOf(claim.pid, claim.uid);
  // Another uid's /proc/<pid>/fd is closed to all but root: skip a scan (milliseconds) that cannot succeed.
  const self = process.geteuid?.();
  const findable = self === 0 || sockets.some((socket) => socket.uid === undefined || socket.uid === self);
  for (const pid of findable ? processes() : []) {
    const socket = pid === claim?.pid ? undefined : heldSocket(pid, byLink);
    if (socket !== undefined) return holderOf(pid, socket.uid);
  }
  const uid = sockets.find((socket) => socket.uid !== undefined)?.uid ?? claim?.uid;
  return uid === undefined ? {} : { uid };
}

/** The sockets bound to an abstract name: sock_diag, else /proc/net/unix (which may throw). */
function boundSockets(name: string): BoundSocket[] {
  return diagSockets(name) ?? procSockets(name);
}

/**
 * The holder of an abstract name, listening (the credentials of a probe connection, as the kernel
 * recorded them, checked against the processes holding the socket) or not (the sockets bound to
 * it: sock_diag, else /proc/net/unix): undefined if the name is free. Throws a SolelyError only if
 * the name does not listen and neither sock_diag nor /proc/net/unix can be read.
 */
export function abstractHolder(name: string): Holder | undefined {
  const claim = peerOf(binding.abstractConnect(name));
  if (claim === undefined) return socketsHolder(boundSockets(name), undefined);
  let sockets: BoundSocket[] = [];
  try {
    sockets = boundSockets(name);
  } catch {
    // No socket table to check the claim against: its uid only, never a pid we could not confirm.
  }
  return socketsHolder(sockets, claim);
}

/** The dev/ino of a file as /proc/locks and fdinfo print it: "MAJ:MIN:INODE", major and minor in hex. */
interface FileKey {
  dev: bigint;
  ino: bigint;
  major: number;
  minor: number;
}

function keyOf(stats: Pick<BigIntStats, 'dev' | 'ino'>): FileKey {
  const { dev, ino } = stats;
  return { dev, ino, ...deviceNumber(dev) };
}

const LOCK_LINE = /^(?:lock:\s+)?\d+: (->\s+)?(\S+)\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/gm;

/** The PIDs of the granted locks on key's file in /proc/locks or fdinfo text (waiters skipped). */
function lockPids(text: string, key: FileKey): number[] {
  const pids: number[] = [];
  for (const [, blocked, type, pid, major, minor, ino] of text.matchAll(LOCK_LINE)) {
    if (blocked !== undefined || type === 'LEASE' || type === 'DELEG') continue;
    if (parseInt(major, 16) === key.major && parseInt(minor, 16) === key.minor && BigInt(ino) === key.ino) pids.push(Number(pid));
  }
  return pids;
}

/** The PIDs /proc/locks shows for locks on the file: empty if it is not locked. */
function claimedPids(key: FileKey): number[] {
  return lockPids(procTable('/proc/locks', 'latin1'), key);
}

/** True if the locked file is open in pid with a lock on that open file ("lock:" in fdinfo). */
function holdsLock(pid: number, key: FileKey): boolean {
  for (const fd of fdsOf(pid)) {
    try {
      const stats = statSync(`/proc/${pid}/fd/${fd}`, { bigint: true });
      if (stats.dev !== key.dev || stats.ino !== key.ino) continue;
      if (lockPids(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'), key).length > 0) return true;
    } catch {
      // closed meanwhile, or not ours to look at
    }
  }
  return false;
}

/** Whether a file is locked right now (flock, OFD or POSIX), by anyone: /proc/locks, no lock taken. */
export function isLocked(stats: Pick<BigIntStats, 'dev' | 'ino'>): boolean {
  return claimedPids(keyOf(stats)).length > 0;
}

/**
 * The holder of a lock on the file at path, which stats describes: undefined if it is not locked.
 * The PID in /proc/locks is only a lead (a dead acquirer's for flock, -1 for OFD locks): the holder
 * is a process whose fdinfo shows the lock. Processes that share the locked open file description
 * all do (solely run's COMMAND inherits it): the PID the file itself claims is tried first, so
 * that a pidfile's holder is the process it names wherever it is looked up, then claim, then the
 * PIDs /proc/locks shows. If no process we may see holds it, see hiddenHolder().
 */
export function fileHolderOf(stats: Pick<BigIntStats, 'dev' | 'ino' | 'isFile'>, path: string, claim?: number): Holder | undefined {
  const key = keyOf(stats);
  const claimed = claimedPids(key);
  if (claimed.length === 0) return undefined;
  const leads = [...new Set([...(claim === undefined ? [] : [claim]), ...claimed.filter((pid) => pid > 0)])];
  // Only a regular file is opened: opening a device can have effects. Unconfirmed, its PID names nobody.
  const written = stats.isFile() ? readPid(path) : null;
  const pid = lockingPid(key, written === null ? leads : [written, ...leads]);
  return pid === undefined ? hiddenHolder(leads) : holderOf(pid);
}

/** The first process whose fds hold key's lock: the leads first, then every process /proc shows us but skip. */
function lockingPid(key: FileKey, leads: number[], skip?: number): number | undefined {
  const seen = new Set([...leads, skip]);
  return leads.find((pid) => holdsLock(pid, key)) ?? processes().find((pid) => !seen.has(pid) && holdsLock(pid, key));
}

/**
 * Held, but by no process whose fds we may read: another uid's. A live lead of another uid names it
 * (its uid only: its fds are not ours to confirm the pid); otherwise the holder is unknown.
 */
function hiddenHolder(leads: number[]): Holder {
  const own = process.getuid?.();
  for (const pid of leads) {
    const uid = uidOf(pid);
    if (uid !== undefined && uid !== own) return { uid };
  }
  return {};
}

/** A process other than this one whose fds hold the lock on the file that stats describes (fdinfo), among those /proc shows us. */
export function otherFileHolder(stats: Pick<BigIntStats, 'dev' | 'ino'>): number | undefined {
  return lockingPid(keyOf(stats), [], process.pid);
}

/** The holder of a lock file's lock, or undefined if unknown or not locked. Never throws. */
export function fileHolder(path: string, claim?: number): Holder | undefined {
  try {
    return fileHolderOf(lstatSync(path, { bigint: true }), path, claim);
  } catch {
    return undefined;
  }
}
