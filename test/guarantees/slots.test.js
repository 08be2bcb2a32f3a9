'use strict';
// Shared locks and "at most N" slots across real processes: never more than N inside, a killed
// slot holder frees exactly its slot, exactly one waiter wins each freed slot, shared holders
// overlap while an exclusive one is alone, the same kernel locks as flock(1), Python and lockf
// peers take, and bad input refused with typed errors.
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const solely = require('../..');
const { FIXTURES, NOBODY, CLI, uniqueName, tempDir, spawnReady, holder, exited, kill, needs, readablePackage, readableFixture } = require('../support/helpers');
const { SLOT_KINDS } = require('../support/kinds');

const SLOTS = 4;
const ROUNDS = 15;
const slotKinds = SLOT_KINDS.filter((kind) => kind.capacity === SLOTS);
/** The holder fixture's kind and a fresh target, for each mechanism with slots. */
const mechanisms = [
  { name: 'abstract', holderKind: 'abstract', kind: `abstract-slots-${SLOTS}`, target: () => uniqueName(), of: (target) => ({ abstract: target }) },
  { name: 'flock', holderKind: 'file', kind: `flock-slots-${SLOTS}`, target: (dir) => path.join(dir, 'slots.lock'), of: (target) => ({ file: target }) },
  { name: 'fcntl', holderKind: 'fcntl', kind: `fcntl-slots-${SLOTS}`, target: (dir) => path.join(dir, 'slots.lock'), of: (target) => ({ file: target }) },
];

/** N holder processes, one per slot, in slot order (the lowest free slot is taken first). */
async function fillSlots(t, { holderKind }, target) {
  const holders = [];
  for (let slot = 0; slot < SLOTS; slot++) {
    const child = await holder(t, holderKind, target, `--slots=${SLOTS}`, '--release-on-input');
    assert.equal(child.firstLine, `locked slot ${slot}`);
    holders.push(child);
  }
  return holders;
}

function nextLine(child) {
  return new Promise((resolve) => child.lines.once('line', resolve));
}

describe('at most N: N+1 and 3N processes contend, never more than N inside (markers counted under a second lock)', () => {
  for (const kind of slotKinds) {
    for (const processes of [SLOTS + 1, 3 * SLOTS]) {
      test(`${kind.name}: ${processes} processes, ${ROUNDS} rounds each, exact counter, at most ${SLOTS} inside, one per slot`, { timeout: 120_000 }, async (t) => {
        const dir = tempDir(t);
        const target = kind.target(dir);
        fs.writeFileSync(path.join(dir, 'counter'), `${'0'.padStart(12)} ${'0'.padStart(10)} ${'0'.padStart(12)}`);
        const children = await Promise.all(
          Array.from({ length: processes }, () => spawnReady(t, process.execPath, [path.join(FIXTURES, 'contend.js'), kind.name, target, dir, String(ROUNDS)])),
        );
        for (const child of children) child.stdin.write('go\n');
        await Promise.all(children.map(exited));
        assert.deepEqual(children.map((c) => c.exitCode), Array(processes).fill(0));
        const overlaps = path.join(dir, 'overlaps');
        assert.equal(fs.existsSync(overlaps) ? fs.readFileSync(overlaps, 'utf8') : '', '', 'more than N inside, or two in one slot');
        assert.equal(Number(fs.readFileSync(path.join(dir, 'counter'), 'latin1').trim().split(/ +/)[0]), processes * ROUNDS);
        t.diagnostic(`at most ${fs.readFileSync(path.join(dir, 'peak'), 'latin1')} inside at once`);
      });
    }
  }
});

describe('slots across processes', () => {
  for (const mechanism of mechanisms) {
    test(`${mechanism.name}: N holders take slots 0..N-1, the next finds all held, whoHolds names each slot's holder`, async (t) => {
      const target = mechanism.target(tempDir(t));
      const holders = await fillSlots(t, mechanism, target);
      const extra = await holder(t, mechanism.holderKind, target, `--slots=${SLOTS}`);
      assert.equal(extra.firstLine, 'held');
      assert.deepEqual(solely.whoHolds(mechanism.of(target), { slots: SLOTS }).map((h) => h?.pid), holders.map((h) => h.pid));
      assert.deepEqual(solely.whoHolds(mechanism.of(target), { slots: SLOTS + 1 }).at(-1), null, 'a slot past N is free');
    });

    test(`${mechanism.name}: SIGKILL of the holder of slot 1 frees exactly slot 1`, async (t) => {
      const target = mechanism.target(tempDir(t));
      const holders = await fillSlots(t, mechanism, target);
      await kill(holders[1]);
      const pids = solely.whoHolds(mechanism.of(target), { slots: SLOTS }).map((h) => h?.pid ?? null);
      assert.deepEqual(pids, [holders[0].pid, null, holders[2].pid, holders[3].pid]);
      const lock = mechanism.name === 'abstract' ? solely.tryLockAbstractSync(target, { slots: SLOTS }) : solely.tryLockFileSync(target, { slots: SLOTS, method: mechanism.name });
      assert.equal(lock.slot, 1);
      assert.equal(mechanism.name === 'abstract' ? solely.tryLockAbstractSync(target, { slots: SLOTS }) : solely.tryLockFileSync(target, { slots: SLOTS, method: mechanism.name }), null);
      lock.release();
    });

    test(`${mechanism.name}: three waiters, two slots freed one after the other: exactly one waiter wins each`, async (t) => {
      const target = mechanism.target(tempDir(t));
      const holders = await fillSlots(t, mechanism, target);
      const waiters = await Promise.all([0, 1, 2].map(() => spawnReady(t, process.execPath, [path.join(FIXTURES, 'slot-waiter.js'), mechanism.kind, target])));
      assert.deepEqual(waiters.map((w) => w.firstLine), ['waiting', 'waiting', 'waiting']);
      const granted = waiters.map((w) => nextLine(w).then((line) => ({ w, line })));
      for (const [n, slot] of [[1, 3], [2, 1]]) {
        await kill(holders[slot]);
        const { w, line } = await Promise.race(granted.filter((_, i) => !waiters[i].won));
        w.won = true;
        assert.equal(line, `locked slot ${slot}`);
        // Every slot is held, each by one process: the winner, never a second waiter as well.
        const pids = solely.whoHolds(mechanism.of(target), { slots: SLOTS }).map((h) => h?.pid);
        assert.equal(pids.filter((pid) => waiters.some((x) => x.pid === pid)).length, n);
        assert.equal(new Set(pids).size, SLOTS);
      }
      const [loser] = waiters.filter((w) => !w.won);
      assert.equal(loser.exitCode, null, 'the third waiter still waits');
    });
  }
});

describe('every slot held: ELOCKED says "all N slots are held" and names each slot\'s holder; holder is slot 0\'s, holders each slot\'s; the CLI says the same', () => {
  for (const mechanism of mechanisms) {
    test(`${mechanism.name}`, async (t) => {
      const target = mechanism.target(tempDir(t));
      const holders = await fillSlots(t, mechanism, target);
      const options = mechanism.name === 'abstract' ? { slots: SLOTS } : { slots: SLOTS, method: mechanism.name };
      const lock = mechanism.name === 'abstract' ? solely.lockAbstractSync : solely.lockFileSync;
      const wait = mechanism.name === 'abstract' ? solely.lockAbstract : solely.lockFile;
      const pids = holders.map((h) => h.pid);
      const slotsSaid = pids.map((pid, slot) => `slot ${slot}: pid ${pid}, uid ${process.getuid()}: `);
      const check = (error) => {
        assert.equal(error.constructor, solely.LockHeldError);
        assert.equal(error.code, 'ELOCKED');
        assert.match(error.message, new RegExp(`all ${SLOTS} slots are held`));
        for (const said of slotsSaid) assert.ok(error.message.includes(said), `${said} in ${error.message}`);
        assert.equal(error.holder.pid, pids[0]);
        assert.deepEqual(error.holders.map((h) => h.pid), pids);
        return true;
      };
      assert.throws(() => lock(target, options), check);
      await assert.rejects(wait(target, options), check);
      const kindFlag = mechanism.name === 'abstract' ? ['--abstract', target] : ['--file', target, ...(mechanism.name === 'fcntl' ? ['--fcntl'] : [])];
      const run = spawnSync(process.execPath, [CLI, 'run', ...kindFlag, '--slots', String(SLOTS), '--', 'true'], { encoding: 'utf8' });
      assert.equal(run.status, 75);
      assert.ok(run.stderr.startsWith(`solely: ${target}: all ${SLOTS} slots are held (${slotsSaid[0]}`), run.stderr);
      for (const said of slotsSaid) assert.ok(run.stderr.includes(said), `${said} in ${run.stderr}`);
      // A plain lock on the name is slot 0 alone: its error names slot 0's holder, with no holders.
      assert.throws(() => lock(target, mechanism.name === 'abstract' ? {} : { method: mechanism.name }), (error) => error.holder.pid === pids[0] && error.holders === undefined && !error.message.includes('slots are held'));
    });

  }
});

test('every slot held, one of them by another uid: the error is a ForeignHolderError naming each slot\'s holder', { skip: (process.getuid() !== 0 && 'needs root for setpriv') || needs('setpriv') }, async (t) => {
  const name = uniqueName();
  const own = await holder(t, 'abstract', name, '--slots=2');
  const other = await spawnReady(t, 'setpriv', [...NOBODY, process.execPath, readableFixture('hold.js'), 'abstract', name, '--slots=2']);
  assert.deepEqual([own.firstLine, other.firstLine], ['locked slot 0', 'locked slot 1']);
  assert.throws(() => solely.lockAbstractSync(name, { slots: 2 }), (error) => {
    assert.equal(error.constructor, solely.ForeignHolderError);
    assert.deepEqual({ pid: error.holder.pid, holders: error.holders.map((h) => h.uid) }, { pid: own.pid, holders: [process.getuid(), 65534] });
    assert.match(error.message, /all 2 slots are held .*slot 1: pid \d+, uid 65534: .*, by another user$/);
    return true;
  });
});

describe('shared locks across processes', () => {
  for (const method of ['flock', 'fcntl']) {
    const holderKind = method === 'flock' ? 'file' : 'fcntl';
    test(`${method}: shared holders overlap; an exclusive holder overlaps nobody; Lock.shared says which`, async (t) => {
      const file = path.join(tempDir(t), 'shared.lock');
      const first = await holder(t, holderKind, file, '--shared');
      const second = await holder(t, holderKind, file, '--shared');
      assert.deepEqual([first.firstLine, second.firstLine], ['locked', 'locked']);
      assert.equal((await holder(t, holderKind, file)).firstLine, 'held', 'no exclusive holder beside shared ones');
      const mine = solely.tryLockFileSync(file, { method, shared: true });
      assert.deepEqual([mine.shared, mine.slot], [true, 0]);
      mine.release();
      await kill(first);
      await kill(second);
      const exclusive = solely.tryLockFileSync(file, { method });
      assert.equal(exclusive.shared, false);
      assert.equal((await holder(t, holderKind, file, '--shared')).firstLine, 'held', 'no shared holder beside an exclusive one');
      exclusive.release();
    });
  }
});

describe('writer starvation: flock and OFD locks have no writer preference', () => {
  for (const method of ['flock', 'fcntl']) {
    const holderKind = method === 'flock' ? 'file' : 'fcntl';
    test(`${method}: while an exclusive waiter waits behind a shared holder, a new shared lock is granted at once`, async (t) => {
      const file = path.join(tempDir(t), 'starve.lock');
      const reader = await holder(t, holderKind, file, '--shared');
      assert.equal(reader.firstLine, 'locked');
      const writer = await spawnReady(t, process.execPath, [path.join(FIXTURES, 'slot-waiter.js'), method, file]);
      assert.equal(writer.firstLine, 'waiting');
      assert.equal((await holder(t, holderKind, file, '--shared')).firstLine, 'locked', 'a second reader overtakes the waiting writer');
      assert.equal(solely.whoHolds({ file })?.pid === writer.pid, false, 'the writer still waits');
    });
  }
});

const PYTHON_FLOCK = `
import fcntl, sys
f = open(sys.argv[1], 'r')
try:
    fcntl.flock(f, (fcntl.LOCK_SH if sys.argv[2] == 'sh' else fcntl.LOCK_EX) | fcntl.LOCK_NB)
except OSError:
    print('held'); sys.exit(0)
print('locked', flush=True); sys.stdin.read()
`;

// Classic POSIX record locks (lockf): they conflict with OFD locks on the same file.
const PYTHON_LOCKF = `
import fcntl, sys
f = open(sys.argv[1], 'r' if sys.argv[2] == 'sh' else 'r+')
try:
    fcntl.lockf(f, (fcntl.LOCK_SH if sys.argv[2] == 'sh' else fcntl.LOCK_EX) | fcntl.LOCK_NB)
except OSError:
    print('held'); sys.exit(0)
print('locked', flush=True); sys.stdin.read()
`;

describe('shared locks interoperate with other programs, both ways', () => {
  test('flock(1) -s and -x against shared and exclusive flock locks; flock(1) on path.i is slot i', { skip: needs('flock') }, async (t) => {
    const file = path.join(tempDir(t), 'interop.lock');
    const flock = (...args) => spawnSync('flock', ['-n', ...args, file, 'true']).status;
    const shared = solely.lockFileSync(file, { shared: true });
    assert.equal(flock('-s'), 0, 'flock -s beside our shared lock');
    assert.equal(flock('-x'), 1, 'flock -x refused beside our shared lock');
    shared.release();
    const peer = await spawnReady(t, 'flock', ['-o', '-s', file, '-c', 'echo locked; exec cat']);
    assert.equal(peer.firstLine, 'locked');
    const ours = solely.tryLockFileSync(file, { shared: true });
    assert.equal(ours?.shared, true, 'our shared lock beside flock -s');
    assert.equal(solely.tryLockFileSync(file), null, 'our exclusive lock refused beside flock -s');
    ours.release();
    await kill(peer);
    // -o: the lock stays in flock(1) itself, so killing it frees the lock at once.
    const exclusivePeer = await spawnReady(t, 'flock', ['-o', '-x', file, '-c', 'echo locked; exec cat']);
    assert.equal(exclusivePeer.firstLine, 'locked');
    assert.equal(solely.tryLockFileSync(file, { shared: true }), null, 'our shared lock refused beside flock -x');
    // A slot is a plain file lock on path.i: flock(1) takes slot 1 as solely's holders see it.
    const slotPeer = await spawnReady(t, 'flock', ['-o', '-x', `${file}.1`, '-c', 'echo locked; exec cat']);
    assert.equal(slotPeer.firstLine, 'locked');
    assert.equal(solely.whoHolds({ file }, { slots: 2 })[1].pid, slotPeer.pid);
    await kill(exclusivePeer);
    const slots = [solely.tryLockFileSync(file, { slots: 3 }), solely.tryLockFileSync(file, { slots: 3 })];
    assert.deepEqual(slots.map((lock) => lock.slot), [0, 2], 'slot 1 is flock(1)\'s');
    assert.equal(spawnSync('flock', ['-n', `${file}.2`, 'true']).status, 1, 'flock(1) finds our slot 2 held');
  });

  test('Python fcntl.flock(LOCK_SH) and LOCK_EX against shared and exclusive flock locks', async (t) => {
    const file = path.join(tempDir(t), 'interop.lock');
    fs.writeFileSync(file, '');
    const python = (mode) => spawnReady(t, 'python3', ['-c', PYTHON_FLOCK, file, mode]);
    const shared = solely.lockFileSync(file, { shared: true });
    assert.equal((await python('sh')).firstLine, 'locked');
    assert.equal((await python('ex')).firstLine, 'held');
    shared.release();
    const peer = await python('sh');
    assert.equal(solely.tryLockFileSync(file, { shared: true })?.shared, true);
    assert.equal(solely.tryLockFileSync(file), null);
    await kill(peer);
  });

  test('fcntl: OFD read locks against Python fcntl.lockf (classic POSIX) LOCK_SH and LOCK_EX', async (t) => {
    const file = path.join(tempDir(t), 'interop.lock');
    fs.writeFileSync(file, '');
    const python = (mode) => spawnReady(t, 'python3', ['-c', PYTHON_LOCKF, file, mode]);
    const shared = solely.lockFileSync(file, { method: 'fcntl', shared: true });
    assert.equal((await python('sh')).firstLine, 'locked', 'lockf LOCK_SH beside our read lock');
    assert.equal((await python('ex')).firstLine, 'held', 'lockf LOCK_EX refused beside our read lock');
    shared.release();
    const peer = await python('sh');
    assert.equal(peer.firstLine, 'locked');
    const ours = solely.tryLockFileSync(file, { method: 'fcntl', shared: true });
    assert.equal(ours?.shared, true, 'our read lock beside lockf LOCK_SH');
    ours.release();
    assert.equal(solely.tryLockFileSync(file, { method: 'fcntl' }), null, 'our write lock refused beside lockf LOCK_SH');
  });

  test('fcntl: a shared (read) lock takes a file the caller may only read; an exclusive one needs write access', { skip: needs('setpriv') }, (t) => {
    const file = path.join(tempDir(t), 'readonly.lock');
    fs.writeFileSync(file, '');
    fs.chmodSync(file, 0o444);
    fs.chmodSync(path.dirname(file), 0o755);
    const script = `
      const s = require(${JSON.stringify(readablePackage())});
      const l = s.lockFileSync(${JSON.stringify(file)}, { method: 'fcntl', shared: true }); console.log(l.shared);
      try { s.lockFileSync(${JSON.stringify(file)}, { method: 'fcntl' }) } catch (e) { console.log(e.code) }`;
    const out = execFileSync('setpriv', [...NOBODY, process.execPath, '-e', script], { encoding: 'utf8' });
    assert.deepEqual(out.trim().split('\n'), ['true', 'EACCES']);
  });
});

describe('slots and shared: bad input, whoHolds, fd hygiene', () => {
  const calls = {
    lockAbstractSync: (o) => solely.lockAbstractSync(uniqueName(), o),
    tryLockAbstractSync: (o) => solely.tryLockAbstractSync(uniqueName(), o),
    lockAbstract: (o) => solely.lockAbstract(uniqueName(), o),
    lockFileSync: (o, dir) => solely.lockFileSync(path.join(dir, 'bad.lock'), o),
    tryLockFileSync: (o, dir) => solely.tryLockFileSync(path.join(dir, 'bad.lock'), o),
    lockFile: (o, dir) => solely.lockFile(path.join(dir, 'bad.lock'), o),
    whoHolds: (o) => solely.whoHolds(uniqueName(), o),
  };
  const badSlots = [0, -1, 1.5, NaN, Infinity, 1025, 2 ** 53, '4', 4n, null];

  test('slots 0, negative, non-integer, huge or not a number: ERR_INVALID_ARG_VALUE from every call, nothing created', async (t) => {
    const dir = tempDir(t);
    for (const [name, call] of Object.entries(calls)) {
      for (const slots of badSlots) {
        await assert.rejects(async () => call({ slots }, dir), { name: 'SolelyError', code: 'ERR_INVALID_ARG_VALUE' }, `${name} slots ${String(slots)}`);
      }
    }
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test('shared with slots is refused (ERR_INVALID_ARG_VALUE); shared must be a boolean; abstract locks have no shared mode', async (t) => {
    const dir = tempDir(t);
    for (const name of ['lockFileSync', 'tryLockFileSync', 'lockFile']) {
      await assert.rejects(async () => calls[name]({ shared: true, slots: 2 }, dir), { code: 'ERR_INVALID_ARG_VALUE', message: /slots/ });
      await assert.rejects(async () => calls[name]({ shared: 'yes' }, dir), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    assert.throws(() => solely.tryLockAbstractSync(uniqueName(), { shared: true }), { code: 'ERR_INVALID_ARG_VALUE', message: /unknown key 'shared'/ });
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test('an abstract name whose last slot name would pass 107 bytes, or a path 4095: ENAMETOOLONG from every call, no slot taken or looked up', async () => {
    const name = `${uniqueName()}-`.padEnd(105, 'x');
    assert.equal(solely.tryLockAbstractSync(name, { slots: 10 })?.release(), undefined, 'name.9 is 107 bytes');
    const tooLong = { name: 'InvalidTargetError', code: 'ENAMETOOLONG', address: `@${name}.10` };
    assert.throws(() => solely.tryLockAbstractSync(name, { slots: 11 }), tooLong);
    assert.throws(() => solely.lockAbstractSync(name, { slots: 11 }), tooLong);
    await assert.rejects(solely.lockAbstract(name, { slots: 11, wait: true }), tooLong);
    assert.throws(() => solely.whoHolds(name, { slots: 11 }), tooLong);
    assert.equal(solely.whoHolds(name), null);
    // 4092 bytes, in directories that do not exist: slot 100's path is 4096 bytes, refused before any open(2) (ENOENT).
    const file = `/${'d/'.repeat(2045)}x`;
    const pathTooLong = { name: 'InvalidTargetError', code: 'ENAMETOOLONG', path: `${file}.100` };
    assert.throws(() => solely.tryLockFileSync(file, { slots: 101 }), pathTooLong);
    assert.throws(() => solely.lockFileSync(file, { slots: 101 }), pathTooLong);
    await assert.rejects(solely.lockFile(file, { slots: 101, wait: true }), pathTooLong);
    assert.throws(() => solely.whoHolds({ file }, { slots: 101 }), pathTooLong);
  });

  test('whoHolds with slots never takes a slot and creates no slot file', (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'slots.lock');
    const name = uniqueName();
    assert.deepEqual(solely.whoHolds({ file }, { slots: 3 }), [null, null, null]);
    assert.deepEqual(solely.whoHolds(name, { slots: 3 }), [null, null, null]);
    assert.deepEqual(fs.readdirSync(dir), []);
    const held = solely.lockFileSync(file, { slots: 3 });
    assert.deepEqual(solely.whoHolds({ file }, { slots: 3 }).map((h) => h?.pid ?? null), [process.pid, null, null]);
    assert.equal(solely.lockFileSync(file, { slots: 3 }).slot, 1, 'slot 1 is free after whoHolds looked at it');
    held.release();
    assert.equal(solely.tryLockAbstractSync(name, { slots: 3 }).slot, 0);
  });

  // In a process of its own: this one's test runner and killed children open and close fds meanwhile.
  test('a waiter with slots that times out or is aborted leaves no fd behind', (t) => {
    const script = `
      const s = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
      const fdCount = () => require('node:fs').readdirSync('/proc/self/fd').length;
      const file = ${JSON.stringify(path.join(tempDir(t), 'slots.lock'))};
      const name = ${JSON.stringify(uniqueName())};
      const held = [0, 1, 2].flatMap(() => [s.lockFileSync(file, { slots: 3 }), s.lockAbstractSync(name, { slots: 3 })]); // until exit
      (async () => {
        // The first file wait opens this thread's inotify instance, which stays open by design.
        await s.lockFile(file, { slots: 3, wait: 1 }).catch(() => {});
        const before = fdCount();
        const codes = [];
        for (const wait of [s.lockFile(file, { slots: 3, wait: 30 }), s.lockAbstract(name, { slots: 3, wait: 30 })]) await wait.catch((e) => codes.push(e.code));
        for (const lock of [s.lockFile, s.lockAbstract]) {
          const controller = new AbortController();
          const waiting = lock(lock === s.lockFile ? file : name, { slots: 3, signal: controller.signal, wait: true });
          controller.abort();
          await waiting.catch((e) => codes.push(e.code));
        }
        console.log(JSON.stringify({ codes, leaked: fdCount() - before }));
        process.exit(); // a leaked watch would keep the process alive
      })();`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), { codes: ['ETIMEDOUT', 'ETIMEDOUT', 'ABORT_ERR', 'ABORT_ERR'], leaked: 0 });
  });
});
