'use strict';
// The fd count is constant over many acquire/release cycles of every kind, through the waiting
// path too, and over every error path; a finished wait keeps no process alive, and no finalizer
// closes a dropped handle's fd.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const { once } = require('node:events');
const v8 = require('node:v8');
const vm = require('node:vm');
const solely = require('../..');
const { FIXTURES, uniqueName, tempDir, spawnReady, fdCount, ROOT } = require('../support/helpers');
const { KINDS } = require('../support/kinds');
const { scale, record } = require('../support/scale');

const CYCLES = scale(500, 100_000); // per kind
const ERROR_ROUNDS = scale(20, 1_000);
const SYNC_CYCLES = 10_000;

describe('the fd count over acquire/contend/release cycles, for each kind of lock', () => {
  for (const kind of KINDS) cycleTest(kind);
});

function cycleTest(kind) {
  test(`${kind.name}: the fd count is constant over ${CYCLES} cycles of try, wait, contend and release`, async (t) => {
    const target = kind.target(tempDir(t));
    const before = fdCount();
    const start = process.hrtime.bigint();
    for (let i = 0; i < CYCLES; i++) {
      const lock = i % 2 ? await kind.tryAcquire(target) : await kind.acquire(target);
      assert.equal(await kind.tryAcquire(target), null);
      await kind.release(lock);
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    assert.equal(fdCount(), before);
    record('fd', kind.name, { cycles: CYCLES, leaked: fdCount() - before, perSecond: CYCLES / seconds });
  });
}

test('the fd count is unchanged after 10,000 acquire/release cycles and 10,000 failed attempts', (t) => {
  const name = uniqueName();
  const file = path.join(tempDir(t), 'cycles.lock');
  const before = fdCount();
  for (let i = 0; i < SYNC_CYCLES; i++) {
    solely.lockAbstractSync(name).release();
    solely.lockFileSync(file).release();
  }
  assert.equal(fdCount(), before);
  const abstractHeld = solely.lockAbstractSync(name);
  const fileHeld = solely.lockFileSync(file);
  const ofdHeld = solely.lockFileSync(`${file}.ofd`, { method: 'fcntl' });
  for (let i = 0; i < SYNC_CYCLES; i++) {
    assert.equal(solely.tryLockAbstractSync(name), null);
    assert.equal(i % 2 ? solely.tryLockFileSync(file) : solely.tryLockFileSync(ofdHeld.target, { method: 'fcntl' }), null);
  }
  for (let i = 0; i < 100; i++) {
    assert.throws(() => solely.lockAbstractSync(name), { code: 'ELOCKED' });
    assert.throws(() => solely.lockFileSync(file), { code: 'ELOCKED' });
    assert.throws(() => solely.lockFileSync(path.join(file, 'not-a-dir')), { code: 'ENOTDIR' });
  }
  abstractHeld.release();
  fileHeld.release();
  ofdHeld.release();
  assert.equal(fdCount(), before);
});

test('every error path, many times each, leaves the fd count unchanged', async (t) => {
  const dir = tempDir(t);
  const name = uniqueName();
  const quiet = uniqueName();
  const file = path.join(dir, 'held.lock');
  const ofd = path.join(dir, 'held.ofd');
  const link = path.join(dir, 'link.lock');
  fs.symlinkSync(file, link);
  const abstractHeld = solely.lockAbstractSync(name);
  const quietHeld = solely.lockAbstractSync(quiet, { listen: false });
  const fileHeld = solely.lockFileSync(file);
  const ofdHeld = solely.lockFileSync(ofd, { method: 'fcntl' });
  const pid = path.join(dir, 'held.pid');
  const pidfileHeld = solely.openPidfileSync(pid);
  pidfileHeld.write();
  // Held by another process: the probe's connection is then only ours to count.
  const socket = path.join(dir, 'held.sock');
  await spawnReady(t, process.execPath, [path.join(FIXTURES, 'unix-server.js'), socket]);
  const notSocket = path.join(dir, 'plain');
  fs.writeFileSync(notSocket, '');
  const paths = {
    ENOENT: path.join(dir, 'missing', 'x.lock'),
    ENOTDIR: path.join(file, 'x.lock'),
    ENAMETOOLONG: path.join(dir, 'x'.repeat(300)),
  };
  const failures = [
    ['abstract EINVAL', () => solely.lockAbstractSync(''), 'EINVAL'],
    ['abstract ENAMETOOLONG', () => solely.lockAbstractSync('x'.repeat(108)), 'ENAMETOOLONG'],
    ['abstract held, holder probed', () => solely.lockAbstractSync(name), 'ELOCKED'],
    ['abstract held, not listening', () => solely.lockAbstractSync(quiet), 'ELOCKED'],
    ['abstract wait times out', () => solely.lockAbstract(name, { wait: 2 }), 'ETIMEDOUT'],
    ['abstract quiet wait times out', () => solely.lockAbstract(quiet, { wait: 2 }), 'ETIMEDOUT'],
    ['abstract wait aborted', () => solely.lockAbstract(name, { wait: true, signal: AbortSignal.timeout(2) }), 'ABORT_ERR'],
    ['abstract bad option', () => solely.lockAbstract(name, { listen: 1 }), 'ERR_INVALID_ARG_TYPE'],
    ['flock held', () => solely.lockFileSync(file), 'ELOCKED'],
    ['fcntl held', () => solely.lockFileSync(ofd, { method: 'fcntl' }), 'ELOCKED'],
    ['flock wait times out', () => solely.lockFile(file, { wait: 2 }), 'ETIMEDOUT'],
    ['flock wait aborted', () => solely.lockFile(file, { wait: true, signal: AbortSignal.timeout(2) }), 'ABORT_ERR'],
    ['fcntl wait aborted', () => solely.lockFile(ofd, { method: 'fcntl', wait: true, signal: AbortSignal.timeout(2) }), 'ABORT_ERR'],
    ['symlink', () => solely.lockFileSync(link), 'ELOOP'],
    ['fcntl on a directory', () => solely.lockFileSync(dir, { method: 'fcntl' }), 'EISDIR'],
    ...Object.entries(paths).map(([code, p]) => [`open ${code}`, () => solely.lockFile(p, { wait: 100 }), code]),
    ['bad mode', () => solely.lockFileSync(file, { mode: -1 }), 'ERR_INVALID_ARG_VALUE'],
    ['pidfile held', () => solely.openPidfileSync(pid), 'ELOCKED'],
    ['pidfile wait times out', () => solely.openPidfile(pid, { wait: 2 }), 'ETIMEDOUT'],
    ['pidfile symlink', () => solely.openPidfileSync(link), 'ELOOP'],
    ['unix server held, holder probed', () => solely.listenUnix(socket), 'ELOCKED'],
    ['unix server on a regular file', () => solely.listenUnix(notSocket), 'ENOTSOCK'],
    ['unix server ENOENT', () => solely.listenUnix(path.join(paths.ENOENT, '..', 's.sock')), 'ENOENT'],
  ];
  // The first file wait opens this thread's one inotify instance, kept for every later wait.
  await assert.rejects(solely.lockFile(file, { wait: 1 }), { code: 'ETIMEDOUT' });
  const before = fdCount();
  for (const [what, fail, code] of failures) {
    for (let i = 0; i < ERROR_ROUNDS; i++) {
      await assert.rejects(async () => fail(), { code }, what);
    }
    assert.equal(fdCount(), before, what);
  }
  // A wait whose target disappears under it fails from inside the wait (ENOENT on the re-open).
  for (let i = 0; i < Math.min(ERROR_ROUNDS, 50); i++) {
    const sub = fs.mkdtempSync(path.join(dir, 'gone-'));
    const lockPath = path.join(sub, 'x.lock');
    const held = solely.lockFileSync(lockPath);
    const waiting = solely.lockFile(lockPath, { wait: 5_000 });
    await new Promise((resolve) => setImmediate(resolve));
    fs.unlinkSync(lockPath);
    fs.rmdirSync(sub);
    held.release();
    await assert.rejects(waiting, { code: 'ENOENT', syscall: 'open', path: lockPath });
  }
  const leaked = fdCount() - before;
  assert.equal(leaked, 0, 'a wait failing from inside');
  for (const lock of [abstractHeld, quietHeld, fileHeld, ofdHeld, pidfileHeld]) lock.release();
  record('fd', 'error paths', { paths: failures.length + 1, rounds: ERROR_ROUNDS, leaked });
});

test('a process whose file wait has ended exits by itself: the inotify instance does not keep it alive', { timeout: 20_000 }, async (t) => {
  const file = path.join(tempDir(t), 'alive.lock');
  const held = solely.lockFileSync(file);
  const script = `
    const s = require(${JSON.stringify(ROOT)});
    s.lockFile(${JSON.stringify(file)}, { wait: true }).then((lock) => { lock.release(); console.log('got it'); });
    console.log('waiting'); // the wait armed its inotify watch before lockFile returned`;
  const child = await spawnReady(t, process.execPath, ['-e', script]);
  assert.equal(child.firstLine, 'waiting');
  const rest = [];
  child.lines.on('line', (line) => rest.push(line));
  held.release();
  const [code] = await once(child, 'close'); // 'close': all of stdout has been read
  assert.equal(code, 0);
  assert.deepEqual(rest, ['got it']);
});

test('a won wait keeps no fd once its new holder has run: the connection to the old holder, the watch', async (t) => {
  for (const [sync, wait, target] of [
    ['lockAbstractSync', 'lockAbstract', uniqueName()],
    ['lockFileSync', 'lockFile', path.join(tempDir(t), 'won.lock')],
  ]) {
    // Twice: the first file wait opens the inotify instance that every later one shares.
    for (let round = 0; round < 2; round++) {
      const held = solely[sync](target);
      const before = fdCount();
      const waiting = solely[wait](target, { wait: true }); // armed before it returns
      held.release();
      const lock = await waiting;
      await new Promise((resolve) => setImmediate(resolve)); // after the wait's own clean-up
      if (round === 1) assert.equal(fdCount(), before, `${wait}: the lock's fd in place of the holder's, and nothing else`);
      lock.release();
    }
  }
});

test('no finalizer releases a lock: a handle collected as garbage keeps its lock', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const name = uniqueName();
  const file = path.join(tempDir(t), 'dropped.lock');
  const dropped = [new WeakRef(solely.lockAbstractSync(name)), new WeakRef(solely.lockFileSync(file))];
  for (let round = 0; round < 3; round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve)); // where finalization callbacks would run
  }
  assert.deepEqual(dropped.map((ref) => ref.deref()), [undefined, undefined], 'both handles were collected, or this test proves nothing');
  assert.equal(solely.tryLockAbstractSync(name), null);
  assert.equal(solely.tryLockFileSync(file), null);
});
