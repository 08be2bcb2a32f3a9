'use strict';
// The suite's own helpers, where getting them wrong fails other suites for reasons unrelated to solely.
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('..');
const { uniqueName, tempDir, spawnReady, readableCopy, readablePackage } = require('./helpers');

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** Runs node as uid 65534 with a script; its status and output. */
function nodeAsNobody(script) {
  return spawnSync('setpriv', [...NOBODY, process.execPath, '-e', script], { encoding: 'utf8' });
}

test('a child dropped to another uid loads the package and runs fixtures from readableCopy of a checkout under a 0700 directory', { skip: process.getuid() !== 0 && 'setpriv needs root' }, async (t) => {
  // A checkout as a fresh container has it: under /root, which only root may enter.
  const checkout = path.join(tempDir(t), 'checkout');
  fs.renameSync(readableCopy(path.join(__dirname, '..'), { peers: ['dbus-native'] }), checkout);
  fs.chmodSync(path.dirname(checkout), 0o700);
  const load = (root) => `require(${JSON.stringify(root)}); require(require.resolve('dbus-native', { paths: [${JSON.stringify(path.join(root, 'dist'))}] })); console.log('loaded')`;
  const refused = nodeAsNobody(load(checkout));
  assert.notEqual(refused.status, 0, 'the checkout must be out of reach of uid 65534, or this test proves nothing');
  assert.match(refused.stderr, /MODULE_NOT_FOUND|EACCES/);

  const copy = readableCopy(checkout, { peers: ['dbus-native'] });
  t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
  const loaded = nodeAsNobody(load(copy));
  assert.deepEqual([loaded.status, loaded.stdout, loaded.stderr], [0, 'loaded\n', '']);
  const name = uniqueName();
  const held = await spawnReady(t, 'setpriv', [...NOBODY, process.execPath, path.join(copy, 'test', 'fixtures', 'hold.js'), 'abstract', name]);
  assert.equal(held.firstLine, 'locked');
  assert.equal(solely.whoHolds({ abstract: name }).uid, 65534);
});

test("readablePackage is this checkout's copy, made once per process, loadable by another uid, removed at exit", { skip: process.getuid() !== 0 && 'setpriv needs root' }, () => {
  const copy = readablePackage();
  assert.equal(readablePackage(), copy);
  assert.ok(!`${copy}${path.sep}`.startsWith(path.join(__dirname, '..') + path.sep), 'outside the checkout');
  const loaded = nodeAsNobody(`console.log(typeof require(${JSON.stringify(copy)}).lockAbstractSync)`);
  assert.deepEqual([loaded.status, loaded.stdout, loaded.stderr], [0, 'function\n', '']);

  const other = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(path.join(__dirname, 'helpers.js'))}).readablePackage())`], { encoding: 'utf8' });
  assert.equal(other.status, 0, other.stderr);
  assert.notEqual(other.stdout.trim(), copy, 'each process has its own');
  assert.equal(fs.existsSync(other.stdout.trim()), false, 'removed when its process exited');
});
