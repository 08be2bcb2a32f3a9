'use strict';
const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');
const { test } = require('node:test');
const { promisify } = require('node:util');
const solely = require('../..');
const { FIXTURES, uniqueName, tempDir, spawnReady, kill, fdCount, exited, needs, NOBODY } = require('../support/helpers');

const run = promisify(execFile);

/** GET / over a socket path from this process; the body. */
function get(socketPath) {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: '/', agent: false }, (response) => {
        response.setEncoding('utf8');
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** An HTTP server through listenUnix answering `body`, closed when the test ends. */
async function httpServer(t, socketPath, body, options = {}) {
  const server = await solely.listenUnix(socketPath, { server: http.createServer((_, response) => response.end(body)), ...options });
  t.after(() => server.close());
  return server;
}

function closed(server) {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

/** A fixture server in another process, on a socket path. */
function serverProcess(t, socketPath, ...flags) {
  return spawnReady(t, process.execPath, [path.join(FIXTURES, 'unix-server.js'), socketPath, ...flags]);
}

/** What must not change about a path we refuse: its inode, type, size, times and content. */
function snapshot(p) {
  const st = fs.lstatSync(p, { bigint: true });
  const content = st.isSymbolicLink() ? fs.readlinkSync(p) : st.isDirectory() ? fs.readdirSync(p).join('/') : st.isFile() ? fs.readFileSync(p, 'utf8') : '';
  return { dev: st.dev, ino: st.ino, mode: st.mode, nlink: st.nlink, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, content };
}

function inode(p) {
  return fs.lstatSync(p, { bigint: true }).ino;
}

function lockIsFree(socketPath) {
  const lock = solely.tryLockFileSync(`${socketPath}.lock`);
  if (lock === null) return false;
  lock.release();
  return true;
}

/** A foreign server (socat, no lock) on socketPath, answering "foreign"; resolves once it accepts. */
async function socatServer(t, socketPath, asUser = []) {
  const argv = [...asUser, 'socat', `UNIX-LISTEN:${socketPath},fork`, 'SYSTEM:echo foreign'];
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  for (let tries = 0; tries < 500; tries++) {
    const answer = await new Promise((resolve) => {
      const socket = net.connect(socketPath, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (answer) return child;
    if (child.exitCode !== null) throw new Error(`socat exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('socat did not listen');
}

function readAll(socketPath) {
  return new Promise((resolve, reject) => {
    let data = '';
    net
      .connect(socketPath)
      .setEncoding('utf8')
      .on('data', (chunk) => (data += chunk))
      .on('end', () => resolve(data))
      .on('error', reject);
  });
}

test('an HTTP server over the socket answers http.request({ socketPath }); close removes the socket, keeps the lock file, releases it', async (t) => {
  const socketPath = path.join(tempDir(t), 'http.sock');
  const server = await httpServer(t, socketPath, 'hello');
  assert.ok(server instanceof http.Server);
  assert.equal(server.listening, true);
  assert.equal(server.address(), socketPath);
  assert.ok(fs.lstatSync(socketPath).isSocket());
  assert.equal(await get(socketPath), 'hello');
  assert.equal(lockIsFree(socketPath), false);
  await closed(server);
  assert.equal(fs.existsSync(socketPath), false);
  assert.ok(fs.lstatSync(`${socketPath}.lock`).isFile());
  assert.equal(lockIsFree(socketPath), true);
  // The path is free for the next server.
  const next = await solely.listenUnix(socketPath);
  assert.ok(next instanceof net.Server);
  await closed(next);
});

test('mode is applied to the socket, also beyond the umask; without it the umask decides', async (t) => {
  const dir = tempDir(t);
  const withMode = path.join(dir, 'mode.sock');
  await httpServer(t, withMode, 'x', { mode: 0o606 });
  assert.equal(fs.statSync(withMode).mode & 0o7777, 0o606);
  const child = await serverProcess(t, path.join(dir, 'umask.sock'), '--umask=027');
  assert.equal(child.firstLine, 'listening');
  assert.equal(fs.statSync(path.join(dir, 'umask.sock')).mode & 0o7777, 0o750);
});

test('a cluster worker listens on its own socket, not through the primary', async (t) => {
  const socketPath = path.join(tempDir(t), 'worker.sock');
  const primary = await spawnReady(t, process.execPath, [path.join(FIXTURES, 'cluster-server.js'), socketPath]);
  const [state, workerPid] = primary.firstLine.split(' ');
  assert.equal(state, 'listening');
  assert.notEqual(Number(workerPid), primary.pid);
  assert.equal(await get(socketPath), `${workerPid}\n`);
  await kill(primary);
});

test('a stale socket left by a SIGKILLed server is replaced', async (t) => {
  const socketPath = path.join(tempDir(t), 'stale.sock');
  const child = await serverProcess(t, socketPath);
  assert.equal(child.firstLine, 'listening');
  assert.equal(await get(socketPath), `${child.pid}\n`);
  await kill(child);
  assert.ok(fs.lstatSync(socketPath).isSocket(), 'the dead server left its socket');
  await assert.rejects(get(socketPath), { code: 'ECONNREFUSED' });
  await httpServer(t, socketPath, 'fresh');
  assert.equal(await get(socketPath), 'fresh');
});

test('a regular file, a directory, a symlink to a socket and a dangling symlink are refused and left untouched', async (t) => {
  const dir = tempDir(t);
  const socketTarget = path.join(dir, 'target.sock');
  const other = net.createServer().listen(socketTarget);
  await new Promise((resolve) => other.once('listening', resolve));
  t.after(() => other.close());
  const kinds = [
    ['file', (p) => fs.writeFileSync(p, 'precious data\n'), 'ENOTSOCK'],
    ['directory', (p) => (fs.mkdirSync(p), fs.writeFileSync(path.join(p, 'inside'), 'x')), 'ENOTSOCK'],
    ['symlink to a socket', (p) => fs.symlinkSync(socketTarget, p), 'ELOOP'],
    ['dangling symlink', (p) => fs.symlinkSync(path.join(dir, 'nowhere'), p), 'ELOOP'],
  ];
  const fds = fdCount();
  for (const [kind, make, code] of kinds) {
    const p = path.join(dir, `${kind.replaceAll(' ', '-')}.sock`);
    make(p);
    const before = snapshot(p);
    const target = snapshot(socketTarget);
    await assert.rejects(solely.listenUnix(p), (error) => {
      assert.ok(error instanceof solely.InvalidTargetError, kind);
      assert.equal(error.code, code, kind);
      assert.equal(error.errno, code === 'ELOOP' ? -40 : -88, kind);
      assert.equal(error.path, p, kind);
      return true;
    });
    assert.deepEqual(snapshot(p), before, kind);
    assert.deepEqual(snapshot(socketTarget), target, kind);
    assert.equal(lockIsFree(p), true, `${kind}: the lock is released after a refusal`);
  }
  assert.equal(fdCount(), fds);
});

test('two servers on one path: the second gets LockHeldError with the holder, in-process and across processes', async (t) => {
  const dir = tempDir(t);
  const mine = path.join(dir, 'mine.sock');
  await httpServer(t, mine, 'first');
  const inodeBefore = inode(mine);
  await assert.rejects(solely.listenUnix(mine), (error) => {
    assert.ok(error instanceof solely.LockHeldError);
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.syscall, 'flock');
    assert.equal(error.errno, -11);
    assert.equal(error.path, mine);
    assert.equal(error.cause.path, `${mine}.lock`);
    assert.equal(error.holder.pid, process.pid);
    return true;
  });
  assert.equal(inode(mine), inodeBefore);
  assert.equal(await get(mine), 'first');

  const theirs = path.join(dir, 'theirs.sock');
  const child = await serverProcess(t, theirs);
  assert.equal(child.firstLine, 'listening');
  await assert.rejects(solely.listenUnix(theirs), (error) => {
    assert.ok(error instanceof solely.LockHeldError);
    assert.equal(error.holder.pid, child.pid);
    assert.equal(error.holder.uid, process.getuid());
    assert.match(error.holder.command, /unix-server\.js/);
    assert.match(error.message, new RegExp(`pid ${child.pid}`));
    return true;
  });
  const second = await serverProcess(t, theirs);
  assert.equal(second.firstLine, 'ELOCKED');
  assert.equal(await get(theirs), `${child.pid}\n`);
});

test('close() frees the path at once: a successor serves it while the old connections drain', async (t) => {
  const socketPath = path.join(tempDir(t), 'handover.sock');
  const old = await solely.listenUnix(socketPath, { server: net.createServer((socket) => socket.on('data', (data) => socket.write(`old ${data}`))) });
  const client = net.connect(socketPath);
  t.after(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  const oldClosed = closed(old); // waits for the client's connection to end
  assert.equal(fs.existsSync(socketPath), false, 'the socket file is removed at close()');
  assert.equal(lockIsFree(socketPath), true, 'the lock is released at close(), not after the last connection');
  const successor = await httpServer(t, socketPath, 'successor');
  assert.equal(await get(socketPath), 'successor');
  // The old server's connection still works, and its end does not touch the successor.
  client.write('ping');
  assert.equal(String((await once(client, 'data'))[0]), 'old ping');
  client.end();
  await oldClosed;
  assert.equal(await get(socketPath), 'successor');
  assert.equal(lockIsFree(socketPath), false);
  await closed(successor);
});

test("closing an old server never removes its successor's socket", async (t) => {
  const socketPath = path.join(tempDir(t), 'succession.sock');
  const old = await httpServer(t, socketPath, 'old');
  // An administrator (or tmpfiles' aging) removes both files under the running server; a
  // successor then takes a new lock and binds a new socket.
  fs.unlinkSync(socketPath);
  fs.unlinkSync(`${socketPath}.lock`);
  const successor = await httpServer(t, socketPath, 'successor');
  const successorInode = inode(socketPath);
  await closed(old);
  assert.equal(inode(socketPath), successorInode);
  assert.equal(await get(socketPath), 'successor');
  assert.equal(lockIsFree(socketPath), false, "the old server released its own lock, not the successor's");
  await closed(successor);
  assert.equal(fs.existsSync(socketPath), false);
});

test('a socket replaced under a server by a foreign one stays when the server closes', { skip: needs('socat') }, async (t) => {
  const socketPath = path.join(tempDir(t), 'replaced.sock');
  const server = await httpServer(t, socketPath, 'ours');
  fs.unlinkSync(socketPath);
  const socat = await socatServer(t, socketPath);
  const foreignInode = inode(socketPath);
  await closed(server);
  assert.equal(inode(socketPath), foreignInode);
  assert.equal(await readAll(socketPath), 'foreign\n');
  assert.equal(socat.exitCode, null);
});

test('a live foreign server (socat UNIX-LISTEN, no lock) is detected and its socket left alone', { skip: needs('socat') }, async (t) => {
  const socketPath = path.join(tempDir(t), 'foreign.sock');
  const socat = await socatServer(t, socketPath);
  const before = snapshot(socketPath);
  await assert.rejects(solely.listenUnix(socketPath), (error) => {
    assert.ok(error instanceof solely.LockHeldError);
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.syscall, 'listen');
    assert.equal(error.errno, -98);
    assert.equal(error.path, socketPath);
    assert.equal(error.holder.pid, socat.pid);
    return true;
  });
  assert.deepEqual(snapshot(socketPath), before);
  assert.equal(await readAll(socketPath), 'foreign\n');
  assert.equal(lockIsFree(socketPath), true);
  // Once socat dies by SIGKILL, its socket is stale and ours to replace.
  socat.kill('SIGKILL');
  await exited(socat);
  await httpServer(t, socketPath, 'ours now');
  assert.equal(await get(socketPath), 'ours now');
});

test('a live foreign server of another uid is a ForeignHolderError', { skip: (process.getuid() !== 0 && 'setpriv needs root') || needs('socat') }, async (t) => {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o777);
  const socketPath = path.join(dir, 'other-uid.sock');
  const socat = await socatServer(t, socketPath, ['setpriv', ...NOBODY]);
  const { ino } = fs.lstatSync(socketPath);
  await assert.rejects(solely.listenUnix(socketPath), (error) => {
    assert.ok(error instanceof solely.ForeignHolderError);
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.holder.uid, 65534);
    assert.equal(error.holder.pid, socat.pid);
    return true;
  });
  // Its socket is untouched: the same inode, still answering.
  assert.equal(fs.lstatSync(socketPath).ino, ino);
  await new Promise((resolve, reject) => {
    const client = net.connect(socketPath, () => resolve(client.destroy())).on('error', reject);
  });
});

test('a path longer than sun_path works end to end, stale socket included', async (t) => {
  const dir = path.join(tempDir(t), 'd'.repeat(60), 'e'.repeat(60));
  fs.mkdirSync(dir, { recursive: true });
  const socketPath = path.join(dir, 'long.sock');
  assert.ok(Buffer.byteLength(socketPath) > 107);
  const client = (expected) =>
    run(process.execPath, [path.join(FIXTURES, 'http-get.js'), 'long.sock'], { cwd: dir }).then(({ stdout }) => assert.equal(stdout, expected));
  const child = await serverProcess(t, socketPath);
  assert.equal(child.firstLine, 'listening');
  await client(`${child.pid}\n`);
  await assert.rejects(solely.listenUnix(socketPath), (error) => {
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.holder.pid, child.pid, 'the holder is probed through /proc/self/fd too');
    return true;
  });
  await kill(child);
  const server = await httpServer(t, socketPath, 'long');
  assert.equal(server.address(), socketPath);
  assert.ok(fs.lstatSync(socketPath).isSocket());
  await client('long');
  await closed(server);
  assert.equal(fs.existsSync(socketPath), false);
});

test('"\\0name" gives an abstract server that exact-length peers reach and that holds the abstract lock', async (t) => {
  const name = uniqueName();
  const server = await httpServer(t, `\0${name}`, 'abstract');
  assert.equal(server.address(), `\0${name}`);
  const python = 'import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect("\\0" + sys.argv[1])\n' +
    's.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")\nprint(s.makefile("rb").read().decode().split("\\r\\n\\r\\n", 1)[1])';
  const { stdout } = await run('python3', ['-c', python, name]);
  assert.equal(stdout, 'abstract\n');
  assert.throws(() => solely.lockAbstractSync(name), (error) => {
    assert.ok(error instanceof solely.LockHeldError);
    assert.equal(error.holder.pid, process.pid);
    return true;
  });
  await assert.rejects(solely.listenUnix(`\0${name}`), { code: 'ELOCKED', syscall: 'bind', address: `@${name}` });
  await closed(server);
  solely.lockAbstractSync(name).release();
});

test('an abstract server held by lockAbstractSync elsewhere is refused', async () => {
  const name = uniqueName();
  const lock = solely.lockAbstractSync(name);
  await assert.rejects(solely.listenUnix(`\0${name}`), { name: 'LockHeldError', code: 'ELOCKED', address: `@${name}` });
  lock.release();
});

test('no fd leaks: listen and close, refusals, contention', async (t) => {
  const dir = tempDir(t);
  const socketPath = path.join(dir, 'fds.sock');
  fs.writeFileSync(path.join(dir, 'file'), '');
  await closed(await solely.listenUnix(socketPath)); // net opens its EMFILE reserve fd once
  const before = fdCount();
  for (let i = 0; i < 3; i++) {
    const server = await solely.listenUnix(socketPath);
    await assert.rejects(solely.listenUnix(socketPath), { code: 'ELOCKED' });
    await closed(server);
    await assert.rejects(solely.listenUnix(path.join(dir, 'file')), { code: 'ENOTSOCK' });
    await assert.rejects(solely.listenUnix(path.join(dir, 'missing', 'x.sock')), { code: 'ENOENT' });
  }
  assert.equal(fdCount(), before);
});

/**
 * How many connections the kernel queues for a listening socket nobody accepts from (backlog + 1
 * on Linux), trying at most limit non-blocking connects. All in one tick, so that no accept runs
 * meanwhile; every connected fd is closed again.
 */
function queuedConnections(connect, limit) {
  const fds = [];
  try {
    while (fds.length < limit) {
      const fd = connect();
      if (fd === -os.constants.errno.EAGAIN) break;
      assert.ok(fd >= 0, `connect failed: ${fd}`);
      fds.push(fd);
    }
    return fds.length;
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

test('backlog is the kernel\'s listen(2) backlog, for an abstract name and for a path', async (t) => {
  const { binding } = require('../../dist/internal/binding');
  const name = uniqueName();
  const abstract = await solely.listenUnix(`\0${name}`, { backlog: 3 });
  t.after(() => abstract.close());
  assert.equal(queuedConnections(() => binding.abstractConnect(name), 10), 4, 'backlog 3 queues 4, not 512');
  const socketPath = path.join(tempDir(t), 'backlog.sock');
  const server = await solely.listenUnix(socketPath, { backlog: 1 });
  t.after(() => server.close());
  assert.equal(queuedConnections(() => binding.unixConnect(socketPath), 10), 2, 'backlog 1 queues 2, not 512');
});

test('backlog applies to a socket systemd passed too: it replaces the one the socket had', async (t) => {
  const { binding } = require('../../dist/internal/binding');
  const name = uniqueName();
  const passed = binding.abstractBind(name, 5); // as systemd binds it, with Backlog=5
  assert.ok(passed >= 0, `abstractBind failed: ${passed}`);
  // The child says it is systemd's service itself, then stops its event loop so that it never
  // accepts: the queue stays as the kernel filled it.
  const source = `
    const fs = require('node:fs');
    Object.assign(process.env, { LISTEN_PID: String(process.pid), LISTEN_FDS: '1' });
    require(${JSON.stringify(require.resolve('../..'))})
      .listenUnix(${JSON.stringify(`\0${name}`)}, { backlog: 2, activation: 'required' })
      .then(() => {
        fs.writeSync(1, 'listening\\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }, (error) => fs.writeSync(1, error.code + '\\n'));`;
  let child;
  try {
    child = await spawnReady(t, process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit', passed] });
  } finally {
    fs.closeSync(passed); // the child has its own copy as fd 3
  }
  assert.equal(child.firstLine, 'listening');
  assert.equal(queuedConnections(() => binding.abstractConnect(name), 10), 3, 'backlog 2 queues 3, not 6 nor 512');
});

test('bad input is refused before any syscall', async () => {
  await assert.rejects(solely.listenUnix(''), { code: 'EINVAL' });
  await assert.rejects(solely.listenUnix(42), { code: 'ERR_INVALID_ARG_TYPE' });
  await assert.rejects(solely.listenUnix('/tmp/x\0y'), { code: 'EINVAL' });
  await assert.rejects(solely.listenUnix('\0'), { code: 'EINVAL' });
  await assert.rejects(solely.listenUnix(`\0${uniqueName()}`, { mode: 0o600 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.listenUnix('/tmp/x.sock', { backlog: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
  // net takes 0 for its default, 511: refused rather than silently not the backlog asked for. (A
  // directory that does not exist, so that a regression binds nothing.)
  await assert.rejects(solely.listenUnix('/nonexistent/x.sock', { backlog: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.listenUnix('/tmp/x.sock', { mode: 0o10000 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.listenUnix('/tmp/x.sock', { mode: 0o4777 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.listenUnix('/tmp/x.sock', { server: {} }), { code: 'ERR_INVALID_ARG_TYPE' });
});
