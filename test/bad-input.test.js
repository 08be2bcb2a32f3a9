'use strict';
// Every invalid name, path and option gets a typed error; nothing crashes, nothing is created.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('..');
const { tempDir } = require('./helpers');

function rejectsBoth(sync, async, args, shape) {
  assert.throws(() => sync(...args), shape);
  return assert.rejects(async(...args), shape);
}

test('abstract names: empty, NUL, too long (in bytes), malformed, not a string', async () => {
  const invalid = (code, errno) => (error) => {
    assert.ok(error instanceof solely.InvalidTargetError, error.stack);
    assert.ok(error instanceof solely.SolelyError);
    assert.equal(error.code, code);
    assert.equal(error.errno, errno);
    assert.equal(typeof error.address, 'string');
    return true;
  };
  for (const fn of [solely.lockAbstractSync, solely.tryLockAbstractSync]) {
    assert.throws(() => fn(''), invalid('EINVAL', -22));
    assert.throws(() => fn('a\0b'), invalid('EINVAL', -22));
    assert.throws(() => fn('\0'), invalid('EINVAL', -22));
    assert.throws(() => fn('\ud800x'), invalid('EINVAL', -22));
    assert.throws(() => fn('a'.repeat(108)), invalid('ENAMETOOLONG', -36));
    assert.throws(() => fn('é'.repeat(54)), invalid('ENAMETOOLONG', -36)); // 108 bytes in 54 characters
    for (const notString of [undefined, null, 42, {}, Buffer.from('x'), Symbol('x')]) {
      assert.throws(() => fn(notString), { name: 'SolelyError', code: 'ERR_INVALID_ARG_TYPE' });
    }
  }
  await assert.rejects(solely.lockAbstract(''), invalid('EINVAL', -22));
  await assert.rejects(solely.lockAbstract('a'.repeat(200), { wait: true }), invalid('ENAMETOOLONG', -36));
  // The limits themselves are fine.
  solely.lockAbstractSync('a'.repeat(107)).release();
  solely.lockAbstractSync(`${'é'.repeat(53)}x`).release();
});

test('abstract and wait options: wrong types and values', async () => {
  const name = `bad-options-${process.pid}`;
  const arg = (code) => ({ name: 'SolelyError', code });
  await rejectsBoth(solely.lockAbstractSync, solely.lockAbstract, [name, { listen: 'yes' }], arg('ERR_INVALID_ARG_TYPE'));
  await rejectsBoth(solely.lockAbstractSync, solely.lockAbstract, [name, 'options'], arg('ERR_INVALID_ARG_TYPE'));
  for (const wait of [-1, NaN, 'forever', {}]) {
    await assert.rejects(solely.lockAbstract(name, { wait }), arg('ERR_INVALID_ARG_VALUE'));
  }
  await assert.rejects(solely.lockAbstract(name, { wait: true, signal: {} }), arg('ERR_INVALID_ARG_TYPE'));
  // None of the refused calls took the lock.
  solely.lockAbstractSync(name).release();
});

test('file paths and options: typed errors, nothing created', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'x.lock');
  const arg = (code) => ({ name: 'SolelyError', code });
  await rejectsBoth(solely.lockFileSync, solely.lockFile, [''], { name: 'InvalidTargetError', code: 'EINVAL' });
  await rejectsBoth(solely.lockFileSync, solely.lockFile, [`${dir}/a\0b`], { name: 'InvalidTargetError', code: 'EINVAL' });
  await rejectsBoth(solely.lockFileSync, solely.lockFile, [`${dir}/${'x'.repeat(4096)}`], { name: 'InvalidTargetError', code: 'ENAMETOOLONG' });
  await rejectsBoth(solely.lockFileSync, solely.lockFile, [`${dir}/${'x'.repeat(300)}`], { name: 'InvalidTargetError', code: 'ENAMETOOLONG', syscall: 'open' });
  await rejectsBoth(solely.lockFileSync, solely.lockFile, [42], arg('ERR_INVALID_ARG_TYPE'));
  await rejectsBoth(solely.lockFileSync, solely.lockFile, [file, { method: 'posix' }], arg('ERR_INVALID_ARG_VALUE'));
  await rejectsBoth(solely.lockFileSync, solely.lockFile, [file, { onNetworkFilesystem: 'ignore' }], arg('ERR_INVALID_ARG_VALUE'));
  for (const mode of [-1, 0o10000, 1.5, '644', 0o4644, 0o2644]) {
    await rejectsBoth(solely.lockFileSync, solely.lockFile, [file, { mode }], arg('ERR_INVALID_ARG_VALUE'));
  }
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('errno names missing from libuv (EDEADLK, ENOLCK) come from os.constants', () => {
  const { fromErrno } = require('../dist/errors');
  const deadlock = fromErrno(-35, 'fcntl', { path: '/x' });
  assert.equal(deadlock.code, 'EDEADLK');
  assert.equal(deadlock.message, 'fcntl EDEADLK: resource deadlock avoided /x');
  assert.equal(fromErrno(-37, 'flock', { path: '/x' }).code, 'ENOLCK');
  const eloop = fromErrno(-40, 'open', { path: '/x' });
  assert.ok(eloop instanceof solely.InvalidTargetError);
  assert.deepEqual({ ...eloop }, { code: 'ELOOP', errno: -40, syscall: 'open', path: '/x' });
});
