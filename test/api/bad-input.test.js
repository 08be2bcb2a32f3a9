'use strict';
// Every invalid name, path and option gets a typed error; nothing crashes, nothing is created.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('../..');
const { tempDir, spawnReady, ROOT } = require('../support/helpers');

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
  const { fromErrno } = require('../../dist/internal/errno');
  const deadlock = fromErrno(-35, 'fcntl', { path: '/x' });
  assert.equal(deadlock.code, 'EDEADLK');
  assert.equal(deadlock.message, "EDEADLK: resource deadlock avoided, fcntl '/x'");
  assert.equal(fromErrno(-37, 'flock', { path: '/x' }).code, 'ENOLCK');
  const eloop = fromErrno(-40, 'open', { path: '/x' });
  assert.ok(eloop instanceof solely.InvalidTargetError);
  assert.deepEqual({ ...eloop }, { code: 'ELOOP', errno: -40, syscall: 'open', path: '/x' });
});

test('malformed Unicode in a path is refused (EINVAL) by every API, before anything is created', async (t) => {
  const dir = tempDir(t);
  const invalid = (given) => ({ name: 'InvalidTargetError', code: 'EINVAL', errno: -22, path: given });
  // 'lock\ud800' and 'lock\udc00' would both reach the kernel as 'lock\ufffd': one file, two names.
  for (const given of [`${dir}/lock\ud800`, `${dir}/lock\udc00`, `${dir}/\udc00/x`]) {
    await rejectsBoth(solely.lockFileSync, solely.lockFile, [given], invalid(given));
    assert.throws(() => solely.tryLockFileSync(given), invalid(given));
    await rejectsBoth(solely.openPidfileSync, solely.openPidfile, [given], invalid(given));
    assert.throws(() => solely.readPidfile(given), invalid(given));
    assert.throws(() => solely.whoHolds(given), invalid(given));
    assert.throws(() => solely.whoHolds({ file: given }), invalid(given));
    await assert.rejects(solely.listenUnix(given), invalid(given));
  }
  assert.deepEqual(fs.readdirSync(dir), []);
});

// Runs in a child whose stdin is /dev/null: an fd argument read as 0 would act on it.
function callBindingWithWrongTypes(root, scratch) {
  const fs = require('node:fs');
  const { inspect } = require('node:util');
  const binding = require('node-gyp-build')(root); // as lib/internal/binding.ts loads it
  const canary = fs.openSync(`${scratch}/canary`, 'w'); // the fd every valid fd argument names
  const valid = { int: canary, string: `${scratch}/created`, bigint: 1n, function: () => {}, fds: [], buffer: Buffer.from('x'), argv: ['true'], fdList: [] };
  const wrong = {
    int: [undefined, null, '3', {}, 3n, true, NaN, 0.5, 2 ** 31, -Infinity], // each read as fd 0 once: stdin, never stdout
    string: [undefined, null, 1, {}, Buffer.from('x'), Symbol('x')],
    bigint: [undefined, 1, '1'],
    function: [undefined, 1, {}],
    fds: [undefined, 1, {}, '[]', ['3'], [3, 3, 3, 3, 3]],
    buffer: [undefined, null, 'x', 1, {}],
    argv: [undefined, null, 'true', {}, [], [1], ['true', 2]],
    fdList: [undefined, 1, {}, '[]', ['3'], [0.5], [-1], [2 ** 31]],
  };
  const signatures = {
    abstractBind: ['string', 'int'],
    abstractConnect: ['string'],
    abstractOwners: ['string'],
    abstractSockets: [],
    peerCred: ['int'],
    open: ['string', 'int', 'int'],
    openLocked: ['string', 'int', 'int', 'int'],
    lockVerified: ['int', 'string', 'int'],
    lockVerifiedOnThread: ['int', 'string', 'int', 'function'],
    unlockClose: ['int', 'int'],
    inotifyInit: [],
    inotifyAddWatch: ['int', 'int'],
    inotifyRmWatch: ['int', 'int'],
    inotifyRead: ['int'],
    FdWatch: ['function'],
    FdWatchOnThread: ['function'],
    close: ['int'],
    trackWaitFd: ['int'],
    untrackWaitFd: ['int'],
    closeWaitFd: ['int'],
    pidfileWrite: ['int', 'string'],
    unlinkVerified: ['int', 'string', 'int'],
    statfsType: ['string'],
    unixListen: ['string', 'int', 'string', 'int', 'int'],
    unixConnect: ['string'],
    statAt: ['int', 'string'],
    unlinkAtIf: ['int', 'string', 'bigint', 'bigint'],
    setCloexec: ['int'],
    dup: ['int'],
    fileStatusFlags: ['int'],
    socketInfo: ['int'],
    sendFds: ['int', 'string', 'fds'],
    recvFds: ['int'],
    fstat: ['int'],
    pidfileRead: ['int', 'int'],
    socketSend: ['int', 'buffer', 'int'],
    socketRecv: ['int', 'int'],
    fdWrite: ['int', 'buffer', 'int'],
    fdRead: ['int', 'int'],
    execWithParentDeath: ['int', 'int', 'argv', 'fdList'],
  };
  const calls = { ...signatures, 'FdWatch#start': ['int'], 'FdWatchOnThread#start': ['int'] };
  const invoke = (name, args) => {
    if (name === 'FdWatch') return new binding.FdWatch(...args);
    if (name === 'FdWatch#start') return new binding.FdWatch(() => {}).start(...args);
    if (name === 'FdWatchOnThread') return new binding.FdWatchOnThread(...args);
    if (name === 'FdWatchOnThread#start') return new binding.FdWatchOnThread(() => {}).start(...args);
    return binding[name](...args);
  };
  const fds = () => fs.readdirSync('/proc/self/fd').join(' ');
  const before = fds();
  const problems = [];
  for (const [name, kinds] of Object.entries(calls)) {
    for (let i = 0; i < kinds.length; i++) {
      for (const bad of wrong[kinds[i]]) {
        const args = kinds.map((kind) => valid[kind]);
        args[i] = bad;
        const shown = `${name}(${args.map((a) => inspect(a)).join(', ')})`;
        const expected = kinds[i] === 'int' && typeof bad === 'number' ? RangeError : TypeError;
        try {
          problems.push(`${shown} returned ${invoke(name, args)}`);
        } catch (error) {
          if (!(error instanceof expected)) problems.push(`${shown} threw ${error}, not a ${expected.name}`);
        }
      }
    }
    if (kinds.length > 0) {
      try {
        problems.push(`${name}() returned ${invoke(name, [])}`);
      } catch (error) {
        if (!(error instanceof TypeError)) problems.push(`${name}() threw ${error}, not a TypeError`);
      }
    }
  }
  const exported = Object.keys(binding).filter((key) => typeof binding[key] === 'function');
  for (const name of exported) if (!(name in signatures)) problems.push(`${name} is not checked here`);
  if (fds() !== before) problems.push(`open fds changed: ${before} -> ${fds()}`);
  for (const fd of [0, canary]) {
    try {
      fs.fstatSync(fd);
    } catch (error) {
      problems.push(`fd ${fd} was closed: ${error.code}`);
    }
  }
  const left = fs.readdirSync(scratch);
  if (left.join() !== 'canary') problems.push(`files appeared: ${left}`);
  return problems;
}

test('the raw binding throws on wrong argument types before it acts: no fd closed or opened, nothing created', { timeout: 60_000 }, async (t) => {
  const scratch = tempDir(t);
  const script = `console.log(JSON.stringify((${callBindingWithWrongTypes})(${JSON.stringify(ROOT)}, ${JSON.stringify(scratch)})))`;
  // Its one line is the verdict (a broken binding may leave a watch or a thread keeping it alive).
  const child = await spawnReady(t, process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  assert.deepEqual(JSON.parse(child.firstLine), []);
});
