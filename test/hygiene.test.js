'use strict';
// No fd leaks, in this process or into children.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const v8 = require('node:v8');
const vm = require('node:vm');
const solely = require('..');
const { uniqueName, tempDir, holder, exited, fdCount } = require('./helpers');

const CYCLES = 10_000;

test('the fd count is unchanged after 10,000 acquire/release cycles and 10,000 failed attempts', (t) => {
  const name = uniqueName();
  const file = path.join(tempDir(t), 'cycles.lock');
  const before = fdCount();
  for (let i = 0; i < CYCLES; i++) {
    solely.lockAbstractSync(name).release();
    solely.lockFileSync(file).release();
  }
  assert.equal(fdCount(), before);
  const abstractHeld = solely.lockAbstractSync(name);
  const fileHeld = solely.lockFileSync(file);
  const ofdHeld = solely.lockFileSync(`${file}.ofd`, { method: 'fcntl' });
  for (let i = 0; i < CYCLES; i++) {
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

test('waits that time out or abort leave no fd behind', async (t) => {
  const name = uniqueName();
  const file = path.join(tempDir(t), 'waits.lock');
  const a = solely.lockAbstractSync(name);
  const f = solely.lockFileSync(file);
  // The first file wait opens this thread's one inotify instance, kept for later waits.
  await assert.rejects(solely.lockFile(file, { wait: 1 }), { code: 'ETIMEDOUT' });
  const before = fdCount();
  for (let i = 0; i < 20; i++) {
    await assert.rejects(solely.lockAbstract(name, { wait: 5 }), { code: 'ETIMEDOUT' });
    await assert.rejects(solely.lockFile(file, { wait: 5 }), { code: 'ETIMEDOUT' });
    await assert.rejects(solely.lockFile(file, { wait: true, signal: AbortSignal.timeout(5) }), { code: 'ABORT_ERR' });
  }
  assert.equal(fdCount(), before);
  a.release();
  f.release();
});

test('a process whose file wait has ended exits by itself: the inotify instance does not keep it alive', { timeout: 20_000 }, async (t) => {
  const file = path.join(tempDir(t), 'alive.lock');
  const held = solely.lockFileSync(file);
  const script = `
    const s = require(${JSON.stringify(path.join(__dirname, '..'))});
    s.lockFile(${JSON.stringify(file)}, { wait: true }).then((lock) => { lock.release(); console.log('got it'); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => setTimeout(resolve, 100));
  held.release();
  const [code] = await once(child, 'close'); // 'close': all of stdout has been read
  assert.equal(code, 0);
  assert.equal(out, 'got it\n');
});

describe('a child the holder spawned keeps no lock fd (abstract and file)', () => {
  for (const kind of ['abstract', 'file']) spawnedChildTest(kind);
});

function spawnedChildTest(kind) {
  test(`${kind}: a child the holder spawned keeps no lock fd, so the lock dies with the holder`, async (t) => {
    const target = kind === 'abstract' ? uniqueName() : path.join(tempDir(t), 'cloexec.lock');
    const child = await holder(t, kind, target, '--spawn-sleep');
    const sleeper = Number(child.firstLine);
    t.after(() => process.kill(sleeper, 'SIGKILL'));
    await exited(child);
    const lock = kind === 'abstract' ? solely.tryLockAbstractSync(target) : solely.tryLockFileSync(target);
    assert.ok(lock, 'free once the holder exited, although its child lives on');
    const links = fs.readdirSync(`/proc/${sleeper}/fd`).map((fd) => fs.readlinkSync(`/proc/${sleeper}/fd/${fd}`));
    assert.ok(links.length > 0);
    assert.deepEqual(links.filter((link) => link.startsWith('socket:') || link === target || link.startsWith('anon_inode:inotify')), []);
    lock.release();
  });
}

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
