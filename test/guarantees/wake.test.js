'use strict';
// The event path alone wakes each waiter: the waiter runs with its clock frozen (no fallback poll,
// no timer at all unless the test ticks it) and reports, through the 'solely:wait' diagnostics
// channel, which wake-up each attempt came from. A dead event source leaves it asleep, so these
// tests fail (by their timeout) instead of being rescued by the 250 ms poll.
const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, test } = require('node:test');
const solely = require('../..');
const { FIXTURES, uniqueName, tempDir, spawnReady, holder, kill } = require('../support/helpers');

const WAKE_WAITER = path.join(FIXTURES, 'wake-waiter.js');
// The recheck that follows an event which found the lock still held (a dying flock holder's close
// event comes just before the kernel drops its lock): scheduled only by an event, so not a poll.
const RECHECK_MS = 5;
const TIMEOUT = { timeout: 30_000 }; // a waiter never woken fails here

/** A waiter of kind on target with a frozen clock, once its first attempt found the lock held and armed. */
async function frozenClockWaiter(t, kind, target) {
  const waiter = await spawnReady(t, process.execPath, ['--no-warnings', WAKE_WAITER, kind, target]);
  assert.equal(waiter.firstLine, 'first held');
  const lines = waiter.lines[Symbol.asyncIterator]();
  return {
    pid: waiter.pid,
    nextLine: async () => (await lines.next()).value,
    tick: (ms) => waiter.stdin.write(`tick ${ms}\n`),
  };
}

/**
 * Follows the waiter's attempts until it takes the lock, ticking the clock only for the recheck
 * an event scheduled; returns the causes of its attempts.
 */
async function attemptsUntilLocked(waiter) {
  const causes = [];
  for (;;) {
    const line = await waiter.nextLine();
    if (line === 'done') return causes;
    if (line === 'ticked') continue;
    const [cause, outcome] = line.split(' ');
    causes.push(`${cause} ${outcome}`);
    if (cause === 'event' && outcome === 'held') waiter.tick(RECHECK_MS);
  }
}

const kinds = [
  { kind: 'abstract', start: (t, target) => holder(t, 'abstract', target, '--release-on-input'), target: () => uniqueName() },
  { kind: 'flock', start: (t, target) => holder(t, 'file', target, '--release-on-input'), target: (dir) => path.join(dir, 'wake.lock') },
  { kind: 'fcntl', start: (t, target) => holder(t, 'fcntl', target, '--release-on-input'), target: (dir) => path.join(dir, 'wake.lock') },
  {
    kind: 'pidfile',
    start: (t, target) => spawnReady(t, process.execPath, [path.join(FIXTURES, 'hold-pidfile.js'), target, '--release-on-input']),
    target: (dir) => path.join(dir, 'wake.pid'),
  },
];

const endings = {
  release: async (child) => {
    child.stdin.write('\n');
    for await (const line of child.lines) if (line === 'released') return;
  },
  SIGKILL: (child) => kill(child),
};

describe('with the fallback poll off, each waiter is woken through its event by the release or death of the holder', () => {
  for (const { kind, start, target: targetIn } of kinds) {
    for (const [ending, end] of Object.entries(endings)) {
      test(`${kind}: a waiter is granted the lock by the event of its holder's ${ending}`, TIMEOUT, async (t) => {
        const target = targetIn(tempDir(t));
        const child = await start(t, target);
        assert.equal(child.firstLine, 'locked');
        const waiter = await frozenClockWaiter(t, kind, target);
        await end(child);
        const causes = await attemptsUntilLocked(waiter);
        assert.ok(['event locked', 'recheck locked'].includes(causes.at(-1)), `granted by ${causes.join(', ')}`);
        assert.ok(!causes.some((cause) => cause.startsWith('poll') || cause.startsWith('backoff')), causes.join(', '));
      });
    }
  }
});

// A holder that binds without listening gives a waiter nothing to connect to, so no event: its
// waiter polls by design (a few retries at once, in case the holder had just let go, then a
// backoff doubling up to the fallback interval), as this shows.
test('abstract, holder not listening: no event wakes the waiter; its backoff timer does', TIMEOUT, async (t) => {
  const name = uniqueName();
  const child = await holder(t, 'abstract', name, '--no-listen');
  assert.equal(child.firstLine, 'locked');
  const waiter = await frozenClockWaiter(t, 'abstract', name);
  await kill(child);
  waiter.tick(1); // the first backoff
  const causes = await attemptsUntilLocked(waiter);
  assert.equal(causes.at(-1), 'backoff locked');
  assert.ok(causes.every((cause) => cause.startsWith('backoff')), causes.join(', '));
});

const SLOTS = 4;
const slotKinds = [
  { kind: `abstract-slots-${SLOTS}`, holderKind: 'abstract', target: () => uniqueName() },
  { kind: `flock-slots-${SLOTS}`, holderKind: 'file', target: (dir) => path.join(dir, 'wake.lock') },
  { kind: `fcntl-slots-${SLOTS}`, holderKind: 'fcntl', target: (dir) => path.join(dir, 'wake.lock') },
];

// Every slot is held, by one process each; the holder of slot 2 lets go. No poll may grant it.
describe('with the fallback poll off, a waiter with slots is woken through the event of whichever slot frees', () => {
  for (const { kind, holderKind, target: targetIn } of slotKinds) {
    for (const [ending, end] of Object.entries(endings)) {
      test(`${kind}: a waiter is granted slot 2 by the event of its holder's ${ending}`, TIMEOUT, async (t) => {
        const target = targetIn(tempDir(t));
        const holders = [];
        for (let slot = 0; slot < SLOTS; slot++) {
          const child = await holder(t, holderKind, target, `--slots=${SLOTS}`, ...(slot === 2 ? ['--release-on-input'] : []));
          assert.equal(child.firstLine, `locked slot ${slot}`);
          holders.push(child);
        }
        const waiter = await frozenClockWaiter(t, kind, target);
        await end(holders[2]);
        const causes = await attemptsUntilLocked(waiter);
        assert.ok(['event locked', 'recheck locked'].includes(causes.at(-1)), `granted by ${causes.join(', ')}`);
        assert.ok(!causes.some((cause) => cause.startsWith('poll') || cause.startsWith('backoff')), causes.join(', '));
        const pids = solely.whoHolds(holderKind === 'abstract' ? { abstract: target } : { file: target }, { slots: SLOTS }).map((h) => h?.pid);
        assert.deepEqual(pids, [holders[0].pid, holders[1].pid, waiter.pid, holders[3].pid]);
      });
    }
  }
});

describe('with the fallback poll off, an exclusive waiter is woken through the event of the last shared holder letting go', () => {
  for (const kind of ['flock', 'fcntl']) {
    test(`${kind}: two shared holders end (a release, a SIGKILL); the exclusive waiter is granted by an event`, TIMEOUT, async (t) => {
      const target = path.join(tempDir(t), 'wake.lock');
      const holderKind = kind === 'flock' ? 'file' : kind;
      const first = await holder(t, holderKind, target, '--shared', '--release-on-input');
      const second = await holder(t, holderKind, target, '--shared');
      assert.deepEqual([first.firstLine, second.firstLine], ['locked', 'locked'], 'shared holders overlap');
      const waiter = await frozenClockWaiter(t, kind, target);
      await endings.release(first);
      await endings.SIGKILL(second);
      const causes = await attemptsUntilLocked(waiter);
      assert.ok(['event locked', 'recheck locked'].includes(causes.at(-1)), `granted by ${causes.join(', ')}`);
      assert.ok(!causes.some((cause) => cause.startsWith('poll') || cause.startsWith('backoff')), causes.join(', '));
    });
  }
});
