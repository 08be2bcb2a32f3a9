'use strict';
// The addon's sock_diag queries (abstractOwners, abstractSockets): which sockets bind an abstract
// name, or every abstract name, exactly, and at what cost in fds.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { constants } = require('node:os');
const { test } = require('node:test');
const { binding } = require('../../dist/internal/binding');
const { uniqueName, holder, fdCount } = require('../support/helpers');

const { EINVAL, ENAMETOOLONG, EPROTONOSUPPORT } = Object.fromEntries(Object.entries(constants.errno).map(([name, errno]) => [name, -errno]));

/** Binds "\0" + name (exact bytes) without listening; closed when the test ends. */
function bound(t, name) {
  const fd = binding.abstractBind(name, -1);
  assert.ok(fd >= 0, `bind ${JSON.stringify(name)}: ${fd}`);
  t.after(() => binding.close(fd));
  return fd;
}

test('abstractOwners: the inode and uid of the socket bound to the exact name, listening or not', (t) => {
  const name = uniqueName();
  assert.deepEqual(binding.abstractOwners(name), []);
  const fd = bound(t, name);
  assert.deepEqual(binding.abstractOwners(name), [[fs.fstatSync(fd).ino, process.getuid()]]);
  const listening = uniqueName();
  const server = binding.abstractBind(listening, 8);
  t.after(() => binding.close(server));
  assert.deepEqual(binding.abstractOwners(listening), [[fs.fstatSync(server).ino, process.getuid()]]);
});

test('abstractOwners matches bytes and length exactly: a prefix, a trailing NUL, a padded name are other names', (t) => {
  const name = uniqueName();
  bound(t, `${name}x`);
  bound(t, `${name}\0`);
  bound(t, `${name}\0`.padEnd(107, '\0')); // what Node 20's net binds for '\0name'
  assert.deepEqual(binding.abstractOwners(name), []);
  assert.equal(binding.abstractOwners(name.slice(0, -1)).length, 0);
  assert.equal(binding.abstractOwners(`${name}\0`).length, 1);
  assert.equal(binding.abstractOwners(`${name}x`).length, 1);
  // The longest name (107 bytes) is found too; one more byte cannot be a name.
  const longest = name.padEnd(107, 'z');
  bound(t, longest);
  assert.equal(binding.abstractOwners(longest).length, 1);
  assert.equal(binding.abstractOwners('x'.repeat(108)), ENAMETOOLONG);
  assert.equal(binding.abstractOwners(''), EINVAL, 'an empty name is refused, as by bind');
});

test('abstractSockets: every abstract name with its exact bytes (a newline too), inode, uid and peer: 0 bound or listening, a connection\'s other end', (t) => {
  const name = `${uniqueName()}\nsecond line`;
  const fd = bound(t, name);
  const listening = uniqueName();
  const server = binding.abstractBind(listening, 8);
  t.after(() => binding.close(server));
  const client = binding.abstractConnect(listening);
  t.after(() => binding.close(client));
  const sockets = binding.abstractSockets();
  const named = (wanted) => sockets.filter(([bytes]) => bytes.equals(Buffer.from(wanted)));
  assert.deepEqual(named(name), [[Buffer.from(name), fs.fstatSync(fd).ino, process.getuid(), 0]]);
  const { ino } = fs.fstatSync(server);
  assert.deepEqual(named(listening).filter(([, inode]) => inode === ino), [[Buffer.from(listening), ino, process.getuid(), 0]]);
  // The connection not accepted yet carries the listener's name (on some kernels): it has a peer.
  for (const [, inode, , peer] of named(listening)) if (inode !== ino) assert.equal(peer, fs.fstatSync(client).ino);
  // Unbound sockets and path sockets are not abstract names: none is empty, none is a prefix of ours.
  assert.ok(sockets.every(([bytes]) => bytes.length > 0));
  assert.equal(named(name.split('\n')[0]).length, 0);
});

test('2,000 sock_diag dumps (and 200 of every name) leave the fd count unchanged', (t) => {
  const name = uniqueName();
  bound(t, name);
  const before = fdCount();
  for (let i = 0; i < 2000; i++) assert.equal(binding.abstractOwners(name).length, 1);
  for (let i = 0; i < 200; i++) assert.ok(Array.isArray(binding.abstractSockets()));
  assert.equal(fdCount(), before);
});

test('where sock_diag is unavailable (old kernel, no unix_diag, seccomp), whoHolds and solely list fall back on /proc/net/unix', async (t) => {
  const solely = require('../..');
  const name = uniqueName();
  const silent = await holder(t, 'abstract', name, '--no-listen');
  const { abstractOwners, abstractSockets } = binding;
  binding.abstractOwners = () => EPROTONOSUPPORT;
  binding.abstractSockets = () => EPROTONOSUPPORT;
  t.after(() => Object.assign(binding, { abstractOwners, abstractSockets }));
  const holderOf = { pid: silent.pid, uid: process.getuid(), command: silent.spawnargs.join(' ') };
  assert.deepEqual(solely.whoHolds({ abstract: name }), holderOf);
  assert.throws(() => solely.lockAbstractSync(name), (error) => error.constructor === solely.LockHeldError && error.holder.pid === silent.pid);
  assert.equal(solely.whoHolds({ abstract: uniqueName() }), null);
  // solely list, run in this process to see the same binding: its output caught on its way to stdout.
  let output = '';
  t.mock.method(process.stdout, 'write', (text) => (output += text));
  assert.equal(require('../../dist/cli/list').list(['--json']), 0);
  t.mock.restoreAll();
  assert.deepEqual(JSON.parse(output).find((lock) => lock.target === name), { kind: 'abstract', target: name, holder: holderOf });
});
