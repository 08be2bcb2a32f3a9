'use strict';
// The bench on each other runtime that is installed (Bun, Deno): bench/run.js itself, run by that
// runtime, prints the same rows as Node's table, so that a regression on any runtime shows. Its
// peers and launches are processes of that runtime (process.execPath). bench/run.js calls it after
// its own table;
//   node bench/runtimes.js [--quick] [--markdown] [--rounds=N]   runs it alone.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const RUN = path.join(__dirname, 'run.js');
const RUNTIMES = { bun: ['bun'], deno: ['deno', 'run', '-A'] };
// Every row family but the PostgreSQL server's, which measures the server and its client.
const FAMILIES = 'acquire,slots,contention,wake-up,event-loop,startup,single-instance,hand-off';
const PASSED_ON = (arg) => arg === '--quick' || arg === '--markdown' || arg.startsWith('--rounds=');

function version(runtime) {
  const [command] = RUNTIMES[runtime];
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.match(/\d+\.\d+\.\d+/)?.[0] : undefined;
}

/** Runs the bench on each installed runtime, its output after ours; 1 if a run failed. */
function main(args = process.argv.slice(2)) {
  const markdown = args.includes('--markdown');
  let failed = 0;
  for (const runtime of Object.keys(RUNTIMES)) {
    console.log('');
    if (version(runtime) === undefined) {
      console.log(markdown ? `${runtime}: not installed, not measured.` : `${runtime} not installed`);
      continue;
    }
    const [command, ...options] = RUNTIMES[runtime];
    const run = spawnSync(command, [...options, RUN, `--only=${FAMILIES}`, ...args.filter(PASSED_ON)], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (run.status !== 0) {
      console.error(`bench on ${runtime} exited with ${run.status ?? run.signal}`);
      failed = 1;
    }
  }
  return failed;
}

if (require.main === module) process.exitCode = main();

module.exports = { main, RUNTIMES };
