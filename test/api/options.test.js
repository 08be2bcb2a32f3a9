'use strict';
// A misspelt option key is refused before anything is done: a typo would otherwise mean the default.
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('solely');
const postgres = require('solely/postgres');
const dbus = require('solely/dbus');
const { uniqueName, tempDir, CLI } = require('../support/helpers');


/** ERR_INVALID_ARG_VALUE naming the key and, when one is near, the key that was meant. */
function unknownKey(key, meant) {
  return (error) => {
    assert.ok(error instanceof solely.SolelyError, error.stack);
    assert.equal(error.code, 'ERR_INVALID_ARG_VALUE');
    assert.ok(error.message.includes(`unknown key '${key}'`), error.message);
    if (meant !== undefined) assert.ok(error.message.endsWith(`did you mean '${meant}'?`), error.message);
    return true;
  };
}

/** A call's failure, thrown or rejected, as a promise. */
async function failure(call) {
  await call();
  assert.fail('no error');
}

test('every public function that takes options refuses an unknown key, suggesting the one meant, and does nothing', async (t) => {
  const dir = tempDir(t);
  const file = (name) => path.join(dir, name);
  // A server that counts connections: postgres must not even connect.
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const url = `postgres://127.0.0.1:${server.address().port}/x`;
  // A bus address with nothing behind it: a connection attempt would fail with ENOENT instead.
  const address = `unix:path=${file('no-bus')}`;
  const name = uniqueName();
  const cases = [
    ['lockAbstractSync', () => solely.lockAbstractSync(name, { lisen: false }), 'lisen', 'listen'],
    ['tryLockAbstractSync', () => solely.tryLockAbstractSync(name, { Listen: false }), 'Listen', 'listen'],
    ['lockAbstract', () => solely.lockAbstract(name, { wiat: 100 }), 'wiat', 'wait'],
    ['lockFileSync', () => solely.lockFileSync(file('a.lock'), { methd: 'fcntl' }), 'methd', 'method'],
    ['tryLockFileSync', () => solely.tryLockFileSync(file('a.lock'), { mdoe: 0o600 }), 'mdoe', 'mode'],
    ['lockFile', () => solely.lockFile(file('a.lock'), { onNetworkFilesytem: 'error' }), 'onNetworkFilesytem', 'onNetworkFilesystem'],
    ['lockFileSync (no wait)', () => solely.lockFileSync(file('a.lock'), { wait: 100 }), 'wait'],
    ['openPidfileSync', () => solely.openPidfileSync(file('a.pid'), { methd: 'fcntl' }), 'methd', 'method'],
    ['openPidfile', () => solely.openPidfile(file('a.pid'), { sginal: AbortSignal.timeout(1000) }), 'sginal', 'signal'],
    ['listenUnix', () => solely.listenUnix(file('a.sock'), { backlgo: 5 }), 'backlgo', 'backlog'],
    ['singleInstance', () => solely.singleInstance(name, { timout: 5 }), 'timout', 'timeout'],
    ['whoHolds', () => solely.whoHolds({ file: file('a.lock'), abstarct: name }), 'abstarct', 'abstract'],
    ['lockPostgres', () => postgres.lockPostgres(name, { conection: url }), 'conection', 'connection'],
    ['tryLockPostgres', () => postgres.tryLockPostgres(name, { connection: url, keepaliveIntreval: 0 }), 'keepaliveIntreval', 'keepaliveInterval'],
    ['tryLockPostgres (no wait)', () => postgres.tryLockPostgres(name, { connection: url, wait: true }), 'wait'],
    ['whoHoldsPostgres', () => postgres.whoHoldsPostgres(name, { connection: url, fencingTabel: false }), 'fencingTabel'],
    ['lockDbusName', () => dbus.lockDbusName('org.example.Solely', { adress: address }), 'adress', 'address'],
    ['tryLockDbusName', () => dbus.tryLockDbusName('org.example.Solely', { address, buss: 'system' }), 'buss', 'bus'],
  ];
  for (const [fn, call, key, meant] of cases) {
    await assert.rejects(failure(call), unknownKey(key, meant), fn);
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing created');
  assert.equal(solely.whoHolds({ abstract: name }), null, 'nothing bound');
  assert.equal(connections, 0, 'no connection made');
});

test('an unknown key with no near match lists the keys the function takes', () => {
  assert.throws(() => solely.lockFileSync('/tmp/x.lock', { retries: 3 }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: `The "options" argument has an unknown key 'retries': it takes 'method', 'mode', 'onNetworkFilesystem', 'shared', 'slots'`,
  });
});

test('the CLI refuses an unknown option with 64, suggesting the one meant', () => {
  for (const [args, line] of [
    [['run', '--wiat', '--abstract', 'x', '--', 'true'], 'solely: unknown option --wiat: did you mean --wait?\n'],
    [['status', '--jsno', '--abstract', 'x'], 'solely: unknown option --jsno: did you mean --json?\n'],
    [['run', '--frobnicate', '--abstract', 'x', '--', 'true'], 'solely: unknown option --frobnicate\n'],
  ]) {
    const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 64, args.join(' '));
    assert.ok(result.stderr.startsWith(line), result.stderr);
  }
});
