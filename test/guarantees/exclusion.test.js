'use strict';
// Mutual exclusion under contention: 8 processes take each kind of lock in turn and, inside it,
// mark themselves in and read-increment-write a shared counter. The counter must be exact and no
// process may ever find another inside. Locks with a capacity (slots: 4, shared/exclusive mixes)
// count who is inside under a second lock: never more than the capacity, never an exclusive
// holder with anyone.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const { FIXTURES, tempDir, spawnReady, exited } = require('../support/helpers');
const { KINDS, SLOT_KINDS } = require('../support/kinds');
const { scale, record } = require('../support/scale');

const PROCESSES = 8;
// Per kind, across all processes; a 1 ms pause after each release makes nearly every section a
// hand-off between processes (104,000 leaves room for the few that are not).
const SECTIONS = scale(1_000, 104_000);

describe('mutual exclusion: processes contend for each kind of lock, exact counter, never two inside', () => {
  for (const kind of KINDS) exclusionTest(kind);
});

describe('at most N: processes contend for locks with slots or shared holders, never more inside than allowed', () => {
  for (const kind of SLOT_KINDS) exclusionTest(kind);
});

function exclusionTest(kind) {
  test(`${kind.name}: ${PROCESSES} processes, ${SECTIONS} critical sections, exact counter, never two inside`, { timeout: scale(60_000, 900_000) }, async (t) => {
    const dir = tempDir(t);
    const target = kind.target(dir);
    fs.writeFileSync(path.join(dir, 'counter'), `${'0'.padStart(12)} ${'0'.padStart(10)} ${'0'.padStart(12)}`);
    const children = await Promise.all(
      Array.from({ length: PROCESSES }, () =>
        spawnReady(t, process.execPath, [path.join(FIXTURES, 'contend.js'), kind.name, target, dir, String(SECTIONS / PROCESSES)]),
      ),
    );
    const start = process.hrtime.bigint();
    for (const child of children) child.stdin.write('go\n');
    await Promise.all(children.map(exited));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    assert.deepEqual(children.map((c) => c.exitCode), Array(PROCESSES).fill(0));
    const [count, , handoffs] = fs.readFileSync(path.join(dir, 'counter'), 'latin1').trim().split(/ +/).map(Number);
    assert.equal(fs.existsSync(path.join(dir, 'overlaps')) ? fs.readFileSync(path.join(dir, 'overlaps'), 'utf8') : '', '', 'a process found another inside the lock');
    assert.equal(count, SECTIONS);
    assert.equal(fs.existsSync(path.join(dir, 'inside')), false);
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name.startsWith('inside-')), [], 'every holder marked itself out');
    const peakFile = path.join(dir, 'peak');
    const peak = fs.existsSync(peakFile) ? Number(fs.readFileSync(peakFile, 'latin1')) : 1;
    t.diagnostic(`${kind.name}: ${Math.round(SECTIONS / seconds)} critical sections/s, ${handoffs} hand-offs between processes, at most ${peak} inside at once`);
    record('exclusion', kind.name, { processes: PROCESSES, sections: count, handoffs, seconds, perSecond: SECTIONS / seconds, overlaps: 0, peak });
  });
}
