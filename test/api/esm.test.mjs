import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import solelyDefault, { lockAbstractSync, tryLockFileSync, LockHeldError, SolelyError } from 'solely';

const require = createRequire(import.meta.url);

test('ESM import gives the same module as require, with named exports', () => {
  const cjs = require('solely');
  assert.equal(solelyDefault, cjs);
  assert.equal(lockAbstractSync, cjs.lockAbstractSync);
  assert.equal(LockHeldError, cjs.LockHeldError);
  assert.equal(typeof tryLockFileSync, 'function');
  assert.ok(new LockHeldError('x') instanceof SolelyError);
});
