'use strict';
// The lock kinds the reliability suites run against: one adapter per row, so that a new kind
// is one more entry. Children load this file too and look their kind up by name, so every
// function here works in any process.
//   target(dir)       a fresh target: a path inside dir, or a unique abstract name
//   acquire(target, { signal, locked }?)   resolves with a handle once held, waiting as long as
//                     it takes. A kind with work of its own under the lock (a pidfile's PID
//                     write) calls locked() between the two, so that a killer learns which it struck
//   tryAcquire(target) a handle, or null while another holds it (may return a promise)
//   release(handle)   gives it back (may return a promise)
//   stale(target)     optional: what the target shows with no holder, for the crash suite to
//                     check after a kill without taking the lock
// SLOT_KINDS, for the exclusion and crash suites only, are locks that admit more than one holder:
//   capacity          at most this many inside at once (slots: N); an exclusive holder of a
//                     shared/exclusive mix is alone inside whatever the capacity
//   tryAcquire        always the strictest mode (exclusive), so that it proves nobody is inside
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const solely = require('../..');
const { uniqueName } = require('./helpers');

/** null for LockHeldError (contention is a value here), the result otherwise. */
async function unlessHeld(attempt) {
  try {
    return await attempt();
  } catch (error) {
    if (error instanceof solely.LockHeldError) return null;
    throw error;
  }
}

const fileKind = (name, method) => ({
  name,
  target: (dir) => path.join(dir, `${name}.lock`),
  acquire: (target, { signal } = {}) => solely.lockFile(target, { signal, method, wait: true }),
  tryAcquire: (target) => solely.tryLockFileSync(target, { method }),
  release: (lock) => lock.release(),
});

// listenUnix has no wait: it fails at once with LockHeldError while another server holds the
// path's sidecar lock. The adapter polls, 1 ms doubling to 16 ms (a holder's release is not an
// event this process can watch without taking the lock); the hand-off is therefore slower and
// less fair than the event-driven kinds', which the figures show.
const UNIX_SERVER_MAX_BACKOFF_MS = 16;

async function listenWaiting(target, { signal } = {}) {
  for (let backoff = 1; ; backoff = Math.min(backoff * 2, UNIX_SERVER_MAX_BACKOFF_MS)) {
    signal?.throwIfAborted();
    const server = await unlessHeld(() => solely.listenUnix(target));
    if (server !== null) return server;
    await sleep(backoff, undefined, { signal });
  }
}

const KINDS = [
  {
    name: 'abstract',
    target: () => uniqueName('solely-stress'),
    acquire: (target, { signal } = {}) => solely.lockAbstract(target, { signal, wait: true }),
    tryAcquire: (target) => solely.tryLockAbstractSync(target),
    release: (lock) => lock.release(),
  },
  fileKind('flock', 'flock'),
  fileKind('fcntl', 'fcntl'),
  {
    // The holder writes its PID right after taking the lock, as a daemon does; half the
    // releases remove the file (unlink under the lock), half leave it for the next holder.
    name: 'pidfile',
    target: (dir) => path.join(dir, 'daemon.pid'),
    acquire: async (target, { signal, locked } = {}) => {
      const pidfile = await solely.openPidfile(target, { signal, wait: true });
      locked?.();
      pidfile.write();
      return pidfile;
    },
    tryAcquire: async (target) => {
      const pidfile = await unlessHeld(() => solely.openPidfileSync(target));
      pidfile?.write();
      return pidfile;
    },
    release: (pidfile) => (Math.random() < 0.5 ? pidfile.remove() : pidfile.release()),
    stale: (target) => solely.readPidfile(target),
  },
  {
    name: 'unix-server',
    target: (dir) => path.join(dir, 'server.sock'),
    acquire: listenWaiting,
    tryAcquire: (target) => unlessHeld(() => solely.listenUnix(target)),
    // Resolves once net closed the socket and the sidecar lock is released.
    release: (server) => new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  },
];

const SLOTS = 4;
// A mix of shared and exclusive holders: one acquisition in four is exclusive.
const EXCLUSIVE_SHARE = 0.25;

const fileSlotsKind = (name, method) => ({
  ...fileKind(name, method),
  capacity: SLOTS,
  acquire: (target, { signal } = {}) => solely.lockFile(target, { signal, method, slots: SLOTS, wait: true }),
  tryAcquire: (target) => solely.tryLockFileSync(target, { method, slots: SLOTS }),
});

const sharedMixKind = (name, method) => ({
  ...fileKind(name, method),
  capacity: Infinity,
  acquire: (target, { signal } = {}) => solely.lockFile(target, { signal, method, shared: Math.random() >= EXCLUSIVE_SHARE, wait: true }),
});

const SLOT_KINDS = [
  {
    name: `abstract-slots-${SLOTS}`,
    capacity: SLOTS,
    target: () => uniqueName('solely-stress'),
    acquire: (target, { signal } = {}) => solely.lockAbstract(target, { signal, slots: SLOTS, wait: true }),
    tryAcquire: (target) => solely.tryLockAbstractSync(target, { slots: SLOTS }),
    release: (lock) => lock.release(),
  },
  fileSlotsKind(`flock-slots-${SLOTS}`, 'flock'),
  fileSlotsKind(`fcntl-slots-${SLOTS}`, 'fcntl'),
  sharedMixKind('flock-shared-mix', 'flock'),
  sharedMixKind('fcntl-shared-mix', 'fcntl'),
];

function kindNamed(name) {
  const kind = [...KINDS, ...SLOT_KINDS].find((k) => k.name === name);
  if (kind === undefined) throw new Error(`no lock kind named ${name}`);
  return kind;
}

module.exports = { KINDS, SLOT_KINDS, kindNamed };
