'use strict';
// A daemon with a pidfile, as BSD's pidfile(3) keeps one: locked before it is written, so a second
// copy is refused (exit 75) naming the first, and removed on a clean stop while still locked.
//   node examples/daemon-pidfile.js [PIDFILE]   # default $XDG_RUNTIME_DIR/solely-example.pid
// A SIGKILLed daemon leaves its file, unlocked: readPidfile (or `solely status`) calls it stale.
const path = require('node:path');
const { openPidfileSync, LockHeldError } = require('solely');

const pidfilePath = process.argv[2] ?? path.join(process.env.XDG_RUNTIME_DIR ?? '/run', 'solely-example.pid');

let pidfile;
try {
  pidfile = openPidfileSync(pidfilePath);
} catch (error) {
  if (!(error instanceof LockHeldError)) throw error;
  console.error(`already running as pid ${error.holder?.pid}`);
  process.exit(75);
}
pidfile.write();
const tick = setInterval(() => {}, 60_000); // the daemon's work would keep the process alive
process.once('SIGTERM', () => {
  clearInterval(tick);
  pidfile.remove();
  console.log('stopped');
});
console.log(`daemon running, pid ${process.pid}, pidfile ${pidfile.target}`);
