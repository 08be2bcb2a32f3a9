'use strict';
// The real CLI, spawned as cron or a shell would.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { describe, test } = require('node:test');
const solely = require('../..');
const { FIXTURES, uniqueName, tempDir, spawnReady, holder, kill, killAfter, exited, needs, readablePackage, ROOT, CLI, NOBODY } = require('../support/helpers');

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
function startSession(t, command, args, stderr = 'inherit') {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', stderr], detached: true });
  t.after(() => {
    try {
      process.kill(-child.pid, 'SIGKILL'); // COMMAND too, if the wrapper died without it
    } catch {
      // the whole group has exited
    }
  });
  const queued = [];
  const waiting = [];
  const push = (line) => (waiting.length > 0 ? waiting.shift()(line) : queued.push(line));
  readline.createInterface({ input: child.stdout }).on('line', (line) => push(line.replace(/\r$/, '')));
  child.stdout.once('close', () => push(null));
  const next = () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return { child, next };
}

/** Resolves with the stream's first line, or null if it ends without one. */
function firstLine(stream) {
  return new Promise((resolve) => {
    readline.createInterface({ input: stream }).once('line', resolve);
    stream.once('close', () => resolve(null));
  });
}

function cli(args, options = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000, ...options });
}

test('--version and --help', () => {
  assert.equal(cli(['--version']).stdout.trim(), require('../../package.json').version);
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
    const s = require(${JSON.stringify(ROOT)});
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
  assert.match(result.stderr, new RegExp(`^solely: ${name} is held by pid ${child.pid}, uid ${process.getuid()}: .*hold\\.js abstract ${name}\\n$`));
  // One formatter: the CLI names the holder in the words of the library's LockHeldError.
  let error;
  try {
    solely.lockAbstractSync(name).release();
  } catch (caught) {
    error = caught;
  }
  assert.equal(error?.code, 'ELOCKED');
  assert.equal(result.stderr, `solely: ${name} is held by ${/ \((.*)\)$/.exec(error.message)[1]}\n`);
  const custom = cli(['run', '--abstract', name, '--conflict-exit-code', '0', '--quiet', '--', 'echo', 'x']);
  assert.deepEqual([custom.status, custom.stdout, custom.stderr], [0, '', '']);
});

test('a holder whose command line has a newline and terminal escapes is named on one line, escaped; --json keeps it raw', { skip: needs('flock') }, async (t) => {
  const file = path.join(tempDir(t), 'evil.lock');
  const evil = 'evil\nsolely: forged line \x1b[2J\\x1b \t\x7f';
  const escaped = 'evil\\nsolely: forged line \\x1b[2J\\\\x1b \\t\\x7f';
  // flock(1) holds it in the shell it runs, whose command line ends with the argument.
  const squatter = await spawnReady(t, 'flock', [file, 'sh', '-c', 'echo locked; exec sleep 30', 'sh', evil], { detached: true });
  const command = `${squatter.pid}, uid ${process.getuid()}: flock ${file} sh -c echo locked; exec sleep 30 sh ${escaped}`;
  const held = cli(['run', '--file', file, '--', 'true']);
  assert.equal(held.status, 75);
  assert.equal(held.stderr, `solely: ${file} is held by pid ${command}\n`);
  const status = cli(['status', '--file', file]);
  assert.equal(status.stdout, `${file}: held by pid ${command}\n`);
  assert.equal(JSON.parse(cli(['status', '--json', '--file', file]).stdout).holder.command, `flock ${file} sh -c echo locked; exec sleep 30 sh ${evil}`);
  // The same formatter makes every LockHeldError message; holder.command stays raw.
  assert.throws(() => solely.lockFileSync(file), (error) => error.message.endsWith(`(pid ${command})`) && error.holder.command.endsWith(evil));
});

test('COMMAND\'s own name is said escaped in "command not found", -v "running" and --max-runtime lines, and so are U+2028, U+2029 and the bidi controls', (t) => {
  const dir = tempDir(t);
  const evil = 'c\nsolely: forged\x1b[2J\u2028\u2029\u202e\u2066';
  const escaped = 'c\\nsolely: forged\\x1b[2J\\u2028\\u2029\\u202e\\u2066';
  const lines = (text) => text.trimEnd().split('\n');
  const raw = ['\x1b', '\u2028', '\u2029', '\u202e', '\u2066'];
  const clean = (text) => assert.ok(!raw.some((c) => text.includes(c)), JSON.stringify(text));
  const missing = path.join(dir, evil);
  const notFound = cli(['run', '-v', '--abstract', uniqueName(), '--', missing, 'arg']);
  assert.equal(notFound.status, 127);
  clean(notFound.stderr);
  const said = lines(notFound.stderr);
  assert.equal(said.length, 3, notFound.stderr);
  assert.equal(said[1], `solely: running ${path.join(dir, escaped)} arg`);
  assert.equal(said[2], `solely: ${path.join(dir, escaped)}: command not found`);
  // A COMMAND by that name that runs too long: the --max-runtime line.
  fs.symlinkSync(fs.realpathSync('/bin/sleep'), missing);
  const expired = cli(['run', '--max-runtime', '0.1', '--abstract', uniqueName(), '--', missing, '30']);
  assert.equal(expired.status, 124);
  clean(expired.stderr);
  assert.deepEqual(lines(expired.stderr), [`solely: ${path.join(dir, escaped)} ran for 0.1 s (--max-runtime): sent SIGTERM`]);
  // A lock's name with them, as status says it.
  const name = `${uniqueName()}-${evil}`;
  const status = cli(['status', '--abstract', name]);
  clean(status.stdout);
  assert.equal(status.stdout, `@${name.replace(evil, escaped)}: not held\n`);
});

test('a lock name or path with a newline or a terminal escape is said on one line, escaped, by run, status, list, lock --fd and error lines; --json keeps it raw', { skip: needs('bash') }, async (t) => {
  const dir = tempDir(t);
  const evil = 'p\nsolely: forged\x1b[31m';
  const escape = (text) => text.replaceAll('\n', '\\n').replaceAll('\x1b', '\\x1b');
  const file = path.join(dir, `${evil}.lock`);
  const name = `${uniqueName()}-${evil}`;
  const [fileHolder, nameHolder] = [await holder(t, 'file', file), await holder(t, 'abstract', name)];
  const oneLine = (text, label) => {
    assert.equal(text.split('\n').length, 2, `${label}: ${JSON.stringify(text)}`);
    assert.ok(!text.includes('\x1b'), `${label}: ${JSON.stringify(text)}`);
  };
  for (const [args, said] of [
    [['--file', file], `${escape(file)} is held by pid ${fileHolder.pid}`],
    [['--abstract', name], `${escape(name)} is held by pid ${nameHolder.pid}`],
  ]) {
    const held = cli(['run', ...args, '--', 'true']);
    assert.equal(held.status, 75);
    assert.ok(held.stderr.startsWith(`solely: ${said}`), held.stderr);
    oneLine(held.stderr, `run ${args[0]}`);
  }
  const status = cli(['status', '--file', file]);
  assert.ok(status.stdout.startsWith(`${escape(file)}: held by pid ${fileHolder.pid}`), status.stdout);
  oneLine(status.stdout, 'status --file');
  const abstractStatus = cli(['status', '--abstract', name]);
  assert.ok(abstractStatus.stdout.startsWith(`@${escape(name)}: held by pid ${nameHolder.pid}`), abstractStatus.stdout);
  oneLine(abstractStatus.stdout, 'status --abstract');
  const slots = cli(['status', '--abstract', name, '--slots', '2']);
  assert.ok(slots.stdout.startsWith(`@${escape(name)}: 1 of 2 slots held\n`), slots.stdout);
  assert.equal(JSON.parse(cli(['status', '--json', '--file', file]).stdout).target, file);
  assert.equal(JSON.parse(cli(['status', '--json', '--abstract', name]).stdout).target, name);
  // list: each lock one line of its own; --json raw.
  const lines = cli(['list']).stdout.split('\n');
  assert.ok(lines.some((line) => line.startsWith(`${escape(file)} (file, flock, exclusive): held by pid ${fileHolder.pid}`)), lines.join('\n'));
  assert.ok(lines.some((line) => line.startsWith(`@${escape(name)} (abstract): held by pid ${nameHolder.pid}`)), lines.join('\n'));
  assert.ok(!lines.some((line) => line.startsWith('solely: forged') || line.includes('\x1b[31m')), 'no forged line, no raw escape');
  const listed = JSON.parse(cli(['list', '--json']).stdout);
  assert.equal(listed.find((lock) => lock.target === file)?.holder.pid, fileHolder.pid);
  assert.equal(listed.find((lock) => lock.target === name)?.holder.pid, nameHolder.pid);
  // lock --fd, on the shell's fd open on that file.
  const fd = spawnSync('bash', ['-c', 'exec 9<"$1"; exec "$2" "$3" lock --fd 9', 'bash', file, process.execPath, CLI], { encoding: 'utf8' });
  assert.equal(fd.status, 75);
  assert.ok(fd.stderr.startsWith(`solely: ${escape(file)} is held by pid ${fileHolder.pid}`), fd.stderr);
  oneLine(fd.stderr, 'lock --fd');
  // Any other failure, and a usage error: their one solely: line.
  const missing = path.join(dir, evil, 'x.pid');
  const failed = cli(['run', '--pidfile', missing, '--', 'true']);
  assert.deepEqual([failed.status, failed.stderr], [1, `solely: ENOENT: no such file or directory, open '${escape(missing)}' (the directory does not exist)\n`]);
  const usage = cli(['run', '--abstract', evil.repeat(10), '--', 'true']);
  assert.equal(usage.status, 64);
  assert.ok(usage.stderr.startsWith(`solely: --abstract: ENAMETOOLONG: an abstract name is at most 107 bytes of UTF-8 @${escape(evil.repeat(10))}\nusage: `), usage.stderr);
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

test('run --help: every option has an entry of its own that starts with it, each entry whole (its parentheses closed within it)', () => {
  const help = cli(['run', '--help']).stdout;
  // An entry: a line that starts with two spaces and an option, and the lines indented under it.
  const entries = help.slice(help.indexOf('\n  --abstract'), help.indexOf('\nExit status')).split(/\n(?= {2}[-(])/).filter((entry) => entry.trim() !== '');
  const open = (text) => [...text].reduce((depth, c) => depth + (c === '(' ? 1 : c === ')' ? -1 : 0), 0);
  for (const entry of entries) assert.equal(open(entry), 0, entry);
  const { RUN_OPTIONS } = require('../../dist/cli/args');
  // What an entry starts with: its options and their arguments, up to the description.
  const heads = entries.map((entry) => entry.slice(2).split('\n')[0].split(/ {2,}/)[0]);
  for (const option of RUN_OPTIONS) assert.ok(heads.some((head) => new RegExp(`(^|[ ,])${option}\\b`).test(head)), `${option} has no entry of its own`);
});

test('an empty COMMAND is not found (127), as a missing one is, with or without a target, and --respawn does not try it again', () => {
  for (const args of [['--abstract', uniqueName()], [], ['--respawn', '--abstract', uniqueName()]]) {
    const result = cli(['run', ...args, '--', '', 'arg']);
    assert.deepEqual([result.status, result.stderr], [127, 'solely: : command not found\n'], args.join(' '));
  }
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
  // Both hold the lock (COMMAND inherited it); the holder is the process the pidfile names, as in the conflict.
  assert.equal(JSON.parse(status.stdout).holder.pid, commandPid);
  assert.match(cli(['status', '--pidfile', pidfile]).stdout, new RegExp(`: held by pid ${commandPid}, uid ${process.getuid()}: `));
  assert.match(held.stderr, new RegExp(`held by pid ${commandPid}, uid ${process.getuid()}: `));
  wrapper.kill('SIGTERM'); // forwarded: COMMAND exits, the wrapper removes the pidfile
  await exited(wrapper);
  assert.equal(wrapper.exitCode, 128 + 15);
  assert.equal(fs.existsSync(pidfile), false);
});

test('--pidfile: a file, symlink or FIFO put at the path while COMMAND ran is left alone, and COMMAND\'s status kept', { skip: needs('mkfifo') }, (t) => {
  const dir = tempDir(t);
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious');
  const planted = [
    ['a file renamed over it', (at) => fs.writeFileSync(at, 'not a pid: someone else wrote this'), (at) => assert.equal(fs.readFileSync(at, 'utf8'), 'not a pid: someone else wrote this')],
    ['a symlink', (at) => fs.symlinkSync(victim, at), (at) => assert.equal(fs.readlinkSync(at), victim)],
    ['a FIFO', (at) => spawnSync('mkfifo', [at]), (at) => assert.ok(fs.lstatSync(at).isFIFO())],
  ];
  for (const [index, [what, plant, intact]] of planted.entries()) {
    const pidfile = path.join(dir, `job${index}.pid`);
    const other = path.join(dir, `other${index}`);
    plant(other);
    // COMMAND itself renames it over the pidfile, then exits 3.
    const result = cli(['run', '--pidfile', pidfile, '--', 'sh', '-c', 'mv "$1" "$2" && exit 3', 'sh', other, pidfile]);
    assert.deepEqual([result.status, result.stderr], [3, ''], what);
    intact(pidfile);
  }
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious', 'nothing was written through the symlink');
});

/** The last line of count-signals.js when signal came once. */
function totalsOnce(signal) {
  return `total ${['SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'].map((counted) => `${counted} ${counted === signal ? 1 : 0}`).join(' ')}`;
}

/** The TCP ports pid listens on: its socket fds, looked up in its network namespace's tables. */
function listeningTcpPorts(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket !== null) inodes.add(socket[1]);
    } catch {
      // closed as we looked
    }
  }
  const ports = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      if (state === '0A' && inodes.has(inode)) ports.push(parseInt(local.split(':').at(-1), 16)); // 0A: LISTEN
    }
  }
  return ports;
}

test('SIGINT, SIGQUIT, SIGTERM, SIGUSR1 or SIGUSR2 sent to the wrapper alone reaches COMMAND once; SIGUSR1 never opens Node\'s inspector in the wrapper', async (t) => {
  for (const signal of ['SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGTERM']) {
    const { child: wrapper, next } = startSession(t, process.execPath, [CLI, 'run', '--abstract', uniqueName(), '--', process.execPath, COUNT_SIGNALS], 'pipe');
    assert.match(await next(), /^ready /);
    const said = firstLine(wrapper.stderr);
    wrapper.kill(signal);
    // SIGTERM makes COMMAND print its counts. For the others it waits for their line: sent at once,
    // it could overtake them (a thread with a signal pending leaves the next one to another thread,
    // and Node blocks SIGUSR1 in all threads but one). Unforwarded, SIGUSR1 would make Node say
    // "Debugger listening on ws://..." on stderr, and the others kill the wrapper.
    if (signal !== 'SIGTERM') {
      const exit = exited(wrapper).then(() => `the wrapper exited (${wrapper.exitCode ?? wrapper.signalCode})`);
      assert.equal(await Promise.race([next(), said, exit]), `${signal} 1`);
      assert.deepEqual(listeningTcpPorts(wrapper.pid), [], `${signal}: the wrapper listens on no TCP port`);
      wrapper.kill('SIGTERM');
    }
    assert.equal(await next(), totalsOnce(signal), signal);
    assert.equal(await next(), null);
    await exited(wrapper);
    assert.equal(wrapper.exitCode, 0, signal);
    assert.equal(await said, null, `${signal}: the wrapper said nothing on stderr`);
  }
});

test('while the wrapper waits for the lock, SIGUSR1 and SIGUSR2 are ignored, neither fatal nor kept for COMMAND', async (t) => {
  const name = uniqueName();
  // The holder says when the wrapper's wait has connected to it: the wrapper is in run() by then.
  const script = `const s = require(${JSON.stringify(ROOT)});
    s.listenUnix('\\0${name}').then((server) => {
      const open = new Set();
      server.on('connection', (c) => { open.add(c); console.log('connected'); });
      console.log('listening');
      process.stdin.once('data', () => { for (const c of open) c.destroy(); server.close(); });
    });`;
  const held = await spawnReady(t, process.execPath, ['-e', script]);
  assert.equal(held.firstLine, 'listening');
  const { child: wrapper, next } = startSession(t, process.execPath, [CLI, 'run', '--abstract', name, '--wait', '--', process.execPath, COUNT_SIGNALS]);
  await new Promise((resolve) => held.lines.once('line', resolve));
  wrapper.kill('SIGUSR1');
  wrapper.kill('SIGUSR2');
  held.stdin.write('release\n');
  assert.match(await next(), /^ready /, 'the wrapper outlived the signals and ran COMMAND');
  wrapper.kill('SIGTERM');
  assert.equal(await next(), totalsOnce(null));
  await exited(wrapper);
  assert.equal(wrapper.exitCode, 0);
});

test('an inspector that a SIGUSR1 opened while Node started, before the wrapper listened, is closed before COMMAND runs', async (t) => {
  // Port 0: tests run in parallel, and the inspector must open for the test to mean anything.
  const env = { ...process.env, NODE_OPTIONS: `--inspect-port=0 --require ${path.join(FIXTURES, 'sigusr1-at-startup.js')}` };
  const wrapper = spawn(process.execPath, [CLI, 'run', '--abstract', uniqueName(), '--', 'sh', '-c', 'echo ready; exec sleep 30'], { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
  t.after(() => {
    try {
      process.kill(-wrapper.pid, 'SIGKILL');
    } catch {
      // the whole group has exited
    }
  });
  const [opened, ready] = await Promise.all([firstLine(wrapper.stderr), firstLine(wrapper.stdout)]);
  assert.equal(ready, 'ready');
  assert.match(opened, /^Debugger listening on ws:\/\/127\.0\.0\.1:\d+\//, 'the inspector opened');
  assert.deepEqual(listeningTcpPorts(wrapper.pid), [], 'the wrapper listens on no TCP port');
  wrapper.kill('SIGTERM');
  await exited(wrapper);
  assert.equal(wrapper.exitCode, 128 + 15);
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
    // For an abstract name too: whoHolds finds the socket's inode among the leftover's fds, not the pid that bound it.
    assert.match(second.stderr, new RegExp(`held by pid ${background}, uid ${process.getuid()}: sleep 30\\n`));
    process.kill(background, 'SIGKILL');
    killed = true;
    const next = cli(['run', `--${kind}`, name, '--wait=10', '--', 'true']);
    assert.equal(next.status, 0, next.stderr);
    if (kind === 'pidfile') assert.equal(fs.existsSync(name), false);
  });
}

/** A shell word for s. */
function shellQuote(s) {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/** In a shell command, the byte 0xFF: Node cannot put bytes that are not UTF-8 in an argument. */
const BYTE_FF = `"$(printf '\\377')"`;

test('an option argument that is not UTF-8 is refused with 64, naming the option, locking and creating nothing', { skip: needs('flock') }, async (t) => {
  const dir = tempDir(t);
  const badPath = `${shellQuote(`${dir}/`)}${BYTE_FF}.lock`;
  // flock(1) holds the file those bytes name; solely used to lock "\uFFFD.lock" beside it and run COMMAND.
  const flock = await spawnReady(t, 'sh', ['-c', `exec flock -n ${badPath} sh -c 'echo locked; exec sleep 30'`], { detached: true });
  assert.equal(flock.firstLine, 'locked');
  const cliBytes = (...words) => spawnSync('sh', ['-c', [process.execPath, CLI].map(shellQuote).concat(words).join(' ')], { encoding: 'utf8', timeout: 20_000 });
  for (const [option, words] of [
    ['--file', ['run', '--file', badPath, '--', 'echo', 'ran']],
    ['--file', ['run', `--file=${badPath}`, '--', 'echo', 'ran']],
    ['--pidfile', ['run', '--pidfile', badPath, '--', 'echo', 'ran']],
    ['--abstract', ['run', '--abstract', `${shellQuote(uniqueName())}${BYTE_FF}`, '--', 'echo', 'ran']],
    ['--file', ['status', '--file', badPath]],
    ['--pidfile', ['status', '--pidfile', badPath]],
  ]) {
    const result = cliBytes(...words);
    assert.equal(result.status, 64, `${words.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '', words.join(' '));
    assert.match(result.stderr, new RegExp(`^solely: ${option}: its argument is not valid UTF-8 .*\\nusage: solely run`), words.join(' '));
  }
  assert.deepEqual(fs.readdirSync(dir, { encoding: 'buffer' }), [Buffer.from('\xff.lock', 'latin1')], 'only the file flock(1) made');
  // U+FFFD itself is valid UTF-8: a name that has it is locked as it is.
  const replacement = path.join(dir, '\uFFFD.lock');
  assert.equal(cli(['run', '--file', replacement, '--', 'true']).status, 0);
  assert.ok(fs.existsSync(replacement));
  await kill(flock);
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
    assert.match(text.stdout, new RegExp(`held by pid ${pid}, uid ${process.getuid()}: .*hold\\.js`));
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

test('status --pidfile: a FIFO or a device at the path is 4 with EINVAL, as run fails, never stale', { skip: needs('mkfifo') }, (t) => {
  const fifo = path.join(tempDir(t), 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  for (const target of [fifo, '/dev/null']) {
    const run = cli(['run', '--pidfile', target, '--', 'true']);
    assert.deepEqual([run.status, run.stderr], [1, `solely: EINVAL: invalid argument, ftruncate '${target}'\n`]);
    const status = cli(['status', '--pidfile', target]);
    assert.deepEqual([status.status, status.stdout, status.stderr], [4, '', run.stderr], target);
  }
});

test('status: 4 (unknown) when it cannot tell, the error once on stderr and, with --json, on stdout too', (t) => {
  const file = path.join(tempDir(t), 'file');
  const link = `${file}.pid`;
  const directory = `${file}.d`;
  fs.writeFileSync(file, '');
  fs.symlinkSync(file, link); // a pidfile is never opened through a symlink
  fs.mkdirSync(directory); // a directory is no pidfile, not a stale one
  for (const [args, code, target] of [
    [['--file', `${file}/x`], 'ENOTDIR', `${file}/x`],
    [['--pidfile', `${file}/x`], 'ENOTDIR', `${file}/x`],
    [['--pidfile', link], 'ELOOP', link],
    [['--pidfile', directory], 'EISDIR', directory],
  ]) {
    const text = cli(['status', ...args]);
    assert.deepEqual([text.status, text.stdout], [4, ''], args.join(' '));
    assert.match(text.stderr, new RegExp(`^solely: ${code}: [^\\n]*, \\w+ '${target}'\\n$`), args.join(' '));
    const json = cli(['status', '--json', ...args]);
    assert.equal(json.status, 4, args.join(' '));
    const report = JSON.parse(json.stdout);
    assert.deepEqual({ ...report, error: { ...report.error, message: undefined } }, { target, kind: args[0].slice(2), state: 'unknown', error: { code, message: undefined } });
    assert.match(report.error.message, new RegExp(`^${code}: [^\\n]*, \\w+ '${target}'$`));
  }
  assert.match(cli(['status', '--help']).stdout, /\b4 unknown/);
});

test('status: a symlink (even to a held file) or a socket at the path, or a symlink at a slot\'s path with --slots, is refused as run refuses it: 4 with ELOOP or ENXIO, never "not held"', async (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, 'target.lock');
  const link = path.join(dir, 'link.lock');
  const socket = path.join(dir, 'socket.lock');
  await holder(t, 'file', target);
  fs.symlinkSync(target, link);
  const server = require('node:net').createServer();
  await new Promise((resolve) => server.listen(socket, resolve));
  t.after(() => server.close());
  for (const [where, code] of [[link, 'ELOOP'], [socket, 'ENXIO']]) {
    for (const kind of ['--file', '--pidfile']) {
      const run = cli(['run', kind, where, '--', 'true']);
      assert.equal(run.status, 1, `run ${kind} ${where}`);
      assert.match(run.stderr, new RegExp(`^solely: ${code}: [^\\n]*, open '${where}'\\n$`));
      const status = cli(['status', kind, where]);
      assert.deepEqual([status.status, status.stdout, status.stderr], [4, '', run.stderr], `status ${kind} ${where}`);
      assert.equal(JSON.parse(cli(['status', '--json', kind, where]).stdout).error.code, code);
    }
  }
  // Slot 1 a symlink: a run that finds slot 0 held fails on it, and status --slots says so, never "slot 1: not held".
  const slots = path.join(dir, 'slots.lock');
  fs.symlinkSync(target, `${slots}.1`);
  await holder(t, 'file', slots);
  const run = cli(['run', '--file', slots, '--slots', '3', '--', 'true']);
  assert.deepEqual([run.status, run.stderr], [1, `solely: ELOOP: too many symbolic links encountered, open '${slots}.1'\n`]);
  const status = cli(['status', '--file', slots, '--slots', '3']);
  assert.deepEqual([status.status, status.stdout, status.stderr], [4, '', run.stderr]);
  const json = cli(['status', '--json', '--file', slots, '--slots', '3']);
  assert.equal(json.status, 4);
  assert.deepEqual(JSON.parse(json.stdout), { target: slots, kind: 'file', state: 'unknown', error: { code: 'ELOOP', message: `ELOOP: too many symbolic links encountered, open '${slots}.1'` } });
});

test('status: 4 (unknown) when a directory on the path is not searchable (EACCES)', { skip: process.getuid() === 0 && needs('setpriv') }, (t) => {
  const closed = path.join(tempDir(t), 'closed');
  fs.mkdirSync(closed, { mode: 0o000 });
  // Root searches any directory: run as nobody, from a copy of the package nobody may read.
  const asOther = process.getuid() === 0 ? ['setpriv', ...NOBODY] : [];
  const target = path.join(closed, 'job.lock');
  const cli = asOther.length > 0 ? path.join(readablePackage(), 'dist', 'cli.js') : CLI;
  const [command, ...args] = [...asOther, process.execPath, cli, 'status', '--json', '--file', target];
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 4, result.stderr);
  assert.match(result.stderr, new RegExp(`^solely: EACCES: permission denied, \\w+ '${target}'[^\\n]*\\n$`));
  assert.equal(JSON.parse(result.stdout).error.code, 'EACCES');
});

test('run: a refused name or path is a usage error (64), said once; other failures exit 1 with the code once', (t) => {
  for (const [args, message] of [
    // An empty target has no place to name: the line ends with the reason.
    [['run', '--file=', '--', 'true'], '--file: EINVAL: a lock path cannot be empty\n'],
    [['run', '--abstract', '', '--', 'true'], '--abstract: EINVAL: an abstract name cannot be empty (that would autobind a random name) @\n'],
    [['run', '--abstract', 'x'.repeat(108), '--', 'true'], '--abstract: ENAMETOOLONG: an abstract name is at most 107 bytes'],
    [['status', '--pidfile=', '--json'], '--pidfile: EINVAL: a lock path cannot be empty\n'],
    // A name that fits, but not with slot 10's suffix: refused before any slot is taken.
    [['run', '--abstract', 'x'.repeat(105), '--slots', '11', '--', 'true'], `--slots 11: ENAMETOOLONG: an abstract name is at most 107 bytes of UTF-8 @${'x'.repeat(105)}.10\n`],
    [['status', '--abstract', 'x'.repeat(104), '--slots', '101'], `--slots 101: ENAMETOOLONG: an abstract name is at most 107 bytes of UTF-8 @${'x'.repeat(104)}.100\n`],
    [['run', '--file', `/${'d/'.repeat(2045)}x`, '--slots', '101', '--', 'true'], '--slots 101: ENAMETOOLONG: a path is at most 4095 bytes'],
  ]) {
    const result = cli(args);
    assert.equal(result.status, 64, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '', args.join(' '));
    assert.ok(result.stderr.startsWith(`solely: ${message}`), result.stderr);
    assert.match(result.stderr, /\nusage: solely run/);
  }
  const file = path.join(tempDir(t), 'file');
  fs.writeFileSync(file, '');
  const failed = cli(['run', '--pidfile', `${file}/x`, '--', 'echo', 'ran']);
  assert.deepEqual([failed.status, failed.stdout], [1, '']);
  assert.equal(failed.stderr, `solely: ENOTDIR: not a directory, open '${file}/x'\n`);
});

describe('run --slots N: at most N COMMANDs at once, each told its slot; status --slots N', () => {
  for (const kind of ['abstract', 'file']) {
    test(`${kind}: N runs hold slots 0..N-1 (SOLELY_SLOT), the next exits 75, status names each slot, a waiter takes the slot freed`, async (t) => {
      const target = kind === 'abstract' ? uniqueName() : path.join(tempDir(t), 'slots.lock');
      const run = (...flags) => spawnReady(t, process.execPath, [CLI, 'run', `--${kind}`, target, '--slots', '2', ...flags, '--', 'sh', '-c', 'echo "slot $SOLELY_SLOT"; exec cat']);
      const first = await run();
      const second = await run();
      assert.deepEqual([first.firstLine, second.firstLine], ['slot 0', 'slot 1']);
      const third = spawnSync(process.execPath, [CLI, 'run', `--${kind}`, target, '--slots', '2', '--', 'true'], { encoding: 'utf8' });
      assert.equal(third.status, 75);
      const status = spawnSync(process.execPath, [CLI, 'status', `--${kind}`, target, '--slots', '3'], { encoding: 'utf8' });
      assert.equal(status.status, 0);
      assert.match(status.stdout, /: 2 of 3 slots held\n {2}slot 0: held by pid \d+.*\n {2}slot 1: held by pid \d+.*\n {2}slot 2: not held\n$/);
      const json = JSON.parse(spawnSync(process.execPath, [CLI, 'status', '--json', `--${kind}`, target, '--slots', '3'], { encoding: 'utf8' }).stdout);
      assert.equal(json.state, 'held');
      assert.deepEqual(json.slots.map(({ slot, state }) => ({ slot, state })), [{ slot: 0, state: 'held' }, { slot: 1, state: 'held' }, { slot: 2, state: 'free' }]);
      assert.equal(typeof json.slots[0].holder.pid, 'number');
      assert.equal(json.slots[2].holder, undefined);
      const waiter = spawn(process.execPath, [CLI, 'run', `--${kind}`, target, '--slots', '2', '--wait', '--', 'sh', '-c', 'echo "slot $SOLELY_SLOT"'], { stdio: ['ignore', 'pipe', 'inherit'] });
      t.after(() => waiter.kill('SIGKILL'));
      const output = readline.createInterface({ input: waiter.stdout });
      await kill(first, 'SIGTERM'); // the wrapper forwards it; COMMAND's exit frees slot 0
      assert.equal((await output[Symbol.asyncIterator]().next()).value, 'slot 0');
      await exited(waiter);
      assert.equal(waiter.exitCode, 0);
    });
  }

  test('status --slots: 3 (not held) when every slot is free; --json has N free entries', (t) => {
    const file = path.join(tempDir(t), 'free.lock');
    const status = spawnSync(process.execPath, [CLI, 'status', '--json', '--file', file, '--slots', '2'], { encoding: 'utf8' });
    assert.equal(status.status, 3);
    assert.deepEqual(JSON.parse(status.stdout), { target: file, kind: 'file', state: 'free', slots: [{ slot: 0, state: 'free' }, { slot: 1, state: 'free' }] });
  });
});

test('run -s/--shared: shared runs overlap, an exclusive (-x) run exits 75 beside them; bad --slots and --shared uses exit 64, -s without a target too', async (t) => {
  const file = path.join(tempDir(t), 'shared.lock');
  const run = (flag) => spawnReady(t, process.execPath, [CLI, 'run', '--file', file, flag, '--', 'sh', '-c', 'echo in; exec cat']);
  assert.equal((await run('-s')).firstLine, 'in');
  assert.equal((await run('--shared')).firstLine, 'in');
  assert.equal(spawnSync(process.execPath, [CLI, 'run', '--file', file, '-x', '--', 'true']).status, 75);
  assert.equal(spawnSync(process.execPath, [CLI, 'run', '--file', file, '--', 'true']).status, 75);
  const usage = (...args) => spawnSync(process.execPath, [CLI, 'run', ...args, '--', 'true'], { encoding: 'utf8' });
  for (const args of [
    ['--file', file, '--slots', '0'],
    ['--file', file, '--slots', '-1'],
    ['--file', file, '--slots', '1.5'],
    ['--file', file, '--slots', '1025'],
    ['--file', file, '--slots', 'x'],
    ['--file', file, '-s', '--slots', '2'],
    ['--abstract', uniqueName(), '--shared'],
    ['--pidfile', path.join(path.dirname(file), 'p.pid'), '--slots', '2'],
    ['-s'], // no target: an abstract name, which has no shared mode
  ]) {
    const result = usage(...args);
    assert.equal(result.status, 64, args.join(' '));
    assert.match(result.stderr, /^solely: .*(--slots|--shared)/, args.join(' '));
  }
  assert.equal(fs.existsSync(path.join(path.dirname(file), 'p.pid')), false);
});
