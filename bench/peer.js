'use strict';
// The other processes of the benchmark, one role each:
//   peer.js wake KIND TARGET          hand a lock back and forth on command (stdin lines):
//                                       "take", "wait" -> "armed" then "acquired <t>",
//                                       "release" -> "released <t>" (t: process.hrtime.bigint())
//   peer.js ring KIND TARGET ID LAST MS   after "go", loop acquire/release for MS ms; print counts
//   peer.js pending KIND TARGET STATS ROUNDS WINDOW_MS   fs.promises.stat with 64 waits pending
// KIND: abstract | file | fcntl (solely), fsne (fs-native-extensions), fs-ext (async flock),
//   poll (no lock: the event loop's floor; TARGET a FIFO, "release" writes one byte to it, "wait"
//   is the addon's fd watch on it, as solely's waits use, calling back into JavaScript).
// The clock is system-wide (below), so times compare across processes.
const { setMaxListeners } = require('node:events');
const fs = require('node:fs');
const readline = require('node:readline');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { setTimeout: sleep } = require('node:timers/promises');
const solely = require('..');

const [role, kind, target, ...rest] = process.argv.slice(2);
// Node's hrtime is CLOCK_MONOTONIC, system-wide; Bun's and Deno's count from their own start, so
// there the wall clock (performance, to the µs) keeps times comparable across processes.
const wallClock = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const now = process.versions.bun || process.versions.deno ? wallClock : () => process.hrtime.bigint();
const say = (line) => process.stdout.write(`${line}\n`);

function optional(name) {
  try {
    return require(name);
  } catch {
    return undefined;
  }
}

// The FIFO of kind poll, opened for reading first (an O_NONBLOCK open for writing needs a reader).
let fifo;
function fifoFds() {
  const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;
  fifo ??= { read: fs.openSync(target, O_RDONLY | O_NONBLOCK) };
  fifo.write ??= fs.openSync(target, O_WRONLY | O_NONBLOCK);
  return fifo;
}

function pollWait() {
  const { binding } = require('../dist/internal/binding');
  const { read, write } = fifoFds();
  return new Promise((resolve) => {
    const watch = new binding.FdWatch(() => {
      watch.stop();
      fs.readSync(read, Buffer.alloc(64)); // every byte written so far: the next wait starts empty
      resolve({ release: () => fs.writeSync(write, 'x') });
    });
    if (watch.start(read) < 0) throw new Error('poll: the fd watch did not start');
  });
}

/** A lock held by this process: { release() }. */
function trySync() {
  if (kind === 'poll') return { release: () => fs.writeSync(fifoFds().write, 'x') };
  if (kind === 'abstract') return solely.tryLockAbstractSync(target);
  if (kind === 'file') return solely.tryLockFileSync(target);
  if (kind === 'fcntl') return solely.tryLockFileSync(target, { method: 'fcntl' });
  if (kind === 'fsne') {
    const fd = fs.openSync(target, 'r+');
    if (optional('fs-native-extensions').tryLock(fd)) return fdLock(fd);
    fs.closeSync(fd);
    return null;
  }
  throw new Error(`unknown kind ${kind}`);
}

/** Starts a wait; returns its promise once the wait is armed (the first attempt has run). */
function waitLock(signal) {
  if (kind === 'abstract') return solely.lockAbstract(target, { wait: true, signal });
  if (kind === 'file') return solely.lockFile(target, { wait: true, signal });
  if (kind === 'poll') return pollWait();
  const fd = fs.openSync(target, 'r+');
  if (kind === 'fsne') return optional('fs-native-extensions').waitForLock(fd).then(() => fdLock(fd));
  if (kind === 'fs-ext') {
    return new Promise((resolve, reject) => {
      optional('fs-ext').flock(fd, 'ex', (error) => (error ? reject(error) : resolve(fdLock(fd))));
    });
  }
  throw new Error(`unknown kind ${kind}`);
}

function fdLock(fd) {
  return {
    release() {
      if (kind === 'fsne') optional('fs-native-extensions').unlock(fd);
      fs.closeSync(fd);
    },
  };
}

async function wake() {
  let lock = null;
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line === 'take') {
      lock = trySync();
      say(lock === null ? 'busy' : 'held');
    } else if (line === 'wait') {
      const pending = waitLock();
      say('armed');
      lock = await pending;
      say(`acquired ${now()}`);
    } else if (line === 'release') {
      const t = now();
      lock.release();
      lock = null;
      say(`released ${t}`);
    }
  }
}

async function ring() {
  const [id, lastPath, ms] = rest;
  const last = fs.openSync(lastPath, 'r+');
  const mine = Buffer.from([Number(id)]);
  const seen = Buffer.alloc(1);
  await new Promise((resolve) => readline.createInterface({ input: process.stdin }).once('line', resolve));
  const end = now() + BigInt(Math.round(Number(ms) * 1e6));
  let acquisitions = 0;
  let handoffs = 0;
  while (now() < end) {
    const lock = await waitLock();
    acquisitions++;
    fs.readSync(last, seen, 0, 1, 0);
    if (seen[0] !== mine[0]) handoffs++;
    fs.writeSync(last, mine, 0, 1, 0);
    lock.release();
  }
  say(JSON.stringify({ acquisitions, handoffs }));
  process.exit(0); // waits of other kinds may still be pending in threads
}

/** ns per fs.promises.stat over n sequential calls, or null when they did not finish in time. */
async function statBatch(n, limitMs) {
  const start = now();
  const batch = (async () => {
    for (let i = 0; i < n; i++) await fs.promises.stat(__filename);
  })();
  const finished = await Promise.race([batch.then(() => true), sleep(limitMs, false, { ref: false })]);
  return finished ? Number(now() - start) / n : null;
}

// Waits of solely can be aborted, so baseline and pending alternate in rounds; the anchors'
// waits cannot be cancelled, so their pending rounds come after the baseline rounds.
async function pending() {
  const [stats, rounds, windowMs] = rest.map(Number);
  const limitMs = 2000;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const cancellable = kind === 'abstract' || kind === 'file';
  // base/pending: ns per stat; baseGapsMs/gapsMs: each window's longest event-loop gap.
  const result = { base: [], pending: [], baseGapsMs: [], gapsMs: [] };
  // One stat batch inside a window at least windowMs long, the event loop's delay watched.
  const measure = async (gapKey) => {
    const start = now();
    delay.reset();
    delay.enable();
    const ns = await statBatch(stats, limitMs);
    const left = windowMs - Number(now() - start) / 1e6;
    if (left > 0) await sleep(left);
    delay.disable();
    result[gapKey].push(delay.max / 1e6);
    return ns;
  };
  await statBatch(stats, limitMs); // warm-up
  if (cancellable) {
    for (let r = 0; r < rounds; r++) {
      result.base.push(await measure('baseGapsMs'));
      const abort = new AbortController();
      setMaxListeners(64, abort.signal);
      const waits = Array.from({ length: 64 }, () => waitLock(abort.signal).catch(() => {}));
      result.pending.push(await measure('gapsMs'));
      abort.abort();
      await Promise.all(waits);
    }
  } else {
    for (let r = 0; r < rounds; r++) result.base.push(await measure('baseGapsMs'));
    for (let i = 0; i < 64; i++) waitLock().catch(() => {});
    for (let r = 0; r < rounds; r++) {
      const ns = await measure('gapsMs');
      result.pending.push(ns);
      if (ns === null) break; // the pool is blocked: no need to wait again
    }
  }
  say(JSON.stringify(result));
  process.exit(0); // the anchors' waits are still pending in threads
}

const roles = { wake, ring, pending };
roles[role]().catch((error) => {
  console.error(error);
  process.exit(1);
});
