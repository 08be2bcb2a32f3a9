'use strict';
// A try* call on a lock another holds: how fast "already held" comes back.
const solely = require('../..');
const { uniqueName, lockPath, loop, rounds, floorCase, compare } = require('../measure');

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
  compare(row, 'tryLockAbstractSync → null', a, 'solely', 'floor', 'C floor: socket+bind (EADDRINUSE)+close', { max: 1.2 });
  const heldFile = solely.lockFileSync(file);
  const f = await rounds({
    floor: floorCase('flock-fail', lockPath()),
    solely: loop(() => {
      if (solely.tryLockFileSync(file) !== null) throw new Error('not held');
    }),
  });
  heldFile.release();
  compare(row, 'tryLockFileSync → null', f, 'solely', 'floor', 'C floor: open+flock (EWOULDBLOCK)+close', { max: 1.2 });
}

module.exports = alreadyHeld;
