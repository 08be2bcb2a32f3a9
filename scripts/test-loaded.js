'use strict';
// npm run test:loaded [-- --runs N --burners M [-- COMMAND ARGS...]]: runs `npm test` (or
// COMMAND) N times in a row (default 3) while M CPU-bound processes (default 4, at the default
// nice level) compete for the CPUs, as on a shared CI machine. A test that waits on a sleep or a
// wall-clock window instead of an event fails here first. Each run's output goes to a log file; a
// summary line per run is printed, the burners are stopped, and the exit status is 1 if any run
// failed.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const ROOT = path.join(__dirname, '..');
const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '3' }, burners: { type: 'string', default: '4' } }, allowPositionals: true });
const [command, ...args] = positionals.length > 0 ? positionals : ['npm', 'test'];
const runs = Number(values.runs);
const burnerCount = Number(values.burners);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(burnerCount) || burnerCount < 0) {
  console.error('usage: npm run test:loaded -- [--runs N (>= 1, default 3)] [--burners M (>= 0, default 4)] [-- COMMAND ARGS... (default npm test)]');
  process.exit(64);
}

const burners = Array.from({ length: burnerCount }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
const stopBurners = () => {
  for (const burner of burners) if (burner.exitCode === null && burner.signalCode === null) burner.kill('SIGKILL');
};
process.on('exit', stopBurners);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    stopBurners();
    process.exit(128 + os.constants.signals[signal]);
  });
}

/** Runs the command once, its output into log; resolves with its exit status and its TAP counts and failures. */
function runSuite(log) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(log, 'w');
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', out, out] });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      fs.closeSync(out);
      const text = fs.readFileSync(log, 'utf8');
      const count = (name) => Number(text.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? NaN);
      const failures = [...text.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((match) => match[1]);
      resolve({ status: code ?? 128 + os.constants.signals[signal], pass: count('pass'), fail: count('fail'), failures });
    });
  });
}

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-loaded-'));
  const pids = burners.map((burner) => burner.pid).join(' ');
  console.log(`${burnerCount} CPU burners (pids ${pids}) beside ${[command, ...args].map((arg) => (/\s/.test(arg) ? JSON.stringify(arg) : arg)).join(' ')}, ${runs} run(s), on ${os.availableParallelism()} CPU(s); logs in ${dir}`);
  const results = [];
  for (let run = 1; run <= runs; run++) {
    const log = path.join(dir, `run-${run}.log`);
    const started = process.hrtime.bigint();
    const result = await runSuite(log);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    results.push(result);
    const verdict = result.status === 0 ? 'passed' : `FAILED (exit ${result.status})`;
    const counts = Number.isNaN(result.pass) ? '' : `, ${result.pass} passed, ${result.fail} failed`;
    console.log(`run ${run}/${runs}: ${verdict}${counts}, ${seconds.toFixed(0)} s, ${log}`);
    for (const name of result.failures) console.log(`  not ok: ${name}`);
  }
  stopBurners();
  // Reaped before this process exits, so none is left behind even for a moment.
  await Promise.all(burners.map((burner) => burner.exitCode === null && burner.signalCode === null && new Promise((resolve) => burner.once('exit', resolve))));
  const failed = results.filter((result) => result.status !== 0).length;
  console.log(failed === 0 ? `all ${runs} run(s) passed under load` : `${failed} of ${runs} run(s) failed under load`);
  process.exitCode = failed === 0 ? 0 : 1;
})();
