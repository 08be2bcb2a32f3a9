// `node guard.js PARENT_PID FDS -- COMMAND ARGS`: what `solely run` spawns for a lock COMMAND cannot
// inherit (a PostgreSQL session, a Redis lease). It becomes COMMAND with SIGTERM armed for when its
// parent dies, so that a SIGKILLed wrapper, whose lock is gone with it, leaves no COMMAND running.
// FDS (comma-separated, maybe empty) are the fds the caller passed, which Node marked close-on-exec
// here again: COMMAND gets them.
import { constants } from 'node:os';
import { binding } from '../internal/binding';
import { fromErrno } from '../internal/errno';
import { printable } from '../internal/holder-message';

function guard(args: string[]): number {
  const [parent, fds, separator, ...commandLine] = args;
  if (separator !== '--' || commandLine.length === 0 || !/^\d+$/.test(parent) || !/^(\d+(,\d+)*)?$/.test(fds)) {
    process.stderr.write('solely: usage: guard.js PARENT_PID FDS -- COMMAND [ARGS]\n');
    return 2;
  }
  const keep = fds === '' ? [] : fds.split(',').map(Number);
  const errno = binding.execWithParentDeath(constants.signals.SIGTERM, Number(parent), commandLine, keep);
  // The wrapper died before the signal was armed: its lock is gone, COMMAND must not start.
  if (errno === -constants.errno.ESRCH) return 128 + constants.signals.SIGTERM;
  const [command] = commandLine;
  const notFound = errno === -constants.errno.ENOENT;
  process.stderr.write(`solely: ${printable(command)}: ${notFound ? 'command not found' : printable(fromErrno(errno, 'execvp', { path: command }).message)}\n`);
  return notFound ? 127 : 126;
}

process.exitCode = guard(process.argv.slice(2));
