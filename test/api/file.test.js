'use strict';
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, test } = require('node:test');
const solely = require('../..');
const { tempDir, holder, kill, needs, readablePackage, ROOT, NOBODY } = require('../support/helpers');

describe('flock and fcntl (OFD) file locks', () => {
  for (const method of ['flock', 'fcntl']) fileLockTests(method);
});

function fileLockTests(method) {
  test(`${method}: a file lock is exclusive across processes and freed by SIGKILL`, async (t) => {
    const file = path.join(tempDir(t), 'job.lock');
    const child = await holder(t, method === 'flock' ? 'file' : 'fcntl', file);
    assert.equal(child.firstLine, 'locked');
    assert.equal(solely.tryLockFileSync(file, { method }), null);
    assert.throws(() => solely.lockFileSync(file, { method }), (error) => {
      assert.ok(error instanceof solely.LockHeldError);
      assert.equal(error.code, 'ELOCKED');
      assert.equal(error.path, file);
      assert.equal(error.syscall, method);
      assert.ok(['EAGAIN', 'EACCES'].includes(error.cause.code));
      return true;
    });
    await kill(child);
    const lock = solely.lockFileSync(file, { method });
    assert.equal(lock.kind, 'file');
    assert.equal(lock.target, file);
    lock.release();
  });

  test(`${method}: two opens in one process conflict (never classic POSIX locks)`, (t) => {
    const file = path.join(tempDir(t), 'same-process.lock');
    const lock = solely.lockFileSync(file, { method });
    assert.equal(solely.tryLockFileSync(file, { method }), null);
    lock.release();
    // A classic fcntl lock would vanish when any fd of the file closes: this open+close must not free it.
    const again = solely.lockFileSync(file, { method });
    fs.closeSync(fs.openSync(file, 'r'));
    assert.equal(solely.tryLockFileSync(file, { method }), null);
    again.release();
  });
}

test("method 'fcntl' where OFD locks do not exist: UnsupportedPlatformError ENOTSUP, never a classic POSIX lock", async (t) => {
  const { binding } = require('../../dist/internal/binding');
  assert.equal(binding.ofdLocks, true, 'Linux has OFD locks');
  binding.ofdLocks = false; // what the addon reports where F_OFD_SETLK does not exist
  t.after(() => (binding.ofdLocks = true));
  const dir = tempDir(t);
  const file = path.join(dir, 'job.lock');
  const refused = (error) => {
    assert.ok(error instanceof solely.UnsupportedPlatformError);
    assert.deepEqual({ ...error }, { code: 'ENOTSUP', errno: -os.constants.errno.ENOTSUP, syscall: 'fcntl', path: file });
    return true;
  };
  assert.throws(() => solely.lockFileSync(file, { method: 'fcntl' }), refused);
  assert.throws(() => solely.tryLockFileSync(file, { method: 'fcntl' }), refused);
  await assert.rejects(solely.lockFile(file, { method: 'fcntl', wait: true }), refused);
  assert.throws(() => solely.openPidfileSync(file, { method: 'fcntl' }), refused);
  await assert.rejects(solely.openPidfile(file, { method: 'fcntl' }), refused);
  assert.deepEqual(fs.readdirSync(dir), [], 'refused before anything is created');
  solely.lockFileSync(file).release(); // flock is unaffected
});

test('contention is a number: on a held lock the addon answers -EAGAIN, not an object to build; only a failed open, which has fallbacks, is an array', (t) => {
  const { binding } = require('../../dist/internal/binding');
  const dir = tempDir(t);
  const { O_RDWR, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  const flags = O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK;
  for (const method of ['flock', 'fcntl']) {
    const file = path.join(dir, `${method}.lock`);
    const lock = solely.lockFileSync(file, { method });
    const before = fs.readdirSync('/proc/self/fd').length;
    assert.equal(binding.openLocked(file, flags, 0o644, binding.lockMethods[method]), -os.constants.errno.EAGAIN);
    assert.equal(fs.readdirSync('/proc/self/fd').length, before, 'the attempt closed its fd');
    lock.release();
  }
  assert.deepEqual(binding.openLocked(path.join(dir, 'missing', 'x.lock'), flags, 0o644, binding.lockMethods.flock), [-os.constants.errno.ENOENT]);
});

test('the target is the absolute path; the file is created with the mode, less the umask, plus the sticky bit', (t) => {
  const dir = tempDir(t);
  const previous = process.umask(0o022);
  t.after(() => process.umask(previous));
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  const lock = solely.lockFileSync('relative.lock', { mode: 0o664 });
  assert.equal(lock.target, path.join(dir, 'relative.lock'));
  assert.equal(fs.statSync(lock.target).mode & 0o7777, 0o1644, 'the sticky bit keeps systemd-tmpfiles away');
  lock.release();
  const other = solely.lockFileSync('other.lock', { mode: 0o600 });
  assert.equal(fs.statSync(other.target).mode & 0o7777, 0o1600);
  other.release();
});

test('a directory is locked in place and nothing is created', async (t) => {
  const dir = tempDir(t);
  const child = await holder(t, 'file', dir);
  assert.equal(child.firstLine, 'locked');
  assert.equal(solely.tryLockFileSync(dir), null);
  assert.deepEqual(fs.readdirSync(dir), []);
  assert.throws(() => solely.lockFileSync(dir, { method: 'fcntl' }), { name: 'InvalidTargetError', code: 'EISDIR', path: dir });
  await kill(child);
  solely.lockFileSync(dir).release();
});

test('a symlink at the path is refused with ELOOP; nothing is followed, created or truncated', (t) => {
  const dir = tempDir(t);
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious');
  const link = path.join(dir, 'link.lock');
  fs.symlinkSync(victim, link);
  const dangling = path.join(dir, 'dangling.lock');
  fs.symlinkSync(path.join(dir, 'would-be-created'), dangling);
  for (const target of [link, dangling]) {
    for (const method of ['flock', 'fcntl']) {
      assert.throws(() => solely.lockFileSync(target, { method }), (error) => {
        assert.ok(error instanceof solely.InvalidTargetError);
        assert.equal(error.code, 'ELOOP');
        assert.equal(error.errno, -40);
        assert.equal(error.syscall, 'open');
        assert.equal(error.path, target);
        return true;
      });
    }
  }
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
  assert.equal(fs.existsSync(path.join(dir, 'would-be-created')), false);
});

test('a missing parent directory is ENOENT from open', (t) => {
  const file = path.join(tempDir(t), 'missing', 'x.lock');
  assert.throws(() => solely.lockFileSync(file), { name: 'SolelyError', code: 'ENOENT', errno: -2, syscall: 'open', path: file });
});

test('a directory the caller may not write is EACCES (run as another uid)', (t) => {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'x.lock');
  const script = `
    try { require(${JSON.stringify(readablePackage())}).lockFileSync(${JSON.stringify(file)}); console.log('locked'); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path })); }`;
  const out = require('node:child_process').execFileSync('setpriv', [...NOBODY, process.execPath, '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { name: 'SolelyError', code: 'EACCES', errno: -13, syscall: 'open', path: file });
});

test('flock locks a file the caller may only read, as flock(1) does', (t) => {
  const file = path.join(tempDir(t), 'readonly.lock');
  fs.writeFileSync(file, '');
  fs.chmodSync(file, 0o444);
  fs.chmodSync(path.dirname(file), 0o755);
  const script = `
    const s = require(${JSON.stringify(readablePackage())});
    const l = s.lockFileSync(${JSON.stringify(file)}); console.log(l.kind);
    try { s.lockFileSync(${JSON.stringify(file)}, { method: 'fcntl' }) } catch (e) { console.log(e.code) }`;
  const out = require('node:child_process').execFileSync('setpriv', [...NOBODY, process.execPath, '-e', script], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n'), ['file', 'EACCES']);
});

test('a read-only filesystem: EROFS to create, and an existing file still locks with flock', (t) => {
  // A private mount namespace with a tmpfs made read-only after one file was created in it.
  const dir = tempDir(t);
  const script = `
    const s = require(${JSON.stringify(ROOT)});
    const out = [];
    try { s.lockFileSync('${dir}/new.lock') } catch (e) { out.push([e.name, e.code, e.errno, e.syscall, e.path].join(' ')) }
    const l = s.lockFileSync('${dir}/existing.lock'); out.push(l.kind); l.release();
    console.log(out.join('|'));`;
  const shell = `mount -t tmpfs none ${dir} && touch ${dir}/existing.lock && mount -o remount,ro ${dir} && exec "$0" -e "$1"`;
  const out = require('node:child_process').execFileSync('unshare', ['-m', 'sh', '-c', shell, process.execPath, script], { encoding: 'utf8' });
  assert.equal(out.trim(), `SolelyError EROFS -30 open ${dir}/new.lock|file`);
});

test('release() unlocks before closing, so a child sharing the description cannot prolong it', async (t) => {
  const file = path.join(tempDir(t), 'shared.lock');
  const lock = solely.lockFileSync(file);
  // The child inherits a dup of the locked description, as a fork before exec would.
  const { spawn } = require('node:child_process');
  const child = spawn('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore', lock.fd] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('spawn', resolve));
  lock.release();
  const next = solely.tryLockFileSync(file);
  assert.ok(next, 'the lock is free although the child still has the description open');
  next.release();
});

test('flopen: a waiter whose file is replaced follows the path, so two holders never coexist', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'replaced.lock');
  const first = solely.lockFileSync(file);
  const waiting = solely.lockFile(file, { wait: 5000 });
  await new Promise((resolve) => setTimeout(resolve, 50)); // the waiter has opened the old inode
  // Someone replaces the lock file (rename over it), then the old holder releases.
  fs.writeFileSync(path.join(dir, 'new'), '');
  fs.renameSync(path.join(dir, 'new'), file);
  const onNewFile = solely.lockFileSync(file);
  first.release();
  // The waiter must not report the old, unlinked inode as the lock: it now waits on the new file.
  const raced = await Promise.race([waiting.then(() => 'acquired'), new Promise((r) => setTimeout(r, 300, 'waiting'))]);
  assert.equal(raced, 'waiting');
  onNewFile.release();
  const lock = await waiting;
  assert.equal(fs.fstatSync(lock.fd).ino, fs.statSync(file).ino);
  lock.release();
});

test('Symbol.dispose releases the lock', (t) => {
  const file = path.join(tempDir(t), 'dispose.lock');
  const lock = solely.lockFileSync(file);
  lock[Symbol.dispose]();
  assert.equal(lock.released, true);
  solely.lockFileSync(file).release();
});

/** dir/a/link -> dir/other/x: for dir/a/link/.., the kernel goes to dir/other, a text resolution to dir/a. */
function symlinkLayout(t) {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'other', 'x'), { recursive: true });
  fs.symlinkSync(path.join(dir, 'other', 'x'), path.join(dir, 'a', 'link'));
  return dir;
}

test('a path is made absolute, never normal: solely and flock(1) lock the same file for the same string', { skip: needs('flock') }, (t) => {
  const dir = symlinkLayout(t);
  const flock = (spelled) => spawnSync('flock', ['-n', spelled, 'true']).status;
  const spelled = `${dir}/a/link/../n.lock`;
  const lock = solely.lockFileSync(spelled);
  assert.equal(flock(spelled), 1, 'flock(1) conflicts while solely holds');
  assert.equal(fs.fstatSync(lock.fd).ino, fs.statSync(path.join(dir, 'other', 'n.lock')).ino);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'a')), ['link']);
  assert.equal(lock.target, spelled, 'the target is the string that was opened');
  assert.equal(solely.whoHolds({ file: spelled }).pid, process.pid);
  assert.equal(solely.tryLockFileSync(`${dir}//other/./n.lock`), null, "'//' and '.' are the kernel's too");
  lock.release();
  assert.equal(flock(spelled), 0);

  // A relative path gets the working directory in front, and nothing else.
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  const relative = solely.lockFileSync('a/link/../n.lock');
  assert.equal(relative.target, spelled);
  assert.equal(flock(spelled), 1);
  relative.release();
});

test("a trailing '/' is the kernel's: 'missing/' is ENOENT, 'file/' ENOTDIR (as flock(1)), 'dir/' the directory", async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'file'), '');
  fs.mkdirSync(path.join(dir, 'sub'));
  const missing = `${dir}/missing/`;
  const absent = { name: 'SolelyError', code: 'ENOENT', errno: -2, syscall: 'open', path: missing };
  assert.throws(() => solely.lockFileSync(missing), absent);
  assert.throws(() => solely.tryLockFileSync(missing), absent);
  await assert.rejects(solely.lockFile(missing), absent);
  await assert.rejects(solely.lockFile(missing, { wait: true }), absent);
  const file = `${dir}/file/`;
  assert.throws(() => solely.lockFileSync(file), { name: 'InvalidTargetError', code: 'ENOTDIR', errno: -20, syscall: 'open', path: file });
  const sub = solely.lockFileSync(`${dir}/sub/`);
  assert.equal(sub.target, `${dir}/sub/`);
  assert.equal(solely.tryLockFileSync(`${dir}/sub`), null);
  sub.release();
  assert.deepEqual(fs.readdirSync(dir).sort(), ['file', 'sub']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'sub')), []);
});

test('listenUnix and whoHolds resolve a path as the kernel does; a socket path needs a file name', async (t) => {
  const dir = symlinkLayout(t);
  const spelled = `${dir}/a/link/../s.sock`;
  const server = await solely.listenUnix(spelled);
  t.after(() => server.listening && server.close());
  assert.ok(fs.lstatSync(path.join(dir, 'other', 's.sock')).isSocket());
  assert.equal(solely.whoHolds({ file: `${dir}/other/s.sock.lock` }).pid, process.pid, 'the sidecar lock is beside the socket');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'a')), ['link']);
  assert.equal(server.address(), spelled);
  await new Promise((resolve) => server.close(resolve));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'other')).sort(), ['s.sock.lock', 'x']);
  for (const nameless of [`${dir}/s.sock/`, `${dir}/other/.`, `${dir}/other/..`]) {
    await assert.rejects(solely.listenUnix(nameless), { name: 'InvalidTargetError', code: 'EINVAL', path: nameless });
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a', 'other']);
});

const { spawnReady } = require('../support/helpers');

test('a file or pidfile lock held by another uid is a ForeignHolderError, as for abstract locks', { skip: process.getuid() !== 0 && 'setpriv needs root' }, async (t) => {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o1777);
  const file = path.join(dir, 'foreign.pid');
  // flock(1) as uid 65534 creates and locks the file; its command writes its PID there, as a
  // pidfile holder would. detached: flock(1) forks its command, so the whole group is killed.
  const squatter = await spawnReady(t, 'setpriv', [...NOBODY, 'flock', file, 'sh', '-c', `echo $$ > ${file}; echo locked; exec sleep 60`], { detached: true });
  assert.equal(squatter.firstLine, 'locked');
  const foreign = (error) => {
    assert.ok(error instanceof solely.ForeignHolderError, error.stack);
    assert.ok(error instanceof solely.LockHeldError);
    assert.equal(error.name, 'ForeignHolderError');
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.errno, -11);
    assert.equal(error.syscall, 'flock');
    assert.equal(error.path, file);
    assert.equal(error.holder.uid, 65534);
    assert.match(error.message, /, by another user$/);
    return true;
  };
  assert.throws(() => solely.lockFileSync(file), foreign);
  await assert.rejects(solely.lockFile(file), foreign);
  assert.throws(() => solely.openPidfileSync(file), foreign);
  await assert.rejects(solely.openPidfile(file), foreign);
  assert.equal(solely.tryLockFileSync(file), null);
  // A holder of our own uid stays a plain LockHeldError.
  const own = solely.lockFileSync(path.join(dir, 'own.lock'));
  assert.throws(() => solely.lockFileSync(own.target), (error) => error.name === 'LockHeldError' && error.holder.uid === process.getuid());
  own.release();
});

test('a file lock held by a uid whose fds the caller may not read is a ForeignHolderError naming that uid', { skip: process.getuid() !== 0 && 'setpriv needs root' }, async (t) => {
  const { readablePackage } = require('../support/helpers');
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o1777);
  const file = path.join(dir, 'root.lock');
  // flock(1) holds the lock as root; uid 65534 sees its pid in /proc/locks but not its fds.
  const squatter = await spawnReady(t, 'flock', [file, 'sh', '-c', 'echo locked; exec sleep 60'], { detached: true });
  assert.equal(squatter.firstLine, 'locked');
  const script = `const s = require(${JSON.stringify(readablePackage())});
    try { s.lockFileSync(${JSON.stringify(file)}).release(); console.log('null'); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, holder: e.holder, foreign: e instanceof s.ForeignHolderError })); }`;
  const out = require('node:child_process').execFileSync('setpriv', [...NOBODY, process.execPath, '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { name: 'ForeignHolderError', code: 'ELOCKED', holder: { uid: 0 }, foreign: true });
});

test('a relative path is fixed when locked: a later chdir does not move the lock', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  const cwd = process.cwd();
  t.after(() => process.chdir(cwd));
  process.chdir(path.join(dir, 'a'));
  const lock = solely.lockFileSync('job.lock');
  process.chdir(path.join(dir, 'b'));
  assert.equal(lock.target, path.join(dir, 'a', 'job.lock'));
  // Still held where it was taken, and the same relative name now is another, free file.
  assert.equal(solely.tryLockFileSync(path.join(dir, 'a', 'job.lock')), null);
  const other = solely.tryLockFileSync('job.lock');
  assert.equal(other.target, path.join(dir, 'b', 'job.lock'));
  other.release();
  lock.release();
});
