'use strict';
// The real CLI, spawned as cron or a shell would.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const solely = require('..');
const { uniqueName, tempDir, spawnReady, holder, kill, exited } = require('./helpers');

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');

/** The inode of the socket bound to an abstract name, from /proc/net/unix. */
function abstractInode(name) {
  const line = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').find((l) => l.endsWith(` @${name}`));
  return line.trim().split(/\s+/)[6];
}

function cli(args, options = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000, ...options });
}

test('--version and --help', () => {
  assert.equal(cli(['--version']).stdout.trim(), require('../package.json').version);
  const help = cli(['run', '--help']);
  assert.equal(help.status, 0);
  for (const option of ['--abstract', '--file', '--pidfile', '--wait', '--close', '--conflict-exit-code', '--quiet', 'default 75']) {
    assert.ok(help.stdout.includes(option), option);
  }
  assert.equal(cli(['--help']).status, 0);
});

test('usage errors exit 64 with a usage line', () => {
  for (const args of [[], ['frobnicate'], ['run'], ['run', '--file', '/tmp/x'], ['run', '--bogus', '--', 'true'], ['run', '--file', 'a', '--abstract', 'b', '--', 'true'], ['run', '--abstract', 'x', '--wait=soon', '--', 'true'], ['run', '--abstract', 'x', '--conflict-exit-code', '300', '--', 'true']]) {
    const result = cli(args);
    assert.equal(result.status, 64, args.join(' '));
    assert.match(result.stderr, /usage: solely run/);
  }
});

test('runs COMMAND with the lock held and exits with its status', (t) => {
  const file = path.join(tempDir(t), 'job.lock');
  const result = cli(['run', '--file', file, '--', process.execPath, '-e', `
    const s = require(${JSON.stringify(path.join(__dirname, '..'))});
    console.log(s.tryLockFileSync(${JSON.stringify(file)}) === null ? 'held' : 'free');
    process.exit(7);`]);
  assert.equal(result.stdout.trim(), 'held');
  assert.equal(result.status, 7);
  assert.ok(solely.tryLockFileSync(file), 'released after COMMAND exits');
});

test('a held lock exits 75 at once with a message naming the holder; --conflict-exit-code and --quiet', async (t) => {
  const name = uniqueName();
  const child = await holder(t, 'abstract', name);
  const result = cli(['run', '--abstract', name, '--', 'echo', 'should not run']);
  assert.equal(result.status, 75);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, new RegExp(`^solely: ${name} is held by pid ${child.pid} \\(.*hold\\.js abstract ${name}\\)\\n$`));
  const custom = cli(['run', '--abstract', name, '--conflict-exit-code', '0', '--quiet', '--', 'echo', 'x']);
  assert.deepEqual([custom.status, custom.stdout, custom.stderr], [0, '', '']);
});

test('--wait waits for the holder; --wait=SECONDS gives up with the conflict code', async (t) => {
  const file = path.join(tempDir(t), 'wait.lock');
  const child = await holder(t, 'file', file);
  const timedOut = cli(['run', '--file', file, '--wait=0.2', '--', 'echo', 'x']);
  assert.equal(timedOut.status, 75);
  assert.match(timedOut.stderr, /timed out/);
  const waiting = spawn(process.execPath, [CLI, 'run', '--file', file, '--wait', '--', 'echo', 'ran'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  waiting.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(out, '');
  await kill(child);
  const [code] = await new Promise((resolve) => waiting.once('close', (...a) => resolve(a)));
  assert.equal(code, 0);
  assert.equal(out, 'ran\n');
});

test('any other failure exits 1 with the error code and message on stderr', (t) => {
  const file = path.join(tempDir(t), 'missing', 'x.lock');
  const result = cli(['run', '--file', file, '--', 'true']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /ENOENT/);
  assert.match(result.stderr, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
});

test('COMMAND not found exits 127, not executable 126', (t) => {
  const dir = tempDir(t);
  const script = path.join(dir, 'not-executable.sh');
  fs.writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
  assert.equal(cli(['run', '--abstract', uniqueName(), '--', 'solely-no-such-command']).status, 127);
  assert.equal(cli(['run', '--abstract', uniqueName(), '--', script]).status, 126);
});

test('a COMMAND killed by a signal gives 128+N; SIGTERM/SIGINT/SIGHUP/SIGQUIT to the wrapper are forwarded', async (t) => {
  assert.equal(cli(['run', '--abstract', uniqueName(), '--', 'sh', '-c', 'kill -KILL $$']).status, 137);
  for (const [signal, number] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1], ['SIGQUIT', 3]]) {
    const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--abstract', uniqueName(), '--', 'sh', '-c', `trap 'echo got; exit 9' ${signal.slice(3)}; echo ready; while :; do sleep 0.05; done`]);
    wrapper.kill(signal);
    const line = await new Promise((resolve) => wrapper.lines.once('line', resolve));
    assert.equal(line, 'got', signal);
    await exited(wrapper);
    assert.equal(wrapper.exitCode, 9, signal);
    void number;
  }
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--abstract', uniqueName(), '--', 'sh', '-c', 'echo ready; exec sleep 30']);
  wrapper.kill('SIGTERM');
  await exited(wrapper);
  assert.equal(wrapper.exitCode, 128 + 15);
});

describe('COMMAND inherits the lock (abstract and file); --close keeps it in the wrapper', () => {
  for (const [kind, target] of [['abstract', () => uniqueName()], ['file', (t) => path.join(tempDir(t), 'inherit.lock')]]) inheritTest(kind, target);
});

function inheritTest(kind, target) {
  test(`${kind}: COMMAND inherits the lock, so killing the wrapper does not free it; --close keeps it in the wrapper`, async (t) => {
    const name = target(t);
    const sleeper = 'echo $$; exec sleep 30';
    const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', `--${kind}`, name, '--', 'sh', '-c', sleeper]);
    const commandPid = Number(wrapper.firstLine);
    t.after(() => process.kill(commandPid, 'SIGKILL'));
    const inherited = kind === 'abstract' ? `socket:[${abstractInode(name)}]` : name;
    assert.equal(fs.readlinkSync(`/proc/${commandPid}/fd/3`), inherited, 'COMMAND holds the lock as fd 3');
    await kill(wrapper);
    const tryLock = kind === 'abstract' ? solely.tryLockAbstractSync : solely.tryLockFileSync;
    assert.equal(tryLock(name), null, 'COMMAND still holds the lock');
    process.kill(commandPid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lock = kind === 'abstract' ? await solely.lockAbstract(name, { wait: 5000 }) : await solely.lockFile(name, { wait: 5000 });
    lock.release();

    const closing = await spawnReady(t, process.execPath, [CLI, 'run', '--close', `--${kind}`, name, '--', 'sh', '-c', sleeper]);
    const closedPid = Number(closing.firstLine);
    t.after(() => process.kill(closedPid, 'SIGKILL'));
    const lockLink = kind === 'abstract' ? `socket:[${abstractInode(name)}]` : name;
    while (!fs.readFileSync(`/proc/${closedPid}/cmdline`, 'latin1').startsWith('sleep')) await new Promise((r) => setTimeout(r, 5));
    // The dynamic loader opens and closes libraries as sleep starts: an fd may vanish as we look.
    const links = fs.readdirSync(`/proc/${closedPid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${closedPid}/fd/${fd}`);
      } catch {
        return null;
      }
    });
    assert.ok(!links.includes(lockLink), `${lockLink} is not among ${links}`);
    await kill(closing);
    const free = kind === 'abstract' ? await solely.lockAbstract(name, { wait: 5000 }) : await solely.lockFile(name, { wait: 5000 });
    free.release();
  });
}

test('interop: flock(1) and solely run exclude each other on one file', async (t) => {
  const file = path.join(tempDir(t), 'cron.lock');
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--file', file, '--', 'sh', '-c', 'echo ready; exec sleep 30'], { detached: true });
  assert.equal(spawnSync('flock', ['-n', '-E', '75', file, 'true']).status, 75);
  await kill(wrapper);
  // COMMAND (sleep) dies just after the wrapper, with the group: flock(1) waits for it.
  const flock = await spawnReady(t, 'flock', ['-w', '5', file, 'sh', '-c', 'echo locked; exec sleep 30'], { detached: true });
  assert.equal(flock.firstLine, 'locked');
  assert.equal(cli(['run', '--file', file, '--quiet', '--', 'true']).status, 75);
  await kill(flock);
  assert.equal(cli(['run', '--file', file, '--wait=5', '--', 'true']).status, 0);
});

test('--pidfile: the file holds COMMAND\'s PID while it runs and is removed when it exits', async (t) => {
  const pidfile = path.join(tempDir(t), 'job.pid');
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--pidfile', pidfile, '--', 'sh', '-c', 'echo $$; exec sleep 30']);
  const commandPid = Number(wrapper.firstLine);
  assert.notEqual(commandPid, wrapper.pid);
  let contents = '';
  for (let i = 0; i < 200 && contents === ''; i++) {
    contents = fs.readFileSync(pidfile, 'utf8');
    if (contents === '') await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(contents, String(commandPid));
  assert.deepEqual(solely.readPidfile(pidfile), { pid: commandPid, locked: true });
  const held = cli(['run', '--pidfile', pidfile, '--', 'true']);
  assert.equal(held.status, 75);
  assert.match(held.stderr, new RegExp(`held by pid ${commandPid}`));
  const status = cli(['status', '--json', '--pidfile', pidfile]);
  assert.equal(status.status, 0);
  assert.equal(JSON.parse(status.stdout).pid, commandPid);
  wrapper.kill('SIGTERM'); // forwarded: COMMAND exits, the wrapper removes the pidfile
  await exited(wrapper);
  assert.equal(wrapper.exitCode, 128 + 15);
  assert.equal(fs.existsSync(pidfile), false);
});

test('status: 0 held (with pid, uid, command), 1 stale pidfile, 3 not held; --json; never takes the lock', async (t) => {
  const dir = tempDir(t);
  const name = uniqueName();
  const file = path.join(dir, 'status.lock');
  const abstractHolder = await holder(t, 'abstract', name);
  const fileHolder = await holder(t, 'fcntl', file);
  for (const [args, pid] of [[['--abstract', name], abstractHolder.pid], [['--file', file], fileHolder.pid]]) {
    const text = cli(['status', ...args]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`held by pid ${pid} \\(uid ${process.getuid()}\\): .*hold\\.js`));
    const json = JSON.parse(cli(['status', '--json', ...args]).stdout);
    assert.equal(json.state, 'held');
    assert.deepEqual([json.holder.pid, json.holder.uid], [pid, process.getuid()]);
  }
  await kill(abstractHolder);
  await kill(fileHolder);
  assert.equal(cli(['status', '--abstract', name]).status, 3);
  assert.equal(cli(['status', '--file', file]).status, 3);
  assert.equal(cli(['status', '--file', path.join(dir, 'absent')]).status, 3);
  const stale = path.join(dir, 'stale.pid');
  fs.writeFileSync(stale, '12345');
  const result = cli(['status', '--pidfile', stale]);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /stale .*12345/);
  assert.deepEqual(JSON.parse(cli(['status', '--json', '--pidfile', stale]).stdout), { target: stale, kind: 'pidfile', state: 'stale', pid: 12345 });
  assert.equal(cli(['status', '--pidfile', path.join(dir, 'absent.pid')]).status, 3);
  assert.equal(cli(['status', '--file', file, 'extra']).status, 64);
});
