'use strict';
const assert = require('node:assert/strict');
const { test } = require('node:test');
const solely = require('../..');
const { uniqueName, holder, kill } = require('../support/helpers');

test('an abstract lock is exclusive and released by release()', () => {
  const name = uniqueName();
  const lock = solely.lockAbstractSync(name);
  assert.equal(lock.kind, 'abstract');
  assert.equal(lock.target, name);
  assert.ok(lock.fd >= 0);
  assert.equal(lock.released, false);
  assert.equal(solely.tryLockAbstractSync(name), null);
  lock.release();
  lock.release();
  assert.equal(lock.fd, -1);
  assert.equal(lock.released, true);
  solely.lockAbstractSync(name).release();
});

test('a lock held by another process fails, and is free once that process is SIGKILLed', async (t) => {
  const name = uniqueName();
  const child = await holder(t, 'abstract', name);
  assert.equal(child.firstLine, 'locked');
  assert.equal(solely.tryLockAbstractSync(name), null);
  assert.throws(() => solely.lockAbstractSync(name), (error) => {
    assert.ok(error instanceof solely.LockHeldError);
    assert.ok(error instanceof solely.SolelyError);
    assert.equal(error.name, 'LockHeldError');
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.address, `@${name}`);
    assert.equal(error.cause.code, 'EADDRINUSE');
    assert.equal(error.cause.errno, -98);
    assert.equal(error.cause.syscall, 'bind');
    assert.equal(error.cause.message, `bind EADDRINUSE: address already in use @${name}`);
    assert.equal(error.holder.pid, child.pid);
    assert.equal(error.holder.uid, process.getuid());
    assert.match(error.holder.command, /hold\.js abstract/);
    return true;
  });
  await kill(child);
  solely.lockAbstractSync(name).release();
});
