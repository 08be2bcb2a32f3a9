// The one way a holder is told: in every LockHeldError message and in the CLI's text.
import { ForeignHolderError, LockHeldError, type Holder, type SolelyErrorFields } from '../errors';

const NAMED_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * text on one line, safe to print: another uid's command line can hold newlines and terminal
 * escapes. A backslash, newline, return and tab in C style, any other control character (C0, DEL,
 * C1) as \xHH, like `ls -b`; the rest as it is.
 */
function printable(text: string): string {
  return text.replace(/[\\\x00-\x1f\x7f-\x9f]/g, (c) => NAMED_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
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

/** The error for a lock held by holder: a ForeignHolderError when it runs as another uid. */
export function heldBy(message: string, fields: SolelyErrorFields, holder: Holder | undefined): LockHeldError {
  if (holder === undefined) return new LockHeldError(message, fields);
  const description = describeHolder(holder);
  const described = description === '' ? message : `${message} (${description})`;
  return holder.uid !== undefined && holder.uid !== process.getuid?.()
    ? new ForeignHolderError(`${described}, by another user`, { ...fields, holder })
    : new LockHeldError(described, { ...fields, holder });
}
