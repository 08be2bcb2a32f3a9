// A later launch: sends the primary this process's command line, cwd and data, and reads its one
// answer. The primary's pid and uid come from SO_PEERCRED on the connected socket.
import { readlinkSync } from 'node:fs';
import { READABLE, WRITABLE, binding } from '../internal/binding';
import { commandLine } from '../internal/command-line';
import { type Holder, type LockHeldError } from '../errors';
import { errnoOf, fromErrno } from '../internal/errno';
import { holderOf } from '../internal/holder';
import { heldBy } from '../internal/holder-message';
import type { Deadline } from '../internal/wait';
import type { InstancePolicy } from './options';
import type { Place } from './place';
import { FrameReader, REFUSED, checkJson, requestFrame } from './protocol';

/**
 * What singleInstance resolves with in a later launch: the primary got this launch's message.
 */
export interface Secondary {
  readonly primary: false;
  /** The primary's pid and uid (SO_PEERCRED) and command. */
  readonly holder: Holder;
  /** The primary's answer; undefined when it only acknowledged. */
  readonly reply?: unknown;
}

const EACCES = errnoOf('EACCES');
const EMSGSIZE = errnoOf('EMSGSIZE');
const EPROTO = errnoOf('EPROTO');
const EAGAIN = errnoOf('EAGAIN');
const CHUNK_BYTES = 65536;

function workingDirectory(): Buffer {
  try {
    // Buffer.from: Deno returns a plain Uint8Array, whose toString() is not the bytes.
    return Buffer.from(readlinkSync('/proc/self/cwd', { encoding: 'buffer' }));
  } catch {
    return Buffer.from(process.cwd(), 'utf8');
  }
}

/** This launch's request, with data; throws before anything is sent if it cannot be one. */
export function ownRequest(data: unknown, max: number, place: Place): Buffer {
  if (data !== undefined) checkJson('options.data', data);
  const out = requestFrame(commandLine(), workingDirectory(), data, max);
  if (out === null) throw fromErrno(EMSGSIZE, 'send', place.errorTarget, new Error(`the message is over options.maxMessageBytes (${max})`));
  return out;
}

type Outcome = { answer: Record<string, unknown> } | 'garbage' | 'gone' | 'timeout';

/**
 * Sends the request on fd and reads the one answer frame, through the addon rather than net (Bun's
 * and Deno's net.Socket cannot adopt an fd); closes fd. Until then fd is in the wait registry,
 * which closes it if this thread's environment ends first.
 */
function exchange(fd: number, request: Buffer, max: number, deadline: Deadline): Promise<Outcome> {
  binding.trackWaitFd(fd);
  return new Promise((resolveOutcome) => {
    const reader = new FrameReader(max);
    let sent = 0;
    let watching = 0;
    let settled = false;
    let stopDeadline = (): void => {};
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      stopDeadline();
      watch.stop();
      binding.closeWaitFd(fd);
      resolveOutcome(outcome);
    };
    const waitFor = (events: number): void => {
      if (events === watching) return; // re-armed by the watch itself after this callback
      watch.stop();
      watching = events;
      if (watch.start(fd, events) < 0) settle('gone');
    };
    // Sends what the socket takes, then reads what has come; closed or failed before an answer:
    // the primary died, was busy, or is leaving.
    const step = (): void => {
      while (sent < request.length) {
        const taken = binding.socketSend(fd, request, sent);
        if (taken === EAGAIN) return waitFor(WRITABLE);
        if (taken < 0) return settle('gone');
        sent += taken;
      }
      for (;;) {
        const chunk = binding.socketRecv(fd, CHUNK_BYTES);
        if (chunk === EAGAIN) return waitFor(READABLE);
        if (typeof chunk === 'number' || chunk.length === 0) return settle('gone');
        const payload = reader.push(chunk);
        if (payload !== undefined) return settle(payload === null ? 'garbage' : { answer: payload as Record<string, unknown> });
      }
    };
    const watch = new binding.FdWatch(step);
    stopDeadline = deadline.watch(() => settle('timeout'));
    step();
  });
}

/** The name is held by holder, whom this launch does not trust (or who does not listen). */
export function heldError(place: Place, holder: Holder): LockHeldError {
  return heldBy(`connect ELOCKED: ${place.target} is held`, { errno: errnoOf('EADDRINUSE'), syscall: 'connect', ...place.errorTarget }, holder);
}

/**
 * Asks the primary connected on fd (which this function owns) and resolves with its answer, or
 * with undefined when the connection closed before one came (the primary died, was busy, or is
 * leaving): then the caller tries again, within the same deadline.
 */
export async function ask(fd: number, request: Buffer, place: Place, policy: InstancePolicy, deadline: Deadline): Promise<Secondary | undefined> {
  const cred = binding.peerCred(fd);
  if (typeof cred === 'number') {
    binding.close(fd);
    throw fromErrno(cred, 'getsockopt', place.errorTarget);
  }
  const holder = holderOf(cred[0], cred[1]);
  if (!policy.allowed.has(cred[1])) {
    binding.close(fd);
    throw heldError(place, holder);
  }
  const outcome = await exchange(fd, request, policy.maxMessageBytes, deadline);
  if (outcome === 'timeout') throw deadline.timedOut();
  if (outcome === 'garbage') throw fromErrno(EPROTO, 'recv', place.errorTarget, new Error('the primary answered with bytes that are not a frame'));
  return outcome === 'gone' ? undefined : secondaryOf(outcome.answer, holder, place);
}

function secondaryOf(answer: Record<string, unknown>, holder: Holder, place: Place): Secondary {
  if (answer.error === REFUSED) throw fromErrno(EACCES, 'connect', place.errorTarget, new Error('the primary does not accept messages from this uid'));
  if (answer.error !== undefined) throw fromErrno(EPROTO, 'recv', place.errorTarget, new Error(`the primary answered ${JSON.stringify(answer.error)}`));
  const secondary: { primary: false; holder: Holder; reply?: unknown } = { primary: false, holder };
  if ('reply' in answer) secondary.reply = answer.reply;
  return secondary;
}
