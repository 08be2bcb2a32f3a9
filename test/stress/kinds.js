'use strict';
// The lock kinds the reliability suites run against: one adapter per row, so that a new kind
// (pidfile, listenUnix, singleInstance) is one more entry. Children load this file too and
// look their kind up by name, so every function here works in any process.
//   target(dir)       a fresh target: a path inside dir, or a unique abstract name
//   acquire(target, { signal }?)   resolves with a handle once held, waiting as long as it takes
//   tryAcquire(target) a handle, or null while another holds it (may return a promise)
//   release(handle)   gives it back (may return a promise)
const path = require('node:path');
const solely = require('../..');
const { uniqueName } = require('../helpers');

const fileKind = (name, method) => ({
  name,
  target: (dir) => path.join(dir, `${name}.lock`),
  acquire: (target, options) => solely.lockFile(target, { ...options, method, wait: true }),
  tryAcquire: (target) => solely.tryLockFileSync(target, { method }),
  release: (lock) => lock.release(),
});

const KINDS = [
  {
    name: 'abstract',
    target: () => uniqueName('solely-stress'),
    acquire: (target, options) => solely.lockAbstract(target, { ...options, wait: true }),
    tryAcquire: (target) => solely.tryLockAbstractSync(target),
    release: (lock) => lock.release(),
  },
  fileKind('flock', 'flock'),
  fileKind('fcntl', 'fcntl'),
];

function kindNamed(name) {
  const kind = KINDS.find((k) => k.name === name);
  if (kind === undefined) throw new Error(`no lock kind named ${name}`);
  return kind;
}

module.exports = { KINDS, kindNamed };
