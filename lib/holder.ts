// Who holds a lock, learned without taking it.
import { readFileSync } from 'node:fs';
import { binding } from './binding';
import { ForeignHolderError, LockHeldError, type Holder, type SolelyErrorFields } from './errors';

/** The command line of a process, or undefined if it is gone or hidden (hidepid). */
export function commandOf(pid: number): string | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return raw.replace(/\0+$/, '').split('\0').join(' ') || undefined;
  } catch {
    return undefined;
  }
}

/** The holder of an abstract name that listens: its credentials, as the kernel recorded them. */
export function abstractHolder(name: string): Holder | undefined {
  return connectedHolder(binding.abstractConnect(name));
}

/** The process at the other end of a probe connection fd (or undefined if fd is -errno); closes fd. */
export function connectedHolder(fd: number): Holder | undefined {
  if (fd < 0) return undefined;
  const cred = binding.peerCred(fd);
  binding.close(fd);
  if (typeof cred === 'number') return undefined;
  const [pid, uid] = cred;
  const command = commandOf(pid);
  return command === undefined ? { pid, uid } : { pid, uid, command };
}

/** " (pid 12, uid 1000: node server.js)" for messages; empty when unknown. */
export function describeHolder(holder: Holder | undefined): string {
  if (holder?.pid === undefined) return '';
  const uid = holder.uid === undefined ? '' : `, uid ${holder.uid}`;
  const command = holder.command === undefined ? '' : `: ${holder.command}`;
  return ` (pid ${holder.pid}${uid}${command})`;
}

/** The error for a lock held by holder: a ForeignHolderError when it runs as another uid. */
export function heldBy(message: string, fields: SolelyErrorFields, holder: Holder | undefined): LockHeldError {
  if (holder === undefined) return new LockHeldError(message, fields);
  const described = `${message}${describeHolder(holder)}`;
  return holder.uid !== undefined && holder.uid !== process.getuid?.()
    ? new ForeignHolderError(`${described}, by another user`, { ...fields, holder })
    : new LockHeldError(described, { ...fields, holder });
}
