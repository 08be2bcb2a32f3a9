'use strict';
// The addon is context-aware: it loads in worker_threads, and locks held there are real.
const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('node:test');
const { Worker } = require('node:worker_threads');
const solely = require('..');
const { uniqueName, tempDir } = require('./helpers');

const PACKAGE = path.join(__dirname, '..');

function runWorker(source, workerData) {
  const worker = new Worker(`const solely = require(${JSON.stringify(PACKAGE)}); ${source}`, { eval: true, workerData });
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

test('a Worker terminated while waiting exits cleanly; its wait handles are closed', async (t) => {
  const name = uniqueName();
  const file = path.join(tempDir(t), 'terminate.lock');
  const a = solely.lockAbstractSync(name);
  const f = solely.lockFileSync(file);
  for (let i = 0; i < 5; i++) {
    const { worker, next } = runWorker(`
      const { parentPort, workerData } = require('node:worker_threads');
      solely.lockAbstract(workerData.name, { wait: true });
      solely.lockFile(workerData.file, { wait: true });
      setTimeout(() => parentPort.postMessage('waiting'), 20);
    `, { name, file });
    assert.equal(await next(), 'waiting');
    assert.equal(await worker.terminate(), 1);
  }
  a.release();
  f.release();
});

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
