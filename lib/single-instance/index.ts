// A program that runs once: the first launch becomes the primary and serves a Unix socket; every
// later launch sends it one message (its command line, cwd and data) and gets one answer. Trust
// comes from the kernel (SO_PEERCRED, both ways), never from what a peer says. Every launch asks
// first, so a secondary loads neither the primary nor the server modules.
/* eslint-disable @typescript-eslint/no-require-imports */
import { socketsPassed } from '../activation';
import { LockHeldError } from '../errors';
import { errnoOf, fromErrno, invalidArgument } from '../internal/errno';
import { lazy, net } from '../internal/lazy-modules';
import { optionsObject, parseChoice } from '../internal/options';
import { KEYS, parsePolicy, type InstancePolicy, type ReplaceOptions, type SingleInstanceOptions } from './options';
import { placeOf, sandboxOf, type Place } from './place';
import type { Primary } from './primary';
import type { Deadline } from '../internal/wait';
import { ask, askBudget, forgetActivation, heldError, ownRequest, type Secondary } from './secondary';

export type { SingleInstanceOptions, ReplaceOptions };
export type { SingleInstanceScope, SingleInstanceTransport } from './place';
export type { Message, Reply } from './protocol';
export type { Secondary } from './secondary';

const MAX_RETRY_MS = 100;
const ECONNREFUSED = errnoOf('ECONNREFUSED');
const EAGAIN = errnoOf('EAGAIN');
const ENOENT = errnoOf('ENOENT');

// Loaded only to become the primary: a secondary never serves.
const serverModule = lazy(() => require('../unix-server') as typeof import('../unix-server'));
const primaryModule = lazy(() => require('./primary') as typeof import('./primary'));
// Loaded only for options.replace.
const replaceModule = lazy(() => require('./replace') as typeof import('./replace'));

/**
 * Becomes the primary for `id`, or hands this launch's command line (and `options.data`) to the
 * primary and resolves with its answer: a desktop or CLI app that runs once per user (or machine).
 * @throws {ForeignHolderError} `ELOCKED` when another uid holds the name.
 * @throws {LockTimeoutError} `ETIMEDOUT` when the primary did not answer within `options.timeout`.
 * @throws {SolelyError} `ERR_INVALID_ARG_VALUE` for a bad id or a bad or unknown option; the errno of a failed socket call.
 * @example
 * import { singleInstance } from 'solely';
 * const instance = await singleInstance('org.example.Editor');
 * if (!instance.primary) process.exit(0); // the running editor got our argv
 * instance.on('second-instance', (message) => openFiles(message.argv.slice(2)));
 */
export async function singleInstance(id: string, options?: SingleInstanceOptions): Promise<Primary | Secondary> {
  if (typeof id !== 'string' || id.length === 0 || id.includes('\0') || !id.isWellFormed()) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'id', 'a non-empty string of well-formed Unicode without NUL', id);
  }
  const o = optionsObject(options, KEYS);
  const scope = parseChoice('options.scope', o.scope, ['user', 'system'] as const, 'user');
  const sandbox = sandboxOf();
  // Flatpak instances of one app share no network namespace, only $XDG_RUNTIME_DIR/app/$FLATPAK_ID.
  const transport = parseChoice('options.transport', o.transport, ['abstract', 'path'] as const, sandbox.flatpak === undefined ? 'abstract' : 'path');
  const uid = process.getuid?.() ?? 0;
  const policy = parsePolicy(o, uid);
  const place = placeOf(id, scope, transport, o.directory, uid, sandbox);
  const request = ownRequest(o.data, policy);
  // Ask first: every launch after the first is a secondary, and asking needs neither a bind, nor
  // a look-up of who holds the name, nor the server's modules. A process given its socket by
  // systemd listens first: asking, it would connect to that very socket, which nobody accepts.
  if (socketsPassed()) {
    const primary = await tryPrimary(place, policy);
    if (!(primary instanceof LockHeldError)) return primary;
  }
  if (policy.grace !== undefined) {
    const primary = await replaceModule().takeOver(place, policy, ownRequest(o.data, policy, true), policy.grace, () => tryPrimary(place, policy));
    if (primary !== undefined) return primary;
  }
  // The budget of an ordinary launch: from here, after any takeover (which has budgets of its own).
  const budget = (): Deadline => askBudget(place, policy.timeout);
  let deadline = budget();
  let backoff = 1;
  for (;;) {
    const fd = place.connect();
    if (fd >= 0) {
      const secondary = await ask(fd, request, place, policy, deadline);
      // The primary died holding this attached launch: it starts over, as a new launch would.
      if (secondary === 'lost') deadline = budget();
      else if (secondary !== undefined) {
        forgetActivation();
        return secondary;
      }
    } else if (fd === ECONNREFUSED || fd === ENOENT) {
      // Nobody listens: become the primary, or learn who holds the name without listening.
      const primary = await tryPrimary(place, policy);
      if (!(primary instanceof LockHeldError)) return primary;
      // Bound, not listening: a primary starting up if its uid is allowed (waited for), else a squatter.
      const binder = primary.holder;
      if (fd === ECONNREFUSED && binder?.uid !== undefined && !policy.allowed.has(binder.uid)) throw heldError(place, binder);
    } else if (fd !== EAGAIN) {
      throw fromErrno(fd, 'connect', place.errorTarget);
    }
    // Starting, leaving, busy (EAGAIN: backlog full) or gone: try again, both ways, until the budget ends.
    if (deadline.remaining === 0) throw deadline.timedOut();
    const delay = Math.min(backoff, deadline.remaining);
    await new Promise((resolve) => setTimeout(resolve, delay)); // not timers/promises: a launch that asks once never loads it
    backoff = Math.min(backoff * 2, MAX_RETRY_MS);
  }
}

/** The Primary, if the name was free; the LockHeldError saying who holds it, if not. */
async function tryPrimary(place: Place, policy: InstancePolicy): Promise<Primary | LockHeldError> {
  const { listenUnix } = serverModule();
  const { Primary } = primaryModule();
  try {
    // Half-open: a peer may shut its side down after its frame and still read the answer.
    const server = await listenUnix(place.listenAddress, { server: net().createServer({ allowHalfOpen: true }) });
    return new Primary(server, place.target, policy); // the Primary owns the server
  } catch (error) {
    if (error instanceof LockHeldError) return error;
    throw error;
  }
}
