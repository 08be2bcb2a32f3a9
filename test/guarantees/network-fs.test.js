'use strict';
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const { Worker } = require('node:worker_threads');
const solely = require('../..');
const { FIXTURES, tempDir, spawnReady, fdCount, ROOT } = require('../support/helpers');

test('classifyFilesystem names network and emulated filesystems by their statfs magic', () => {
  const network = { nfs: 0x6969, smb: 0x517b, cifs: 0xff534d42, smb2: 0xfe534d42, ceph: 0x00c36400, fuse: 0x65735546, '9p': 0x01021997 };
  for (const [name, magic] of Object.entries(network)) assert.deepEqual(solely.classifyFilesystem(magic), { magic, name, network: true });
  const local = { ext4: 0xef53, tmpfs: 0x01021994, overlay: 0x794c7630, btrfs: 0x9123683e, xfs: 0x58465342 };
  for (const [name, magic] of Object.entries(local)) assert.deepEqual(solely.classifyFilesystem(magic), { magic, name, network: false });
  assert.deepEqual(solely.classifyFilesystem(0x12345678), { magic: 0x12345678, name: '0x12345678', network: false });
  assert.throws(() => solely.classifyFilesystem(-1), { code: 'ERR_INVALID_ARG_VALUE' });
});

test("filesystemOf reads this machine's filesystems as stat -f does", (t) => {
  for (const dir of [tempDir(t), '/dev/shm', '/proc']) {
    const magic = parseInt(execFileSync('stat', ['-f', '-c', '%t', dir], { encoding: 'utf8' }), 16);
    const fs = solely.filesystemOf(dir);
    assert.equal(fs.magic, magic, dir);
    assert.equal(fs.network, false, dir);
  }
  assert.equal(solely.filesystemOf('/dev/shm').name, 'tmpfs');
  assert.throws(() => solely.filesystemOf('/nonexistent/x'), { code: 'ENOENT', syscall: 'statfs', path: '/nonexistent/x' });
});

// A FUSE filesystem served by a test process: statfs says FUSE, and lock requests go to that
// process, which can hold its answer as a slow network lock manager would.
const fuseUsable = process.getuid() === 0 && fs.existsSync('/dev/fuse');

async function mountFuse(t) {
  const mountpoint = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-fuse-'));
  const server = await spawnReady(t, 'python3', [path.join(FIXTURES, 'fuse-fs.py'), mountpoint]);
  if (server.firstLine.startsWith('unavailable')) {
    fs.rmdirSync(mountpoint);
    return null; // a container without FUSE mounts
  }
  assert.equal(server.firstLine, 'mounted');
  t.after(() => {
    server.kill('SIGKILL');
    execFileSync('umount', ['-l', mountpoint]);
    fs.rmdirSync(mountpoint);
  });
  // Lines can arrive before anyone awaits them: queue them.
  const queued = [];
  const waiting = [];
  server.lines.on('line', (text) => (waiting.length > 0 ? waiting.shift()(text) : queued.push(text)));
  const line = () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return { mountpoint, server, line };
}

test("onNetworkFilesystem: 'warn' once per path by default, 'error' throws, 'lock' is silent", { skip: !fuseUsable && 'needs root and /dev/fuse' }, async (t) => {
  const fuse = await mountFuse(t);
  if (fuse === null) return t.skip('FUSE cannot be mounted here');
  const { mountpoint } = fuse;
  assert.deepEqual(solely.filesystemOf(mountpoint), { magic: 0x65735546, name: 'fuse', network: true });
  const warnings = [];
  const onWarning = (warning) => warnings.push(warning);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));

  const file = path.join(mountpoint, 'a.lock');
  solely.lockFileSync(file).release();
  solely.lockFileSync(file).release();
  (await solely.lockFile(file)).release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].code, 'SOLELY_NETWORK_FILESYSTEM');
  assert.match(warnings[0].message, /a\.lock is on a network filesystem \(fuse\)/);

  const refused = path.join(mountpoint, 'b.lock');
  assert.throws(() => solely.lockFileSync(refused, { onNetworkFilesystem: 'error' }), (error) => {
    assert.ok(error instanceof solely.SolelyError);
    assert.equal(error.code, 'ERR_SOLELY_NETWORK_FILESYSTEM');
    assert.equal(error.path, refused);
    return true;
  });
  await assert.rejects(solely.openPidfile(refused, { onNetworkFilesystem: 'error' }), { code: 'ERR_SOLELY_NETWORK_FILESYSTEM' });
  assert.equal(fs.existsSync(refused), false, 'nothing was created');

  solely.lockFileSync(path.join(mountpoint, 'c.lock'), { onNetworkFilesystem: 'lock' }).release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(warnings.length, 1);
  assert.throws(() => solely.lockFileSync(file, { onNetworkFilesystem: 'maybe' }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('on a network filesystem the async lock request runs off the event loop, for flock and fcntl', { skip: !fuseUsable && 'needs root and /dev/fuse' }, async (t) => {
  const fuse = await mountFuse(t);
  if (fuse === null) return t.skip('FUSE cannot be mounted here');
  const { mountpoint, server, line } = fuse;
  for (const method of ['flock', 'fcntl']) {
    server.stdin.write('hold\n');
    assert.equal(await line(), 'holding');
    const locking = solely.lockFile(path.join(mountpoint, `${method}.lock`), { method, onNetworkFilesystem: 'lock' });
    // The server has the request and does not answer: reading its output needs the event loop,
    // so a lock call made on the loop thread would never get past this line.
    assert.equal(await line(), 'setlk');
    server.stdin.write('go\n');
    const lock = await locking;
    assert.equal(lock.released, false);
    lock.release();
    assert.equal(await line(), 'answered');
  }
  // A wait that ends while a request is in flight leaves no lock behind.
  server.stdin.write('hold\n');
  assert.equal(await line(), 'holding');
  const file = path.join(mountpoint, 'timeout.lock');
  const before = fdCount();
  const controller = new AbortController();
  const aborted = solely.lockFile(file, { wait: true, signal: controller.signal, onNetworkFilesystem: 'lock' });
  assert.equal(await line(), 'setlk');
  controller.abort();
  await assert.rejects(aborted, { name: 'AbortError' });
  server.stdin.write('go\n');
  assert.equal(await line(), 'answered');
  // The late answer's callback unlocks and closes the abandoned fd.
  while (fdCount() !== before) await new Promise((resolve) => setTimeout(resolve, 5));
  const pidfile = await solely.openPidfile(file, { onNetworkFilesystem: 'lock' });
  pidfile.write();
  pidfile.release();
  assert.equal(fdCount(), before);
});

test('on a network filesystem a lock that does not wait is one request off the event loop: granted, or held', { skip: !fuseUsable && 'needs root and /dev/fuse' }, async (t) => {
  const fuse = await mountFuse(t);
  if (fuse === null) return t.skip('FUSE cannot be mounted here');
  const { mountpoint, server, line } = fuse;
  const file = path.join(mountpoint, 'no-wait.lock');
  const before = fdCount();
  server.stdin.write('hold\n');
  assert.equal(await line(), 'holding');
  const locking = solely.lockFile(file, { onNetworkFilesystem: 'lock' });
  // Reading the server's output needs the event loop: a request made on it would stop here.
  assert.equal(await line(), 'setlk');
  server.stdin.write('go\n');
  assert.equal(await line(), 'answered');
  const lock = await locking;
  assert.equal(lock.released, false);
  lock.release();
  server.stdin.write('refuse\n');
  assert.equal(await line(), 'refusing');
  await assert.rejects(solely.lockFile(file, { onNetworkFilesystem: 'lock' }), { name: 'LockHeldError', code: 'ELOCKED', syscall: 'flock', path: file });
  assert.equal(await line(), 'refused');
  await assert.rejects(solely.openPidfile(file, { method: 'fcntl', onNetworkFilesystem: 'lock' }), { name: 'LockHeldError', code: 'ELOCKED', syscall: 'fcntl', path: file });
  assert.equal(await line(), 'refused');
  server.stdin.write('go\n');
  assert.equal(await line(), 'answered');
  assert.equal(fdCount(), before, 'no fd left behind');
});

/** This process's fds open on file. */
function fdsOf(file) {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false; // closed meanwhile
    }
  });
}

test('a Worker terminated while its network lock request is in flight leaves no fd and no lock behind', { skip: !fuseUsable && 'needs root and /dev/fuse', timeout: 30_000 }, async (t) => {
  const fuse = await mountFuse(t);
  if (fuse === null) return t.skip('FUSE cannot be mounted here');
  const { mountpoint, server, line } = fuse;
  const file = path.join(mountpoint, 'worker.lock');
  server.stdin.write('hold\n');
  assert.equal(await line(), 'holding');
  const worker = new Worker(
    `require(${JSON.stringify(ROOT)}).lockFile(${JSON.stringify(file)}, { wait: true, onNetworkFilesystem: 'lock' });`,
    { eval: true },
  );
  assert.equal(await line(), 'setlk');
  const opened = () => fdsOf(file);
  assert.equal(opened().length, 1, 'the Worker opened the lock file');
  await worker.terminate();
  server.stdin.write('go\n');
  assert.equal(await line(), 'answered');
  // The answer arrives after the Worker is gone: the addon unlocks and closes the fd itself.
  while (opened().length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
});

test('a Worker terminated between two network lock requests closes the lock file its wait kept open', { skip: !fuseUsable && 'needs root and /dev/fuse', timeout: 30_000 }, async (t) => {
  const fuse = await mountFuse(t);
  if (fuse === null) return t.skip('FUSE cannot be mounted here');
  const { mountpoint, server, line } = fuse;
  const file = path.join(mountpoint, 'refused.lock');
  server.stdin.write('refuse\n');
  assert.equal(await line(), 'refusing');
  const before = fdCount();
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const { binding } = require(${JSON.stringify(path.join(ROOT, 'dist', 'internal', 'binding'))});
    // Once the waiter has taken back the fd of a refused request, report it and hold the thread
    // there: the fd stays open for the next poll, with no request in flight to close it.
    const lockOnThread = binding.lockVerifiedOnThread;
    binding.lockVerifiedOnThread = (fd, path, method, callback) => lockOnThread(fd, path, method, (rc) => {
      callback(rc);
      parentPort.postMessage(rc);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    });
    require(${JSON.stringify(ROOT)}).lockFile(${JSON.stringify(file)}, { wait: true, onNetworkFilesystem: 'lock' });
  `, { eval: true });
  assert.equal(await new Promise((resolve) => worker.once('message', resolve)), -11, 'refused: EAGAIN');
  assert.equal(fdsOf(file).length, 1, 'the waiting Worker keeps the lock file open');
  assert.equal(await worker.terminate(), 1);
  assert.deepEqual(fdsOf(file), []);
  assert.equal(fdCount(), before);
});
