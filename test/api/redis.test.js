'use strict';
// solely/redis against a real redis-server started for this file (test/redis-server.js).
const assert = require('node:assert/strict');
const { createHash } = require('node:crypto');
const diagnostics = require('node:diagnostics_channel');
const { execFile, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { promisify } = require('node:util');
const { describe, before, after, test } = require('node:test');
const Redis = require('ioredis');
const solely = require('solely');
const { lockRedis, tryLockRedis, whoHoldsRedis, redisKeys, RedisLock } = require('solely/redis');
const { ROOT, CLI, FIXTURES, uniqueName, spawnReady, commandStopsWithWrapper, kill, readableCopy } = require('../support/helpers');
const { startRedis, redisMissing } = require('../support/redis-server');

const FIXTURE = path.join(FIXTURES, 'hold-redis.js');
const PROXY = path.join(FIXTURES, 'tcp-proxy.js');
const DOCS = path.join(ROOT, 'docs', 'redis.md');

/** The fixture, once it printed its first line; child.nextLine() resolves with each later line in turn. */
async function fixture(t, ...args) {
  const child = await spawnReady(t, process.execPath, [FIXTURE, ...args]);
  // Queued: lines written in one go reach readline in one chunk, and are emitted in one tick.
  const queued = [];
  const waiting = [];
  child.lines.on('line', (line) => (waiting.length > 0 ? waiting.shift()(line) : queued.push(line)));
  child.nextLine = () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return child;
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, resolve));
}

/**
 * The attempts to take key, as lib/redis/acquire.ts publishes them on 'solely:wait': seen lists
 * { cause, acquired }, and reached(cause) resolves once an attempt of that cause was made.
 */
function watchAttempts(t, key) {
  const seen = [];
  const waiting = [];
  const listener = ({ target, cause, acquired }) => {
    if (target.key !== key) return;
    seen.push({ cause, acquired });
    for (const w of waiting.filter((w) => w.cause === cause)) w.resolve();
  };
  diagnostics.subscribe('solely:wait', listener);
  t.after(() => diagnostics.unsubscribe('solely:wait', listener));
  const reached = (cause) => new Promise((resolve) => (seen.some((a) => a.cause === cause) ? resolve() : waiting.push({ cause, resolve })));
  return { seen, reached };
}

/** The ```lua blocks of docs/redis.md, by the name in their first line's comment ("-- acquire: ..."). */
function documentedScripts() {
  const scripts = {};
  for (const [, body] of fs.readFileSync(DOCS, 'utf8').matchAll(/^```lua fragment\n([\s\S]*?)^```$/gm)) {
    const [, name] = /^-- (\w+):/.exec(body);
    scripts[name] = body.slice(body.indexOf('\n') + 1).replace(/\n$/, '');
  }
  return scripts;
}

describe('solely/redis', { skip: redisMissing() }, () => {
  let server;
  let admin;
  let options;

  before(async () => {
    server = await startRedis();
    options = { connection: server.url };
    admin = new Redis(server.url, { connectionName: 'solely-test-admin' });
  });

  after(async () => {
    admin?.disconnect();
    await server?.destroy();
  });

  /** Connections to the server other than the admin's. */
  async function otherClients() {
    const list = await admin.client('LIST');
    return list.split('\n').filter((line) => line !== '' && !line.includes('name=solely-test-admin'));
  }

  /** redis-cli's output. */
  async function cli(...args) {
    return (await promisify(execFile)('redis-cli', ['-p', String(server.port), ...args], { encoding: 'utf8' })).stdout;
  }

  /** A TCP proxy process in front of the server: resolves with the child, its port is child.firstLine. */
  function proxy(t) {
    return spawnReady(t, process.execPath, [PROXY, String(server.port)]);
  }

  test('bad keys and options are refused before any connection', async () => {
    // Nothing listens there: an attempt to connect would fail with ECONNREFUSED, not EINVAL.
    const nowhere = { connection: 'redis://127.0.0.1:1' };
    const invalid = { name: 'InvalidTargetError', code: 'EINVAL', errno: -os.constants.errno.EINVAL };
    for (const key of ['', 'a\uD800', '\uDC00a', 'a\0b', '\0']) {
      await assert.rejects(lockRedis(key, nowhere), invalid, JSON.stringify(key));
      await assert.rejects(lockRedis(key, { ...nowhere, wait: true }), invalid, JSON.stringify(key));
      await assert.rejects(tryLockRedis(key, nowhere), invalid, JSON.stringify(key));
      await assert.rejects(whoHoldsRedis(key, nowhere), invalid, JSON.stringify(key));
    }
    await assert.rejects(lockRedis(42, nowhere), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(lockRedis('k', { ...nowhere, ttl: 10 }), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(lockRedis('k', { ...nowhere, ttl: 1.5e3 + 0.5 }), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(lockRedis('k', { connection: 42 }), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(lockRedis('k', { ...nowhere, wait: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
    const reason = new Error('stop');
    await assert.rejects(lockRedis('k', { ...nowhere, signal: AbortSignal.abort(reason) }), { code: 'ABORT_ERR', cause: reason });
    // U+FFFD itself is a well-formed key of its own, and the key is the Redis key's middle, as UTF-8.
    const lock = await lockRedis('a\uFFFD ✓', options);
    assert.deepEqual(redisKeys('a\uFFFD ✓'), ['solely:{a\uFFFD ✓}', 'solely:{a\uFFFD ✓}:token']);
    assert.equal(await admin.exists('solely:{a\uFFFD ✓}'), 1);
    await lock.release();
  });

  test('two processes exclude each other; SIGKILL of the holder frees the lock after the lease', async (t) => {
    const key = uniqueName();
    const first = await fixture(t, 'hold', server.url, key, '1500');
    const firstToken = BigInt(JSON.parse(first.firstLine).token);
    const second = await fixture(t, 'hold', server.url, key, '1500');
    assert.equal(second.firstLine, 'held');
    assert.equal(await tryLockRedis(key, options), null);
    const holder = { fencingToken: firstToken, pid: first.pid, hostname: os.hostname() };
    await assert.rejects(lockRedis(key, options), (error) => {
      assert.ok(error instanceof solely.LockHeldError);
      assert.equal(error.code, 'ELOCKED');
      assert.equal(error.address, `127.0.0.1:${server.port}`);
      assert.deepEqual(error.holder, holder);
      assert.equal(error.message, `the redis lock ${key} is held (pid ${first.pid} on ${os.hostname()}, token ${firstToken})`);
      return true;
    });
    assert.deepEqual(await whoHoldsRedis(key, options), holder);

    const attempts = watchAttempts(t, key);
    const waiting = lockRedis(key, { ...options, wait: 30_000 });
    await attempts.reached('subscribed');
    await kill(first);
    const lock = await waiting;
    assert.ok(lock instanceof RedisLock);
    assert.deepEqual([lock.kind, lock.target, lock.lost, lock.released], ['redis', key, false, false]);
    assert.equal(lock.fencingToken, firstToken + 1n);
    // Nobody published a release: the lease ran out, and a timed attempt found it gone.
    assert.deepEqual(attempts.seen.at(-1), { cause: 'poll', acquired: true });
    assert.equal((await whoHoldsRedis(key, options)).pid, process.pid);
    await lock.release();
    assert.equal(await whoHoldsRedis(key, options), null);
  });

  test('a waiter is woken by the published release, or by the keyspace event of a deletion where the server sends them', async (t) => {
    const key = uniqueName();
    const attempts = watchAttempts(t, key);
    const holding = await fixture(t, 'hold', server.url, key, '60000');
    const waiting = lockRedis(key, { ...options, wait: true });
    await attempts.reached('subscribed');
    holding.stdin.write('release\n');
    assert.equal(await holding.nextLine(), 'released');
    await (await waiting).release();
    // A lease of a minute: only the published release can have woken it this soon.
    assert.deepEqual(attempts.seen.at(-1), { cause: 'event', acquired: true });

    // A lease deleted by a client that publishes nothing (an administrator's DEL) is a keyspace event.
    await admin.config('SET', 'notify-keyspace-events', 'Kgx');
    t.after(() => admin.config('SET', 'notify-keyspace-events', ''));
    const deleted = await fixture(t, 'hold', server.url, key, '3000');
    const again = watchAttempts(t, key);
    const next = lockRedis(key, { ...options, wait: true });
    await again.reached('subscribed');
    await admin.del(redisKeys(key)[0]);
    const lock = await next;
    assert.deepEqual(again.seen.at(-1), { cause: 'event', acquired: true });
    assert.equal(await deleted.nextLine(), 'lost ERR_SOLELY_LOCK_LOST', 'its next renewal found the lease gone');
    await lock.release();
  });

  test('release() deletes the lease only while it holds this lock\'s token; idempotent; asyncDispose releases', async () => {
    const key = uniqueName();
    const [lease] = redisKeys(key);
    const lock = await lockRedis(key, options);
    const value = await admin.get(lease);
    assert.match(value, new RegExp(`^${lock.fencingToken} [0-9a-f]{16} ${process.pid} ${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    // The lease expired and another client took it: a release must leave that one alone.
    await admin.set(lease, 'someone else');
    const releasing = lock.release();
    assert.equal(lock.released, true);
    assert.equal(lock.release(), releasing);
    await releasing;
    assert.equal(await admin.get(lease), 'someone else');
    assert.deepEqual(await whoHoldsRedis(key, options), {}, 'a lease solely did not write names no holder');
    await admin.del(lease);
    const again = await tryLockRedis(key, options);
    assert.ok(again.fencingToken > lock.fencingToken);
    await again[Symbol.asyncDispose]();
    assert.deepEqual([again.released, again.lost], [true, false]);
    assert.equal(await admin.exists(lease), 0);
    assert.deepEqual(await otherClients(), []);
  });

  test('the lease is renewed every ttl/3 while held; a renewal that finds another lease is a lost lock', async () => {
    const key = uniqueName();
    const [lease] = redisKeys(key);
    const lock = await lockRedis(key, { ...options, ttl: 600 });
    // Four renewals seen by the server: the lease outlives its first ttl several times over.
    await admin.config('SET', 'notify-keyspace-events', 'Kg');
    const watcher = admin.duplicate();
    try {
      await watcher.subscribe(`__keyspace@0__:${lease}`);
      let renewals = 0;
      await new Promise((resolve) => watcher.on('message', (_channel, event) => event === 'expire' && ++renewals === 4 && resolve()));
    } finally {
      watcher.disconnect();
      await admin.config('SET', 'notify-keyspace-events', '');
    }
    assert.equal(lock.lost, false);
    await admin.set(lease, 'taken');
    const error = await once(lock, 'lost');
    assert.ok(error instanceof solely.LockLostError);
    assert.equal(error.code, 'ERR_SOLELY_LOCK_LOST');
    assert.match(error.message, new RegExp(`^lost the redis lock ${key}: the lease expired or was taken$`));
    assert.deepEqual([lock.lost, lock.signal.aborted, lock.signal.reason], [true, true, error]);
    await lock.release();
    assert.equal(await admin.get(lease), 'taken');
  });

  test('after the token counter is lost (FLUSHALL), two locks of one process get the same token but different leases: the first loses, its release leaves the second', async () => {
    const key = uniqueName();
    const [lease] = redisKeys(key);
    // A ttl long enough that a renewal is not lost to a slow answer under load.
    const first = await lockRedis(key, { ...options, ttl: 3000 });
    await admin.flushall();
    const second = await lockRedis(key, { ...options, ttl: 3000 });
    assert.equal(second.fencingToken, first.fencingToken, 'the counter started again');
    const held = await admin.get(lease);
    const error = await once(first, 'lost');
    assert.match(error.message, /the lease expired or was taken$/);
    await first.release();
    assert.deepEqual([await admin.get(lease), second.lost], [held, false]);
    await second.release();
    assert.equal(await admin.exists(lease), 0);
  });

  test('a holder cut off behind a frozen proxy reports lost before a waiting successor is granted the lease', { timeout: 60_000 }, async (t) => {
    const frozen = await proxy(t);
    t.after(() => process.kill(frozen.pid, 'SIGCONT'));
    const key = uniqueName();
    const lock = await lockRedis(key, { connection: `redis://127.0.0.1:${frozen.firstLine}`, ttl: 3000 });
    const events = [];
    const lost = once(lock, 'lost').then((error) => events.push('lost') && error);
    const successor = lockRedis(key, { ...options, wait: true }).then((next) => events.push('granted') && next);
    process.kill(frozen.pid, 'SIGSTOP');
    const error = await lost;
    assert.match(error.message, /: read ETIMEDOUT: |: no renewal of the lease acknowledged within 1000 ms$/);
    const next = await successor;
    assert.deepEqual(events, ['lost', 'granted']);
    assert.ok(next.fencingToken > lock.fencingToken);
    await next.release();
    await lock.release();
  });

  test('a holder SIGSTOPped past its ttl: resumed, it learns it lost the lock before it acts; the successor has a greater token', { timeout: 60_000 }, async (t) => {
    const key = uniqueName();
    const holding = await fixture(t, 'hold', server.url, key, '1000');
    const token = BigInt(JSON.parse(holding.firstLine).token);
    t.after(() => process.kill(holding.pid, 'SIGCONT'));
    process.kill(holding.pid, 'SIGSTOP');
    const next = await lockRedis(key, { ...options, wait: true });
    assert.ok(next.fencingToken > token);
    // Its first act once resumed is the check a job makes before a write.
    holding.stdin.write('use\n');
    process.kill(holding.pid, 'SIGCONT');
    assert.equal(await holding.nextLine(), 'lost ERR_SOLELY_LOCK_LOST');
    assert.equal(await holding.nextLine(), 'use aborted=true');
    // Its lost lease is not renewed over the successor's, and its release leaves that one alone.
    holding.stdin.write('release\n');
    assert.equal(await holding.nextLine(), 'released');
    assert.equal((await whoHoldsRedis(key, options)).fencingToken, next.fencingToken);
    await next.release();
  });

  test('a holder whose event loop was blocked past its deadline finds the lock lost at its first look, in the same tick', async (t) => {
    const key = uniqueName();
    const holding = await fixture(t, 'hold', server.url, key, '300');
    holding.stdin.write('block 600\n');
    assert.equal(await holding.nextLine(), 'lost ERR_SOLELY_LOCK_LOST');
    assert.equal(await holding.nextLine(), 'use aborted=true');
  });

  test('fencing tokens strictly increase over 400 acquisitions by 4 processes', async (t) => {
    const key = uniqueName();
    const start = await lockRedis(key, options);
    await start.release();
    const loops = await Promise.all([1, 2, 3, 4].map(() => fixture(t, 'loop', server.url, key, '100')));
    const runs = loops.map((child) => JSON.parse(child.firstLine).map(BigInt));
    for (const tokens of runs) for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i] > tokens[i - 1], 'increasing within a process');
    const all = runs.flat().sort((a, b) => (a < b ? -1 : 1));
    assert.deepEqual(all, Array.from({ length: 400 }, (_, i) => start.fencingToken + 1n + BigInt(i)));
  });

  describe('a wait ended by a timeout or an abort leaves no connection behind', () => {
    for (const how of ['timeout', 'abort']) {
      test(`ended by ${how}`, async (t) => {
        const key = uniqueName();
        const holding = await fixture(t, 'hold', server.url, key, '60000');
        const controller = new AbortController();
        const attempts = watchAttempts(t, key);
        const waiting = lockRedis(key, { ...options, wait: how === 'timeout' ? 1500 : true, signal: controller.signal });
        if (how === 'abort') {
          // Aborted once it waits subscribed.
          await attempts.reached('subscribed');
          controller.abort('enough');
        }
        await assert.rejects(waiting, how === 'timeout'
          ? { name: 'LockTimeoutError', code: 'ETIMEDOUT', address: `127.0.0.1:${server.port}` }
          : { name: 'AbortError', code: 'ABORT_ERR', cause: 'enough' });
        const holderConnection = (line) => line.includes('cmd=evalsha') || line.includes('cmd=eval ');
        assert.deepEqual((await otherClients()).filter((line) => !holderConnection(line)), []);
        holding.stdin.write('release\n');
        assert.equal(await holding.nextLine(), 'released');
      });
    }
  });

  test('a server that is down, silent or not Redis, or that answers with an error: a typed error in bounded time', async (t) => {
    await assert.rejects(lockRedis(uniqueName(), { connection: `redis://127.0.0.1:${server.port + 1}` }), (error) => {
      assert.ok(error instanceof solely.SolelyError);
      assert.deepEqual([error.code, error.errno, error.syscall, error.address], ['ECONNREFUSED', -os.constants.errno.ECONNREFUSED, 'connect', `127.0.0.1:${server.port + 1}`]);
      return true;
    });
    const sockets = [];
    const start = async (onConnection) => {
      const fake = net.createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => {});
        onConnection(socket);
      });
      await new Promise((resolve) => fake.listen(0, '127.0.0.1', resolve));
      t.after(() => fake.close());
      return fake.address().port;
    };
    t.after(() => sockets.forEach((socket) => socket.destroy()));
    const silent = await start(() => {});
    await assert.rejects(tryLockRedis(uniqueName(), { connection: { port: silent, connectTimeout: 200 } }), { name: 'SolelyError', code: 'ETIMEDOUT', syscall: 'connect', address: `localhost:${silent}` });
    const http = await start((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    await assert.rejects(whoHoldsRedis(uniqueName(), { connection: `redis://127.0.0.1:${http}` }), { name: 'SolelyError', code: 'EPROTO', address: `127.0.0.1:${http}` });
    // An echo server answers every command with the command itself: an array, never GET's string or nil.
    const echo = await start((socket) => socket.pipe(socket));
    await assert.rejects(whoHoldsRedis(uniqueName(), { connection: `redis://127.0.0.1:${echo}` }), { name: 'SolelyError', code: 'EPROTO', syscall: 'read', address: `127.0.0.1:${echo}` });
    await assert.rejects(lockRedis(uniqueName(), { connection: `redis://127.0.0.1:${echo}` }), { name: 'SolelyError', code: 'EPROTO', address: `127.0.0.1:${echo}` });
    await assert.rejects(lockRedis(uniqueName(), { connection: { port: server.port, host: '127.0.0.1', username: 'nobody', password: 'wrong' } }), (error) => {
      assert.equal(error.code, 'ERR_SOLELY_REDIS');
      assert.match(error.message, /^redis 127\.0\.0\.1:\d+: WRONGPASS/);
      return true;
    });
    const key = uniqueName();
    await admin.hset(redisKeys(key)[0], 'not', 'a lease');
    await assert.rejects(lockRedis(key, options), { code: 'ERR_SOLELY_REDIS', message: /WRONGTYPE/ });
  });

  test('a server that stops answering: a holder loses the lock, a new connection fails ETIMEDOUT', { timeout: 60_000 }, async (t) => {
    const frozen = await proxy(t);
    t.after(() => process.kill(frozen.pid, 'SIGCONT'));
    const lock = await lockRedis(uniqueName(), { connection: `redis://127.0.0.1:${frozen.firstLine}`, ttl: 900 });
    process.kill(frozen.pid, 'SIGSTOP');
    const error = await once(lock, 'lost');
    assert.equal(error.code, 'ERR_SOLELY_LOCK_LOST');
    await assert.rejects(tryLockRedis(uniqueName(), { connection: { port: Number(frozen.firstLine), connectTimeout: 300 } }), { code: 'ETIMEDOUT', syscall: 'connect' });
    await lock.release();
  });

  test('a held lock does not keep the process alive by itself', async () => {
    const key = uniqueName();
    const script = `require('solely/redis').lockRedis(${JSON.stringify(key)}, { connection: ${JSON.stringify(server.url)} }).then(() => console.log('held'))`;
    // Returns when the child exits by itself; a lock that kept it alive is killed by the bound and fails the test.
    const child = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    assert.deepEqual([child.status, child.stdout], [0, 'held\n'], child.stderr);
    await admin.del(redisKeys(key)[0]);
  });

  test('redis-cli running the documented scripts interoperates', async () => {
    const scripts = documentedScripts();
    assert.deepEqual(Object.keys(scripts).sort(), ['acquire', 'release', 'renew']);
    const key = uniqueName();
    const [lease, counter] = redisKeys(key);
    const lock = await lockRedis(key, options);
    const held = (await cli('EVAL', scripts.acquire, '2', lease, counter, '10000', `4242 ${os.hostname()}`)).split('\n');
    assert.equal(held[0], '0');
    assert.equal(held[1], await admin.get(lease));
    assert.deepEqual(await whoHoldsRedis(key, options), { fencingToken: lock.fencingToken, pid: process.pid, hostname: os.hostname() });
    await lock.release();
    const [granted, token] = (await cli('EVAL', scripts.acquire, '2', lease, counter, '10000', `0123456789abcdef 4242 ${os.hostname()}`)).trim().split('\n');
    assert.deepEqual([granted, BigInt(token)], ['1', lock.fencingToken + 1n]);
    const value = `${token} 0123456789abcdef 4242 ${os.hostname()}`;
    assert.equal((await cli('EVAL', scripts.renew, '1', lease, value, '10000')).trim(), '1');
    assert.deepEqual(await whoHoldsRedis(key, options), { fencingToken: BigInt(token), pid: 4242, hostname: os.hostname() });
    assert.equal(await tryLockRedis(key, options), null);
    // The documented text is the code's: solely's EVALSHA finds what redis-cli loaded.
    for (const name of ['acquire', 'release', 'renew']) {
      assert.equal((await cli('SCRIPT', 'EXISTS', createHash('sha1').update(scripts[name]).digest('hex'))).trim(), '1', name);
    }
    assert.equal((await cli('EVAL', scripts.release, '1', lease, value)).trim(), '1');
    // A client written before nonces ("<pid> <host>") still names its holder.
    const [, oldToken] = (await cli('EVAL', scripts.acquire, '2', lease, counter, '10000', `4242 ${os.hostname()}`)).trim().split('\n');
    assert.deepEqual(await whoHoldsRedis(key, options), { fencingToken: BigInt(oldToken), pid: 4242, hostname: os.hostname() });
    assert.equal((await cli('EVAL', scripts.release, '1', lease, `${oldToken} 4242 ${os.hostname()}`)).trim(), '1');
    await (await lockRedis(key, options)).release();
  });

  test('without ioredis, solely/redis fails with MODULE_NOT_FOUND naming what to install', async (t) => {
    const copy = readableCopy(ROOT);
    t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', "require('solely/redis').tryLockRedis('k').then(() => console.log('no error'), (e) => console.log(e.name, e.code, e.message))"], { cwd: copy, encoding: 'utf8' });
    assert.equal(stdout, 'SolelyError MODULE_NOT_FOUND solely/redis needs the ioredis package: npm install ioredis\n');
  });

  test('CLI: run holds the lease for COMMAND and hands it the fencing token; a held lock exits 75', async (t) => {
    const key = uniqueName();
    const ran = spawnSync(process.execPath, [CLI, 'run', '--redis', server.url, '--key', key, '--', process.execPath, '-e',
      'console.log(process.env.SOLELY_FENCING_TOKEN); process.exit(7)'], { encoding: 'utf8' });
    assert.deepEqual([ran.stderr, ran.stdout, ran.status], ['', '1\n', 7]);
    assert.equal(await whoHoldsRedis(key, options), null, 'released when COMMAND exits');
    const holding = await fixture(t, 'hold', server.url, key, '60000');
    const conflict = spawnSync(process.execPath, [CLI, 'run', '--redis', server.url, '--key', key, '--', 'echo', 'no'], { encoding: 'utf8' });
    assert.equal(conflict.status, 75);
    assert.equal(conflict.stdout, '');
    assert.equal(conflict.stderr, `solely: ${key} is held by pid ${holding.pid} on ${os.hostname()}, token ${JSON.parse(holding.firstLine).token}\n`);
    assert.equal(spawnSync(process.execPath, [CLI, 'run', '--redis', server.url, '--', 'true']).status, 64, '--key is required');
    assert.equal(spawnSync(process.execPath, [CLI, 'run', '--redis', server.url, '--key', '', '--', 'true']).status, 64, 'an empty key');
  });

  // Last: the crash ends every connection.
  test('CLI: COMMAND gets SIGTERM when the wrapper is SIGKILLed; a second run starts only after; 126/127 kept', { timeout: 60_000 }, async (t) => {
    await commandStopsWithWrapper(t, ['--redis', server.url]);
  });

  test('tokens survive a server crash and restart (AOF, appendfsync always); the holder reports lost, and the CLI stops COMMAND and exits 69', { timeout: 60_000 }, async (t) => {
    const key = uniqueName();
    const lock = await lockRedis(key, { ...options, ttl: 2000 });
    const lost = once(lock, 'lost');
    const cliKey = uniqueName();
    const wrapper = spawn(process.execPath, [CLI, 'run', '--redis', server.url, '--key', cliKey, '--', 'sh', '-c', 'echo started; exec sleep 30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => kill(wrapper));
    let stderr = '';
    wrapper.stderr.on('data', (chunk) => (stderr += chunk));
    const closed = once(wrapper, 'close');
    assert.equal(await once(readline.createInterface({ input: wrapper.stdout }), 'line'), 'started');
    admin.disconnect();
    await server.stop('SIGKILL');
    const error = await lost;
    assert.ok(error instanceof solely.LockLostError);
    assert.equal(lock.lost, true);
    await closed;
    assert.equal(wrapper.exitCode, 69);
    assert.match(stderr, new RegExp(`^solely: lost the redis lock ${cliKey}: .*; sent SIGTERM to sh\\n$`));
    await server.start();
    // The lease came back with the AOF too: the lock is free once it runs out.
    const after = await lockRedis(key, { ...options, wait: true });
    assert.ok(after.fencingToken > lock.fencingToken, 'tokens survive the crash');
    await after.release();
    await lock.release();
  });
});
