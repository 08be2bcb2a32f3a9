'use strict';
// The same kernel objects as other tools use: each conflicts with solely, both ways.
const assert = require('node:assert/strict');
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('../..');
const { uniqueName, tempDir, spawnReady, holder, kill, abstractBound, needs } = require('../support/helpers');

const PYTHON_BIND = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind(b'\\0' + sys.argv[1].encode())
except OSError as e:
    print('EADDRINUSE' if e.errno == 98 else e); sys.exit(0)
s.listen(1); print('locked', flush=True); sys.stdin.read()
`;

const PYTHON_LOCKF = `
import fcntl, sys
f = open(sys.argv[1], 'a+')
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e:
    print('held'); sys.exit(0)
print('locked', flush=True); sys.stdin.read()
`;

test('abstract: socat ABSTRACT-LISTEN holds the same name', { skip: needs('socat') }, async (t) => {
  const name = uniqueName();
  const socat = spawn('socat', [`ABSTRACT-LISTEN:${name},fork`, 'SYSTEM:true'], { stdio: 'ignore' });
  t.after(() => socat.kill('SIGKILL'));
  await abstractBound(name);
  assert.equal(solely.tryLockAbstractSync(name), null);
  await kill(socat);
  const lock = solely.lockAbstractSync(name);
  const result = spawnSync('socat', ['-u', `ABSTRACT-LISTEN:${name}`, 'STDOUT'], { encoding: 'utf8', timeout: 5000 });
  assert.match(result.stderr, /Address already in use/);
  lock.release();
});

test('abstract: Python socket.bind(b"\\0name") conflicts both ways', async (t) => {
  const name = uniqueName();
  const python = await spawnReady(t, 'python3', ['-c', PYTHON_BIND, name]);
  assert.equal(python.firstLine, 'locked');
  assert.equal(solely.tryLockAbstractSync(name), null);
  await kill(python);
  const lock = solely.lockAbstractSync(name);
  assert.equal(execFileSync('python3', ['-c', PYTHON_BIND, name], { encoding: 'utf8' }).trim(), 'EADDRINUSE');
  lock.release();
});

test('abstract: the name has its exact length (no trailing NULs), as other languages bind it', async () => {
  const name = uniqueName();
  const lock = solely.lockAbstractSync(name);
  const unix = require('node:fs').readFileSync('/proc/net/unix', 'utf8');
  assert.ok(unix.split('\n').some((line) => line.endsWith(` @${name}`)), 'listed as @name in /proc/net/unix');
  lock.release();
});

test('file: flock(1) conflicts both ways', { skip: needs('flock') }, async (t) => {
  const file = path.join(tempDir(t), 'flock1.lock');
  // flock(1) forks its command, which inherits the lock: kill the whole group.
  const flock = await spawnReady(t, 'flock', ['-n', file, 'sh', '-c', 'echo locked; exec sleep 30'], { detached: true });
  assert.equal(flock.firstLine, 'locked');
  assert.equal(solely.tryLockFileSync(file), null);
  await kill(flock);
  // The group's sleep dies just after flock(1): wait for the lock, as a cron job would.
  const lock = await solely.lockFile(file, { wait: 5000 });
  const held = spawnSync('flock', ['-n', '-E', '75', file, 'true']);
  assert.equal(held.status, 75);
  lock.release();
  assert.equal(spawnSync('flock', ['-n', '-E', '75', file, 'true']).status, 0);
});

test("file: method 'fcntl' conflicts both ways with Python fcntl.lockf", async (t) => {
  const file = path.join(tempDir(t), 'lockf.lock');
  const python = await spawnReady(t, 'python3', ['-c', PYTHON_LOCKF, file]);
  assert.equal(python.firstLine, 'locked');
  assert.equal(solely.tryLockFileSync(file, { method: 'fcntl' }), null);
  await kill(python);
  const lock = solely.lockFileSync(file, { method: 'fcntl' });
  assert.equal(execFileSync('python3', ['-c', PYTHON_LOCKF, file], { encoding: 'utf8' }).trim(), 'held');
  lock.release();
  const child = await holder(t, 'fcntl', file);
  assert.equal(execFileSync('python3', ['-c', PYTHON_LOCKF, file], { encoding: 'utf8' }).trim(), 'held');
  await kill(child);
});
