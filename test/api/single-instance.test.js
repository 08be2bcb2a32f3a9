'use strict';
const assert = require('node:assert/strict');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { describe, test } = require('node:test');
const { setTimeout: sleep } = require('node:timers/promises');
const solely = require('../..');
const { FIXTURES, spawnLines: start, uniqueName, tempDir, spawnReady, kill, exited, abstractBound, needs, readablePackage, NOBODY, readableFixture, ROOT } = require('../support/helpers');

const APP = path.join(FIXTURES, 'single-instance.js');
const CLIENT = path.join(FIXTURES, 'single-instance-client.py');
const FLOOD = path.join(FIXTURES, 'single-instance-flood.py');
const BIND_ONLY = path.join(FIXTURES, 'bind-abstract.py');
// Another uid cannot run the pyenv shims that may come first in root's PATH.
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const AS_NOBODY = ['setpriv', ...NOBODY];
const asRoot = { skip: process.getuid() !== 0 && 'setpriv needs root' };

/** Whether some process listens on the socket path: its line in /proc/net/unix has __SO_ACCEPTCON in its flags. */
function listensOn(socketPath) {
  return fs
    .readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .some((line) => line.endsWith(` ${socketPath}`) && line.split(/\s+/)[3] === '00010000');
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
      assert.deepEqual(await same.nextJSON(), { reply: { n: 1, args: [address, 'message', '{"from":"python"}'] }, protocol: 2 });
      const message = await primary.nextJSON();
      assert.equal(message.pid, same.pid, 'the refused peer never reached the app');
      assert.deepEqual(message.data, { from: 'python' });
      assert.equal(message.uid, 0);
      // A node secondary of that uid that trusts root's primary gets the refusal as an error.
      const config = JSON.stringify({ id, options: { ...ctx.options, ...options, allowUids: [0] } });
      const appCopy = readableFixture('single-instance.js');
      const node = start(t, AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, appCopy, config], { env: ctx.env });
      assert.deepEqual((await node.nextJSON()).error, { name: 'SolelyError', code: 'EACCES', errno: -13, syscall: 'connect' });
    });

    test('another uid holding many connections open costs the primary nothing: each is refused and closed at once, every own launch is served', asRoot, async (t) => {
      const dir = tempDir(t);
      fs.chmodSync(dir, 0o777);
      const ctx = setup(t, dir);
      const id = uniqueName('si');
      // No deadline to wait out: a refused connection kept open would hold its slot all the test.
      const primary = await primaryOf(t, ctx, { id, options: { scope: 'system', maxConnections: 4, connectionTimeout: 2 ** 31 - 1 }, umask: 0 });
      const address = transport === 'abstract' ? `@${abstractName(id, 'system')}` : ctx.address(id);
      // Three times maxConnections, from a script that needs no package (uid 65534 may not read this checkout).
      const flood = start(t, AS_NOBODY[0], [...AS_NOBODY.slice(1), PYTHON, '-c', fs.readFileSync(FLOOD, 'utf8'), address, '12']);
      assert.deepEqual(await flood.nextJSON(), { refused: 12 }, 'every connection got the refusal, none was dropped as surplus');
      assert.equal(await flood.next(), 'closed', 'the primary closed every refused connection, though the peer keeps its ends open');
      const launches = Array.from({ length: 5 }, (_, i) => app(t, ctx, { id, options: { scope: 'system', timeout: 60_000 } }, [`own-${i}`]));
      for (const [i, launch] of launches.entries()) {
        const answer = await launch.nextJSON();
        assert.equal(answer.holder?.pid, primary.pid, JSON.stringify(answer));
        assert.deepEqual(answer.reply.args, [`own-${i}`]);
      }
      assert.equal(flood.exitCode, null, 'the flood held its connections throughout');
    });

    test("a listener's promise that rejects, handled by the app, neither kills the primary nor leaves a launch unanswered", async (t) => {
      const ctx = setup(t);
      const id = uniqueName('si');
      // Node 20's default, said explicitly: an unhandled rejection ends the process.
      const env = { ...ctx.env, NODE_OPTIONS: '--unhandled-rejections=throw' };
      const primary = app(t, ctx, { id, answer: 'reject' }, [], { env });
      assert.equal(await primary.next(), 'primary');
      for (const arg of ['first', 'second']) {
        const secondary = app(t, ctx, { id }, [arg]);
        const line = await secondary.next();
        assert.notEqual(line, 'primary', 'the primary died, so this launch took its place');
        const answer = JSON.parse(line);
        assert.equal(answer.holder.pid, primary.pid);
        assert.equal('reply' in answer, false, 'acknowledged once the promise settled');
        assert.equal((await primary.nextJSON()).pid, secondary.pid);
      }
      primary.stdin.write('release\n');
      assert.equal(await primary.next(), 'released');
      assert.equal(primary.exitCode, null);
    });

    test('leaving a for await loop with break releases the primary: its process exits on its own, the next launch is the primary', async (t) => {
      const ctx = setup(t);
      const id = uniqueName('si');
      const primary = await primaryOf(t, ctx, { id, answer: 'loop' });
      const first = app(t, ctx, { id }, ['first']);
      assert.equal((await primary.nextJSON()).pid, first.pid);
      const answer = await first.nextJSON();
      assert.equal(answer.holder.pid, primary.pid);
      assert.equal('reply' in answer, false, 'acknowledged when the loop was left');
      assert.equal(await primary.next(), 'left the loop');
      assert.equal(await app(t, ctx, { id }).next(), 'primary');
      await exited(primary);
      assert.equal(primary.exitCode, 0);
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
      // Listening, not just bound: a socket file nobody listens on (and whose sidecar lock nobody
      // holds) is stale, and a launch may replace it and become the primary.
      else while (!listensOn(address)) await sleep(10);
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

    test('data a sender would refuse (nested over 1000 deep, 1e999 parsed as Infinity) is dropped with its connection; 1000 deep arrives', async (t) => {
      const ctx = setup(t);
      const id = uniqueName('si');
      const primary = await primaryOf(t, ctx, { id });
      const client = (payload) => {
        const body = Buffer.from(payload);
        const header = Buffer.alloc(5);
        header[0] = 1;
        header.writeUInt32BE(body.length, 1);
        return start(t, PYTHON, [CLIENT, ctx.address(id), 'raw', Buffer.concat([header, body]).toString('hex')]);
      };
      const nested = (depth) => `{"argv": [], "cwd": "", "data": ${'['.repeat(depth)}${']'.repeat(depth)}}`;
      for (const garbage of [nested(1001), nested(20_000), '{"argv": [], "cwd": "", "data": 1e999}', '{"argv": [], "cwd": "", "data": [-1e999]}']) {
        assert.equal(await client(garbage).next(), 'closed', garbage.slice(0, 40));
      }
      assert.equal(await client(nested(1000)).next(), 'answered');
      let data = (await primary.nextJSON()).data;
      let depth = 0;
      for (; Array.isArray(data); data = data[0]) depth++;
      assert.equal(depth, 1000);
      assert.equal(primary.exitCode, null);
      assert.equal(primary.lines.length, 2, 'the listener saw none of the garbage');
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

    test('in process: async replies, acknowledgements, for await (break and throw release), release() finishing a reply, dispose', async (t) => {
      const ctx = setup(t);
      useRuntimeDir(t, ctx.env.XDG_RUNTIME_DIR);
      const id = uniqueName('si');
      const instance = await solely.singleInstance(id, ctx.options);
      t.after(() => instance.release());
      assert.ok(instance instanceof solely.Primary);
      assert.equal(instance.primary, true);
      assert.equal(instance.target, transport === 'abstract' ? abstractName(id) : ctx.address(id));

      // No listener, no iterator yet: the message waits for the loop, which acknowledges it;
      // leaving the loop releases the primary.
      const acked = app(t, ctx, { id }, ['ack']);
      for await (const message of instance) {
        assert.equal(message.pid, acked.pid);
        assert.deepEqual(message.argv.slice(3), ['ack']);
        break;
      }
      const ackAnswer = await acked.nextJSON();
      assert.equal('reply' in ackAnswer, false);
      assert.equal(instance.released, true);

      // An async listener's reply arrives after release() began; release waits for it.
      const second = await solely.singleInstance(id, ctx.options);
      t.after(() => second.release());
      assert.equal(second.primary, true);
      let releasing;
      second.on('second-instance', async (message, reply) => {
        releasing = second.release();
        await sleep(100);
        reply({ late: message.argv.slice(3) });
      });
      const late = app(t, ctx, { id }, ['late']);
      assert.deepEqual((await late.nextJSON()).reply, { late: ['late'] });
      await releasing;
      assert.equal(second.released, true);

      // A throw out of the loop releases too.
      const third = await solely.singleInstance(id, ctx.options);
      t.after(() => third.release());
      const thrown = app(t, ctx, { id }, ['thrown']);
      await assert.rejects(async () => {
        for await (const message of third) throw new Error(`failed on ${message.argv.slice(3)}`);
      }, /failed on thrown/);
      assert.equal('reply' in (await thrown.nextJSON()), false);
      assert.equal(third.released, true);

      const next = await solely.singleInstance(id, ctx.options);
      assert.equal(next.primary, true);
      next[Symbol.dispose]();
      const after = await primaryOf(t, ctx, { id });
      await kill(after);
    });
  });
}

test('data and reply values must be JSON that comes back as it was: the rest is refused with ERR_INVALID_ARG_VALUE, naming where, and nothing is lost', async (t) => {
  const id = uniqueName('si');
  const instance = await solely.singleInstance(id);
  t.after(() => instance.release());
  const cyclic = { list: [] };
  cyclic.list.push(cyclic);
  const nest = (levels) => Array.from({ length: levels - 1 }).reduce((inner) => [inner], []);
  class Point {
    x = 1;
  }
  // [value, what the message says after its "must be JSON (...)" part]
  const refused = [
    [1n, '. Received 1n'],
    [function open() {}, '. Received function open'],
    [Symbol('s'), '. Received Symbol(s)'],
    [NaN, '. Received NaN'],
    [-Infinity, '. Received -Infinity'],
    [new Date(0), '. Received an instance of Date'],
    [new Map([[1, 2]]), '. Received an instance of Map'],
    [{ at: new Point() }, ': $.at is not. Received an instance of Point'],
    [{ files: ['a', undefined] }, ': $.files[1] is not. Received undefined'],
    // eslint-disable-next-line no-sparse-arrays
    [[1, , 3], ': $[1] is not. Received undefined'],
    [{ 'two words': { big: 2n } }, ': $["two words"].big is not. Received 2n'],
    [cyclic, ': $.list[0] is circular. Received an object'],
    [nest(1001), ': $ is nested deeper. Received an instance of Array'],
  ];
  const expected = (name, tail) => `The "${name}" argument must be JSON (null, a boolean, a finite number, a string, or an array or plain object of these, nested at most 1000 deep)${tail.replace('$', name)}`;
  for (const [data, tail] of refused) {
    await assert.rejects(solely.singleInstance(id, { data }), { name: 'SolelyError', code: 'ERR_INVALID_ARG_VALUE', message: expected('options.data', tail) });
  }

  // Accepted: an object's undefined property is left out, as JSON.stringify does; 1000 levels with data itself.
  const data = { keep: [null, true, 1.5, 'x'], gone: undefined, bare: Object.assign(Object.create(null), { a: 1 }), deep: nest(999) };
  const replies = [];
  instance.on('second-instance', (message, reply) => {
    replies.push(message.data);
    for (const [value, tail] of refused) assert.throws(() => reply(value), { name: 'SolelyError', code: 'ERR_INVALID_ARG_VALUE', message: expected('value', tail) });
    reply({ ok: message.data.keep.length, gone: undefined });
  });
  const secondary = await solely.singleInstance(id, { data });
  assert.deepEqual(secondary.reply, { ok: 4 }, 'the refused reply values lost nothing');
  assert.deepEqual(replies, [{ keep: [null, true, 1.5, 'x'], bare: { a: 1 }, deep: nest(999) }], 'only the good launch reached the primary');
});

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
  const squatter = await spawnReady(t, AS_NOBODY[0], [...AS_NOBODY.slice(1), PYTHON, readableFixture('bind-abstract.py'), name]);
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
  const out = execFileSync('setpriv', [...NOBODY, process.execPath, '-e', script], { encoding: 'utf8', env });
  assert.equal(out.trim(), 'ENOENT');
  assert.equal(fs.existsSync('/tmp/solely-65534'), false);
});

test("argvBytes are exact whatever form Node's own options take: `--` ending them, `-r X`, `--require=X`, or none", async (t) => {
  const id = uniqueName('si');
  const primary = start(t, process.execPath, [APP, JSON.stringify({ id })]);
  assert.equal(await primary.next(), 'primary');
  const config = Buffer.from(JSON.stringify({ id }));
  const args = [Buffer.from('a\xc3', 'latin1'), Buffer.from('--'), Buffer.from('-r')];
  const preload = path.join(ROOT, 'dist', 'index.js'); // requiring solely does nothing else
  const exec = 'import sys, os\nargv = [bytes.fromhex(a) for a in sys.argv[1:]]\nos.execv(argv[0], argv)';
  for (const own of [[], ['--'], ['-r', preload], ['-r', preload, '--'], [`--require=${preload}`], ['--no-warnings', '--']]) {
    const argv = [Buffer.from(process.execPath), ...own.map((o) => Buffer.from(o)), Buffer.from(APP), config, ...args];
    // Python execs node with exact bytes: child_process takes only strings.
    const secondary = start(t, PYTHON, ['-c', exec, ...argv.map((a) => a.toString('hex'))]);
    assert.equal((await secondary.nextJSON()).primary, false, own.join(' '));
    const message = await primary.nextJSON();
    assert.deepEqual(message.argv.map((a) => Buffer.from(a, 'base64')), [argv[0], Buffer.from(APP), config, ...args], own.join(' '));
    await exited(secondary);
  }
});
