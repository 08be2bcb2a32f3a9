'use strict';
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('../..');
const { FIXTURES, uniqueName, tempDir, spawnReady, holder, kill, killAfter, needs, readablePackage, CLI, NOBODY, readableFixture } = require('../support/helpers');

const root = process.getuid() === 0;
// Another uid cannot run the pyenv shims that may come first in root's PATH.
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const HAND_OFF = path.join(FIXTURES, 'hand-off-abstract.js');

test('whoHolds a file lock: flock and OFD holders (OFD shows -1 in /proc/locks), null when free', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'f.lock');
  assert.equal(solely.whoHolds({ file }), null, 'absent');
  fs.writeFileSync(file, '');
  assert.equal(solely.whoHolds({ file }), null, 'not locked');
  const flock = await holder(t, 'file', file);
  const held = solely.whoHolds({ file });
  assert.equal(held.pid, flock.pid);
  assert.equal(held.uid, process.getuid());
  assert.match(held.command, /hold\.js file/);
  assert.deepEqual(solely.whoHolds(file), held, 'a string with a slash is a file path');
  assert.throws(() => solely.lockFileSync(file), (error) => error.code === 'ELOCKED' && error.holder.pid === flock.pid);
  await kill(flock);
  assert.equal(solely.whoHolds({ file }), null);

  const ofd = await holder(t, 'fcntl', file);
  assert.match(fs.readFileSync('/proc/locks', 'latin1'), /OFDLCK\s+ADVISORY\s+WRITE -1 /);
  assert.equal(solely.whoHolds({ file }).pid, ofd.pid);
  assert.throws(() => solely.lockFileSync(file, { method: 'fcntl' }), (error) => error.holder.pid === ofd.pid);
});

test('holder.command is the command line decoded as UTF-8 (bytes that are not UTF-8 as U+FFFD): in whoHolds, LockHeldError, status and list', { skip: needs('flock') }, async (t) => {
  const file = path.join(tempDir(t), 'utf8.lock');
  // sh passes printf's byte 0xff on to flock(1) as is: no Node string could.
  const script = `exec flock "$0" sh -c 'echo locked; exec sleep 30' sh 'héllo 中文' "$(printf '\\377')"`;
  const squatter = await spawnReady(t, 'sh', ['-c', script, file], { detached: true });
  const command = `flock ${file} sh -c echo locked; exec sleep 30 sh héllo 中文 \uFFFD`;
  assert.deepEqual(solely.whoHolds(file), { pid: squatter.pid, uid: process.getuid(), command });
  assert.throws(() => solely.lockFileSync(file), (error) => error.holder.command === command && error.message.endsWith(`: ${command})`));
  const cli = (...args) => JSON.parse(execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' }));
  assert.equal(cli('status', '--json', '--file', file).holder.command, command);
  assert.equal(cli('list', '--json').find((lock) => lock.target === file).holder.command, command);
});

test('whoHolds a flock whose acquirer died: the process still holding it, not the PID /proc/locks keeps', async (t) => {
  const file = path.join(tempDir(t), 'inherited.lock');
  // flock(1) locks, then forks the command, which shares the lock; then flock(1) itself dies.
  // The command says its pid once it runs, so its command line is its own by then.
  const acquirer = await spawnReady(t, 'flock', ['-n', file, process.execPath, '-e', 'console.log(process.pid); setTimeout(() => {}, 30_000)']);
  const sleeper = Number(acquirer.firstLine);
  t.after(() => process.kill(sleeper, 'SIGKILL'));
  await kill(acquirer);
  const { ino } = fs.statSync(file);
  assert.match(fs.readFileSync('/proc/locks', 'latin1'), new RegExp(`FLOCK\\s+ADVISORY\\s+WRITE ${acquirer.pid} \\S+:${ino} `));
  const held = solely.whoHolds({ file });
  assert.equal(held.pid, sleeper);
  assert.equal(held.command, `${process.execPath} -e console.log(process.pid); setTimeout(() => {}, 30_000)`);
});

test('whoHolds an abstract name: a listening holder, a holder that does not listen, a free name', async (t) => {
  const name = uniqueName();
  assert.equal(solely.whoHolds(name), null);
  assert.equal(solely.whoHolds({ abstract: name }), null);
  const listening = await holder(t, 'abstract', name);
  assert.equal(solely.whoHolds(name).pid, listening.pid);
  assert.equal(solely.whoHolds(`\0${name}`).pid, listening.pid, '"\\0name" is an abstract name too');
  await kill(listening);

  const silent = await holder(t, 'abstract', name, '--no-listen');
  const held = solely.whoHolds({ abstract: name });
  assert.equal(held.pid, silent.pid, 'found through sock_diag and /proc/<pid>/fd');
  assert.equal(held.uid, process.getuid());
  assert.match(held.command, /hold\.js abstract/);
  assert.equal(solely.whoHolds({ abstract: `${name}-other` }), null);
});

test('an abstract lock handed on by `solely run`, whose wrapper was SIGKILLed: whoHolds, LockHeldError and status name the command, never the dead wrapper SO_PEERCRED names', async (t) => {
  const name = uniqueName();
  // COMMAND prints its pid once it runs as itself (a shell's `echo $$; exec` would print before the exec).
  const script = 'console.log(process.pid); setTimeout(() => {}, 30_000)';
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--abstract', name, '--', process.execPath, '-e', script]);
  const sleeper = Number(wrapper.firstLine);
  killAfter(t, sleeper);
  await kill(wrapper);
  const expected = { pid: sleeper, uid: process.getuid(), command: `${process.execPath} -e ${script}` };
  assert.deepEqual(solely.whoHolds(name), expected);
  assert.throws(() => solely.lockAbstractSync(name), (error) => {
    assert.ok(error instanceof solely.LockHeldError);
    assert.deepEqual(error.holder, expected);
    assert.match(error.message, new RegExp(`\\(pid ${sleeper}, `));
    return true;
  });
  assert.deepEqual(JSON.parse(execFileSync(process.execPath, [CLI, 'status', '--json', '--abstract', name], { encoding: 'utf8' })).holder, expected);
  assert.ok(execFileSync(process.execPath, [CLI, 'status', '--abstract', name], { encoding: 'utf8' }).includes(`held by pid ${sleeper}, `));
});

/** Whether pid has path open with a lock on that open file, as /proc/<pid>/fdinfo shows it. */
function holdsLockOn(pid, file) {
  const { ino } = fs.statSync(file);
  return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return fs.statSync(`/proc/${pid}/fd/${fd}`).ino === ino && /^lock:/m.test(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    } catch {
      return false; // closed meanwhile
    }
  });
}

test('a pidfile held by `solely run --pidfile`: COMMAND, whose PID it holds, is its holder everywhere, though the wrapper holds the same lock; with --close, the pidfile readers still name COMMAND', async (t) => {
  const dir = tempDir(t);
  const status = (...args) => JSON.parse(execFileSync(process.execPath, [CLI, 'status', '--json', ...args], { encoding: 'utf8' })).holder;
  // COMMAND says its PID once the wrapper has written it there.
  const script = 'const f = process.argv[1]; const ready = () => (require("fs").readFileSync(f, "utf8") === String(process.pid) ? console.log(process.pid) : setTimeout(ready, 5)); ready(); setTimeout(() => {}, 30_000)';
  const pidfile = path.join(dir, 'job.pid');
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--pidfile', pidfile, '--', process.execPath, '-e', script, pidfile]);
  const command = Number(wrapper.firstLine);
  killAfter(t, command);
  assert.ok(holdsLockOn(wrapper.pid, pidfile) && holdsLockOn(command, pidfile), 'both share the locked open file');
  const expected = { pid: command, uid: process.getuid(), command: `${process.execPath} -e ${script} ${pidfile}` };
  assert.deepEqual(solely.whoHolds(pidfile), expected);
  assert.deepEqual(solely.whoHolds({ file: pidfile }), expected);
  for (const take of [() => solely.lockFileSync(pidfile), () => solely.openPidfileSync(pidfile)]) {
    assert.throws(take, (error) => assert.deepEqual(error.holder, expected) ?? true);
  }
  assert.deepEqual(status('--file', pidfile), expected);
  assert.deepEqual(status('--pidfile', pidfile), expected);

  // --close: only the wrapper holds the lock; whoHolds names it, the pidfile's readers the PID in it.
  const closed = path.join(dir, 'closed.pid');
  const keeper = await spawnReady(t, process.execPath, [CLI, 'run', '--close', '--pidfile', closed, '--', process.execPath, '-e', script, closed]);
  const unheld = Number(keeper.firstLine);
  killAfter(t, unheld);
  assert.ok(holdsLockOn(keeper.pid, closed) && !holdsLockOn(unheld, closed));
  assert.equal(solely.whoHolds(closed).pid, keeper.pid);
  assert.throws(() => solely.lockFileSync(closed), (error) => error.holder.pid === keeper.pid);
  assert.equal(status('--file', closed).pid, keeper.pid);
  assert.throws(() => solely.openPidfileSync(closed), (error) => assert.deepEqual(error.holder, { pid: unheld }) ?? true);
  assert.deepEqual(status('--pidfile', closed), { pid: unheld });
});

test('an abstract lock whose listener handed it on and closed its copy: the process holding the socket, not the live one SO_PEERCRED names', async (t) => {
  const name = uniqueName();
  // The claimed process stays alive without the socket, as an unrelated process reusing a dead holder's pid would.
  const claimed = await spawnReady(t, process.execPath, [HAND_OFF, name]);
  const sleeper = Number(claimed.firstLine);
  killAfter(t, sleeper);
  assert.deepEqual(solely.whoHolds({ abstract: name }), { pid: sleeper, uid: process.getuid(), command: 'sleep 30' });
  assert.throws(() => solely.lockAbstractSync(name), (error) => error.holder.pid === sleeper);
  assert.ok(fs.existsSync(`/proc/${claimed.pid}`), 'the claimed process was alive all along');
});

test('an abstract lock of another uid handed on to a child: root names the child; a uid that may not read its fds gets the uid only, no unconfirmed pid', { skip: !root && 'needs root for setpriv' }, async (t) => {
  const name = uniqueName();
  const handOff = readableFixture('hand-off-abstract.js');
  const claimed = await spawnReady(t, 'setpriv', [...NOBODY, process.execPath, handOff, name]);
  const sleeper = Number(claimed.firstLine);
  killAfter(t, sleeper);
  assert.deepEqual(solely.whoHolds(name), { pid: sleeper, uid: 65534, command: 'sleep 30' });
  const script = `console.log(JSON.stringify(require(${JSON.stringify(readablePackage())}).whoHolds({ abstract: ${JSON.stringify(name)} })))`;
  const seen = execFileSync('setpriv', ['--reuid=65533', '--regid=65533', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(seen), { uid: 65534 });
});

test('an abstract name bound without listening by another uid: whoHolds gives its uid (sock_diag), even to a uid that may not see its fds', { skip: !root && 'needs root for setpriv' }, async (t) => {
  const name = uniqueName();
  const bindOnly = readableFixture('bind-abstract.py');
  const binder = await spawnReady(t, 'setpriv', [...NOBODY, PYTHON, bindOnly, name]);
  assert.deepEqual(solely.whoHolds({ abstract: name }), { pid: binder.pid, uid: 65534, command: `${PYTHON} ${bindOnly} ${name}` });
  // Another unprivileged uid may not read the binder's /proc/<pid>/fd: only the kernel's socket table tells.
  const script = `console.log(JSON.stringify(require(${JSON.stringify(readablePackage())}).whoHolds({ abstract: ${JSON.stringify(name)} })))`;
  const seen = execFileSync('setpriv', ['--reuid=65533', '--regid=65533', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(seen), { uid: 65534 });
});

test('a file lock held by another uid, asked by a third that may not read its fds: its uid alone, or {} for an OFD lock', { skip: !root && 'needs root for setpriv' }, async (t) => {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o777);
  for (const [method, seen] of [['file', { uid: 65534 }], ['fcntl', {}]]) {
    const file = path.join(dir, `other-uid-${method}.lock`);
    const held = await spawnReady(t, 'setpriv', [...NOBODY, process.execPath, readableFixture('hold.js'), method, file]);
    assert.equal(held.firstLine, 'locked');
    // flock: /proc/locks names the acquirer, whose uid /proc/<pid>/status shows to all. OFD: it shows -1.
    const script = `console.log(JSON.stringify(require(${JSON.stringify(readablePackage())}).whoHolds({ file: ${JSON.stringify(file)} })))`;
    assert.deepEqual(JSON.parse(execFileSync('setpriv', ['--reuid=65533', '--regid=65533', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' })), seen, method);
    assert.equal(solely.whoHolds({ file }).pid, held.pid, 'root may look');
  }
});

test('the /proc scan for a holder runs only on the throwing path, never in try*', async (t) => {
  const file = path.join(tempDir(t), 'scan.lock');
  // An OFD lock: /proc/locks shows -1, so naming its holder takes a scan of every process.
  await holder(t, 'fcntl', file);
  const readdir = t.mock.method(fs, 'readdirSync');
  const scans = () => readdir.mock.calls.filter((call) => call.arguments[0] === '/proc').length;
  assert.equal(solely.tryLockFileSync(file, { method: 'fcntl' }), null);
  assert.equal(scans(), 0, 'try* scanned /proc');
  assert.throws(() => solely.lockFileSync(file, { method: 'fcntl' }), { code: 'ELOCKED' });
  assert.ok(scans() > 0, 'the throwing path scans /proc, or this test proves nothing');
});

test('whoHolds refuses bad targets', () => {
  assert.throws(() => solely.whoHolds(42), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => solely.whoHolds({}), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => solely.whoHolds(''), { name: 'InvalidTargetError', code: 'EINVAL' });
  assert.throws(() => solely.whoHolds({ file: '' }), { name: 'InvalidTargetError', code: 'EINVAL' });
  assert.throws(() => solely.whoHolds({ abstract: 'x'.repeat(108) }), { code: 'ENAMETOOLONG' });
});

test('whoHolds refuses a symlink at a file path or at a slot\'s path (ELOOP, an InvalidTargetError) and a socket (ENXIO), as a lock call would; never null', async (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, 'target.lock');
  await holder(t, 'file', target);
  const file = path.join(dir, 'slots.lock');
  fs.symlinkSync(target, path.join(dir, 'link.lock'));
  fs.symlinkSync(target, `${file}.1`);
  const loop = (where) => ({ name: 'InvalidTargetError', code: 'ELOOP', syscall: 'open', path: where });
  assert.throws(() => solely.whoHolds({ file: path.join(dir, 'link.lock') }), loop(path.join(dir, 'link.lock')));
  assert.throws(() => solely.whoHolds(path.join(dir, 'link.lock')), loop(path.join(dir, 'link.lock')));
  assert.throws(() => solely.whoHolds({ file }, { slots: 3 }), loop(`${file}.1`));
  assert.deepEqual(solely.whoHolds({ file }, { slots: 1 }), [null], 'slot 0 alone is a plain free file');
  // A lock call refuses the same slot when it gets to it: slot 0 held, slot 1 is tried.
  const slot0 = solely.lockFileSync(file, { slots: 3 });
  assert.throws(() => solely.lockFileSync(file, { slots: 3 }), loop(`${file}.1`));
  slot0.release();
  const socket = path.join(dir, 'socket.lock');
  const server = require('node:net').createServer();
  await new Promise((resolve) => server.listen(socket, resolve));
  t.after(() => server.close());
  assert.throws(() => solely.whoHolds({ file: socket }), { code: 'ENXIO', syscall: 'open', path: socket });
  assert.throws(() => solely.lockFileSync(socket), { code: 'ENXIO', syscall: 'open', path: socket });
});

test('an abstract name bound by another uid (socat) is a ForeignHolderError', { skip: (!root && 'needs root for setpriv') || needs('socat') }, async (t) => {
  const name = uniqueName();
  const squatter = await spawnReady(t, 'setpriv', [
    ...NOBODY,
    'sh', '-c', `echo ready; exec socat ABSTRACT-LISTEN:${name},fork EXEC:cat`,
  ]);
  // socat binds right after exec: wait until the name is taken.
  while (solely.whoHolds(name) === null) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.throws(() => solely.lockAbstractSync(name), (error) => {
    assert.ok(error instanceof solely.ForeignHolderError);
    assert.ok(error instanceof solely.LockHeldError);
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.address, `@${name}`);
    assert.equal(error.holder.pid, squatter.pid);
    assert.equal(error.holder.uid, 65534);
    assert.match(error.holder.command, /^socat ABSTRACT-LISTEN/);
    return true;
  });
  assert.equal(solely.whoHolds(name).uid, 65534);
});
