'use strict';
const assert = require('node:assert/strict');
const { channel } = require('node:diagnostics_channel');
const { setMaxListeners } = require('node:events');
const fsp = require('node:fs/promises');
const path = require('node:path');
const { describe, test } = require('node:test');
const solely = require('../..');
const { FIXTURES, uniqueName, tempDir, holder, kill, spawnReady } = require('../support/helpers');

const MOCKED_WAITER = path.join(FIXTURES, 'wait-mocked-clock.js');
const FALLBACK_POLL_MS = 250;

/** A lockAbstract(name, { wait: true }) in a child whose timers run only when tick() advances them. */
async function mockedClockWaiter(t, name) {
  const waiter = await spawnReady(t, process.execPath, ['--no-warnings', MOCKED_WAITER, name]);
  assert.equal(waiter.firstLine, 'waiting');
  const lines = waiter.lines[Symbol.asyncIterator]();
  return {
    nextLine: async () => (await lines.next()).value,
    /** Advances the waiter's clock by ms: "ticked", or "locked" if the lock was taken meanwhile. */
    tick: async (ms) => {
      waiter.stdin.write(`tick ${ms}\n`);
      return (await lines.next()).value;
    },
  };
}

const kinds = [
  { kind: 'abstract', fixture: 'abstract', target: () => uniqueName(), lock: solely.lockAbstract, sync: solely.lockAbstractSync, where: (x) => ({ address: `@${x}` }) },
  { kind: 'file', fixture: 'file', target: (t) => path.join(tempDir(t), 'w.lock'), lock: solely.lockFile, sync: solely.lockFileSync, where: (x) => ({ path: x }) },
  { kind: 'fcntl', fixture: 'fcntl', target: (t) => path.join(tempDir(t), 'w.lock'), lock: (x, o) => solely.lockFile(x, { ...o, method: 'fcntl' }), sync: (x) => solely.lockFileSync(x, { method: 'fcntl' }), where: (x) => ({ path: x }) },
];

describe('waiting, for an abstract, a flock and an fcntl lock', () => {
  for (const k of kinds) waitTests(k);
});

function waitTests(k) {
  test(`${k.kind}: a waiter acquires when the holding process is SIGKILLed`, async (t) => {
    const target = k.target(t);
    const child = await holder(t, k.fixture, target);
    const waiting = k.lock(target, { wait: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await kill(child);
    const lock = await waiting;
    assert.equal(lock.released, false);
    lock.release();
  });

  test(`${k.kind}: wait: ms rejects with LockTimeoutError`, async (t) => {
    const target = k.target(t);
    const held = k.sync(target);
    await assert.rejects(k.lock(target, { wait: 30 }), (error) => {
      assert.ok(error instanceof solely.LockTimeoutError);
      assert.equal(error.code, 'ETIMEDOUT');
      for (const [key, value] of Object.entries(k.where(held.target))) assert.equal(error[key], value);
      return true;
    });
    held.release();
  });

  test(`${k.kind}: wait: false rejects at once with LockHeldError`, async (t) => {
    const target = k.target(t);
    const held = k.sync(target);
    await assert.rejects(k.lock(target), { name: 'LockHeldError', code: 'ELOCKED' });
    await assert.rejects(k.lock(target, { wait: 0 }), { name: 'LockHeldError', code: 'ELOCKED' });
    held.release();
  });

  test(`${k.kind}: an abort rejects with AbortError whose cause is the reason; pre-aborted takes nothing`, async (t) => {
    const target = k.target(t);
    const held = k.sync(target);
    const controller = new AbortController();
    const waiting = k.lock(target, { wait: true, signal: controller.signal });
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(waiting, (error) => {
      assert.ok(error instanceof solely.AbortError);
      assert.ok(error instanceof solely.SolelyError);
      assert.equal(error.name, 'AbortError');
      assert.equal(error.code, 'ABORT_ERR');
      assert.equal(error.cause, reason);
      return true;
    });
    held.release();
    // Free now: an already-aborted signal still rejects, and the lock stays free.
    await assert.rejects(k.lock(target, { wait: true, signal: AbortSignal.abort('early') }), { name: 'AbortError', cause: 'early' });
    await assert.rejects(k.lock(target, { signal: AbortSignal.abort('early') }), { name: 'AbortError' });
    k.sync(target).release();
  });

  test(`${k.kind}: each release wakes exactly one of several waiters`, async (t) => {
    const target = k.target(t);
    let lock = k.sync(target);
    const order = [];
    const waiters = [0, 1, 2, 3].map((i) => k.lock(target, { wait: true }).then((l) => (order.push(i), l)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(order.length, 0);
    for (let round = 0; round < 4; round++) {
      lock.release();
      lock = await Promise.race(waiters.filter((_, i) => !order.slice(0, round).includes(i)));
      await new Promise((resolve) => setTimeout(resolve, 30)); // room for a wrong second winner to show
      assert.equal(order.length, round + 1, `after ${round + 1} releases, ${round + 1} waiters got it`);
    }
    lock.release();
  });
}

test('abstract: a holder that does not listen is noticed by the fallback poll', async (t) => {
  const name = uniqueName();
  const child = await holder(t, 'abstract', name, '--no-listen');
  const waiting = solely.lockAbstract(name, { wait: 5000 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  await kill(child);
  (await waiting).release();
});

test('abstract: a waiter queued on a listening holder is woken by its death alone, no timer needed', async (t) => {
  const name = uniqueName();
  const child = await holder(t, 'abstract', name);
  // "waiting" comes after the waiter's first attempt, which connected to the holder.
  const waiter = await mockedClockWaiter(t, name);
  await kill(child);
  assert.equal(await waiter.nextLine(), 'locked', 'the reset of the queued connection woke the waiter, with its clock stopped');
});

// The clock is mocked (setTimeout): a retry after a backoff cannot run, one at once can. A holder
// bound without listening refuses the waiter's connect, as one does that lets go between the
// waiter's bind and its connect (four processes handing a lock around spent ms in backoffs).
test('abstract: a refused connect as the wait begins is retried at once a few times, then backed off, never busy-looping', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const name = uniqueName();
  const held = solely.lockAbstractSync(name, { listen: false });
  t.after(() => held.release());
  let attempts = 0;
  const onAttempt = (attempt) => attempt.target.address === `@${name}` && attempts++;
  channel('solely:wait').subscribe(onAttempt);
  t.after(() => channel('solely:wait').unsubscribe(onAttempt));
  const controller = new AbortController();
  const waiting = solely.lockAbstract(name, { wait: true, signal: controller.signal }).catch((e) => e);
  const turns = async (n) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  await turns(20);
  const atOnce = attempts;
  assert.ok(atOnce > 1, `${atOnce} attempt(s) with the clock stopped: a refused connect waited for a backoff at once`);
  await turns(20);
  assert.equal(attempts, atOnce, 'the retries at once stop: the waiter backs off');
  held.release();
  t.mock.timers.tick(1); // the first backoff
  const lock = await waiting;
  assert.equal(lock.kind, 'abstract');
  lock.release();
});

// A holder that accepts and hangs up (listenUnix('\0name'), a single-instance primary) wakes its
// waiters at once each time, yet keeps the name. The waiter runs on a mocked clock, so the bound is
// a count of events, not a wall-clock window, and no load can break it: each reconnection waits
// for a backoff timer (1, 2, 4 ... 128, then 250 ms), so by its 12th connection the waiter's clock
// has advanced at least 1 + 2 + ... + 128 + 3 * 250 = 1005 ms. A waiter that reconnects as soon as
// it is hung up on is paced only by the two processes' round trips, as the ticks are: it reaches 12
// connections about 12 ticks (12 ms) in, and without ticks makes thousands a second.
test('abstract: a waiter backs off from a holder that accepts and hangs up, up to the fallback poll, never busy-looping', async (t) => {
  const name = uniqueName();
  const server = await solely.listenUnix(`\0${name}`);
  t.after(() => server.listening && server.close());
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.destroy();
  });
  const waiter = await mockedClockWaiter(t, name);
  const TICK_MS = 1;
  let clockMs = 0;
  while (connections < 12) {
    assert.ok(clockMs < 60_000, `the waiter's clock passed a minute with ${connections} connections: it stopped retrying`);
    assert.equal(await waiter.tick(TICK_MS), 'ticked');
    clockMs += TICK_MS;
  }
  assert.ok(clockMs >= 1005, `12 connections within ${clockMs} ms of the waiter's clock: it did not back off`);
  // The holder goes: the longest backoff being the fallback poll, the waiter takes the lock within one.
  await new Promise((resolve) => server.close(resolve));
  let sinceClose = 0;
  while ((await waiter.tick(TICK_MS)) !== 'locked') {
    sinceClose += TICK_MS;
    assert.ok(sinceClose < FALLBACK_POLL_MS, `not locked ${sinceClose} ms (waiter's clock) after the holder closed`);
  }
});

test('file: a holder that unlocks without closing is noticed by the fallback poll', async (t) => {
  const file = path.join(tempDir(t), 'unlock.lock');
  const child = await holder(t, 'file', file, '--release-on-input');
  const waiting = solely.lockFile(file, { wait: 5000 });
  child.stdin.write('release\n');
  (await waiting).release();
});

test('64 pending waits occupy no thread-pool thread: fs.promises.stat completes while they wait', async (t) => {
  const dir = tempDir(t);
  const name = uniqueName();
  const heldAbstract = solely.lockAbstractSync(name);
  const heldFile = solely.lockFileSync(path.join(dir, 'p.lock'));
  const controller = new AbortController();
  const waits = [];
  for (let i = 0; i < 32; i++) {
    waits.push(solely.lockAbstract(name, { wait: true, signal: controller.signal }).catch((e) => e));
    waits.push(solely.lockFile(heldFile.target, { wait: true, signal: controller.signal }).catch((e) => e));
  }
  // The pool has 4 threads: a blocking design would starve these 16 stats.
  const stats = await Promise.race([
    Promise.all(Array.from({ length: 16 }, () => fsp.stat(dir))),
    new Promise((resolve) => setTimeout(resolve, 10_000, 'starved')),
  ]);
  assert.notEqual(stats, 'starved');
  assert.equal(stats.length, 16);
  controller.abort();
  for (const result of await Promise.all(waits)) assert.equal(result.name, 'AbortError');
  heldAbstract.release();
  heldFile.release();
});

// The waits' clock is mocked: each 1 ms tick runs the fallback polls due in it, however busy the
// machine is. Armed together, the polls of 64 waits would all fall in the same tick.
test('64 waits armed together spread their fallback polls over many timer ticks, never one burst', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  for (const kind of kinds.slice(0, 2)) {
    const held = kind.sync(kind.target(t));
    let polls = 0;
    const onAttempt = (attempt) => attempt.cause === 'poll' && polls++;
    channel('solely:wait').subscribe(onAttempt);
    const controller = new AbortController();
    setMaxListeners(64, controller.signal);
    const waits = Array.from({ length: 64 }, () => kind.lock(held.target, { wait: true, signal: controller.signal }).catch((e) => e));
    t.after(() => {
      channel('solely:wait').unsubscribe(onAttempt);
      controller.abort();
      held.release();
    });
    let most = 0;
    for (let ms = 0; ms < FALLBACK_POLL_MS; ms++) {
      const before = polls;
      t.mock.timers.tick(1);
      most = Math.max(most, polls - before);
    }
    assert.equal(polls, 64, `${kind.kind}: each wait polled once within the fallback interval`);
    assert.ok(most <= 4, `${kind.kind}: ${most} of the 64 polls ran in one tick`);
    controller.abort();
    for (const result of await Promise.all(waits)) assert.equal(result.name, 'AbortError');
  }
});

test("Node 20's net pads '\\0name' to 108 bytes: a different name, which does not conflict", { skip: Number(process.versions.node.split('.')[0]) >= 22 }, async (t) => {
  const name = uniqueName();
  const server = require('node:net').createServer();
  await new Promise((resolve) => server.listen(`\0${name}`, resolve));
  t.after(() => server.close());
  const lock = solely.lockAbstractSync(name);
  lock.release();
});

test('many waits sharing one AbortSignal: each rejects on abort, and no MaxListenersExceededWarning', async (t) => {
  const name = uniqueName();
  const file = path.join(tempDir(t), 'shared-signal.lock');
  const heldAbstract = solely.lockAbstractSync(name);
  const heldFile = solely.lockFileSync(file);
  const warnings = [];
  const onWarning = (warning) => warnings.push(warning.name);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const controller = new AbortController();
  const waits = [];
  for (let i = 0; i < 20; i++) {
    waits.push(solely.lockAbstract(name, { wait: true, signal: controller.signal }).catch((e) => e));
    waits.push(solely.lockFile(file, { wait: true, signal: controller.signal }).catch((e) => e));
  }
  // A wait that ended before the abort leaves nothing behind on the shared signal.
  heldAbstract.release();
  const winner = await Promise.race(waits);
  winner.release();
  controller.abort('stop');
  const results = await Promise.all(waits);
  assert.equal(results.filter((r) => r instanceof solely.AbortError && r.cause === 'stop').length, 39);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(warnings, []);
  heldFile.release();
});
