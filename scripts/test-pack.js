'use strict';
// The tarball test: packs solely as `npm publish` would, checks the file list, installs the tarball
// into a fresh project with --ignore-scripts (no compiler step: the addon must come from the
// shipped prebuild) and runs a CommonJS, an ESM and a TypeScript consumer against it.
// Run `npm run prebuildify` first. `--keep` keeps the temporary directory for a look.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tuple = `${process.platform}-${process.arch}`;
const keep = process.argv.includes('--keep');

function run(command, args, cwd) {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (error) {
    process.stderr.write(error.stdout ?? ''); // tsc reports on stdout
    throw error;
  }
}

function step(text) {
  console.log(`test-pack: ${text}`);
}

/** Every file of dir, relative to root, with '/' separators. */
function filesUnder(dir) {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) return [];
  return fs.readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

/** Packs and checks the file list: exactly what a user needs, nothing of the development tree. */
function pack(dir) {
  if (filesUnder(`prebuilds/${tuple}`).length === 0) {
    throw new Error(`no prebuilds/${tuple}/: run \`npm run prebuildify\` before \`npm run test:pack\``);
  }
  // A clean dist/, so that a stale module or source map from an older build cannot ship.
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  run('npm', ['run', '--silent', 'build'], root);
  // Scripts ran above (prepare is the build); --ignore-scripts keeps their output out of the JSON.
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], root));
  const packed = info.files.map((f) => f.path).sort();
  const allowed = [
    /^(package\.json|README\.md|LICENSE|binding\.gyp)$/,
    /^src-native\/[a-z_]+\.(cc|h)$/,
    /^dist\/([a-z-]+\/)?[a-z-]+\.(js|d\.ts|mjs|d\.mts)$/, // a subpath's modules may sit in a folder
    /^prebuilds\/linux-(x64|arm64)\/solely\.glibc\.node$/,
  ];
  const stray = packed.filter((file) => !allowed.some((pattern) => pattern.test(file)));
  assert.deepEqual(stray, [], `files that must not ship: ${stray.join(', ')}`);
  const expected = [
    'package.json',
    'README.md',
    'LICENSE',
    'binding.gyp',
    ...run('git', ['ls-files', 'src-native'], root).split('\n').filter(Boolean),
    ...filesUnder('dist'),
    ...filesUnder('prebuilds'),
  ].sort();
  assert.deepEqual(packed, expected, 'the tarball holds exactly the runtime files, the native sources and every prebuild');
  step(`packed ${info.filename}: ${packed.length} files, ${info.size} bytes`);
  step(`prebuilds: ${packed.filter((f) => f.startsWith('prebuilds/')).join(', ')}`);
  return path.join(dir, info.filename);
}

const CJS = String.raw`'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const solely = require('solely');
const { lockAbstractSync, tryLockAbstractSync, lockFileSync, tryLockFileSync, LockHeldError, SolelyError } = solely;

const name = 'solely-pack-cjs-' + process.pid;
const lock = lockAbstractSync(name);
assert.equal(tryLockAbstractSync(name), null);
assert.throws(() => lockAbstractSync(name), (error) => error instanceof LockHeldError && error instanceof SolelyError && error.code === 'ELOCKED');
lock.release();
tryLockAbstractSync(name).release();

// A file lock runs fstat and fstatat, which the prebuild routes around glibc 2.33's symbols.
const file = path.join(process.argv[2], 'cjs.lock');
const fileLock = lockFileSync(file);
assert.equal(tryLockFileSync(file), null);
fileLock.release();
tryLockFileSync(process.argv[2]).release();

// Every subpath of the exports map loads.
const { exports: entries } = require('solely/package.json');
for (const subpath of Object.keys(entries)) require('solely' + subpath.slice(1));

const loaded = fs.readFileSync('/proc/self/maps', 'utf8').match(/\S*solely[^/\s]*\.node$/m)?.[0];
console.log('cjs consumer ok, addon ' + loaded);
if (!/\/node_modules\/solely\/prebuilds\/[^/]+\/solely\.glibc\.node$/.test(loaded)) throw new Error('not the prebuild: ' + loaded);
`;

const ESM = String.raw`import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import solely, { lockAbstractSync, tryLockAbstractSync, lockFile, LockHeldError, SolelyError } from 'solely';

const require = createRequire(import.meta.url);
assert.equal(solely, require('solely'), 'import and require share one module');
assert.equal(lockAbstractSync, solely.lockAbstractSync);

const name = 'solely-pack-esm-' + process.pid;
const lock = lockAbstractSync(name);
assert.equal(tryLockAbstractSync(name), null);
assert.throws(() => lockAbstractSync(name), (error) => error instanceof LockHeldError && error instanceof SolelyError);
lock.release();
(await lockFile(process.argv[2] + '/esm.lock', { wait: 1000 })).release();

const { exports: entries } = require('solely/package.json');
for (const [subpath, entry] of Object.entries(entries)) {
  if (entry.import === undefined) continue;
  const mod = await import('solely' + subpath.slice(1));
  assert.equal(mod.default, require('solely' + subpath.slice(1)), subpath + ': import and require share one module');
}
// pg is an optional peer, absent here: solely/postgres loads, and says what it needs on use.
const { lockPostgres } = await import('solely/postgres');
await assert.rejects(lockPostgres('job'), { code: 'MODULE_NOT_FOUND', message: /npm install pg/ });
const { lockRedis } = await import('solely/redis');
await assert.rejects(lockRedis('job'), { code: 'MODULE_NOT_FOUND', message: /npm install ioredis/ });
console.log('esm consumer ok');
`;

// Type checks that fail if the types degrade to any (each @ts-expect-error must find an error).
const TS_BODY = String.raw`
export function exclusive(name: string): number {
  using lock = lockAbstractSync(name, { listen: false });
  const kind: 'abstract' | 'file' | 'pidfile' = lock.kind;
  const maybe: Lock | null = tryLockAbstractSync(name);
  // @ts-expect-error: a try* result is null when held, until narrowed
  maybe.release();
  if (maybe !== null) maybe.release();
  try {
    lockFileSync('/tmp/x.lock', { method: 'fcntl', mode: 0o600 });
  } catch (error) {
    if (error instanceof LockHeldError) {
      const holder: Holder | undefined = error.holder;
      const code: string = error.code;
      return holder?.pid ?? code.length;
    }
    if (error instanceof SolelyError) return error.errno ?? 0;
  }
  // @ts-expect-error: a name is a string
  lockAbstractSync(42);
  // @ts-expect-error: no such method
  lockFileSync('/tmp/x.lock', { method: 'lockf' });
  return kind.length;
}

export async function waiting(signal: AbortSignal): Promise<boolean> {
  const lock: Lock = await lockFile('/tmp/x.lock', { wait: 1000, signal });
  lock.release();
  // @ts-expect-error: wait is a boolean or milliseconds
  await lockAbstract('x', { wait: '1s' });
  return lock.released;
}

// Classes the entry point loads on first use are still classes, as values and as types.
export async function launched(): Promise<number> {
  const instance = await singleInstance('app');
  if (instance.primary) {
    const primary: Primary = instance;
    await primary.release();
  }
  const pidfile: Pidfile = openPidfileSync('/tmp/x.pid');
  // @ts-expect-error: a Pidfile is not a Primary
  const wrong: Primary = pidfile;
  return pidfile instanceof Pidfile && !(wrong instanceof Primary) ? 1 : 0;
}
`;

// The solely/postgres subpath: its types must stand without pg's (the consumer has no pg).
const TS_POSTGRES = String.raw`
import { lockPostgres, tryLockPostgres, whoHoldsPostgres, advisoryKey, type PostgresLock } from 'solely/postgres';
export async function fenced(signal: AbortSignal): Promise<bigint | null> {
  const lock: PostgresLock = await lockPostgres('job', { connection: 'postgres://db/app', wait: 1000, signal, keepaliveInterval: 5000 });
  lock.on('lost', (error: SolelyError) => error.code);
  const aborted: boolean = lock.signal.aborted || lock.lost;
  await lock[Symbol.asyncDispose]();
  // @ts-expect-error: tryLockPostgres does not wait
  await tryLockPostgres('job', { wait: true });
  const other = await tryLockPostgres('job', { fencingTable: false });
  const holder: Holder | null = await whoHoldsPostgres('job', { connection: { host: 'db', port: 5432 } });
  const key: bigint = advisoryKey('job');
  return aborted ? (other?.fencingToken ?? key) : (holder?.since?.getTime() === 0 ? null : lock.fencingToken);
}
`;

// The solely/redis subpath: its types must stand without ioredis's.
const TS_REDIS = String.raw`
import { lockRedis, tryLockRedis, whoHoldsRedis, redisKeys, type RedisLock } from 'solely/redis';
export async function leased(signal: AbortSignal): Promise<bigint | null> {
  const lock: RedisLock = await lockRedis('job', { connection: 'redis://cache:6379', ttl: 10_000, wait: 1000, signal });
  lock.on('lost', (error: SolelyError) => error.code);
  const kind: 'redis' = lock.kind;
  await lock[Symbol.asyncDispose]();
  // @ts-expect-error: tryLockRedis does not wait
  await tryLockRedis('job', { wait: true });
  const other = await tryLockRedis('job', { connection: { host: 'cache', port: 6379 } });
  const holder: Holder | null = await whoHoldsRedis('job');
  const [lease]: [string, string] = redisKeys('job');
  return lock.signal.aborted || lock.lost || kind !== 'redis' ? (holder?.fencingToken ?? null) : (other?.fencingToken ?? BigInt(lease.length));
}
`;

const IMPORTS = 'lockAbstract, lockAbstractSync, tryLockAbstractSync, lockFile, lockFileSync, openPidfileSync, Pidfile, singleInstance, Primary, LockHeldError, SolelyError, type Lock, type Holder';
// A subpath's types, checked without its optional peer installed (skipLibCheck off under nodenext).
const TS_DBUS = String.raw`
import { lockDbusName, tryLockDbusName, type DbusNameLock } from 'solely/dbus';
export async function named(signal: AbortSignal): Promise<boolean> {
  const lock: DbusNameLock = await lockDbusName('org.example.App', { bus: 'session', wait: 1000, signal });
  lock.on('lost', (reason) => reason.code);
  const maybe: DbusNameLock | null = await tryLockDbusName('org.example.App', { address: 'unix:path=/run/bus' });
  // @ts-expect-error: no such bus
  await tryLockDbusName('org.example.App', { bus: 'user' });
  await lock.release();
  return maybe === null || lock.signal.aborted;
}
`;
const TS_ESM = `import solely, { ${IMPORTS} } from 'solely';\nexport const same: boolean = solely.lockFile === lockFile;\n${TS_BODY}${TS_DBUS}${TS_POSTGRES}${TS_REDIS}`;
const TS_CJS = `import solely = require('solely');\nimport { ${IMPORTS} } from 'solely';\nexport const same: boolean = solely.lockFile === lockFile;\n${TS_BODY}${TS_POSTGRES}${TS_REDIS}`;
const TS_CLASSIC = `import { ${IMPORTS} } from 'solely';\n${TS_BODY}${TS_POSTGRES}${TS_REDIS}`;

function tsconfig(options, files) {
  const compilerOptions = { target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], ...options };
  return JSON.stringify({ compilerOptions, files }, null, 2);
}

function consume(tarball, dir) {
  const project = path.join(dir, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '0.0.0', private: true }));
  // The same TypeScript and Node types as this repository, from the npm cache when it has them.
  const version = (name) => require(path.join(root, 'node_modules', name, 'package.json')).version;
  run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--silent',
    tarball, `typescript@${version('typescript')}`, `@types/node@${version('@types/node')}`], project);
  const installed = path.join(project, 'node_modules', 'solely');
  assert.ok(!fs.existsSync(path.join(installed, 'build')), 'no build/: the install compiled nothing');

  const files = {
    'consumer.cjs': CJS,
    'consumer.mjs': ESM,
    'esm.mts': TS_ESM,
    'cjs.cts': TS_CJS,
    'classic.ts': TS_CLASSIC,
    'tsconfig.nodenext.json': tsconfig({ module: 'nodenext', skipLibCheck: false }, ['esm.mts', 'cjs.cts']),
    'tsconfig.bundler.json': tsconfig({ module: 'preserve', moduleResolution: 'bundler' }, ['classic.ts']),
    'tsconfig.node10.json': tsconfig({ module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true }, ['classic.ts']),
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(project, name), text);

  step(run(process.execPath, ['consumer.cjs', dir], project).trim());
  step(run(process.execPath, ['consumer.mjs', dir], project).trim());
  const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const config of ['nodenext', 'bundler', 'node10']) {
    run(process.execPath, [tsc, '-p', `tsconfig.${config}.json`], project);
    step(`typescript consumer ok (module resolution ${config})`);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-pack-'));
try {
  consume(pack(dir), dir);
} finally {
  if (keep) step(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
