'use strict';
// flock(1) habits in the `solely` command: its option spellings in `solely run`, and
// `solely lock|unlock --fd N` in shell scripts; flock(1) itself side by side on the same scenarios
// (after util-linux's tests/ts/misc/flock: non-block, conflict exit code, timeout, fcntl).
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('../..');
const { tempDir, spawnReady, holder, kill, exited, needs, hasOpen, CLI } = require('../support/helpers');

const SOLELY = `${process.execPath} ${CLI}`;

/** Runs the CLI (or another program) to its end: { status, stdout, stderr }. */
function run(args, { command = process.execPath, prefix = [CLI], env, stdio = ['ignore', 'pipe', 'pipe'], cwd } = {}) {
  const child = spawn(command, [...prefix, ...args], { stdio, env: env ?? process.env, cwd });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
  done.child = child;
  return done;
}

function flock(args) {
  return run(args, { command: 'flock', prefix: [] });
}

test('-n, -E N, --nonblock --conflict-exit-code N, -w 0 and --timeout=0 fail at once against a flock(1) holder, as flock(1) does', { skip: needs('flock') }, async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const holding = await spawnReady(t, 'flock', [file, 'sh', '-c', 'echo locked; exec sleep 30'], { detached: true });
  for (const [args, status] of [[['-n'], 75], [['-E', '123'], 123], [['-n', '-E', '123'], 123], [['-nE123'], 123], [['--nonblock', '--conflict-exit-code', '123'], 123], [['-w', '0'], 75], [['--timeout=0'], 75], [['-w0', '-E', '9'], 9]]) {
    const result = await run(['run', ...args, '--file', file, '--', 'echo', 'You will never see this!']);
    assert.equal(result.status, status, args.join(' '));
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^solely: ${file} is held by pid ${holding.pid}`), args.join(' '));
  }
  // The same scenarios with flock(1) itself: the same statuses (flock's default conflict status is 1).
  assert.equal((await flock(['-n', '-E', '123', file, 'echo', 'x'])).status, 123);
  assert.equal((await flock(['-w', '0', file, 'echo', 'x'])).status, 1);
  // An option after the target, as flock users write them, is still an option.
  assert.equal((await run(['run', '--file', file, '-n', '-E', '7', 'echo', 'x'])).status, 7);
  await kill(holding);
});

test('seconds with white space before them are read as flock(1) reads them, white space after is a usage error', { skip: needs('flock') }, async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const holding = await spawnReady(t, 'flock', [file, 'sh', '-c', 'echo locked; exec sleep 60'], { detached: true });
  for (const seconds of [' 0.2', '\t+.2', '\n2e-1']) {
    assert.equal((await flock(['-w', seconds, file, 'true'])).status, 1, JSON.stringify(seconds));
    const result = await run(['run', '-w', seconds, '--file', file, '--', 'true']);
    assert.equal(result.status, 75, JSON.stringify(seconds));
    assert.match(result.stderr, /timed out waiting for/);
  }
  assert.equal((await run(['run', '-w', '0.2 ', '--file', file, '--', 'true'])).status, 64);
  await kill(holding);
});

test('-n with -w S, in either order, fails at once against a holder, as flock(1) does', { skip: needs('flock') }, async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const holding = await spawnReady(t, 'flock', [file, 'sh', '-c', 'echo locked; exec sleep 60'], { detached: true });
  // Had either waited, it would still be waiting: the holder stays until the end of the test.
  for (const args of [['-n', '-w', '30'], ['-w', '30', '-n'], ['-nw30']]) {
    assert.equal((await flock([...args, file, 'true'])).status, 1, `flock ${args.join(' ')}`);
    const result = await run(['run', ...args, '--file', file, '--', 'true']);
    assert.equal(result.status, 75, args.join(' '));
    assert.match(result.stderr, /is held by pid/, args.join(' '));
  }
  const locked = await run(['-c', 'exec 9>"$1"; $SOLELY lock -n -w 30 --fd 9', 'script', file], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
  assert.equal(locked.status, 75);
  await kill(holding);
});

test('-w S, --timeout S, --wait S and --wait=S wait for the holder and never run "S", in every spelling strtod(3) reads as flock(1) does (3e1, +30, .3e2, 30.); -w gives up with the conflict code', { skip: needs('flock') }, async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const holding = await holder(t, 'file', file, '--release-on-input');
  const expired = await run(['run', '-w', '0.2', '-E', '5', '--file', file, '--', 'echo', 'x']);
  assert.deepEqual([expired.status, expired.stdout], [5, '']);
  assert.match(expired.stderr, /timed out waiting for/);
  const spellings = [['-w', '30'], ['-w30'], ['--timeout', '30'], ['--timeout=30'], ['--wait', '30'], ['--wait=30'], ['--wait'],
    ['--wait', '3e1'], ['--wait', '+30'], ['--wait', '.3e2'], ['--wait', '30.'], ['--wait', '3E+1'], ['-w', '3e1'], ['--timeout', '300e-1']];
  const waiters = spellings.map((args) => run(['run', ...args, '--file', file, '--', 'echo', 'After timeout.']));
  const flockWaiter = flock(['--timeout', '30', file, 'echo', 'After timeout.']);
  // Each has the lock file open, trying for it, while the holder still holds it.
  for (const waiter of [...waiters, flockWaiter]) await hasOpen(waiter.child, file);
  holding.stdin.write('release\n');
  for (const [i, waiter] of [...waiters, flockWaiter].entries()) {
    const result = await waiter;
    assert.deepEqual([result.status, result.stdout], [0, 'After timeout.\n'], spellings[i]?.join(' ') ?? 'flock(1)');
  }
});

test('-c STRING runs STRING with sh -c; -c with a COMMAND too, an unknown -k, -w without seconds, or seconds that are not a decimal number is a usage error', async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const ran = await run(['run', '--file', file, '-c', 'echo "$0" one; exit 3']);
  assert.deepEqual([ran.status, ran.stdout], [3, 'sh one\n']);
  const long = await run(['run', '--file', file, '--command', 'echo two']);
  assert.deepEqual([long.status, long.stdout], [0, 'two\n']);
  for (const args of [['-c', 'true', 'extra'], ['-k'], ['-w'], ['-w', 'soon'], ['--timeout', '-1', 'true'], ['--timeout', '1e', 'true'], ['--timeout', '1e400', 'true'], ['--wait=0b1', 'true'], ['--backoff', '0x1', 'true'], ['--until-success'], ['--backoff']]) {
    const result = await run(['run', '--file', file, ...args]);
    assert.equal(result.status, 64, args.join(' '));
    assert.match(result.stderr, /^solely: .*\nusage: solely run/, args.join(' '));
  }
  assert.match((await run(['run', '--file', file, '-k', 'true'])).stderr, /^solely: unknown option -k\n/);
});

test('-o/--close: COMMAND does not inherit the lock; by default it has it as fd 3', async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const probe = ['sh', '-c', 'readlink /proc/$$/fd/3 || echo none; echo "$SOLELY_LOCK_FD"'];
  assert.equal((await run(['run', '--file', file, '--', ...probe])).stdout, `${file}\n3\n`);
  for (const close of ['-o', '--close']) {
    assert.equal((await run(['run', close, '--file', file, '--', ...probe])).stdout, 'none\n\n', close);
  }
});

test('-v says when the lock was taken and what runs; -q says nothing when it is held', async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const verbose = await run(['run', '-v', '--file', file, '--', 'echo', 'hi']);
  assert.equal(verbose.status, 0);
  assert.match(verbose.stderr, new RegExp(`^solely: took ${file} in \\d+\\.\\d{3} seconds\\nsolely: running echo hi\\n$`));
  // The lock as `solely list` names it: an abstract name with its @, a relative path made absolute.
  const name = `solely-took-${process.pid}`;
  assert.match((await run(['run', '-v', '--abstract', name, '--', 'true'])).stderr, new RegExp(`^solely: took @${name} in `));
  const relative = await run(['run', '-v', '--file', 'lockfile', '--', 'true'], { cwd: path.dirname(file) });
  assert.match(relative.stderr, new RegExp(`^solely: took ${file} in `));
  const holding = await holder(t, 'file', file);
  const quiet = await run(['run', '-q', '--file', file, '--', 'echo', 'x']);
  assert.deepEqual([quiet.status, quiet.stdout, quiet.stderr], [75, '', '']);
  await kill(holding);
});

test('--fcntl takes an OFD lock: it conflicts with OFD holders, not with flock(1); only for --file and --pidfile', { skip: needs('flock') }, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'lockfile');
  const ofd = await holder(t, 'fcntl', file);
  assert.equal((await run(['run', '--fcntl', '-n', '--file', file, '--', 'true'])).status, 75);
  assert.equal((await run(['run', '--file', file, '--', 'true'])).status, 0, 'flock and OFD locks do not conflict');
  await kill(ofd);
  const flocked = await spawnReady(t, 'flock', [file, 'sh', '-c', 'echo locked; exec sleep 30'], { detached: true });
  const inside = await run(['run', '--fcntl', '--file', file, '--', process.execPath, '-e', `console.log(require(${JSON.stringify(path.join(__dirname, '..', '..'))}).tryLockFileSync(${JSON.stringify(file)}, { method: 'fcntl' }) === null ? 'held' : 'free')`]);
  assert.deepEqual([inside.status, inside.stdout], [0, 'held\n'], 'COMMAND runs under the OFD lock beside flock(1)\'s');
  await kill(flocked);
  const pidfile = path.join(dir, 'job.pid');
  assert.equal((await run(['run', '--fcntl', '--pidfile', pidfile, '--', 'sh', '-c', `cat ${pidfile}`])).status, 0);
  assert.equal((await run(['run', '--fcntl', '--abstract', 'x', '--', 'true'])).status, 64);
});

/** A bash script that runs with the CLI at hand as $SOLELY and prints what it does. */
function bash(t, script, args = []) {
  return spawnReady(t, 'bash', ['-c', script, 'script', ...args], { env: { ...process.env, SOLELY } });
}

test('lock --fd N in a bash script is flock N: a second script is refused, flock -n FILE too; the lock outlives solely; unlock --fd frees it', { skip: needs('flock', 'bash') }, async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const first = await bash(t, 'exec 9>"$1"; $SOLELY lock --fd 9 -n || exit 1; echo locked; read line; $SOLELY unlock --fd 9; echo unlocked; read line', [file]);
  assert.equal(first.firstLine, 'locked');
  // solely has exited: the shell's open file holds the lock, as after `flock -n 9`.
  const second = await run(['-c', 'exec 9>"$1"; $SOLELY lock --fd 9 -n || exit 1; echo ran', 'script', file], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
  assert.deepEqual([second.status, second.stdout], [1, '']);
  assert.match(second.stderr, new RegExp(`^solely: ${file} is held by pid ${first.pid}, uid \\d+: bash`));
  assert.equal((await flock(['-n', file, 'true'])).status, 1);
  assert.equal((await run(['run', '--file', file, '--', 'true'])).status, 75);
  const expired = await run(['-c', 'exec 9<"$1"; $SOLELY lock --fd 9 -w 0.2 -E 4', 'script', file], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
  assert.equal(expired.status, 4);
  assert.match(expired.stderr, /timed out waiting for/);
  // A script that waits (flock -w) gets it when the first one unlocks.
  const waiting = run(['-c', 'exec 9<"$1"; $SOLELY lock --fd 9 --wait 30 && echo got it', 'script', file], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
  first.stdin.write('unlock\n');
  assert.equal(await new Promise((resolve) => first.lines.once('line', resolve)), 'unlocked');
  assert.deepEqual([(await waiting).status, (await waiting).stdout], [0, 'got it\n']);
  assert.equal((await flock(['-n', file, 'true'])).status, 0);
  first.stdin.end();
  await exited(first);
});

test('flock(1) scripts and solely lock --fd exclude each other both ways; --fcntl locks the fd with an OFD lock', { skip: needs('flock', 'bash') }, async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const flockScript = await bash(t, 'exec 9>"$1"; flock -n 9 || exit 1; echo locked; exec sleep 30', [file]);
  const refused = await run(['-c', 'exec 9>"$1"; $SOLELY lock --fd 9 -n', 'script', file], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
  assert.equal(refused.status, 75);
  const ofd = await run(['-c', 'exec 9>"$1"; $SOLELY lock --fcntl --fd 9 -n && echo ofd', 'script', file], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
  assert.deepEqual([ofd.status, ofd.stdout], [0, 'ofd\n'], 'an OFD lock does not conflict with flock(2)');
  await kill(flockScript);
  const fcntlHolder = await holder(t, 'fcntl', file);
  assert.equal((await run(['-c', 'exec 9>"$1"; $SOLELY lock --fcntl --fd 9 -n', 'script', file], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } })).status, 75);
  await kill(fcntlHolder);
  assert.ok(solely.tryLockFileSync(file));
});

test('lock --fd: an fd that is not open exits 1 with EBADF; no --fd, or an argument more, is a usage error', async () => {
  const closed = await run(['lock', '--fd', '99']);
  assert.equal(closed.status, 1);
  assert.match(closed.stderr, /^solely: .*EBADF/);
  for (const args of [['lock'], ['lock', '--fd', 'nine'], ['lock', '--fd', '0', 'extra'], ['unlock'], ['lock', '-c', 'x', '--fd', '0']]) {
    const result = await run(args);
    assert.equal(result.status, 64, args.join(' '));
    assert.match(result.stderr, /usage: solely run/);
  }
});

test('lock --fd locks the file the fd is open on, even once its path is unlinked or renamed', { skip: needs('bash') }, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'lockfile');
  const env = { ...process.env, SOLELY };
  const unlinked = await run(['-c', 'exec 9>"$1"; rm "$1"; $SOLELY lock --fd 9 -n && echo locked', 'script', file], { command: 'bash', prefix: [], env });
  assert.deepEqual([unlinked.status, unlinked.stdout], [0, 'locked\n']);
  const renamed = await bash(t, 'exec 9>"$1"; mv "$1" "$1.old"; $SOLELY lock --fd 9 -n && echo locked; exec sleep 30', [file]);
  assert.equal(renamed.firstLine, 'locked');
  assert.equal((await flock(['-n', `${file}.old`, 'true'])).status, 1, 'the renamed file is locked');
});

test('lock --fd N and unlock --fd N on a number the shell did not pass fail EBADF (1), never touching solely\'s own fds', { skip: needs('bash') }, async () => {
  for (const fd of [5, 7, 9, 11, 13, 15]) {
    for (const command of [`$SOLELY lock --fd ${fd} -n`, `$SOLELY unlock --fd ${fd}`]) {
      const result = await run(['-c', `exec ${fd}>&-; ${command}`], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
      assert.equal(result.status, 1, `${command}: ${result.stderr}`);
      assert.match(result.stderr, /EBADF/, command);
    }
  }
});

test('a short option is named as typed in every usage error: -s where status does not take it, -E, -w and -c with a bad or no value', async () => {
  for (const [args, line] of [
    [['status', '--abstract', 'x', '-s'], 'solely: unknown option -s\n'],
    [['status', '--abstract', 'x', '-nv'], 'solely: unknown option -n\n'],
    [['lock', '--fd', '9', '-x'], 'solely: unknown option -x\n'],
    [['list', '-q'], 'solely: unknown option -q\n'],
    [['run', '--file', '/tmp/x', '-E', 'x', 'true'], "solely: -E takes an integer from 0 to 255, not 'x'\n"],
    [['run', '--file', '/tmp/x', '-w', 'x', 'true'], 'solely: -w takes a number of seconds, not x\n'],
    [['run', '--file', '/tmp/x', '-c'], 'solely: -c needs a value\n'],
    [['run', '--file', '/tmp/x', '--timeout=x', 'true'], 'solely: --timeout takes a number of seconds, not x\n'],
  ]) {
    const result = await run(args);
    assert.equal(result.status, 64, args.join(' '));
    assert.ok(result.stderr.startsWith(line), `${args.join(' ')}: ${result.stderr}`);
  }
});

test('-E, --slots and --fd take decimal digits only: a blank, 1e0, 0x3, 0b11 or 3.0 is a usage error (64), never success against a held lock', { skip: needs('flock', 'bash') }, async (t) => {
  const file = path.join(tempDir(t), 'lockfile');
  const holding = await spawnReady(t, 'flock', [file, 'sh', '-c', 'echo locked; exec sleep 30'], { detached: true });
  for (const bad of ['', ' ', '1e0', '0x3', '0b11', '3.0', '+3', '256', '-1']) {
    const script = await run(['-c', 'exec 9>"$1"; $SOLELY lock -E "$2" --fd 9', 'script', file, bad], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
    assert.equal(script.status, 64, `lock -E '${bad}'`);
    assert.match(script.stderr, /^solely: -E takes an integer from 0 to 255, not '/);
    for (const args of [['-E', bad], [`--conflict-exit-code=${bad}`], ...(bad === '256' ? [] : [['--slots', bad]])]) {
      const result = await run(['run', '--file', file, ...args, '--', 'true']);
      assert.equal(result.status, 64, args.join(' '));
    }
    if (bad !== '256') assert.equal((await run(['lock', '--fd', bad])).status, 64, `--fd '${bad}'`);
  }
  // Digits still work, and a held lock still gives the code asked for.
  assert.equal((await run(['run', '--file', file, '-E', '0', '--', 'true'])).status, 0);
  assert.equal((await run(['run', '--file', file, '-E', '255', '--', 'true'])).status, 255);
  await kill(holding);
});

test('COMMAND inherits the fds the caller passed, as flock(1)\'s does (files, a pipe), but not a /dev/null one; -o passes them too, without the lock', { skip: needs('flock', 'bash') }, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'lockfile');
  const passed = path.join(dir, 'passed');
  fs.writeFileSync(passed, '');
  // Prints "N:what fd N is" for each fd the caller opened, as COMMAND sees it.
  const show = 'for n in 3 5 7 8 9 20; do [ -e /proc/self/fd/$n ] && printf "%s:%s " $n "$(readlink /proc/self/fd/$n | sed "s/:.*//")"; done';
  const script = (wrap) => `exec 3<"$2" 5<"$2" 7<"$2" 20<"$2" 8</dev/null 9< <(echo); ${wrap} sh -c '${show}'`;
  const seen = async (wrap) => {
    const result = await run(['-c', script(wrap), 'script', file, passed], { command: 'bash', prefix: [], env: { ...process.env, SOLELY } });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim().split(' ');
  };
  const fds = (list) => list.filter((entry) => !entry.startsWith('3:') && !entry.startsWith('8:'));
  const byFlock = await seen('flock "$1"');
  assert.deepEqual(fds(byFlock), [`5:${passed}`, `7:${passed}`, '9:pipe', `20:${passed}`]);
  // solely: the same fds, fd 3 the lock (SOLELY_LOCK_FD), and no /dev/null fd, which Node keeps one of.
  assert.deepEqual(await seen('$SOLELY run --file "$1" --'), [`3:${file}`, ...fds(byFlock)]);
  assert.deepEqual(await seen('$SOLELY run -o --file "$1" --'), [`3:${passed}`, ...fds(byFlock)]);
  assert.deepEqual(await seen('$SOLELY run --abstract "solely-fds-$$" --'), ['3:socket', ...fds(byFlock)]);
});

test('the guard a PostgreSQL or Redis run spawns COMMAND through passes COMMAND the fds it is told the caller passed', async (t) => {
  const passed = path.join(tempDir(t), 'passed');
  fs.writeFileSync(passed, '');
  const fd = fs.openSync(passed, 'r');
  t.after(() => fs.closeSync(fd));
  const guard = path.join(path.dirname(CLI), 'cli', 'guard.js');
  const result = await run([guard, String(process.pid), '5,7', '--', 'sh', '-c', 'readlink /proc/self/fd/5 /proc/self/fd/7'], { prefix: [], stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', fd, 'ignore', fd] });
  assert.deepEqual([result.status, result.stdout], [0, `${passed}\n${passed}\n`], result.stderr);
});
