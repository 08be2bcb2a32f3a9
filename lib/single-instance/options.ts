// singleInstance's options, checked once into the policy that both sides apply.
import { invalidArgument } from '../internal/errno';
import { MAX_TIMER_MS, optionKeys, parseInteger } from '../internal/options';
import type { SingleInstanceScope, SingleInstanceTransport } from './place';
import { MAX_FRAME_PAYLOAD } from './protocol';

/**
 * Options of singleInstance: who counts as one instance, how they meet, and the bounds each side keeps.
 */
export interface SingleInstanceOptions {
  /** 'user' (default): one instance per uid; 'system': one per machine (network namespace). */
  scope?: SingleInstanceScope;
  /** 'abstract' (default, Linux): an abstract socket name; 'path': a socket file. */
  transport?: SingleInstanceTransport;
  /** transport 'path': the directory of the socket (default: see the README). */
  directory?: string;
  /** Sent to the primary with the command line: any JSON value. */
  data?: unknown;
  /** A secondary's budget in ms for the whole exchange, retries included (default 5000). */
  timeout?: number;
  /** Uids trusted besides our own: as peers of the primary, and as a primary for a secondary. */
  allowUids?: readonly number[];
  /** The largest payload in bytes either side accepts (default 1 MiB). */
  maxMessageBytes?: number;
  /** The primary's limit of connections open at once (default 32); more are closed at once. */
  maxConnections?: number;
  /** The primary's deadline in ms for each connection, reply included (default 5000). */
  connectionTimeout?: number;
}

export const KEYS = optionKeys<SingleInstanceOptions>({
  scope: true,
  transport: true,
  directory: true,
  data: true,
  timeout: true,
  allowUids: true,
  maxMessageBytes: true,
  maxConnections: true,
  connectionTimeout: true,
});

/** Whom either side trusts, and the bounds on size, count and time. */
export interface InstancePolicy {
  timeout: number;
  allowed: ReadonlySet<number>;
  maxMessageBytes: number;
  maxConnections: number;
  connectionTimeout: number;
}

/** The policy of options for a process of uid, which it always trusts. */
export function parsePolicy(o: Partial<SingleInstanceOptions>, uid: number): InstancePolicy {
  const allowUids: unknown = o.allowUids ?? [];
  if (!Array.isArray(allowUids) || !allowUids.every((u): u is number => Number.isInteger(u) && (u as number) >= 0 && (u as number) <= 2 ** 32 - 1)) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.allowUids', 'an array of uids', allowUids);
  }
  return {
    timeout: parseInteger('options.timeout', o.timeout, 0, MAX_TIMER_MS, 5000),
    allowed: new Set([uid, ...allowUids]),
    maxMessageBytes: parseInteger('options.maxMessageBytes', o.maxMessageBytes, 2, MAX_FRAME_PAYLOAD, 1 << 20),
    maxConnections: parseInteger('options.maxConnections', o.maxConnections, 1, 2 ** 20, 32),
    connectionTimeout: parseInteger('options.connectionTimeout', o.connectionTimeout, 1, MAX_TIMER_MS, 5000),
  };
}
