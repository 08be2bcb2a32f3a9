'use strict';
// solely/dbus against a private dbus-daemon started and stopped by each test.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const test = require('node:test');
const dbus = require('dbus-native');
const solely = require('../..');
const { checkBusName, lockDbusName, tryLockDbusName } = require('../../dist/dbus/index.js');
const { FIXTURES, tempDir, spawnReady, kill, uniqueName, fdLinks, opened, needs, readableFixture, NOBODY } = require('../support/helpers');

// Each test but the last starts a private bus.
const NO_DAEMON = needs('dbus-daemon');

const asRoot = process.getuid() === 0;

/**
 * A bus of our own: anyone may connect and own any name (so that another uid can hold one).
 * Resolves with { address, daemon }; the daemon is killed when the test ends.
 */
async function privateBus(t) {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o755);
  const config = path.join(dir, 'bus.conf');
  fs.writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${dir}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`,
  );
  const daemon = await spawnReady(t, 'dbus-daemon', ['--config-file', config, '--nofork', '--nopidfile', '--syslog-only', '--print-address=1']);
  return { address: daemon.firstLine, daemon };
}

/** A plain dbus-native connection for looking at the bus from outside, closed when the test ends. */
function observer(t, address) {
  const bus = dbus.createClient({ busAddress: address });
  t.after(() => bus.close());
  return {
    queue: (name) => bus.invokeDbus({ member: 'ListQueuedOwners', signature: 's', body: [name] }).then(undefined, () => []),
    owner: (name) => bus.invokeDbus({ member: 'GetNameOwner', signature: 's', body: [name] }).then(undefined, () => null),
  };
}

function holdName(t, address, name, wrap = []) {
  // Another uid runs the fixture from a copy it may read: the checkout may sit under a private directory.
  const fixture = wrap.length === 0 ? path.join(FIXTURES, 'hold-dbus.js') : readableFixture('hold-dbus.js');
  const [command, ...args] = [...wrap, process.execPath, fixture, address, name];
  return spawnReady(t, command, args);
}

/** Resolves once the queue for name is count long (it changes only by messages we sent). */
async function queueLength(look, name, count) {
  while ((await look.queue(name)).length !== count) await new Promise((resolve) => setTimeout(resolve, 5));
}

test('two processes contend: try is null, lock is a LockHeldError naming the holder', { skip: NO_DAEMON }, async (t) => {
  const { address } = await privateBus(t);
  const name = `org.solely.${uniqueName('contend').replace(/-/g, '_')}`;
  const child = await holdName(t, address, name);
  assert.match(child.firstLine, /^:1\.\d+$/);
  const fds = fdLinks();
  assert.equal(await tryLockDbusName(name, { address }), null);
  await assert.rejects(lockDbusName(name, { address }), (error) => {
    assert.ok(error instanceof solely.LockHeldError);
    assert.ok(!(error instanceof solely.ForeignHolderError));
    assert.deepEqual({ code: error.code, syscall: error.syscall, address: error.address }, { code: 'ELOCKED', syscall: 'RequestName', address: name });
    assert.equal(error.holder.pid, child.pid);
    assert.equal(error.holder.uid, process.getuid());
    assert.match(error.holder.command, /hold-dbus\.js/);
    return true;
  });
  assert.deepEqual(opened(fds, fdLinks()), [], 'a refused attempt closes its connection');
  assert.equal((await holdName(t, address, name)).firstLine, 'held', 'another process is refused too');
});

test('a holder of another uid is a ForeignHolderError with its credentials', { skip: NO_DAEMON || (!asRoot && 'setpriv needs root') }, async (t) => {
  const { address } = await privateBus(t);
  const name = 'org.solely.Foreign';
  const child = await holdName(t, address, name, ['setpriv', ...NOBODY]);
  await assert.rejects(lockDbusName(name, { address }), (error) => {
    assert.ok(error instanceof solely.ForeignHolderError);
    assert.equal(error.holder.uid, 65534);
    assert.equal(error.holder.pid, child.pid, 'setpriv execs node: one pid');
    return true;
  });
});

test('SIGKILL of the owner hands the name to a queued waiter', { skip: NO_DAEMON }, async (t) => {
  const { address } = await privateBus(t);
  const look = observer(t, address);
  const name = 'org.solely.Killed';
  const child = await holdName(t, address, name);
  const waiting = lockDbusName(name, { address, wait: true });
  await queueLength(look, name, 2); // queued on the bus: woken by NameAcquired, not by polling
  await kill(child);
  const lock = await waiting;
  assert.equal(await look.owner(name), lock.uniqueName);
  assert.equal(lock.kind, 'dbus');
  assert.equal(lock.target, name);
  assert.equal(lock.lost, false);
  await lock.release();
  assert.equal(lock.released, true);
  assert.equal(await look.owner(name), null);
});

test('the bus: DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus; DBUS_SYSTEM_BUS_ADDRESS for bus: system', { skip: NO_DAEMON }, async (t) => {
  const { address } = await privateBus(t);
  const saved = { ...process.env };
  t.after(() => {
    for (const variable of ['DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'XDG_RUNTIME_DIR']) {
      if (saved[variable] === undefined) delete process.env[variable];
      else process.env[variable] = saved[variable];
    }
  });
  const name = `org.solely.${uniqueName('address').replace(/-/g, '_')}`;
  const socket = /^unix:path=([^,]+)/.exec(address)[1];
  const cases = [
    [{ DBUS_SESSION_BUS_ADDRESS: address }, {}, address],
    [{ XDG_RUNTIME_DIR: path.dirname(socket) }, {}, `unix:path=${socket}`],
    [{ DBUS_SYSTEM_BUS_ADDRESS: address }, { bus: 'system' }, address],
  ];
  for (const [env, options, expected] of cases) {
    for (const variable of ['DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'XDG_RUNTIME_DIR']) delete process.env[variable];
    Object.assign(process.env, env);
    const lock = await tryLockDbusName(name, options);
    assert.equal(lock.address, expected, JSON.stringify(env));
    await lock.release();
  }
});

test('a waiter gets the name when the owner releases it', { skip: NO_DAEMON }, async (t) => {
  const { address } = await privateBus(t);
  const look = observer(t, address);
  const name = 'org.solely.Released';
  const child = await holdName(t, address, name);
  const waiting = lockDbusName(name, { address, wait: 10_000 });
  await queueLength(look, name, 2);
  child.stdin.write('\n');
  const lock = await waiting;
  const [line] = await once(child.lines, 'line');
  assert.equal(line, 'released');
  assert.equal(await look.owner(name), lock.uniqueName);
  // asyncDispose is release(): the next owner gets it.
  await lock[Symbol.asyncDispose]();
  const next = await tryLockDbusName(name, { address });
  assert.notEqual(next, null);
  await next.release();
});

test('timeout and abort leave the queue and close the connection', { skip: NO_DAEMON }, async (t) => {
  const { address } = await privateBus(t);
  const look = observer(t, address);
  const name = 'org.solely.Queue';
  const child = await holdName(t, address, name);
  const fds = fdLinks();
  await assert.rejects(lockDbusName(name, { address, wait: 50 }), (error) => {
    assert.ok(error instanceof solely.LockTimeoutError);
    assert.deepEqual({ code: error.code, address: error.address }, { code: 'ETIMEDOUT', address: name });
    return true;
  });
  assert.deepEqual(await look.queue(name), [child.firstLine], 'the queue was left before the wait rejected');

  const controller = new AbortController();
  const waiting = lockDbusName(name, { address, wait: true, signal: controller.signal });
  await queueLength(look, name, 2);
  const reason = new Error('stop');
  controller.abort(reason);
  await assert.rejects(waiting, (error) => {
    assert.ok(error instanceof solely.AbortError);
    assert.equal(error.cause, reason);
    return true;
  });
  assert.deepEqual(await look.queue(name), [child.firstLine]);
  await assert.rejects(lockDbusName(name, { address, signal: AbortSignal.abort(reason) }), { code: 'ABORT_ERR', cause: reason });
  assert.deepEqual(opened(fds, fdLinks()), []);
  // The owner releasing now gives the name to nobody from the aborted waits.
  child.stdin.write('\n');
  await once(child.lines, 'line');
  assert.equal(await look.owner(name), null);
});

test('an abort while RequestName is under way ends the wait at once and leaves the queue', { skip: NO_DAEMON }, async (t) => {
  const { address } = await privateBus(t);
  const look = observer(t, address);
  const name = 'org.solely.AbortedEarly';
  const child = await holdName(t, address, name);
  const fds = fdLinks();
  const controller = new AbortController();
  const reason = new Error('stop');
  // The call has checked the signal and sent RequestName; the wait in the queue has not begun.
  const waiting = lockDbusName(name, { address, wait: 30_000, signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(waiting, (error) => {
    assert.ok(error instanceof solely.AbortError, `${error.name}: ${error.message}`);
    assert.deepEqual({ cause: error.cause, address: error.address }, { cause: reason, address: name });
    return true;
  });
  assert.deepEqual(await look.queue(name), [child.firstLine], 'the queue was left before the wait rejected');
  assert.deepEqual(opened(fds, fdLinks()), []);
});

test('the bus going away marks the lock lost: lost, a lost event, an aborted signal', { skip: NO_DAEMON }, async (t) => {
  const { address, daemon } = await privateBus(t);
  const lock = await lockDbusName('org.solely.Lost', { address });
  assert.equal(lock.signal.aborted, false);
  const lost = once(lock, 'lost');
  const look = observer(t, address);
  const waiting = lockDbusName('org.solely.Lost', { address, wait: true });
  await queueLength(look, 'org.solely.Lost', 2);
  // A waiter never had the name: it fails with what broke its connection, not as a loss.
  const failed = assert.rejects(waiting, { code: 'ECONNRESET', address });
  await kill(daemon);
  await failed;
  const [reason] = await lost;
  assert.equal(lock.lost, true);
  assert.equal(lock.signal.aborted, true);
  assert.equal(lock.signal.reason, reason);
  assert.ok(reason instanceof solely.LockLostError);
  assert.deepEqual({ code: reason.code, address: reason.address }, { code: 'ERR_SOLELY_LOCK_LOST', address: 'org.solely.Lost' });
  await lock.release(); // still fine, and idempotent
  await lock.release();
});

test('release() is not a loss, and the name is free once it resolves', { skip: NO_DAEMON }, async (t) => {
  const { address } = await privateBus(t);
  const look = observer(t, address);
  const lock = await lockDbusName('org.solely.Quiet', { address });
  lock.on('lost', () => assert.fail('release is not a loss'));
  await lock.release();
  assert.equal(await look.owner('org.solely.Quiet'), null);
  assert.equal(lock.signal.aborted, false);
  assert.equal(lock.lost, false);
});

test('invalid bus names are refused before anything is sent', async () => {
  // No bus at this address: a name that got as far as connecting would fail with ENOENT.
  const address = 'unix:path=/nonexistent/solely/bus';
  const invalid = ['', 'org', '.org.example', 'org..example', 'org.example.', '1org.example', 'org.1example', ':1.42', 'org.ex/ample', 'org.exämple', 'org.example App', `a.${'b'.repeat(254)}`];
  for (const name of invalid) {
    await assert.rejects(tryLockDbusName(name, { address }), (error) => {
      assert.ok(error instanceof solely.InvalidTargetError, `${JSON.stringify(name)}: ${error}`);
      assert.equal(error.address, name);
      assert.ok(['EINVAL', 'ENAMETOOLONG'].includes(error.code));
      return true;
    });
  }
  await assert.rejects(lockDbusName(42, { address }), { code: 'ERR_INVALID_ARG_TYPE' });
  // The same check, exported: synchronous, the name back when it is valid.
  assert.equal(checkBusName('org.example.App'), 'org.example.App');
  for (const name of invalid) assert.throws(() => checkBusName(name), { name: 'InvalidTargetError', address: name });
  await assert.rejects(lockDbusName('org.example.App', { bus: 'user' }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(lockDbusName('org.example.App', { bus: 'system', address }), { code: 'ERR_INVALID_ARG_VALUE' });
  // Valid: '-' and '_' anywhere, digits after the first character, 255 bytes.
  for (const name of ['org.example-app._x', `a.${'b'.repeat(253)}`, 'a-1.b_2']) {
    await assert.rejects(tryLockDbusName(name, { address }), { code: 'ENOENT', syscall: 'connect', address });
  }
});
