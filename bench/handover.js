'use strict';
// Restarting an HTTP server on a Unix socket under a steady stream of requests: listenUnix's
// handover (the listening socket moves to the successor) against the restart it replaces (the old
// server closes, the successor waits for the path with `wait`, then binds anew).
//   node bench/handover.js            20 restarts of each kind, 4 clients
//   node bench/handover.js --quick    3 of each (keeps the benchmark working; numbers meaningless)
// Each request opens a fresh connection. Reported per kind: requests, failures (refused or
// reset), request latency in steady state and for requests started during a restart, and the
// longest stretch without a completed response (the accept gap).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const SERVER = path.join(__dirname, '..', 'test', 'fixtures', 'handover-server.js');
const QUICK = process.argv.includes('--quick');
const RESTARTS = QUICK ? 3 : 20;
const CLIENTS = 4;

function start(socket, flags) {
  const child = spawn(process.execPath, [SERVER, socket, ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  child.next = (pattern) => new Promise((resolve) => lines.on('line', function match(line) {
    if (!pattern.test(line)) return;
    lines.off('line', match);
    resolve(line);
  }));
  child.exited = new Promise((resolve) => child.once('exit', resolve));
  return child;
}

function request(socketPath) {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: '/', agent: false }, (response) => {
      response.resume();
      response.on('end', resolve);
    }).on('error', reject);
  });
}

/** Runs clients against socket while restart() restarts the server RESTARTS times. */
async function measure(kind, restart) {
  const socket = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'solely-bench-')), 's');
  let server = start(socket, []);
  await server.next(/^listening/);
  const samples = []; // [start, end, ok]
  const restarts = []; // [from, to]
  let running = true;
  const client = async () => {
    while (running) {
      const begin = performance.now();
      const ok = await request(socket).then(() => true, () => false);
      samples.push([begin, performance.now(), ok]);
    }
  };
  const clients = Array.from({ length: CLIENTS }, client);
  await new Promise((resolve) => setTimeout(resolve, 200)); // steady state first
  for (let i = 0; i < RESTARTS; i++) {
    const from = performance.now();
    server = await restart(socket, server);
    restarts.push([from, performance.now()]);
  }
  running = false;
  await Promise.all(clients);
  server.kill();
  await server.exited;
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
  return summary(kind, samples, restarts);
}

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function summary(kind, samples, restarts) {
  const during = (s) => restarts.some(([from, to]) => s[0] < to && s[1] > from);
  const latency = (list) => list.filter((s) => s[2]).map((s) => s[1] - s[0]).sort((a, b) => a - b);
  const steady = latency(samples.filter((s) => !during(s)));
  const restarting = latency(samples.filter(during));
  const ends = samples.filter((s) => s[2]).map((s) => s[1]).sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < ends.length; i++) gap = Math.max(gap, ends[i] - ends[i - 1]);
  return {
    kind,
    requests: samples.length,
    failed: samples.filter((s) => !s[2]).length,
    'steady p50/p99 ms': `${percentile(steady, 0.5).toFixed(2)} / ${percentile(steady, 0.99).toFixed(2)}`,
    'restarting p50/p99/max ms': `${percentile(restarting, 0.5).toFixed(2)} / ${percentile(restarting, 0.99).toFixed(2)} / ${(restarting.at(-1) ?? NaN).toFixed(2)}`,
    'accept gap ms': gap.toFixed(2),
  };
}

async function handover(socket, old) {
  const successor = start(socket, ['--handover', '--wait=60000']);
  await Promise.all([successor.next(/^listening/), old.exited]);
  return successor;
}

async function closeThenBind(socket, old) {
  const successor = start(socket, ['--wait=60000', '--say-waiting']);
  await successor.next(/^waiting/); // started and waiting: only the switch itself is measured
  old.kill('SIGTERM'); // the fixture closes on SIGTERM: the path is free at once
  await Promise.all([successor.next(/^listening/), old.exited]);
  return successor;
}

async function main() {
  const rows = [await measure('handover', handover), await measure('close, then wait and bind', closeThenBind)];
  console.log(`${RESTARTS} restarts per kind, ${CLIENTS} clients, a fresh connection per request (node ${process.version}, ${os.cpus().length} cpus)`);
  console.table(rows);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
