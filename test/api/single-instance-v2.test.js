'use strict';
// singleInstance's second edition: focus tokens, environment, attach, replace, sandboxes, and
// the protocol 2 fields against protocol 1 peers and hostile ones.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('../..');
const { FIXTURES, NOBODY, spawnLines: start, uniqueName, tempDir, exited, abstractBound, readableFixture } = require('../support/helpers');

const APP = path.join(FIXTURES, 'single-instance-v2.js');
const PEER = path.join(FIXTURES, 'single-instance-v2-peer.py');
const PTY = path.join(FIXTURES, 'pty-launch.py');
const USER = `solely/user/${process.getuid()}`;

function app(t, config, args = [], options = {}) {
  return start(t, process.execPath, [APP, JSON.stringify(config), ...args], options);
}

async function primary(t, config) {
  const child = app(t, config);
  assert.equal(await child.next(), 'primary');
  return child;
}

/** The fixture primary's JSON answer to a line on its stdin ("fds", "ttys", "links"). */
async function asked(child, line) {
  child.stdin.write(`${line}\n`);
  return child.nextJSON();
}

/** O_NONBLOCK of the open file behind pid's fd, as /proc shows it. */
function nonBlocking(pid, fd) {
  const flags = parseInt(/^flags:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))[1], 8);
  return (flags & fs.constants.O_NONBLOCK) !== 0;
}

function envWithout(...names) {
  const env = { ...process.env };
  for (const name of names) delete env[name];
  return env;
}

test('focus tokens always arrive in message.activation; env forwards all or the named variables; a secondary keeps no token it handed on', async (t) => {
  const id = uniqueName('si2-env');
  const first = await primary(t, { id });
  const env = { ...envWithout('XDG_ACTIVATION_TOKEN', 'DESKTOP_STARTUP_ID'), XDG_ACTIVATION_TOKEN: 'wayland-token', DESKTOP_STARTUP_ID: 'x11_TIME42', SI2_A: 'a=1', SI2_B: 'b' };
  const named = app(t, { id, options: { env: ['SI2_A', 'SI2_MISSING'] } }, ['named'], { env });
  assert.deepEqual(await first.nextJSON(), { args: ['named'], activation: { xdgActivationToken: 'wayland-token', desktopStartupId: 'x11_TIME42' }, env: { SI2_A: 'a=1' }, attached: false, pid: named.pid });
  assert.deepEqual(await named.nextJSON(), { primary: false, tokens: [] });

  const all = app(t, { id, options: { env: true } }, ['all'], { env });
  const message = await first.nextJSON();
  assert.deepEqual(message.env, { ...env });
  await all.next();

  const plain = app(t, { id }, ['plain'], { env: envWithout('XDG_ACTIVATION_TOKEN', 'DESKTOP_STARTUP_ID') });
  const bare = await first.nextJSON();
  assert.deepEqual(bare.activation, {});
  assert.equal('env' in bare, false);
  await plain.next();
  // The primary's own environment never takes a launch's values.
  assert.equal(process.env.SI2_A, undefined);
});

test('options.env, options.attach and options.replace are checked before anything is sent', async () => {
  const id = uniqueName('si2-options');
  for (const options of [{ env: 'yes' }, { env: ['A=B'] }, { env: [''] }, { attach: 1 }, { replace: { grace: -1 } }, { replace: { grac: 5 } }, { replace: 'now' }]) {
    await assert.rejects(solely.singleInstance(id, options), (error) => /^ERR_INVALID_ARG_(VALUE|TYPE)$/.test(error.code), JSON.stringify(options));
  }
  await assert.rejects(solely.singleInstance(id, { replace: { grac: 5 } }), /did you mean 'grace'/);
});

test("attach: the primary writes to the launch's own pipe, reads its stdin (a pipe, a file, a closed stdin), and exit(code) ends the launch with code", async (t) => {
  const id = uniqueName('si2-attach');
  const first = await primary(t, { id });
  const dir = tempDir(t);

  const piped = app(t, { id, options: { attach: true } }, ['exit', '7'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  piped.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  assert.equal(await piped.next(), 'out exit 7'); // written by the primary, straight into our pipe
  piped.stdin.end('typed text');
  assert.equal(await piped.next(), 'in typed text');
  assert.deepEqual(await piped.nextJSON(), { primary: false, reply: { args: ['exit', '7'] }, exitCode: 7, tokens: [] });
  assert.equal(await piped.exitStatus, 7);
  assert.equal(stderr, 'err\n');
  assert.deepEqual((await first.nextJSON()).terminal, [null, null, null]); // no isTTY off a terminal

  const input = path.join(dir, 'input');
  fs.writeFileSync(input, 'from a file');
  const output = path.join(dir, 'output');
  const fromFile = spawn(process.execPath, [APP, JSON.stringify({ id, options: { attach: true } }), 'exit', '0'], { stdio: [fs.openSync(input, 'r'), fs.openSync(output, 'w'), 'inherit'] });
  assert.equal(await new Promise((resolve) => fromFile.once('exit', resolve)), 0);
  assert.match(fs.readFileSync(output, 'utf8'), /^out exit 0\nin from a file\n\{"primary":false/);

  const closed = spawn('sh', ['-c', `exec "$0" "$@" <&-`, process.execPath, APP, JSON.stringify({ id, options: { attach: true } }), 'exit', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  closed.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
  const status = await new Promise((resolve) => closed.once('close', resolve));
  assert.equal(status, 2);
  assert.match(out, /^out exit 2\nin \n/);
  await first.nextJSON();
  await first.nextJSON();
});

test('attach: the launch waits until exit(); Ctrl-C in it is a cancel; the primary keeps none of its fds after', async (t) => {
  const id = uniqueName('si2-hold');
  const first = await primary(t, { id });
  const before = (await asked(first, 'fds')).fds;
  const held = app(t, { id, options: { attach: true, timeout: 100 } }, ['hold']);
  await first.nextJSON();
  assert.equal((await asked(first, 'fds')).fds, before + 4); // the connection and three stdio fds
  // Attached, the launch waits for exit() beyond its own timeout (100 ms).
  assert.equal(held.exitCode, null);
  first.stdin.write('exit 5\n');
  assert.equal(await held.exitStatus, 5);
  assert.equal((await asked(first, 'fds')).fds, before);

  // A launch that goes away before exit() (Ctrl-C): 'cancel', and its descriptors are closed with it.
  const gone = app(t, { id, options: { attach: true } }, ['hold']);
  await first.nextJSON();
  gone.kill('SIGINT');
  assert.equal(await gone.exitStatus, 'SIGINT'); // a shell shows 130
  assert.deepEqual(await first.nextJSON(), { cancel: gone.pid });
  assert.equal((await asked(first, 'fds')).fds, before);
});

/** The fixture as an attached launch in a pseudo-terminal of its own (pty-launch.py): its pid. */
async function inTerminal(t, id, args, stopped = false) {
  const driver = start(t, 'python3', [PTY, ...(stopped ? ['stopped'] : []), '--', process.execPath, APP, JSON.stringify({ id, options: { attach: true } }), ...args]);
  driver.pid = Number(/^pid (\d+)$/.exec(await driver.next())[1]);
  return driver;
}

test("attach: a launch whose terminal is stopped (Ctrl-S) never stalls the primary: its writes wait in the stream, other launches are served, and the launch's terminal stays blocking; a terminal's streams are isTTY", async (t) => {
  const id = uniqueName('si2-stopped');
  const first = await primary(t, { id });
  const terminal = await inTerminal(t, id, ['flood'], true);
  assert.deepEqual((await first.nextJSON()).terminal, [true, true, true]);
  // A primary blocked in a write would never answer this launch: it would time out.
  const other = app(t, { id }, ['meanwhile']);
  assert.equal((await other.nextJSON()).primary, false);
  const { flooded, full } = await first.nextJSON();
  assert.ok(flooded > 0 && full); // the lines wait in message.stdout, whose write() said it is full
  assert.deepEqual((await first.nextJSON()).args, ['meanwhile']);
  // The primary wrote through a description of its own: the launch's terminal is not non-blocking.
  for (const fd of [0, 1, 2]) assert.equal(nonBlocking(terminal.pid, fd), false, `fd ${fd}`);
  terminal.stdin.write('start\n'); // Ctrl-Q: the terminal takes the lines
  assert.deepEqual(await first.nextJSON(), { drained: terminal.pid });
  first.stdin.write('exit 4\n');
  const { status, output } = await terminal.nextJSON();
  assert.equal(status, 4);
  assert.match(output, /^line 0 from the primary\r\n[^]*line 4999 from the primary\r\n/);
});

test("attach: a launch whose stdout is a pipe or socket nobody reads never stalls the primary, and keeps its flags; gone, its streams close at once, unflushed", async (t) => {
  const id = uniqueName('si2-unread');
  const first = await primary(t, { id });
  for (const what of ['unread-pipe', 'unread-socket']) {
    const peer = start(t, 'python3', [PEER, `@${USER}/${id}`, 'attach', what, 'flood']);
    const { stdout } = await peer.nextJSON();
    const peerStdout = fs.readlinkSync(`/proc/${peer.pid}/fd/${stdout}`);
    assert.equal((await first.nextJSON()).attached, true);
    const other = app(t, { id }, ['meanwhile']);
    assert.equal((await other.nextJSON()).primary, false, what);
    assert.equal((await first.nextJSON()).full, true);
    await first.nextJSON(); // 'meanwhile'
    // Written through a description of the primary's own (a pipe) or with MSG_DONTWAIT (a socket).
    assert.equal(nonBlocking(peer.pid, stdout), false, what);
    assert.ok((await asked(first, 'links')).links.includes(peerStdout), what);
    peer.kill('SIGKILL');
    assert.deepEqual(await first.nextJSON(), { cancel: peer.pid });
    assert.ok(!(await asked(first, 'links')).links.includes(peerStdout), what);
  }
});

test('attach: launches in terminals leave the primary none of their terminal descriptors, after exit() and after going away (cancel)', async (t) => {
  const id = uniqueName('si2-ttys');
  const first = await primary(t, { id });
  const ttys = async () => (await asked(first, 'ttys')).ttys;
  const before = await ttys();
  for (const code of ['3', '4', '5']) {
    const terminal = await inTerminal(t, id, ['print', code]);
    assert.equal((await first.nextJSON()).attached, true);
    const { status, output } = await terminal.nextJSON();
    assert.equal(status, Number(code));
    assert.match(output, new RegExp(`^out print ${code}\r\n`));
    assert.equal(await ttys(), before);
  }
  const held = await inTerminal(t, id, ['hold']);
  await first.nextJSON();
  assert.equal(await ttys(), before + 3); // its stdin, stdout and stderr, reopened
  process.kill(held.pid, 'SIGINT');
  assert.deepEqual(await first.nextJSON(), { cancel: held.pid });
  assert.equal(await ttys(), before);
});

test('attach: a launch whose primary dies before exit() starts over as a new launch would: delivered again to the next primary, or the primary itself', async (t) => {
  const id = uniqueName('si2-lost');
  const first = await primary(t, { id, onReplace: 'ignore' });
  const launch = app(t, { id, options: { attach: true } }, ['flood']);
  const lines = async () => {
    for (let line = 0; line < 5000; line++) assert.equal(await launch.next(), `line ${line} from the primary`);
  };
  assert.equal((await first.nextJSON()).attached, true);
  assert.equal((await first.nextJSON()).full, true);
  await lines(); // what the first primary wrote reached the launch
  assert.deepEqual(await first.nextJSON(), { drained: launch.pid });
  // The launch stays stopped until the next primary holds the name, so that it cannot win the
  // name itself; the first primary dies still holding it.
  process.kill(launch.pid, 'SIGSTOP');
  const next = app(t, { id, options: { replace: { grace: 60_000 } } });
  assert.deepEqual(await first.nextJSON(), { replace: next.pid });
  first.kill('SIGKILL');
  assert.equal(await next.next(), 'primary');
  process.kill(launch.pid, 'SIGCONT');
  await lines(); // written by the next primary, to which the launch was delivered again
  const again = await next.nextJSON();
  assert.deepEqual([again.args, again.attached, again.pid], [['flood'], true, launch.pid]);
  next.kill('SIGKILL');
  assert.equal(await launch.next(), 'primary'); // no primary left: it is the primary
});

test('a Python peer written from docs/protocol.md: activation and env arrive, attach passes its stdio and gets the exit code', async (t) => {
  const id = uniqueName('si2-python');
  const first = await primary(t, { id });
  const fields = start(t, 'python3', [PEER, `@${USER}/${id}`, 'fields', JSON.stringify({ activation: { xdgActivationToken: 't' }, env: { K: 'v' } })]);
  assert.equal(await fields.next(), '{"protocol": 2}');
  const message = await first.nextJSON();
  assert.deepEqual([message.activation, message.env], [{ xdgActivationToken: 't' }, { K: 'v' }]);
  const attached = start(t, 'python3', [PEER, `@${USER}/${id}`, 'attach', 'stdio']);
  assert.equal(await attached.next(), 'out '); // the primary wrote to Python's own stdout
  attached.stdin.end('py');
  assert.equal(await attached.next(), 'in py');
  assert.equal(await attached.next(), '{"exit": 0, "protocol": 2, "reply": {"args": []}}');
});

const NO_STDIO = 'not a terminal, pipe, stream socket, regular file or memory device';

/** The Python peer's answer to an attach that passes what: the payload, or 'closed'. */
async function attachAnswer(t, id, what) {
  const peer = start(t, 'python3', [PEER, `@${USER}/${id}`, 'attach', what]);
  const answer = await peer.next();
  await exited(peer);
  return answer === 'closed' ? answer : JSON.parse(answer);
}

test('hostile attach peers (no fds, two, four, eight, a directory, an epoll fd, other text) get EBADF saying why; the primary keeps no fd and serves on', async (t) => {
  const id = uniqueName('si2-hostile');
  const first = await primary(t, { id });
  const before = (await asked(first, 'fds')).fds;
  const expected = {
    none: { why: '0 descriptors, not 3' },
    two: { why: '2 descriptors, not 3' },
    four: { why: '4 descriptors, not 3' },
    eight: { why: 'more than 4 descriptors, not 3' },
    dir: { fd: 0, why: NO_STDIO },
    epoll: { fd: 0, why: NO_STDIO },
    text: {},
  };
  for (const [what, fields] of Object.entries(expected)) assert.deepEqual(await attachAnswer(t, id, what), { error: 'EBADF', protocol: 2, ...fields }, what);
  for (const fields of [{ env: { A: 1 } }, { env: { 'A=B': 'x' } }, { env: [] }, { activation: { other: 'x' } }, { activation: { xdgActivationToken: 5 } }, { attach: 'yes' }, { replace: 1 }]) {
    const peer = start(t, 'python3', [PEER, `@${USER}/${id}`, 'fields', JSON.stringify(fields)]);
    assert.equal(await peer.next(), 'closed', JSON.stringify(fields));
  }
  assert.equal((await asked(first, 'fds')).fds, before);
  const served = app(t, { id }, ['after']);
  assert.deepEqual((await first.nextJSON()).args, ['after']);
  assert.equal((await served.nextJSON()).primary, false);
});

test("descriptors the primary cannot read or write as stdio get EBADF naming which and why (a file of the wrong access mode, O_PATH, a listening or datagram socket, /dev/tty, a pseudo-terminal master, another device, a named pipe whose reader is gone); a Node launch's error says so", async (t) => {
  const id = uniqueName('si2-refused');
  const first = await primary(t, { id });
  const before = (await asked(first, 'fds')).fds;
  const expected = {
    'wronly-in': { fd: 0, why: 'open only for writing' },
    'rdonly-out': { fd: 1, why: 'open only for reading' },
    'opath-out': { fd: 1, why: 'an O_PATH descriptor, which is neither read nor written' },
    'listening-out': { fd: 1, why: 'a listening socket' },
    'dgram-out': { fd: 1, why: 'a socket that is not a stream' },
    'ptmx-out': { fd: 1, why: "a terminal the primary cannot reopen as the launch's (/dev/tty, /dev/console or a pseudo-terminal master)" },
    'kmsg-out': { fd: 1, why: 'a device that may block' },
    'gone-reader-out': { fd: 1, why: 'a pipe the primary cannot reopen (ENXIO)' },
  };
  for (const [what, fields] of Object.entries(expected)) assert.deepEqual(await attachAnswer(t, id, what), { error: 'EBADF', protocol: 2, ...fields }, what);
  // /dev/tty opened by the primary would be its own terminal, not the launch's.
  const ttyPeer = start(t, 'python3', [PTY, '--', 'python3', PEER, `@${USER}/${id}`, 'attach', 'devtty-out']);
  await ttyPeer.next();
  const { output } = await ttyPeer.nextJSON();
  assert.deepEqual(JSON.parse(output), { error: 'EBADF', fd: 1, why: expected['ptmx-out'].why, protocol: 2 });
  assert.equal((await asked(first, 'fds')).fds, before);

  const launch = app(t, { id, options: { attach: true } }, [], { stdio: [fs.openSync('/dev/null', 'w'), 'pipe', 'inherit'] });
  const { error } = await launch.nextJSON();
  assert.deepEqual([error.code, error.syscall], ['EBADF', 'recv']);
  assert.equal(error.message, `recv EBADF: the primary cannot use this launch's stdin (fd 0) as stdio: open only for writing @${USER}/${id}`);
});

test("attach: a stdin that is never empty (/dev/zero), read by the primary, leaves it serving other launches; the launch's going away is a 'cancel'", async (t) => {
  const id = uniqueName('si2-zero');
  const first = await primary(t, { id });
  const zero = fs.openSync('/dev/zero', 'r');
  const endless = app(t, { id, options: { attach: true } }, ['sink'], { stdio: [zero, 'pipe', 'inherit'] });
  fs.closeSync(zero);
  assert.deepEqual((await first.nextJSON()).args, ['sink']);
  const plain = app(t, { id }, ['plain']);
  assert.equal((await plain.nextJSON()).primary, false);
  assert.deepEqual((await first.nextJSON()).args, ['plain']);
  endless.kill('SIGKILL');
  assert.deepEqual(await first.nextJSON(), { cancel: endless.pid });
});

test('attach: a regular file on a kernel interface (/proc), whose reads may block, is refused with EBADF naming it', async (t) => {
  const id = uniqueName('si2-procfile');
  const first = await primary(t, { id });
  const before = (await asked(first, 'fds')).fds;
  const version = fs.openSync('/proc/version', 'r');
  const launch = app(t, { id, options: { attach: true } }, [], { stdio: [version, 'pipe', 'inherit'] });
  fs.closeSync(version);
  const { error } = await launch.nextJSON();
  assert.equal(error.message, `recv EBADF: the primary cannot use this launch's stdin (fd 0) as stdio: a file on proc, whose reads and writes may block @${USER}/${id}`);
  assert.equal((await asked(first, 'fds')).fds, before);
});

test("attach: leaving a for await loop, or release(), with an attached launch not exit()ed lets the launch go: 'cancel', it starts over and becomes the primary, and the old process exits", async (t) => {
  const id = uniqueName('si2-break');
  const leaving = start(t, process.execPath, ['-e', `require(${JSON.stringify(path.join(FIXTURES, '../../..'))}).singleInstance(${JSON.stringify(id)}).then(async (p) => { console.log('primary'); for await (const m of p) { m.on('cancel', () => console.log('cancel')); break; } console.log('left'); })`]);
  assert.equal(await leaving.next(), 'primary');
  const launch = app(t, { id, options: { attach: true } }, ['hold']);
  assert.equal(await leaving.next(), 'cancel');
  assert.equal(await leaving.next(), 'left');
  assert.equal(await leaving.exitStatus, 0);
  assert.equal(await launch.next(), 'primary');

  const held = app(t, { id, options: { attach: true } }, ['hold']);
  assert.deepEqual((await launch.nextJSON()).args, ['hold']);
  launch.stdin.write('release\n');
  assert.deepEqual(await launch.nextJSON(), { cancel: held.pid });
  assert.equal(await launch.next(), 'released');
  assert.equal(await held.next(), 'primary');
});

test("a launch over the primary's maxMessageBytes fails with EMSGSIZE naming that limit, whether or not the socket took the whole message; the primary serves on", async (t) => {
  const id = uniqueName('si2-over');
  const first = await primary(t, { id, options: { maxMessageBytes: 4096 } });
  const before = (await asked(first, 'fds')).fds;
  // 8 KiB fits in the socket's buffer; 4 MiB does not, and its send fails (EPIPE) once the primary closes.
  for (const dataBytes of [8192, 4 << 20]) {
    const launch = app(t, { id, dataBytes, options: { maxMessageBytes: 8 << 20, timeout: 10_000 } });
    const { error } = await launch.nextJSON();
    assert.deepEqual([error.code, error.syscall, error.message], ['EMSGSIZE', 'send', `send EMSGSIZE: the message is over the primary's maxMessageBytes (4096) @${USER}/${id}`]);
  }
  const plain = app(t, { id }, ['plain']);
  assert.deepEqual((await first.nextJSON()).args, ['plain']);
  await plain.next();
  assert.equal((await asked(first, 'fds')).fds, before);
});

test('a huge environment over maxMessageBytes fails with EMSGSIZE before anything is sent; with nobody to send to, the launch becomes the primary', async (t) => {
  const id = uniqueName('si2-huge');
  const first = await primary(t, { id, options: { maxMessageBytes: 64 } }); // its own message is over 64 bytes
  const huge = app(t, { id, options: { env: true, maxMessageBytes: 4096 } }, [], { env: { ...process.env, HUGE: 'x'.repeat(8192) } });
  const { error } = await huge.nextJSON();
  assert.deepEqual([error.code, error.message], ['EMSGSIZE', `send EMSGSIZE: the message is over options.maxMessageBytes (4096) @${USER}/${id}`]);
  first.stdin.write('fds\n');
  assert.ok('fds' in (await first.nextJSON())); // nothing arrived before
  await primary(t, { id: uniqueName('si2-huge-replace'), options: { replace: true, maxMessageBytes: 64 } });
});

test('protocol 1 peers: a protocol 1 secondary is served by this primary; env and attach to a protocol 1 primary fail with EPROTONOSUPPORT, a plain launch works', async (t) => {
  const id = uniqueName('si2-v1');
  const first = await primary(t, { id });
  const client = start(t, 'python3', [path.join(FIXTURES, 'single-instance-client.py'), `@${USER}/${id}`, 'message', '{"v": 1}']);
  assert.equal(await client.next(), '{"protocol": 2}');
  first.kill('SIGKILL');
  await exited(first);

  const old = start(t, 'python3', [PEER, `@${USER}/${id}`, 'v1-primary']);
  assert.equal(await old.next(), 'listening');
  const plain = app(t, { id }, ['plain']);
  assert.deepEqual(await plain.nextJSON(), { primary: false, reply: 'v1', tokens: [] });
  assert.deepEqual(await old.nextJSON(), ['argv', 'cwd']);
  for (const options of [{ env: ['HOME'] }, { attach: true }]) {
    const launch = app(t, { id, options });
    const { error } = await launch.nextJSON();
    assert.equal(error.code, 'EPROTONOSUPPORT', JSON.stringify(error));
    assert.equal(await launch.exitStatus, 3);
    await old.next();
  }
});

test("replace: a cooperative primary gets 'replace' and releases, and the launch becomes the primary; without a listener the primary releases at once", async (t) => {
  const id = uniqueName('si2-replace');
  const first = await primary(t, { id, onReplace: 'release' });
  const second = app(t, { id, options: { replace: { grace: 60_000 } } });
  assert.deepEqual(await first.nextJSON(), { replace: second.pid });
  assert.equal(await first.next(), 'released');
  assert.equal(await second.next(), 'primary');
  assert.equal(first.signalCode, null);

  second.stdin.end(); // nothing but the primary keeps it alive
  const third = app(t, { id, options: { replace: { grace: 60_000 } } });
  assert.equal(await third.next(), 'primary');
  assert.equal(await second.exitStatus, 0); // released at once, not ended
});

test('replace: a primary that releases for a launch taking over lets its attached launches go only once that launch holds the name, and they are delivered to it', async (t) => {
  const id = uniqueName('si2-attached-replace');
  const first = await primary(t, { id, onReplace: 'ignore' });
  const before = (await asked(first, 'links')).links;
  const launch = app(t, { id, options: { attach: true } }, ['hold']);
  assert.equal((await first.nextJSON()).attached, true);
  const launchLinks = (await asked(first, 'links')).links.filter((link) => !before.includes(link)); // its connection and stdio
  assert.equal(launchLinks.length >= 2, true, launchLinks.join(', '));
  const replacer = app(t, { id, options: { replace: { grace: 60_000 } } });
  assert.deepEqual(await first.nextJSON(), { replace: replacer.pid });
  // Stopped on its way to the name, the replacer leaves it free after the release.
  process.kill(replacer.pid, 'SIGSTOP');
  first.stdin.write('release\n');
  const released = (await asked(first, 'links')).links;
  assert.deepEqual(launchLinks.filter((link) => !released.includes(link)), [], 'the launch is still held');
  process.kill(replacer.pid, 'SIGCONT');
  assert.equal(await replacer.next(), 'primary');
  assert.deepEqual([await first.next(), await first.next()].sort(), ['released', JSON.stringify({ cancel: launch.pid })]);
  const again = await replacer.nextJSON();
  assert.deepEqual([again.args, again.attached, again.pid], [['hold'], true, launch.pid]);
});

test("replace: a launch taking over that stalls on its way to the name holds the primary's attached launches no longer than connectionTimeout", async (t) => {
  const id = uniqueName('si2-stalled-replace');
  const first = await primary(t, { id, onReplace: 'ignore', options: { connectionTimeout: 2000 } });
  const launch = app(t, { id, options: { attach: true } }, ['hold']);
  assert.equal((await first.nextJSON()).attached, true);
  const replacer = app(t, { id, options: { replace: { grace: 60_000 } } });
  assert.deepEqual(await first.nextJSON(), { replace: replacer.pid });
  process.kill(replacer.pid, 'SIGSTOP');
  first.stdin.write('release\n');
  assert.deepEqual([await first.next(), await first.next()].sort(), ['released', JSON.stringify({ cancel: launch.pid })]);
  assert.equal(await launch.next(), 'primary');
  process.kill(replacer.pid, 'SIGCONT');
  assert.equal((await replacer.nextJSON()).primary, false);
});

test('replace: the attached launches of a primary that dies start over at once; one that takes the name first gets the launch taking over as an ordinary launch', async (t) => {
  const id = uniqueName('si2-attached-died');
  const first = await primary(t, { id, onReplace: 'ignore' });
  const launch = app(t, { id, options: { attach: true } }, ['hold']);
  assert.equal((await first.nextJSON()).attached, true);
  const replacer = app(t, { id, options: { replace: { grace: 60_000 } } });
  assert.deepEqual(await first.nextJSON(), { replace: replacer.pid });
  process.kill(replacer.pid, 'SIGSTOP');
  first.kill('SIGKILL');
  assert.equal(await launch.next(), 'primary');
  process.kill(replacer.pid, 'SIGCONT');
  const delivered = await launch.nextJSON();
  assert.deepEqual([delivered.args, delivered.attached, delivered.pid], [[], false, replacer.pid]);
  assert.equal((await replacer.nextJSON()).primary, false);
});

test('replace: a wedged (SIGSTOPped) or deaf primary is ended after grace (SIGTERM, then SIGKILL); the launch becomes the primary', async (t) => {
  const id = uniqueName('si2-wedged');
  const stopped = await primary(t, { id });
  stopped.kill('SIGSTOP');
  const replacer = app(t, { id, options: { replace: { grace: 200 } } });
  assert.equal(await replacer.next(), 'primary');
  assert.equal(await stopped.exitStatus, 'SIGTERM');

  replacer.kill('SIGKILL');
  await exited(replacer);
  // A primary that ignores SIGTERM and 'replace': SIGKILL after another grace period.
  const deaf = start(t, process.execPath, ['-e', `process.on('SIGTERM', () => console.log('term')); require(${JSON.stringify(path.join(FIXTURES, '../../..'))}).singleInstance(${JSON.stringify(id)}).then((p) => { p.on('replace', () => console.log('replace')); console.log('primary'); })`]);
  assert.equal(await deaf.next(), 'primary');
  const next = app(t, { id, options: { replace: { grace: 200 } } });
  assert.equal(await deaf.next(), 'replace');
  assert.equal(await deaf.next(), 'term');
  assert.equal(await next.next(), 'primary');
  assert.equal(await deaf.exitStatus, 'SIGKILL');
});

test('replace: grace runs from the question: a primary that never answers gets SIGTERM at the first look after grace, not after a second grace of looks', async (t) => {
  const id = uniqueName('si2-deaf');
  const deaf = start(t, 'python3', [PEER, `@${USER}/${id}`, 'deaf-primary']);
  assert.equal(await deaf.next(), 'listening');
  const replacer = app(t, { id, options: { replace: { grace: 300 } } });
  let connections = 0;
  for (let line = await deaf.next(); line !== 'term'; line = await deaf.next()) connections++;
  // The question, the look that names the holder before signalling it, and at most one more
  // look while the signal lands on a busy machine; a second grace of looks is about ten.
  assert.ok(connections <= 3, `${connections} connections before SIGTERM`);
  assert.equal(await replacer.next(), 'primary');
});

test('replace: a protocol 1 primary takes the request as an ordinary launch and, never releasing, is ended after grace', async (t) => {
  const id = uniqueName('si2-v1-replace');
  const old = start(t, 'python3', [PEER, `@${USER}/${id}`, 'v1-primary']);
  assert.equal(await old.next(), 'listening');
  const replacer = app(t, { id, options: { replace: { grace: 200 } } });
  assert.ok((await old.nextJSON()).includes('replace'));
  assert.equal(await replacer.next(), 'primary');
  assert.equal(await old.exitStatus, 'SIGTERM');
});

test('replace: several launches replacing the same primary at once give exactly one primary; the others are delivered to it', async (t) => {
  const id = uniqueName('si2-concurrent');
  const first = await primary(t, { id, onReplace: 'ignore' });
  const launches = Array.from({ length: 6 }, (_, i) => app(t, { id, options: { replace: { grace: 60_000 } } }, [`r${i}`]));
  for (let i = 0; i < launches.length; i++) await first.nextJSON(); // every launch asked this primary
  first.stdin.write('release\n');
  const results = await Promise.all(launches.map((launch) => launch.next()));
  assert.equal(results.filter((line) => line === 'primary').length, 1, results.join('\n'));
  assert.equal(results.filter((line) => line.startsWith('{"primary":false')).length, 5, results.join('\n'));
  await first.next();
});

test('replace: launches replacing a primary that ignores them, many at once, each become a primary or are delivered to one: none fails', async (t) => {
  const id = uniqueName('si2-storm');
  await primary(t, { id, onReplace: 'ignore' });
  // Each is ended by a later one's SIGTERM, or asked in vain: the name changes hands while they come.
  const launches = Array.from({ length: 12 }, (_, i) => app(t, { id, onReplace: 'ignore', options: { replace: { grace: 200 }, timeout: 60_000 } }, [`r${i}`]));
  const results = await Promise.all(launches.map((launch) => launch.next()));
  for (const result of results) assert.ok(result === 'primary' || result.startsWith('{"primary":false'), results.join('\n'));
});

test('replace: a holder the kernel does not name (a primary leaving: its main thread gone, its socket still open) is never signalled, and no ELOCKED: the launch goes on as an ordinary one', async (t) => {
  const id = uniqueName('si2-leaving');
  const leaving = start(t, 'python3', [PEER, `@${USER}/${id}`, 'leaving-primary']);
  assert.equal(await leaving.next(), 'listening');
  const replacer = app(t, { id, options: { replace: { grace: 50 }, timeout: 100 } });
  assert.equal((await replacer.nextJSON()).error.name, 'LockTimeoutError'); // it does not answer, as any launch finds
  leaving.kill('SIGKILL');
  assert.equal(await leaving.exitStatus, 'SIGKILL'); // the first signal it got
});

test('replace: the replacer SIGKILLed during grace leaves a primary or a free name; the old primary SIGKILLed during grace lets the replacer in', async (t) => {
  const id = uniqueName('si2-kill');
  const first = await primary(t, { id, onReplace: 'ignore' });
  const replacer = app(t, { id, options: { replace: { grace: 60_000 } } });
  assert.deepEqual(await first.nextJSON(), { replace: replacer.pid });
  replacer.kill('SIGKILL');
  await exited(replacer);
  const plain = app(t, { id }, ['still']);
  assert.deepEqual((await first.nextJSON()).args, ['still']);
  await plain.next();

  const patient = app(t, { id, options: { replace: { grace: 60_000 } } });
  await first.nextJSON();
  first.kill('SIGKILL');
  assert.equal(await patient.next(), 'primary');
});

test('replace: a primary of another uid is asked, never signalled: ForeignHolderError, and it runs on', { skip: process.getuid() !== 0 && 'setpriv needs root' }, async (t) => {
  const id = uniqueName('si2-foreign');
  const trusting = { scope: 'system', allowUids: [process.getuid()] };
  const other = start(t, 'setpriv', [...NOBODY, process.execPath, readableFixture('single-instance-v2.js'), JSON.stringify({ id, options: trusting, onReplace: 'ignore' })]);
  assert.equal(await other.next(), 'primary');
  const replacer = app(t, { id, options: { scope: 'system', allowUids: [65534], replace: { grace: 100 } } });
  assert.ok('replace' in (await other.nextJSON()));
  assert.deepEqual((await replacer.nextJSON()).error.name, 'ForeignHolderError');
  other.stdin.write('fds\n');
  assert.ok('fds' in (await other.nextJSON())); // it still answers: never signalled
});

test("sandboxes: in a snap with the longest instance name snapd allows, a long id still gets a name: the prefix, '#' and the hashed plain name cut to 107 bytes", async (t) => {
  const id = `${uniqueName('si2-long-snap')}.${'LongApplicationName'.repeat(6)}`;
  const instance = `${'s'.repeat(40)}_${'k'.repeat(10)}`;
  const snapEnv = { ...envWithout('FLATPAK_ID'), SNAP_INSTANCE_NAME: instance };
  const snapPrimary = app(t, { id }, [], { env: snapEnv });
  assert.equal(await snapPrimary.next(), 'primary');
  const prefix = `snap.${instance}.`;
  const hash = crypto.createHash('sha256').update(`${USER}/${id}`).digest('hex');
  await abstractBound(`${prefix}#${hash.slice(0, 107 - prefix.length - 1)}`);
  const inSnap = app(t, { id }, ['in-snap'], { env: snapEnv });
  assert.equal((await inSnap.nextJSON()).primary, false);
  assert.deepEqual((await snapPrimary.nextJSON()).args, ['in-snap']);
});

test('sandboxes: in a snap the abstract name starts with snap.<instance>.; in a Flatpak the socket is in $XDG_RUNTIME_DIR/app/$FLATPAK_ID', async (t) => {
  const id = uniqueName('si2-snap');
  const snapEnv = { ...envWithout('FLATPAK_ID'), SNAP_INSTANCE_NAME: 'editor_beta' };
  const snapPrimary = app(t, { id }, [], { env: snapEnv });
  assert.equal(await snapPrimary.next(), 'primary'); // spawned with the snap's environment
  await abstractBound(`snap.editor_beta.${USER}/${id}`);
  const inSnap = app(t, { id }, ['in-snap'], { env: snapEnv });
  assert.equal((await inSnap.nextJSON()).primary, false);

  const runtime = tempDir(t);
  fs.mkdirSync(path.join(runtime, 'app', 'org.example.App'), { recursive: true, mode: 0o700 }); // as flatpak makes it
  const flatpakEnv = { ...envWithout('SNAP_INSTANCE_NAME'), FLATPAK_ID: 'org.example.App', XDG_RUNTIME_DIR: runtime };
  const flatpak = app(t, { id: 'org.example.App' }, [], { env: flatpakEnv });
  assert.equal(await flatpak.next(), 'primary');
  const socket = path.join(runtime, 'app', 'org.example.App', 'org.example.App.sock');
  assert.equal(fs.statSync(socket).isSocket(), true);
  const inFlatpak = app(t, { id: 'org.example.App' }, ['in-flatpak'], { env: flatpakEnv });
  assert.equal((await inFlatpak.nextJSON()).primary, false);
  assert.deepEqual((await flatpak.nextJSON()).args, ['in-flatpak']);
});
