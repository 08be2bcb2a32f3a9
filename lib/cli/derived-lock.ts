// run-one's rule for `solely run` without a TARGET: the same command line never runs twice at once
// for one user. The lock is an abstract socket name that any tool can compute (docs/cli.md):
// "solely-run/UID/" and the SHA-256, in hex, of each word of the command line as its bytes (UTF-8
// text as it is, any other bytes exactly as given), each followed by a NUL byte.
import { createHash } from 'node:crypto';

/** The abstract name that locks this command line for this user. */
export function commandLockName(commandLine: ReadonlyArray<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const word of commandLine) hash.update(Buffer.concat([Buffer.from(word), Buffer.of(0)]));
  return `solely-run/${process.getuid?.() ?? 0}/${hash.digest('hex')}`;
}
