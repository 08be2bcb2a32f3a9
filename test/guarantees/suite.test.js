'use strict';
// The suite's own tools (test/support/helpers.js, npm run test:loaded): getting them wrong fails or hides
// tests for reasons unrelated to solely.
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const solely = require('../..');
const { uniqueName, tempDir, spawnReady, needs, readableCopy, readablePackage, ROOT, NOBODY } = require('../support/helpers');


/** Runs node as uid 65534 with a script; its status and output. */
function nodeAsNobody(script) {
  return spawnSync('setpriv', [...NOBODY, process.execPath, '-e', script], { encoding: 'utf8' });
}

test('a child dropped to another uid loads the package and runs fixtures from readableCopy of a checkout under a 0700 directory', { skip: process.getuid() !== 0 && 'setpriv needs root' }, async (t) => {
  // A checkout as a fresh container has it: under /root, which only root may enter.
  const checkout = path.join(tempDir(t), 'checkout');
  fs.renameSync(readableCopy(ROOT, { peers: ['dbus-native'] }), checkout);
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
  const held = await spawnReady(t, 'setpriv', [...NOBODY, process.execPath, path.join(copy, 'test', 'support', 'fixtures', 'hold.js'), 'abstract', name]);
  assert.equal(held.firstLine, 'locked');
  assert.equal(solely.whoHolds({ abstract: name }).uid, 65534);
});

test("readablePackage is this checkout's copy, made once per process, loadable by another uid, removed at exit", { skip: process.getuid() !== 0 && 'setpriv needs root' }, () => {
  const copy = readablePackage();
  assert.equal(readablePackage(), copy);
  assert.ok(!`${copy}${path.sep}`.startsWith(ROOT + path.sep), 'outside the checkout');
  const loaded = nodeAsNobody(`console.log(typeof require(${JSON.stringify(copy)}).lockAbstractSync)`);
  assert.deepEqual([loaded.status, loaded.stdout, loaded.stderr], [0, 'function\n', '']);

  const other = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(path.join(__dirname, '..', 'support', 'helpers.js'))}).readablePackage())`], { encoding: 'utf8' });
  assert.equal(other.status, 0, other.stderr);
  assert.notEqual(other.stdout.trim(), copy, 'each process has its own');
  assert.equal(fs.existsSync(other.stdout.trim()), false, 'removed when its process exited');
});

test('needs() names a missing tool as the skip reason; under SOLELY_TEST_EVERYTHING=1 it skips nothing', (t) => {
  assert.equal(needs('sh'), false);
  const saved = process.env.SOLELY_TEST_EVERYTHING;
  t.after(() => (saved === undefined ? delete process.env.SOLELY_TEST_EVERYTHING : (process.env.SOLELY_TEST_EVERYTHING = saved)));
  delete process.env.SOLELY_TEST_EVERYTHING;
  assert.match(needs('sh', 'solely-no-such-tool', '/solely/no/such/file'), /^needs solely-no-such-tool, \/solely\/no\/such\/file /);
  process.env.SOLELY_TEST_EVERYTHING = '1';
  assert.equal(needs('solely-no-such-tool'), false, 'the test runs, and fails for want of the tool');
});

test('test:loaded runs the suite N times beside M CPU burners, prints a line per run, stops the burners, and fails if any run failed', (t) => {
  const flag = path.join(tempDir(t), 'ran-once');
  // A stand-in suite: fails its first run, passes the next; reports how many burners run beside it.
  const suite = `
    const fs = require('node:fs');
    const tasks = '/proc/' + process.ppid + '/task/';
    const children = fs.readdirSync(tasks).flatMap((task) => fs.readFileSync(tasks + task + '/children', 'utf8').split(' ').filter(Boolean));
    const burners = children.filter((pid) => pid !== String(process.pid)).filter((pid) => { try { return fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').includes('for (;;);'); } catch { return false; } });
    console.log('burners ' + burners.length);
    const first = !fs.existsSync(${JSON.stringify(flag)});
    fs.writeFileSync(${JSON.stringify(flag)}, '');
    console.log(first ? 'not ok 1 - a broken test' : 'ok 1 - a test');
    console.log(first ? '# pass 0\\n# fail 1' : '# pass 1\\n# fail 0');
    process.exitCode = first ? 1 : 0;`;
  const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'test-loaded.js'), '--runs', '2', '--burners', '3', '--', process.execPath, '-e', suite], { encoding: 'utf8' });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  const lines = run.stdout.trim().split('\n');
  const pids = lines[0].match(/^3 CPU burners \(pids ([\d ]+)\)/)[1].split(' ').map(Number);
  assert.equal(pids.length, 3);
  assert.match(lines[1], /^run 1\/2: FAILED \(exit 1\), 0 passed, 1 failed, \d+ s, (\S+)$/);
  assert.equal(lines[2], '  not ok: a broken test');
  assert.match(lines[3], /^run 2\/2: passed, 1 passed, 0 failed, \d+ s, \S+$/);
  assert.equal(lines[4], '1 of 2 run(s) failed under load');
  for (const line of [lines[1], lines[3]]) assert.match(fs.readFileSync(line.split(', ').at(-1), 'utf8'), /^burners 3$/m);
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `burner ${pid} was stopped`);

  const usage = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'test-loaded.js'), '--runs', '0'], { encoding: 'utf8' });
  assert.equal(usage.status, 64);
  assert.match(usage.stderr, /^usage: npm run test:loaded/);
});

test('npm pack and npm publish refuse a tarball without a prebuild for this platform (prepack)', (t) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(manifest.scripts.prepack, 'node scripts/prepack.js');
  const prepack = (root) => spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'prepack.js'), root], { encoding: 'utf8' });
  const root = tempDir(t);
  const tuple = `${process.platform}-${process.arch}`;
  const refused = prepack(root);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`REFUSED\\. prebuilds/${tuple}/ holds no \\.node binary[\\s\\S]*npm run prebuildify`));
  fs.mkdirSync(path.join(root, 'prebuilds', 'linux-other-arch'), { recursive: true });
  fs.writeFileSync(path.join(root, 'prebuilds', 'linux-other-arch', 'solely.glibc.node'), '');
  assert.equal(prepack(root).status, 1, "another platform's prebuild is not this one's");
  fs.mkdirSync(path.join(root, 'prebuilds', tuple));
  fs.writeFileSync(path.join(root, 'prebuilds', tuple, 'solely.glibc.node'), '');
  const packed = prepack(root);
  assert.equal(packed.status, 0, packed.stderr);
  assert.equal(packed.stdout, `prepack: prebuilds/${tuple}/solely.glibc.node\n`);
});
