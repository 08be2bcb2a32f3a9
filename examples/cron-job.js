'use strict';
// A job that cron starts every few minutes and that must never overlap itself: a run that finds the
// previous one still going exits at once with 75 (EX_TEMPFAIL), naming it.
//   node examples/cron-job.js [SECONDS]   # the "work" takes SECONDS (default 5)
// The lock file lives in $XDG_RUNTIME_DIR (or /run/lock), never /tmp, which systemd-tmpfiles ages out.
const path = require('node:path');
const { lockFileSync, LockHeldError } = require('solely');

const seconds = Number(process.argv[2] ?? 5);
const lockPath = path.join(process.env.XDG_RUNTIME_DIR ?? '/run/lock', 'solely-example-cron.lock');

let lock;
try {
  lock = lockFileSync(lockPath);
} catch (error) {
  if (!(error instanceof LockHeldError)) throw error;
  console.error(`the previous run is still going (pid ${error.holder?.pid}): skipping this one`);
  process.exit(75);
}
console.log(`job running (pid ${process.pid})`);
setTimeout(() => {
  console.log('job done');
  lock.release(); // the kernel would free it when the process ends anyway, however it ends
}, seconds * 1000);
