'use strict';
// No lock fd, and no fd of a pending wait, reaches a child, however it is started: spawn, exec,
// execFile, the Sync variants, fork, and cluster workers; a child outliving its holder keeps no lock.
const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const cluster = require('node:cluster');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const solely = require('..');
const { FIXTURES, uniqueName, tempDir, holder, exited, killAfter } = require('./helpers');
const { KINDS } = require('./stress/kinds');

const FD_LINKS = path.join(FIXTURES, 'fd-links.js');
// A shell that lists its own fds: what an exec'd program inherits.
const SHELL_LIST = 'for f in /proc/$$/fd/*; do readlink "$f"; done; true';

function links(pid = 'self') {
  const dir = `/proc/${pid}/fd`;
  const out = new Map();
  for (const fd of fs.readdirSync(dir)) {
    try {
      out.set(fd, fs.readlinkSync(`${dir}/${fd}`));
    } catch {
      // the fd readdir used
    }
  }
  return out;
}

function collect(stream) {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => (text += chunk));
  return new Promise((resolve) => stream.on('end', () => resolve(text)));
}

const starters = {
  spawn: () => collect(childProcess.spawn('sh', ['-c', SHELL_LIST]).stdout),
  spawnSync: () => childProcess.spawnSync('sh', ['-c', SHELL_LIST], { encoding: 'utf8' }).stdout,
  exec: () => new Promise((resolve, reject) => childProcess.exec(SHELL_LIST, (error, out) => (error ? reject(error) : resolve(out)))),
  execSync: () => childProcess.execSync(SHELL_LIST, { encoding: 'utf8' }),
  execFile: () => new Promise((resolve, reject) => childProcess.execFile(process.execPath, [FD_LINKS], (error, out) => (error ? reject(error) : resolve(out)))),
  fork: () => collect(childProcess.fork(FD_LINKS, { silent: true }).stdout),
  cluster: () => {
    cluster.setupPrimary({ exec: FD_LINKS, silent: true });
    return collect(cluster.fork().process.stdout);
  },
};

test('children started every way inherit no lock fd and no fd of a pending wait', async (t) => {
  const dir = tempDir(t);
  const before = links();
  const locks = [];
  const controller = new AbortController();
  t.after(() => controller.abort()); // pending waits would keep a failed test's process alive
  const waits = [];
  for (const kind of KINDS) {
    const target = kind.target(dir);
    locks.push(await kind.tryAcquire(target));
    // A second claim from this same process waits: for files, on its own open file description.
    waits.push(kind.acquire(target, { signal: controller.signal }).catch((error) => error));
  }
  await new Promise((resolve) => setTimeout(resolve, 50)); // the waits have armed
  const ours = [...links()].filter(([fd, link]) => before.get(fd) !== link).map(([, link]) => link);
  // Locks (sockets and lock files), waiters' connections, inotify fds, and the files they watch.
  assert.ok(ours.length >= 2 * KINDS.length, `found only ${ours.join(', ')}`);
  assert.ok(ours.some((link) => link.startsWith('anon_inode:inotify')));
  for (const [how, start] of Object.entries(starters)) {
    const inherited = (await start()).split('\n').filter(Boolean);
    assert.ok(inherited.length >= 3, `${how}: the child listed its fds (${inherited})`);
    assert.deepEqual(inherited.filter((link) => ours.includes(link) || link.startsWith('anon_inode:inotify')), [], `${how} child`);
  }
  controller.abort();
  for (const result of await Promise.all(waits)) assert.equal(result?.name, 'AbortError');
  for (const [i, lock] of locks.entries()) await KINDS[i].release(lock);
});

describe('a child the holder spawned keeps no lock fd (abstract and file)', () => {
  for (const kind of ['abstract', 'file']) spawnedChildTest(kind);
});

function spawnedChildTest(kind) {
  test(`${kind}: a child the holder spawned keeps no lock fd, so the lock dies with the holder`, async (t) => {
    const target = kind === 'abstract' ? uniqueName() : path.join(tempDir(t), 'cloexec.lock');
    const child = await holder(t, kind, target, '--spawn-sleep');
    const sleeper = Number(child.firstLine);
    killAfter(t, sleeper);
    await exited(child);
    const lock = kind === 'abstract' ? solely.tryLockAbstractSync(target) : solely.tryLockFileSync(target);
    assert.ok(lock, 'free once the holder exited, although its child lives on');
    const links = fs.readdirSync(`/proc/${sleeper}/fd`).map((fd) => fs.readlinkSync(`/proc/${sleeper}/fd/${fd}`));
    assert.ok(links.length > 0);
    assert.deepEqual(links.filter((link) => link.startsWith('socket:') || link === target || link.startsWith('anon_inode:inotify')), []);
    lock.release();
  });
}
