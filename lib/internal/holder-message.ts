// The one way a holder is told, in every LockHeldError message and in the CLI's text, and the one
// escaping that keeps any text (a command line, a lock's name or path) on one printed line.
import { ForeignHolderError, LockHeldError, type Holder, type SolelyErrorFields } from '../errors';

const NAMED_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
/** In bytes read as latin1: a run of well-formed UTF-8 sequences, or one byte that begins none. */
const UTF8_RUN_OR_BYTE =
  /(?:[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})+|[\x80-\xff]/g;

const hex = (code: number): string => `\\x${code.toString(16).padStart(2, '0')}`;
/** \xHH for a control character, \uHHHH for a line or paragraph separator or a bidi control. */
const escape = (code: number): string => (code > 0xff ? `\\u${code.toString(16)}` : hex(code));

/**
 * text on one line, safe to print: another uid's command line, or a lock's name or path, can hold
 * newlines and terminal escapes. A backslash, newline, return and tab in C style, any other control
 * character (C0, DEL, C1) as \xHH, like `ls -b`, and U+2028, U+2029 and the bidi controls (U+202A
 * to U+202E, U+2066 to U+2069), which break or reorder a terminal's line, as \uHHHH; the rest as it
 * is. Bytes (a name as the kernel has it) are UTF-8 where they are, and each byte that is not as \xHH
 * too: no two names print alike.
 */
export function printable(text: string | Buffer): string {
  if (typeof text !== 'string') {
    return text.toString('latin1').replace(UTF8_RUN_OR_BYTE, (run) => (run.length === 1 && run >= '\x80' ? hex(run.charCodeAt(0)) : printable(Buffer.from(run, 'latin1').toString('utf8'))));
  }
  return text.replace(/[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => NAMED_ESCAPES[c] ?? escape(c.charCodeAt(0)));
}

/**
 * "pid 12, uid 1000: node server.js"; for PostgreSQL "pid 12 on web1, backend pid 345, from
 * 10.0.0.2, since <ISO date>: solely web1 12". Each field labelled, unknown ones left out; empty
 * when nothing is known. One line: the text fields (from /proc or a server) are printable().
 */
export function describeHolder(holder: Holder | undefined): string {
  if (holder === undefined) return '';
  const parts: string[] = [];
  if (holder.pid !== undefined) parts.push(`pid ${holder.pid}${holder.hostname === undefined ? '' : ` on ${printable(holder.hostname)}`}`);
  if (holder.uid !== undefined) parts.push(`uid ${holder.uid}`);
  if (holder.backendPid !== undefined) parts.push(`backend pid ${holder.backendPid}`);
  if (holder.host !== undefined) parts.push(`from ${printable(holder.host)}`);
  if (holder.since !== undefined) parts.push(`since ${holder.since.toISOString()}`);
  if (holder.fencingToken !== undefined) parts.push(`token ${holder.fencingToken}`);
  const command = holder.command === undefined ? '' : `: ${printable(holder.command)}`;
  return parts.length === 0 ? command.slice(2) : `${parts.join(', ')}${command}`;
}

/** " by <holder>" for a CLI line, or nothing when nothing is known of the holder. */
export function byHolder(holder: Holder | undefined): string {
  const description = describeHolder(holder);
  return description === '' ? '' : ` by ${description}`;
}

/** "slot 0: pid 12, uid 1000: job; slot 1: free now": each slot's holder, as describeHolder tells one. */
export function describeSlots(holders: ReadonlyArray<Holder | null>): string {
  return holders.map((holder, slot) => `slot ${slot}: ${holder === null ? 'free now' : describeHolder(holder) || 'held'}`).join('; ');
}

/** What a held lock's message says: every slot held, when there are several. */
export function heldText(slots: number): string {
  return slots === 1 ? 'lock is held' : `all ${slots} slots are held`;
}

/**
 * The error for a lock held by holder, or with slots every slot held, by holders (one per slot,
 * null for a slot freed since): a ForeignHolderError when a holder runs as another uid.
 */
export function heldBy(message: string, fields: SolelyErrorFields, found: Holder | undefined | Array<Holder | null>): LockHeldError {
  const holders = Array.isArray(found) ? found : undefined;
  const holder = holders === undefined ? (found as Holder | undefined) : (holders[0] ?? undefined);
  const description = holders === undefined ? describeHolder(holder) : describeSlots(holders);
  const described = description === '' ? message : `${message} (${description})`;
  const withHolders = { ...fields, ...(holder === undefined ? {} : { holder }), ...(holders === undefined ? {} : { holders }) };
  const own = process.getuid?.();
  return (holders ?? [holder]).some((one) => one?.uid !== undefined && one.uid !== own)
    ? new ForeignHolderError(`${described}, by another user`, withHolders)
    : new LockHeldError(described, withHolders);
}
