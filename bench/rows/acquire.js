'use strict';
// Acquire + release, abstract and file locks, against the C floor and the packages people use.
const fs = require('node:fs');
const net = require('node:net');
const solely = require('../..');
const { binding } = require('../../dist/internal/binding');
const { properLockfile, fsne, fsExt, uniqueName, lockPath, loop, loopAsync, rounds, floorCase, addonCalls, sumOf, median, line, compare, OPEN_LOCK_FILE } = require('../measure');

async function acquireRelease() {
  const name = uniqueName();
  const file = lockPath();
  const row = 'abstract lock: acquire + release';
  const a = await rounds({
    floorListen: floorCase('abstract-listen', name),
    floorBind: floorCase('abstract', name),
    solely: loop(() => solely.lockAbstractSync(name).release()),
    solelyNoListen: loop(() => solely.lockAbstractSync(name, { listen: false }).release()),
    addon: loop(() => binding.close(binding.abstractBind(name, 4096))),
    net: loopAsync(() => netListenClose(`\0${name}`)),
    calls: addonCalls(2),
  });
  a.floorAndCalls = sumOf(a.floorListen, a.calls);
  compare(row, 'lockAbstractSync + release', a, 'solely', 'floorListen', 'C floor: socket+bind+listen+close', { max: 1.05 }, { key: 'abstract' });
  compare(row, "{ listen: false }", a, 'solelyNoListen', 'floorBind', 'C floor: socket+bind+close', { max: 1.1 }, { key: 'abstract-no-listen' });
  compare(row, "the addon's two calls alone (no facade)", a, 'addon', 'floorListen', 'C floor: socket+bind+listen+close', undefined, { explains: ['abstract', 'abstract-no-listen'] });
  line(row, 'two calls into the addon that make no syscall (the N-API crossing)', { value: median(a.calls), explains: ['abstract', 'abstract-no-listen'] });
  compare(row, 'lockAbstractSync + release', a, 'solely', 'floorAndCalls', 'C floor + two empty addon calls: the floor from JavaScript', undefined, { explains: ['abstract'] });
  compare(row, "net.createServer().listen('\\0name') + close", a, 'net', 'solely', 'solely (lockAbstractSync)');

  const fileRow = 'file lock: acquire + release';
  const contenders = {
    floorVerified: floorCase('file-verified', file),
    floorPlain: floorCase('file', file),
    solely: loop(() => solely.lockFileSync(file).release()),
    addon: loop(() => binding.unlockClose(binding.openLocked(file, OPEN_LOCK_FILE, 0o644, binding.lockMethods.flock), binding.lockMethods.flock)),
    solelyFcntl: loop(() => solely.lockFileSync(file, { method: 'fcntl' }).release()),
    calls: addonCalls(2),
  };
  if (!properLockfile.missing) contenders.properLockfile = loop(() => properLockfile.lockSync(file)());
  if (!fsExt.missing) {
    contenders.fsExt = loop(() => {
      const fd = fs.openSync(file, 'r+');
      fsExt.flockSync(fd, 'exnb');
      fsExt.flockSync(fd, 'un');
      fs.closeSync(fd);
    });
  }
  if (!fsne.missing) {
    contenders.fsne = loop(() => {
      const fd = fs.openSync(file, 'r+');
      if (!fsne.tryLock(fd)) throw new Error('fs-native-extensions: lock not taken');
      fsne.unlock(fd);
      fs.closeSync(fd);
    });
  }
  const f = await rounds(contenders);
  f.floorAndCalls = sumOf(f.floorVerified, f.calls);
  compare(fileRow, 'lockFileSync + release', f, 'solely', 'floorVerified', 'C floor: open+flock+fstat+fstatat+unlock+close', { max: 1.1 }, { key: 'file' });
  compare(fileRow, "the addon's two calls alone (no facade)", f, 'addon', 'floorVerified', 'C floor: open+flock+fstat+fstatat+unlock+close', undefined, { explains: ['file'] });
  compare(fileRow, 'lockFileSync + release', f, 'solely', 'floorAndCalls', 'C floor + two empty addon calls: the floor from JavaScript', undefined, { explains: ['file'] });
  compare(fileRow, 'lockFileSync + release', f, 'solely', 'floorPlain', 'C floor: open+flock+close (no flopen check)');
  if (f.properLockfile) {
    compare(fileRow, 'proper-lockfile lockSync + release', f, 'properLockfile', 'solely', 'solely (lockFileSync)', { min: 50 }, { key: 'proper-lockfile' });
    compare(fileRow, 'proper-lockfile lockSync + release', f, 'properLockfile', 'floorVerified', 'the C floor: the most any lock can gain', undefined, { explains: ['proper-lockfile'] });
  }
  else line(fileRow, 'proper-lockfile', { value: properLockfile.missing });
  if (f.fsExt) compare(fileRow, 'fs-ext open+flockSync+close', f, 'fsExt', 'solely', 'solely (lockFileSync)');
  else line(fileRow, 'fs-ext', { value: fsExt.missing });
  if (f.fsne) compare(fileRow, 'fs-native-extensions open+tryLock+close', f, 'fsne', 'solelyFcntl', "solely ({ method: 'fcntl' }, both OFD)");
  else line(fileRow, 'fs-native-extensions', { value: fsne.missing });
}

function netListenClose(address) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(address, () => server.close(resolve));
  });
}

module.exports = acquireRelease;
