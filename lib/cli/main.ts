// The `solely` command: run a job at most once (cron, daemons), or ask who holds a lock.
// Loads only what the chosen command needs: a run costs little more than `node -e 0`.

// First, before any module loads: a SIGUSR1 that finds no listener makes Node open its inspector
// on 127.0.0.1:9229, where any local user can run code as this process's user (root under systemd).
// A listener replaces Node's handler; it stays for the process's life, since removing the last one
// would make SIGUSR1 kill the wrapper. run forwards SIGUSR1 to COMMAND by a listener of its own.
process.on('SIGUSR1', () => {});

/* eslint-disable @typescript-eslint/no-require-imports */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, UsageError } from './args';
import { USAGE } from './help';
import { printable } from '../internal/holder-message';
import { lazy } from '../internal/lazy-modules';
import { notePassedFds } from './passed-fds';

const runCommand = lazy(() => require('./run') as typeof import('./run'));
const statusCommand = lazy(() => require('./status') as typeof import('./status'));
const fdLock = lazy(() => require('./fd-lock') as typeof import('./fd-lock'));
const listCommand = lazy(() => require('./list') as typeof import('./list'));

const EX_USAGE = 64;

// Before the CLI opens an fd of its own (a lock, an inotify): which ones the caller passed.
notePassedFds();

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand().run(args);
      case 'status':
        return await statusCommand().status(args);
      case 'lock':
        return await fdLock().lockFd(args);
      case 'unlock':
        return fdLock().unlockFd(args);
      case 'list':
        return listCommand().list(args);
      case '--version':
      case '-v': {
        const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
        process.stdout.write(`${version}\n`);
        return 0;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n\nsolely run --help and solely status --help say more.\n`);
        return 0;
      default:
        throw new UsageError(command === undefined ? 'give a command' : `unknown command ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`solely: ${printable(error.message)}\n${USAGE}\n`);
      return EX_USAGE;
    }
    process.stderr.write(`${describeError(error)}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  // Exit now: a lock handle left open must not keep the wrapper alive.
  process.exit(code);
});
