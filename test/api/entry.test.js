'use strict';
// The entry point loads a mechanism's module on first use; its runtime exports and its types must agree.
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const { promisify } = require('node:util');
const ts = require('typescript');
const solely = require('../..');
const { readableCopy, ROOT } = require('../support/helpers');

const DIST = path.join(ROOT, 'dist');

/** The value (not type-only) exports that dist/index.d.ts declares. */
function declaredValues() {
  const file = path.join(DIST, 'index.d.ts');
  const program = ts.createProgram([file], { types: [] });
  const checker = program.getTypeChecker();
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)));
  return exported
    .filter((symbol) => (checker.getExportSymbolOfSymbol(symbol).flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol).flags & ts.SymbolFlags.Value)
    .map((symbol) => symbol.name)
    .sort();
}

test('the runtime exports are exactly the values the types declare, and each one is defined', () => {
  const runtime = Object.keys(solely).filter((name) => name !== '__esModule').sort();
  assert.deepEqual(runtime, declaredValues());
  for (const name of runtime) assert.equal(typeof solely[name], 'function', name);
  // Once loaded, the lock functions are plain properties: a hot loop over solely.x calls no getter.
  for (const name of ['lockAbstractSync', 'tryLockAbstractSync', 'lockAbstract', 'lockFileSync', 'tryLockFileSync', 'lockFile']) {
    assert.equal(Object.getOwnPropertyDescriptor(solely, name).get, undefined, name);
  }
});

const ROOT_LITERAL = JSON.stringify(ROOT);

/** The dist/ modules a node process loaded after running code (which may end in a promise), by
 *  path under dist/ without '.js' ('single-instance/index'). */
async function loaded(code) {
  const script = `Promise.resolve((() => ${code})()).then(() => console.log(JSON.stringify(Object.keys(require.cache))))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { encoding: 'utf8' });
  return JSON.parse(stdout)
    .filter((file) => file.startsWith(DIST + path.sep))
    .map((file) => path.relative(DIST, file).replace(/\.js$/, ''))
    .sort();
}

/** Node's own modules a node process loaded after running code ('NativeModule net'...). */
async function builtinsLoaded(code) {
  const script = `Promise.resolve((() => ${code})()).then(() => console.log(JSON.stringify(process.moduleLoadList)))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { encoding: 'utf8' });
  return JSON.parse(stdout);
}

test('require("solely") loads no mechanism until one is used, then only what it needs', async () => {
  // system-message words errors: loaded up front, since an error for want of fds (EMFILE) could not load it.
  assert.deepEqual(await loaded(`require(${ROOT_LITERAL})`), ['errors', 'index', 'internal/binding', 'internal/errno', 'internal/lazy-modules', 'internal/runtime', 'internal/system-message', 'lock']);
  const abstract = await loaded(`require(${ROOT_LITERAL}).tryLockAbstractSync('solely-entry-test-${process.pid}')?.release()`);
  assert.ok(abstract.includes('abstract'));
  // A free lock taken: who holds it and how to wait for it are never asked.
  for (const unused of ['file', 'pidfile', 'single-instance/index', 'single-instance/primary', 'unix-server', 'internal/node-internals', 'internal/holder', 'internal/wait']) {
    assert.ok(!abstract.includes(unused), unused);
  }
});

/** The builtins (node:x) that solely's own modules required while code ran. */
async function builtinsAsked(code) {
  const hook = `const M = require('node:module'); const load = M._load; const asked = new Set();
    M._load = function (request, parent) { if (parent?.filename?.startsWith(${JSON.stringify(DIST + path.sep)}) && request.startsWith('node:')) asked.add(request); return load.apply(this, arguments); };`;
  const script = `${hook} Promise.resolve((() => ${code})()).then(() => console.log(JSON.stringify([...asked].sort())))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { encoding: 'utf8' });
  return JSON.parse(stdout);
}

test('a launch that takes a free lock requires no node:fs, node:path or node:util (Bun builds each on first use)', async () => {
  const asked = await builtinsAsked(`require(${ROOT_LITERAL}).lockAbstractSync('solely-entry-builtins-${process.pid}').release()`);
  assert.deepEqual(asked, ['node:os']);
  // Once an error is worded, they load: libuv's messages, and the hint about a missing directory.
  const failed = await builtinsAsked(`(() => { try { require(${ROOT_LITERAL}).lockFileSync('/nonexistent-solely-dir/x.lock'); } catch (error) { if (!/directory does not exist/.test(error.message)) throw error; } })()`);
  for (const builtin of ['node:fs', 'node:path', 'node:util']) assert.ok(failed.includes(builtin), builtin);
});

test('the addon loads from the binary node-gyp-build would choose, without loading it; PREBUILDS_ONLY and musl go through it', { skip: process.platform !== 'linux' || fs.existsSync('/etc/alpine-release') }, async (t) => {
  const copy = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'solely-addon-'));
  t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
  for (const relative of ['package.json', 'dist', 'node_modules/node-gyp-build']) fs.cpSync(path.join(ROOT, relative), path.join(copy, relative), { recursive: true });
  const built = path.join(ROOT, 'build', 'Release', 'solely.node');
  const prebuild = path.join('prebuilds', `linux-${process.arch}`, 'solely.glibc.node');
  fs.mkdirSync(path.dirname(path.join(copy, prebuild)), { recursive: true });
  fs.copyFileSync(fs.existsSync(built) ? built : path.join(ROOT, prebuild), path.join(copy, prebuild));
  const env = { ...process.env };
  for (const name of ['PREBUILDS_ONLY', 'SOLELY_PREBUILD', 'LIBC', 'npm_config_arch', 'npm_config_platform']) delete env[name];
  /** The files under copy that require('solely') loaded (the addon, node-gyp-build), with extra env. */
  const files = async (extra = {}) => {
    const script = `require(${JSON.stringify(copy)}).lockAbstractSync('solely-entry-addon-${process.pid}'); console.log(JSON.stringify(Object.keys(require.cache)))`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { ...env, ...extra }, encoding: 'utf8' });
    return JSON.parse(stdout)
      .filter((file) => file.startsWith(copy + path.sep) && !file.startsWith(path.join(copy, 'dist') + path.sep) && !file.endsWith('package.json'))
      .map((file) => path.relative(copy, file))
      .sort();
  };
  const gypBuild = ['node_modules/node-gyp-build/index.js', 'node_modules/node-gyp-build/node-gyp-build.js'];
  assert.deepEqual(await files(), [prebuild], 'an installed prebuild, straight');
  assert.deepEqual(await files({ PREBUILDS_ONLY: '1' }), [...gypBuild, prebuild].sort());
  // node-gyp-build picks musl's prebuild there, which this copy lacks: the direct path must not guess glibc.
  await assert.rejects(files({ LIBC: 'musl' }), /No native build was found/);
  fs.mkdirSync(path.join(copy, 'build', 'Release'), { recursive: true });
  fs.copyFileSync(path.join(copy, prebuild), path.join(copy, 'build', 'Release', 'solely.node'));
  assert.deepEqual(await files(), ['build/Release/solely.node'], 'a build from source, straight, before any prebuild');
  assert.deepEqual(await files({ PREBUILDS_ONLY: '1' }), [...gypBuild, prebuild].sort());
});

test('a secondary launch asks the primary first: it never binds, so never loads the primary or the server', async () => {
  const id = `entry-test-${process.pid}`;
  const primary = await solely.singleInstance(id);
  try {
    primary.on('second-instance', (message, reply) => reply('seen'));
    const modules = await loaded(`require(${ROOT_LITERAL}).singleInstance(${JSON.stringify(id)}).then((s) => { if (s.primary || s.reply !== 'seen') process.exit(1); })`);
    assert.ok(modules.includes('single-instance/index') && modules.includes('single-instance/secondary'), modules.join());
    for (const server of ['single-instance/primary', 'single-instance/replace', 'unix-server', 'internal/node-internals']) assert.ok(!modules.includes(server), `a secondary loaded ${server}`);
    // Its primary's pid and uid come from SO_PEERCRED: nothing of the search for a holder.
    for (const search of ['internal/holder', 'internal/pid-in-file']) assert.ok(!modules.includes(search), `a secondary loaded ${search}`);
    // Nor what only a wait, a server, systemd's sockets (which thread adopts them) or a retry need.
    const builtins = await builtinsLoaded(`require(${ROOT_LITERAL}).singleInstance(${JSON.stringify(id)})`);
    for (const builtin of ['NativeModule net', 'NativeModule worker_threads', 'NativeModule diagnostics_channel', 'NativeModule perf_hooks', 'NativeModule timers/promises']) {
      assert.ok(!builtins.includes(builtin), `a secondary loaded ${builtin}`);
    }
  } finally {
    await primary.release();
  }
});

test('without its optional peer, solely/postgres and solely/dbus fail with MODULE_NOT_FOUND naming what to install', async (t) => {
  // The built package alone, where no node_modules up the tree holds pg or dbus-native.
  const copy = readableCopy(ROOT);
  t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
  // Run in the copy, so that 'solely/...' resolves through its package.json exports.
  const attempt = (entry, call) =>
    promisify(execFile)(process.execPath, ['-e', `require('${entry}').${call}.then(() => console.log('no error'), (e) => console.log(e.name, e.code, e.message))`], { cwd: copy, encoding: 'utf8' });
  assert.equal((await attempt('solely/postgres', "tryLockPostgres('k')")).stdout, 'SolelyError MODULE_NOT_FOUND solely/postgres needs the pg package: npm install pg\n');
  assert.equal(
    (await attempt('solely/dbus', "tryLockDbusName('org.example.App')")).stdout,
    'SolelyError MODULE_NOT_FOUND solely/dbus needs its optional peer dependency dbus-native: npm install dbus-native\n',
  );
});

test('a module that cannot be loaded for want of fds fails as a SolelyError (EMFILE), and loads once fds are free', async () => {
  const script = `
    const fs = require('node:fs');
    const solely = require(${ROOT_LITERAL});
    const hog = [];
    try { for (;;) hog.push(fs.openSync('/dev/null', 'r')); } catch {}
    let failure;
    try { solely.whoHolds; } catch (error) { failure = error; }
    for (const fd of hog) fs.closeSync(fd);
    console.log(JSON.stringify({
      solely: failure instanceof solely.SolelyError, code: failure?.code, errno: failure?.errno, syscall: failure?.syscall,
      causeCode: failure?.cause?.code, later: typeof solely.whoHolds,
    }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(stdout), { solely: true, code: 'EMFILE', errno: -24, syscall: 'open', causeCode: 'EMFILE', later: 'function' });
});
