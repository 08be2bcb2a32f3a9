// singleInstance's options, checked once into the policy that both sides apply.
import { invalidArgument } from '../internal/errno';
import { MAX_TIMER_MS, optionKeys, optionsObject, parseBoolean, parseInteger } from '../internal/options';
import type { SingleInstanceScope, SingleInstanceTransport } from './place';
import { MAX_FRAME_PAYLOAD, isVariableName } from './protocol';

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
  /** Forward this launch's environment (true: all of it; an array: these names) as message.env. */
  env?: boolean | readonly string[];
  /** Pass this launch's stdin, stdout and stderr to the primary and wait for its message.exit(code). */
  attach?: boolean;
  /** Take over from the running primary: it gets 'replace' and grace ms (default 5000) to release. */
  replace?: boolean | ReplaceOptions;
}

/**
 * options.replace as an object.
 * @example
 * import { singleInstance } from 'solely';
 * const instance = await singleInstance('org.example.Editor', { replace: { grace: 2000 } });
 */
export interface ReplaceOptions {
  /** The ms the running primary has to release before it is ended (default 5000). */
  grace?: number;
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
  env: true,
  attach: true,
  replace: true,
});
const REPLACE_KEYS = optionKeys<ReplaceOptions>({ grace: true });

/** Whom either side trusts, and the bounds on size, count and time. */
export interface InstancePolicy {
  timeout: number;
  allowed: ReadonlySet<number>;
  maxMessageBytes: number;
  maxConnections: number;
  connectionTimeout: number;
  /** The environment's names to forward: all, these, or none (undefined). */
  env: 'all' | readonly string[] | undefined;
  attach: boolean;
  /** With replace: the ms the running primary has to release before it is ended. */
  grace: number | undefined;
}

function parseEnv(env: unknown): InstancePolicy['env'] {
  if (env === undefined || env === false) return undefined;
  if (env === true) return 'all';
  if (Array.isArray(env) && env.every((name) => typeof name === 'string' && isVariableName(name))) return [...(env as string[])];
  throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.env', 'a boolean or an array of variable names', env);
}

function parseGrace(replace: unknown): number | undefined {
  if (replace === undefined || replace === false) return undefined;
  const o = replace === true ? {} : optionsObject(replace as ReplaceOptions, REPLACE_KEYS, 'options.replace');
  return parseInteger('options.replace.grace', o.grace, 0, MAX_TIMER_MS, 5000);
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
    env: parseEnv(o.env),
    attach: parseBoolean('options.attach', o.attach, false),
    grace: parseGrace(o.replace),
  };
}
