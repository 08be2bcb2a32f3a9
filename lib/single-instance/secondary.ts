// A later launch: sends the primary this process's command line, cwd and data, and reads its one
// answer. The primary's pid and uid come from SO_PEERCRED on the connected socket.
import { readFileSync, readlinkSync } from 'node:fs';
import { READABLE, WRITABLE, binding } from '../internal/binding';
import { commandLine } from '../internal/command-line';
import { type Holder, type LockHeldError, type SolelyError } from '../errors';
import { errnoOf, fromErrno, unsupportedRuntime } from '../internal/errno';
import { holderOf } from '../internal/process-holder';
import { heldBy } from '../internal/holder-message';
import { Deadline } from '../internal/wait';
import type { InstancePolicy } from './options';
import type { Place } from './place';
import { ACTIVATION_VARIABLES, FrameReader, PROTOCOL, REFUSED, STDIO_TEXT, checkJson, requestFrame, type Activation } from './protocol';

/**
 * What singleInstance resolves with in a later launch: the primary got this launch's message.
 */
export interface Secondary {
  readonly primary: false;
  /** The primary's pid and uid (SO_PEERCRED) and command. */
  readonly holder: Holder;
  /** The primary's answer; undefined when it only acknowledged. */
  readonly reply?: unknown;
  /** With options.attach: the code the primary passed to message.exit(), also set as process.exitCode. */
  readonly exitCode?: number;
}

const EACCES = errnoOf('EACCES');
const EBADF = errnoOf('EBADF');
const EMSGSIZE = errnoOf('EMSGSIZE');
const EPROTO = errnoOf('EPROTO');
const EPROTONOSUPPORT = errnoOf('EPROTONOSUPPORT');
const EAGAIN = errnoOf('EAGAIN');
const EPIPE = errnoOf('EPIPE');
const ECONNRESET = errnoOf('ECONNRESET');
const CHUNK_BYTES = 65536;

function workingDirectory(): Buffer {
  try {
    // Buffer.from: Deno returns a plain Uint8Array, whose toString() is not the bytes.
    return Buffer.from(readlinkSync('/proc/self/cwd', { encoding: 'buffer' }));
  } catch {
    // Deno's readlink and cwd() both throw InvalidData for a name that is not UTF-8.
    let cwd: string;
    try {
      cwd = process.cwd();
    } catch {
      throw unsupportedRuntime('getcwd', 'cannot read a working directory whose name is not UTF-8', { path: '/proc/self/cwd' });
    }
    return Buffer.from(cwd, 'utf8');
  }
}

let startEnvironment: Map<string, string> | undefined;

/**
 * process.env[name], decoded as UTF-8 (U+FFFD for a byte that is not) as Node and Bun decode it.
 * Deno throws InvalidData for such a value: there it comes from the environment this process
 * started with (/proc/self/environ), where alone Deno can have got one.
 */
function envValue(name: string): string | undefined {
  try {
    return process.env[name];
  } catch {
    if (startEnvironment === undefined) {
      startEnvironment = new Map();
      try {
        for (const entry of readFileSync('/proc/self/environ').toString('utf8').split('\0')) {
          const equals = entry.indexOf('=');
          if (equals > 0) startEnvironment.set(entry.slice(0, equals), entry.slice(equals + 1));
        }
      } catch {
        // no /proc: the value is left out
      }
    }
    return startEnvironment.get(name);
  }
}

/** This launch's focus tokens, from its environment. */
export function ownActivation(): Activation {
  const activation: Activation = {};
  for (const [key, name] of Object.entries(ACTIVATION_VARIABLES) as [keyof Activation, string][]) {
    const value = envValue(name);
    if (value !== undefined && value !== '') activation[key] = value;
  }
  return activation;
}

/** A token focuses one window once: a launch that handed its tokens on keeps none for its children. */
export function forgetActivation(): void {
  for (const name of Object.values(ACTIVATION_VARIABLES)) delete process.env[name];
}

function ownEnv(names: InstancePolicy['env']): Record<string, string> | undefined {
  if (names === undefined) return undefined;
  const env: Record<string, string> = {};
  for (const name of names === 'all' ? Object.keys(process.env) : names) {
    const value = envValue(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * This launch's request, with data (checked now); null when it is over options.maxMessageBytes,
 * which is an error only once there is a primary to send it to (ask()).
 */
export function ownRequest(data: unknown, policy: InstancePolicy, replace = false): Buffer | null {
  if (data !== undefined) checkJson('options.data', data);
  const fields = { data, activation: ownActivation(), env: ownEnv(policy.env), attach: policy.attach && !replace, replace };
  return requestFrame(commandLine(), workingDirectory(), fields, policy.maxMessageBytes);
}

type Outcome = { answer: Record<string, unknown> } | { failed: number; syscall: string; why: string } | 'garbage' | 'gone' | 'lost' | 'timeout';

/**
 * Sends the request on fd and reads the one answer frame, through the addon rather than net (Bun's
 * and Deno's net.Socket cannot adopt an fd); closes fd. Until then fd is in the wait registry,
 * which closes it if this thread's environment ends first. With attach, a first answer
 * { fds: true } asks for this launch's stdin, stdout and stderr: they go over the socket
 * (SCM_RIGHTS), and from then on the launch waits, with no deadline, for the answer that carries
 * the primary's exit().
 */
function exchange(fd: number, request: Buffer, max: number, deadline: Deadline, attach: boolean): Promise<Outcome> {
  binding.trackWaitFd(fd);
  return new Promise((resolveOutcome) => {
    let reader = new FrameReader(max);
    let attached = false;
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
    // Closed or failed before an answer: the primary died, was busy, or is leaving; once attached, it died holding this launch.
    const closed = (): void => settle(attached ? 'lost' : 'gone');
    // The answer; or, the first time an attached launch is asked for them, its stdio sent on.
    const answered = (answer: Record<string, unknown>): boolean => {
      if (!attach || attached || answer.fds !== true) {
        settle({ answer });
        return true;
      }
      attached = true;
      stopDeadline();
      reader = new FrameReader(max);
      const passed = binding.sendFds(fd, STDIO_TEXT, [0, 1, 2]);
      if (passed < 0) settle({ failed: passed, syscall: 'sendmsg', why: 'passing stdin, stdout and stderr failed' });
      return passed < 0;
    };
    // Sends what the socket takes, then reads what has come.
    const step = (): void => {
      while (sent < request.length) {
        const taken = binding.socketSend(fd, request, sent);
        if (taken === EAGAIN) return waitFor(WRITABLE);
        if (taken === EPIPE || taken === ECONNRESET) {
          // Closed before it read the whole request (over its maxMessageBytes): what it answered first is still to read.
          sent = request.length;
          break;
        }
        if (taken < 0) return closed();
        sent += taken;
      }
      for (;;) {
        const chunk = binding.socketRecv(fd, CHUNK_BYTES);
        if (chunk === EAGAIN) return waitFor(READABLE);
        if (typeof chunk === 'number' || chunk.length === 0) return closed();
        const payload = reader.push(chunk);
        if (payload === null) return settle('garbage');
        if (payload !== undefined && answered(payload as Record<string, unknown>)) return;
      }
    };
    const watch = new binding.FdWatch(step);
    step(); // the request goes before the deadline's timer is armed: the primary starts on it sooner
    if (!settled) stopDeadline = deadline.watch(() => settle('timeout'));
  });
}

/** The name is held by holder, whom this launch does not trust (or who does not listen). */
export function heldError(place: Place, holder: Holder): LockHeldError {
  return heldBy(`connect ELOCKED: ${place.target} is held`, { errno: errnoOf('EADDRINUSE'), syscall: 'connect', ...place.errorTarget }, holder);
}

/** A deadline of ms for an exchange with the primary at place, its errors naming place. */
export function askBudget(place: Place, ms: number): Deadline {
  return new Deadline({ timeout: ms, signal: undefined }, `the primary ${place.target}`, place.errorTarget);
}

/**
 * Asks the primary connected on fd (which this function owns) and resolves with its answer, or
 * with undefined when the connection closed before one came (the primary died, was busy, or is
 * leaving): then the caller tries again, within the same deadline. 'lost': an attached launch
 * whose primary closed the connection before exit() (it died, or left without answering): the
 * caller tries again with a whole timeout, as a new launch. A null request (over
 * options.maxMessageBytes) fails with EMSGSIZE, once the primary is one this launch trusts.
 */
export async function ask(fd: number, request: Buffer | null, place: Place, policy: InstancePolicy, deadline: Deadline): Promise<Secondary | undefined | 'lost'> {
  const cred = binding.peerCred(fd);
  if (typeof cred === 'number') {
    binding.close(fd);
    throw fromErrno(cred, 'getsockopt', place.errorTarget);
  }
  if (!policy.allowed.has(cred[1])) {
    binding.close(fd);
    throw heldError(place, holderOf(cred[0], cred[1]));
  }
  if (request === null) {
    binding.close(fd);
    throw fromErrno(EMSGSIZE, 'send', place.errorTarget, undefined, `the message is over options.maxMessageBytes (${policy.maxMessageBytes})`);
  }
  const exchanged = exchange(fd, request, policy.maxMessageBytes, deadline, policy.attach); // sent, if the socket took it
  const holder = holderOf(cred[0], cred[1]); // the primary's command, read from /proc while it reads the request
  const outcome = await exchanged;
  if (outcome === 'timeout') throw deadline.timedOut();
  if (outcome === 'garbage') throw fromErrno(EPROTO, 'recv', place.errorTarget, new Error('the primary answered with bytes that are not a frame'));
  if (outcome === 'gone') return undefined;
  if (outcome === 'lost') return 'lost';
  if ('failed' in outcome) throw fromErrno(outcome.failed, outcome.syscall, place.errorTarget, new Error(outcome.why));
  return secondaryOf(outcome.answer, holder, place, policy);
}

const STDIO_NAMES = ['stdin', 'stdout', 'stderr'];
const MAX_WHY_CHARS = 200;

/** The primary's refusal of this launch's stdio, saying which descriptor and why as its answer did. */
function stdioRefused(answer: Record<string, unknown>, place: Place): SolelyError {
  const name = typeof answer.fd === 'number' ? STDIO_NAMES[answer.fd] : undefined;
  const which = name === undefined ? "this launch's stdin, stdout and stderr" : `this launch's ${name} (fd ${answer.fd as number})`;
  const why = typeof answer.why === 'string' && answer.why.length <= MAX_WHY_CHARS ? `: ${answer.why}` : '';
  return fromErrno(EBADF, 'recv', place.errorTarget, undefined, `the primary cannot use ${which} as stdio${why}`);
}

function secondaryOf(answer: Record<string, unknown>, holder: Holder, place: Place, policy: InstancePolicy): Secondary {
  if (answer.error === REFUSED) throw fromErrno(EACCES, 'connect', place.errorTarget, new Error('the primary does not accept messages from this uid'));
  if (answer.error === 'EBADF') throw stdioRefused(answer, place);
  if (answer.error === 'EMSGSIZE') {
    const max = Number.isSafeInteger(answer.max) ? ` (${answer.max as number})` : '';
    throw fromErrno(EMSGSIZE, 'send', place.errorTarget, undefined, `the message is over the primary's maxMessageBytes${max}`);
  }
  if (answer.error !== undefined) throw fromErrno(EPROTO, 'recv', place.errorTarget, new Error(`the primary answered ${JSON.stringify(answer.error)}`));
  // A protocol 1 primary ignored the fields it does not know, and took the rest as a plain launch.
  if ((policy.env !== undefined || policy.attach) && answer.protocol !== PROTOCOL) {
    throw fromErrno(EPROTONOSUPPORT, 'recv', place.errorTarget, new Error(`the primary speaks protocol 1: it took this launch without ${policy.attach ? 'options.attach' : 'options.env'}`));
  }
  const secondary: { primary: false; holder: Holder; reply?: unknown; exitCode?: number } = { primary: false, holder };
  if ('reply' in answer) secondary.reply = answer.reply;
  if (policy.attach) {
    const code = answer.exit;
    if (!Number.isInteger(code) || (code as number) < 0 || (code as number) > 255) throw fromErrno(EPROTO, 'recv', place.errorTarget, new Error('the primary answered an attached launch without an exit code'));
    secondary.exitCode = code as number;
    process.exitCode = code as number;
  }
  return secondary;
}
