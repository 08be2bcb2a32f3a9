'use strict';
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('../..');
const { FIXTURES, tempDir, spawnReady, holder, exited, kill, fdCount, needs, ROOT, CLI } = require('../support/helpers');

const EAGAIN = -11;

/** solely status --pidfile file, in a child: its exit code. A hang fails the test by its timeout. */
async function status(t, file) {
  // Exit 4 prints nothing on stdout: its exit is the event.
  const child = spawn(process.execPath, [CLI, 'status', '--pidfile', file], { stdio: ['ignore', 'ignore', 'ignore'] });
  await exited(child);
  return child.exitCode;
}

/** What readPidfile, openPidfileSync and openPidfile make of file in a child process, and how
 *  much that process grew (maxRSS) meanwhile. A hang fails the test by its timeout. */
async function readers(t, file) {
  const script = `
    const s = require(${JSON.stringify(ROOT)});
    const file = ${JSON.stringify(file)};
    const start = process.resourceUsage().maxRSS;
    const failure = (e) => [e.name, e.code, e.syscall, e.holder?.pid];
    const out = {};
    try { out.read = s.readPidfile(file) } catch (e) { out.read = failure(e) }
    try { s.openPidfileSync(file).release(); out.sync = 'opened' } catch (e) { out.sync = failure(e) }
    s.openPidfile(file).then((p) => { p.release(); return 'opened' }, failure).then((r) => {
      out.async = r;
      out.grownKiB = process.resourceUsage().maxRSS - start;
      console.log(JSON.stringify(out));
    });`;
  const child = await spawnReady(t, process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(child.firstLine);
}

function holdPidfile(t, file, ...flags) {
  return spawnReady(t, process.execPath, [path.join(FIXTURES, 'hold-pidfile.js'), file, ...flags]);
}

function assertHeld(error, file, pid, syscall = 'flock') {
  assert.ok(error instanceof solely.LockHeldError);
  assert.equal(error.code, 'ELOCKED');
  assert.equal(error.errno, EAGAIN);
  assert.equal(error.syscall, syscall);
  assert.equal(error.path, file);
  assert.equal(error.holder.pid, pid);
  return true;
}

// The libbsd peer, compiled once by the first test that needs it.
const LIBBSD = needs('cc', '/usr/include/bsd/libutil.h');
let bsdPeerPath;
function bsdPeer() {
  if (bsdPeerPath !== undefined) return bsdPeerPath;
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'solely-bsd-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync('cc', ['-O', '-o', path.join(dir, 'bsd-pidfile'), path.join(FIXTURES, 'bsd-pidfile.c'), '-lbsd']);
  return (bsdPeerPath = path.join(dir, 'bsd-pidfile'));
}

test('openPidfileSync locks and truncates, write() replaces the contents with "PID" (no newline, as BSD)', (t) => {
  const file = path.join(tempDir(t), 'd.pid');
  fs.writeFileSync(file, 'old contents that are longer\n');
  const pidfile = solely.openPidfileSync(file);
  assert.ok(pidfile instanceof solely.Pidfile);
  assert.ok(pidfile instanceof solely.Lock);
  assert.equal(pidfile.kind, 'pidfile');
  assert.equal(pidfile.target, file);
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  pidfile.write();
  assert.equal(fs.readFileSync(file, 'utf8'), `${process.pid}`);
  pidfile.write(1234567);
  pidfile.write(42);
  assert.equal(fs.readFileSync(file, 'utf8'), '42');
  fs.writeFileSync(file, '43\n'); // other writers end it with a newline
  assert.deepEqual(solely.readPidfile(file), { pid: 43, locked: true });
  assert.throws(() => pidfile.write(0), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => pidfile.write(1.5), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => solely.openPidfileSync(file), (error) => assertHeld(error, file, 43));
  pidfile.release();
  assert.throws(() => pidfile.write(), { code: 'EBADF', syscall: 'write', path: file });
});

test('the mode is 0o644 by default and can be given; a symlink or a directory is refused untouched', (t) => {
  const dir = tempDir(t);
  const umask = process.umask();
  const a = solely.openPidfileSync(path.join(dir, 'a.pid'));
  const b = solely.openPidfileSync(path.join(dir, 'b.pid'), { mode: 0o600 });
  assert.equal(fs.statSync(a.target).mode & 0o777, 0o644 & ~umask);
  assert.equal(fs.statSync(b.target).mode & 0o777, 0o600 & ~umask);
  a.release();
  b.release();
  const real = path.join(dir, 'real');
  fs.writeFileSync(real, 'keep\n');
  fs.symlinkSync(real, path.join(dir, 'link.pid'));
  assert.throws(() => solely.openPidfileSync(path.join(dir, 'link.pid')), { name: 'InvalidTargetError', code: 'ELOOP', syscall: 'open' });
  assert.equal(fs.readFileSync(real, 'utf8'), 'keep\n');
  fs.mkdirSync(path.join(dir, 'dir.pid'));
  assert.throws(() => solely.openPidfileSync(path.join(dir, 'dir.pid')), { name: 'InvalidTargetError', code: 'EISDIR' });
  assert.throws(() => solely.openPidfileSync(path.join(dir, 'x.pid'), { method: 'lockf' }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('remove() unlinks while holding, then releases and closes the kept directory fd', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'r.pid');
  const before = fdCount();
  const pidfile = solely.openPidfileSync(file);
  assert.equal(fdCount(), before + 2); // the locked file and its directory
  pidfile.write();
  pidfile.remove();
  assert.equal(fs.existsSync(file), false);
  assert.equal(pidfile.released, true);
  assert.equal(pidfile.fd, -1);
  assert.equal(fdCount(), before);
  pidfile.remove();
  pidfile.release();

  const other = solely.openPidfileSync(file);
  other.release();
  assert.equal(fdCount(), before, 'release() closes the directory fd too');
  assert.equal(fs.existsSync(file), true, 'release() does not unlink');
});

test('remove() leaves a file that replaced the pidfile at its path', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'p.pid');
  const pidfile = solely.openPidfileSync(file);
  pidfile.write();
  fs.writeFileSync(path.join(dir, 'new'), '999\n');
  fs.renameSync(path.join(dir, 'new'), file);
  pidfile.remove();
  assert.equal(pidfile.released, true);
  assert.equal(fs.readFileSync(file, 'utf8'), '999\n');
});

test('remove() unlinks in the directory it was opened in, even after the directory was renamed', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'run'));
  const pidfile = solely.openPidfileSync(path.join(dir, 'run', 'd.pid'));
  fs.renameSync(path.join(dir, 'run'), path.join(dir, 'moved'));
  fs.mkdirSync(path.join(dir, 'run'));
  fs.writeFileSync(path.join(dir, 'run', 'd.pid'), 'successor\n');
  pidfile.remove();
  assert.equal(fs.existsSync(path.join(dir, 'moved', 'd.pid')), false);
  assert.equal(fs.readFileSync(path.join(dir, 'run', 'd.pid'), 'utf8'), 'successor\n');
});

test('held by another process: LockHeldError with the PID from the file; the file is not truncated', async (t) => {
  const file = path.join(tempDir(t), 'h.pid');
  const child = await holdPidfile(t, file);
  assert.throws(() => solely.openPidfileSync(file), (error) => {
    assertHeld(error, file, child.pid);
    assert.match(error.holder.command, /hold-pidfile\.js/);
    assert.equal(error.holder.uid, process.getuid());
    return true;
  });
  await assert.rejects(solely.openPidfile(file), (error) => assertHeld(error, file, child.pid));
  assert.equal(fs.readFileSync(file, 'utf8'), `${child.pid}`);
  assert.deepEqual(solely.readPidfile(file), { pid: child.pid, locked: true });
  await kill(child);
  assert.deepEqual(solely.readPidfile(file), { pid: child.pid, locked: false }, 'stale: unlocked, whatever the PID says');
  const pidfile = solely.openPidfileSync(file);
  pidfile.remove();
  assert.deepEqual(solely.readPidfile(file), { pid: null, locked: false });
});

test('a holder that has not written yet: the file is re-read briefly, and its claim is reported as is', async (t) => {
  const dir = tempDir(t);
  const claim = 4000000; // not the holder's PID: fdinfo could not have told it
  const sync = path.join(dir, 's.pid');
  await holdPidfile(t, sync, '--claim', String(claim), '--write-after', '30');
  assert.throws(() => solely.openPidfileSync(sync), (error) => {
    assertHeld(error, sync, claim);
    assert.deepEqual(error.holder, { pid: claim }, 'an unconfirmed claim gets no uid or command');
    return true;
  });
  const async = path.join(dir, 'a.pid');
  await holdPidfile(t, async, '--claim', String(claim), '--write-after', '30');
  await assert.rejects(solely.openPidfile(async), (error) => assertHeld(error, async, claim));
});

test('openPidfile waits for the holder, with a timeout and an AbortSignal', async (t) => {
  const file = path.join(tempDir(t), 'w.pid');
  const child = await holdPidfile(t, file, '--release-on-input');
  await assert.rejects(solely.openPidfile(file, { wait: 30 }), { name: 'LockTimeoutError', code: 'ETIMEDOUT' });
  const controller = new AbortController();
  const aborted = solely.openPidfile(file, { wait: true, signal: controller.signal });
  const reason = new Error('stop');
  controller.abort(reason);
  await assert.rejects(aborted, (error) => error.name === 'AbortError' && error.cause === reason);
  const waiting = solely.openPidfile(file, { wait: true });
  child.stdin.write('go\n');
  const pidfile = await waiting;
  assert.equal(fs.readFileSync(file, 'utf8'), '', 'truncated once locked');
  pidfile.write();
  assert.deepEqual(solely.readPidfile(file), { pid: process.pid, locked: true });
  pidfile.remove();
});

test('readPidfile never needs the lock and reads garbage as no PID', (t) => {
  const dir = tempDir(t);
  assert.deepEqual(solely.readPidfile(path.join(dir, 'absent.pid')), { pid: null, locked: false });
  for (const text of ['', 'abc\n', '-5\n', '12 13\n', '0\n']) {
    fs.writeFileSync(path.join(dir, 'g.pid'), text);
    assert.deepEqual(solely.readPidfile(path.join(dir, 'g.pid')), { pid: null, locked: false }, JSON.stringify(text));
  }
  const lock = solely.lockFileSync(path.join(dir, 'g.pid'), { method: 'fcntl' });
  assert.deepEqual(solely.readPidfile(path.join(dir, 'g.pid')), { pid: null, locked: true });
  lock.release();
  fs.symlinkSync(path.join(dir, 'g.pid'), path.join(dir, 'link.pid'));
  assert.throws(() => solely.readPidfile(path.join(dir, 'link.pid')), { code: 'ELOOP', syscall: 'open' });
});

test('a FIFO at the path holds no PID and never hangs a reader or openPidfile*, locked or not', { skip: needs('mkfifo', 'flock'), timeout: 60_000 }, async (t) => {
  const fifo = path.join(tempDir(t), 'planted.pid');
  execFileSync('mkfifo', [fifo]);
  // Unlocked: a read-only open would wait for a writer. ftruncate refuses a FIFO, under the lock.
  const { read, sync, async } = await readers(t, fifo);
  assert.deepEqual({ read, sync, async }, {
    read: { pid: null, locked: false },
    sync: ['InvalidTargetError', 'EINVAL', 'ftruncate', null],
    async: ['InvalidTargetError', 'EINVAL', 'ftruncate', null],
  });
  assert.equal(await status(t, fifo), 4, 'unknown: solely run would fail EINVAL, never stale');

  // flock(1) holds it through a read-write descriptor (which opens a FIFO at once): a reader's
  // open then finds a writer, and its read() would wait for data that never comes.
  const flock = await spawnReady(t, 'sh', ['-c', 'exec 3<>"$1" && flock -n 3 && echo locked && exec cat', 'sh', fifo]);
  assert.equal(flock.firstLine, 'locked');
  const held = await readers(t, fifo);
  assert.deepEqual({ read: held.read, sync: held.sync, async: held.async }, {
    read: { pid: null, locked: true },
    sync: ['LockHeldError', 'ELOCKED', 'flock', flock.pid],
    async: ['LockHeldError', 'ELOCKED', 'flock', flock.pid],
  });
  assert.equal(await status(t, fifo), 0, 'held');
});

test('a socket at the path holds no PID: readPidfile gives null, openPidfile* refuse it as open(2) does (ENXIO)', async (t) => {
  const socket = path.join(tempDir(t), 'daemon.pid');
  const server = require('node:net').createServer();
  await new Promise((resolve) => server.listen(socket, resolve));
  t.after(() => server.close());
  assert.deepEqual(solely.readPidfile(socket), { pid: null, locked: false });
  const { read, sync, async } = await readers(t, socket);
  assert.deepEqual({ read, sync, async }, {
    read: { pid: null, locked: false },
    sync: ['SolelyError', 'ENXIO', 'open', null],
    async: ['SolelyError', 'ENXIO', 'open', null],
  });
});

test('a huge pidfile is never read whole: it holds no PID, and the reader stays small', { timeout: 120_000 }, async (t) => {
  const big = path.join(tempDir(t), 'big.pid');
  fs.writeFileSync(big, '123\n');
  fs.truncateSync(big, 512 * 2 ** 20); // sparse: '123\n', then 512 MiB of zeros
  const child = await holder(t, 'file', big);
  assert.equal(child.firstLine, 'locked');
  const result = await readers(t, big);
  assert.deepEqual(result.read, { pid: null, locked: true });
  // No PID in the file: the holder is the one fdinfo shows.
  assert.deepEqual(result.sync, ['LockHeldError', 'ELOCKED', 'flock', child.pid]);
  assert.deepEqual(result.async, ['LockHeldError', 'ELOCKED', 'flock', child.pid]);
  assert.ok(result.grownKiB < 64 * 1024, `the readers grew by ${result.grownKiB} KiB`);
  assert.equal(fs.statSync(big).size, 512 * 2 ** 20, 'not truncated: never locked by us');
});

test('a path through a symlink and "..": the pidfile is where the kernel resolves it, and removed there', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'other', 'x'), { recursive: true });
  fs.symlinkSync(path.join(dir, 'other', 'x'), path.join(dir, 'a', 'link'));
  fs.writeFileSync(path.join(dir, 'a', 'd.pid'), 'not ours'); // where a text resolution would go
  const spelled = `${dir}/a/link/../d.pid`; // the kernel: other/d.pid
  const pidfile = solely.openPidfileSync(spelled);
  assert.equal(pidfile.target, spelled);
  pidfile.write();
  assert.equal(fs.readFileSync(path.join(dir, 'other', 'd.pid'), 'utf8'), `${process.pid}`);
  assert.deepEqual(solely.readPidfile(spelled), { pid: process.pid, locked: true });
  pidfile.remove();
  assert.equal(fs.existsSync(path.join(dir, 'other', 'd.pid')), false);
  assert.equal(fs.readFileSync(path.join(dir, 'a', 'd.pid'), 'utf8'), 'not ours');
});

test("a trailing '/' is the kernel's: no pidfile is a directory (EISDIR), nothing is created", async (t) => {
  const dir = tempDir(t);
  const spelled = `${dir}/x.pid/`;
  const shape = { name: 'InvalidTargetError', code: 'EISDIR', errno: -21, syscall: 'open', path: spelled };
  assert.throws(() => solely.openPidfileSync(spelled), shape);
  await assert.rejects(solely.openPidfile(spelled), shape);
  assert.deepEqual(solely.readPidfile(spelled), { pid: null, locked: false });
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('libbsd pidfile_open holds: LockHeldError with its PID, even when it writes after locking', { skip: LIBBSD }, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'bsd.pid');
  const peer = await spawnReady(t, bsdPeer(), [file]);
  assert.equal(peer.firstLine, 'locked');
  assert.throws(() => solely.openPidfileSync(file), (error) => assertHeld(error, file, peer.pid));

  // It prints "locked" before pidfile_write: the file is empty until then, and is re-read.
  const slow = path.join(dir, 'slow.pid');
  const late = await spawnReady(t, bsdPeer(), [slow, '40']);
  assert.throws(() => solely.openPidfileSync(slow), (error) => assertHeld(error, slow, late.pid));
  const later = await spawnReady(t, bsdPeer(), [path.join(dir, 'slow2.pid'), '40']);
  await assert.rejects(solely.openPidfile(path.join(dir, 'slow2.pid')), (error) => assertHeld(error, path.join(dir, 'slow2.pid'), later.pid));
});

test('while we hold, libbsd pidfile_open fails with EEXIST and reads our PID', { skip: LIBBSD }, (t) => {
  const file = path.join(tempDir(t), 'ours.pid');
  const pidfile = solely.openPidfileSync(file);
  pidfile.write();
  const status = require('node:child_process').spawnSync(bsdPeer(), [file], { encoding: 'utf8' });
  assert.equal(status.status, 3);
  assert.equal(status.stdout, `held ${process.pid}\n`);
  pidfile.release();
});

test("method 'fcntl' conflicts with the classic lockf daemon (APUE already_running), both ways", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'apue.pid');
  const daemon = await spawnReady(t, 'python3', [path.join(FIXTURES, 'lockf-pidfile.py'), file]);
  assert.equal(daemon.firstLine, 'locked');
  assert.throws(() => solely.openPidfileSync(file, { method: 'fcntl' }), (error) => assertHeld(error, file, daemon.pid, 'fcntl'));
  assert.deepEqual(solely.readPidfile(file), { pid: daemon.pid, locked: true });
  await kill(daemon);

  const ours = path.join(dir, 'ours.pid');
  const pidfile = solely.openPidfileSync(ours, { method: 'fcntl' });
  pidfile.write();
  const status = require('node:child_process').spawnSync('python3', [path.join(FIXTURES, 'lockf-pidfile.py'), ours], { encoding: 'utf8' });
  assert.equal(status.stdout, 'held\n');
  assert.equal(fs.readFileSync(ours, 'utf8'), `${process.pid}`);
  pidfile.remove();
});
