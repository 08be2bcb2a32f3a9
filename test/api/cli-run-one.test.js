'use strict';
// run-one's modes in `solely run` (no target: one per command line and user; --replace;
// --respawn; --max-runtime) and `solely list`, across real processes.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('../..');
const { FIXTURES, uniqueName, tempDir, spawnReady, holder, kill, exited, needs, hasOpen, ROOT, CLI } = require('../support/helpers');

/** Runs the CLI to its end: { status, signal, stdout, stderr }; .child is the process. */
function run(args) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolve) => child.once('close', (status, signal) => resolve({ status, signal, stdout, stderr })));
  done.child = child;
  return done;
}

/** The documented derivation: "solely-run/UID/" and SHA-256 of each word followed by a NUL. */
function derivedName(words) {
  const hash = createHash('sha256');
  for (const word of words) hash.update(`${word}\0`);
  return `solely-run/${process.getuid()}/${hash.digest('hex')}`;
}

test('no target: the same command line never runs twice at once for one user; its lock is the documented abstract name', async (t) => {
  const script = `echo ready; exec sleep 30 # ${uniqueName()}`;
  const first = await spawnReady(t, process.execPath, [CLI, 'run', '-c', script], { detached: true });
  // -c STRING is the command line sh -c STRING.
  const name = derivedName(['sh', '-c', script]);
  const second = await run(['run', '--', 'sh', '-c', script]);
  assert.equal(second.status, 75);
  assert.match(second.stderr, new RegExp(`^solely: @${name} is held by pid \\d+`));
  assert.notEqual(solely.whoHolds({ abstract: name }), null);
  // Another command line is another lock.
  assert.equal((await run(['run', '--', 'sh', '-c', script.replace('sleep 30', 'true')])).status, 0);
  const status = await run(['status', '--abstract', name]);
  assert.equal(status.status, 0);
  // SIGKILL to the group: COMMAND, which inherited the lock, may still be dying once the wrapper
  // is reaped, so a waiter (woken when the last holder's fd closes) proves the lock came free.
  await kill(first);
  (await solely.lockAbstract(name, { wait: 20_000 })).release();
});

test('no target: arguments that are not UTF-8 are hashed as their bytes: the bytes 0xfe and 0xff are two locks, and the documented printf and sha256sum recipe names the one held', { skip: needs('bash', 'sha256sum') }, async (t) => {
  const script = `echo ready; exec cat # ${uniqueName()}`;
  // bash passes the bytes \xff and \xfe as they are; Node's spawn would encode text as UTF-8.
  const line = (byte) => `"$NODE" "$SOLELY" run -- sh -c "$1" x $'\\x${byte}'`;
  const env = { ...process.env, NODE: process.execPath, SOLELY: CLI };
  const bash = (command) => spawn('bash', ['-c', command, 'bash', script], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const status = (command) => new Promise((resolve) => bash(command).once('exit', resolve));
  const first = await spawnReady(t, 'bash', ['-c', `exec ${line('ff')}`, 'bash', script], { env });
  assert.equal(await status(line('ff')), 75, 'the same bytes: the same lock');
  assert.equal(await status(line('fe')), 0, 'another byte: another lock');
  const hashed = bash(`printf '%s\\0' sh -c "$1" x $'\\xff' | sha256sum`);
  let hash = '';
  hashed.stdout.on('data', (d) => (hash += d));
  await new Promise((resolve) => hashed.once('close', resolve));
  const name = `solely-run/${process.getuid()}/${hash.slice(0, 64)}`;
  assert.equal(solely.whoHolds({ abstract: name })?.pid, first.pid);
  first.stdin.end();
  await exited(first);
});

test('no target with --slots N: at most N copies of the command line run at once, in the slots solely-run/UID/HASH and HASH.i', async (t) => {
  const script = `echo ready $SOLELY_SLOT; exec cat # ${uniqueName()}`;
  const copy = () => spawnReady(t, process.execPath, [CLI, 'run', '--slots', '2', '--', 'sh', '-c', script]);
  const copies = [await copy(), await copy()];
  assert.deepEqual(copies.map((c) => c.firstLine).sort(), ['ready 0', 'ready 1']);
  const third = await run(['run', '--slots', '2', '--', 'sh', '-c', script]);
  assert.equal(third.status, 75);
  assert.match(third.stderr, /all 2 slots are held/);
  const name = derivedName(['sh', '-c', script]);
  const holders = [solely.whoHolds({ abstract: name }), solely.whoHolds({ abstract: `${name}.1` })];
  assert.deepEqual(holders.map((h) => h?.pid).sort(), copies.map((c) => c.pid).sort());
  for (const c of copies) c.stdin.end();
  await Promise.all(copies.map((c) => exited(c)));
});

/** A node process that holds a file lock, ignores SIGTERM if asked, and prints "locked". */
function stubbornHolder(t, file, ignoreTerm) {
  const script = `const lock = require(${JSON.stringify(ROOT)}).lockFileSync(${JSON.stringify(file)});
    ${ignoreTerm ? "process.on('SIGTERM', () => console.log('ignored SIGTERM'));" : ''}
    console.log('locked'); setInterval(() => {}, 1 << 30);`;
  return spawnReady(t, process.execPath, ['-e', script]);
}

test('--replace ends the holder with SIGTERM, or SIGKILL after --kill-after if it stays, then runs; a free lock is simply taken', async (t) => {
  const file = path.join(tempDir(t), 'job.lock');
  const polite = await stubbornHolder(t, file, false);
  const replaced = await run(['run', '--replace', '-v', '--file', file, '--', 'echo', 'replaced']);
  assert.deepEqual([replaced.status, replaced.stdout], [0, 'replaced\n']);
  assert.match(replaced.stderr, new RegExp(`^solely: sent SIGTERM to pid ${polite.pid}, which holds the lock\\n`));
  await exited(polite);
  assert.equal(polite.signalCode, 'SIGTERM');

  const stubborn = await stubbornHolder(t, file, true);
  const said = [];
  stubborn.lines.on('line', (line) => said.push(line));
  const forced = await run(['run', '--replace', '--kill-after', '0.1', '-v', '--file', file, '--', 'echo', 'forced']);
  assert.deepEqual([forced.status, forced.stdout], [0, 'forced\n']);
  assert.match(forced.stderr, /sent SIGTERM to pid \d+.*\n.*sent SIGKILL to pid \d+/);
  await exited(stubborn);
  assert.equal(stubborn.signalCode, 'SIGKILL');
  assert.deepEqual(said, ['ignored SIGTERM']);

  assert.equal((await run(['run', '--replace', '--file', file, '--', 'true'])).status, 0);
});

test('--replace starts over when another process holds the lock after the first is killed: COMMAND that inherited it, behind a wrapper', async (t) => {
  const file = path.join(tempDir(t), 'job.lock');
  const command = "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1 << 30)";
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--file', file, '--', process.execPath, '-e', command], { detached: true });
  const replaced = await run(['run', '--replace', '--kill-after', '0.1', '-v', '--file', file, '--', 'echo', 'replaced']);
  assert.deepEqual([replaced.status, replaced.stdout], [0, 'replaced\n']);
  const signalled = [...replaced.stderr.matchAll(/sent (SIGTERM|SIGKILL) to pid (\d+)/g)].map(([, signal, pid]) => `${signal} ${pid === String(wrapper.pid) ? 'wrapper' : 'other'}`);
  // The wrapper stays while its COMMAND ignores SIGTERM; killed, it leaves the lock to COMMAND: the next holder.
  assert.deepEqual(signalled, ['SIGTERM wrapper', 'SIGKILL wrapper', 'SIGTERM other', 'SIGKILL other']);
  await exited(wrapper);
});

test('--replace signals the process that holds the lock, never the PID a pidfile names; a holder it cannot verify is not replaced (77)', { skip: needs('python3') }, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'job.pid');
  const innocent = await spawnReady(t, 'sh', ['-c', 'echo up; exec sleep 30']);
  const holding = await holder(t, 'file', pidfile);
  fs.writeFileSync(pidfile, `${innocent.pid}\n`);
  const replaced = await run(['run', '--replace', '--pidfile', pidfile, '--', 'echo', 'ran']);
  assert.deepEqual([replaced.status, replaced.stdout], [0, 'ran\n']);
  await exited(holding);
  assert.equal(innocent.exitCode, null, 'the PID in the file was left alone');
  assert.equal(innocent.signalCode, null);

  // The socket is in flight (SCM_RIGHTS, not received): the name is bound, but no process has it.
  const name = uniqueName();
  await spawnReady(t, 'python3', [path.join(FIXTURES, 'fd-in-flight.py'), 'abstract', name]);
  const refused = await run(['run', '--replace', '--abstract', name, '--', 'echo', 'x']);
  assert.deepEqual([refused.status, refused.stdout], [77, '']);
  assert.match(refused.stderr, new RegExp(`^solely: ${name}: the lock is held by a process solely cannot see`));
  assert.equal((await run(['run', '--replace', '--postgres', 'postgres://x', '--key', 'k', '--', 'true'])).status, 64);
});

test('--max-runtime ends COMMAND with SIGTERM, then SIGKILL after --kill-after, and exits 124; a COMMAND done in time keeps its status', async (t) => {
  const file = path.join(tempDir(t), 'job.lock');
  const stays = await run(['run', '--max-runtime', '1', '--kill-after', '0.05', '--file', file, '--', process.execPath, '-e', "process.on('SIGTERM', () => console.log('TERM')); console.log('ready'); setInterval(() => {}, 1 << 30)"]);
  assert.equal(stays.status, 124);
  assert.match(stays.stderr, /--max-runtime/);
  // Ready in time (as on any machine not starved for a second), it ignored SIGTERM: SIGKILL ended it.
  if (stays.stdout !== '') assert.equal(stays.stdout, 'ready\nTERM\n');
  const goes = await run(['run', '--max-runtime', '0.05', '--file', file, '--', 'sleep', '30']);
  assert.equal(goes.status, 124);
  assert.equal((await run(['run', '--max-runtime', '30', '--file', file, '--', 'sh', '-c', 'exit 3'])).status, 3);
  assert.ok(solely.tryLockFileSync(file), 'the lock is free after');
});

test('--max-runtime 0 is no limit, as timeout 0 is; --max-runtime signals COMMAND alone, not its process group', { skip: needs('timeout') }, async (t) => {
  const dir = tempDir(t);
  // COMMAND says it is ready, then waits for a line: only a SIGTERM could end it before.
  const waiting = (args) => spawnReady(t, args[0], [...args.slice(1), 'sh', '-c', 'echo ready; read line; exit 7'], { stdio: ['pipe', 'pipe', 'pipe'] });
  for (const args of [['timeout', '0'], [process.execPath, CLI, 'run', '--max-runtime', '0', '--file', path.join(dir, 'job.lock'), '--']]) {
    const child = await waiting(args);
    child.stdin.end('go\n');
    await exited(child);
    assert.equal(child.exitCode, 7, args.join(' '));
  }
  // A process COMMAND started in the background stays when --max-runtime ends COMMAND.
  const left = await run(['run', '--max-runtime', '1', '--file', path.join(dir, 'job.lock'), '--', 'sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!; exec sleep 30']);
  assert.equal(left.status, 124);
  // Started in time (as on any machine not starved for a second), the background process runs on.
  if (left.stdout === '') return;
  assert.match(left.stdout, /^\d+\n$/);
  const pid = Number(left.stdout);
  t.after(() => process.kill(pid, 'SIGKILL'));
  assert.doesNotThrow(() => process.kill(pid, 0), 'the background process still runs');
});

test('--respawn runs COMMAND again under the one lock, with --backoff between runs, until --until-success; no other run gets in meanwhile', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'job.lock');
  const counter = path.join(dir, 'runs');
  // Each run tries the lock from outside (a new open file): it must be held, every time.
  const script = `const fs = require('fs'); const { spawnSync } = require('child_process');
    const n = (fs.existsSync(${JSON.stringify(counter)}) ? Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')) : 0) + 1;
    fs.writeFileSync(${JSON.stringify(counter)}, String(n));
    const other = spawnSync(process.execPath, [${JSON.stringify(CLI)}, 'run', '-q', '--file', ${JSON.stringify(file)}, '--', 'true']).status;
    console.log('run', n, 'other', other); process.exit(n >= 3 ? 0 : 1);`;
  const result = await run(['run', '--respawn', '--until-success', '--backoff', '0.01', '-v', '--file', file, '--', process.execPath, '-e', script]);
  assert.equal(result.status, 0);
  assert.equal(result.stdout, 'run 1 other 75\nrun 2 other 75\nrun 3 other 75\n');
  assert.match(result.stderr, /exited with 1; running it again in 0.01 s\n[^]*exited with 1; running it again in 0.02 s\n/);
  // The default: 1 s before the second run.
  const second = path.join(dir, 'second');
  const slow = await run(['run', '--respawn', '--until-success', '-v', '--file', file, '--', 'sh', '-c', `[ -e ${second} ] || { touch ${second}; exit 1; }`]);
  assert.equal(slow.status, 0);
  assert.match(slow.stderr, /exited with 1; running it again in 1 s\n/);
  const failing = await run(['run', '--respawn', '--until-failure', '--backoff', '0', '--file', file, '--', 'sh', '-c', 'exit 4']);
  assert.equal(failing.status, 4);
  assert.ok(solely.tryLockFileSync(file), 'the lock is free after');
});

test('--respawn keeps the lock between runs: a waiter gets it only once the respawning ends', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'job.lock');
  const counter = path.join(dir, 'runs');
  // Run 1 ends (exit 1) when a line comes on stdin; run 2 exits 0 at once.
  const script = `const fs = require('fs');
    const n = (fs.existsSync(${JSON.stringify(counter)}) ? 1 : 0) + 1;
    fs.writeFileSync(${JSON.stringify(counter)}, '');
    console.log('run', n);
    if (n === 1) require('readline').createInterface({ input: process.stdin }).once('line', () => process.exit(1));`;
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--respawn', '--until-success', '--backoff', '0.05', '--file', file, '--', process.execPath, '-e', script]);
  assert.equal(wrapper.firstLine, 'run 1');
  const lines = [];
  wrapper.lines.on('line', (line) => lines.push(line));
  const ended = [];
  const wrapperDone = new Promise((resolve) => wrapper.once('close', (code) => resolve(ended.push('wrapper') && code)));
  const waiter = run(['run', '--wait', '--file', file, '--', 'echo', 'waiter']);
  waiter.then(() => ended.push('waiter'));
  await hasOpen(waiter.child, file);
  wrapper.stdin.write('go\n');
  assert.equal(await wrapperDone, 0);
  assert.deepEqual([(await waiter).status, (await waiter).stdout], [0, 'waiter\n']);
  assert.deepEqual(lines, ['run 2']);
  assert.deepEqual(ended, ['wrapper', 'waiter']);
});

test('--respawn: SIGTERM or SIGINT to the wrapper reaches COMMAND and ends the respawning; a COMMAND not found is not tried again', async (t) => {
  const file = path.join(tempDir(t), 'job.lock');
  for (const signal of ['SIGTERM', 'SIGINT']) {
    const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--respawn', '--backoff', '0', '--file', file, '--', 'sh', '-c', 'echo run; exec sleep 30']);
    const lines = [wrapper.firstLine];
    wrapper.lines.on('line', (line) => lines.push(line));
    wrapper.kill(signal);
    const [code] = await new Promise((resolve) => wrapper.once('close', (...a) => resolve(a)));
    assert.equal(code, 128 + os.constants.signals[signal], signal);
    assert.deepEqual(lines, ['run'], signal);
  }
  const missing = await run(['run', '--respawn', '--backoff', '0', '--file', file, '--', path.join(path.dirname(file), 'nowhere')]);
  assert.equal(missing.status, 127);
  assert.equal(missing.stderr.match(/command not found/g).length, 1);
});

test('list shows flock, OFD, pidfile and abstract locks with their holders, and takes none', async (t) => {
  const dir = tempDir(t);
  const flocked = path.join(dir, 'a.lock');
  const ofd = path.join(dir, 'b.lock');
  const pidfile = path.join(dir, 'c.pid');
  const name = uniqueName();
  const holders = [await holder(t, 'file', flocked), await holder(t, 'fcntl', ofd), await holder(t, 'abstract', name)];
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', '--pidfile', pidfile, '--', 'sh', '-c', 'echo $$; exec sleep 30'], { detached: true });
  const listed = await run(['list', '--json']);
  assert.equal(listed.status, 0);
  const locks = JSON.parse(listed.stdout);
  const find = (target) => locks.find((lock) => lock.target === target);
  assert.deepEqual(find(flocked), { kind: 'file', target: flocked, method: 'flock', mode: 'exclusive', holder: { pid: holders[0].pid, uid: process.getuid(), command: find(flocked).holder.command } });
  assert.match(find(flocked).holder.command, /hold\.js file/);
  assert.equal(find(ofd).method, 'ofd');
  assert.equal(find(ofd).holder.pid, holders[1].pid);
  assert.deepEqual([find(name).kind, find(name).holder.pid], ['abstract', holders[2].pid]);
  const entry = find(pidfile);
  assert.deepEqual([entry.kind, entry.pid], ['pidfile', Number(wrapper.firstLine)]);
  assert.ok(!Number.isNaN(Date.parse(entry.since)));
  const text = await run(['list']);
  assert.ok(text.stdout.includes(`${flocked} (file, flock, exclusive): held by pid ${holders[0].pid}`), text.stdout);
  assert.ok(text.stdout.includes(`@${name} (abstract): held by pid ${holders[2].pid}`), text.stdout);
  // Still held by the same holders: listing took nothing.
  assert.equal(solely.tryLockFileSync(flocked), null);
  assert.equal(solely.whoHolds({ abstract: name }).pid, holders[2].pid);
  await kill(wrapper);
  assert.equal((await run(['list', 'extra'])).status, 64);
});

test('list names a lock by its exact bytes: an abstract name\'s newline kept; bytes that are not UTF-8, in a name or a path, in targetHex and escaped byte by byte in the text', { skip: needs('python3') }, async (t) => {
  const dir = tempDir(t);
  const name = `${uniqueName()}\nsecond line`;
  const newline = await holder(t, 'abstract', name);
  // Bytes no Node string can bind or create: Python binds and locks them as they are.
  const prefix = uniqueName();
  const script = `import fcntl, os, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(b'\\0' + sys.argv[1].encode() + b'-\\xff\\xc3-\\xc3\\xa9')
f = os.open(sys.argv[2].encode() + b'/\\xfe.lock', os.O_CREAT | os.O_RDWR); fcntl.flock(f, fcntl.LOCK_EX)
print('locked', flush=True); time.sleep(60)`;
  const bytes = await spawnReady(t, 'python3', ['-c', script, prefix, dir]);
  const locks = JSON.parse((await run(['list', '--json'])).stdout);
  assert.deepEqual(locks.filter((lock) => lock.target.startsWith(name.split('\n')[0])), [{ kind: 'abstract', target: name, holder: locks.find((lock) => lock.target === name).holder }]);
  assert.equal(locks.find((lock) => lock.target === name).holder.pid, newline.pid);
  const abstract = locks.find((lock) => lock.target.startsWith(prefix));
  const nameHex = Buffer.concat([Buffer.from(prefix), Buffer.from([0x2d, 0xff, 0xc3, 0x2d, 0xc3, 0xa9])]).toString('hex');
  assert.deepEqual(abstract, { kind: 'abstract', target: `${prefix}-\uFFFD\uFFFD-é`, targetHex: nameHex, holder: abstract.holder });
  assert.equal(abstract.holder.pid, bytes.pid);
  const file = locks.find((lock) => lock.kind === 'file' && lock.target.startsWith(dir));
  assert.deepEqual([file.target, file.targetHex, file.holder.pid], [`${dir}/\uFFFD.lock`, Buffer.from(`${dir}/\xfe.lock`, 'latin1').toString('hex'), bytes.pid]);
  const text = `\n${(await run(['list'])).stdout}`; // each lock a line of its own
  assert.ok(text.includes(`\n@${name.replace('\n', '\\n')} (abstract): held by pid ${newline.pid}`), text);
  assert.ok(text.includes(`\n@${prefix}-\\xff\\xc3-é (abstract): held by pid ${bytes.pid}`), text);
  assert.ok(text.includes(`\n${dir}/\\xfe.lock (file, flock, exclusive): held by pid ${bytes.pid}`), text);
});

test('list: a lock no process shows among its fds: the file as MAJ:MIN:INODE with /proc/locks\' PID, the abstract name with its owner\'s uid', { skip: needs('python3') }, async (t) => {
  const file = path.join(tempDir(t), 'in-flight.lock');
  const name = uniqueName();
  const fileSender = await spawnReady(t, 'python3', [path.join(FIXTURES, 'fd-in-flight.py'), 'file', file]);
  await spawnReady(t, 'python3', [path.join(FIXTURES, 'fd-in-flight.py'), 'abstract', name]);
  const locks = JSON.parse((await run(['list', '--json'])).stdout);
  const { ino } = fs.statSync(file);
  const hidden = locks.find((lock) => lock.kind === 'file' && lock.target.endsWith(`:${ino}`));
  assert.deepEqual(hidden, { kind: 'file', target: hidden.target, method: 'flock', mode: 'exclusive', holder: { pid: fileSender.pid } });
  assert.match(hidden.target, /^[0-9a-f]+:[0-9a-f]+:\d+$/);
  assert.deepEqual(locks.find((lock) => lock.target === name), { kind: 'abstract', target: name, holder: { uid: process.getuid() } });
});

test('list reads a locked device without blocking: a flocked /dev/zero is listed, never read as a pidfile', { skip: needs('flock') }, async (t) => {
  const locker = await spawnReady(t, 'flock', ['/dev/zero', 'sh', '-c', 'echo ready; exec sleep 30'], { detached: true });
  const listing = run(['list', '--json']);
  // Only so that a hang fails here, as a kill, rather than at the suite's timeout.
  const guard = setTimeout(() => listing.child.kill('SIGKILL'), 60_000);
  const listed = await listing;
  clearTimeout(guard);
  assert.equal(listed.status, 0, listed.stderr);
  const zero = JSON.parse(listed.stdout).find((lock) => lock.target === '/dev/zero');
  assert.ok(zero, '/dev/zero is listed');
  assert.notEqual(zero.kind, 'pidfile');
  await kill(locker);
});

test('--max-runtime, --kill-after and --backoff beyond what Node timers take are usage errors (64), never a timer that fires at once', async () => {
  for (const args of [['--max-runtime', '2147484'], ['--max-runtime', '1', '--kill-after', '2592000'], ['--respawn', '--backoff', '2592000']]) {
    const refused = await run(['run', ...args, '--', 'true']);
    assert.equal(refused.status, 64, args.join(' '));
    assert.match(refused.stderr, /takes at most 2147483\.647 seconds/);
  }
  assert.equal((await run(['run', '--max-runtime', '2147483', '--', 'true'])).status, 0);
});

test('--until-success and --until-failure exclude each other, and each goes with --respawn: usage errors (64), before COMMAND runs', async (t) => {
  const marker = path.join(tempDir(t), 'ran');
  // Each COMMAND ends the respawning the last option would ask for: a refusal is all that fails it.
  for (const [args, status] of [[['--respawn', '--until-success', '--until-failure'], 1], [['--respawn', '--until-failure', '--until-success'], 0], [['--until-success'], 0], [['--until-failure'], 1]]) {
    const refused = await run(['run', '--abstract', uniqueName(), ...args, '--', 'sh', '-c', `touch ${marker}; exit ${status}`]);
    assert.equal(refused.status, 64, args.join(' '));
    assert.match(refused.stderr, /^solely: --until-(success and --until-failure exclude each other|success goes with --respawn|failure goes with --respawn)\nusage: /, args.join(' '));
  }
  assert.equal(fs.existsSync(marker), false, 'COMMAND never ran');
  // The same one twice is that one.
  assert.equal((await run(['run', '--abstract', uniqueName(), '--respawn', '--until-success', '--until-success', '--', 'true'])).status, 0);
});
