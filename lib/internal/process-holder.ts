// A process as a Holder: its pid, the uid it runs as and its command line, read from /proc. Apart
// from finding a holder (holder.ts), so that a secondary launch, which knows its primary's pid and
// uid from SO_PEERCRED, loads only this.
import { readFileSync } from 'node:fs';
import { type Holder } from '../errors';
import { rawCommandLine } from './command-line';

/** The command line of a process, or undefined if it is gone or hidden (hidepid). */
function commandOf(pid: number): string | undefined {
  try {
    // UTF-8, as Node decodes process.argv: bytes that are not UTF-8 become U+FFFD.
    const raw = rawCommandLine(pid).toString('utf8');
    return raw.replace(/\0+$/, '').split('\0').join(' ') || undefined;
  } catch {
    return undefined;
  }
}

/** The effective uid of a process (what SO_PEERCRED reports), or undefined if it is gone. */
export function uidOf(pid: number): number | undefined {
  try {
    const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
    return uid === undefined ? undefined : Number(uid);
  } catch {
    return undefined;
  }
}

/** pid, uid and command of a process found through /proc. */
export function holderOf(pid: number, uid = uidOf(pid)): Holder {
  const holder: Holder = { pid };
  if (uid !== undefined) holder.uid = uid;
  const command = commandOf(pid);
  if (command !== undefined) holder.command = command;
  return holder;
}
