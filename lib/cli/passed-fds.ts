// The fds the caller passed to solely, which COMMAND inherits as flock(1)'s COMMAND does. Node marks
// fds 0 to 15, and on up to the first closed one, close-on-exec as it starts (libuv's
// uv_disable_stdio_inheritance): the flags no longer tell a passed fd from Node's own, so the kind
// does. Node's own are anonymous inodes (epoll, eventfd...), pipes whose both ends it holds, and a
// /dev/null; noted before the CLI opens anything, the rest were passed. Bun and Deno leave passed
// fds as they were, and open their own close-on-exec (Deno's cache files too): nothing to do there.
import { readdirSync, readlinkSync } from 'node:fs';
import { onNode } from '../internal/runtime';

/** Node marks fds up to here close-on-exec, and on above while they are open. */
const MARKED_AT_LEAST = 15;

/** The passed fds, each with what /proc/self/fd says it is. */
let passed: ReadonlyArray<readonly [number, string]> = [];

/** Notes the fds the caller passed that Node marked close-on-exec: first thing, before the CLI opens one. */
export function notePassedFds(): void {
  if (!onNode) return;
  const kinds = new Map<number, string>();
  try {
    for (const name of readdirSync('/proc/self/fd')) {
      try {
        kinds.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
      } catch {
        // the directory's own fd, closed by now
      }
    }
  } catch {
    return; // no /proc: nothing can be told
  }
  let gap = MARKED_AT_LEAST + 1;
  while (kinds.has(gap)) gap++;
  const pipes = [...kinds.values()].filter((kind) => kind.startsWith('pipe:'));
  const nodeOwn = (kind: string): boolean => kind.startsWith('anon_inode:') || kind === '/dev/null' || (kind.startsWith('pipe:') && pipes.indexOf(kind) !== pipes.lastIndexOf(kind));
  passed = [...kinds].filter(([fd, kind]) => fd > 2 && fd < gap && !nodeOwn(kind)).sort(([a], [b]) => a - b);
}

/**
 * The passed fds still open as they were: Node may have closed one of its own since that looked
 * passed (an inspector's socket, opened by a SIGUSR1 at startup and closed before COMMAND runs).
 */
export function passedFds(): number[] {
  return passed.filter(([fd, kind]) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === kind;
    } catch {
      return false;
    }
  }).map(([fd]) => fd);
}

/**
 * spawn's stdio for COMMAND: 0 to 2 inherited, each of fds at its own number (which leaves this
 * process's flags alone), and lockFd as fd 3 when given (it takes the place of a passed fd 3).
 */
export function stdioWithPassedFds(fds: readonly number[], lockFd: number | undefined): Array<'inherit' | 'ignore' | number> {
  const stdio: Array<'inherit' | 'ignore' | number> = ['inherit', 'inherit', 'inherit'];
  // No holes: spawn would shift the entries after one.
  for (const fd of fds) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = fd;
  }
  if (lockFd !== undefined) {
    if (stdio.length < 4) stdio.push('ignore');
    stdio[3] = lockFd;
  }
  return stdio;
}
