// systemd socket activation (sd_listen_fds(3)): the service manager binds and listens, then
// starts the service with the sockets as fds 3, 4, ... and says so in LISTEN_PID, LISTEN_FDS and
// LISTEN_FDNAMES. A server adopts its socket from there instead of binding one.
import { binding } from './internal/binding';
import { type ErrorTarget } from './errors';
import { errnoOf, fromErrno, invalidArgument, invalidTarget } from './internal/errno';
import * as lazy from './internal/lazy-modules';
import { parseChoice } from './internal/options';

/**
 * Whether listenUnix adopts a socket systemd passed (socket activation).
 */
export type Activation = 'auto' | 'never' | 'required';

/**
 * listenUnix's options for systemd socket activation (sd_listen_fds(3)).
 */
export interface ActivationOptions {
  /**
   * 'auto' (default): adopt the socket systemd passed for this address, if any, else bind;
   * 'never': always bind; 'required': fail unless systemd passed it.
   */
  activation?: Activation;
  /** Adopt only the fd of this name (FileDescriptorName= in the socket unit, LISTEN_FDNAMES). */
  activationName?: string;
}

const SD_LISTEN_FDS_START = 3;
const ENOENT = errnoOf('ENOENT');

/** Passed fds not adopted yet, with their names. Read once, as the environment is cleared then. */
let offered: Map<number, string> | undefined;

/**
 * The fds passed to this process, read from the environment once. The variables are unset
 * whatever they say, so that no child inherits them (a child whose pid matched LISTEN_PID by
 * chance would take our fds for its own), and every passed fd is made close-on-exec.
 */
function passedFds(): Map<number, string> {
  if (offered !== undefined) return offered;
  offered = new Map();
  const { LISTEN_PID: pid, LISTEN_FDS: fds, LISTEN_FDNAMES: names } = process.env;
  // Nothing passed (most launches): no need to load worker_threads to ask which thread this is.
  if (pid === undefined && fds === undefined && names === undefined) return offered;
  // The fds are the process's, and a Worker's copy of the environment names them too: only the
  // main thread adopts them, so that no fd ever has two owners.
  if (!lazy.isMainThread()) return offered;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  if (pid === undefined || fds === undefined || !/^\d+$/.test(pid) || Number(pid) !== process.pid || !/^\d+$/.test(fds)) return offered;
  const nameList = names?.split(':') ?? [];
  for (let i = 0; i < Number(fds); i++) {
    const fd = SD_LISTEN_FDS_START + i;
    if (binding.setCloexec(fd) === 0) offered.set(fd, nameList[i] ?? 'unknown');
  }
  return offered;
}

/** Whether systemd passed this process sockets that are not adopted yet. */
export function socketsPassed(): boolean {
  return passedFds().size > 0;
}

export function parseActivation(o: ActivationOptions): { activation: Activation; name: string | undefined } {
  const activation = parseChoice('options.activation', o.activation, ['auto', 'never', 'required'] as const, 'auto');
  const name = o.activationName;
  if (name !== undefined && (typeof name !== 'string' || name === '' || name.includes(':'))) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.activationName', 'a non-empty string without ":"', name);
  }
  return { activation, name };
}

/**
 * The listening Unix stream socket systemd passed for address (the sun_path bytes getsockname
 * reports), or -1 if none was passed and activation is 'auto'. The caller owns the fd returned.
 */
export function activatedSocket(address: Buffer, { activation, name }: { activation: Activation; name: string | undefined }, target: ErrorTarget): number {
  if (activation === 'never') return -1;
  const fds = passedFds();
  for (const [fd, fdName] of fds) {
    if (name !== undefined && fdName !== name) continue;
    const info = binding.socketInfo(fd);
    const usable = typeof info !== 'number' && info[0] && info[1] && info[2] && info[3].equals(address);
    if (usable) {
      fds.delete(fd); // the caller owns fd from here on
      return fd;
    }
    if (name !== undefined) {
      throw invalidTarget('ENOTSOCK', `the socket systemd passed as "${name}" (fd ${fd}) is not a listening Unix stream socket bound here`, target);
    }
  }
  if (activation === 'auto') return -1;
  const error = fromErrno(ENOENT, 'sd_listen_fds', target);
  if (!lazy.isMainThread()) error.message += " (systemd's sockets are adopted by the main thread only)";
  else error.message += name === undefined ? ' (systemd passed no socket for it)' : ` (systemd passed no socket named "${name}")`;
  throw error;
}
