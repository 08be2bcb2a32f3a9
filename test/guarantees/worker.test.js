'use strict';
// The addon is context-aware: it loads in worker_threads, and locks held there are real.
const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, test } = require('node:test');
const { Worker } = require('node:worker_threads');
const solely = require('../..');
const { uniqueName, tempDir, ROOT, fdLinks, opened } = require('../support/helpers');

function runWorker(source, workerData) {
  const worker = new Worker(`const solely = require(${JSON.stringify(ROOT)}); ${source}`, { eval: true, workerData });
  const messages = [];
  worker.on('message', (m) => messages.push(m));
  return { worker, messages, next: () => new Promise((resolve) => worker.once('message', resolve)) };
}

test('a lock held in a Worker conflicts with the main thread, and is free once released there', async (t) => {
  const name = uniqueName();
  const file = path.join(tempDir(t), 'worker.lock');
  const { worker, next } = runWorker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const a = solely.lockAbstractSync(workerData.name);
    const f = solely.lockFileSync(workerData.file);
    parentPort.postMessage('locked');
    parentPort.once('message', () => { a.release(); f.release(); parentPort.postMessage('released'); });
  `, { name, file });
  assert.equal(await next(), 'locked');
  assert.equal(solely.tryLockAbstractSync(name), null);
  assert.equal(solely.tryLockFileSync(file), null);
  worker.postMessage('release');
  assert.equal(await next(), 'released');
  solely.lockAbstractSync(name).release();
  solely.lockFileSync(file).release();
  await worker.terminate();
});

// The fds a Worker opens for a pending wait (the lock file it watches, the socket connected to the
// holder) are the process's: if the Worker ends mid-wait, the addon must close them, or they stay
// open until the process exits.
const waits = [
  { kind: 'file (flock)', target: (t) => path.join(tempDir(t), 'wait.lock'), hold: (file) => solely.lockFileSync(file), call: 'lockFile(workerData.target, { wait: true })' },
  { kind: 'file (fcntl)', target: (t) => path.join(tempDir(t), 'wait.lock'), hold: (file) => solely.lockFileSync(file, { method: 'fcntl' }), call: "lockFile(workerData.target, { wait: true, method: 'fcntl' })" },
  { kind: 'abstract, listening holder', target: () => uniqueName(), hold: (name) => solely.lockAbstractSync(name), call: 'lockAbstract(workerData.target, { wait: true })' },
];

describe('a Worker terminated or exiting while it waits leaves no fd of the wait open', () => {
  for (const w of waits) for (const end of ['terminate', 'exit']) workerEndTest(w, end);
});

function workerEndTest(w, end) {
  const how = end === 'terminate' ? 'terminated (worker.terminate())' : 'exiting (process.exit() in it)';
  test(`${w.kind}: a Worker ${how} while it waits leaves no fd of the wait open`, async (t) => {
    const target = w.target(t);
    const held = w.hold(target);
    t.after(() => held.release());
    const before = fdLinks();
    // The wait's first attempt and its wake-up source are set up synchronously by the call:
    // the fds new after it are the wait's.
    const { worker, next } = runWorker(`
      const fs = require('node:fs');
      const { parentPort, workerData } = require('node:worker_threads');
      ${fdLinks}
      ${opened}
      const before = fdLinks();
      solely.${w.call};
      parentPort.once('message', () => process.exit(0));
      parentPort.postMessage(opened(before, fdLinks()));
    `, { target });
    const waitFds = await next();
    const expected = w.kind.startsWith('file') ? target : 'socket:[';
    assert.ok(waitFds.some((link) => link.startsWith(expected)), `the wait opened ${expected}: ${waitFds}`);
    const waiting = opened(before, fdLinks());
    assert.ok(waitFds.every((link) => waiting.includes(link)), `open while the Worker waits: ${waitFds}`);
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    if (end === 'terminate') assert.equal(await worker.terminate(), 1);
    else worker.postMessage('exit');
    assert.equal(await exited, end === 'terminate' ? 1 : 0);
    assert.deepEqual(opened(before, fdLinks()), [], 'closed once the Worker is gone');
  });
}

test('a lock taken in a Worker that exits without release() stays held: fds belong to the process', async () => {
  const name = uniqueName();
  const { worker, next } = runWorker(`
    const { parentPort, workerData } = require('node:worker_threads');
    solely.lockAbstractSync(workerData.name);
    parentPort.postMessage('locked');
  `, { name });
  // Listen for 'exit' first: the worker exits right after posting, and both events can arrive in one turn.
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  assert.equal(await next(), 'locked');
  await exited;
  // fds belong to the process, not the thread: a dropped handle keeps the lock (no finalizer).
  assert.equal(solely.tryLockAbstractSync(name), null);
});
