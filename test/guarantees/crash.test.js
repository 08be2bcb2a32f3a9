'use strict';
// Crash release: a holder SIGKILLed at a random point (acquiring, waiting, writing a pidfile,
// holding, releasing) never leaves the lock stuck: it is taken again at once, with no clean-up by
// anyone. A singleInstance primary SIGKILLed while it replies leaves its pending secondary an
// answer, the primary role or a typed error, within its timeout.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const solely = require('../..');
const { FIXTURES, uniqueName, tempDir, spawnReady, kill } = require('../support/helpers');
const { KINDS, SLOT_KINDS } = require('../support/kinds');
const { scale, record, quantile } = require('../support/scale');

const KILLS = scale(10, 400); // per kind: 1,200 in all under stress
const POOL = 3;
const REACQUIRE_LIMIT_MS = 10_000;
const PHASES = { '': 'starting', A: 'acquiring', W: 'writing', H: 'holding', R: 'releasing' };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withinLimit(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not re-acquirable within ${REACQUIRE_LIMIT_MS} ms`)), REACQUIRE_LIMIT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

describe('crash release: holders of each kind of lock SIGKILLed at random points', () => {
  for (const kind of KINDS) crashTest(kind);
});

// With slots: 4 this process holds 3 slots throughout, so that the victim's is the only one left:
// re-acquiring it proves the kill freed exactly that slot. A shared/exclusive mix is re-acquired
// exclusively, which proves that no victim, shared or not, is left inside.
describe('crash release: holders of a slot or of a shared lock SIGKILLed at random points', () => {
  for (const kind of SLOT_KINDS) crashTest(kind);
});

function crashTest(kind) {
  test(`${kind.name}: ${KILLS} holders SIGKILLed at random points; the lock is always re-acquired`, { timeout: scale(60_000, 900_000) }, async (t) => {
    const dir = tempDir(t);
    const target = kind.target(dir);
    let started = 0;
    const start = () => {
      const phaseFile = path.join(dir, `phase-${started++}`);
      const ready = spawnReady(t, process.execPath, [path.join(FIXTURES, 'crash.js'), kind.name, target, phaseFile]).then((child) =>
        Object.assign(child, { phaseFile }),
      );
      ready.catch(() => {}); // a test that fails early kills the pool: awaited, it still throws
      return ready;
    };
    const phases = { starting: 0, acquiring: 0, waiting: 0, writing: 0, holding: 0, releasing: 0 };
    const reacquireMs = [];
    let freeAtExit = 0;
    let claimsLeft = 0;
    const others = [];
    for (let slot = 1; slot < (Number.isFinite(kind.capacity) ? kind.capacity : 1); slot++) others.push(await kind.tryAcquire(target));
    assert.ok(others.every((lock) => lock !== null), 'every other slot taken');
    t.after(() => Promise.all(others.map((lock) => kind.release(lock))));
    // The next victims start while the current one runs: node's start-up is the slow part.
    const pool = Array.from({ length: Math.min(POOL, KILLS) }, start);
    for (let i = 0; i < KILLS; i++) {
      const child = await pool.shift();
      if (i + pool.length + 1 < KILLS) pool.push(start());
      // One kill in four strikes a waiter: this process holds the lock meanwhile.
      const blocker = i % 4 === 3 ? await kind.tryAcquire(target) : null;
      if (i % 4 === 3) assert.ok(blocker, 'free before the victim starts');
      child.stdin.write('go\n');
      await sleep(Math.random() * 12);
      const struck = process.hrtime.bigint();
      await kill(child);
      assert.equal(child.signalCode, 'SIGKILL', 'the victim ran until killed');
      const letter = fs.readFileSync(child.phaseFile, 'latin1');
      if (blocker !== null) {
        phases[letter === 'A' ? 'waiting' : PHASES[letter]]++;
        await kind.release(blocker);
      } else {
        phases[PHASES[letter]]++;
      }
      if (kind.stale !== undefined) {
        // A pidfile may still claim the dead victim's PID (or be empty): only the lock says it is stale.
        const shown = kind.stale(target);
        assert.equal(shown.locked, false, `kill ${i} (${PHASES[letter]}): no holder left`);
        if (shown.pid === child.pid) claimsLeft++;
      }
      let lock = await kind.tryAcquire(target);
      if (lock !== null) freeAtExit++;
      else lock = await withinLimit(kind.acquire(target), `kill ${i} (${PHASES[letter]})`);
      if (blocker === null) reacquireMs.push(Number(process.hrtime.bigint() - struck) / 1e6);
      await kind.release(lock);
    }
    assert.equal(freeAtExit, KILLS, 'the kernel released the lock before it reported the exit');
    const p50 = quantile(reacquireMs, 0.5);
    const p99 = quantile(reacquireMs, 0.99);
    t.diagnostic(`${kind.name}: SIGKILL to re-acquired p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; ${JSON.stringify(phases)}`);
    const stale = kind.stale === undefined ? {} : { claimsLeft };
    record('crash', kind.name, { kills: KILLS, freeAtExit, p50Ms: p50, p99Ms: p99, maxMs: Math.max(...reacquireMs), phases, ...stale });
  });
}

const SI_KILLS = scale(6, 200);
const SI_TIMEOUT_MS = 3000;
const SI_REPLY_DELAY_MS = 10;
// Beyond the secondary's own timeout: a loaded machine's scheduling, never a real wait.
const SI_SLACK_MS = 5000;

test('singleInstance: primaries SIGKILLed while replying; the pending secondary is answered, becomes the primary or gets a typed error, never hangs; the next launch is the primary', { timeout: scale(60_000, 900_000) }, async (t) => {
  const dir = tempDir(t);
  // One id per transport for the whole run: each launch after a kill must become the primary.
  const places = [
    { id: uniqueName('si-crash'), options: {} },
    { id: uniqueName('si-crash'), options: { transport: 'path', directory: dir } },
  ];
  const outcomes = { reply: 0, primary: 0, errors: {} };
  const settleMs = [];
  for (let i = 0; i < SI_KILLS; i++) {
    const { id, options } = places[i % 2];
    const config = { id, options, answer: 'late', delay: SI_REPLY_DELAY_MS };
    const primary = await spawnReady(t, process.execPath, [path.join(FIXTURES, 'single-instance.js'), JSON.stringify(config)]);
    assert.equal(primary.firstLine, 'primary', `launch ${i} after a kill`);
    const received = new Promise((resolve) => primary.lines.once('line', resolve));
    const start = Date.now();
    const pending = solely.singleInstance(id, { ...options, timeout: SI_TIMEOUT_MS }).catch((error) => error);
    await received;
    // Before, during or just after the reply is written.
    await sleep(Math.random() * SI_REPLY_DELAY_MS * 1.5);
    const struck = process.hrtime.bigint();
    await kill(primary);
    assert.equal(primary.signalCode, 'SIGKILL');
    let timer;
    const hung = new Promise((resolve) => {
      timer = setTimeout(() => resolve('hung'), SI_TIMEOUT_MS + SI_SLACK_MS - (Date.now() - start));
    });
    const outcome = await Promise.race([pending, hung]).finally(() => clearTimeout(timer));
    assert.notEqual(outcome, 'hung', `kill ${i}: the secondary outlived its timeout`);
    settleMs.push(Number(process.hrtime.bigint() - struck) / 1e6);
    if (outcome instanceof Error) {
      assert.ok(outcome instanceof solely.SolelyError, `kill ${i}: ${outcome.stack}`);
      assert.equal(typeof outcome.code, 'string');
      outcomes.errors[outcome.code] = (outcomes.errors[outcome.code] ?? 0) + 1;
    } else if (outcome.primary) {
      outcomes.primary++;
      await outcome.release();
    } else {
      assert.equal(outcome.holder.pid, primary.pid);
      assert.equal(outcome.reply.n, 1);
      outcomes.reply++;
    }
  }
  for (const { id, options } of places) {
    const last = await solely.singleInstance(id, { ...options, timeout: SI_TIMEOUT_MS });
    assert.equal(last.primary, true, 'the launch after the last kill is the primary');
    await last.release();
  }
  const p50 = quantile(settleMs, 0.5);
  const p99 = quantile(settleMs, 0.99);
  t.diagnostic(`singleInstance: ${JSON.stringify(outcomes)}; SIGKILL to the secondary settled p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
  record('single-instance crash', 'singleInstance', { kills: SI_KILLS, ...outcomes, p50Ms: p50, p99Ms: p99, maxMs: Math.max(...settleMs) });
});
