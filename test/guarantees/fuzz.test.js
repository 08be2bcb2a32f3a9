'use strict';
// Property-based bad input: arbitrary names, paths and options only ever give a lock or a typed
// SolelyError, never a crash, and never touch a file that is not the lock file itself (paths
// stay inside a prepared sandbox, snapshotted before and after every case).
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { describe, test } = require('node:test');
const fc = require('fast-check');
const solely = require('../..');
const { tempDir } = require('../support/helpers');
const { scale, record } = require('../support/scale');

const RUNS = scale(100, 10_000); // per property; four properties
// Every code a bad name, path or option may produce here, as documented.
const ARGUMENT_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']);
const SYSTEM_CODES = new Set(['EINVAL', 'ENAMETOOLONG', 'ELOOP', 'EISDIR', 'ENOTDIR', 'ENOENT', 'ENXIO', 'ELOCKED', 'ETIMEDOUT']);
const seen = {};

function checkError(error) {
  assert.ok(error instanceof solely.SolelyError, `not a SolelyError: ${error?.stack ?? error}`);
  assert.equal(error.name, error.constructor.name);
  seen[error.code] = (seen[error.code] ?? 0) + 1;
  if (ARGUMENT_CODES.has(error.code)) return;
  assert.ok(SYSTEM_CODES.has(error.code) || error.code === 'ABORT_ERR', `unexpected code ${error.code}: ${error.message}`);
  if (error.code === 'ABORT_ERR') return;
  assert.ok(Number.isInteger(error.errno) && error.errno < 0, error.message);
  assert.ok(typeof (error.path ?? error.address) === 'string', error.message);
  if (error.code === 'ETIMEDOUT') return;
  assert.equal(typeof error.syscall === 'string' || error.syscall === undefined, true);
}

async function outcome(call) {
  let lock;
  try {
    lock = await call();
  } catch (error) {
    checkError(error);
    return null;
  }
  assert.ok(lock instanceof solely.Lock || lock === null, `neither a lock nor null: ${lock}`);
  return lock;
}

// Every entry under root: type, mode, size, inode, content hash or link target, and the mtime of
// what is not a directory (creating and removing our lock file changes its directory's).
function snapshot(root) {
  const out = {};
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir)) {
      const p = path.join(dir, entry);
      const st = fs.lstatSync(p);
      let content = '';
      if (st.isSymbolicLink()) content = fs.readlinkSync(p);
      else if (st.isFile()) content = crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex');
      out[p] = `${st.mode.toString(8)} ${st.isDirectory() ? '' : `${st.size} ${st.mtimeMs}`} ${st.ino} ${content}`;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/** A sandbox with every kind of thing a lock path may meet, and a victim outside it. */
async function sandbox(t) {
  const root = tempDir(t);
  const box = path.join(root, 'box');
  const outside = path.join(root, 'outside');
  fs.mkdirSync(path.join(box, 'dir'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'victim'), 'precious');
  fs.writeFileSync(path.join(box, 'file'), 'content');
  fs.writeFileSync(path.join(box, 'dir', 'inner'), 'inner');
  fs.writeFileSync(path.join(box, 'ro'), 'read-only', { mode: 0o444 });
  fs.symlinkSync(path.join(outside, 'victim'), path.join(box, 'link'));
  fs.symlinkSync(path.join(outside, 'created'), path.join(box, 'dangling'));
  fs.symlinkSync(outside, path.join(box, 'dirlink'));
  execFileSync('mkfifo', [path.join(box, 'fifo')]);
  const server = net.createServer();
  await new Promise((resolve) => server.listen(path.join(box, 'sock'), resolve));
  t.after(() => server.close());
  return { root, box };
}

const SEGMENTS = ['file', 'dir', 'inner', 'ro', 'link', 'dangling', 'dirlink', 'fifo', 'sock', 'new.lock', '..', '.', '', 'x'.repeat(255), 'x'.repeat(256)];
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\0', '\ud800', '\udc00', 'é', '€', '/', '.', 'a', ' ', '\n'), maxLength: 130 }),
);
const relativePath = fc.array(fc.oneof(fc.constantFrom(...SEGMENTS), text), { minLength: 0, maxLength: 5 }).map((parts) => parts.join('/'));
const anyOption = fc.oneof(fc.constant(undefined), fc.anything());
const options = fc.oneof(
  anyOption,
  fc.record(
    {
      method: fc.oneof(fc.constantFrom('flock', 'fcntl'), anyOption),
      mode: fc.oneof(fc.integer({ min: -2, max: 0o10001 }), anyOption),
      wait: fc.oneof(fc.boolean(), fc.integer({ min: -1, max: 20 }), fc.double(), anyOption),
      signal: fc.oneof(fc.constant(undefined), fc.constant('aborted'), anyOption),
      listen: fc.oneof(fc.boolean(), anyOption),
      onNetworkFilesystem: fc.oneof(fc.constantFrom('lock', 'warn', 'error'), anyOption),
    },
    { requiredKeys: [] },
  ),
).map((o) => (o !== null && typeof o === 'object' && o.signal === 'aborted' ? { ...o, signal: AbortSignal.abort() } : o));

/** given, made absolute as the kernel resolves it: '..' after a symlink leaves where it leads. */
function kernelPath(box, given) {
  let at = given.startsWith('/') ? '/' : box;
  for (const part of given.split('/')) {
    if (part === '..') at = path.dirname(fs.existsSync(at) ? fs.realpathSync(at) : at);
    else if (part !== '' && part !== '.') at = path.join(at, part);
  }
  return at;
}

async function checkPaths(t, call) {
  const { root, box } = await sandbox(t);
  const cwd = process.cwd();
  process.chdir(box); // relative paths resolve inside the sandbox
  t.after(() => process.chdir(cwd));
  const property = fc.asyncProperty(relativePath, fc.boolean(), options, async (relative, absolute, o) => {
    const given = absolute ? `${box}/${relative}` : relative;
    // Inside the root as the kernel resolves it: '..' cannot walk out of the test's directory.
    fc.pre(given.includes('\0') || kernelPath(box, given).startsWith(`${root}/`));
    const before = snapshot(root);
    const lock = await outcome(() => call(given, o));
    const after = snapshot(root);
    if (lock !== null) {
      assert.equal(lock.kind, 'file');
      // A symlink in a parent directory is followed, as for any path: the file is where it leads.
      // realpath(3), not fs.realpathSync: that one folds `..` as text before it follows symlinks.
      const real = path.join(fs.realpathSync.native(path.dirname(lock.target)), path.basename(lock.target));
      lock.release();
      if (!(real in before)) {
        assert.ok(fs.lstatSync(real).isFile() && fs.lstatSync(real).size === 0);
        delete after[real];
        fs.unlinkSync(real);
      }
    }
    assert.deepEqual(after, before, `only the lock file may appear: ${JSON.stringify(given)}`);
  });
  await fc.assert(property, { numRuns: RUNS });
}

async function checkNames(call) {
  const prefix = `solely-fuzz-${process.pid}-`;
  const name = fc.oneof(text.map((s) => prefix + s), text, fc.anything());
  await fc.assert(
    fc.asyncProperty(name, options, async (n, o) => {
      const lock = await outcome(() => call(n, o));
      if (lock !== null) {
        assert.equal(lock.kind, 'abstract');
        assert.equal(lock.target, n);
        lock.release();
      }
    }),
    { numRuns: RUNS },
  );
}

describe('property-based bad input: only documented typed errors, nothing touched outside the lock file', () => {
  test(`abstract names and options, sync: ${RUNS} cases`, () => checkNames((n, o) => solely.tryLockAbstractSync(n, o)));
  test(`abstract names and options, waiting: ${RUNS} cases`, () => checkNames((n, o) => solely.lockAbstract(n, o)));
  test(`file paths and options, sync: ${RUNS} cases`, (t) => checkPaths(t, (p, o) => solely.lockFileSync(p, o)));
  test(`file paths and options, waiting: ${RUNS} cases`, (t) => checkPaths(t, (p, o) => solely.lockFile(p, o)));
});

test.after(() => record('fuzz', 'all', { cases: 4 * RUNS, codes: seen }));
