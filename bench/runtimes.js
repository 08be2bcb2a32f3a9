'use strict';
// The wake-up row on each runtime that is installed (Node, Bun, Deno): two bench/peer.js processes
// of one runtime hand a lock back and forth; each sample is release → acquired (CLOCK_MONOTONIC,
// so times compare across processes). bench/run.js calls it after its own table;
//   node bench/runtimes.js [--quick]   runs it alone.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const PEER = path.join(__dirname, 'peer.js');
const RUNTIMES = { node: [process.execPath], bun: ['bun'], deno: ['deno', 'run', '-A'] };

function version(runtime) {
  const [command] = RUNTIMES[runtime];
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.match(/\d+\.\d+\.\d+/)?.[0] : undefined;
}

/** A peer on runtime, answering one line per command. */
function peerOn(runtime, kind, target) {
  const [command, ...options] = RUNTIMES[runtime];
  const child = spawn(command, [...options, PEER, 'wake', kind, target], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  child.ask = async (command, answer) => {
    if (command !== null) child.stdin.write(`${command}\n`);
    const { value } = await lines.next();
    if (!value?.startsWith(answer)) throw new Error(`${runtime} peer said "${value}", expected "${answer}"`);
    return value.slice(answer.length).trim();
  };
  return child;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** p50 and p99 of n hand-overs between two peers of runtime, in µs. */
async function wake(runtime, kind, target, n) {
  const pair = [peerOn(runtime, kind, target), peerOn(runtime, kind, target)];
  try {
    await pair[0].ask('take', 'held');
    const samples = [];
    for (let i = 0; i < n; i++) {
      const [holder, waiter] = i % 2 ? [pair[1], pair[0]] : pair;
      await waiter.ask('wait', 'armed');
      await new Promise((resolve) => setTimeout(resolve, 2)); // the waiter goes idle
      const released = BigInt(await holder.ask('release', 'released'));
      const acquired = BigInt(await waiter.ask(null, 'acquired'));
      samples.push(Number(acquired - released) / 1e3);
    }
    samples.sort((a, b) => a - b);
    return [percentile(samples, 50), percentile(samples, 99)];
  } finally {
    for (const child of pair) child.kill('SIGKILL');
  }
}

async function main(quick = process.argv.includes('--quick')) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-bench-runtimes-'));
  const n = quick ? 10 : 400;
  console.log(`\nwake-up after the holder releases (another process of the same runtime), ${n} hand-overs${quick ? ' — QUICK MODE, numbers meaningless' : ''}`);
  try {
    for (const runtime of Object.keys(RUNTIMES)) {
      const tested = version(runtime);
      if (tested === undefined) {
        console.log(`${runtime.padEnd(5)} not installed`);
        continue;
      }
      const file = path.join(dir, runtime);
      fs.writeFileSync(file, '');
      const abstract = await wake(runtime, 'abstract', `solely-bench-${process.pid}-${runtime}`, n);
      const fileLock = await wake(runtime, 'file', file, n);
      const shown = ([p50, p99]) => `p50 ${p50.toFixed(1)} µs, p99 ${p99.toFixed(1)} µs`;
      console.log(`${runtime.padEnd(5)} ${tested.padEnd(8)} lockAbstract: ${shown(abstract)}; lockFile: ${shown(fileLock)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) main().catch((error) => {
  process.exitCode = 1;
  console.error(error);
});

module.exports = { main };
