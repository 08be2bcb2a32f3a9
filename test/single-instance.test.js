'use strict';
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { describe, test } = require('node:test');
const { setTimeout: sleep } = require('node:timers/promises');
const solely = require('..');
const { FIXTURES, uniqueName, tempDir, spawnReady, kill, exited, abstractBound, unixListening, needs, readablePackage } = require('./helpers');

const APP = path.join(FIXTURES, 'single-instance.js');
const CLIENT = path.join(FIXTURES, 'single-instance-client.py');
const BIND_ONLY = path.join(FIXTURES, 'bind-abstract.py');
// Another uid cannot run the pyenv shims that may come first in root's PATH.
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const asRoot = { skip: process.getuid() !== 0 && 'setpriv needs root' };

/** A process whose stdout lines are all kept: next() resolves with the next unread one. */
function start(t, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], ...options });
  const lines = [];
  let wake = () => {};
  let buffered = '';
  let ended = false;
  child.stdout
    .setEncoding('utf8')
    .on('data', (chunk) => {
      const parts = (buffered + chunk).split('\n');
      buffered = parts.pop();
      lines.push(...parts);
      wake();
    })
    .once('end', () => {
      ended = true;
      wake();
    });
  let read = 0;
  child.lines = lines;
  child.next = async () => {
    while (read >= lines.length) {
      if (ended) throw new Error(`${command} ended its output; output: ${lines.join('\n')}`);
      await new Promise((resolve) => (wake = resolve));
    }
    return lines[read++];
  };
  child.nextJSON = async () => JSON.parse(await child.next());
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** The documented derivation, written again here so that a change to it fails. */
function abstractName(id, scope = 'user', uid = process.getuid()) {
  const base = scope === 'user' ? `solely/user/${uid}` : 'solely/system';
  const plain = `${base}/${id}`;
  return Buffer.byteLength(plain) <= 107 ? plain : `${base}#${createHash('sha256').update(id).digest('hex')}`;
}

function socketFile(id) {
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/.test(id) ? `${id}.sock` : `#${createHash('sha256').update(id).digest('hex')}.sock`;
}

/** Sets $XDG_RUNTIME_DIR in this process for the test (unchanged when dir is undefined). */
function useRuntimeDir(t, dir) {
  if (dir === undefined) return;
  const saved = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = dir;
  t.after(() => {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved;
  });
}

/**
 * What each suite runs against: the abstract transport, or the path transport in a fresh runtime
 * directory ($XDG_RUNTIME_DIR, as the default place), or in `directory` when given.
 */
function transports() {
  return [
    {
      transport: 'abstract',
      setup: () => ({ env: process.env, options: {}, address: (id) => `@${abstractName(id)}` }),
    },
    {
      transport: 'path',
      setup: (t, directory) => {
        const runtime = tempDir(t);
        const options = directory === undefined ? { transport: 'path' } : { transport: 'path', directory };
        const dir = directory ?? path.join(runtime, 'solely');
        return { env: { ...process.env, XDG_RUNTIME_DIR: runtime }, options, address: (id) => path.join(dir, socketFile(id)) };
      },
    },
  ];
}

for (const { transport, setup } of transports()) {
  describe(`singleInstance over ${transport === 'abstract' ? 'an abstract name' : 'a socket path'}`, () => {
    /** Launches the fixture app: config.options extend the transport's. */
    const app = (t, ctx, config, args = [], spawnOptions = {}) =>
      start(t, process.execPath, [APP, JSON.stringify({ ...config, options: { ...ctx.options, ...config.options } }), ...args], { env: ctx.env, ...spawnOptions });

    const primaryOf = async (t, ctx, config) => {
      const primary = app(t, ctx, config);
      assert.equal(await primary.next(), 'primary');
      return primary;
    };

    test("a secondary's argv (a non-UTF-8 byte, an empty string), cwd and data arrive exactly; pid and uid are the kernel's", async (t) => {
      const ctx = setup(t);
      const id = uniqueName('si');
      const primary = await primaryOf(t, ctx, { id });
      const cwd = Buffer.concat([Buffer.from(`${tempDir(t)}/cwd-`), Buffer.from([0xfe, 0x41])]);
      fs.mkdirSync(cwd);
      const data = { nested: [1, 'two', null, true, { deep: 2.5 }], text: 'é€😀', empty: '' };
      const config = JSON.stringify({ id, options: { ...ctx.options, data } });
      const args = [Buffer.from('a\xffb', 'latin1'), Buffer.alloc(0), Buffer.from('é'), Buffer.from(' two words ')];
      // Python execs node with exact bytes (child_process takes only strings); --no-warnings is
      // node's own option, which Message.argv leaves out, as process.argv does.
      const argv = [Buffer.from(process.execPath), Buffer.from('--no-warnings'), Buffer.from(APP), Buffer.from(config), ...args];
      const exec = 'import os, sys\nos.chdir(bytes.fromhex(sys.argv[1]))\nargv = [bytes.fromhex(a) for a in sys.argv[2:]]\nos.execv(argv[0], argv)';
      const secondary = start(t, PYTHON, ['-c', exec, cwd.toString('hex'), ...argv.map((a) => (a.length === 0 ? '' : a.toString('hex')))], { env: ctx.env });

      const answer = await secondary.nextJSON();
      assert.deepEqual(answer.reply, { n: 1, args: ['a\ufffdb', '', 'é', ' two words '] });
      assert.equal(answer.primary, false);
      assert.equal(answer.holder.pid, primary.pid);
      assert.equal(answer.holder.uid, process.getuid());
      assert.match(answer.holder.command, /single-instance\.js/);
      const message = await primary.nextJSON();
      assert.deepEqual(message.argv.map((a) => Buffer.from(a, 'base64')), [argv[0], ...argv.slice(2)]);
      assert.equal(message.strings[3], 'a\ufffdb');
      assert.equal(message.cwd, cwd.toString('base64'));
      assert.equal(message.pid, secondary.pid);
      assert.equal(message.uid, process.getuid());
      assert.deepEqual(message.data, data);
      await exited(secondary);
      assert.equal(secondary.exitCode, 0);
    });

    test('50 launches at once: exactly one primary, 49 messages delivered, 49 replies received', async (t) => {
      const ctx = setup(t);
      const id = uniqueName('si');
      const launches = Array.from({ length: 50 }, (_, i) => app(t, ctx, { id, options: { timeout: 60_000 } }, [`launch-${i}`]));
      const first = await Promise.all(launches.map((child) => child.next()));
      const primaries = launches.filter((_, i) => first[i] === 'primary');
      assert.equal(primaries.length, 1, first.join('\n'));
      const replies = first.filter((line) => line !== 'primary').map((line) => JSON.parse(line));
      assert.equal(replies.length, 49);
      for (const [i, line] of first.entries()) {
        if (line === 'primary') continue;
        assert.deepEqual(JSON.parse(line).reply.args, [`launch-${i}`], 'each secondary gets the answer to its own message');
      }
      assert.deepEqual(replies.map((r) => r.reply.n).sort((a, b) => a - b), Array.from({ length: 49 }, (_, i) => i + 1));
      const [primary] = primaries;
      const pids = new Set();
      for (let i = 0; i < 49; i++) pids.add((await primary.nextJSON()).pid);
      assert.deepEqual(pids, new Set(launches.filter((child) => child !== primary).map((child) => child.pid)));
    });

    test('a peer of another uid is refused (SO_PEERCRED); a same-uid peer in Python is served', asRoot, async (t) => {
      // Scope 'system', and a socket the other uid can reach: the primary itself must refuse it.
      const dir = tempDir(t);
      fs.chmodSync(dir, 0o777);
      const ctx = setup(t, dir);
      const id = uniqueName('si');
      const options = { scope: 'system' };
      const primary = await primaryOf(t, ctx, { id, options, umask: 0 });
      const address = transport === 'abstract' ? `@${abstractName(id, 'system')}` : ctx.address(id);
      const script = fs.readFileSync(CLIENT, 'utf8');
      const python = (...prefix) => start(t, prefix[0], [...prefix.slice(1), '-c', script, address, 'message', '{"from":"python"}']);

      assert.deepEqual(await python(...AS_NOBODY, PYTHON).nextJSON(), { error: 'EACCES' });
      const same = python(PYTHON);
      assert.deepEqual(await same.nextJSON(), { reply: { n: 1, args: [address, 'message', '{"from":"python"}'] } });
      const message = await primary.nextJSON();
      assert.equal(message.pid, same.pid, 'the refused peer never reached the app');
      assert.deepEqual(message.data, { from: 'python' });
      assert.equal(message.uid, 0);
      // A node secondary of that uid that trusts root's primary gets the refusal as an error.
      const config = JSON.stringify({ id, options: { ...ctx.options, ...options, allowUids: [0] } });
      const appCopy = path.join(readablePackage(), 'test', 'fixtures', 'single-instance.js');
      const node = start(t, AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, appCopy, config], { env: ctx.env });
      assert.deepEqual((await node.nextJSON()).error, { name: 'SolelyError', code: 'EACCES', errno: -13, syscall: 'connect' });
    });

    test('a squatter of another uid on the name gives ForeignHolderError', { skip: asRoot.skip || needs('socat') }, async (t) => {
      const dir = tempDir(t);
      fs.chmodSync(dir, 0o777);
      const ctx = setup(t, dir);
      const id = uniqueName('si');
      const address = ctx.address(id);
      const listen = transport === 'abstract' ? `ABSTRACT-LISTEN:${address.slice(1)},fork` : `UNIX-LISTEN:${address},fork`;
      const socat = start(t, AS_NOBODY[0], [...AS_NOBODY.slice(1), 'socat', listen, 'SYSTEM:echo squatter'], { stdio: ['ignore', 'pipe', 'ignore'] });
      if (transport === 'abstract') await abstractBound(address.slice(1));
      // Listening, not just bound: a socket nobody listens on yet is a stale one, and gets replaced.
      else while (!unixListening(address)) await sleep(10);
      await assert.rejects(solely.singleInstance(id, { ...ctx.options, timeout: 2000 }), (error) => {
        assert.ok(error instanceof solely.ForeignHolderError, error.stack);
        assert.equal(error.code, 'ELOCKED');
        assert.equal(error.holder.uid, 65534);
        assert.match(error.holder.command, /^socat /);
        assert.equal(transport === 'abstract' ? error.address : error.path, address);
        return true;
      });
      assert.equal(socat.exitCode, null);
    });

    test('garbage, a wrong version, bad JSON, a truncated frame, a 10 MiB frame, silent and surplus clients: the primary serves on', async (t) => {
      const ctx = setup(t);
      const id = uniqueName('si');
      const primary = await primaryOf(t, ctx, { id, options: { connectionTimeout: 400, maxConnections: 6 } });
      const address = ctx.address(id);
      const client = (...args) => start(t, PYTHON, [CLIENT, address, ...args]);
      const header = (length, version = 1) => version.toString(16).padStart(2, '0') + length.toString(16).padStart(8, '0');
      const json = (text) => header(Buffer.byteLength(text)) + Buffer.from(text).toString('hex');
      const bad = [
        client('raw', Buffer.from('GET / HTTP/1.0\r\n\r\n').toString('hex')),
        client('raw', header(2, 2) + Buffer.from('{}').toString('hex')),
        client('raw', json('{"argv": [')),
        client('raw', json('{"argv": ["not base64!"], "cwd": ""}')),
        client('raw', json('[1, 2]')),
        client('raw', json('{"argv": [], "cwd": ""}') + '00'),
        client('raw-eof', header(100) + '7b7d'),
        client('big', String(10 * 1024 * 1024)),
      ];
      for (const c of bad) assert.equal(await c.next(), 'closed');
      // More silent clients than maxConnections: the surplus is closed at once, the rest at the deadline.
      const silent = Array.from({ length: 8 }, () => client('silent'));
      const secondary = app(t, ctx, { id, options: { timeout: 20_000 } }, ['after']);
      for (const c of silent) assert.equal(await c.next(), 'closed');
      assert.deepEqual((await secondary.nextJSON()).reply, { n: 1, args: ['after'] });
      assert.equal((await primary.nextJSON()).pid, secondary.pid);
      assert.equal(primary.exitCode, null);
      assert.equal(primary.lines.length, 2, 'the primary printed nothing but its own lines');
    });

    test('a primary that does not answer: LockTimeoutError; SIGKILLed mid-exchange, a waiting secondary becomes the primary', async (t) => {
      const ctx = setup(t);
      const id = uniqueName('si');
      const primary = await primaryOf(t, ctx, { id, answer: 'never' });
      const waiting = app(t, ctx, { id, options: { timeout: 20_000 } }, ['waiting']);
      assert.equal((await primary.nextJSON()).pid, waiting.pid);
      const impatient = app(t, ctx, { id, options: { timeout: 300 } });
      assert.deepEqual((await impatient.nextJSON()).error, { name: 'LockTimeoutError', code: 'ETIMEDOUT' });
      await kill(primary);
      assert.equal(await waiting.next(), 'primary');
      const next = app(t, ctx, { id }, ['next']);
      const answer = await next.nextJSON();
      assert.equal(answer.holder.pid, waiting.pid);
      assert.deepEqual(answer.reply, { n: 1, args: ['next'] });
    });

    test('SIGKILL the primary: the next launch becomes the primary', async (t) => {
      const ctx = setup(t);
      const id = uniqueName('si');
      await kill(await primaryOf(t, ctx, { id }));
      const next = await primaryOf(t, ctx, { id });
      assert.equal((await app(t, ctx, { id }).nextJSON()).holder.pid, next.pid);
    });

    test('in process: async replies, acknowledgements, for await, release() finishing a reply, dispose', async (t) => {
      const ctx = setup(t);
      useRuntimeDir(t, ctx.env.XDG_RUNTIME_DIR);
      const id = uniqueName('si');
      const instance = await solely.singleInstance(id, ctx.options);
      t.after(() => instance.release());
      assert.ok(instance instanceof solely.Primary);
      assert.equal(instance.primary, true);
      assert.equal(instance.target, transport === 'abstract' ? abstractName(id) : ctx.address(id));

      // No listener, no iterator yet: the message waits for the loop, which acknowledges it.
      const acked = app(t, ctx, { id }, ['ack']);
      for await (const message of instance) {
        assert.equal(message.pid, acked.pid);
        assert.deepEqual(message.argv.slice(3), ['ack']);
        break;
      }
      const ackAnswer = await acked.nextJSON();
      assert.equal('reply' in ackAnswer, false);

      // An async listener's reply arrives after release() began; release waits for it.
      let releasing;
      instance.on('second-instance', async (message, reply) => {
        releasing = instance.release();
        await sleep(100);
        reply({ late: message.argv.slice(3) });
      });
      const late = app(t, ctx, { id }, ['late']);
      assert.deepEqual((await late.nextJSON()).reply, { late: ['late'] });
      await releasing;
      assert.equal(instance.released, true);

      const next = await solely.singleInstance(id, ctx.options);
      assert.equal(next.primary, true);
      next[Symbol.dispose]();
      const after = await primaryOf(t, ctx, { id });
      await kill(after);
    });
  });
}

test('the abstract name: documented derivation, a long id hashed, and options checked', async (t) => {
  const long = `app-${'x'.repeat(200)}`;
  const instance = await solely.singleInstance(long);
  t.after(() => instance.release());
  assert.equal(instance.target, `solely/user/${process.getuid()}#${createHash('sha256').update(long).digest('hex')}`);
  const system = await solely.singleInstance(uniqueName('si'), { scope: 'system' });
  assert.match(system.target, /^solely\/system\/si-/);
  await system.release();

  await assert.rejects(solely.singleInstance(''), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.singleInstance('a\0b'), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.singleInstance('x', { scope: 'world' }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.singleInstance('x', { transport: 'tcp' }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.singleInstance('x', { allowUids: [-1] }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.singleInstance('x', { directory: '/tmp' }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(solely.singleInstance('x', { data: 1n }), { code: 'ERR_INVALID_ARG_VALUE' });
  // A secondary whose message is over the limit fails before it sends anything.
  await assert.rejects(solely.singleInstance(long, { data: 'x'.repeat(2000), maxMessageBytes: 1000 }), {
    name: 'SolelyError',
    code: 'EMSGSIZE',
    syscall: 'send',
    address: `@${instance.target}`,
  });
});

test('a primary whose answer is not a frame: the secondary gets EPROTO from recv', async (t) => {
  const id = uniqueName('si');
  const name = abstractName(id);
  const server = net.createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await solely.listenUnix(`\0${name}`, { server });
  t.after(() => server.close());
  await assert.rejects(solely.singleInstance(id), { name: 'SolelyError', code: 'EPROTO', syscall: 'recv', address: `@${name}` });
});

test('a binder of the derived name that does not listen: another uid fails at once (ForeignHolderError), an allowed uid is waited for', asRoot, async (t) => {
  const id = uniqueName('si');
  const name = abstractName(id);
  const squatter = await spawnReady(t, AS_NOBODY[0], [...AS_NOBODY.slice(1), PYTHON, path.join(readablePackage(), 'test', 'fixtures', 'bind-abstract.py'), name]);
  // A budget far beyond the test's: waiting on the squatter would end in LockTimeoutError.
  await assert.rejects(solely.singleInstance(id, { timeout: 120_000 }), (error) => {
    assert.ok(error instanceof solely.ForeignHolderError, error.stack);
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.syscall, 'connect');
    assert.equal(error.address, `@${name}`);
    assert.equal(error.holder.uid, 65534);
    assert.equal(error.holder.pid, squatter.pid);
    return true;
  });
  // Trusted through allowUids, or our own uid: maybe a primary starting up, so waited for until the budget ends.
  await assert.rejects(solely.singleInstance(id, { timeout: 200, allowUids: [65534] }), { name: 'LockTimeoutError', code: 'ETIMEDOUT' });
  await kill(squatter);
  await spawnReady(t, PYTHON, [BIND_ONLY, name]);
  await assert.rejects(solely.singleInstance(id, { timeout: 200 }), { name: 'LockTimeoutError', code: 'ETIMEDOUT', address: `@${name}` });
});

test('the socket directory is refused when it is a symlink or not private', async (t) => {
  const runtime = tempDir(t);
  useRuntimeDir(t, runtime);
  fs.symlinkSync(tempDir(t), path.join(runtime, 'solely'));
  await assert.rejects(solely.singleInstance('x', { transport: 'path' }), { code: 'ELOOP', path: path.join(runtime, 'solely') });
  fs.unlinkSync(path.join(runtime, 'solely'));
  fs.mkdirSync(path.join(runtime, 'solely'), { mode: 0o700 });
  fs.chmodSync(path.join(runtime, 'solely'), 0o755);
  await assert.rejects(solely.singleInstance('x', { transport: 'path' }), { code: 'EACCES', errno: -13, path: path.join(runtime, 'solely') });
  fs.chmodSync(path.join(runtime, 'solely'), 0o700);
  const instance = await solely.singleInstance('x', { transport: 'path' });
  assert.equal(instance.target, path.join(runtime, 'solely', 'x.sock'));
  await instance.release();
});

test("transport 'path' without a runtime directory asks for one: never /tmp", { skip: process.getuid() !== 0 && 'setpriv needs root' }, () => {
  const { execFileSync } = require('node:child_process');
  const env = { ...process.env };
  delete env.XDG_RUNTIME_DIR;
  const script = `require(${JSON.stringify(readablePackage())}).singleInstance('no-runtime-dir', { transport: 'path' })
    .then(() => console.log('no error'), (e) => console.log(e.code));`;
  const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', env });
  assert.equal(out.trim(), 'ENOENT');
  assert.equal(fs.existsSync('/tmp/solely-65534'), false);
});
