// A failed syscall's code and message, and its message worded as Node words its own errors.
// node:util, node:fs and node:path load when a message is first built, not at start: Bun builds
// each of them on first require, a few milliseconds of a launch that takes a free lock. Not
// through lazy-modules, which needs this module (through errno) to be loaded first.
/* eslint-disable @typescript-eslint/no-require-imports */
import { constants } from 'node:os';
import type { ErrnoCode, ErrorTarget } from '../errors';

// libuv's table (behind util) lacks some errnos that locks return.
const EXTRA_MESSAGES: Record<string, string> = {
  EDEADLK: 'resource deadlock avoided',
  ENOLCK: 'no locks available',
  ESTALE: 'stale file handle',
  EDQUOT: 'disk quota exceeded',
};

let names: Map<number, [ErrnoCode, string]> | undefined;

export function describe(errno: number): [code: ErrnoCode, message: string] {
  if (names === undefined) {
    // libuv's names are the ErrnoCode union; test/errors.test.js checks it against this table.
    const { getSystemErrorMap } = require('node:util') as typeof import('node:util');
    names = new Map(getSystemErrorMap() as Map<number, [ErrnoCode, string]>);
    for (const [code, value] of Object.entries(constants.errno) as [keyof typeof constants.errno, number][]) {
      if (!names.has(-value)) names.set(-value, [code, EXTRA_MESSAGES[code] ?? 'system error']);
    }
    // As Node's dns does: a name that does not resolve is ENOTFOUND, whichever getaddrinfo code says so.
    for (const [errno, [code, message]] of names) {
      if (code === 'EAI_NONAME' || code === 'EAI_NODATA') names.set(errno, ['ENOTFOUND', message]);
    }
  }
  return names.get(errno) ?? [`E${-errno}`, `unknown system error ${-errno}`];
}

// Node words a socket call's error `listen EADDRINUSE: address already in use /x.sock` (net's
// connect leaves the text out: `connect ECONNREFUSED 127.0.0.1:5432`), any other call's as fs does:
// `ENOENT: no such file or directory, open '/x/a.lock'`.
const SOCKET_CALLS = new Set(['socket', 'bind', 'listen', 'connect', 'accept', 'send', 'recv', 'getsockopt']);
// Calls that create the lock's file or socket: a refusal there usually means the wrong directory.
const CREATING_CALLS = new Set(['open', 'mkdir', 'bind', 'listen', 'flock', 'fcntl']);
const WRITABLE_DIRECTORY_HINT = 'use a directory you may write, such as $XDG_RUNTIME_DIR or /run/lock';

/**
 * A system error's message in Node's words (see SOCKET_CALLS), with a hint where one helps. Every
 * message that names a syscall and code is built here.
 */
export function systemMessage(code: string, text: string, syscall: string, target: ErrorTarget): string {
  const { path, address } = target;
  if (path === undefined || SOCKET_CALLS.has(syscall)) {
    const where = path ?? address;
    const said = syscall === 'connect' ? `${syscall} ${code}` : `${syscall} ${code}: ${text}`;
    return withHint(where === undefined || where === '' ? said : `${said} ${where}`, code, syscall, path);
  }
  return withHint(`${code}: ${text}, ${syscall} '${path}'`, code, syscall, path);
}

function withHint(message: string, code: string, syscall: string, path: string | undefined): string {
  if (path === undefined || !CREATING_CALLS.has(syscall)) return message;
  if (code === 'ENOENT' && !directoryExists(path)) return `${message} (the directory does not exist)`;
  if (code === 'EACCES' || code === 'EROFS') return `${message} (${WRITABLE_DIRECTORY_HINT})`;
  return message;
}

function directoryExists(path: string): boolean {
  const { existsSync } = require('node:fs') as typeof import('node:fs');
  const nodePath = require('node:path') as typeof import('node:path');
  return existsSync(nodePath.dirname(path));
}
