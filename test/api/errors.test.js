'use strict';
// The error contract: the brand across copies of the package, the code union, the deprecated
// spellings, docs/errors.md, and the CLI telling its two timeouts apart.
const assert = require('node:assert/strict');
const { execFile, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const { getSystemErrorMap } = require('node:util');
const solely = require('../..');
const { uniqueName, tempDir, ROOT, CLI } = require('../support/helpers');

const RENAMED = { ELOCKLOST: 'ERR_SOLELY_LOCK_LOST', EPOSTGRES: 'ERR_SOLELY_POSTGRES', EDBUS: 'ERR_SOLELY_DBUS' };

/** A second copy of the built package, as two versions in node_modules would be: its own modules and addon file. */
function secondCopy(t) {
  const dir = path.join(tempDir(t), 'solely');
  fs.mkdirSync(dir);
  for (const part of ['package.json', 'dist', 'prebuilds', path.join('build', 'Release', 'solely.node')]) {
    if (fs.existsSync(path.join(ROOT, part))) fs.cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return require(dir);
}

/** Every error class a public entry point exports, by name. */
function exportedErrorClasses() {
  const classes = new Map();
  for (const entry of [solely, require('solely/postgres'), require('solely/dbus')]) {
    for (const [name, value] of Object.entries(entry)) {
      if (typeof value === 'function' && value.prototype instanceof Error) classes.set(name, value);
    }
  }
  return classes;
}

/** The code literals lib/ passes where an error is made or a code compared. */
function codeLiteralsInLib() {
  const made = /(?:new (?:SolelyError|InvalidTargetError|UnsupportedPlatformError)|invalidTarget|invalidArgument|errnoOf)\(\s*'([^']*)'/g;
  const madeBySubclass = /super\(\s*'([A-Z][A-Z0-9_]*)'/g; // not Pidfile's super('pidfile', ...)
  const compared = /(?<!typeof )\bcode\s*[!=]==?\s*'([^']*)'/g;
  const codes = new Set();
  const lib = path.join(ROOT, 'lib');
  for (const file of fs.readdirSync(lib, { recursive: true }).filter((f) => f.endsWith('.ts'))) {
    const source = fs.readFileSync(path.join(lib, file), 'utf8');
    for (const pattern of [made, madeBySubclass, compared]) for (const [, code] of source.matchAll(pattern)) codes.add(code);
  }
  return codes;
}

/** The codes fromErrno can give: Node's errno names, libuv's, ENOTFOUND, and E<n> for an unnamed errno. */
function errnoCodes() {
  const codes = new Set(Object.keys(os.constants.errno));
  for (const [, [code]] of getSystemErrorMap()) codes.add(code);
  return new Set([...codes, 'ENOTFOUND', 'E4242']);
}

/** The errors page, docs/errors.md. */
function errorsSection() {
  return fs.readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
}

test('errors from another copy of solely are recognised by isSolelyError and instanceof, and nothing else is', async (t) => {
  const other = secondCopy(t);
  assert.notEqual(other.LockHeldError, solely.LockHeldError, 'two copies, two sets of classes');

  const name = uniqueName();
  const lock = solely.lockAbstractSync(name);
  t.after(() => lock.release());
  const held = (() => {
    try {
      other.lockAbstractSync(name);
    } catch (error) {
      return error;
    }
    assert.fail('the other copy took a held lock');
  })();
  assert.equal(Object.getPrototypeOf(held), other.LockHeldError.prototype);
  assert.equal(solely.isSolelyError(held), true);
  assert.equal(solely.isSolelyError(held, 'ELOCKED'), true);
  assert.equal(solely.isSolelyError(held, 'ETIMEDOUT'), false);
  assert.ok(held instanceof solely.LockHeldError);
  assert.ok(held instanceof solely.SolelyError);
  assert.ok(held instanceof Error);
  assert.ok(!(held instanceof solely.ForeignHolderError));
  assert.ok(!(held instanceof solely.LockTimeoutError));
  assert.throws(() => other.lockAbstractSync(''), (error) => error instanceof solely.InvalidTargetError && solely.isSolelyError(error, 'EINVAL'));
  await assert.rejects(other.lockAbstract(name, { wait: 1 }), (error) => error instanceof solely.LockTimeoutError && !(error instanceof solely.LockHeldError));

  // Every class, both ways: an instance of the other copy's class is one of ours, and of nothing else.
  const classes = exportedErrorClasses();
  for (const [name, cls] of classes) {
    assert.notEqual(other[name], cls);
    const made = Object.create(other[name].prototype);
    assert.ok(made instanceof cls && made instanceof solely.SolelyError, name);
    assert.ok(Object.create(cls.prototype) instanceof other[name], name);
    for (const [unrelated, otherCls] of classes) {
      if (!(cls.prototype instanceof otherCls) && cls !== otherCls) assert.ok(!(made instanceof otherCls), `${name} is no ${unrelated}`);
    }
  }

  // And the other way round, with a subclass of a subclass.
  const mine = new solely.ForeignHolderError('held by another user');
  assert.equal(other.isSolelyError(mine, 'ELOCKED'), true);
  assert.ok(mine instanceof other.ForeignHolderError);
  assert.ok(mine instanceof other.LockHeldError);
  assert.ok(!(new solely.LockHeldError('x') instanceof other.ForeignHolderError));

  // A user's own subclass keeps the ordinary meaning of instanceof.
  class AppError extends solely.LockHeldError {}
  assert.ok(new AppError('x') instanceof AppError);
  assert.ok(new AppError('x') instanceof other.LockHeldError);
  assert.ok(!(new solely.LockHeldError('x') instanceof AppError));
  assert.ok(!(held instanceof AppError));

  const systemError = Object.assign(new Error('connect ELOCKED'), { code: 'ELOCKED', errno: -11, syscall: 'connect' });
  for (const [i, value] of [new Error('x'), systemError, { code: 'ELOCKED', name: 'LockHeldError' }, Object.create(null), null, undefined, 'ELOCKED', 42].entries()) {
    assert.equal(solely.isSolelyError(value), false, `value ${i}`);
    assert.equal(solely.isSolelyError(value, 'ELOCKED'), false);
    assert.equal(value instanceof solely.SolelyError, false);
  }
});

test('every error class has its name on the prototype and a code on each instance', () => {
  const classes = exportedErrorClasses();
  for (const expected of ['SolelyError', 'LockHeldError', 'ForeignHolderError', 'LockTimeoutError', 'LockLostError', 'InvalidTargetError', 'UnsupportedPlatformError', 'AbortError']) {
    assert.ok(classes.has(expected), `${expected} is exported`);
  }
  for (const [name, cls] of classes) {
    assert.equal(Object.getOwnPropertyDescriptor(cls.prototype, 'name')?.value, name);
  }
  const lost = new solely.LockLostError('lost the lock', { address: 'org.example.App' });
  assert.deepEqual([lost.name, lost.code, lost.address, Object.hasOwn(lost, 'name')], ['LockLostError', 'ERR_SOLELY_LOCK_LOST', 'org.example.App', false]);
  const postgres = require('solely/postgres');
  const dbus = require('solely/dbus');
  assert.equal(postgres.LockLostError, solely.LockLostError);
  assert.equal(dbus.LockLostError, solely.LockLostError);
  assert.equal(postgres.isSolelyError, solely.isSolelyError);
  assert.equal(dbus.isSolelyError, solely.isSolelyError);
});

test('the SolelyErrorCode union holds every code lib/ makes and every errno name, and nothing else', async (t) => {
  const found = codeLiteralsInLib();
  for (const code of ['ELOCKED', 'ETIMEDOUT', 'ABORT_ERR', 'EPROTO', 'MODULE_NOT_FOUND', 'ERR_INVALID_ARG_VALUE',
    'ERR_SOLELY_LOCK_LOST', 'ERR_SOLELY_NETWORK_FILESYSTEM', 'ERR_SOLELY_POSTGRES', 'ERR_SOLELY_DBUS']) {
    assert.ok(found.has(code), `the scan of lib/ finds ${code}`);
  }
  for (const old of Object.keys(RENAMED)) assert.ok(!found.has(old), `lib/ no longer makes ${old}`);
  const codes = [...new Set([...found, ...errnoCodes()])].sort();
  const file = path.join(tempDir(t), 'codes.ts');
  fs.writeFileSync(file, [
    `import type { SolelyErrorCode, DeprecatedSolelyErrorCode } from ${JSON.stringify(path.join(ROOT, 'dist', 'index'))};`,
    `export const codes: SolelyErrorCode[] = ${JSON.stringify(codes)};`,
    `export const deprecated: DeprecatedSolelyErrorCode[] = ${JSON.stringify(Object.keys(RENAMED))};`,
    // Not vacuous: a union as wide as string would leave these directives unused, an error.
    '// @ts-expect-error: not a code',
    "export const bogus: SolelyErrorCode = 'ENOT_A_CODE';",
    ...Object.keys(RENAMED).flatMap((old) => ['// @ts-expect-error: an old spelling is no longer a code', `export const old${old}: SolelyErrorCode = '${old}';`]),
    '',
  ].join('\n'));
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'commonjs', '--skipLibCheck',
    '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), file];
  const { code, stdout } = await new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8' }, (error, out) => resolve({ code: error?.code ?? 0, stdout: out }));
  });
  assert.equal(code, 0, stdout);
});

test('docs/errors.md names every class, every code of ours and each deprecated code with its new name', () => {
  const section = errorsSection();
  const classes = [...exportedErrorClasses().keys()];
  assert.ok(classes.includes('LockLostError'));
  for (const name of classes) assert.ok(section.includes(`\`${name}\``), `docs/errors.md names ${name}`);
  assert.ok(section.includes('`isSolelyError(value, code?)`') && section.includes('`SolelyErrorCode`'));
  const errnos = errnoCodes();
  const ours = [...codeLiteralsInLib()].filter((code) => !errnos.has(code));
  assert.ok(ours.includes('ERR_SOLELY_DBUS'));
  for (const code of ours) assert.ok(section.includes(`\`${code}\``), `docs/errors.md names ${code}`);
  for (const [old, renamed] of Object.entries(RENAMED)) {
    assert.match(section, new RegExp(`^\\| \`${old}\` \\| \`${renamed}\` \\|$`, 'm'), `docs/errors.md lists ${old} as deprecated for ${renamed}`);
  }
});

test('deprecated codes: isSolelyError(error, old) matches the renamed code and warns once', async () => {
  const script = `
    const solely = require(${JSON.stringify(ROOT)});
    const made = {
      ELOCKLOST: new solely.LockLostError('lost'),
      EPOSTGRES: new solely.SolelyError('ERR_SOLELY_POSTGRES', 'server said no'),
      EDBUS: new solely.SolelyError('ERR_SOLELY_DBUS', 'bus said no'),
    };
    const seen = {};
    for (const old of Object.keys(made)) {
      seen[old] = Object.keys(made).filter((name) => solely.isSolelyError(made[name], old));
    }
    seen.codes = Object.values(made).map((e) => e.code);
    seen.plain = solely.isSolelyError({ code: 'ELOCKLOST' }, 'ELOCKLOST');
    console.log(JSON.stringify(seen));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await new Promise((resolve) => child.once('close', (...args) => resolve(args)));
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), {
    ELOCKLOST: ['ELOCKLOST'],
    EPOSTGRES: ['EPOSTGRES'],
    EDBUS: ['EDBUS'],
    codes: ['ERR_SOLELY_LOCK_LOST', 'ERR_SOLELY_POSTGRES', 'ERR_SOLELY_DBUS'],
    plain: false,
  });
  assert.equal(stderr.match(/\[SOLELY_DEP0001\] DeprecationWarning: solely's error code ELOCKLOST is now ERR_SOLELY_LOCK_LOST/g)?.length, 1, stderr);
  assert.equal(stderr.match(/SOLELY_DEP0001/g).length, 1, stderr);
});

test('the CLI: a wait that runs out is a held lock (75), a connect that times out is a failure (1)', async (t) => {
  const name = uniqueName();
  const lock = solely.lockAbstractSync(name);
  t.after(() => lock.release());
  // A server that accepts the connection and never answers: pg's connect timeout (10 s) fires.
  const silent = net.createServer(() => {});
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => silent.close());
  const connected = new Promise((resolve) => silent.once('connection', resolve));
  const run = (args) => {
    const child = spawn(process.execPath, [CLI, 'run', ...args, '--', 'echo', 'should not run'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    return new Promise((resolve) => child.once('close', (status) => resolve({ status, output })));
  };
  const [waited, connecting] = await Promise.all([
    run(['--abstract', name, '--wait=0.1']),
    run(['--postgres', `postgres://nobody@127.0.0.1:${silent.address().port}/x`, '--key', 'k']),
  ]);
  await connected;
  assert.deepEqual(waited, { status: 75, output: `solely: timed out waiting for ${name}\n` });
  assert.equal(connecting.status, 1, connecting.output);
  assert.match(connecting.output, /^solely: connect ETIMEDOUT 127\.0\.0\.1:\d+\n$/); // as Node's net words it
});

/** The error node:fs gives for the same failure. */
function nodeError(call) {
  try {
    call();
  } catch (error) {
    return error;
  }
  assert.fail('node:fs did not fail');
}

test('a failed call on a path reads as Node\'s own error for that path, with a hint where one helps', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, '');
  const hint = {
    // /sys refuses new files even to root: EACCES either way.
    unwritable: ' (use a directory you may write, such as $XDG_RUNTIME_DIR or /run/lock)',
    missingDirectory: ' (the directory does not exist)',
  };
  for (const [target, suffix] of [
    [path.join(dir, 'nodir', 'a.lock'), hint.missingDirectory],
    [path.join(file, 'a.lock'), ''],
    ['/sys/solely-test.lock', hint.unwritable],
  ]) {
    const node = nodeError(() => fs.openSync(target, 'a'));
    assert.throws(() => solely.lockFileSync(target), (error) => {
      assert.equal(error.code, node.code);
      assert.equal(error.message, `${node.message}${suffix}`);
      return true;
    });
  }
  assert.match(nodeError(() => fs.openSync(path.join(dir, 'nodir', 'a.lock'), 'a')).message, /^ENOENT: no such file or directory, open '.*'$/);
});

test('a failed connect reads as Node\'s net error for the same address', async () => {
  // A port nobody listens on: bound, then closed.
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  const node = await new Promise((resolve) => net.connect(port, '127.0.0.1').on('error', resolve));
  await assert.rejects(require('solely/postgres').lockPostgres(uniqueName(), { connection: `postgres://127.0.0.1:${port}/x` }), (error) => {
    assert.equal(error.message, node.message);
    return true;
  });
});

test('the CLI prints a system error as one line, the code once', (t) => {
  const target = path.join(tempDir(t), 'nodir', 'a.lock');
  const node = nodeError(() => fs.openSync(target, 'a'));
  const result = spawnSync(process.execPath, [CLI, 'run', '--file', target, '--', 'true'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 1);
  assert.equal(result.stderr, `solely: ${node.message} (the directory does not exist)\n`);
});
