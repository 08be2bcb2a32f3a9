'use strict';
// systemd socket activation in listenUnix, with systemd-socket-activate as the service manager.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const test = require('node:test');
const solely = require('../..');
const { FIXTURES, tempDir, spawnReady, kill, needs } = require('../support/helpers');

const skip = needs('systemd-socket-activate');
const SERVER = path.join(FIXTURES, 'activated-server.js');
// systemd-socket-activate passes on only the variables named with -E: keep the sanitizer runtime
// of `npm run test:asan` for the node it starts.
const KEEP_SANITIZER = ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS'].filter((name) => process.env[name] !== undefined).flatMap((name) => ['-E', name]);

/**
 * systemd-socket-activate listening on every path of listen, which starts SERVER with args on
 * the first connection (exec: the same pid). Resolves once it listens; killed when the test ends.
 */
async function activator(t, listen, args, extra = []) {
  const child = spawn('systemd-socket-activate', [...listen.flatMap((p) => ['-l', p]), ...KEEP_SANITIZER, ...extra, process.execPath, SERVER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => kill(child));
  const lines = readline.createInterface({ input: child.stdout });
  child.report = new Promise((resolve) => lines.once('line', (line) => resolve(JSON.parse(line))));
  const errors = readline.createInterface({ input: child.stderr });
  let listening = 0;
  await new Promise((resolve, reject) => {
    errors.on('line', (line) => {
      if (/^Listening on /.test(line) && ++listening === listen.length) resolve();
    });
    child.once('exit', (code) => reject(new Error(`systemd-socket-activate exited (${code})`)));
  });
  return child;
}

function get(socketPath) {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: '/' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** The inodes of the listening sockets bound to socketPath, from /proc/net/unix. */
function listeners(socketPath) {
  return fs
    .readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .map((line) => /^\S+: \S+ \S+ (\d+) \S+ \S+\s+(\d+) (.*)$/.exec(line))
    .filter((m) => m !== null && m[3] === socketPath && (parseInt(m[1], 16) & 0x10000) !== 0)
    .map((m) => `socket:[${m[2]}]`);
}

test('listenUnix adopts the socket systemd passed: it answers there, and nothing is bound twice', { skip }, async (t) => {
  const socketPath = path.join(tempDir(t), 'app.sock');
  const child = await activator(t, [socketPath], [socketPath]);
  const [before] = listeners(socketPath);
  assert.ok(before, 'systemd-socket-activate listens');
  // The first connection starts the server, which answers it from the backlog.
  assert.equal(await get(socketPath), `${child.pid}\n`);
  const report = await child.report;
  assert.deepEqual(report.sockets, [{ address: socketPath, inode: before }], 'the server listens on the very socket systemd bound');
  assert.deepEqual(listeners(socketPath), [before], 'one listening socket on the path');
  assert.equal(fs.existsSync(`${socketPath}.lock`), false, 'no sidecar lock: systemd owns the path');
  assert.deepEqual(report.env, { LISTEN_PID: null, LISTEN_FDS: null, LISTEN_FDNAMES: null }, 'children inherit no LISTEN_* variables');
  assert.equal(report.cloexec[3], true, 'the adopted fd is close-on-exec');
});

test('a Worker never adopts a passed socket: the main thread does, so the fd has one owner', { skip }, async (t) => {
  const socketPath = path.join(tempDir(t), 'worker.sock');
  const child = await activator(t, [socketPath], [socketPath, '--worker-first']);
  const [passed] = listeners(socketPath);
  assert.equal(await get(socketPath), `${child.pid}\n`, 'the main thread serves on the passed socket');
  const report = await child.report;
  assert.equal(report.worker, 'ENOENT', "the Worker's 'required' found nothing to adopt");
  assert.deepEqual(report.sockets, [{ address: socketPath, inode: passed }]);
});

test('activationName picks each socket by its LISTEN_FDNAMES name', { skip }, async (t) => {
  const dir = tempDir(t);
  const [one, two] = [path.join(dir, 'one.sock'), path.join(dir, 'two.sock')];
  // Asked for in the other order than passed, so that only the names can match them up.
  const child = await activator(t, [one, two], [`${two}=second`, `${one}=first`], ['--fdname=first:second']);
  assert.equal(await get(two), `${child.pid}\n`);
  const report = await child.report;
  assert.deepEqual(report.sockets.map((s) => s.address), [two, one]);
  assert.deepEqual(report.sockets.map((s) => s.inode), [...listeners(two), ...listeners(one)]);
  assert.equal(await get(one), `${child.pid}\n`);
  assert.deepEqual([report.cloexec[3], report.cloexec[4]], [true, true]);
});

test('a socket passed for another path is not adopted; auto binds, required fails', { skip }, async (t) => {
  const dir = tempDir(t);
  const [passed, wanted] = [path.join(dir, 'passed.sock'), path.join(dir, 'wanted.sock')];
  const auto = await activator(t, [passed], [wanted]);
  get(passed).catch(() => {}); // starts it; nobody answers on the passed socket
  const report = await auto.report;
  assert.notDeepEqual(report.sockets[0].inode, listeners(passed)[0]);
  assert.equal(fs.existsSync(`${wanted}.lock`), true, 'bound by listenUnix itself, under its lock');
  assert.equal(report.cloexec[3], true, 'every passed fd is made close-on-exec, adopted or not');
  assert.equal(await get(wanted), `${auto.pid}\n`);

  const required = await activator(t, [passed + '2'], [wanted + '2', '--activation=required']);
  get(passed + '2').catch(() => {});
  assert.equal((await required.report).error, 'ENOENT');
  // A socket asked for by name must be the one for the path, even in 'auto'.
  const named = await activator(t, [passed + '3'], [`${wanted}3=web`], ['--fdname=web']);
  get(passed + '3').catch(() => {});
  assert.equal((await named.report).error, 'ENOTSOCK');
});

test("without systemd, 'required' fails and 'auto' binds; LISTEN_PID of another process is ignored", async (t) => {
  const dir = tempDir(t);
  const env = { ...process.env, LISTEN_PID: '1', LISTEN_FDS: '1' };
  const required = await spawnReady(t, process.execPath, [SERVER, path.join(dir, 'a.sock'), '--activation=required'], { env });
  assert.equal(JSON.parse(required.firstLine).error, 'ENOENT');
  const auto = await spawnReady(t, process.execPath, [SERVER, path.join(dir, 'b.sock')], { env });
  const report = JSON.parse(auto.firstLine);
  assert.equal(report.sockets[0].address, path.join(dir, 'b.sock'));
  assert.deepEqual(report.env, { LISTEN_PID: null, LISTEN_FDS: null, LISTEN_FDNAMES: null }, 'unset even when not ours, as sd_listen_fds(1) does');
  await kill(auto);
});

test('a singleInstance primary started by socket activation adopts its name and answers the launch that woke it', { skip }, async (t) => {
  const id = `activated-${process.pid}`;
  const name = `solely/user/${process.getuid()}/${id}`; // the documented derivation
  const primary = path.join(FIXTURES, 'single-instance.js');
  const activator = spawn('systemd-socket-activate', ['-l', `@${name}`, ...KEEP_SANITIZER, process.execPath, primary, JSON.stringify({ id })], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => kill(activator));
  await new Promise((resolve, reject) => {
    readline.createInterface({ input: activator.stderr }).on('line', (line) => /^Listening on /.test(line) && resolve());
    activator.once('exit', (code) => reject(new Error(`systemd-socket-activate exited (${code})`)));
  });
  // This launch finds the name taken (systemd holds it), connects, and so starts the primary.
  const secondary = await solely.singleInstance(id, { timeout: 10_000, data: 'woke it' });
  assert.equal(secondary.primary, false);
  assert.equal(secondary.holder.pid, activator.pid, 'the primary runs as the activator (exec)');
  assert.equal(secondary.reply.n, 1);
  // Nothing was bound twice: one socket on the name, systemd's.
  const bound = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').filter((line) => line.endsWith(` @${name}`) && / 0+10000 /.test(line));
  assert.equal(bound.length, 1);
});
