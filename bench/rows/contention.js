'use strict';
// A try* call on a lock another holds: how fast "already held" comes back.
const solely = require('../..');
const { binding } = require('../../dist/internal/binding');
const { uniqueName, lockPath, loop, rounds, floorCase, addonCalls, sumOf, median, line, compare, OPEN_LOCK_FILE } = require('../measure');

async function alreadyHeld() {
  const row = '"already held" via try*';
  const name = uniqueName();
  const file = lockPath();
  const held = solely.lockAbstractSync(name);
  const a = await rounds({
    floor: floorCase('bind-fail', uniqueName()), // the floor holds its own name
    solely: loop(() => {
      if (solely.tryLockAbstractSync(name) !== null) throw new Error('not held');
    }),
  });
  held.release();
  compare(row, 'tryLockAbstractSync → null', a, 'solely', 'floor', 'C floor: socket+bind (EADDRINUSE)+close', { max: 1.2 }, { key: 'try-abstract' });
  const heldFile = solely.lockFileSync(file);
  const f = await rounds({
    floor: floorCase('flock-fail', lockPath()),
    solely: loop(() => {
      if (solely.tryLockFileSync(file) !== null) throw new Error('not held');
    }),
    addon: loop(() => {
      if (binding.openLocked(file, OPEN_LOCK_FILE, 0o644, binding.lockMethods.flock) >= 0) throw new Error('not held');
    }),
    call: addonCalls(1),
  });
  f.floorAndCall = sumOf(f.floor, f.call);
  heldFile.release();
  compare(row, 'tryLockFileSync → null', f, 'solely', 'floor', 'C floor: open+flock (EWOULDBLOCK)+close', { max: 1.15 }, { key: 'try-file' });
  compare(row, "the addon's one call alone (no facade)", f, 'addon', 'floor', 'C floor: open+flock (EWOULDBLOCK)+close', undefined, { explains: ['try-file'] });
  line(row, 'one call into the addon that makes no syscall (the N-API crossing)', { value: median(f.call), explains: ['try-file'] });
  compare(row, 'tryLockFileSync → null', f, 'solely', 'floorAndCall', 'C floor + one empty addon call: the floor from JavaScript', undefined, { explains: ['try-file'] });
}

module.exports = alreadyHeld;
