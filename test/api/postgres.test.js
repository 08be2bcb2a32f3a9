'use strict';
// solely/postgres against a real PostgreSQL server started for this file (test/support/postgres-server.js).
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');
const os = require('node:os');
const readline = require('node:readline');
const path = require('node:path');
const { describe, before, after, test } = require('node:test');
const { Client } = require('pg');
const solely = require('../..');
const { lockPostgres, tryLockPostgres, whoHoldsPostgres, advisoryKey, PostgresLock } = require('solely/postgres');
const { FIXTURES, uniqueName, spawnReady, commandStopsWithWrapper, kill, ROOT, CLI } = require('../support/helpers');
const { startPostgres, postgresMissing } = require('../support/postgres-server');

const FIXTURE = path.join(FIXTURES, 'hold-postgres.js');
const PROXY = path.join(FIXTURES, 'tcp-proxy.js');
const OWN_NAME = `solely ${os.hostname()} ${process.pid}`;

function fixture(t, ...args) {
  return spawnReady(t, process.execPath, [FIXTURE, ...args]);
}

function nextLine(child) {
  return new Promise((resolve) => child.lines.once('line', resolve));
}

/** Polls the server until predicate holds (no event says so); the test's timeout bounds it, no clock here. */
async function until(predicate) {
  while (!(await predicate())) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('solely/postgres', { skip: postgresMissing() }, () => {
  let server;
  let admin;
  let options;

  before(async () => {
    server = await startPostgres();
    options = { connection: server.url };
    admin = new Client({ connectionString: server.url, application_name: 'solely-test-admin' });
    await admin.connect();
  });

  after(async () => {
    await admin?.end();
    await server?.destroy();
  });

  /** The sessions of this process (application_name), waiting or not. */
  async function ownSessions() {
    const { rows } = await admin.query('SELECT pid, wait_event_type FROM pg_stat_activity WHERE application_name = $1', [OWN_NAME]);
    return rows;
  }

  /** The sessions of a role, waiting or not. */
  async function roleSessions(role) {
    return (await admin.query('SELECT pid, wait_event_type FROM pg_stat_activity WHERE usename = $1', [role])).rows;
  }

  /** A role that may have one session at a time, dropped when the test ends. */
  async function limitedRole(t, role) {
    await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
    t.after(() => admin.query(`DROP ROLE ${role}`));
    return role;
  }

  /** A TCP proxy process in front of the server: resolves with the child, its port is child.firstLine. */
  function proxy(t, ...flags) {
    return spawnReady(t, process.execPath, [PROXY, String(server.port), ...flags]);
  }

  test('the key hash: first 8 bytes of SHA-256, big-endian signed, the same as in SQL', async () => {
    assert.equal(advisoryKey('job'), 6812988570718632683n);
    for (const name of ['job', 'nightly-report', 'ünïcode ✓', 'x'.repeat(1000)]) {
      const { rows } = await admin.query(
        "SELECT ('x' || left(encode(sha256(convert_to($1, 'UTF8')), 'hex'), 16))::bit(64)::bigint AS key",
        [name],
      );
      assert.equal(BigInt(rows[0].key), advisoryKey(name), name);
    }
    assert.ok(advisoryKey('negative?') < 0n || advisoryKey('job') > 0n);
    await assert.rejects(lockPostgres('', options), { code: 'EINVAL', name: 'InvalidTargetError' });
    await assert.rejects(lockPostgres(42, options), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(lockPostgres('k', { ...options, fencingTable: 'a; drop table x' }), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(lockPostgres('k', { ...options, keepaliveInterval: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  test('a key with NUL or malformed Unicode is refused before any connection', async () => {
    // Nothing listens there: an attempt to connect would fail with ECONNREFUSED, not EINVAL.
    const nowhere = { connection: 'postgres://nobody@127.0.0.1:1/x' };
    const invalid = { name: 'InvalidTargetError', code: 'EINVAL', errno: -os.constants.errno.EINVAL };
    for (const key of ['a\uD800', '\uDC00a', 'a\0b', '\0']) {
      assert.throws(() => advisoryKey(key), invalid, JSON.stringify(key));
      await assert.rejects(lockPostgres(key, nowhere), invalid, JSON.stringify(key));
      await assert.rejects(lockPostgres(key, { ...nowhere, wait: true }), invalid, JSON.stringify(key));
      await assert.rejects(tryLockPostgres(key, nowhere), invalid, JSON.stringify(key));
      await assert.rejects(whoHoldsPostgres(key, nowhere), invalid, JSON.stringify(key));
    }
    // U+FFFD itself is a well-formed key of its own.
    const lock = await lockPostgres('a\uFFFD', options);
    assert.equal(lock.advisoryKey, advisoryKey('a\uFFFD'));
    await lock.release();
  });

  test('two processes exclude each other; SIGKILL of the holder frees the lock', async (t) => {
    const key = uniqueName();
    const first = await fixture(t, 'hold', server.url, key);
    const firstToken = BigInt(JSON.parse(first.firstLine).token);
    const second = await fixture(t, 'hold', server.url, key);
    assert.equal(second.firstLine, 'held');
    assert.equal(await tryLockPostgres(key, options), null);
    let held;
    await assert.rejects(lockPostgres(key, options), (error) => {
      assert.ok(error instanceof solely.LockHeldError);
      assert.equal(error.code, 'ELOCKED');
      assert.equal(error.address, `127.0.0.1:${server.port}`);
      assert.equal(error.holder.command, `solely ${os.hostname()} ${first.pid}`);
      assert.equal(error.holder.host, '127.0.0.1');
      assert.ok(error.holder.since instanceof Date);
      held = error;
      return true;
    });
    // The holder is the client process (its pid and host, from its application_name); the server's backend has a name of its own.
    const { rows: [backend] } = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [`solely ${os.hostname()} ${first.pid}`]);
    assert.equal(typeof backend.pid, 'number');
    assert.deepEqual([held.holder.pid, held.holder.hostname, held.holder.backendPid], [first.pid, os.hostname(), backend.pid]);
    assert.ok(held.message.endsWith(
      ` held (pid ${first.pid} on ${os.hostname()}, backend pid ${backend.pid}, from 127.0.0.1, since ${held.holder.since.toISOString()}: solely ${os.hostname()} ${first.pid})`),
    held.message);
    assert.equal((await whoHoldsPostgres(key, options)).command, `solely ${os.hostname()} ${first.pid}`);

    const waiting = lockPostgres(key, { ...options, wait: 10_000 });
    await kill(first);
    const lock = await waiting;
    assert.ok(lock instanceof PostgresLock);
    assert.equal(lock.kind, 'postgres');
    assert.equal(lock.target, key);
    assert.equal(lock.advisoryKey, advisoryKey(key));
    assert.equal(typeof lock.fencingToken, 'bigint');
    assert.ok(lock.fencingToken > firstToken);
    assert.equal((await whoHoldsPostgres(key, options)).command, OWN_NAME);
    await lock.release();
    assert.equal(await whoHoldsPostgres(key, options), null);
  });

  test('a holder that is not solely\'s: its backend pid and application_name, no client pid or host name', async () => {
    const key = uniqueName();
    const { rows: [own] } = await admin.query('SELECT pg_backend_pid() AS pid, pg_advisory_lock($1::bigint)', [String(advisoryKey(key))]);
    try {
      const holder = await whoHoldsPostgres(key, options);
      assert.deepEqual([holder.pid, holder.hostname, holder.backendPid, holder.command], [undefined, undefined, own.pid, 'solely-test-admin']);
      assert.ok(!('pid' in holder) && !('hostname' in holder));
      await assert.rejects(lockPostgres(key, options), (error) => {
        assert.equal(error.code, 'ELOCKED');
        assert.ok(error.message.endsWith(`held (backend pid ${own.pid}, from 127.0.0.1, since ${holder.since.toISOString()}: solely-test-admin)`), error.message);
        return true;
      });
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1::bigint)', [String(advisoryKey(key))]);
    }
  });

  test('release() unlocks and closes; idempotent; asyncDispose releases', async () => {
    const key = uniqueName();
    const lock = await lockPostgres(key, options);
    assert.equal(lock.released, false);
    const releasing = lock.release();
    assert.equal(lock.released, true);
    assert.equal(lock.release(), releasing);
    await releasing;
    assert.deepEqual(await ownSessions(), []);
    const again = await tryLockPostgres(key, options);
    assert.ok(again.fencingToken > lock.fencingToken);
    await again[Symbol.asyncDispose]();
    assert.equal(again.released, true);
    assert.equal(again.lost, false);
    assert.equal(await whoHoldsPostgres(key, options), null);
  });

  test('fencing tokens strictly increase over 1,000 acquisitions by 4 processes', async (t) => {
    const key = uniqueName();
    const start = (await lockPostgres(key, options));
    await start.release();
    const loops = await Promise.all([1, 2, 3, 4].map(() => fixture(t, 'loop', server.url, key, '250')));
    const runs = loops.map((child) => JSON.parse(child.firstLine).map(BigInt));
    for (const tokens of runs) {
      assert.equal(tokens.length, 250);
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i] > tokens[i - 1], 'increasing within a process');
    }
    const all = runs.flat().sort((a, b) => (a < b ? -1 : 1));
    // Every acquisition took the next token: 1,000 distinct tokens, right after the first lock's.
    assert.deepEqual(all, Array.from({ length: 1000 }, (_, i) => start.fencingToken + 1n + BigInt(i)));
  });

  test('fencingTable names the counter table (created on first use) or turns tokens off', async () => {
    const key = uniqueName();
    const lock = await lockPostgres(key, { ...options, fencingTable: 'public.solely_test_fence' });
    assert.equal(lock.fencingToken, 1n);
    await lock.release();
    const { rows } = await admin.query('SELECT token FROM public.solely_test_fence WHERE key = $1', [String(advisoryKey(key))]);
    assert.equal(rows[0].token, '1');
    const untracked = await lockPostgres(key, { ...options, fencingTable: false });
    assert.equal(untracked.fencingToken, null);
    await untracked.release();
  });

  describe('a wait ended by a timeout or an abort leaves no session behind', () => {
    for (const how of ['timeout', 'abort']) waitEndedTest(how);
  });

  function waitEndedTest(how) {
    test(`a wait ended by ${how} leaves no session behind`, async (t) => {
      const key = uniqueName();
      const holding = await fixture(t, 'hold', server.url, key);
      assert.match(holding.firstLine, /token/);
      const controller = new AbortController();
      const waiting = lockPostgres(key, { ...options, wait: how === 'timeout' ? 3000 : true, signal: controller.signal });
      await until(async () => (await ownSessions()).some((s) => s.wait_event_type === 'Lock'));
      if (how === 'abort') controller.abort('enough');
      await assert.rejects(waiting, how === 'timeout'
        ? { name: 'LockTimeoutError', code: 'ETIMEDOUT', address: `127.0.0.1:${server.port}` }
        : { name: 'AbortError', code: 'ABORT_ERR', cause: 'enough' });
      // The session ended before the wait rejected.
      assert.deepEqual(await ownSessions(), []);
      holding.stdin.write('release\n');
      assert.equal(await nextLine(holding), 'released');
    });
  }

  describe('a wait ended by a timeout or an abort leaves no session behind when the role is at its connection limit', () => {
    for (const how of ['timeout', 'abort']) limitedWaitEndedTest(how);
  });

  function limitedWaitEndedTest(how) {
    test(`a wait ended by ${how} leaves no session behind when the role is at its connection limit`, async (t) => {
      // The waiter's role may have one session: the one that waits. A cancel that needs a session
      // of its own is refused, and the waiting backend would stay on the server.
      const role = await limitedRole(t, `solely_waiter_${how}`);
      const key = uniqueName();
      const holding = await fixture(t, 'hold', server.url, key);
      assert.match(holding.firstLine, /token/);
      const waiterUrl = `postgres://${role}@127.0.0.1:${server.port}/postgres`;
      // Long enough for a loaded machine to connect and queue before the timeout ends the wait.
      const waiter = await fixture(t, 'wait', waiterUrl, key, how === 'timeout' ? '3000' : 'abort');
      assert.equal(waiter.firstLine, 'started');
      const exited = new Promise((resolve) => waiter.once('close', resolve));
      await until(async () => (await roleSessions(role)).some((s) => s.wait_event_type === 'Lock'));
      if (how === 'abort') waiter.stdin.write('abort\n');
      assert.equal(await nextLine(waiter), how === 'timeout' ? 'error ETIMEDOUT' : 'error ABORT_ERR');
      // The waiter ended its session before it reported: nothing of its role is left.
      assert.deepEqual(await roleSessions(role), []);
      // Nothing left open in the waiter either (no socket, no timer): it exits by itself.
      assert.equal(await exited, 0);
      holding.stdin.write('release\n');
      assert.equal(await nextLine(holding), 'released');
    });
  }

  test('a cancel that goes nowhere: the waiter closes its socket, and the server ends the waiting session', { timeout: 60_000 }, async (t) => {
    // The proxy forwards the session but swallows the CancelRequest, as a server ignores one that
    // comes before the backend reads the query: only the socket closing can end the wait.
    const role = await limitedRole(t, 'solely_waiter_swallowed');
    const key = uniqueName();
    const holding = await fixture(t, 'hold', server.url, key);
    assert.match(holding.firstLine, /token/);
    const swallowing = await proxy(t, '--swallow-later');
    const waiter = await fixture(t, 'wait', `postgres://${role}@127.0.0.1:${swallowing.firstLine}/postgres`, key, 'abort', '200');
    const exited = new Promise((resolve) => waiter.once('close', resolve));
    await until(async () => (await roleSessions(role)).some((s) => s.wait_event_type === 'Lock'));
    waiter.stdin.write('abort\n');
    assert.equal(await nextLine(waiter), 'error ABORT_ERR');
    assert.equal(await exited, 0);
    // The backend notices the closed socket (client_connection_check_interval) while it waits.
    await until(async () => (await roleSessions(role)).length === 0);
    holding.stdin.write('release\n');
    assert.equal(await nextLine(holding), 'released');
  });

  test('an aborted signal fails before connecting', async () => {
    const reason = new Error('stop');
    await assert.rejects(lockPostgres(uniqueName(), { connection: 'postgres://nobody@127.0.0.1:1/x', signal: AbortSignal.abort(reason) }), { code: 'ABORT_ERR', cause: reason });
  });

  test('connection errors keep their code and cause', async () => {
    const refused = `postgres://postgres@127.0.0.1:${server.port + 1}/postgres`; // nothing listens there
    await assert.rejects(lockPostgres(uniqueName(), { connection: refused }), (error) => {
      assert.ok(error instanceof solely.SolelyError);
      assert.deepEqual([error.code, error.errno, error.syscall, error.address], ['ECONNREFUSED', -os.constants.errno.ECONNREFUSED, 'connect', `127.0.0.1:${server.port + 1}`]);
      assert.equal(error.cause.code, 'ECONNREFUSED');
      return true;
    });
    // A host that does not resolve: the code Node's dns gives (ENOTFOUND), not getaddrinfo's EAI_NONAME.
    await assert.rejects(lockPostgres(uniqueName(), { connection: 'postgres://postgres@no-such-host.invalid/postgres' }), (error) => {
      assert.ok(error instanceof solely.SolelyError);
      assert.equal(error.syscall, 'getaddrinfo');
      assert.equal(error.code, error.cause.code);
      assert.equal(error.errno, error.cause.errno);
      return true;
    });
    await assert.rejects(lockPostgres(uniqueName(), { connection: { host: '127.0.0.1', port: server.port, user: 'postgres', database: 'no_such_db' } }), (error) => {
      assert.equal(error.code, 'ERR_SOLELY_POSTGRES');
      assert.equal(error.cause.code, '3D000');
      return true;
    });
  });

  test('a held lock does not keep the process alive by itself', async () => {
    const key = uniqueName();
    const script = `require('solely/postgres').lockPostgres(${JSON.stringify(key)}, { connection: ${JSON.stringify(server.url)} }).then(() => console.log('held'))`;
    // Returns when the child exits by itself; a lock that kept it alive is killed by the bound and fails the test.
    const child = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    assert.deepEqual([child.status, child.stdout], [0, 'held\n'], child.stderr);
    // The server ends the session once it reads the closed socket: waited for, never timed.
    await (await lockPostgres(key, { ...options, wait: true })).release();
  });

  test('a server that stops answering (frozen backend) is a lost lock, within two keepalive intervals', async () => {
    const lock = await lockPostgres(uniqueName(), { ...options, keepaliveInterval: 100 });
    const { backendPid: pid } = await whoHoldsPostgres(lock.target, options);
    process.kill(pid, 'SIGSTOP');
    try {
      const [error] = await new Promise((resolve) => lock.once('lost', (...args) => resolve(args)));
      assert.ok(error instanceof solely.LockLostError);
      assert.equal(error.code, 'ERR_SOLELY_LOCK_LOST');
      assert.match(error.message, /no answer to a keepalive query within 100 ms/);
      assert.equal(lock.lost, true);
      assert.equal(lock.signal.aborted, true);
      assert.equal(lock.signal.reason, error);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await lock.release();
  });

  test('a holder cut off behind a frozen proxy: the server ends its idle session and a waiting successor gets the lock', { timeout: 60_000 }, async (t) => {
    // The proxy's kernel answers the server's TCP keepalives: only the server's own clock
    // (idle_session_timeout, 4 keepalive intervals) can end the holder's session.
    const frozen = await proxy(t);
    t.after(() => process.kill(frozen.pid, 'SIGCONT'));
    const key = uniqueName();
    const lock = await lockPostgres(key, { connection: `postgres://postgres@127.0.0.1:${frozen.firstLine}/postgres`, keepaliveInterval: 300 });
    const lost = new Promise((resolve) => lock.once('lost', resolve));
    const successor = lockPostgres(key, { ...options, wait: true });
    process.kill(frozen.pid, 'SIGSTOP');
    const error = await lost;
    assert.ok(error instanceof solely.LockLostError);
    assert.equal(error.code, 'ERR_SOLELY_LOCK_LOST');
    const next = await successor;
    assert.ok(next.fencingToken > lock.fencingToken);
    await next.release();
    await lock.release();
  });

  test('a healthy holder outlives many idle_session_timeouts: its keepalive queries keep the session busy', { timeout: 60_000 }, async () => {
    const lock = await lockPostgres(uniqueName(), { ...options, keepaliveInterval: 250 });
    const { backendPid: pid } = await whoHoldsPostgres(lock.target, options);
    // 12 keepalive queries answered: 3 times the 1 s the server lets the session be idle.
    const seen = new Set();
    await until(async () => {
      const { rows } = await admin.query("SELECT query_start FROM pg_stat_activity WHERE pid = $1 AND query = 'SELECT 1'", [pid]);
      if (rows.length === 1) seen.add(rows[0].query_start.getTime());
      return seen.size >= 12;
    }, 30_000);
    assert.equal(lock.lost, false);
    assert.equal((await whoHoldsPostgres(lock.target, options)).backendPid, pid);
    await lock.release();
  });

  test('keepaliveInterval 0 sets no server clock: the role\'s own idle_session_timeout applies', async (t) => {
    const role = await limitedRole(t, 'solely_idle_role');
    await admin.query(`ALTER ROLE ${role} SET idle_session_timeout = 200`);
    const url = `postgres://${role}@127.0.0.1:${server.port}/postgres`;
    const lock = await lockPostgres(uniqueName(), { connection: url, keepaliveInterval: 0, fencingTable: false });
    const error = await new Promise((resolve) => lock.once('lost', resolve));
    assert.ok(error instanceof solely.LockLostError);
    assert.equal(error.code, 'ERR_SOLELY_LOCK_LOST');
    assert.equal(error.cause.code, '57P05'); // idle_session_timeout
    await lock.release();
  });

  test('CLI: run holds the lock for COMMAND and hands it the fencing token; status reports it', async (t) => {
    const key = uniqueName();
    const ran = spawnSync(process.execPath, [CLI, 'run', '--postgres', server.url, '--key', key, '--', process.execPath, '-e',
      'console.log(process.env.SOLELY_FENCING_TOKEN); process.exit(7)'], { encoding: 'utf8' });
    assert.equal(ran.stderr, '');
    assert.equal(ran.stdout, '1\n');
    assert.equal(ran.status, 7);

    const status = (json) => spawnSync(process.execPath, [CLI, 'status', ...(json ? ['--json'] : []), '--postgres', server.url, '--key', key], { encoding: 'utf8' });
    assert.equal(status(false).status, 3);
    const holding = await fixture(t, 'hold', server.url, key);
    const held = status(true);
    assert.equal(held.status, 0);
    const report = JSON.parse(held.stdout);
    assert.equal(report.state, 'held');
    assert.equal(report.holder.command, `solely ${os.hostname()} ${holding.pid}`);
    const { rows: [backend] } = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [report.holder.command]);
    assert.deepEqual([report.holder.pid, report.holder.hostname, report.holder.backendPid, report.holder.host], [holding.pid, os.hostname(), backend.pid, '127.0.0.1']);
    const described = `pid ${holding.pid} on ${os.hostname()}, backend pid ${backend.pid}, from 127.0.0.1, since ${report.holder.since}: ${report.holder.command}`;
    assert.equal(status(false).stdout, `postgres advisory lock ${key}: held by ${described}\n`);
    const conflict = spawnSync(process.execPath, [CLI, 'run', '--postgres', server.url, '--key', key, '--', 'echo', 'no'], { encoding: 'utf8' });
    assert.equal(conflict.status, 75);
    assert.equal(conflict.stdout, '');
    assert.equal(conflict.stderr, `solely: ${key} is held by ${described}\n`);
    assert.equal(spawnSync(process.execPath, [CLI, 'run', '--postgres', server.url, '--', 'true']).status, 64, '--key is required');
    assert.equal(spawnSync(process.execPath, [CLI, 'run', '--abstract', 'x', '--key', key, '--', 'true']).status, 64, '--key needs --postgres');
  });

  // Last: the restart ends every session.
  /** The key SQL computes for a lock name: the documented formula. */
  async function sqlKey(name) {
    const { rows } = await admin.query("SELECT ('x' || left(encode(sha256(convert_to($1, 'UTF8')), 'hex'), 16))::bit(64)::bigint AS key", [name]);
    return rows[0].key;
  }

  test('CLI: COMMAND gets SIGTERM when the wrapper is SIGKILLed; a second run starts only after; 126/127 kept', { timeout: 60_000 }, async (t) => {
    await commandStopsWithWrapper(t, ['--postgres', server.url]);
  });

  test('shared: shared locks coexist and exclude an exclusive one, against SQL pg_advisory_lock_shared on the same key, both ways; a waiting exclusive request is not overtaken', async () => {
    const key = uniqueName();
    const first = await lockPostgres(key, { ...options, shared: true });
    const second = await tryLockPostgres(key, { ...options, shared: true });
    assert.deepEqual([first.shared, second.shared, first.slot], [true, true, 0]);
    assert.equal(await tryLockPostgres(key, options), null);
    const sql = await sqlKey(key);
    const { rows: [peer] } = await admin.query('SELECT pg_try_advisory_lock_shared($1::bigint) AS shared, pg_try_advisory_lock($1::bigint) AS exclusive', [sql]);
    assert.deepEqual(peer, { shared: true, exclusive: false });
    await first.release();
    await second.release();
    // Only the SQL peer's shared lock is left: a shared lock goes beside it, an exclusive one not.
    const beside = await tryLockPostgres(key, { ...options, shared: true });
    assert.equal(beside?.shared, true);
    await beside.release();
    assert.equal(await tryLockPostgres(key, options), null);
    await admin.query('SELECT pg_advisory_unlock_shared($1::bigint)', [sql]);
    const exclusive = await tryLockPostgres(key, options);
    assert.equal(exclusive.shared, false);
    assert.equal(await tryLockPostgres(key, { ...options, shared: true }), null);
    await exclusive.release();
    // The server queues requests: a shared request does not overtake a waiting exclusive one.
    const reader = await lockPostgres(key, { ...options, shared: true });
    const writer = lockPostgres(key, { ...options, wait: 30_000 });
    await until(async () => (await ownSessions()).some((s) => s.wait_event_type === 'Lock'));
    assert.equal(await tryLockPostgres(key, { ...options, shared: true }), null, 'no reader overtakes the waiting writer');
    await reader.release();
    await (await writer).release();
    const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'");
    assert.equal(rows[0].n, 0, 'release() unlocked the shared locks');
  });

  test('slots: slot i is the key of name.i (slot 0: name), as SQL takes it; all held: the error names each slot\'s holder; whoHoldsPostgres names each slot; SIGKILL frees exactly that slot', async (t) => {
    const key = uniqueName();
    const locks = [];
    for (let slot = 0; slot < 3; slot++) locks.push(await tryLockPostgres(key, { ...options, slots: 3 }));
    assert.deepEqual(locks.map((l) => l.slot), [0, 1, 2]);
    assert.deepEqual(locks.map((l) => l.advisoryKey), [advisoryKey(key), advisoryKey(`${key}.1`), advisoryKey(`${key}.2`)]);
    assert.equal(String(locks[1].advisoryKey), await sqlKey(`${key}.1`));
    assert.equal(await tryLockPostgres(key, { ...options, slots: 3 }), null);
    // Every slot held: the error says so and names each slot's holder (holder: slot 0's).
    await assert.rejects(lockPostgres(key, { ...options, slots: 3 }), (error) => {
      assert.match(error.message, new RegExp(`^all 3 slots of the postgres advisory lock ${key} are held \\(slot 0: pid ${process.pid}[^;]*; slot 1: pid ${process.pid}[^;]*; slot 2: pid ${process.pid}`));
      assert.deepEqual([error.code, error.holder.pid, error.holders.map((h) => h.backendPid)], ['ELOCKED', process.pid, locks.map((l) => error.holders[l.slot].backendPid)]);
      assert.equal(new Set(error.holders.map((h) => h.backendPid)).size, 3, 'three sessions, one per slot');
      return true;
    });
    await locks[1].release();
    const { rows: [peer] } = await admin.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [await sqlKey(`${key}.1`)]);
    assert.equal(peer.locked, true, 'a SQL peer takes slot 1 by its documented key');
    assert.equal(await tryLockPostgres(key, { ...options, slots: 3 }), null);
    await admin.query('SELECT pg_advisory_unlock($1::bigint)', [await sqlKey(`${key}.1`)]);
    const child = await fixture(t, 'hold', server.url, `${key}.1`);
    assert.ok(JSON.parse(child.firstLine).token, 'a process holds slot 1');
    const holders = await whoHoldsPostgres(key, { ...options, slots: 4 });
    assert.deepEqual(holders.map((h) => h?.pid ?? null), [process.pid, child.pid, process.pid, null]);
    await kill(child);
    await until(async () => (await whoHoldsPostgres(key, { ...options, slots: 3 }))[1] === null);
    const again = await tryLockPostgres(key, { ...options, slots: 3 });
    assert.equal(again.slot, 1);
    for (const lock of [locks[0], locks[2], again]) await lock.release();
  });

  test('slots: waiters keep one session per slot; exactly one wins each freed slot, the others\' sessions end', async () => {
    const key = uniqueName();
    const held = [await lockPostgres(key, { ...options, slots: 2 }), await lockPostgres(key, { ...options, slots: 2 })];
    const before = (await ownSessions()).length;
    const won = [];
    const waiters = [0, 1].map(() => lockPostgres(key, { ...options, slots: 2, wait: 30_000 }).then((lock) => (won.push(lock), lock)));
    await until(async () => (await ownSessions()).filter((s) => s.wait_event_type === 'Lock').length === 4);
    await held[1].release();
    const first = await Promise.race(waiters);
    assert.equal(first.slot, 1);
    // The two holders' sessions (one of them the winner's), and the loser's two, still waiting.
    await until(async () => (await ownSessions()).length === 4);
    assert.equal(won.length, 1, 'one waiter won the one freed slot');
    await held[0].release();
    const both = await Promise.all(waiters);
    assert.deepEqual(both.map((l) => l.slot).sort(), [0, 1]);
    for (const lock of both) await lock.release();
    await until(async () => (await ownSessions()).length === before - 2);
  });

  test('slots: a wait that times out ends every session it opened; bad slots or shared with slots: ERR_INVALID_ARG_VALUE before connecting', async () => {
    const key = uniqueName();
    const held = [await lockPostgres(key, { ...options, slots: 2 }), await lockPostgres(key, { ...options, slots: 2 })];
    const before = (await ownSessions()).length;
    await assert.rejects(lockPostgres(key, { ...options, slots: 2, wait: 200 }), { code: 'ETIMEDOUT' });
    await until(async () => (await ownSessions()).length === before);
    for (const lock of held) await lock.release();
    const nowhere = { connection: 'postgres://nobody@127.0.0.1:1/x' };
    for (const slots of [0, -1, 1.5, 1025, '2']) {
      await assert.rejects(lockPostgres(key, { ...nowhere, slots }), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(tryLockPostgres(key, { ...nowhere, slots }), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(whoHoldsPostgres(key, { ...nowhere, slots }), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    await assert.rejects(lockPostgres(key, { ...nowhere, shared: true, slots: 2 }), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  test('CLI: run --postgres --slots gives COMMAND SOLELY_SLOT; status --slots --json lists each slot', async () => {
    const key = uniqueName();
    const held = await lockPostgres(key, { ...options, slots: 2 });
    const run = spawnSync(process.execPath, [CLI, 'run', '--postgres', server.url, '--key', key, '--slots', '2', '--', 'sh', '-c', 'echo $SOLELY_SLOT'], { encoding: 'utf8' });
    assert.deepEqual([run.status, run.stdout], [0, '1\n']);
    const status = spawnSync(process.execPath, [CLI, 'status', '--json', '--postgres', server.url, '--key', key, '--slots', '2'], { encoding: 'utf8' });
    const report = JSON.parse(status.stdout);
    assert.deepEqual([status.status, report.state, report.slots.map((s) => s.state)], [0, 'held', ['held', 'free']]);
    assert.equal(report.slots[0].holder.pid, process.pid);
    await held.release();
  });

  test('a server restart makes the holder report lost; the CLI stops COMMAND and exits 69', async (t) => {
    const key = uniqueName();
    const lock = await lockPostgres(key, options);
    const lost = new Promise((resolve) => lock.once('lost', resolve));
    const cliKey = uniqueName();
    const wrapper = spawn(process.execPath, [CLI, 'run', '--postgres', server.url, '--key', cliKey, '--', 'sh', '-c', 'echo started; exec sleep 30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => kill(wrapper));
    let stderr = '';
    wrapper.stderr.on('data', (chunk) => (stderr += chunk));
    const closed = new Promise((resolve) => wrapper.once('close', resolve)); // after all of stderr is read
    // COMMAND runs once the CLI holds the lock, has its token and watches for a loss: holding the
    // advisory lock alone comes earlier, and a restart then would fail the CLI's acquisition instead.
    assert.equal(await new Promise((resolve) => readline.createInterface({ input: wrapper.stdout }).once('line', resolve)), 'started');
    await admin.end();
    admin = undefined;
    await server.restart();
    const error = await lost;
    assert.ok(error instanceof solely.LockLostError);
    assert.equal(error.code, 'ERR_SOLELY_LOCK_LOST');
    assert.equal(lock.lost, true);
    assert.equal(lock.signal.aborted, true);
    assert.equal(error.cause.code, '57P01'); // admin_shutdown
    await closed;
    assert.equal(wrapper.exitCode, 69);
    assert.match(stderr, new RegExp(`^solely: lost the postgres advisory lock ${cliKey}: .*; sent SIGTERM to sh\\n$`));
    await lock.release();
    const after = await lockPostgres(key, options);
    assert.ok(after.fencingToken > lock.fencingToken, 'tokens survive the restart');
    await after.release();
  });

});

test("a connection that is not up within connectionTimeoutMillis: ETIMEDOUT from 'connect'", async (t) => {
  // Accepts TCP and never answers the startup message.
  const silent = net.createServer(() => {});
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => silent.close());
  const sockets = [];
  silent.on('connection', (socket) => sockets.push(socket));
  t.after(() => sockets.forEach((socket) => socket.destroy()));
  const { port } = silent.address();
  await assert.rejects(lockPostgres(uniqueName(), { connection: { host: '127.0.0.1', port, connectionTimeoutMillis: 100 } }), {
    name: 'SolelyError',
    code: 'ETIMEDOUT',
    syscall: 'connect',
  });
});
