'use strict';
// The real CLI, spawned as cron or a shell would.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { describe, test } = require('node:test');
const solely = require('..');
const { FIXTURES, uniqueName, tempDir, spawnReady, holder, kill, killAfter, exited, needs } = require('./helpers');

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');
const COUNT_SIGNALS = path.join(FIXTURES, 'count-signals.js');

/** The inode of the socket bound to an abstract name, from /proc/net/unix. */
function abstractInode(name) {
  const line = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').find((l) => l.endsWith(` @${name}`));
  return line.trim().split(/\s+/)[6];
}

/**
 * Spawns a process in a session of its own (whatever terminal runs the tests), killed with its
 * group when the test ends. next() resolves with its next line of output (null at the end), none lost.
 */
function startSession(t, command, args) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  });
  const queued = [];
  const waiting = [];
  const push = (line) => (waiting.length > 0 ? waiting.shift()(line) : queued.push(line));
  readline.createInterface({ input: child.stdout }).on('line', (line) => push(line.replace(/\r$/, '')));
  child.stdout.once('close', () => push(null));
  const next = () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return { child, next };
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
    // detached: no terminal, so that SIGINT and SIGQUIT are forwarded whatever terminal runs the tests
    const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--abstract', uniqueName(), '--', 'sh', '-c', `trap 'echo got; exit 9' ${signal.slice(3)}; echo ready; while :; do sleep 0.05; done`], { detached: true });
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
    killAfter(t, commandPid);
    const inherited = kind === 'abstract' ? `socket:[${abstractInode(name)}]` : name;
    assert.equal(fs.readlinkSync(`/proc/${commandPid}/fd/3`), inherited, 'COMMAND holds the lock as fd 3');
    await kill(wrapper);
    const tryLock = kind === 'abstract' ? solely.tryLockAbstractSync : solely.tryLockFileSync;
    assert.equal(tryLock(name), null, 'COMMAND still holds the lock');
    process.kill(commandPid, 'SIGKILL');
    // Free once COMMAND is gone, however long that takes: waited for, never timed.
    const lock = kind === 'abstract' ? await solely.lockAbstract(name, { wait: true }) : await solely.lockFile(name, { wait: true });
    lock.release();

    const closing = await spawnReady(t, process.execPath, [CLI, 'run', '--close', `--${kind}`, name, '--', 'sh', '-c', sleeper]);
    const closedPid = Number(closing.firstLine);
    killAfter(t, closedPid);
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
    const free = kind === 'abstract' ? await solely.lockAbstract(name, { wait: true }) : await solely.lockFile(name, { wait: true });
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

/** The last line of count-signals.js when signal came once. */
function totalsOnce(signal) {
  return `total SIGINT ${signal === 'SIGINT' ? 1 : 0} SIGQUIT ${signal === 'SIGQUIT' ? 1 : 0}`;
}

test('SIGINT, SIGQUIT or SIGTERM sent to the wrapper alone reaches COMMAND once', async (t) => {
  for (const signal of ['SIGINT', 'SIGQUIT', 'SIGTERM']) {
    const { child: wrapper, next } = startSession(t, process.execPath, [CLI, 'run', '--abstract', uniqueName(), '--', process.execPath, COUNT_SIGNALS]);
    assert.match(await next(), /^ready /);
    wrapper.kill(signal);
    // SIGTERM makes COMMAND print its counts: sent only once COMMAND has reported the signal
    // before it, since two signals sent back to back may be taken by two threads of the wrapper
    // and forwarded in either order.
    if (signal !== 'SIGTERM') {
      assert.equal(await next(), `${signal} 1`);
      wrapper.kill('SIGTERM');
    }
    assert.equal(await next(), totalsOnce(signal), signal);
    assert.equal(await next(), null);
    await exited(wrapper);
    assert.equal(wrapper.exitCode, 0, signal);
  }
});

test('in a terminal: Ctrl-C, Ctrl-\\ or a signal to the foreground process group reaches COMMAND once, not forwarded again', { skip: needs('python3') }, async (t) => {
  const keys = { SIGINT: '\x03', SIGQUIT: '\x1c' };
  for (const [signal, how] of [['SIGINT', 'key'], ['SIGQUIT', 'key'], ['SIGINT', 'group'], ['SIGQUIT', 'group']]) {
    // pty.spawn runs the wrapper as the session leader and foreground process group of a new pty.
    const { child: terminal, next } = startSession(t, 'python3', ['-c', 'import pty, sys; pty.spawn(sys.argv[1:])', process.execPath, CLI, 'run', '--abstract', uniqueName(), '--', process.execPath, COUNT_SIGNALS]);
    const [, commandPid, wrapperPid] = /^ready (\d+) (\d+)$/.exec(await next()).map(Number);
    t.after(() => {
      for (const pid of [commandPid, wrapperPid]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited
        }
      }
    });
    // Stopped, the wrapper cannot forward the signal until COMMAND has handled the terminal's:
    // two signals pending at once would merge into one, and the test could not see a second.
    process.kill(wrapperPid, 'SIGSTOP');
    if (how === 'key') terminal.stdin.write(keys[signal]);
    else process.kill(-wrapperPid, signal);
    // The terminal echoes the key as ^C or ^\ before COMMAND's line.
    assert.equal((await next()).replace(/^\^./, ''), `${signal} 1`, `${signal} ${how}`);
    process.kill(wrapperPid, 'SIGCONT');
    // Forwarded after the SIGINT or SIGQUIT the wrapper has pending, if it were to forward that.
    process.kill(wrapperPid, 'SIGTERM');
    assert.equal(await next(), totalsOnce(signal), `${signal} ${how}`);
    await new Promise((resolve) => terminal.once('close', resolve));
  }
});

describe('a process COMMAND leaves behind keeps the lock it inherited, and the next run out (pidfile, file, abstract)', () => {
  for (const [kind, target] of [['pidfile', (t) => path.join(tempDir(t), 'daemon.pid')], ['file', (t) => path.join(tempDir(t), 'daemon.lock')], ['abstract', () => uniqueName()]]) leftBehindTest(kind, target);
});

function leftBehindTest(kind, target) {
  test(`${kind}: a process COMMAND leaves behind keeps the lock it inherited, and the next run out, until it exits`, async (t) => {
    const name = target(t);
    assert.equal(cli(['run', `--${kind}`, name, '--', 'true']).status, 0);
    if (kind === 'pidfile') assert.equal(fs.existsSync(name), false, 'removed: COMMAND left nothing behind');
    // COMMAND daemonizes: its background child keeps fd 3, and with it the lock.
    const daemonizing = cli(['run', `--${kind}`, name, '--', 'sh', '-c', 'sleep 30 </dev/null >/dev/null 2>&1 & echo $!']);
    assert.equal(daemonizing.status, 0, daemonizing.stderr);
    const background = Number(daemonizing.stdout);
    assert.ok(background > 0, daemonizing.stdout);
    let killed = false;
    t.after(() => killed || process.kill(background, 'SIGKILL'));
    if (kind === 'pidfile') assert.deepEqual(solely.readPidfile(name), { pid: background, locked: true }, 'the pidfile names the process that holds it');
    const second = cli(['run', `--${kind}`, name, '--', 'echo', 'should not run']);
    assert.equal(second.status, 75, second.stderr);
    assert.equal(second.stdout, '');
    // An abstract name's holder is the pid that called listen(), the wrapper, until whoHolds confirms it by the socket's inode.
    assert.match(second.stderr, kind === 'abstract' ? / is held/ : new RegExp(`held by pid ${background} \\(sleep 30\\)`));
    process.kill(background, 'SIGKILL');
    killed = true;
    const next = cli(['run', `--${kind}`, name, '--wait=10', '--', 'true']);
    assert.equal(next.status, 0, next.stderr);
    if (kind === 'pidfile') assert.equal(fs.existsSync(name), false);
  });
}

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
