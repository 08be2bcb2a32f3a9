'use strict';
// Acquire + release of one of 8 slots while the other 7 are held (the worst case short of full:
// seven failed attempts before the free one), against the single lock's acquire + release.
const solely = require('../..');
const { uniqueName, lockPath, loop, rounds, compare } = require('../measure');

const SLOTS = 8;

async function slotsRows() {
  const name = uniqueName();
  const held = Array.from({ length: SLOTS - 1 }, () => solely.lockAbstractSync(name, { slots: SLOTS }));
  const single = uniqueName();
  const a = await rounds({
    single: loop(() => solely.lockAbstractSync(single).release()),
    slots: loop(() => solely.lockAbstractSync(name, { slots: SLOTS }).release()),
  });
  compare('abstract lock, slots: 8 with 7 held: acquire + release', 'lockAbstractSync({ slots: 8 }) + release', a, 'slots', 'single', 'the single lock (lockAbstractSync)');
  for (const lock of held) lock.release();

  for (const method of ['flock', 'fcntl']) {
    const file = lockPath();
    const singleFile = lockPath();
    const heldFiles = Array.from({ length: SLOTS - 1 }, () => solely.lockFileSync(file, { method, slots: SLOTS }));
    const f = await rounds({
      single: loop(() => solely.lockFileSync(singleFile, { method }).release()),
      slots: loop(() => solely.lockFileSync(file, { method, slots: SLOTS }).release()),
    });
    compare(`file lock (${method}), slots: 8 with 7 held: acquire + release`, `lockFileSync({ slots: 8 }) + release`, f, 'slots', 'single', `the single lock (lockFileSync, ${method})`);
    for (const lock of heldFiles) lock.release();
  }
}

module.exports = slotsRows;
