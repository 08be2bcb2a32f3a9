// A job that runs on every node of a cluster but once at a time across all of them: the nodes share
// a PostgreSQL database, whose advisory lock decides. Each run gets a fencing token higher than any
// run before it, to pass with its writes. A node that finds the job running skips its turn (exit 75).
//   DATABASE_URL=postgres://... node examples/postgres-job.mjs [SECONDS]   # npm install pg
import { tryLockPostgres } from 'solely/postgres';

const seconds = Number(process.argv[2] ?? 5);
const lock = await tryLockPostgres('solely-example-report', { connection: process.env.DATABASE_URL });
if (lock === null) {
  console.error('another node runs the job: skipping this turn');
  process.exit(75);
}
lock.on('lost', (error) => console.error(`lock lost (${error.code}): stopping`));
console.log(`job running, fencing token ${lock.fencingToken}`);
// The work: writes carry lock.fencingToken and stop when lock.signal aborts.
await new Promise((resolve) => {
  const timer = setTimeout(resolve, seconds * 1000);
  lock.signal.addEventListener('abort', () => resolve(clearTimeout(timer)));
});
await lock.release();
console.log('job done');
